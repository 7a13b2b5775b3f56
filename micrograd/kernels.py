"""Exact numpy kernels for a compiled tape's busiest steps, written into preallocated buffers.

Each kernel gives, bit for bit, what the op table's rule gives on arrays (``ops.relu`` and
``ops.add``), signs of zero, infs and nans included (tests/test_kernels.py checks this on edge
values); it only avoids the temporaries and the data-dependent branches of ``np.where``, which
cost 4-8x more than a pass of arithmetic on a batch whose signs are random.

- ``relu``: ``where(a < 0, 0.0, a)`` as ``a``'s bits AND a mask that is all ones where the row
  keeps ``a`` and zero where it is 0.0 (the bits of +0.0 are all zero);
- ``relu_grad``: ``where(out <= 0, 0.0, g)``, the same way;
- ``chain_sum``: ``((a0 + a1) + a2) + ...`` in that order, the left-to-right sums that ``sum()``
  and a loss's total build, as one step over rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Masks", "chain_sum", "relu", "relu_grad"]


class Masks:
    """Scratch buffers for the relu kernels on a (k, batch) block: a bool and an int8 mask."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.bool = np.empty(shape, dtype=bool)
        self.int8 = np.empty(shape, dtype=np.int8)


def _keep_where_not(cond: np.ndarray, x: np.ndarray, out: np.ndarray, masks: Masks) -> None:
    """out = where(cond, 0.0, x): cond (bool) as 0 / -1 (all ones) int8s, widened by the AND."""
    np.subtract(cond.view(np.int8), 1, out=masks.int8)  # cond True: 0, False: -1 (every bit set)
    np.bitwise_and(x.view(np.int64), masks.int8, out=out.view(np.int64))


def relu(a: np.ndarray, out: np.ndarray, masks: Masks) -> None:
    """out = relu(a) = where(a < 0, 0.0, a): relu(-0.0) = -0.0 and relu(nan) = nan, as the op."""
    np.less(a, 0.0, out=masks.bool)
    _keep_where_not(masks.bool, a, out, masks)


def relu_grad(g: np.ndarray, out: np.ndarray, dst: np.ndarray, masks: Masks) -> None:
    """dst = where(out <= 0, 0.0, g): relu's rule (relu'(0) = 0; a nan output passes g on)."""
    np.less_equal(out, 0.0, out=masks.bool)
    _keep_where_not(masks.bool, g, dst, masks)


def chain_sum(rows: np.ndarray | list[np.ndarray], out: np.ndarray) -> None:
    """out = ((rows[0] + rows[1]) + rows[2]) + ..., in this order (IEEE's order decides overflow
    and cancellation; numpy's reductions may pair terms otherwise, so this adds row by row)."""
    np.add(rows[0], rows[1], out=out)
    for row in rows[2:]:
        np.add(out, row, out=out)
