"""The namespaces forwards and rules run in (``xp``), one per kind of number.

A declaration in ``ops.py`` reaches every maths function through its first argument, ``xp``:

- ``FLOATS``: the math module, plus ``where``, ``iszero``, ``abs``, ``log_add_exp`` and ``pow_scalar``. Where float
  maths raises (log(0), exp(1000)) the engine reruns the same code on ARRAYS with numpy float64
  scalars, which give IEEE's inf and nan;
- ``ARRAYS``: numpy (``np.where`` and friends), plus ``iszero``, ``pow``, ``log_add_exp`` and ``pow_scalar``;
- ``VALUES``: ``xp.f(v)`` (or ``xp.f(u, v)``) applies the op table's op named f (``where``,
  ``iszero`` and ``isnan`` read ``.data``), so a rule run on Values builds a graph of its own:
  higher-order gradients. A rule calling ``xp.cos`` on Values needs an op named ``cos`` in the
  table (``micrograd.primitive`` checks this when the op is declared).

On FLOATS and ARRAYS too, ``xp.f`` that the library lacks is the forward of the table's op named f:
so a rule can call another op of the table on every kind (sigmoid's rule is ``xp.sigmoid_backward``).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np

from .ops import CONSTANT, OPS, Op

__all__ = ["Namespace", "FLOATS", "ARRAYS", "VALUES", "log_add_exp", "pow_scalar", "apply_on_values"]


class Namespace:
    """``xp`` for one kind of number: every function of a library, plus a few helpers."""

    def __init__(self, kind: str, library: Any, **helpers: Callable[..., Any]) -> None:
        self.kind = kind
        vars(self).update((k, v) for k, v in vars(library).items() if not k.startswith("_"))
        vars(self).update(helpers)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """``xp.f`` the library lacks: the forward of the table's op named f, run on this kind of
        number (so a rule can call another op of the table: sigmoid's calls sigmoid_backward)."""
        entry = OPS.get(name)
        if not isinstance(entry, Op) or entry.arity not in (1, 2):
            raise AttributeError(f"xp.{name}: not in {vars(self).get('kind')}'s library, nor an op of the table")
        return functools.partial(entry.forward, self)

    def __repr__(self) -> str:
        return f"<xp for {self.kind}>"


def log_add_exp(a: float, b: float) -> float:
    """log(e^a + e^b) without overflow: the larger plus log1p(e^-|a - b|), as torch and numpy."""
    if a == b:
        return a + 0.6931471805599453  # exact, and inf + inf stays inf
    return (a if a > b else b) + math.log1p(math.exp(-abs(a - b)))


def pow_scalar(sqrt: Callable[[Any], Any], pow: Callable[[Any, float], Any], a: Any, c: float) -> Any:
    """a ** c for a constant c as torch's pow(Tensor, Scalar) computes it: its small exponents are
    sqrt, 1/sqrt, products and reciprocals, which differ from pow at -0.0, -inf and by an ulp."""
    if c == 0.5:
        return sqrt(a)
    if c == -0.5:
        return 1.0 / sqrt(a)
    if c == 2.0:
        return a * a
    if c == 3.0:
        return a * a * a
    if c == -1.0:
        return 1.0 / a
    if c == -2.0:
        return 1.0 / (a * a)
    return pow(a, c)


FLOATS = Namespace("floats", math, where=lambda c, x, y: x if c else y, iszero=lambda x: x == 0,
                   abs=abs, log_add_exp=log_add_exp, pow_scalar=functools.partial(pow_scalar, math.sqrt, math.pow))
ARRAYS = Namespace("arrays", np, iszero=lambda x: x == 0, pow=np.power, log_add_exp=np.logaddexp,
                   pow_scalar=functools.partial(pow_scalar, np.sqrt, np.power))


class ValueMath:
    """``xp`` for Values: ``xp.f(v)`` applies the table's one-argument op named f, so a rule run
    on Values builds a graph (declare ``cos`` before a rule on Values can call ``xp.cos``)."""

    kind = "Values"

    @staticmethod
    def where(cond: bool, x: Any, y: Any) -> Any:
        return x if cond else y  # conditions on Values are comparisons of .data: plain bools

    @staticmethod
    def iszero(x: Any) -> bool:
        return getattr(x, "data", x) == 0  # Values compare by identity, so not x == 0

    @staticmethod
    def isnan(x: Any) -> bool:
        return math.isnan(getattr(x, "data", x))  # a test of .data, like the comparisons

    @staticmethod
    def pow(x: Any, y: Any) -> Any:
        return x ** y

    @staticmethod
    def pow_scalar(x: Any, c: float) -> Any:
        return x ** c  # the powc op, whose forward on floats is torch's (as torch's double backward)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        entry = OPS.get(name)
        if not isinstance(entry, Op) or entry.arity not in (1, 2):
            raise AttributeError(f"xp.{name} on Values: the op table has no op {name!r} of one or two arguments")
        return functools.partial(apply_on_values, entry)

    def __repr__(self) -> str:
        return "<xp for Values>"


def apply_on_values(op: Op, *args: Any) -> Any:
    """op(*args) as a node; a plain number among Values is lifted to a constant (a rule on Values
    can receive 0.0 for a gradient: relu's), and on plain numbers alone it is the op on FLOATS."""
    node = next((x for x in args if hasattr(x, "apply")), None)
    if node is None:
        return getattr(FLOATS, op.name)(*args)
    first = args[0] if args[0] is node else type(node)(args[0], (), CONSTANT)
    return first.apply(op, *args[1:])


VALUES = ValueMath()
