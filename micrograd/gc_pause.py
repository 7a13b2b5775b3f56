"""gc_paused(): build a large graph with CPython's cycle collector paused.

A graph has no reference cycles, so the cycle collector never finds garbage in it. But the
collector runs every ~700 allocations of container objects regardless, and each run rescans the
young objects, so building a large graph makes it scan the growing graph again and again (over a
third of a moons demo step: bench/bench_engine.py measures it). Pausing it while a graph is built
avoids that work; cyclic garbage made meanwhile elsewhere is collected at its next run.

The collector counts allocations while it is paused too, and runs at the first allocation after
it comes back. So a pause in a loop (an MLP called once per sample) only defers each run unless
nothing is allocated between one pause and the next: :func:`pause` and :func:`resume` allocate
nothing (``with`` would: binding a context manager's ``__exit__`` makes a method object, which
counts), and ``MLP.__call__`` uses them with ``try``/``finally``, so a loop of calls makes one
graph of all its samples that the collector first sees after the loop, once.
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["gc_paused", "pause", "resume"]

_lock = threading.Lock()
_depth = 0          # how many pauses are open, across threads
_resume = False     # whether the collector was enabled when the first one opened


def pause() -> None:
    """Pause the collector until the matching :func:`resume` (call that in a ``finally``)."""
    global _depth, _resume
    _lock.acquire()  # (acquire/release, not ``with``: nothing allocated, see the module note)
    try:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    finally:
        _lock.release()


def resume() -> None:
    """Close a :func:`pause`; the collector comes back, if it was on, when the last one closes."""
    global _depth
    _lock.acquire()
    try:
        _depth -= 1
        if _depth == 0 and _resume:
            gc.enable()
    finally:
        _lock.release()


class gc_paused(contextlib.ContextDecorator):
    """Context manager and decorator: pause CPython's cycle collector, then restore it.

    Use it around code that builds a large graph. Nesting and threads are fine: the collector
    comes back, if it was on, when the last open block closes.
    """

    def __enter__(self) -> gc_paused:
        pause()
        return self

    def __exit__(self, *exc: object) -> None:
        resume()
