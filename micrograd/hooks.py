"""Gradient hooks (``Value.register_hook``), held on the node itself.

A node's hooks are a list in its ``_hooks`` slot (unset on nodes without hooks: no cost to the
rest), so a hook that refers to its own node (``z.register_hook(lambda g: print(z))``) makes a
cycle node -> hook -> node that the cycle collector frees like any other. A weak set counts the
live hooked nodes: ``backward()`` takes its general pass only while one is alive (``any_hooks()``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["RemovableHandle", "add_hook", "any_hooks", "hooks_of", "count"]

Hook = Callable[[Any], Any]
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()  # the live nodes with hooks; holds none alive


def any_hooks() -> bool:
    """Is any live node hooked?"""
    return bool(_hooked)


def count() -> int:
    """How many live nodes are hooked."""
    return len(_hooked)


def hooks_of(node: Any) -> list[Hook] | None:
    """The node's hooks, in the order registered (None: none)."""
    return getattr(node, "_hooks", None)  # (an unset slot reads as None)


def add_hook(node: Any, hook: Hook) -> RemovableHandle:
    """Register ``hook`` on ``node``; the handle's ``remove()`` undoes it."""
    if not callable(hook):
        raise TypeError(f"register_hook needs a callable, got {type(hook).__name__}")
    fns = hooks_of(node)
    if fns is None:
        node._hooks = fns = []
        _hooked.add(node)
    fns.append(hook)
    return RemovableHandle(node, hook)


class RemovableHandle:
    """Returned by :meth:`Value.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_hook", "_node")

    def __init__(self, node: Any, hook: Hook) -> None:
        self._node = weakref.ref(node)
        self._hook = hook

    def remove(self) -> None:
        """Unregister the hook (a no-op if it is already gone)."""
        node = self._node()
        fns = None if node is None else hooks_of(node)
        if fns and self._hook in fns:
            fns.remove(self._hook)
            if not fns:
                del node._hooks
                _hooked.discard(node)
