"""micrograd.testing: the strategies deliver what they promise; gradcheck and the PyTorch comparison catch wrong rules."""

import math
import random
import sys

import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import Value, ops
from micrograd.testing import (
    GradcheckError,
    MLPCase,
    TorchScalar,
    all_ops,
    assert_matches_torch,
    check_op,
    edge_floats,
    expressions,
    gradcheck,
    gradgradcheck,
    mlps,
    op_inputs,
)

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


# --- gradcheck and gradgradcheck ------------------------------------------------------------------



@pytest.fixture
def declare():
    """Declare test-only ops in the table; they leave it (and Value) when the test ends."""
    made = []

    def make(name, forward, rule, **kw):
        op = micrograd.primitive(ops.Op(name, name, 1, forward, rule, domain=((-2, 2),), **kw))
        made.append(op)
        return op
    yield make
    for op in made:
        ops.remove(op)


def detached(x):
    """x's number: a rule using it is right on floats and arrays, but cuts the graph on Values."""
    return x.data if isinstance(x, Value) else x


def test_gradcheck_catches_a_wrong_derivative_and_names_the_input(declare):
    cube = declare("cube_wrong_test", lambda xp, a: a * a * a, lambda xp, g, out, a: g * 2.0 * a * a)  # 3 a^2
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: x * y.apply(cube), [0.5, 1.5])
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "with respect to input 1 (x1 = 1.5)" in message
    assert "analytical" in message and "numerical" in message and "<-- disagrees" in message
    row = next(line for line in message.splitlines() if "<-- disagrees" in line)
    assert "2.25" in row and "3.37" in row  # 0.5 * 2 * 1.5^2 against 0.5 * 3 * 1.5^2, side by side
    assert gradcheck(lambda x, y: x * y.apply(cube), [0.5, 1.5], raise_exception=False) is False
    assert gradcheck(lambda x, y: x * y.apply(cube), [0.5, 0.0])  # the rules agree at 0
    assert cube.name in ops.OPS


def test_gradgradcheck_catches_a_rule_that_detaches_on_values(declare):
    # right on floats and arrays, but the rule cuts the graph on Values: the second derivative is lost
    declare("cube_detached_test", lambda xp, a: a * a * a, lambda xp, g, out, a: g * 3.0 * detached(a) ** 2)
    def f(x):
        return x.apply(ops.OPS["cube_detached_test"])
    assert gradcheck(f, [0.7])
    with pytest.raises(GradcheckError, match=r"second derivative mismatch: d\(output 0\)/d\(x0\)"):
        gradgradcheck(f, [0.7])
    with pytest.raises(AssertionError, match="disagree"):
        check_op(ops.OPS["cube_detached_test"], [0.7])


@pytest.mark.usefixtures("torch")
def test_check_op_is_the_three_line_property_test(declare):
    cube = declare("cube_right_test", lambda xp, a: a * a * a, lambda xp, g, out, a: g * 3.0 * a * a,
                   torch=lambda t, a: a ** 3)

    @given(op_inputs(cube))
    def test_cube(xs):
        check_op(cube, xs)
    test_cube()
    wrong = declare("cube_torch_test", lambda xp, a: a * a * a, lambda xp, g, out, a: g * 3.0 * a * a,
                    torch=lambda t, a: a ** 2)  # a wrong PyTorch counterpart is caught too
    with pytest.raises(AssertionError, match="disagree"):
        check_op(wrong, [0.5])


def test_gradcheck_with_several_outputs_and_values_as_inputs(declare):
    assert gradcheck(lambda x, y: [x * y, (x + y).exp(), 2.0], [Value(0.3), -0.4])
    assert gradgradcheck(lambda x, y: [x * y, (x + y).exp()], [0.3, -0.4])
    # a wrong rule in a later output (nested in a tuple) is caught and that output named
    declare("square_wrong_test", lambda xp, a: a * a, lambda xp, g, out, a: g * 3.0 * a)  # 2 a
    with pytest.raises(GradcheckError, match=r"output 2 with respect to input 1"):
        gradcheck(lambda x, y: [x * y, (2.0, y.apply(ops.OPS["square_wrong_test"]))], [0.3, -0.4])
    declare("square_detached_test", lambda xp, a: a * a, lambda xp, g, out, a: g * 2.0 * detached(a))
    with pytest.raises(GradcheckError, match=r"second derivative mismatch: d\(output 1\)/d\(x1\)"):
        gradgradcheck(lambda x, y: [x * y, y.apply(ops.OPS["square_detached_test"])], [0.3, -0.4])
    with pytest.raises(TypeError, match="input 0"):
        gradcheck(lambda x: x, ["a"])


# --- assert_matches_torch --------------------------------------------------------------------------

@pytest.mark.usefixtures("torch")
def test_assert_matches_torch_compares_values_gradients_and_higher_orders():
    assert assert_matches_torch(lambda x, y: x.leaky_relu(0.2) * y.sigmoid() - y / x, -0.3, 1.2, order=3)
    assert assert_matches_torch(lambda x: [x * x, x.abs(), x ** Value(2.0)], 1.7, order=2)
    assert assert_matches_torch(lambda v, s: sum(vi * s for vi in v).tanh(), [0.1, 0.2, 0.3], 2.0)


@pytest.mark.usefixtures("torch")
def test_assert_matches_torch_catches_a_wrong_value_and_a_wrong_second_derivative(declare):
    declare("sq_bad_value_test", lambda xp, a: a * a + 1e-6, lambda xp, g, out, a: g * 2.0 * a, torch=lambda t, a: a * a)
    with pytest.raises(AssertionError, match=r"output 0"):
        assert_matches_torch(lambda x: x.apply(ops.OPS["sq_bad_value_test"]), 0.5)
    declare("sq_detached_test", lambda xp, a: a * a, lambda xp, g, out, a: g * 2.0 * detached(a), torch=lambda t, a: a * a)
    assert assert_matches_torch(lambda x: x.apply(ops.OPS["sq_detached_test"]), 0.5)  # first order is right
    with pytest.raises(AssertionError) as info:
        assert_matches_torch(lambda x: x.apply(ops.OPS["sq_detached_test"]), 0.5, order=2)
    assert "d(output 0)/dx0/dx0" in str(info.value) and "micrograd" in str(info.value)


@pytest.mark.usefixtures("torch")
def test_assert_matches_torch_includes_closed_over_values():
    w, b = Value(0.7), Value(-0.2)
    hidden = w * 2.0  # made before fn: its history is rebuilt in torch, so w gets a gradient
    assert assert_matches_torch(lambda x: (hidden * x + b).tanh(), 0.4)
    # a hand-built node whose closure gets its parameter's gradient wrong is caught
    p = Value(1.5)
    q = Value(p.data * 2.0, (p,), "double-by-hand")

    def _backward():
        p.grad += 3.0 * q.grad  # should be 2.0
    q._backward = _backward
    with pytest.raises(AssertionError, match="closed-over Value"):
        assert_matches_torch(lambda x: x * q, 0.4)
    assert w.grad == 0.0 and p.grad == 0.0  # the comparison touches no .grad


@pytest.mark.usefixtures("torch")
def test_outputs_made_of_closed_over_values_alone_are_compared_too():
    """An output that does not depend on the inputs is still differentiated in both runs."""
    w, u = Value(0.7), Value(0.2)
    assert assert_matches_torch(lambda x: [x * w, w, (w * u).tanh()], 0.3, order=2)
    with pytest.raises(AssertionError, match=r"d\(output 1\)/dclosed-over Value"):
        assert_matches_torch(lambda x: [x * w, w * 2.0 if isinstance(x, Value) else w * 3.0], 0.3)


def test_torch_scalar_answers_to_the_op_table(torch):
    memo = {}
    x = TorchScalar(torch.tensor(0.5, dtype=torch.float64), memo)
    assert math.isclose(x.leaky_relu().data, 0.5) and math.isclose((-x).leaky_relu(slope=0.5).data, -0.25)
    assert math.isclose(x.tanh().data, math.tanh(0.5)) and x < 1.0 and float(2 ** x) == 2 ** 0.5
    with pytest.raises(AttributeError, match="op table"):
        x.not_an_op()


def test_torch_is_imported_lazily_with_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch==2.13.0"):
        assert_matches_torch(lambda x: x * x, 1.0)
    assert gradcheck(lambda x: x * x, [1.0])  # gradcheck needs no torch


# --- random MLPs -----------------------------------------------------------------------------------

@pytest.mark.usefixtures("torch")
@given(case=mlps())
def test_mlps_match_torch_with_their_parameters(case):
    assert isinstance(case, MLPCase) and len(case.model.parameters()) == sum(
        (a + 1) * b for a, b in zip(case.sizes, case.sizes[1:]))
    for x in case.inputs[:1]:
        assert len(x) == case.sizes[0]
        assert assert_matches_torch(case.model, list(x))


def test_mlps_are_reproducible_and_leave_random_alone():
    state = random.getstate()
    seen = []

    @settings(max_examples=5, derandomize=True, database=None)
    @given(mlps())
    def collect(case):
        seen.append(case)
    collect()
    assert random.getstate() == state
    case = seen[-1]
    random.seed(case.seed)
    from micrograd.nn import MLP
    twin = MLP(case.sizes[0], list(case.sizes[1:]))
    assert [p.data for p in twin.parameters()] == [p.data for p in case.model.parameters()]
    assert "sizes=" in repr(case)
    random.setstate(state)


def test_mlps_draw_every_shape():
    def deep_and_wide(case):
        return len(case.sizes) >= 4 and case.sizes[-1] > 1 and len(case.inputs) > 1
    assert deep_and_wide(find(mlps(), deep_and_wide, settings=FIND))


def test_edge_floats_reach_every_edge_and_the_floats_next_to_kinks():
    seen = set()

    @settings(max_examples=400, derandomize=True)
    @given(edge_floats())
    def collect(x):
        seen.add(x.hex() if not math.isnan(x) else "nan")
    collect()
    for x in (0.0, -0.0, 5e-324, 1e200, -1e200, 1e-200, math.inf, -math.inf, math.nextafter(0.0, 1.0)):
        assert x.hex() in seen, x
    assert "nan" in seen
    assert any(1 < abs(float.fromhex(h)) < 9 for h in seen if h != "nan")  # ordinary values too
