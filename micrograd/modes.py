"""The engine's modes: grad mode, anomaly mode and tracing, each one piece of per-thread state.

Each is one field of ``state`` (this thread's), switched by a context manager here:

- ``no_grad()`` sets ``state.no_grad``: Values made inside record no graph. Read where a node is
  made (``engine._node``) and by ``is_grad_enabled()``.
- ``detect_anomaly()`` sets ``state.anomaly``: ops check their results for nan and inf. Read where
  a node is made and where ``backward.run`` picks a pass (``is_anomaly_enabled()``).
- ``tracing(hook, traced)`` sets ``state.tracer`` and ``state.traced``: ``micrograd.compile`` is
  tracing a function on this thread. The hook is read by Value's conversions, comparisons and
  ``detach()`` and by a traced number's every use (they would bake one branch), ``tracer()``; the
  list by the engine where a node is made (its number becomes a ``TracedNumber``).

Reading a thread-local on every op would cost more than the op, so ``open_blocks`` counts the
``no_grad()``, ``detect_anomaly()`` and ``tracing()`` blocks open in any thread: while it is 0 the engine makes
nodes without looking at ``state`` (and ``anomaly_blocks`` counts the detect_anomaly() ones).
Nothing here changes what any other module's objects are.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["no_grad", "is_grad_enabled", "detect_anomaly", "is_anomaly_enabled", "tracing", "tracer",
           "open_blocks", "state"]


class State(threading.local):
    """This thread's modes (a threading.local: each thread sees its own fields)."""

    no_grad = 0                                       # open no_grad() blocks
    anomaly = 0                                       # open detect_anomaly() blocks
    tracer: Callable[[Any, str], None] | None = None  # compile's hook while it traces
    traced: list[Any] | None = None                   # the Values made while it traces


state = State()
_lock = threading.Lock()
open_blocks = 0     # no_grad(), detect_anomaly() and tracing() blocks open in any thread
anomaly_blocks = 0  # the detect_anomaly() ones among them


def _count(delta: int, anomaly: bool = False) -> None:
    global open_blocks, anomaly_blocks
    with _lock:
        open_blocks += delta
        anomaly_blocks += delta if anomaly else 0


def is_grad_enabled() -> bool:
    """True unless this thread is inside ``no_grad()`` (tracing records a graph regardless)."""
    return not state.no_grad


def is_anomaly_enabled() -> bool:
    """True while this thread is inside ``detect_anomaly()``."""
    return state.anomaly > 0


def tracer() -> Callable[[Any, str], None] | None:
    """The hook of the tracing ``micrograd.compile`` on this thread, or None."""
    return state.tracer


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: Values made inside record no graph (per thread).

    >>> from micrograd import Value
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y._prev
    ()
    """

    def __enter__(self) -> no_grad:
        state.no_grad += 1
        _count(1)
        return self

    def __exit__(self, *exc: object) -> None:
        state.no_grad -= 1
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
        state.anomaly += 1
        _count(1, anomaly=True)
        return self

    def __exit__(self, *exc: object) -> None:
        state.anomaly -= 1
        _count(-1, anomaly=True)


@contextlib.contextmanager
def tracing(hook: Callable[[Any, str], None], traced: list[Any]) -> Iterator[None]:
    """While ``micrograd.compile`` traces on this thread: ``hook`` is the tracer, a graph is
    recorded even inside ``no_grad()``, and every Value made is appended to ``traced`` (its number
    a ``traced.TracedNumber``: counted in ``open_blocks``, so ``engine._node`` looks). Nests (a
    function compiled while another is traced)."""
    outer = state.tracer, state.traced, state.no_grad
    state.tracer, state.traced, state.no_grad = hook, traced, 0
    _count(1)
    try:
        yield
    finally:
        _count(-1)
        state.tracer, state.traced, state.no_grad = outer
