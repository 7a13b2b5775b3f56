"""What counts as a plain real number, and turning one into a float: the engine's one boundary."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .traced import TracedNumber

__all__ = ["is_real", "to_float"]


def is_real(x: Any) -> bool:
    """Is x a plain real number: int, float, bool, numpy scalar or 0-d numeric array?"""
    return isinstance(x, numbers.Real) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "biuf")


def to_float(x: Any, what: str) -> float:
    """x as a float, or a TypeError naming ``what`` was given."""
    if is_real(x) or type(x) is TracedNumber:  # (float() of a traced number: refused while tracing)
        return float(x)
    raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__}")
