"""backward.py: the float pass against the op table's rules and against the general pass."""

import math

from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, ops
from micrograd.backward import accumulate, float_pass, order
from micrograd.testing import expressions
from micrograd.xp import FLOATS

numbers = st.floats(allow_nan=False)  # infinities included: inf * 0 gives nan, as the rule does


def same(x: float, y: float) -> bool:
    """Equal to the last bit (nan equal to nan): the float pass must not round differently."""
    return x == y or (math.isnan(x) and math.isnan(y))


@given(numbers, numbers, numbers)
def test_add_and_mul_written_out_equal_their_rules(x, y, g):
    # the float pass writes add's and mul's rules out; they must give what the table's rules give
    for op, make in ((ops.add, lambda a, b: a + b), (ops.mul, lambda a, b: a * b)):
        a, b = Value(x), Value(y)
        out = make(a, b)
        assert out.op is op
        out.backward(g)
        ga, gb = op.rule(FLOATS, g, out.data, x, y)
        assert same(a.grad, ga) and same(b.grad, gb), (op, a.grad, ga, b.grad, gb)


@given(expressions(), st.lists(st.floats(-10, 10), min_size=4, max_size=4))
def test_float_pass_equals_general_pass_with_earlier_gradients(program, earlier):
    # leaves and nodes holding gradients from earlier passes: both passes set them aside and add
    # them back, to the last bit
    results = []
    for run in (float_pass, accumulate):
        leaves = [Value(x) for x in program.point]
        out = program.values(leaves)[-1]
        nodes = order(out)
        for k, v in enumerate(nodes):
            v.grad = earlier[k % len(earlier)]
        run(out, 1.5)
        results.append([v.grad for v in nodes])
    assert all(same(x, y) for x, y in zip(*results)), results
