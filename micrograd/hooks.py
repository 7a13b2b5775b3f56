"""Gradient hooks (``Value.register_hook``), kept beside the nodes rather than on them.

``backward()`` takes its general pass while any Value with a hook is alive (``any_hooks()``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["RemovableHandle", "add_hook", "any_hooks", "hooks_of", "count"]

Hook = Callable[[Any], Any]
_hooks: weakref.WeakKeyDictionary[Any, list[Hook]] = weakref.WeakKeyDictionary()


def any_hooks() -> bool:
    """Is any live node hooked?"""
    return bool(_hooks)


def count() -> int:
    """How many live nodes are hooked."""
    return len(_hooks)


def hooks_of(node: Any) -> list[Hook] | None:
    """The node's hooks, in the order registered (None: none)."""
    return _hooks.get(node)


def add_hook(node: Any, hook: Hook) -> RemovableHandle:
    """Register ``hook`` on ``node``; the handle's ``remove()`` undoes it."""
    if not callable(hook):
        raise TypeError(f"register_hook needs a callable, got {type(hook).__name__}")
    _hooks.setdefault(node, []).append(hook)
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
        fns = None if node is None else _hooks.get(node)
        if fns and self._hook in fns:
            fns.remove(self._hook)
            if not fns:
                del _hooks[node]
