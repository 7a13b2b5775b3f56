"""Which module call produced which Values: the records graph pictures group into clusters.

``Layer`` and ``MLP`` call :func:`record` with the call's inputs and outputs while recording is
on; an MLP records its layers' calls inside its own record (one store per MLP call). Who made
each node inside a call (which neuron, which layer) is worked out later, when a picture is drawn,
by walking back from the outputs to the inputs (see ``micrograd.viz``).

Recording is off until ``micrograd.viz`` is imported (or :data:`enabled` is set): records are
small, but they are containers the cycle collector rescans, and they would cost a training loop
that never draws a few percent of each moons demo step (``bench/bench_viz.py`` measures it).
Graphs built before recording was on are drawn without module clusters.

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

__all__ = ["Record", "enabled", "record", "records"]


class Record(NamedTuple):
    """One call of a module: what it read and what it returned."""

    module: Any                    # the module called (a Layer, an MLP, ...)
    inputs: tuple[Any, ...]        # its inputs as given: Values and plain numbers
    outputs: tuple[Value, ...]     # the Values it returned, in order
    seq: float                     # increasing: a call's record comes after those of calls inside it


# key Value -> entries (module, inputs, outputs, seq). The key is the first output of the outermost
# call; wherever it appears in a stored ``outputs`` it is replaced by None (a strong reference to
# the key from its own entry would keep it alive for ever).
_store: weakref.WeakKeyDictionary[Value, tuple[tuple[Any, ...], ...]] = weakref.WeakKeyDictionary()
_counter = itertools.count()

#: Whether modules record their calls; ``import micrograd.viz`` turns it on.
enabled = False
Call = tuple[Any, Any, Any]  # (module, inputs, outputs) as passed to record()


def _first(outputs: Any) -> Value | None:
    if isinstance(outputs, Value):
        return outputs
    if type(outputs) in (list, tuple) and outputs and isinstance(outputs[0], Value):
        return outputs[0]  # type: ignore[no-any-return]
    return None  # nothing a picture could show


def _values(xs: Any, key: Value) -> tuple[Any, ...]:
    t = tuple(xs) if type(xs) in (list, tuple) else (xs,)
    return tuple(None if x is key else x for x in t) if id(key) in map(id, t) else t


def record(module: Any, inputs: Sequence[Any] | Any, outputs: Sequence[Value] | Value,
           inner: Sequence[Call] = ()) -> None:
    """Note that calling ``module`` on ``inputs`` returned ``outputs`` (a Value or a list of them).

    ``inner`` lists the calls made inside this one, as ``(module, inputs, outputs)`` (an MLP's
    layer calls): they are stored with it, so a whole MLP call costs one store.
    """
    key = _first(outputs)
    if key is None:
        return
    seq = next(_counter)
    n = len(inner)
    entries = [(m, _values(i, key), _values(o, key), seq - (n - k) / (n + 1))  # inner calls first
               for k, (m, i, o) in enumerate(inner) if _first(o) is not None]
    entries.append((module, _values(inputs, key), _values(outputs, key), seq))
    held = _store.get(key)
    _store[key] = tuple(entries) if held is None else (*held, *entries)


def records(value: Value) -> list[Record]:
    """The calls stored under ``value`` (the first output of a call), innermost first."""
    held = _store.get(value)
    if held is None:
        return []
    return [Record(module, tuple(value if x is None else x for x in inputs),
                   tuple(value if o is None else o for o in outputs), seq)
            for module, inputs, outputs, seq in held]
