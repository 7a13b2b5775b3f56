"""x * y + z rounded once (a fused multiply-add), for floats and for float64 arrays.

torch's ``addcmul`` and ``lerp`` round once; where a later cancellation magnifies an ulp (centred
RMSprop's v - a^2) the optimisers must too. ``math.fma`` is Python 3.13+ and numpy has none, so:

- x * y is split exactly into p + e (Dekker's product: each factor cut into halves of 26 bits);
- floats: ``math.fsum`` rounds p + e + z once;
- arrays: z + p is split exactly into t + u (Knuth's two-sum), u + e is rounded to odd, and t plus
  that rounds once to the nearest (Boldo and Melquiond, "Emulation of FMA and correctly rounded
  sums", 2008): every step elementwise, no Python loop.

Outside the range where the split is exact (a factor beyond 1e+-140) the exact rational sum is
rounded (Fractions); for inf, nan and zero factors IEEE's x * y + z is already the answer.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = ["fma", "fma_arrays"]

_SPLIT = 134217729.0  # 2^27 + 1: splits a double into two halves of 26 bits (Dekker)
_LOW, _HIGH = 1e-140, 1e140  # factors in this range split and multiply exactly


def fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once, for floats."""
    if x == 0.0 or y == 0.0 or not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return x * y + z
    if _LOW < abs(x) < _HIGH and _LOW < abs(y) < _HIGH:
        p, e = _two_product(x, y)
        return math.fsum((p, e, z))
    try:
        return float(Fraction(x) * Fraction(y) + Fraction(z))
    except OverflowError:
        return x * y + z


def _two_product(x: Any, y: Any) -> tuple[Any, Any]:
    """(p, e) with p = fl(x y) and p + e = x y exactly (floats or arrays in the safe range)."""
    p = x * y
    c = _SPLIT * x
    x_hi = c - (c - x)
    x_lo = x - x_hi
    c = _SPLIT * y
    y_hi = c - (c - y)
    y_lo = y - y_hi
    return p, ((x_hi * y_hi - p) + x_hi * y_lo + x_lo * y_hi) + x_lo * y_lo


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, e) with s = fl(a + b) and s + e = a + b exactly."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _add_odd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b rounded to odd: exact, else the neighbour of the exact sum with an odd last bit."""
    s, e = _two_sum(a, b)
    even = (s.view(np.int64) & 1) == 0
    move = (e != 0) & even
    return np.where(move, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)


def fma_arrays(x: Any, y: Any, z: Any) -> np.ndarray:
    """x * y + z rounded once, elementwise, for float64 arrays (or floats broadcast against them)."""
    x, y, z = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                  np.asarray(z, np.float64))
    with np.errstate(all="ignore"):
        ax, ay = np.abs(x), np.abs(y)
        safe = (ax > _LOW) & (ax < _HIGH) & (ay > _LOW) & (ay < _HIGH) & (np.abs(z) < _HIGH)
        p, e = _two_product(np.where(safe, x, 1.0), np.where(safe, y, 1.0))
        t, u = _two_sum(np.where(safe, z, 0.0), p)
        out = np.where(safe, t + _add_odd(u, e), x * y + z)
    rest = np.flatnonzero(~safe & np.isfinite(x) & np.isfinite(y) & np.isfinite(z) & (x != 0) & (y != 0))
    if rest.size:  # beyond the exact split: the float path, element by element (rare)
        flat = out.reshape(-1)
        xs, ys, zs = x.reshape(-1), y.reshape(-1), z.reshape(-1)
        for i in rest.tolist():
            flat[i] = fma(float(xs[i]), float(ys[i]), float(zs[i]))
    return out
