"""micrograd.testing: the strategies deliver what they promise (every op, shared subexpressions)."""

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from micrograd import Value, ops
from micrograd.testing import all_ops, expressions, op_inputs

OPS = all_ops()
# find() only needs an example, not the smallest one: skip shrinking; derandomised, so CI repeats it.
FIND = settings(max_examples=5000, database=None, derandomize=True, phases=[Phase.generate])


@pytest.mark.parametrize("op", OPS, ids=[str(op) for op in OPS])
def test_expressions_reach_every_op(op):
    program = find(expressions(), lambda p: any(step_op is op for step_op, _ in p.steps),
                   settings=FIND)
    assert any(step_op is op for step_op, _ in program.steps)


def test_expressions_share_subexpressions():
    def shares(p):
        uses = [i for _, args in p.steps for i in args]
        return any(uses.count(i) > 1 for i in range(p.n_inputs, p.n_inputs + len(p.steps)))
    assert shares(find(expressions(), shares, settings=FIND))
    square = find(expressions(), lambda p: any(len(a) == 2 and a[0] == a[1] for _, a in p.steps),
                  settings=FIND)
    assert any(len(a) == 2 and a[0] == a[1] for _, a in square.steps)


@given(expressions())
def test_every_step_is_inside_its_domain_at_the_point(program):
    nodes = program.values([Value(x) for x in program.point])
    for (op, args), node in zip(program.steps, nodes[program.n_inputs:]):
        assert abs(node.data) < float("inf")
        if op is ops.add:  # the closing sum of unused nodes is unchecked: addition is valid anywhere
            continue
        for k, i in enumerate(args):
            lo, hi = op.domain[k]
            assert lo <= nodes[i].data <= hi and all(abs(nodes[i].data - kink) > 1e-3 for kink in op.kinks)


@pytest.mark.parametrize("op", OPS, ids=[str(op) for op in OPS])
@given(data=st.data())
def test_op_inputs_stay_in_domain_and_off_kinks(op, data):
    xs = data.draw(op_inputs(op))
    assert len(xs) == op.arity
    for x, (lo, hi) in zip(xs, op.domain):
        assert lo <= x <= hi and all(abs(x - kink) > 1e-3 for kink in op.kinks)
