"""Labels of Values (names shown in graph pictures), kept beside the nodes rather than on them:
most nodes have none, and a slot would cost every node."""

from __future__ import annotations

import weakref
from typing import Any

__all__ = ["label_of", "set_label"]

_labels: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def label_of(node: Any) -> str | None:
    """The node's label, or None."""
    return _labels.get(node)


def set_label(node: Any, text: str | None) -> None:
    """Give the node a label (None: none)."""
    if text is None:
        _labels.pop(node, None)
    else:
        _labels[node] = str(text)
