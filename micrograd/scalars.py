"""What counts as a plain real number, and turning one into a float: the engine's one boundary.

The rule, for every entry point that takes a number: a real number is an int, float, bool,
``fractions.Fraction``, ``decimal.Decimal`` (any ``numbers.Real``, and Decimal, which Python keeps
out of that tower only so that it does not mix with floats implicitly), a numpy real scalar or a
0-d numeric array. It becomes the nearest float, as ``float(x)`` rounds it (``Fraction(1, 3)`` ->
0.3333333333333333, ``2**53 + 1`` -> 2**53). nan and +-inf stay themselves (IEEE). A finite number
beyond the float range (``10**400``, ``Fraction(10**400)``, ``Decimal('1e400')``) is refused with
a ValueError naming the argument: rounding it to inf would be a silent wrong answer. Anything else
(str, complex, None, a sequence) is a TypeError naming the argument.
"""

from __future__ import annotations

import numbers
from decimal import Decimal
from typing import Any

import numpy as np

from .traced import TracedNumber

__all__ = ["is_real", "to_float", "describe"]


def is_real(x: Any) -> bool:
    """Is x a plain real number: int, float, bool, Fraction, Decimal, numpy scalar or 0-d numeric array?"""
    return isinstance(x, (numbers.Real, Decimal)) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "biuf")


def to_float(x: Any, what: str) -> float:
    """x as the nearest float; a TypeError naming ``what`` for a non-number, a ValueError for a
    finite number beyond the float range."""
    if type(x) is TracedNumber:  # (float() of a traced number: refused while tracing)
        return float(x)
    if not is_real(x):
        raise TypeError(f"{what} must be a real number (int, float, Fraction or Decimal), got {type(x).__name__}")
    try:
        f = float(x)
    except (OverflowError, ValueError):  # 10**400, Fraction(10**400); Decimal('sNaN')
        f = None
    if f is None or (f in (np.inf, -np.inf) and not x == f):  # (Decimal('1e400') rounds to inf quietly)
        raise ValueError(f"{what} must be within the float range (|x| <= 1.8e308), got {describe(x)}")
    return f


def describe(x: Any, limit: int = 40) -> str:
    """A short repr of a number for an error message (a 400-digit int as its type and digit count)."""
    if isinstance(x, int) and x.bit_length() > 128:  # (repr of a 5000-digit int raises ValueError)
        return f"an int of {int(x.bit_length() * 0.30103) + 1} digits"
    text = repr(x)
    if len(text) <= limit:
        return text
    return f"{type(x).__name__} of {len(text)} characters ({text[:12]}…{text[-6:]})"
