"""micrograd.autograd: grad(), higher-order gradients, hooks and detect_anomaly, against PyTorch float64."""

import gc
import math
import threading
import weakref

import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import Value, hooks, no_grad, ops
from micrograd.autograd import detect_anomaly, grad, is_anomaly_enabled
from micrograd.engine import topological_order
from micrograd.testing import (
    all_ops,
    assert_matches_torch,
    check_op,
    close,
    expressions,
    op_inputs,
)

OPS = all_ops()
IDS = [f"{op.name}[{op.param:g}]" if op.param is not None else op.name for op in OPS]


def t64(torch, x):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def tgrad(torch, out, inputs, **kw):
    """torch.autograd.grad with unused inputs as 0 (and a constant output giving all zeros)."""
    if not out.requires_grad:
        return [torch.zeros((), dtype=torch.float64) for _ in inputs]
    return torch.autograd.grad(out, inputs, allow_unused=True, materialize_grads=True, **kw)


# --- every op, second and third order ------------------------------------------------------------

@pytest.mark.usefixtures("torch")
@pytest.mark.parametrize("op", OPS, ids=IDS)
@given(data=st.data())
def test_second_derivative_of_every_op_matches_torch_double_backward(op, data):
    xs = data.draw(op_inputs(op))
    # values, gradients and second derivatives against torch.autograd.grad(create_graph=True)
    # twice, then gradcheck and gradgradcheck against central differences
    check_op(op, xs, order=2)


@pytest.mark.parametrize("op", OPS, ids=IDS)
def test_third_derivative_of_every_op_spot_checked(torch, op):
    for t in (0.23, 0.71):
        xs = [lo + t * (hi - lo) for lo, hi in op.domain]
        assert assert_matches_torch(lambda *a: op.apply(*a) if isinstance(a[0], Value)
                                    else a[0]._wrap(op.torch(torch, *[x.t for x in a],
                                                             *(() if op.param is None else (op.param,)))),
                                    *xs, order=3, rtol=1e-6)


def test_higher_orders_of_a_known_function():
    # d^n/dx^n exp(2x) = 2^n exp(2x), to the fifth order
    x = Value(0.3)
    g = x * 2
    d = g.exp()
    for n in range(1, 6):
        (d,) = grad(d, x, create_graph=True)
        assert math.isclose(d.data, 2 ** n * math.exp(0.6), rel_tol=1e-12)


@given(program=expressions(max_steps=8))
def test_random_graph_hessians_match_torch(torch, program):
    leaves = [Value(x) for x in program.point]
    out = program.values(leaves)[-1]
    first = grad(out, leaves, create_graph=True, allow_unused=True, materialize_grads=True)
    tleaves = [t64(torch, x) for x in program.point]
    tout = program.torch(tleaves)[-1]
    tfirst = tgrad(torch, tout, tleaves, create_graph=True)
    for i, (g, tg) in enumerate(zip(first, tfirst)):
        assert close(g.data, tg.item(), rtol=1e-8, atol=1e-10), (program, i)
        row = grad(g, leaves, allow_unused=True, materialize_grads=True)
        trow = tgrad(torch, tg, tleaves, retain_graph=True)
        for j, (h, th) in enumerate(zip(row, trow)):
            assert close(h, th.item(), rtol=1e-7, atol=1e-9), (program, i, j, h, th.item())


# --- grad() ------------------------------------------------------------------------------------

@given(program=expressions(min_inputs=2, max_steps=12), data=st.data())
def test_grad_with_respect_to_any_nodes_matches_torch_and_touches_no_grad(torch, program, data):
    leaves = [Value(x) for x in program.point]
    nodes = program.values(leaves)
    k = data.draw(st.integers(0, len(nodes) - 1))
    wrt = [nodes[i] for i in sorted({0, k})]
    before = [v.grad for v in topological_order(nodes[-1])]
    mine = grad(nodes[-1], wrt, materialize_grads=True)
    assert [v.grad for v in topological_order(nodes[-1])] == before  # intermediates included
    tnodes = program.torch([t64(torch, x) for x in program.point])
    ref = tgrad(torch, tnodes[-1], [tnodes[i] for i in sorted({0, k})])
    for m, r in zip(mine, ref):
        assert type(m) is float and close(m, r.item(), rtol=1e-8, atol=1e-10), program


def test_grad_returns_a_tuple_with_grad_outputs_and_several_outputs_like_torch(torch):
    x, y = Value(2.0), Value(-1.5)
    a, b = x * y, (x + y).tanh()
    tx, ty = t64(torch, 2.0), t64(torch, -1.5)
    ta, tb = tx * ty, (tx + ty).tanh()
    mine = grad([a, b], [x, y], grad_outputs=[0.5, Value(-2.0)])
    ref = torch.autograd.grad([ta, tb], [tx, ty], grad_outputs=[torch.tensor(0.5, dtype=torch.float64),
                                                                  torch.tensor(-2.0, dtype=torch.float64)])
    assert isinstance(mine, tuple) and len(mine) == 2
    assert all(close(m, r.item(), rtol=1e-12) for m, r in zip(mine, ref))
    assert grad(a, x) == (-1.5,) and grad(a, [x, x]) == (-1.5, -1.5)
    assert grad(x, x) == (1.0,)  # an output is its own input
    with pytest.raises(ValueError, match="grad_outputs"):
        grad([a, b], [x], grad_outputs=[1.0])
    with pytest.raises(TypeError, match="inputs"):
        grad(a, [x, 1.0])


def test_unused_input_raises_like_torch_unless_allowed(torch):
    x, z = Value(1.0), Value(2.0)
    y = x * 3
    with pytest.raises(RuntimeError, match="not used"):
        grad(y, [x, z])
    tx, tz = t64(torch, 1.0), t64(torch, 2.0)
    with pytest.raises(RuntimeError, match="not have been used"):
        torch.autograd.grad(tx * 3, [tx, tz])
    assert grad(y, [x, z], allow_unused=True) == (3.0, None)
    assert grad(y, [x, z], materialize_grads=True) == (3.0, 0.0)
    # used, even if the gradient is zero, is not unused (as torch)
    assert grad((x * 0.0).relu(), x) == (0.0,)


def test_grad_with_create_graph_returns_values_down_to_constants():
    x = Value(3.0)
    y = x * 2.0 + 1.0
    (g,) = grad(y, x, create_graph=True)
    assert isinstance(g, Value) and g.data == 2.0
    # the second derivative of a linear function: unused, as torch says; 0.0 when materialised
    assert grad(g, x, allow_unused=True) == (None,)
    assert grad(g, x, materialize_grads=True) == (0.0,)


def test_grad_outputs_can_be_differentiated_through():
    # d/dv of (v * dy/dx): the vector-Jacobian product is differentiable in v (as torch)
    x, v = Value(0.4), Value(1.7)
    (g,) = grad(x.sin() if hasattr(x, "sin") else x.tanh(), x, grad_outputs=v, create_graph=True)
    assert close(grad(g, v)[0], 1 - math.tanh(0.4) ** 2, rtol=1e-12)


def test_grad_does_not_need_the_fast_path_and_handles_a_long_chain():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    (g,) = grad(y, x, create_graph=True)
    assert g.data == 1.0 and grad(g, x, materialize_grads=True) == (0.0,)


def test_grad_through_a_hand_built_node_and_its_closure():
    a, b = Value(2.0), Value(3.0)
    out = Value(a.data * b.data, (a, b), "mul-by-hand")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = _backward
    y = out * out
    a.grad = 5.0
    assert grad(y, [a, b]) == (2 * 6.0 * 3.0, 2 * 6.0 * 2.0) and a.grad == 5.0 and out.grad == 0.0
    with pytest.raises(RuntimeError, match="by hand"):
        grad(y, a, create_graph=True)


# --- backward(create_graph=True) ------------------------------------------------------------------

def test_backward_create_graph_makes_grads_values_like_torch(torch):
    x, w = Value(0.8), Value(-1.3)
    y = (x * w).tanh() * x.exp()
    y.backward(create_graph=True)
    tx, tw = t64(torch, 0.8), t64(torch, -1.3)
    ty = (tx * tw).tanh() * tx.exp()
    ty.backward(create_graph=True)
    assert isinstance(x.grad, Value) and isinstance(w.grad, Value)
    assert close(x.grad.data, tx.grad.item(), rtol=1e-12)
    # a gradient penalty: differentiate the gradient itself
    penalty = x.grad * x.grad + w.grad * w.grad
    tpenalty = tx.grad * tx.grad + tw.grad * tw.grad
    mine = grad(penalty, [x, w])
    ref = torch.autograd.grad(tpenalty, [tx, tw], retain_graph=True)
    assert all(close(m, r.item(), rtol=1e-10) for m, r in zip(mine, ref))
    # accumulation, as torch: a second pass adds a graph to the first (and grad of it is 2x)
    y.backward(create_graph=True)
    ty.backward(create_graph=True)
    assert close(x.grad.data, tx.grad.item(), rtol=1e-12)
    assert close(grad(x.grad, x)[0], torch.autograd.grad(tx.grad, tx)[0].item(), rtol=1e-10)


def test_backward_create_graph_adds_to_float_grads_and_zero_grad_restores_floats():
    x = Value(2.0)
    (x * x).backward()
    (x * x * x).backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 4.0 + 12.0
    assert grad(x.grad, x)[0] == 12.0  # the float part is a constant
    y = x * x
    y.zero_grad()
    assert all(type(v.grad) is float for v in y.nodes())


def test_plain_backward_after_create_graph_still_adds_up():
    x = Value(1.5)
    y = x * x
    y.backward(create_graph=True)
    y.backward()
    assert isinstance(x.grad, Value) and x.grad.data == 6.0


def test_create_graph_gradients_are_freed_by_the_collector():
    x = Value(0.5)
    y = (x * x).tanh()
    y.backward(create_graph=True)
    ref = weakref.ref(y)
    del y
    x.grad = 0.0  # dropping the gradient breaks the cycle through it
    gc.collect()
    assert ref() is None


def test_zero_grad_and_grad_leave_no_cycle_for_the_collector():
    """As the README says: zero_grad() breaks the cycle at once, grad(create_graph=True) makes none."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        for free in ("zero_grad", "grad"):
            x = Value(0.5)
            y = (x * x).tanh()
            if free == "zero_grad":
                y.backward(create_graph=True)
                y.zero_grad()
            else:
                (g,) = grad(y, x, create_graph=True)
                assert grad(g, x)[0] != 0.0
                del g
            ref = weakref.ref(y)
            del y
            assert ref() is None, free  # freed by reference counting, the collector off
    finally:
        if enabled:
            gc.enable()


def test_karpathy_style_update_is_untouched_by_default():
    x = Value(2.0)
    (x * x).backward()
    x.data -= 0.1 * x.grad
    assert type(x.grad) is float and x.data == 2.0 - 0.4


# --- hooks -------------------------------------------------------------------------------------

@given(program=expressions(min_inputs=2, max_steps=12), data=st.data())
def test_hooks_on_leaves_and_intermediates_match_torch(torch, program, data):
    leaves = [Value(x) for x in program.point]
    nodes = program.values(leaves)
    tleaves = [t64(torch, x) for x in program.point]
    tnodes = program.torch(tleaves)
    hooked = sorted(data.draw(st.sets(st.integers(0, len(nodes) - 2), min_size=1, max_size=4)))
    seen, tseen = [], []
    for i in hooked:
        factor = 1.0 + i
        nodes[i].register_hook(lambda g, i=i, f=factor: (seen.append((i, g)), g * f)[1])
        if not tnodes[i].requires_grad:
            continue
        tnodes[i].register_hook(lambda g, i=i, f=factor: (tseen.append((i, g.item())), g * f)[1])
        if i >= program.n_inputs:
            tnodes[i].retain_grad()
    nodes[-1].backward()
    if tnodes[-1].requires_grad:
        tnodes[-1].backward()
    reached = {i for i, _ in tseen}
    assert sorted(i for i, _ in seen if i in reached) == sorted(i for i, _ in tseen)  # once per pass
    for (i, g), (j, tg) in zip(sorted(s for s in seen if s[0] in reached), sorted(tseen)):
        assert close(g, tg, rtol=1e-8, atol=1e-10), (program, i)
    for i, (v, t) in enumerate(zip(nodes, tnodes)):
        if t.requires_grad and (i < program.n_inputs or i in hooked):
            ref = t.grad.item() if t.grad is not None else 0.0
            assert close(v.grad, ref, rtol=1e-8, atol=1e-10), (program, i)


@given(expressions(min_inputs=2, max_steps=15))
def test_the_general_pass_gives_the_fast_loops_gradients(program):
    fast = [Value(x) for x in program.point]
    program.values(fast)[-1].backward()
    slow = [Value(x) for x in program.point]
    out = program.values(slow)[-1]
    bystander = Value(0.0)
    bystander.register_hook(lambda g: g)  # any live hook sends backward() down the general path
    out.backward()
    out.backward()
    assert [2 * v.grad for v in fast] == [v.grad for v in slow]


def test_hooks_work_through_hand_built_nodes_with_many_children():
    xs = [Value(float(i)) for i in range(4)]
    s = Value(sum(x.data for x in xs), xs, "sum4")

    def _backward():
        for x in xs:
            x.grad += s.grad
    s._backward = _backward
    out = s * 2
    seen = []
    xs[0].register_hook(lambda g: seen.append(g))
    out.backward()
    assert [x.grad for x in xs] == [2.0] * 4 and seen == [2.0]
    assert all(type(v.grad) is float for v in out.nodes())
    with pytest.raises(RuntimeError, match="by hand"):
        out.backward(create_graph=True)


def test_hook_sees_the_sum_over_uses_once_and_its_result_flows_on():
    a = Value(2.0)
    b = a * 3
    c = b * b + b
    seen = []
    handle = b.register_hook(lambda g: (seen.append(g), g * 10)[1])
    c.backward()
    assert seen == [13.0] and b.grad == 130.0 and a.grad == 390.0
    handle.remove()
    handle.remove()  # twice is fine
    assert hooks.hooks_of(b) is None
    a.grad = b.grad = 0.0
    c.backward()
    assert seen == [13.0] and a.grad == 39.0


def test_hooks_run_in_grad_and_on_inputs_like_torch(torch):
    x = Value(2.0)
    x.register_hook(lambda g: g * 2)
    assert grad(x * x, x) == (8.0,) and x.grad == 0.0
    tx = t64(torch, 2.0)
    tx.register_hook(lambda g: g * 2)
    assert torch.autograd.grad(tx * tx, tx)[0].item() == 8.0
    # a hook off the path to the inputs is not called
    y = Value(1.0)
    z = y * 5
    calls = []
    z.register_hook(lambda g: calls.append(g))
    assert grad(z + x, x) == (2.0,) and calls == []


def test_hook_returning_none_keeps_the_gradient_and_bad_returns_raise():
    x = Value(3.0)
    x.register_hook(lambda g: None)
    (x * 2).backward()
    assert x.grad == 2.0
    y = Value(1.0)
    y.register_hook(lambda g: "oops")
    with pytest.raises(TypeError, match="hook returned str"):
        (y * 2).backward()
    with pytest.raises(TypeError, match="callable"):
        y.register_hook(3)


def test_hooks_with_create_graph_see_values():
    x = Value(1.5)
    kinds = []
    x.register_hook(lambda g: kinds.append(type(g).__name__))
    (x * x).backward(create_graph=True)
    assert kinds == ["Value"] and x.grad.data == 3.0


def test_hooks_die_with_their_value():
    gc.collect()
    before = hooks.count()
    x = Value(1.0)
    x.register_hook(lambda g: g)
    assert hooks.count() == before + 1
    del x
    assert hooks.count() == before


# --- detect_anomaly ---------------------------------------------------------------------------

def _line_of(marker):
    import inspect
    lines, start = inspect.getsourcelines(inspect.currentframe().f_back.f_code)
    return start + next(i for i, line in enumerate(lines) if marker in line)


def test_anomaly_catches_nan_from_log_of_negative_with_op_and_line():
    x = Value(-1.0)
    with pytest.raises(FloatingPointError) as info, detect_anomaly():
        y = x * 1.0
        y.log()  # the culprit
    message = str(info.value)
    assert "'log'" in message and "nan" in message
    assert f"{__file__}:{_line_of('# the culprit')}" in message and "y.log()  # the culprit" in message


def test_anomaly_catches_inf_from_exp_1000_through_an_operator_and_a_family():
    with pytest.raises(FloatingPointError, match=r"'exp' produced inf") as info, detect_anomaly():
        Value(1000.0).exp()  # exp overflows
    assert "Value(1000.0).exp()  # exp overflows" in str(info.value)
    with pytest.raises(FloatingPointError, match="'powc' produced inf"), detect_anomaly():
        Value(1e200) ** 2
    with pytest.raises(FloatingPointError, match="'mul' produced inf"), detect_anomaly():
        Value(1e200) * 1e200
    with pytest.raises(FloatingPointError, match="'pow' produced"), detect_anomaly():
        Value(0.0) ** Value(-1.0)
    with pytest.raises(FloatingPointError, match="'add' produced inf"), detect_anomaly():
        Value(1.7e308) - Value(-1.7e308)  # a derived op: the primitive inside it is named
    # dividing by a plain 0: the div primitive, with the 0 as a constant argument
    with pytest.raises(FloatingPointError, match=r"'div' produced inf from finite inputs \(1.0, 0.0\)") as info, \
            detect_anomaly():
        Value(1.0) / 0  # divided by zero
    assert "Value(1.0) / 0  # divided by zero" in str(info.value)
    with pytest.raises(FloatingPointError, match="produced nan"), detect_anomaly():
        Value(0.0) / 0.0
    with detect_anomaly():  # an inf passed in is not an anomaly
        assert (Value(math.inf) / 0).data == math.inf and (Value(1.0) / math.inf).data == 0.0
    assert not is_anomaly_enabled()
    assert (Value(1.0) / 0).data == math.inf  # (and off, IEEE as ever)


def test_anomaly_lets_inf_from_inputs_through():
    with detect_anomaly():
        x = Value(math.inf)
        y = (x * 2).exp() + 1.0
        assert y.data == math.inf
        z = Value(2.0) * 3
        z.backward()


def test_anomaly_catches_a_gradient_produced_in_backward_with_the_line_that_made_the_node():
    with detect_anomaly():
        x = Value(0.0)
        y = x.sqrt()  # sqrt'(0) = inf
        assert y.data == 0.0
        with pytest.raises(FloatingPointError) as info:
            (y * 2).backward()
    message = str(info.value)
    assert "rule of op 'sqrt'" in message and "inf" in message
    assert f":{_line_of('# sqrt' + chr(39))}" in message and "y = x.sqrt()" in message
    # a node made outside the block: the op is named, and the message says how to get the line
    y = Value(0.0).sqrt()
    with detect_anomaly(), pytest.raises(FloatingPointError, match="outside detect_anomaly"):
        y.backward()


def test_anomaly_checks_grad_and_create_graph_too():
    x = Value(0.0)
    with detect_anomaly():
        y = x.abs() * 3
        (g,) = grad(y, x, create_graph=True)
        assert isinstance(g, Value) and g.data == 0.0
        with pytest.raises(FloatingPointError, match="'sqrt'"):
            grad(x.sqrt(), x)


def test_anomaly_mode_switches_nothing_and_ends_on_exit_exceptions_and_nesting():
    before = dict(vars(Value))  # nothing is swapped: the mode is one flag the engine reads
    with detect_anomaly():
        with detect_anomaly():
            pass
        assert is_anomaly_enabled() and dict(vars(Value)) == before
        fresh = ops.powc(7.25)  # a family member made inside the block is checked too
        with pytest.raises(FloatingPointError, match="powc"):
            Value(1e300) ** 7.25
    assert not is_anomaly_enabled() and (Value(1e300) ** 7.25).op is fresh
    with pytest.raises(KeyError), detect_anomaly():
        raise KeyError
    assert dict(vars(Value)) == before and not is_anomaly_enabled()

    @detect_anomaly()
    def f(x):
        return x.log()
    with pytest.raises(FloatingPointError):
        f(Value(-2.0))
    assert dict(vars(Value)) == before


def test_anomaly_mode_is_per_thread():
    seen = {}
    with detect_anomaly():
        worker = threading.Thread(target=lambda: seen.update(log=Value(-1.0).log().data))
        worker.start()
        worker.join()
    assert math.isnan(seen["log"])  # the other thread was not checked


def test_anomaly_mode_sees_ops_declared_while_it_is_on():
    with detect_anomaly():
        op = micrograd.primitive(ops.Op("recip_test", "recip_for_anomaly_test", 1, lambda xp, a: 1.0 / a,
                                        lambda xp, g, out, a: -g * out * out, domain=((0.5, 2),)))
        try:
            with pytest.raises(FloatingPointError, match="recip_for_anomaly_test"):
                Value(1e-320).apply(op)
        finally:
            ops.remove(op)
    assert "recip_for_anomaly_test" not in ops.OPS


def test_anomaly_off_costs_nothing_no_grad_still_works():
    assert not is_anomaly_enabled()
    with detect_anomaly(), no_grad():
        y = Value(2.0) * 3
    assert y._prev == ()


def test_a_hook_that_refers_to_its_own_node_lets_the_node_go_and_backward_stay_fast(monkeypatch):
    import weakref
    from micrograd import backward
    def hooked():  # (in a function of its own: deleting a name of the test would empty the hook's cell)
        z = Value(2.0) * 3
        z.register_hook(lambda g: print(z))  # node -> hook -> node: a cycle the collector must free
        return weakref.ref(z)

    gc.collect()
    alive = hooked()
    gc.collect()
    assert alive() is None and not hooks.any_hooks()
    passes = []
    monkeypatch.setattr(backward, "float_pass", lambda root, seed: passes.append("fast"))
    monkeypatch.setattr(backward, "accumulate", lambda root, seed, create_graph=False: passes.append("slow"))
    (Value(1.0) * 2).backward()
    assert passes == ["fast"]
