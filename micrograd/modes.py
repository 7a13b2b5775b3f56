"""The engine's modes: grad mode, anomaly mode and tracing, each one piece of per-thread state.

Each is switched by a context manager here and read by one function here:

- ``no_grad()``: Values made inside record no graph. Read by ``is_grad_enabled()``, which the
  engine calls when it makes a node (``engine._node``).
- ``detect_anomaly()``: ops check their results for nan and inf. Read by ``is_anomaly_enabled()``,
  which the engine calls when it makes a node and ``backward.run`` when it picks a pass.
- ``tracing(hook)``: ``micrograd.compile`` is tracing a function on this thread. Read by
  ``tracer()``, which Value's conversions and comparisons call (they would bake one branch).

Reading a thread-local on every op would cost more than the op, so ``open_blocks`` counts the
``no_grad()`` and ``detect_anomaly()`` blocks open in any thread: while it is 0 the engine makes
nodes without asking. Nothing here changes what any other module's objects are.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["no_grad", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "tracing", "tracer",
           "open_blocks"]

_state = threading.local()  # this thread's no_grad depth, anomaly depth and tracer
_lock = threading.Lock()
open_blocks = 0  # no_grad() and detect_anomaly() blocks open in any thread


def _count(delta: int) -> None:
    global open_blocks
    with _lock:
        open_blocks += delta


def is_grad_enabled() -> bool:
    """True unless this thread is inside ``no_grad()`` (tracing records a graph regardless)."""
    return not getattr(_state, "no_grad", 0)


def is_anomaly_enabled() -> bool:
    """True while this thread is inside ``detect_anomaly()``."""
    return getattr(_state, "anomaly", 0) > 0


def tracer() -> Callable[[Any, str], None] | None:
    """The hook of the tracing ``micrograd.compile`` on this thread, or None."""
    return getattr(_state, "tracer", None)


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: Values made inside record no graph (per thread).

    >>> from micrograd import Value
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y._prev
    ()
    """

    def __enter__(self) -> no_grad:
        _state.no_grad = getattr(_state, "no_grad", 0) + 1
        _count(1)
        return self

    def __exit__(self, *exc: object) -> None:
        _state.no_grad -= 1
        _count(-1)


class detect_anomaly(contextlib.ContextDecorator):
    """Raise FloatingPointError at the first nan or inf produced, naming the op and your source line.

    "Produced" means: in forward, an op whose inputs are all finite returns nan or inf (an inf you
    pass in, or one that flows on from it, is not an anomaly); in backward, a derivative rule whose
    inputs (incoming gradient, the node's value and its arguments' values) are all finite returns
    a non-finite gradient, or adding finite gradients overflows. The message names the op and the
    line of your code that created the node (backward can name it for nodes made inside the
    block). Slow while active (every op is checked); free when not. Per thread, nesting is fine.

    >>> from micrograd import Value
    >>> with detect_anomaly():
    ...     Value(-1.0).log()
    Traceback (most recent call last):
    ...
    FloatingPointError: detect_anomaly: op 'log' produced nan from finite inputs (-1.0)...
    """

    def __enter__(self) -> detect_anomaly:
        _state.anomaly = getattr(_state, "anomaly", 0) + 1
        _count(1)
        return self

    def __exit__(self, *exc: object) -> None:
        _state.anomaly -= 1
        _count(-1)


@contextlib.contextmanager
def tracing(hook: Callable[[Any, str], None]) -> Iterator[None]:
    """While ``micrograd.compile`` traces on this thread: ``hook`` is the tracer, and a graph is
    recorded even inside ``no_grad()``. Nests (a function compiled while another is traced)."""
    outer, depth = tracer(), getattr(_state, "no_grad", 0)
    _state.tracer, _state.no_grad = hook, 0
    try:
        yield
    finally:
        _state.tracer, _state.no_grad = outer, depth
