"""Which module call produced which Values: the records graph pictures group into clusters.

``Layer``, ``MLP``, ``Conv2d`` and the pooling modules record every call: there is no switch, so
what a module call does never depends on what else was imported. A ``Layer`` called on its own
calls :func:`record`; an ``MLP`` calls :func:`record_layers` once for its whole call, its layers'
calls inside; a module that maps an image to an image (channels x height x width) calls
:func:`record_image`, and its record keeps the output's shape, so a picture can tell which output
channel and position made each node. Who made each node
inside a call (which neuron, which layer) is worked out later, when a picture is drawn, by walking
back from the outputs to the inputs (see ``micrograd.viz``).

Recording is kept cheap because it is always on: an MLP call stores references to the lists it
built anyway, with no copy and no search (about 1 µs, 0.4 % of an MLP forward; ``bench/bench_viz.py``
measures it); an image call's record is one call too, under 0.1 % of a ``Conv2d(1, 8, 3)`` call
on an 8x8 image.

The store is weak: a record lives as long as the first output of its (outermost) call and is
dropped with it. It holds the modules, the inputs and the outputs other than that key, so it
creates no reference cycle and keeps nothing alive once the graph is dropped.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

from .engine import Value

__all__ = ["Record", "record", "record_image", "record_layers", "records"]


class Record(NamedTuple):
    """One call of a module: what it read and what it returned."""

    module: Any                    # the module called (a Layer, an MLP, ...)
    inputs: tuple[Any, ...]        # its inputs as given: Values and plain numbers
    outputs: tuple[Value, ...]     # the Values it returned, in order
    seq: float                     # increasing: a call's record comes after those of calls inside it
    shape: tuple[int, ...] = ()    # an image call's: its outputs' channels x height x width (row by row)
    input_shape: tuple[int, ...] = ()  # ... and its inputs' (else both empty: lists as given)


# key Value -> the entries of the outermost calls whose first output it is (weak in its keys).
# An entry is a plain tuple (a NamedTuple costs a Python call, and this runs on every MLP call):
#   (seq, module, inputs, layers, outputs)
#   seq      increasing per call
#   inputs   a tuple; the key (if a module returned its input) as None
#   layers   the modules run one after another inside the call (empty for a single call)
#   outputs  per layer (or the call's own, for a single call): what it returned; the last one
#            without its first item, the key: an entry must not keep its own key alive
Entry = tuple[int, Any, tuple[Any, ...], tuple[Any, ...], tuple[Sequence[Any], ...]]
_store: weakref.WeakKeyDictionary[Value, list[Entry]] = weakref.WeakKeyDictionary()
_counter = itertools.count()
# key Value -> the entries of image calls whose first output it is (weak in its keys):
#   (seq, module, inputs, outputs)
#   inputs   the image read, nested lists as given (channels x height x width)
#   outputs  the image returned, without its first item, the key, as three slices:
#            (outputs[1:], outputs[0][1:], outputs[0][0][1:])
ImageEntry = tuple[int, Any, Sequence[Sequence[Sequence[Any]]], tuple[Sequence[Any], Sequence[Any], Sequence[Any]]]
_images: weakref.WeakKeyDictionary[Value, list[ImageEntry]] = weakref.WeakKeyDictionary()


def _as_tuple(xs: Any) -> tuple[Any, ...]:
    """A call's inputs as a tuple: a list, a tuple or a 1-d array (a row of a data set) item by item."""
    if type(xs) in (list, tuple) or getattr(xs, "ndim", None) == 1:
        return tuple(xs)
    return (xs,)


def _without(xs: tuple[Any, ...], key: Value) -> tuple[Any, ...]:
    """``xs`` with ``key`` as None: an entry must not keep its own key alive."""
    return tuple([None if x is key else x for x in xs]) if id(key) in map(id, xs) else xs


def record(module: Any, inputs: Sequence[Any] | Any, outputs: Sequence[Value] | Value) -> None:
    """Note that calling ``module`` on ``inputs`` returned ``outputs`` (a Value or a list of them).

    Outputs that are not Values (or no outputs) leave nothing a picture could show: not recorded.
    """
    outs = _as_tuple(outputs)
    if not outs or not isinstance(outs[0], Value):
        return
    key = outs[0]
    entry = (next(_counter), module, _without(_as_tuple(inputs), key), (), (_without(outs[1:], key),))
    _store.setdefault(key, []).append(entry)


def record_layers(model: Any, inputs: Sequence[Any] | Any, layers: Sequence[Any],
                  outputs: Sequence[list[Value]]) -> None:
    """Note a call of ``model`` that ran ``layers`` one after another on ``inputs``.

    ``outputs[k]`` is the list of Values ``layers[k]`` made (it read ``outputs[k - 1]``); the
    last list is the call's outputs. Every Value in ``outputs`` must be new, made in this call
    (as a Layer's neurons make them): the lists are stored as given, without a search for the key.
    """
    last = outputs[-1]
    if not isinstance(last[0], Value):  # duck-typed numbers (testing's torch scalars): not drawn
        return
    entry = (next(_counter), model, _as_tuple(inputs), tuple(layers), (*outputs[:-1], last[1:]))
    _store.setdefault(last[0], []).append(entry)


def record_image(module: Any, inputs: Sequence[Sequence[Sequence[Any]]],
                 outputs: Sequence[Sequence[Sequence[Value]]]) -> None:
    """Note that ``module`` read the image ``inputs`` and returned the image ``outputs``.

    Both are channels x height x width nested lists, stored as given (no copy but three slices).
    The first output must be a Value made in this call (not an input, not a parameter): the record
    lives as long as it does.
    """
    first = outputs[0][0]
    key = first[0]
    if not isinstance(key, Value):
        return
    entry = (next(_counter), module, inputs, (outputs[1:], outputs[0][1:], first[1:]))
    _images.setdefault(key, []).append(entry)


def _image_record(key: Value, entry: ImageEntry) -> Record:
    """An image call's record: inputs and outputs flat, row by row, with their shapes."""
    seq, module, image, (channels, rows, row) = entry
    out = [[[key, *row], *rows], *channels]
    shape = (len(out), len(out[0]), len(out[0][0]))
    in_shape = (len(image), len(image[0]), len(image[0][0]))
    return Record(module, tuple(x for c in image for r in c for x in r),
                  tuple(v for c in out for r in c for v in r), seq, shape, in_shape)


def records(value: Value) -> list[Record]:
    """The calls stored under ``value`` (the first output of a call), innermost first."""
    found: list[Record] = []
    for seq, module, inputs, layers, outputs in _store.get(value, ()):
        ins = tuple(value if x is None else x for x in inputs)
        outs = [tuple(out) for out in outputs]
        outs[-1] = (value, *(value if o is None else o for o in outs[-1]))
        n = len(layers)
        for k, layer in enumerate(layers):  # numbered before the call that ran them
            found.append(Record(layer, ins if k == 0 else outs[k - 1], outs[k], seq - (n - k) / (n + 1)))
        found.append(Record(module, ins, outs[-1], seq))
    images = _images.get(value)
    if images:
        found.extend(_image_record(value, entry) for entry in images)
        found.sort(key=lambda r: r.seq)
    return found
