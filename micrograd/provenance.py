"""Which module call produced which Values: the records graph pictures group into clusters.

``Layer`` and ``MLP`` call :func:`record` once per call with the call's inputs and outputs; that is
all. Who made each node inside the call (which neuron, which layer of an MLP) is worked out later,
when a picture is drawn, by walking back from the outputs to the inputs (see ``micrograd.viz``).
Recording once per layer call rather than once per neuron keeps the cost out of sight: a moons demo
step makes 400 records (~0.2 ms of a ~56 ms step) instead of 3,300.

The store is weak: a record lives as long as the first output of its call and is dropped with it.
It holds the module, the inputs and the other outputs (never the first output, its key), so it
creates no reference cycle and keeps nothing alive once the graph is dropped.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

from .engine import Value

__all__ = ["Record", "record", "records"]


class Record(NamedTuple):
    """One call of a module: what it read and what it returned."""

    module: Any                    # the module called (a Layer, an MLP, ...)
    inputs: tuple[Any, ...]        # its inputs as given: Values and plain numbers
    outputs: tuple[Value, ...]     # the Values it returned, in order
    seq: int                       # a counter: a call's record is made after those of calls inside it


# first output -> (module, inputs, other outputs, seq) for each call that returned it first
# (an MLP returns its last layer's output: two records share that key)
_store: weakref.WeakKeyDictionary[Value, tuple[tuple[Any, ...], ...]] = weakref.WeakKeyDictionary()
_counter = itertools.count()


def record(module: Any, inputs: Sequence[Any] | Any, outputs: Sequence[Value] | Value) -> None:
    """Note that calling ``module`` on ``inputs`` returned ``outputs`` (a Value or a list of them)."""
    # (on the hot path of every layer call: ~1 us, one tuple per argument)
    rest: tuple[Value, ...] = ()
    if isinstance(outputs, Value):
        first = outputs
    elif type(outputs) in (list, tuple) and outputs and isinstance(outputs[0], Value):
        first, rest = outputs[0], tuple(outputs[1:])
    else:
        return  # nothing a picture could show
    kind = type(inputs)
    inputs = tuple(inputs) if kind is list or kind is tuple else (inputs,)
    held = _store.get(first)
    entry = (module, inputs, rest, next(_counter))
    _store[first] = (entry,) if held is None else (*held, entry)


def records(value: Value) -> list[Record]:
    """The calls whose first output is ``value``, innermost first (empty if none)."""
    held = _store.get(value)
    if held is None:
        return []
    return [Record(module, inputs, (value,) + rest, seq) for module, inputs, rest, seq in held]
