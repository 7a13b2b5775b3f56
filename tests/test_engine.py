"""Value and backward(): random graphs against PyTorch, IEEE edge cases, errors, memory, compatibility."""

import gc
import math
import sys
import threading
import weakref
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, gc_paused, is_grad_enabled, no_grad
from micrograd.autograd import detect_anomaly
from micrograd.engine import topological_order, weighted_sum
from micrograd.gc_pause import pause, resume
from micrograd.testing import close, expressions


def t64(torch, x, grad=True):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=grad)


# --- random expression graphs, leaf by leaf against PyTorch ----------------------------------

@given(program=expressions())
def test_random_graphs_match_torch(torch, program):
    leaves = [Value(x) for x in program.point]
    out = program.values(leaves)[-1]
    out.backward()
    tleaves = [t64(torch, x) for x in program.point]
    tout = program.torch(tleaves)[-1]
    tout.backward()
    assert close(out.data, tout.item(), rtol=1e-10), program
    for i, (v, t) in enumerate(zip(leaves, tleaves)):
        ref = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, ref, rtol=1e-8, atol=1e-10), (program, i, v.grad, ref)


@given(program=expressions(min_inputs=2, max_steps=20))
def test_intermediate_grads_match_torch_retain_grad(torch, program):
    leaves = [Value(x) for x in program.point]
    nodes = program.values(leaves)
    nodes[-1].backward()
    tnodes = program.torch([t64(torch, x) for x in program.point])
    for t in tnodes:
        t.retain_grad()
    tnodes[-1].backward()
    for v, t in zip(nodes, tnodes):
        ref = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, ref, rtol=1e-8, atol=1e-10), program


@given(program=expressions(), seed=st.floats(-3, 3))
def test_backward_gradient_argument_scales_like_torch(torch, program, seed):
    leaves = [Value(x) for x in program.point]
    out = program.values(leaves)[-1]
    out.backward(seed)
    tleaves = [t64(torch, x) for x in program.point]
    program.torch(tleaves)[-1].backward(torch.tensor(seed, dtype=torch.float64))
    for v, t in zip(leaves, tleaves):
        ref = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, ref, rtol=1e-8, atol=1e-10)


# --- operators ----------------------------------------------------------------------------

BINARY = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
]


@pytest.mark.parametrize("name,f", BINARY)
@given(a=st.floats(0.5, 3), b=st.floats(0.5, 3))
def test_binary_operators_all_forms_match_torch(torch, name, f, a, b):
    for left_value, right_value in [(True, True), (True, False), (False, True)]:
        x = Value(a) if left_value else a
        y = Value(b) if right_value else b
        out = f(x, y)
        assert isinstance(out, Value)
        out.backward()
        tx = t64(torch, a) if left_value else a
        ty = t64(torch, b) if right_value else b
        tout = f(tx, ty)
        tout.backward()
        assert close(out.data, tout.item(), rtol=1e-12)
        if left_value:
            assert close(x.grad, tx.grad.item(), rtol=1e-10)
        if right_value:
            assert close(y.grad, ty.grad.item(), rtol=1e-10)


@given(a=st.floats(-5, 5), b=st.floats(-5, 5))
def test_unary_minus_and_inplace_style(torch, a, b):
    x = Value(a)
    y = x
    y += b
    y -= 2.0
    y *= x
    y /= 4.0
    (-y).backward()
    tx = t64(torch, a)
    ty = -((tx + b - 2.0) * tx / 4.0)
    ty.backward()
    assert close(x.grad, tx.grad.item(), rtol=1e-10, atol=1e-12)


def test_leaky_relu_slope_by_position_keyword_or_default():
    x = Value(-2.0)
    assert x.leaky_relu().data == -0.02 and x.leaky_relu(0.5).data == -1.0
    assert x.leaky_relu(slope=0.25).data == -0.5 and x.leaky_relu(slope=0.25)._op == "LeakyReLU(0.25)"
    with pytest.raises(TypeError, match="alpha"):
        x.leaky_relu(alpha=0.1)
    with pytest.raises(TypeError, match="slope"):
        x.leaky_relu("0.1")


def test_pow_accepts_int_float_and_value_exponents():
    x = Value(2.0)
    assert (x ** 3).data == 8.0 and (x ** 0.5).data == math.sqrt(2.0) and (x ** Value(3.0)).data == 8.0
    assert (2 ** Value(3.0)).data == 8.0 and (np.float64(2.0) ** Value(3.0)).data == 8.0


def test_numpy_scalars_on_both_sides():
    x = Value(3.0)
    for s in (np.float64(2.0), np.int64(2), np.float32(2.0), np.int32(2)):
        for out in (s * x, x * s, s + x, x + s, s - x, x - s, s / x, x / s):
            assert isinstance(out, Value), (type(s), out)
        assert (s * x).data == 6.0 and (x - s).data == 1.0 and (s - x).data == -1.0
        assert (s < x) and (x > s) and not (x <= s)
    y = Value(np.float64(1.5))
    assert type(y.data) is float and y.data == 1.5
    # micrograd's moons demo multiplies numpy int labels with scores
    score = Value(0.5)
    loss = (1 + -np.int64(-1) * score).relu()
    loss.backward()
    assert isinstance(loss, Value) and loss.data == 1.5 and score.grad == 1.0


def test_comparisons_float_and_hash():
    a, b = Value(1.0), Value(2.0)
    assert a < b and a <= b and b > a and b >= a and a < 1.5 and a >= 1 and not a > 1
    assert float(b) == 2.0 and math.isclose(math.sqrt(b), math.sqrt(2.0))
    c = Value(1.0)
    assert a != c and a == a and len({a, c, a}) == 2  # identity, not value
    assert {a: 1}[a] == 1


def test_repr_is_readable():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    v = Value(3) * 2
    v.backward()
    assert repr(v) == "Value(data=6.0, grad=1.0)"


def test_label():
    a = Value(2.0, label="a")
    assert a.label == "a" and Value(1.0).label == ""
    a.label = "b"
    assert a.label == "b"


# --- IEEE special values, against torch ---------------------------------------------------

IEEE_CASES = [
    # name, expression on Value / tensor, input, expected value (torch is the reference too)
    ("log(0)", lambda x: x.log(), 0.0, -math.inf),
    ("log(-1)", lambda x: x.log(), -1.0, math.nan),
    ("1/0", lambda x: 1 / x, 0.0, math.inf),
    ("1/-0", lambda x: 1 / x, -0.0, -math.inf),
    ("0/0", lambda x: x / x, 0.0, math.nan),
    ("(-8)**(1/3)", lambda x: x ** (1 / 3), -8.0, math.nan),
    ("exp(1000)", lambda x: x.exp(), 1000.0, math.inf),
    ("exp(-1000)", lambda x: x.exp(), -1000.0, 0.0),
    ("sigmoid(-1000)", lambda x: x.sigmoid(), -1000.0, 0.0),
    ("sigmoid(1000)", lambda x: x.sigmoid(), 1000.0, 1.0),
    ("tanh(1000)", lambda x: x.tanh(), 1000.0, 1.0),
    ("tanh(-1000)", lambda x: x.tanh(), -1000.0, -1.0),
    ("relu(0)", lambda x: x.relu(), 0.0, 0.0),
    ("relu(-inf)", lambda x: x.relu(), -math.inf, 0.0),
    ("relu(nan)", lambda x: x.relu(), math.nan, math.nan),
    ("abs(0)", lambda x: x.abs(), 0.0, 0.0),
    ("sqrt(0)", lambda x: x.sqrt(), 0.0, 0.0),
    ("sqrt(-1)", lambda x: x.sqrt(), -1.0, math.nan),
    ("0**0", lambda x: x ** 0, 0.0, 1.0),
    ("0**-1", lambda x: x ** -1, 0.0, math.inf),
    ("0**2", lambda x: x ** 2, 0.0, 0.0),
    ("0**0.5", lambda x: x ** 0.5, 0.0, 0.0),
    ("(-2)**-2", lambda x: x ** -2, -2.0, 0.25),
    ("(1e200)**2", lambda x: x ** 2, 1e200, math.inf),
    ("x*x overflow", lambda x: x * x, 1e200, math.inf),
    ("inf-inf", lambda x: x - x, math.inf, math.nan),
    ("leaky_relu(0)", lambda x: x.leaky_relu(0.1), 0.0, 0.0),
    ("2**x at -inf", lambda x: 2 ** x, -math.inf, 0.0),
    ("x**y, x=0, y=0", lambda x: x ** (x * 0), 0.0, 1.0),
    ("log(inf)", lambda x: x.log(), math.inf, math.inf),
    ("exp(nan)", lambda x: x.exp(), math.nan, math.nan),
]


# a tensor has no leaky_relu method: torch's form of that case (t is the torch module)
TORCH_FORMS = {"leaky_relu(0)": lambda t, x: t.nn.functional.leaky_relu(x, 0.1)}


@pytest.mark.parametrize("name,f,x,expected", IEEE_CASES, ids=[c[0] for c in IEEE_CASES])
def test_ieee_special_values_match_torch(torch, name, f, x, expected):
    v = Value(x)
    out = f(v)
    out.backward()
    t = t64(torch, x)
    tout = TORCH_FORMS.get(name, lambda _, x: f(x))(torch, t)
    tout.backward()
    assert close(out.data, expected) and close(out.data, tout.item()), (out.data, tout.item())
    ref = t.grad.item() if t.grad is not None else 0.0
    assert close(v.grad, ref), (name, v.grad, ref)
    assert isinstance(out.data, float) and not isinstance(out.data, complex)


def test_ieee_values_never_raise_or_go_complex():
    for x in (0.0, -0.0, -1.0, -8.0, 1e308, -1e308, math.inf, -math.inf, math.nan):
        v = Value(x)
        outs = [v.log(), v.exp(), v.sqrt(), v.tanh(), v.sigmoid(), v.relu(), v.abs(), v.leaky_relu(),
                1 / v, v / 0, v ** (1 / 3), v ** -2, v ** 0.5, 2 ** v, v ** v, (-2.0) ** v]
        for out in outs:
            assert type(out.data) is float
            out.backward()


KINKS = [  # the derivative we pin at a kink, and torch's version of the same function (t: torch)
    ("relu'(0) = 0", lambda x: x.relu(), lambda t, x: t.relu(x), 0.0, 0.0),
    ("abs'(0) = 0", lambda x: x.abs(), lambda t, x: t.abs(x), 0.0, 0.0),
    ("leaky_relu'(0) = slope", lambda x: x.leaky_relu(0.2), lambda t, x: t.nn.functional.leaky_relu(x, 0.2), 0.0, 0.2),
    ("d/dx x**0 = 0 at 0", lambda x: x ** 0, lambda t, x: x ** 0, 0.0, 0.0),
    ("d/dx x**y at x = 0, y = 0 is 0", lambda x: x ** (x * 0.0), lambda t, x: x ** (x * 0.0), 0.0, 0.0),
]


@pytest.mark.parametrize("name,f,tf,x,pinned", KINKS, ids=[k[0] for k in KINKS])
def test_kink_conventions_pinned_to_torch(torch, name, f, tf, x, pinned):
    v, t = Value(x), t64(torch, x)
    f(v).backward()
    tf(torch, t).backward()
    assert v.grad == pinned == t.grad.item()


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("bad,name", [("3", "str"), (None, "NoneType"), (1j, "complex"), ({}, "dict")])
def test_bad_data_raises_type_error_naming_the_type_like_torch(torch, bad, name):
    with pytest.raises(TypeError, match=name):
        Value(bad)
    with pytest.raises(TypeError):
        torch.tensor(bad, dtype=torch.float64)


@pytest.mark.parametrize("bad,name", [([1], "list"), (np.array([1.0, 2.0]), "ndarray"), (Value(1.0), "Value")])
def test_non_scalar_data_raises_type_error_naming_the_type(bad, name):
    # (torch would make a 1-d tensor of a list; a Value is a scalar)
    with pytest.raises(TypeError, match=name):
        Value(bad)


def test_zero_dim_array_and_bool_are_numbers():
    assert Value(np.array(2.5)).data == 2.5 and Value(True).data == 1.0 and Value(3).data == 3.0


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
@pytest.mark.parametrize("other", ["a", None, [1.0], object()], ids=["str", "None", "list", "object"])
def test_unsupported_operand_gives_pythons_type_error_like_torch(torch, op, other):
    for x in (Value(1.0), torch.tensor(1.0, dtype=torch.float64)):  # noqa: B007 (read by eval)
        with pytest.raises(TypeError):
            eval(f"x {op} other")
        with pytest.raises(TypeError):
            eval(f"other {op} x")
    method = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "**": "__pow__"}[op]
    assert getattr(Value(1.0), method)(other) is NotImplemented
    assert getattr(Value(1.0), method.replace("__", "__r", 1))(other) is NotImplemented


def test_zero_dim_arrays_mix_in_like_numbers_but_complex_ones_do_not():
    v = Value(2.0)
    assert (v * np.array(3.0)).data == 6.0 and (v ** np.array(2.0))._op == "**2"
    assert (v - np.array(1)).data == 1.0 and (np.array(8.0) / v).data == 4.0
    with pytest.raises(TypeError, match="unsupported operand"):
        v * np.array(1j)
    with pytest.raises(TypeError, match="unsupported operand"):
        v - np.array(1j)


@pytest.mark.parametrize("other", ["a", None, object()])
def test_comparison_with_a_non_number_raises_type_error(other):
    with pytest.raises(TypeError):
        Value(1.0) < other  # noqa: B015


def test_bad_children_and_op():
    with pytest.raises(TypeError, match="children"):
        Value(1.0, (1.0,))
    with pytest.raises(TypeError, match="_op"):
        Value(1.0, (), 3)
    with pytest.raises(TypeError, match="gradient"):
        Value(1.0).backward("1")


# --- backward semantics -----------------------------------------------------------------------

def test_backward_twice_doubles_every_grad():
    # micrograd issue #53: y = x*2; z = y*3; two backward passes give x.grad == 12, not 18
    x = Value(1.0)
    y = x * 2
    z = y * 3
    z.backward()
    first = {id(v): v.grad for v in topological_order(z)}
    z.backward()
    assert x.grad == 12.0
    for v in topological_order(z):
        assert v.grad == 2 * first[id(v)]


@given(expressions())
def test_backward_twice_doubles_like_torch(program):
    leaves = [Value(x) for x in program.point]
    out = program.values(leaves)[-1]
    out.backward()
    once = [v.grad for v in leaves]
    out.backward()
    for v, g in zip(leaves, once):
        assert close(v.grad, 2 * g, rtol=0, atol=0)


def test_grads_accumulate_across_graphs_like_torch(torch):
    x, tx = Value(3.0), t64(torch, 3.0)
    (x * x).backward()
    (x * 2).backward()
    (tx * tx).backward()
    (tx * 2).backward()
    assert x.grad == tx.grad.item() == 8.0


def test_zero_grad_clears_the_whole_graph():
    x = Value(2.0)
    y = (x * x).tanh() + x
    y.backward()
    assert any(v.grad for v in y.nodes())
    y.zero_grad()
    assert all(v.grad == 0.0 for v in y.nodes())


def test_deep_chain_at_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0
    del y  # freeing a million-deep chain must not overflow the C stack either


def test_topological_order_puts_children_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    pos = {v: i for i, v in enumerate(order)}
    assert len(order) == 5 and order[-1] is e
    for v in order:
        for child in v._prev:
            assert pos[child] < pos[v]


# --- no_grad and detach ---------------------------------------------------------------------

def test_no_grad_records_no_graph():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + x.tanh()
        with no_grad():
            z = y * 2
        w = z + 1
    assert is_grad_enabled()
    assert y._prev == () and w._prev == () and not y._op and y.data == 6.0 + math.tanh(2.0)
    m = x * 3
    assert len(m._prev) == 2 and m._prev[0] is x and m._op == "*"


def test_no_grad_is_a_decorator():
    @no_grad()
    def f(v):
        return v * v

    out = f(Value(3.0))
    assert out._prev == () and out.data == 9.0 and is_grad_enabled()
    assert f.__name__ == "f"


def test_no_grad_is_thread_local():
    inside, go_on = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with no_grad():
            inside.set()
            go_on.wait(5)
            seen["worker"] = (Value(1.0) * 2)._prev

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = (Value(1.0) * 2)._prev  # this thread still records
    go_on.set()
    t.join()
    assert len(seen["main"]) == 2 and seen["worker"] == ()


def test_no_grad_restores_state_after_exceptions():
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError
    assert is_grad_enabled() and len((Value(1.0) * 2)._prev) == 2


def test_detach():
    x = Value(2.0)
    y = x * 3
    d = y.detach()
    assert d.data == 6.0 and d._prev == () and d is not y
    (d * x).backward()
    assert x.grad == 6.0 and y.grad == 0.0


# --- memory: no reference cycles ------------------------------------------------------------

def test_graph_is_freed_without_the_cycle_collector():
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        y = x
        for _ in range(100):
            y = (y * x + 1).tanh() / 2 + y.relu() ** 2
        y.backward()
        refs = [weakref.ref(v) for v in topological_order(y) if v is not x]
        assert len(refs) > 500 and all(r() is not None for r in refs)
        del y
        assert all(r() is None for r in refs)
        assert x.grad != 0.0
    finally:
        gc.enable()


def test_mlp_loss_graph_is_freed_without_the_cycle_collector():
    from micrograd.nn import MLP
    model = MLP(2, [4, 4, 1])
    gc.collect()
    gc.disable()
    try:
        loss = sum((model([Value(0.1 * i), Value(-0.2 * i)]) - 1) ** 2 for i in range(5))
        loss.backward()
        params = set(model.parameters())
        refs = [weakref.ref(v) for v in topological_order(loss) if v not in params]
        del loss
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


# --- karpathy's micrograd compatibility -------------------------------------------------------

def test_micrograd_readme_example():
    from micrograd.engine import Value

    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    assert f"{g.data:.4f}" == "24.7041"
    g.backward()
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_constructor_children_and_op_like_micrograd():
    a, b = Value(2.0), Value(3.0)
    c = Value(5.0, (a, b), "+")
    assert c._prev == (a, b) and c._op == "+"
    c.backward()  # a hand-built node without a _backward passes no gradient, as in micrograd
    assert a.grad == 0.0
    d = a * b
    assert set(d._prev) == {a, b} and d._op == "*"


def test_handwritten_op_with_backward_closure_like_micrograd():
    # the extension pattern of micrograd's lecture: a new op as a node plus a _backward closure
    def cube(self):
        out = Value(self.data ** 3, (self,), "cube")

        def _backward():
            self.grad += 3 * self.data ** 2 * out.grad
        out._backward = _backward
        return out

    x = Value(2.0)
    y = cube(x * 1.0) + x
    y.backward()
    assert x.grad == 13.0
    assert y._prev[0]._op == "cube"


def test_hand_built_node_with_many_children():
    xs = [Value(float(i)) for i in range(5)]
    s = Value(sum(x.data for x in xs), xs, "sum5")

    def _backward():
        for x in xs:
            x.grad += s.grad
    s._backward = _backward
    out = s * 2
    out.backward()
    assert s._prev == tuple(xs) and [x.grad for x in xs] == [2.0] * 5
    assert set(out.nodes()) == {out, s, *xs, out._prev[1]}  # the links between children stay hidden


def test_per_node_backward_like_the_lecture():
    # micrograd's lecture calls o._backward() node by node, by hand
    x, w = Value(2.0), Value(-3.0)
    n = x * w
    o = n.tanh()
    o.grad = 1.0
    o._backward()
    n._backward()
    assert math.isclose(n.grad, 1 - math.tanh(-6.0) ** 2)
    assert math.isclose(x.grad, w.data * n.grad) and math.isclose(w.grad, x.data * n.grad)


def test_micrograd_graph_tracing_code_runs():
    # the trace() of micrograd's trace_graph notebook
    def trace(root):
        nodes, edges = set(), set()

        def build(v):
            if v not in nodes:
                nodes.add(v)
                for child in v._prev:
                    edges.add((child, v))
                    build(child)
        build(root)
        return nodes, edges

    x = Value(1.0)
    y = (x * 2 + 1).relu()
    nodes, edges = trace(y)
    assert len(nodes) == 6 and len(edges) == 5
    labels = [n._op for n in nodes if n._op]
    assert sorted(labels) == ["*", "+", "ReLU"]
    assert all(isinstance(str(id(n)) + n._op, str) for n in nodes)


# --- gc_paused ------------------------------------------------------------------------------

def test_gc_paused_restores_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError):
        with gc_paused():
            raise ValueError
    assert gc.isenabled()


def test_gc_paused_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gc_paused_decorator_and_threads():
    @gc_paused()
    def build(n):
        y = Value(1.0)
        for _ in range(n):
            y = y * 1.0
        return y

    results = []
    threads = [threading.Thread(target=lambda: results.append(build(5000).data)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1.0] * 4 and gc.isenabled() and build.__name__ == "build"


def test_pause_and_resume_nest_with_gc_paused_and_allocate_nothing():
    pause()
    try:
        assert not gc.isenabled()
        with gc_paused():
            pause()
            resume()
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        resume()
    assert gc.isenabled()
    # The collector counts every allocation of a container, and runs at one when the count is past
    # its threshold: pause() and resume() must not be such an allocation (``with gc_paused()`` is:
    # binding its __exit__ makes a method object).
    runs = []
    def note(phase, info):
        runs.append(phase)
    gc.collect()
    gc.disable()
    junk = [[] for _ in range(2 * gc.get_threshold()[0])]  # the count past the threshold
    gc.enable()
    gc.callbacks.append(note)
    try:
        pause()
        resume()
        quiet = len(runs)  # (an int: a list here would itself allocate)
        gc.disable()
        more = [[] for _ in range(2 * gc.get_threshold()[0])]  # past it again (resume moved the young on)
        gc.enable()
        with gc_paused():
            pass
    finally:
        gc.callbacks.remove(note)
    assert quiet == 0 and runs == ["start", "stop"] and len(junk) == len(more) > 0


def test_resume_moves_the_graph_out_of_the_young_generation_and_freezes_nothing():
    # The first collection after a pause would walk the whole young generation, the graph built
    # in it: resume() moves it to the oldest generation unexamined, so the next allocations run
    # no collection, and nothing is left frozen.
    runs = []
    def note(phase, info):
        runs.append(info["generation"])
    gc.collect()
    with gc_paused():
        y = Value(1.0)
        for _ in range(5 * gc.get_threshold()[0]):  # the count far past the threshold
            y = y * 1.0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert not any(o is y for o in gc.get_objects(generation=0))
    assert any(o is y for o in gc.get_objects(generation=2))
    gc.callbacks.append(note)
    try:
        z = [[] for _ in range(gc.get_threshold()[0] // 2)]  # fewer allocations than the threshold
    finally:
        gc.callbacks.remove(note)
    assert runs == [] and len(z) > 0 and y.data == 1.0


def test_resume_leaves_what_the_program_froze_frozen():
    gc.collect()
    kept = [object()]
    gc.freeze()
    try:
        with gc_paused():  # a young generation past the threshold: resume() would move it
            y = Value(1.0)
            for _ in range(2 * gc.get_threshold()[0]):
                y = y * 1.0
            y = y * 2.0
        assert gc.get_freeze_count() > 0 and gc.isenabled()
        assert not any(o is kept for o in gc.get_objects())  # still in the permanent generation
    finally:
        gc.unfreeze()
    assert any(o is kept for o in gc.get_objects()) and y.data == 2.0


def test_cyclic_garbage_made_during_a_pause_is_still_collected():
    class Node:
        pass

    with gc_paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle, garbage once the names are gone
        alive = weakref.ref(a)
        del a, b
    assert alive() is not None  # reference counting cannot free a cycle
    gc.collect()
    assert alive() is None


def test_cyclic_garbage_moved_by_resume_is_collected_once_enough_was_moved():
    # resume() moves the young generation to the oldest one unexamined, zeroing the collector's
    # counts: in a loop of pauses no full collection would come by itself, so resume() runs one
    # itself after FULL_COLLECTION_AFTER objects moved. Nothing calls gc.collect() here. The
    # garbage's finalizer opens a pause of its own while resume() collects (a deadlock if resume
    # collected holding its lock: hence the thread and the timeout).
    from micrograd.gc_pause import FULL_COLLECTION_AFTER

    finalized = []

    class Node:
        def __del__(self):
            with gc_paused():
                finalized.append(1)

    full = []
    def note(phase, info):
        if phase == "stop" and info["generation"] == 2:
            full.append(1)
    batch = 10 * gc.get_threshold()[0]  # young past the threshold at every resume
    rounds = FULL_COLLECTION_AFTER // batch + 2
    seen = {}

    def loop():
        keep = None
        for _ in range(rounds):  # up to a full collection: the count of moved objects starts at 0
            keep = None  # (freed here: freed inside the pause it would cancel the new ones' count)
            with gc_paused():
                keep = [[] for _ in range(batch)]
            if full:
                break
        seen["first"] = bool(full)
        keep = None
        with gc_paused():
            keep = [[] for _ in range(batch)]
            a, b = Node(), Node()
            a.other, b.other = b, a
            alive = weakref.ref(a)
            del a, b
        seen["collections"] = len(full)
        seen["moved, not collected"] = alive() is not None
        for _ in range(rounds):
            keep = None
            with gc_paused():
                keep = [[] for _ in range(batch)]
            if alive() is None:
                break
        seen["collected"] = alive() is None and len(full) == seen["collections"] + 1 and len(keep) == batch

    gc.callbacks.append(note)
    try:
        worker = threading.Thread(target=loop, daemon=True)
        worker.start()
        worker.join(timeout=120)
    finally:
        gc.callbacks.remove(note)
    assert not worker.is_alive(), "resume() deadlocked on a finalizer that pauses"
    assert seen == {"first": True, "collections": seen.get("collections"), "moved, not collected": True,
                    "collected": True}
    assert finalized == [1, 1] and gc.isenabled()


def test_mlp_forward_pauses_the_collector_and_restores_it():
    from micrograd.nn import MLP
    seen = []
    model = MLP(2, [3, 1])
    layer = model.layers[0]
    original = type(layer).__call__

    class Spy(type(layer)):
        def __call__(self, x):
            seen.append(gc.isenabled())
            return original(self, x)

    layer.__class__ = Spy
    model([1.0, 2.0])
    assert seen == [False] and gc.isenabled()


# --- copying and pickling -------------------------------------------------------------------

def test_pickle_and_deepcopy_keep_graph_ops_and_labels():
    import copy
    import pickle
    x = Value(2.0, label="x")
    y = ((x * 3).tanh() ** 2).leaky_relu(0.2)
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        assert clone is not y and clone.data == y.data
        assert [str(v._op) for v in clone.nodes()] == [str(v._op) for v in y.nodes()]
        assert clone._op is y._op  # ops are the table's singletons
        leaf = next(v for v in clone.nodes() if v.label == "x")
        clone.backward()
        y.backward()
        assert leaf.grad == x.grad
        x.grad = 0.0


def _chain(n):
    x = Value(0.5, label="x")
    y = x
    for i in range(n):
        y = (y * 1.0000001 if i % 2 else y + 1e-3)
    return x, y


def test_a_100k_op_chain_pickles_and_deepcopies_without_recursion():
    import copy
    import pickle
    x, y = _chain(100_000)
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        nodes = clone.nodes()
        assert len(nodes) == len(y.nodes()) and clone.data == y.data
        assert [v.op for v in nodes] == [v.op for v in y.nodes()]
        leaves = [v for v in nodes if v.label == "x"]
        assert len(leaves) == 1 and leaves[0] is not x and leaves[0].data == 0.5


def test_copies_keep_the_sharing_inside_a_graph_and_with_what_is_copied_with_it():
    import copy
    import pickle
    x, w = Value(2.0, label="x"), Value(3.0)
    h = x * w
    y = h * h + w
    y.grad = 1.5
    for out, params in (pickle.loads(pickle.dumps((y, [w, x]))), copy.deepcopy((y, [w, x]))):
        assert len(out.nodes()) == len(y.nodes()) == 5  # h and w once each, not copied twice
        assert out._a._a is out._a._b and out.grad == 1.5
        assert params[0] is out._b and params[1] is out._a._a._a  # the parameters are the graph's leaves
        out.backward()
        assert params[0].grad == 2 * 6 * 2 + 1 and params[1].grad == 2 * 6 * 3
    x.grad = 0.0
    (x * x).tanh().backward(create_graph=True)  # x.grad is a Value whose graph leads back to x
    for twin in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert twin.grad.data == x.grad.data and twin in twin.grad.nodes()
    shallow = copy.copy(y)
    assert shallow is not y and shallow._a is y._a and shallow._b is w and shallow.data == y.data


def test_deepcopy_of_a_model_is_independent():
    import copy
    from micrograd.nn import MLP
    model = MLP(2, [3, 1])
    twin = copy.deepcopy(model)
    assert twin([1.0, 2.0]).data == model([1.0, 2.0]).data
    twin.parameters()[0].data += 1.0
    assert twin.parameters()[0].data != model.parameters()[0].data


def test_builtin_abs_and_unary_plus_follow_torch(torch):
    for x in (-2.5, 0.0, 3.0):
        v = Value(x)
        out = abs(+v) * 2
        out.backward()
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (abs(+t) * 2).backward()
        assert out.data == (abs(+t) * 2).item() and v.grad == t.grad.item()


# --- subclasses, and nothing swapped at run time ------------------------------------------------

class MyValue(Value):
    """A user's subclass, as micrograd 0.1.0 allows."""

    __slots__ = ()


def test_value_subclasses_compute_with_each_other_and_with_value(torch):
    a, b, c = MyValue(2.0), MyValue(3.0), Value(5.0)
    assert [(a + b).data, (a - b).data, (a * b).data, (a / b).data, (a ** b).data] == [5.0, -1.0, 6.0, 2.0 / 3.0, 8.0]
    assert [(a + c).data, (c - a).data, (c * a).data, (c / a).data, (c ** a).data] == [7.0, 3.0, 10.0, 2.5, 25.0]
    y = (a * b - a / b + c ** a) * a ** 2
    y.backward()
    ta, tb, tc = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (2.0, 3.0, 5.0))
    ty = (ta * tb - ta / tb + tc ** ta) * ta ** 2
    ty.backward()
    assert close(y.data, ty.item(), rtol=1e-15)
    for v, t in ((a, ta), (b, tb), (c, tc)):
        assert close(v.grad, t.grad.item(), rtol=1e-13)


def test_modes_and_hooks_replace_no_class_attribute():
    from micrograd.autograd import detect_anomaly
    before = dict(vars(Value))
    x = Value(2.0)
    x.register_hook(lambda g: g)
    with detect_anomaly(), no_grad(), gc_paused():
        (x * 3).data
    (x * x).backward(create_graph=True)
    assert dict(vars(Value)) == before


# --- what Value takes: the rule of scalars.py, one table ----------------------------------------

@pytest.mark.parametrize("data,outcome", [
    (Fraction(1, 3), 1 / 3), (Decimal("0.1"), 0.1), (2 ** 53 + 1, 2.0 ** 53), (True, 1.0),
    (np.float32(0.5), 0.5), (np.array(2), 2.0), (Decimal("-Infinity"), -math.inf),
    (10 ** 400, (ValueError, "Value data must be within the float range .* got an int of 401 digits")),
    (Fraction(10 ** 400, 3), (ValueError, "within the float range .* got Fraction")),
    (Decimal("1e400"), (ValueError, r"within the float range .* got Decimal\('1E\+400'\)")),
    ("1.5", (TypeError, "Value data must be a real number .* got str")),
    (1j, (TypeError, "got complex")), (None, (TypeError, "got NoneType")), ([1.0], (TypeError, "got list")),
    (np.array([1.0]), (TypeError, "got ndarray")),
])
def test_value_takes_real_numbers_as_their_nearest_float_and_names_anything_else(data, outcome):
    if isinstance(outcome, tuple):
        with pytest.raises(outcome[0], match=outcome[1]):
            Value(data)
        if outcome[0] is ValueError:  # the same number as an operand: the same rule, named
            with pytest.raises(ValueError, match="operand must be within the float range"):
                Value(1.0) * data
    else:
        assert Value(data).data == outcome and type(Value(data).data) is float
        assert (Value(1.0) * data).data == outcome


# --- weighted_sum ------------------------------------------------------------------------------

def assert_same_graph(got, expected):
    """The two graphs have the same ops, numbers and shape, and share their user-made leaves."""
    stack = [(got, expected)]
    while stack:
        u, v = stack.pop()
        assert u.op is v.op and u.data == v.data
        if v._op == "" or u._prev == ():  # a leaf: a user's is the same object (a constant is lifted anew)
            assert u._prev == v._prev == () and (u is v or u.op is v.op)
            continue
        assert len(u._prev) == len(v._prev)
        stack.extend(zip(u._prev, v._prev))


def operators_sum(b, ws, xs):
    act = b
    for w, x in zip(ws, xs):
        act = act + w * x
    return act


@pytest.mark.parametrize("xs", [[1.5, -2.0, 0.25], [1.5, 2, 0.25]], ids=["values", "a number among them"])
def test_weighted_sum_records_what_the_operators_record(xs):
    b, ws = Value(0.5), [Value(0.25), Value(-2.0), Value(3.0)]
    xs = [x if isinstance(x, int) else Value(x) for x in xs]
    got, expected = weighted_sum(b, ws, xs), operators_sum(b, ws, xs)
    assert_same_graph(got, expected)
    got.backward()
    first = [v.grad for v in [b, *ws, *xs] if isinstance(v, Value)]
    for v in [b, *ws, *xs]:
        if isinstance(v, Value):
            v.grad = 0.0
    expected.backward()
    assert first == [v.grad for v in [b, *ws, *xs] if isinstance(v, Value)]


def test_weighted_sum_keeps_ieee_values():
    b = Value(float("inf"))
    got = weighted_sum(b, [Value(1e308), Value(0.0)], [Value(10.0), Value(float("inf"))])
    assert math.isnan(got.data)  # inf + inf (1e308 * 10) + nan (0 * inf)


def test_weighted_sum_takes_the_operators_in_modes_and_for_subclasses():
    b, ws, xs = Value(0.0), [Value(1e308)], [Value(10.0)]
    with no_grad():
        assert weighted_sum(b, ws, xs)._prev == ()
    with pytest.raises(FloatingPointError, match="op 'mul' produced inf"), detect_anomaly():
        weighted_sum(b, ws, xs)
    calls = []

    class Counted(Value):
        __slots__ = ()

        def __rmul__(self, other):
            calls.append(other)
            return Value.__rmul__(self, other)

    x = Counted(2.0)
    assert weighted_sum(b, [Value(3.0)], [x]).data == 6.0 and len(calls) == 1
