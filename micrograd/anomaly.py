"""The checks of ``detect_anomaly()`` (its state is in ``modes.py``): where each node was made,
and a FloatingPointError naming the op and that line at the first nan or inf an op produces."""

from __future__ import annotations

import linecache
import math
import os
import sys
import weakref
from collections.abc import Sequence
from typing import Any

__all__ = ["check_forward", "check_rule", "check_sum"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_made_at: weakref.WeakKeyDictionary[Any, tuple[str, int, str]] = weakref.WeakKeyDictionary()


def _number(x: Any) -> float:
    return x if type(x) is float else getattr(x, "data", x)


def _user_site() -> tuple[str, int, str]:
    """(file, line, code) of the innermost frame outside the micrograd package."""
    frame: Any = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - only micrograd on the stack
        return ("<unknown>", 0, "")
    filename, line = frame.f_code.co_filename, frame.f_lineno
    return filename, line, linecache.getline(filename, line).strip()


def _describe(site: tuple[str, int, str] | None) -> str:
    if site is None:
        return ("  the node was made outside detect_anomaly(): build the graph inside the block "
                "to see where")
    filename, line, code = site
    return f"  created at {filename}:{line}\n      {code}"


def _op_name(op: Any) -> str:
    return op.name if op.name != "custom" else op.symbol


def check_forward(out: Any, op: Any, args: Sequence[Any]) -> None:
    """Record where ``out`` was made; raise if it is nan or inf and its arguments are finite."""
    site = _made_at[out] = _user_site()
    if not math.isfinite(out.data) and all(math.isfinite(_number(a)) for a in args):
        raise FloatingPointError(
            f"detect_anomaly: op {_op_name(op)!r} produced {out.data} from finite inputs "
            f"({', '.join(repr(_number(a)) for a in args)})\n{_describe(site)}")


def check_rule(v: Any, g: Any, local: Sequence[Any]) -> None:
    """Raise if a derivative rule made a non-finite gradient from finite values."""
    inputs = [_number(g), v.data, *(c.data for c in v._prev)]
    if not all(math.isfinite(x) for x in inputs):
        return
    for k, cg in enumerate(local):
        if not math.isfinite(_number(cg)):
            raise FloatingPointError(
                f"detect_anomaly: the derivative rule of op {_op_name(v.op)!r} produced gradient "
                f"{_number(cg)} for argument {k} from finite values (incoming gradient {_number(g)}, "
                f"value {v.data}, arguments {tuple(c.data for c in v._prev)})\n{_describe(_made_at.get(v))}")


def check_sum(v: Any, old: Any, new: Any, total: Any) -> None:
    """Raise if adding two finite gradients overflowed."""
    if math.isfinite(_number(old)) and math.isfinite(_number(new)) and not math.isfinite(_number(total)):
        raise FloatingPointError(
            f"detect_anomaly: the gradient of a node made by op {_op_name(v.op)!r} overflowed to "
            f"{_number(total)} adding {_number(old)} and {_number(new)}\n{_describe(_made_at.get(v))}")
