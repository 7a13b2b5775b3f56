"""Glue: hand-built nodes with more than two children, karpathy-style ``Value(x, (a, b, c), 'f')``.

A node has two argument slots. A hand-built node with more children keeps the first in its first
slot and chains the rest through glue nodes in its second: ``glue(r0, glue(r1, ... rn))``. Glue
carries no gradient of its own (the node's ``_backward`` closure moves the gradients), and
``_prev`` and ``topological_order`` hide it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ops import Op

__all__ = ["GLUE", "chain", "unchain", "hide"]

GLUE = Op("", "glue")
_made = False  # set once a glue node exists, so traversals filter only when they must


def chain(rest: tuple[Any, ...], link: Callable[[Any, Any], Any]) -> Any:
    """Link r0, r1, ..., rn as link(r0, link(r1, ... rn)), built from the end (no recursion)."""
    global _made
    _made = True
    node = rest[-1]
    for child in reversed(rest[:-1]):
        node = link(child, node)
    return node


def unchain(a: Any, b: Any) -> tuple[Any, ...]:
    """The children of a node whose slots hold ``a`` and ``b`` (``_prev``)."""
    if a is None:
        return ()
    if b is None:
        return (a,)
    rest = []
    while b.op is GLUE:
        rest.append(b._a)
        b = b._b
    return (a, *rest, b)


def hide(order: list[Any]) -> list[Any]:
    """``order`` without its glue nodes."""
    return [v for v in order if v.op is not GLUE] if _made else order
