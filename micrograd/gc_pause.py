"""gc_paused(): build a large graph with CPython's cycle collector paused.

A graph has no reference cycles, so the cycle collector never finds garbage in it. But the
collector runs every ~700 allocations of container objects regardless, and each run rescans the
young objects, so building a large graph makes it scan the growing graph again and again (over a
third of a moons demo step: bench/bench_engine.py measures it). Pausing it while a graph is built
avoids that work; cyclic garbage made meanwhile elsewhere is collected at its next run.
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0          # how many gc_paused() blocks are open, across threads
_resume = False     # whether the collector was enabled when the first one opened


class gc_paused(contextlib.ContextDecorator):
    """Context manager and decorator: pause CPython's cycle collector, then restore it.

    Use it around code that builds a large graph (``MLP.__call__`` does). Nesting and threads
    are fine: the collector comes back, if it was on, when the last open block closes.
    """

    def __enter__(self) -> gc_paused:
        global _depth, _resume
        with _lock:
            if _depth == 0:
                _resume = gc.isenabled()
                gc.disable()
            _depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
