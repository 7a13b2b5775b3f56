"""Exact numpy kernels for a compiled tape's busiest steps, written into preallocated buffers.

Each kernel gives, bit for bit, what the op table's rule gives on arrays (``ops.relu`` and
``ops.add``), signs of zero, infs and nans included (tests/test_kernels.py checks this on edge
values); it only avoids the temporaries and the data-dependent branches of ``np.where``, which
cost 4-8x more than a pass of arithmetic on a batch whose signs are random.

- ``Relu.forward``: ``where(a < 0, 0.0, a)`` as ``a``'s bits AND a mask that is all ones where
  the row keeps ``a`` and zero where it is 0.0 (the bits of +0.0 are all zero);
- ``Relu.backward``: ``where(out <= 0, 0.0, g)``, the same way;
- ``chain_sum``: ``((a0 + a1) + a2) + ...`` in that order, the left-to-right sums that ``sum()``
  and a loss's total build, as one step over rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Relu", "chain_sum"]


class Relu:
    """relu's forward and rule on fixed (k, batch) blocks: ``a`` -> ``out``, and ``g`` (the
    adjoints of ``out``) -> ``dst``; every view and mask made once, here."""

    def __init__(self, a: np.ndarray, out: np.ndarray, g: np.ndarray, dst: np.ndarray) -> None:
        self.a, self.out, self.g = a, out, g
        self.cond = np.empty(out.shape, dtype=bool)
        self.keep = np.empty(out.shape, dtype=np.int8)
        self.cond_int8 = self.cond.view(np.int8)
        self.a_bits, self.out_bits = a.view(np.int64), out.view(np.int64)
        self.g_bits, self.dst_bits = g.view(np.int64), dst.view(np.int64)

    def forward(self) -> None:
        """out = relu(a) = where(a < 0, 0.0, a): relu(-0.0) = -0.0 and relu(nan) = nan, as the op."""
        np.less(self.a, 0.0, out=self.cond)
        self._zero_where_cond(self.a_bits, self.out_bits)

    def backward(self) -> None:
        """dst = where(out <= 0, 0.0, g): relu's rule (relu'(0) = 0; a nan output passes g on)."""
        np.less_equal(self.out, 0.0, out=self.cond)
        self._zero_where_cond(self.g_bits, self.dst_bits)

    def _zero_where_cond(self, x_bits: np.ndarray, dst_bits: np.ndarray) -> None:
        """dst = where(cond, 0.0, x): cond as 0 / -1 (every bit set) int8s, widened by the AND."""
        np.subtract(self.cond_int8, 1, out=self.keep)
        np.bitwise_and(x_bits, self.keep, out=dst_bits)


def chain_sum(rows: np.ndarray | list[np.ndarray], out: np.ndarray) -> None:
    """out = ((rows[0] + rows[1]) + rows[2]) + ..., in this order (IEEE's order decides overflow
    and cancellation; numpy's reductions may pair terms otherwise, so this adds row by row)."""
    np.add(rows[0], rows[1], out=out)
    for row in rows[2:]:
        np.add(out, row, out=out)
