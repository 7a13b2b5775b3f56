"""fused: x * y + z rounded once, floats and arrays, against the exact rational sum rounded."""

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from micrograd.fused import fma, fma_arrays


def exact(x, y, z):
    """The correctly rounded x * y + z (Fraction's float() rounds to nearest, ties to even)."""
    try:
        return float(Fraction(x) * Fraction(y) + Fraction(z))
    except OverflowError:
        return x * y + z


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=20))
def test_fma_rounds_once_on_floats_and_arrays(triples):
    x, y, z = (np.array(c) for c in zip(*triples))
    want = [exact(*t) for t in triples]
    assert [fma(*t) for t in triples] == want
    assert fma_arrays(x, y, z).tolist() == want


def test_cancellation_where_rounding_twice_is_wrong():
    """x y - fl(x y): the exact rounding error of a product, which x * y + z gives as 0."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(10_000), rng.standard_normal(10_000)
    z = -(x * y)
    got = fma_arrays(x, y, z)
    assert got.tolist() == [exact(a, b, c) for a, b, c in zip(x.tolist(), y.tolist(), z.tolist())]
    assert np.count_nonzero(got) > 9_000  # the plain arithmetic gives 0 for all of them


def test_inf_and_nan_follow_ieee():
    x = np.array([np.inf, np.nan, 0.0, 1e300])
    y = np.array([2.0, 1.0, np.inf, 1e300])
    z = np.array([1.0, 1.0, 1.0, -np.inf])
    with np.errstate(all="ignore"):
        want = x * y + z
    np.testing.assert_array_equal(fma_arrays(x, y, z), want)
