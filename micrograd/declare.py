"""Declaring a primitive: ``micrograd.primitive(Op(...))`` checks it, then enters it in the table.

The check runs the op's forward and rule once on each kind of number, at a point of its domain:
on floats (FLOATS), on numpy arrays (ARRAYS) and on Values (VALUES), and refuses the op, naming
the kind, when one of them fails or disagrees with the floats. (A rule written with ``math.cos``
fails on arrays; one calling ``xp.cos`` before ``cos`` is declared fails on Values.) The table's
own rows are checked the same way when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops
from .engine import Value
from .ops import Op, OpFamily
from .xp import ARRAYS, FLOATS, VALUES

__all__ = ["DeclarationError", "check", "primitive"]

RTOL = 1e-9  # math and numpy may differ in the last bits of tanh, exp, pow: far below any real disagreement


class DeclarationError(ValueError):
    """A primitive's forward or rule fails, or disagrees, on one kind of number."""


def primitive(*entries: Op | OpFamily) -> Any:
    """Enter ops (or op families) in the table, each checked on floats, arrays and Values.

    ``cube = primitive(Op("cube", "cube", 1, lambda xp, a: a ** 3, lambda xp, g, out, a: g * 3 *
    a ** 2, torch=..., domain=((-2, 2),)))``; ``ops.remove(cube)`` takes it out again. Ops whose
    rules call each other (sin's calls xp.cos, cos's xp.sin) are declared together. Returns the
    entry, or a tuple of them; if one is refused, none stays in the table.
    """
    entered = []
    try:
        for entry in entries:
            entered.append(ops.enter(entry))
        for entry in entries:
            check(entry)
    except Exception:
        for entry in entered:
            ops.remove(entry)
        raise
    return entries[0] if len(entries) == 1 else entries


def check(entry: Op | OpFamily) -> None:
    """Run forward and rule on every kind of number at a point of the domain; raise if any disagrees."""
    members = [entry(c) for c in entry.examples] if isinstance(entry, OpFamily) else [entry]
    for op in members:
        if op.forward is None or op.rule is None or op.arity not in (1, 2):
            raise DeclarationError(f"op {op.name!r}: a primitive needs arity 1 or 2, a forward and a rule")
        if len(op.domain) != op.arity:
            raise DeclarationError(f"op {op.name!r}: its domain needs one interval per argument")
        point = [lo + 0.37 * (hi - lo) for lo, hi in op.domain]
        out = _run(op, "forward", "floats", lambda: op.forward(FLOATS, *point))
        expected = _tuple(_run(op, "rule", "floats", lambda: op.rule(FLOATS, 1.3, out, *point)))
        arrays = [np.full(2, x) for x in point]
        out_a = _run(op, "forward", "arrays", lambda: op.forward(ARRAYS, *arrays))
        _compare(op, "forward", "arrays", [out], [out_a])
        got = _run(op, "rule", "arrays", lambda: op.rule(ARRAYS, np.full(2, 1.3), out_a, *arrays))
        _compare(op, "rule", "arrays", expected, _tuple(got))
        values = [Value(x) for x in point]
        out_v = _run(op, "forward", "Values", lambda: values[0].apply(op, *values[1:]))
        got = _run(op, "rule", "Values", lambda: op.rule(VALUES, Value(1.3), out_v, *values))
        _compare(op, "rule", "Values", expected, _tuple(got))


def _run(op: Op, what: str, kind: str, fn: Callable[[], Any]) -> Any:
    try:
        with np.errstate(all="ignore"):
            return fn()
    except Exception as exc:
        raise DeclarationError(f"op {op.name!r}: its {what} fails on {kind}: {type(exc).__name__}: {exc}") from exc


def _tuple(result: Any) -> tuple[Any, ...]:
    return result if isinstance(result, tuple) else (result,)


def _compare(op: Op, what: str, kind: str, expected: Any, got: Any) -> None:
    if len(expected) != len(got):
        raise DeclarationError(f"op {op.name!r}: its {what} on {kind} gives {len(got)} results, "
                               f"floats give {len(expected)}")
    for k, (e, g) in enumerate(zip(expected, got)):
        if kind == "Values" and not isinstance(g, (Value, int, float)):
            raise DeclarationError(f"op {op.name!r}: its {what} on Values gives a {type(g).__name__} "
                                   f"for argument {k}, not a Value")
        numbers = np.ravel(g.data if isinstance(g, Value) else g).tolist()
        if not all(math.isclose(e, x, rel_tol=RTOL) or e == x for x in numbers):
            raise DeclarationError(f"op {op.name!r}: its {what} on {kind} gives {numbers[0]!r} for "
                                   f"argument {k} where floats give {e!r}")


for _entry in list(ops.OPS.values()):  # the table's own rows: checked once Values exist
    check(_entry)
