"""backward.py: the float pass against the op table's rules and against the general pass."""

import math

from hypothesis import example, given
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



@given(st.floats(), numbers)
def test_relu_written_out_equals_its_rule(x, g):
    # the float pass writes relu's rule out too; nan in, 0 and -0 included
    a = Value(x)
    out = a.relu()
    assert out.op is ops.relu
    out.backward(g)
    assert same(a.grad, 0.0 + ops.relu.rule(FLOATS, g, out.data, x)), (x, g, a.grad)


@given(st.floats())
@example(-0.0)
@example(0.0)
@example(math.nan)
@example(-math.inf)
def test_relu_forward_written_out_equals_the_tables(x):
    # Value.relu writes ops.relu's forward out: nan stays nan, -0.0 stays -0.0, to the last bit
    out = Value(x).relu()
    want = ops.relu.forward(FLOATS, x)
    assert out.op is ops.relu and out._prev[0].data.hex() == x.hex()
    assert out.data.hex() == want.hex() if not math.isnan(want) else math.isnan(out.data), (x, out.data, want)
    assert math.copysign(1.0, out.data) == math.copysign(1.0, want)


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


def reference_pass(out, seed):
    """The float pass written plainly: every node from 0.0, rules in reversed order(), per-node
    propagate()."""
    from micrograd.backward import propagate

    nodes = order(out)
    for v in nodes:
        v.grad = 0.0
    out.grad = seed
    for v in reversed(nodes):
        if v._a is not None:
            propagate(v)
    return [v.grad for v in nodes]


@given(expressions(), st.floats(-4, 4))
def test_float_pass_adds_in_the_order_of_order_to_the_last_bit(program, seed):
    # nodes feeding several others get their contributions in one order, so their bits (the sign
    # of a zero included) agree only if both passes visit the parents alike
    results = []
    for run in (float_pass, reference_pass):
        out = program.values([Value(x) for x in program.point])[-1]
        run(out, seed)
        results.append([v.grad.hex() for v in order(out)])
    assert results[0] == results[1]


class Refuses:
    """A gradient left in a node whose truth value cannot be told."""

    def __bool__(self):
        raise ValueError("no truth value")


def test_an_interrupted_pass_leaves_every_gradient_as_it_was():
    # the search keeps its state in the nodes' .grad slots; an error midway must undo it
    x, w = Value(2.0), Value(3.0)
    inner = x * w + 1.0
    out = (inner * x).relu() + w * 2.0
    nodes = order(out)
    before = {v: v.grad for v in nodes}
    x.grad = 5.0
    before[x] = 5.0
    inner.grad = odd = Refuses()
    before[inner] = odd
    try:
        float_pass(out, 1.0)
    except ValueError as error:
        assert "no truth value" in str(error)
    else:
        raise AssertionError("the pass read the odd gradient's truth value and went on")
    assert all(v.grad is before[v] or v.grad == before[v] for v in nodes)



def test_float_pass_on_a_network_adds_in_the_order_of_order_to_the_last_bit():
    # the search's shortcuts (a neuron's act + w * x listed without a stack entry, long ways
    # down, x * x, nodes shared by many parents) must give order()'s order on a real graph too
    import random

    from micrograd.nn import MLP

    random.seed(7)
    model = MLP(2, [4, 4, 1])
    points = [(0.5, -1.25), (-0.75, 2.0), (1.5, 0.25)]
    results = []
    for run in (float_pass, reference_pass):
        model.zero_grad()
        scores = [model([Value(x), Value(y)]) for x, y in points]
        loss = sum((1 + -s).relu() for s in scores) * (1.0 / 3) + sum(p * p for p in model.parameters())
        run(loss, 1.0)
        results.append([v.grad.hex() for v in order(loss)])
    assert results[0] == results[1]


def test_a_node_no_gradient_reaches_is_searched_again_by_the_next_pass():
    # the search marks every node it lists; a node whose only parent passes no gradient (built by
    # hand without a rule) must not keep that mark, or the next pass would skip what is under it
    x = Value(3.0)
    inner = (x * 2.0).relu()
    stop = Value(inner.data, (inner,), "stop")
    (stop * 5.0).backward()
    assert x.grad == 0.0 and inner.grad == 0.0
    (inner * 3.0).backward()
    assert x.grad == 6.0 and inner.grad == 3.0


def test_a_pass_a_rule_interrupts_leaves_the_next_pass_whole():
    # an error midway through the rules must not leave marks either: the next pass walks it all
    x = Value(3.0)
    inner = (x * 2.0).relu()
    out = Value(inner.data, (inner,), "f")
    failing = [True]

    def rule():
        if failing[0]:
            raise RuntimeError("the rule failed")
        inner.grad += out.grad

    out._backward = rule
    top = out * 5.0
    try:
        top.backward()
    except RuntimeError as error:
        assert "the rule failed" in str(error)
    else:
        raise AssertionError("the failing rule did not run")
    assert x.grad == 0.0
    failing[0] = False
    (inner * 3.0).backward()
    assert x.grad == 6.0


def test_a_pass_a_rule_interrupts_keeps_the_gradients_earlier_passes_left():
    # nothing in memory is lost to an error: what earlier passes left in .grad (of a leaf and of an
    # interior node under the failing rule) is there after it, plus what the failed pass had
    # passed down before the error (here nothing: the rule at the top fails)
    x = Value(3.0)
    inner = (x * 2.0).relu()
    out = Value(inner.data, (inner,), "f")

    def rule():
        raise RuntimeError("the rule failed")

    out._backward = rule
    x.grad, inner.grad = 5.0, 7.0
    try:
        (out * 5.0).backward()
    except RuntimeError as error:
        assert "the rule failed" in str(error)
    else:
        raise AssertionError("the failing rule did not run")
    assert x.grad == 5.0 and inner.grad == 7.0
