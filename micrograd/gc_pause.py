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

Even that once is most of the collector's work on a training step: the young generation then holds
the whole graph, and the first run after the pause walks every node of it (a fifth of a moons demo
step). So when the last pause closes on a young generation past the collector's first threshold,
:func:`resume` moves every object the collector tracks into its oldest generation unexamined,
``gc.freeze()`` then ``gc.unfreeze()`` (documented: freeze moves every tracked object to the
permanent generation, unfreeze moves them back into the oldest one), and then turns the collector
back on. Nothing stays frozen. Reference counting frees the graph when it is dropped, as always.
Cyclic garbage moved along with it (made during the pause, or young just before it) waits for a
full collection, and as freeze also zeroes the collector's counts, a loop of pauses could put
every full collection off: so once the objects moved this way since the last full collection
pass :data:`FULL_COLLECTION_AFTER`, :func:`resume` runs a full collection instead (every 15 or so
moons demo steps, a few per cent of their time). All this is skipped while the program has
objects frozen itself (``gc.get_freeze_count()``): unfreeze would release them.
"""

from __future__ import annotations

import contextlib
import gc
import threading

__all__ = ["FULL_COLLECTION_AFTER", "gc_paused", "pause", "resume"]

#: Objects moved past the young scan (see the module note) after which resume() runs a full collection.
FULL_COLLECTION_AFTER = 1_000_000

_lock = threading.Lock()
_depth = 0          # how many pauses are open, across threads
_resume = False     # whether the collector was enabled when the first one opened
_moved = 0          # objects moved to the oldest generation unexamined since the last full collection


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
    """Close a :func:`pause`; the collector comes back, if it was on, when the last one closes,
    with what is young moved to its oldest generation unexamined (see the module note)."""
    global _depth
    collect = False
    _lock.acquire()
    try:
        _depth -= 1
        if _depth == 0 and _resume:
            collect = _spare_the_young_scan()
            gc.enable()
    finally:
        _lock.release()
    if collect:  # outside the lock: a finalizer the collection runs may open a pause of its own
        gc.collect()


def _spare_the_young_scan() -> bool:
    """Move a young generation past the collector's threshold to the oldest one unexamined; or,
    once :data:`FULL_COLLECTION_AFTER` objects were moved so, return True: a full collection is
    due (the module note). Called with the collector off: the tuples read here trigger nothing."""
    global _moved
    young = gc.get_count()[0]
    if young <= gc.get_threshold()[0] or gc.get_freeze_count():
        return False
    _moved += young
    if _moved > FULL_COLLECTION_AFTER:
        _moved = 0
        return True
    gc.freeze()
    gc.unfreeze()
    return False


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
