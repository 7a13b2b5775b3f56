"""The tape's kernels equal the op table's rules on arrays bit for bit, edge values included."""

import numpy as np
import pytest

from micrograd import kernels, ops
from micrograd.xp import ARRAYS

EDGES = [-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, -1.0, 2.5, 5e-324, -5e-324, 1.7976931348623157e308,
         -1.7976931348623157e308]


def bits(a: np.ndarray) -> list[int]:
    """Each float's bit pattern: equal lists are the same numbers, signs of zero and nans included."""
    return np.ascontiguousarray(a).view(np.int64).ravel().tolist()


def grid(n: int = 7) -> np.ndarray:
    """Every edge value against random ones, as a (k, batch) block of rows."""
    rng = np.random.default_rng(0)
    return np.concatenate([np.array(EDGES * n).reshape(n, -1), rng.normal(size=(3, len(EDGES)))])


def test_relu_is_the_ops_forward_and_rule_bit_for_bit():
    a = grid()
    g = np.roll(a, 3, axis=1)  # incoming adjoints: edge values too, against every output
    out, dst = np.empty_like(a), np.empty_like(a)
    relu = kernels.Relu(a, out, g, dst)
    relu.forward()
    assert bits(out) == bits(ops.relu.forward(ARRAYS, a))
    relu.backward()
    assert bits(dst) == bits(ops.relu.rule(ARRAYS, g, out, a))


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("batch", [1, 9, 100])
def test_chain_sum_adds_rows_left_to_right(k, batch):
    # rows whose sum depends on the order: 1e308 + 1e308 overflows before - 1e308 could cancel it,
    # and -0.0 + -0.0 stays -0.0 (a sum started from +0.0 would not)
    rng = np.random.default_rng(k * batch)
    rows = rng.choice(np.array([1e308, -1e308, -0.0, 1.0, 1e-16, -1.0, np.inf]), size=(k, batch))
    rows[:, 0] = -0.0
    out = np.empty(batch)
    with np.errstate(all="ignore"):  # inf - inf is nan here, as intended
        kernels.chain_sum(rows, out)
        want = rows[0] + rows[1]
        for row in rows[2:]:
            want = want + row
    assert bits(out) == bits(want)
