"""Equal to PyTorch float64 at the edges: the cases of issue 17, each against torch itself.

Every number is compared through ``allowed`` of tests/allowed_differences.py, the one table of
allowed differences (each with its reason); everything else must be equal, to the bit.
"""

import functools
import math

import numpy as np
import pytest
from allowed_differences import allowed, reference

from micrograd import Value, ops
from micrograd.autograd import grad
from micrograd.backward import IEEE_ERRORS, ieee
from micrograd.losses import cross_entropy
from micrograd.testing import _torch_apply, all_ops
from micrograd.xp import ARRAYS, FLOATS, VALUES


def same(a, b):
    """Equal as IEEE numbers (nan equals nan), and zeros of the same sign."""
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


def as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def ieee_tuple(rule, *args):
    """A rule on floats as the backward pass runs it: numpy's IEEE values where math raises."""
    try:
        return as_tuple(rule(FLOATS, *args))
    except IEEE_ERRORS:
        return as_tuple(ieee(rule, *args))


def torch_grads(torch, f, *xs, g=1.0):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    out.backward(torch.tensor(g, dtype=torch.float64))
    return out.item(), [t.grad.item() if t.grad is not None else 0.0 for t in ts]


def micrograd_grads(f, *xs, g=1.0):
    """(value, gradients by grad(), .grad after backward()) of f at xs, incoming gradient g."""
    vs = [Value(x) for x in xs]
    out = f(*vs)
    by_grad = list(grad(out, vs, grad_outputs=g, materialize_grads=True))
    out.backward(g)
    return out.data, by_grad, [v.grad for v in vs]


def assert_same(torch, f, *xs, g=1.0, tf=None, step=None):
    """f equals torch at xs, value and gradients, but for differences the table allows (``step``:
    the name of the one step f is, whose entries apply; None for a composition: none do)."""
    data, by_grad, by_backward = got = micrograd_grads(f, *xs, g=g)
    want = torch_grads(torch, tf or f, *xs, g=g)
    ctx = (list(xs), g)
    assert allowed("value", step, data, want[0], ctx), (xs, g, got, want)
    assert all(allowed("vjp", step, a, b, ctx) for a, b in zip(by_grad, want[1])), (xs, g, got, want)
    assert all(allowed("backward", None, a, b) for a, b in zip(by_backward, by_grad)), (xs, g, got, want)
    return data, by_grad


@pytest.mark.parametrize("a,b,quotient", [
    (5e-324, 5e-324, 1.0), (0.0, 5e-324, 0.0), (1e-10, 1e-310, 1.000000000000003e300),
    (1e-200, 1e-200, 1.0), (1.0, 0.0, math.inf), (1.0, -0.0, -math.inf), (0.0, 0.0, math.nan),
    (math.inf, 2.0, math.inf), (2.0, math.inf, 0.0), (math.inf, math.inf, math.nan), (math.nan, 1.0, math.nan),
    (3.0, 7.0, 3.0 / 7.0), (1e200, 1e-200, math.inf)])
def test_division_is_ieee_division_with_torch_gradients(torch, a, b, quotient):
    data, _ = assert_same(torch, lambda x, y: x / y, a, b, step="a/b")
    assert same(data, quotient)
    assert_same(torch, lambda x, y: x / y, a, b, g=math.inf, step="a/b")


@pytest.mark.parametrize("c,x", [(3.0, 7.0), (1.0, 3.0), (5e-324, 5e-324), (0.0, 5e-324), (1e-10, 1e-310)])
def test_division_by_and_of_a_plain_number_is_the_quotient(torch, c, x):
    # x / c divides (x * (1 / c) is not x / c: 0.1 / 3 != 0.1 * (1 / 3)); c / x is torch.div(c, x)
    assert_same(torch, lambda v: v / c, x, step="a/b")
    assert_same(torch, lambda v: c / v, x, tf=lambda t: reference("3/a")(torch, c, t), step="3/a")
    assert (Value(0.1) / 3).data == 0.1 / 3 and (Value(x) / c).op is ops.div and (c / Value(x)).op is ops.div


def test_x_over_x_has_gradient_zero(torch):
    assert_same(torch, lambda x: (1e200 * x) / (1e200 * x), 1.0)
    assert micrograd_grads(lambda x: (1e200 * x) / (1e200 * x), 1.0)[1] == [0.0]
    assert micrograd_grads(lambda a, b: a / b, 1e-200, 1e-200)[1] == [1e200, -1e200]


@pytest.mark.parametrize("x", [1e16, -1e200, 1e12, 0.0, math.inf, -math.inf])
def test_logaddexp_of_x_and_x_has_gradient_one(torch, x):
    assert_same(torch, lambda v: v.logaddexp(v), x, tf=lambda t: torch.logaddexp(t, t), step="logaddexp")


@pytest.mark.parametrize("a,b", [(1e16, 1e16 + 2), (math.inf, 0.0), (0.0, math.inf), (-math.inf, 0.0),
                                 (1000.0, -1000.0), (0.5, -0.25), (math.nan, 1.0)])
def test_logaddexp_gradients_are_the_softmax_of_its_arguments(torch, a, b):
    assert_same(torch, lambda x, y: x.logaddexp(y), a, b, tf=torch.logaddexp, step="logaddexp")


@pytest.mark.parametrize("window", [(1.0, 1.0, 0.5), (2.0, 3.0, 3.0), (math.nan, 1.0, math.nan), (1.0, math.nan, 2.0),
                                    (-math.inf, -math.inf), (math.inf, math.nan, math.inf), (0.0, -0.0), (-0.0, 0.0)])
def test_a_chain_of_max_is_torchs_max_pooling(torch, window):
    # left to right, max(max(x0, x1), x2) sends the gradient where max_pool1d does: the first
    # maximum of a tie, the last nan
    got = micrograd_grads(lambda *xs: functools.reduce(Value.max, xs), *window)
    want = torch_grads(torch, lambda *ts: torch.nn.functional.max_pool1d(torch.stack(ts)[None], len(ts))[0, 0],
                       *window)
    assert same(got[0], want[0]) and got[1] == want[1], (got, want)


def test_cross_entropy_of_huge_equal_logits(torch):
    vs = [Value(1e16), Value(1e16)]
    cross_entropy(vs, 0).backward()
    assert [v.grad for v in vs] == [-0.5, 0.5]


@pytest.mark.parametrize("base", [2.0, 0.5, 1.0, 0.0, -2.0, math.inf, math.nan])
@pytest.mark.parametrize("c", [math.inf, -math.inf, math.nan])
def test_constant_exponents_inf_and_nan_follow_ieee_and_torch(torch, base, c):
    assert_same(torch, lambda x: x ** c, base, step=f"powc[{c:g}]")


def test_power_zero_gives_gradient_zero_whatever_flows_in(torch):
    for x in [2.0, 0.0, math.inf, math.nan]:
        assert_same(torch, lambda v: v ** 0 * math.inf, x)
        assert_same(torch, lambda v: v ** 0, x, g=math.inf, step="powc[0]")
    assert micrograd_grads(lambda v: v ** 0 * math.inf, 2.0)[1] == [0.0]


@pytest.mark.parametrize("x,c,g", [(0.125, 2, 1e308), (0.125, 3, 1e308), (4.0, -1, 1e308), (0.25, 0.5, 1e308)])
def test_power_gradient_is_associated_as_torch(torch, x, c, g):
    assert_same(torch, lambda v: v ** c, x, g=g, step=f"powc[{c:g}]")
    assert_same(torch, lambda v, e: v ** e, x, float(c), g=g, tf=torch.pow, step="pow")


def test_backward_and_create_graph_agree_where_a_reciprocal_overflows(torch):
    f = lambda x: 3 / (1 - x.log())  # noqa: E731
    x = Value(1e-310)
    f(x).backward()
    (dx,) = grad(f(x), x, create_graph=True)
    t = torch.tensor(1e-310, dtype=torch.float64, requires_grad=True)
    (3 / (1 - t.log())).backward()
    assert x.grad == dx.data == pytest.approx(t.grad.item(), rel=1e-15)
    assert math.isfinite(dx.data)


# --- every op of the table at every edge value, against torch and across the three kinds -------

EDGES = [0.0, -0.0, 5e-324, -5e-324, 1e-200, 1e200, -1e200, math.inf, -math.inf, math.nan, 1.0, -2.0, 0.125]
GRADS_IN = [1.0, math.inf, 1e308, -math.inf, -1e308, 0.0, -0.0, math.nan]
OPS = all_ops() + [ops.powc(c) for c in (math.inf, math.nan, 4.0, -3.0)]


def edge_cases():
    for op in OPS:
        args = [(x,) for x in EDGES] if op.arity == 1 else [(x, y) for x in EDGES for y in EDGES]
        for xs in args:
            yield op, xs


def op_id(op):
    return op.name if op.param is None else f"{op.name}[{op.param:g}]"


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_every_op_equals_torch_at_every_edge(torch, op):
    mismatches = []
    for _, xs in (case for case in edge_cases() if case[0] is op):
        for g in GRADS_IN:
            try:
                assert_same(torch, op.apply, *xs, g=g, tf=lambda *ts: _torch_apply(torch, op, *ts), step=op_id(op))
            except AssertionError as exc:
                mismatches.append(exc.args)
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_every_rule_agrees_on_floats_arrays_and_values_at_every_edge(op):
    # the scalar backward, the compiled tape and create_graph run the same rule on three kinds
    for _, xs in (case for case in edge_cases() if case[0] is op):
        for g in GRADS_IN:
            out = op.apply(*[Value(x) for x in xs])
            node = Value(out.data)
            on_floats = ieee_tuple(lambda xp, *a: op.rule(xp, *a), g, out.data, *xs)
            with np.errstate(all="ignore"):
                on_arrays = op.rule(ARRAYS, np.full(2, g), np.full(2, out.data), *[np.full(2, x) for x in xs])
            on_values = op.rule(VALUES, Value(g), node, *[Value(x) for x in xs])
            for f, a, v in zip(on_floats, as_tuple(on_arrays), as_tuple(on_values)):
                assert same(f, float(np.ravel(a)[0])), (op, xs, g, f, a)
                assert same(f, float(getattr(v, "data", v))), (op, xs, g, f, v)


def test_the_compiled_tape_divides_as_the_scalar_engine():
    import micrograd
    w = Value(1e-10)
    f = micrograd.compile(lambda x: w / x + x / (x * 1e200), params=[w])
    xs = np.array([1e-310, 5e-324, 0.0, -0.0, math.inf, 3.0])
    scalar = [w / Value(x) + Value(x) / (Value(x) * 1e200) for x in xs.tolist()]
    assert all(map(same, f(xs).tolist(), [v.data for v in scalar]))
    assert [getattr(step, "op", None) for step in f.tape(xs).steps].count(ops.div) == 2
    f.backward(xs[-1:])
    assert w.grad == (w / Value(3.0)).data / 1e-10 == 1 / 3.0


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_second_derivatives_equal_torch_at_every_edge(torch, op):
    # the derivatives of each vector-Jacobian product, in the arguments and in the incoming gradient
    mismatches = []
    for _, xs in (case for case in edge_cases() if case[0] is op):
        for g in GRADS_IN:
            vs, gv = [Value(x) for x in xs], Value(g)
            firsts = grad(op.apply(*vs), vs, grad_outputs=gv, create_graph=True)
            ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
            tg = torch.tensor(g, dtype=torch.float64, requires_grad=True)
            tfirsts = torch.autograd.grad(_torch_apply(torch, op, *ts), ts, grad_outputs=tg, create_graph=True)
            for k, (d, td) in enumerate(zip(firsts, tfirsts)):
                if not isinstance(d, Value) or not td.requires_grad:
                    continue
                got = [0.0 if s is None else getattr(s, "data", s) for s in grad(d, [*vs, gv], allow_unused=True)]
                want = [s.item() if s is not None else 0.0
                        for s in torch.autograd.grad(td, [*ts, tg], allow_unused=True)]
                if not all(allowed("vjp'", op_id(op), a, b, (list(xs), g)) for a, b in zip(got, want)):
                    mismatches.append((xs, g, k, got, want))
    assert not mismatches, mismatches[:6]


@pytest.mark.parametrize("name,f", [("sub", lambda a, b: a - b), ("rsub", lambda a, b: 2.5 - a + 0 * b),
                                    ("neg", lambda a, b: -a + 0 * b)])
def test_subtraction_and_negation_as_compositions_equal_torch_at_every_edge(torch, name, f):
    # a - b is a + b * -1 (ops.py says why that is exact): check it, values and both orders
    for a in EDGES:
        for b in EDGES:
            for g in GRADS_IN:
                if name != "sub" and not math.isfinite(b * 0):  # (0 * b only pads the signature)
                    continue
                assert_same(torch, f, a, b, g=g)  # (a composition: no entry of the table applies)
            vs = [Value(a), Value(b)]
            firsts = grad(f(*vs), vs, create_graph=True, allow_unused=True)
            ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (a, b)]
            tfirsts = torch.autograd.grad(f(*ts), ts, create_graph=True)
            assert all(allowed("vjp", None, getattr(d, "data", d), t.item()) for d, t in zip(firsts, tfirsts)), (a, b)


SIGMOID_POINTS = [0.0, -0.0, 5e-324, 1e-200, 1e200, -1e200, math.inf, -math.inf, math.nan, 1.0, -2.0, 0.125, 36.0, -40.0]
EDGE_GRADS = [1.0, -1.0, 0.0, -0.0, 5e-324, 1e308, -1e308, math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("g", EDGE_GRADS)
def test_sigmoid_first_and_second_derivatives_equal_torch_under_every_incoming_gradient(torch, g):
    # torch differentiates sigmoid's backward as one function, sigmoid_backward(g, out), whose
    # derivative in out is g * (1 - 2 out): one product, so g = -inf gives inf, not inf - inf.
    # (sigmoid's value equals torch's to the bit at these points, so everything is compared exactly.)
    mismatches = []
    for x in SIGMOID_POINTS:
        xv, gv = Value(x), Value(g)
        (d,) = grad(xv.sigmoid(), xv, grad_outputs=gv, create_graph=True)
        got = [d.data] + [getattr(s, "data", s) for s in grad(d, [xv, gv], materialize_grads=True)]
        xt, gt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, g))
        (td,) = torch.autograd.grad(xt.sigmoid(), xt, grad_outputs=gt, create_graph=True)
        want = [td.item()] + [s.item() for s in torch.autograd.grad(td, [xt, gt], materialize_grads=True)]
        if not all(map(same, got, want)):
            mismatches.append((x, got, want))
    assert not mismatches, mismatches
