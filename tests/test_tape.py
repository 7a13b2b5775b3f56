"""compile(): the tape replays the scalar engine exactly, refuses what it cannot replay, trains the same."""

import functools
import itertools
import math
import random
import sys
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import TracingError, Value, no_grad, ops
from micrograd.backward import local_gradients
from micrograd.data import make_moons
from micrograd.losses import hinge, l2_penalty
from micrograd.nn import MLP
from micrograd.schedules import LinearDecay
from micrograd.steps import ActivatedStep
from micrograd.testing import all_ops, expressions, op_inputs

OPS = all_ops()
OP_IDS = [f"{op.name}[{op.param:g}]" if op.param is not None else op.name for op in OPS]


# --- the oracle: the scalar engine, sample by sample, backward on the mean -------------------------

def engine(fn, params, *arrays):
    """Outputs (batch,) or (batch, k) and, for a scalar output, the mean and d(mean)/d(param)."""
    return engine_and_spread(fn, params, *arrays)[:3]


def engine_and_spread(fn, params, *arrays):
    """engine()'s numbers and, for a scalar output, how far the tape's mean and gradients may lie
    from them beyond 1e-12 relative, where the terms of their sums cancel: (0, the mean's, each
    parameter's). The mean sums the batch's n outputs, each held to 1e-12 of itself and of the
    largest (assert_exact), added in another order (2 (n - 1) u of the sum of |terms|, as
    adjoints): within 1e-12 (mean |out| + max |out|) + 2 (n - 1) u mean |out|. The gradients:
    adjoint_spread."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    batch = len(arrays[0])
    for p in params:
        p.grad = 0.0
    outs = []
    for i in range(batch):
        args = [[Value(x) for x in a[i].tolist()] if a.ndim == 2 else Value(float(a[i])) for a in arrays]
        outs.append(fn(*args))
    if isinstance(outs[0], Value):
        total = sum(outs) * (1.0 / batch)
        total.backward()
        values = np.array([o.data for o in outs])
        size = np.abs(values)
        mean_size = np.add.reduce(size / batch)  # (divided first: outputs near 1e308 do not overflow)
        mean_spread = 1e-12 * (mean_size + size.max()) + 2 * (batch - 1) * U * mean_size
        spread = (0.0, mean_spread, adjoint_spread(total, params))
        return values, total.data, np.array([p.grad for p in params]), spread
    return np.array([[o.data for o in out] for out in outs]), None, None, None


U = 2.0 ** -53


def adjoint_spread(root, leaves):
    """After ``root.backward()``: for each of ``leaves``, a bound on |tape's adjoint - engine's|
    where contributions cancel (the tape reads the same numbers but adds them in its own order).

    A node's adjoint is the sum of its k contributions c_i (its readers' rules). Any order of
    adding them is within (k - 1) u sum |c_i| of the exact sum (to first order; any tree of
    additions too, so also the tape's batch sums), so two orders within 2 (k - 1) u sum |c_i| of
    each other (docs/tour/compile.md); 2 u sum |c_i| more for the contributions themselves, each
    an ulp apart at most where the tape rounds a rule otherwise (applied to g summed over the
    batch, or numpy's function an ulp from math's; saturated tanh has its own test). A reader's adjoint off by e moves this node's contribution by |partial| e.
    So, parents before children: spread(v) = 2 k u sum |c_i| + sum |partial_i| spread(reader_i).
    Only where contributions cancel is this larger than 1e-12 |adjoint|, the relative figure."""
    total, count, passed, spread = {}, {}, {}, {}
    for v in reversed(root.nodes()):  # every reader of a node before the node
        key = id(v)
        spread[key] = 2 * count.get(key, 0) * U * total.get(key, 0.0) + passed.get(key, 0.0)
        children = v._prev
        if not children or v.op.rule is None:
            continue
        contributions = local_gradients(v, v.grad)
        moved = local_gradients(v, spread[key])  # rules are linear in g: |partial| * spread
        if len(children) == 1:
            contributions, moved = (contributions,), (moved,)
        for child, c, m in zip(children, contributions, moved):
            k = id(child)
            total[k] = total.get(k, 0.0) + abs(c)
            count[k] = count.get(k, 0) + 1
            passed[k] = passed.get(k, 0.0) + (0.0 if math.isnan(m) else abs(m))  # nan: 0 * inf, a nan adjoint
    return np.array([spread.get(id(p), 0.0) for p in leaves])


def compiled(fn, params, *arrays, dots=True):
    f = micrograd.compile(fn, params=params, dots=dots)
    out = f(*arrays)
    if out.ndim == 2:
        return out, None, None
    for p in params:
        p.grad = 0.0
    mean = f.backward(*arrays)
    return out, mean, np.array([p.grad for p in params])


def assert_exact(got, want, spread=0.0):
    """Equal to 1e-12 relative, entry by entry (sums may add in another order: their rounding
    is measured against the largest entry; subnormal numbers carry fewer digits), and for
    a mean and gradients up to ``spread`` more (engine_and_spread: sums whose terms cancel)."""
    got, want = np.atleast_1d(np.asarray(got, float)), np.atleast_1d(np.asarray(want, float))
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    finite = np.isfinite(want) & np.isfinite(got)
    assert np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    scale = np.abs(want[finite]).max(initial=0.0)
    got, want, spread = got[finite], want[finite], np.broadcast_to(spread, finite.shape)[finite]
    allowed = 1e-12 * np.abs(want) + max(1e-12 * scale, 1e-300) + spread
    assert np.all(np.abs(got - want) <= allowed), (got, want, allowed)


def check_against_engine(fn, params, *arrays):
    *want, spread = engine_and_spread(fn, params, *arrays)
    for dots in (True, False):
        got = compiled(fn, params, *arrays, dots=dots)
        for g, w, s in zip(got, want, spread or (0.0, 0.0, 0.0)):
            if w is not None:
                assert_exact(g, w, s)


def test_two_orders_of_one_sum_need_twice_the_bound_of_one_order():
    """Each order of adding k numbers is within (k - 1) u sum |c_i| of the exact sum, so two
    orders within twice that of each other, and not always within once (docs/tour/compile.md)."""
    c = [float.fromhex(h) for h in ("0x1.800000000000ap-51", "0x1.c000000000002p-52", "0x1.4000000000006p-52")]
    sums = [(a + b) + d for a, b, d in itertools.permutations(c)]
    one_order = (len(c) - 1) * U * sum(abs(x) for x in c)
    assert one_order < max(sums) - min(sums) <= 2 * one_order


# --- exactness: every op, random graphs, random MLPs ---------------------------------------------

def test_a_node_read_several_times_may_sum_its_adjoint_in_another_order_within_the_figure():
    """x / x three times, x a parameter: x's adjoint is six contributions, 1/3 and -1/3 for each
    quotient (sum |c_i| = 2). The engine adds each quotient's pair in turn, 0 exactly; the tape's
    step adds the three 1/3 (to 1), then the three -1/3, and leaves 1.1e-16. Both are correctly
    rounded sums of the same six numbers in different orders: within 2 (k - 1) u sum |c_i| =
    2.2e-15 of each other (docs/tour/compile.md), far beyond a tolerance relative to the result 0."""
    x = Value(3.0)

    def fn(_):
        return (x / x + x / x) + x / x

    want = engine(fn, [x], np.zeros(1))[2][0]
    got = compiled(fn, [x], np.zeros(1), dots=False)[2][0]
    assert want == 0.0 and got == 2.0 ** -53  # the figures the docs quote
    k, size = 6, 6 * (1 / 3)
    assert abs(got - want) <= 2 * (k - 1) * 2.0 ** -53 * size
    assert abs(got - want) > max(1e-12 * abs(want), 1e-300)  # the tolerance before the figure
    check_against_engine(fn, [x], np.zeros(4))  # the oracle allows it, at any batch
    spread = engine_and_spread(fn, [x], np.zeros(1))[3][2]
    assert_exact([got], [want], spread)
    with pytest.raises(AssertionError):  # and not much more: the figure and what reaches x below it
        assert_exact([1e-14], [want], spread)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_every_op_compiles_exactly_per_sample_and_shared(op, data):
    """Each argument either per sample (a batch column) or a parameter; batch of 4 in-domain points."""
    rows = [data.draw(op_inputs(op)) for _ in range(4)]
    shared = data.draw(st.lists(st.booleans(), min_size=op.arity, max_size=op.arity))
    params = [Value(rows[0][k]) for k in range(op.arity) if shared[k]]
    columns = [np.array([r[k] for r in rows]) for k in range(op.arity) if not shared[k]]
    if not columns:
        columns = [np.zeros(4)]

    def fn(*xs):
        it, pit = iter(xs), iter(params)
        args = [next(pit) if shared[k] else next(it) for k in range(op.arity)]
        return op.apply(*args) * 1.5  # a node after the op, so its rule gets a non-trivial g

    check_against_engine(fn, params, *columns)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@settings(max_examples=10)
@given(data=st.data())
def test_random_graphs_with_every_op_compile_exactly(op, data):
    program = data.draw(expressions(ops_to_use=[op, op, ops.add, ops.mul]))
    n_shared = data.draw(st.integers(0, program.n_inputs))
    noise = np.array(data.draw(st.lists(st.floats(-0.05, 0.05), min_size=3 * program.n_inputs,
                                        max_size=3 * program.n_inputs))).reshape(3, -1)
    X = np.vstack([program.point, np.array(program.point) + noise])  # 4 samples
    params = [Value(x) for x in program.point[:n_shared]]
    X = X[:, n_shared:]

    def fn(*row):
        xs = row[0] if row else []
        return program.values(params + list(xs))[-1]

    arrays = [X] if X.shape[1] else []
    if not arrays:  # every input a parameter: feed an unused column, so there is a batch
        def fn(_):
            return program.values(params)[-1]
        arrays = [np.zeros(4)]
    check_against_engine(fn, params, *arrays)


@settings(max_examples=20)
@given(hidden=st.lists(st.integers(2, 5), max_size=2), nout=st.integers(1, 3), nin=st.integers(1, 4),
       batch=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_random_mlps_compile_exactly(hidden, nout, nin, batch, seed):
    random.seed(seed)
    model = MLP(nin, hidden + [nout])  # (a hidden layer of one neuron returns a bare Value)
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(batch, nin)), rng.choice([-1.0, 1.0], size=batch)
    params = model.parameters()
    for p in params:  # biases away from 0 as well
        p.data = rng.uniform(-1, 1)

    def loss(x, yi):
        out = model(x)
        score = out if isinstance(out, Value) else sum(out)
        return hinge(score, yi) + l2_penalty(params, 1e-3)

    check_against_engine(loss, params, X, y)
    check_against_engine(lambda x: model(x), params, X)  # outputs, one or many


def test_the_matmul_path_is_taken_and_agrees_with_the_generic_path():
    random.seed(3)
    model = MLP(3, [8, 8, 2])
    params = model.parameters()
    X = np.random.default_rng(0).normal(size=(50, 3))

    def loss(x):
        a, b = model(x)
        return (a * b).tanh() + 1e-4 * sum(p * p for p in params)

    fast = micrograd.compile(loss, params=params)
    slow = micrograd.compile(loss, params=params, dots=False)
    steps = [repr(s) for s in fast.tape(X).steps]
    # one matrix product per layer, the hidden layers' relus in place after it
    for layer in ("x8, 3 terms", "x8, 8 terms"):
        assert f"linear {layer} each (matmul, per sample), then relu in place" in steps
    assert "linear x2, 8 terms each (matmul, per sample)" in steps
    assert not any(s.startswith("relu") for s in steps)
    assert "linear x1, 122 terms each (shared)" in steps  # the L2 term: one dot product
    assert len(fast.tape(X).steps) < len(slow.tape(X).steps) / 10
    assert_exact(fast(X), slow(X))
    model.zero_grad()
    m1 = fast.backward(X)
    g1 = [p.grad for p in params]
    model.zero_grad()
    m2 = slow.backward(X)
    assert_exact(m1, m2)
    assert_exact(g1, [p.grad for p in params])


def test_linear_nodes_with_other_shapes_agree_with_the_generic_path():
    """Sums with terms that are no weighted input (added in the trace's order), repeated terms,
    weights used twice."""
    w = [Value(0.5), Value(-1.5), Value(2.0)]

    def fn(x):
        a = w[0] * x[0] + w[1] * x[1] + x[2]          # its own inputs
        b = w[2] * x[2] + w[2] * x[0] - x[1] * 3.0    # a weight used twice, a constant weight
        c = w[0] * x[0] + w[0] * x[0]                 # the same term twice
        d = (w[0] * w[1] + w[2]) * x[1] + 2.0         # a computed shared weight
        return (a * b + c.tanh() + d).exp() * 0.01

    X = np.random.default_rng(1).normal(size=(7, 3))
    check_against_engine(fn, w, X)


@pytest.mark.parametrize("second", [(2, 3), (1, 0), (2, 0)], ids=["own inputs", "swapped", "one shared"])
def test_sums_over_different_inputs_take_the_batched_dot_and_agree_with_the_engine(second):
    """Two sums of weighted inputs reading different inputs (no kernel at many positions): one
    batched dot forward, and backward adds each sum's adjoints into the inputs it read (rows read
    by both sums get both)."""
    w = [Value(0.5), Value(-1.5), Value(2.0), Value(0.25)]
    i, j = second

    def fn(x):
        h = [(x[k] + w[k]).tanh() for k in range(4)]  # inputs that need adjoints
        a = w[0] * h[0] + w[1] * h[1]
        b = w[2] * h[i] + w[3] * h[j]
        return (a * b).tanh() + a.exp() * 0.1

    X = np.random.default_rng(1).normal(size=(7, 4))
    steps = [repr(s) for s in micrograd.compile(fn, params=w).tape(X).steps]
    assert "linear x2, 2 terms each (batched dot, per sample)" in steps
    check_against_engine(fn, w, X)


# --- ops are told apart by identity, never by their symbol text -------------------------------------

def test_family_members_whose_symbols_print_alike_compile_as_themselves():
    """x**2.5000001 and x**2.5 both print as '**2.5': one step for both would compute one of them."""
    fn = lambda x: [x ** 2, x ** 2.5000001, x ** 2.5]  # noqa: E731
    got = micrograd.compile(fn, params=[])(np.array([3.0]))[0].tolist()
    assert got == [v.data for v in fn(Value(3.0))]  # [9.0, 15.588458980687058, 15.588457268119896]
    check_against_engine(lambda x: sum(fn(x)), [], np.array([3.0, 0.5]))


def test_a_user_op_with_the_symbol_of_mul_compiles_as_itself():
    """A user op printed '*' computing 2ab is not ops.mul, in the fast path and out of it."""
    twice = micrograd.primitive(ops.Op("*", "twice_mul_for_tape_test", 2, lambda xp, a, b: 2.0 * a * b,
                                       lambda xp, g, out, a, b: (2.0 * g * b, 2.0 * g * a),
                                       domain=((-2, 2), (-2, 2))))
    try:
        w = Value(0.75)
        x, y = np.array([3.0, -1.0]), np.array([5.0, 0.25])
        for dots in (True, False):
            f = micrograd.compile(lambda a, b: [a * b, twice.apply(a, b)], params=[], dots=dots)
            assert f(x, y).tolist() == [[15.0, 30.0], [-0.25, -0.5]]
            f = micrograd.compile(lambda a, b: twice.apply(a, b), params=[], dots=dots)
            assert f(x, y).tolist() == [30.0, -0.5]
        check_against_engine(lambda a, b: a * w + twice.apply(w, b) + a * b + twice.apply(a, b), [w], x, y)
    finally:
        ops.remove(twice)


def _near(c):
    """c and constants next to it whose symbols print alike (f"{c:g}"), or nearly."""
    return [c, c * (1 + 1e-9) if c else 1e-9, float(np.nextafter(c, np.inf))]


@pytest.mark.parametrize("name", list(ops.OPS))
@settings(max_examples=10)
@given(data=st.data())
def test_every_table_entry_and_near_family_members_in_one_function_compile_exactly(name, data):
    """Every op of the table, a family as several members with near-identical constants applied to
    the same inputs in one function (one depth: one step each, not one for all)."""
    entry = ops.OPS[name]
    if isinstance(entry, ops.OpFamily):
        members = [entry(c) for c in _near(data.draw(st.sampled_from(entry.examples)))]
    else:
        members = [entry, entry]
    rows = [data.draw(op_inputs(members[0])) for _ in range(4)]
    columns = [np.array([r[k] for r in rows]) for k in range(members[0].arity)]
    p = Value(0.0)  # added to the first argument (exactly), so its gradient is every rule's

    def outs(*xs):
        args = [xs[0] + p, *xs[1:]]
        return [m.apply(*args) for m in members]

    check_against_engine(outs, [p], *columns)
    check_against_engine(lambda *xs: sum(o * (k + 1.5) for k, o in enumerate(outs(*xs))), [p], *columns)


# --- honest tracing ---------------------------------------------------------------------------

def branchy(x):
    h = x * 2.0
    if h > 0:
        return h
    return -h


@pytest.mark.parametrize("fn,source", [
    (branchy, "if h > 0:"),
    (lambda x: x * float(x), "lambda x: x * float(x)"),
    (lambda x: x if bool(x) else -x, "lambda x: x if bool(x) else -x"),
    (lambda x: max(x, x * 2), "lambda x: max(x, x * 2)"),
    (lambda x: min(x, 0.5), "lambda x: min(x, 0.5)"),
    (lambda x: x * 2 if x <= 1 else x, "x <= 1"),
    (lambda x: x * 2 if x >= 1 else x, "x >= 1"),
    (lambda x: Value(math.exp(x)), "math.exp(x)"),
])
def test_python_control_flow_on_a_traced_value_names_the_line(fn, source):
    f = micrograd.compile(fn, params=[])
    with pytest.raises(TracingError, match=r"test_tape\.py:\d+ `.*" + __import__("re").escape(source)):
        f(np.array([1.0, -2.0]))
    v = Value(1.0)  # and the hook is gone afterwards
    assert float(v) == 1.0 and v > 0 and bool(v) and max(v, Value(0.5)) is v


def test_tracing_error_is_a_type_error_that_says_what_to_do():
    with pytest.raises(TypeError, match=r"control flow on a traced Value .*\(comparison >\).*relu"):
        micrograd.compile(branchy, params=[])(np.ones(3))


def test_a_function_compiled_inside_a_traced_one_leaves_the_outer_trace_honest():
    inner = micrograd.compile(lambda x: x * 2, params=[])

    def outer(x):
        inner(np.ones(2))  # traced while outer is being traced
        return x if x > 0 else -x

    with pytest.raises(TracingError, match="x if x > 0 else -x"):
        micrograd.compile(outer, params=[])(np.ones(2))


def test_a_graph_that_reads_data_is_refused():
    f = micrograd.compile(lambda x: x * Value(x.data), params=[])  # bakes the value of x
    with pytest.raises(TracingError, match=r"number of a traced Value \(.data\).*\(float\(\)\)"):
        f(np.array([1.0, 2.0]))

    def sneaky(x):
        return x.relu() if x.data > 0 else x.exp()
    with pytest.raises(TracingError, match=r"x.data > 0 else x.exp\(\)` \(>\)"):
        micrograd.compile(sneaky, params=[])(np.array([1.0, -1.0]))


def test_a_graph_built_from_other_changing_numbers_is_refused_by_its_two_traces():
    """Numbers not read from the graph (random draws, a counter) differ between the two traces."""
    calls = [0]

    def counter(x):
        calls[0] += 1
        return x * calls[0]
    for fn in (lambda x: x * random.random(), counter):
        with pytest.raises(TracingError, match="different graph"):
            micrograd.compile(fn, params=[])(np.array([1.0, 2.0]))


@pytest.mark.parametrize("fn,args", [
    (lambda x: x * Value(x.data), (np.array([-0.5]),)),  # one sample, at any point
    (lambda x: x * Value(x.data), (np.array([3.0, 3.0]),)),
    (lambda x, y: x * Value(x.data) + y, (np.array([1.0, 2.0, 1.0]), np.array([0.0, 1.0, 2.0]))),
    (lambda v: v[0] * Value(v[0].data) + v[1], (np.array([[1.0, 0.0], [2.0, 1.0], [1.0, 2.0]]),)),
])
def test_reading_data_is_refused_even_where_the_first_and_last_samples_agree(fn, args):
    """Refused at the read, whatever the samples."""
    with pytest.raises(TracingError, match=r"number of a traced Value .* at tests/test_tape\.py:\d+ `"):
        micrograd.compile(fn, params=[])(*args)


def test_hand_built_nodes_are_refused():
    def fn(x):
        out = Value(0.0, (x,), "double")  # (x.data * 2 would be refused first, as a read)
        out._backward = lambda: None
        return out
    with pytest.raises(TracingError, match="hand-built"):
        micrograd.compile(fn, params=[])(np.array([1.0, 1.0]))


# --- inputs, outputs, parameters --------------------------------------------------------------

@pytest.mark.parametrize("args,error,message", [
    ((np.array(["a", "b"]),), TypeError, "dtype <U1"),
    ((np.array([1 + 2j]),), TypeError, "complex"),
    ((np.array([None, 1.0]),), TypeError, "object"),
    ((np.ones((2, 2, 2)),), ValueError, r"shape \(2, 2, 2\)"),
    ((np.float64(3.0),), ValueError, r"shape \(\)"),
    ((np.ones(3), np.ones(4)), ValueError, "argument 1 has 4 samples, argument 0 has 3"),
    ((np.ones((0, 2)),), ValueError, "empty"),
])
def test_bad_batches_get_clear_errors(args, error, message):
    f = micrograd.compile(lambda *xs: Value(1.0) * 2, params=[])
    with pytest.raises(error, match=message):
        f(*args)


def test_bad_functions_and_params_get_clear_errors():
    with pytest.raises(TypeError, match="params must be Values"):
        micrograd.compile(lambda x: x, params=[1.0])
    with pytest.raises(TypeError, match=r"params must be a list of Values \(\[\] for none\), got NoneType"):
        micrograd.compile(lambda x: x, params=None)  # was "'NoneType' object is not iterable"
    with pytest.raises(TypeError, match=r"params must be a list of Values .* got Value \(one Value: \[w\]\)"):
        micrograd.compile(lambda x: x, params=Value(1.0))
    with pytest.raises(TypeError, match="dots must be True or False, got str"):
        micrograd.compile(lambda x: x, params=[], dots="no")  # a non-empty string is true
    with pytest.raises(ValueError, match="leaf"):
        micrograd.compile(lambda x: x, params=[Value(1.0) + 1])
    with pytest.raises(TypeError, match="must return a Value or a list of Values, got float"):
        micrograd.compile(lambda x: 3.0, params=[])(np.ones(2))
    with pytest.raises(TypeError, match=r"item 1 of the list it returned is a float \(make a constant output Value"):
        micrograd.compile(lambda x: [x, 0.0], params=[])(np.ones(2))
    with pytest.raises(TypeError, match="item 0 of the tuple it returned is a list"):
        micrograd.compile(lambda x: ([x], x), params=[])(np.ones(2))
    f = micrograd.compile(lambda x: [x, x * 2], params=[])
    assert f(np.array([1.0, 2.0])).tolist() == [[1.0, 2.0], [2.0, 4.0]]
    with pytest.raises(ValueError, match="one Value per sample"):
        f.backward(np.array([1.0, 2.0]))


def test_ints_bools_lists_and_float32_are_read_as_float64():
    f = micrograd.compile(lambda x, flag: x * 0.5 + flag, params=[])
    out = f([1, 2, 3], np.array([True, False, True]))
    assert out.dtype == np.float64 and out.tolist() == [1.5, 1.0, 2.5]
    assert f(np.array([0.1], dtype=np.float32), [0]).tolist() == [float(np.float32(0.1)) * 0.5]


def test_parameters_are_read_at_every_call_no_stale_copies():
    w, b = Value(2.0), Value(1.0)
    scale = Value(10.0)  # outlives the calls but is not a parameter: read each call, no gradient
    f = micrograd.compile(lambda x: (w * x + b) * scale, params=[w, b])
    X = np.array([1.0, 2.0])
    assert f(X).tolist() == [30.0, 50.0]
    assert f.backward(X) == 40.0 and (w.grad, b.grad, scale.grad) == (15.0, 10.0, 0.0)
    w.data, b.data, scale.data = -1.0, 0.5, 1.0  # what an optimiser does between calls
    assert f(X).tolist() == [-0.5, -1.5]
    f.backward(X)  # gradients add up, as with backward()
    assert (w.grad, b.grad) == (16.5, 11.0)


def test_constants_made_inside_are_baked_and_shared_nodes_broadcast():
    w = Value(3.0)
    f = micrograd.compile(lambda x: [w * w, Value(2.0) * 2, x + 0], params=[w])
    assert f(np.array([5.0, 6.0])).tolist() == [[9.0, 4.0, 5.0], [9.0, 4.0, 6.0]]
    g = micrograd.compile(lambda x: w * w, params=[w])  # no input dependence at all
    assert g.backward(np.zeros(3)) == 9.0 and w.grad == pytest.approx(6.0, rel=1e-15)


def test_a_new_sample_shape_is_traced_again():
    f = micrograd.compile(lambda x: sum(x), params=[])
    assert f(np.ones((2, 3))).tolist() == [3.0, 3.0]
    assert f(np.ones((2, 5))).tolist() == [5.0, 5.0]
    assert f(np.ones((4, 3))).tolist() == [3.0] * 4
    assert f.tape(np.ones((2, 3))) is f.tape(np.ones((4, 3))) is not f.tape(np.ones((2, 5)))


def test_each_call_checks_its_batch_though_the_last_call_had_the_same_sample_shapes():
    """A loop over batches of one shape reuses the last call's checks and tape only for the same
    shapes of every argument: another batch size, or arguments that disagree, are checked anew."""
    f = micrograd.compile(lambda x, y: x * y, params=[])
    assert f(np.ones(3), np.full(3, 2.0)).tolist() == [2.0] * 3
    with pytest.raises(ValueError, match="argument 1 has 2 samples, argument 0 has 3"):
        f(np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="argument 1 has 3 samples, argument 0 has 2"):
        f(np.ones(2), np.ones(3))
    assert f(np.ones(2), np.full(2, 3.0)).tolist() == [3.0, 3.0]
    with pytest.raises(ValueError, match="empty"):
        f(np.ones(0), np.ones(0))
    assert f(np.ones(2), np.full(2, 4.0)).tolist() == [4.0, 4.0]
    assert f.tape(np.ones(2), np.ones(2)) is f.tape(np.ones(5), np.ones(5))  # one tape for the shape


def test_compiled_calls_ignore_floating_point_errors_as_the_engine_and_leave_numpy_s_setting():
    """Overflow, division by zero and inf - inf give inf and nan with no warning inside every call,
    and numpy's error setting outside is as it was."""
    w = Value(1.0)

    def fn(x):
        return [(x * w * 1000).exp() + (x - x).log() * 0.0 + 1 / (x - x)]

    X = np.array([1.0, 2.0])
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = micrograd.compile(lambda x: fn(x)[0], params=[w])
        assert np.isnan(f(X)).all() and math.isnan(f.backward(X))
        run = micrograd.training(f, micrograd.optim.SGD([w], lr=0.1))
        assert math.isnan(run.backward(X)) and run.outputs.shape == (2, 0)
        g = micrograd.compile(lambda x: fn(x) + [x * 2], params=[w])  # outputs after the loss
        run = micrograd.training(g, micrograd.optim.SGD([w], lr=0.1))
        assert math.isnan(run.backward(X)) and run.outputs.tolist() == [[2.0], [4.0]]
    assert np.geterr() == before


def test_the_loss_adjoint_is_seeded_once_per_batch_size_unless_a_step_adds_to_it():
    """A loss that nothing else reads keeps its adjoint, 1 / batch, from call to call; one that
    another output reads gets adjoints added (0 * scale, nan at an infinite scale) and is seeded
    again at every call: a nan there once is gone at the next call."""
    w, scale = Value(0.5), Value(np.inf)  # scale: a live Value, read at every call
    X = np.array([1.0, 2.0, 4.0, 8.0])  # (batches of 4 and 2: means with no rounding)
    plain = micrograd.compile(lambda x: x * w, params=[w])
    for batch in (4, 2, 4):
        assert plain.backward(X[:batch]) == 0.5 * X[:batch].mean() and w.grad == X[:batch].mean()
        w.grad = 0.0

    def read_twice(x):
        loss = x * w
        return [loss, loss * scale]

    read = micrograd.compile(read_twice, params=[w])
    run = micrograd.training(read, micrograd.optim.SGD([w], lr=0.1))
    run.backward(X)
    assert np.isnan(run.grad).all()  # 0 * inf added into the loss's adjoint
    scale.data = 2.0
    run.backward(X)
    assert run.grad.tolist() == [X.mean()]


def test_compiling_inside_no_grad_still_records_the_graph():
    w = Value(2.0)
    f = micrograd.compile(lambda x: w * x, params=[w])
    with no_grad():
        assert f(np.array([1.0, 3.0])).tolist() == [2.0, 6.0]
    assert f.backward(np.array([1.0, 3.0])) == 4.0 and w.grad == 2.0


def test_threads_calling_one_compiled_function_each_get_their_own_buffers():
    random.seed(5)
    model = MLP(3, [6, 1])
    f = micrograd.compile(lambda x: model(x).tanh(), params=model.parameters())
    rng = np.random.default_rng(5)
    batches = [rng.normal(size=(n, 3)) for n in (7, 7, 7, 13)]
    want = [f(X) for X in batches]
    errors = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible

    def run(X, expected):
        for _ in range(1000):
            if not np.array_equal(f(X), expected):
                errors.append(len(X))
                return

    threads = [threading.Thread(target=run, args=(X, w)) for X, w in zip(batches, want)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors


def test_ieee_results_like_the_engine():
    f = micrograd.compile(lambda x: [x.log(), 1 / x, (x * 1000).exp()], params=[])
    out = f(np.array([0.0, -1.0, 1.0]))
    want = engine(lambda x: [x.log(), 1 / x, (x * 1000).exp()], [], np.array([0.0, -1.0, 1.0]))[0]
    np.testing.assert_array_equal(out, want)


# --- training: the moons demo, compiled and scalar, side by side ------------------------------

def train_moons(compiled_step: bool, steps: int = 100):
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1, random_state=1337)
    y = (y * 2 - 1).astype(float)
    model = MLP(2, [16, 16, 1])
    params = model.parameters()

    def loss(x, yi):
        return hinge(model(x), yi) + l2_penalty(params, 1e-4)

    f = micrograd.compile(loss, params=params)
    score = micrograd.compile(lambda x: model(x), params=params)
    for k in range(steps):
        model.zero_grad()
        if compiled_step:
            total = f.backward(X, y)
        else:  # as the demo writes it: the L2 term once, not once per sample (the same mean)
            scores = [model(list(map(Value, row))) for row in X.tolist()]
            total_v = hinge(scores, y.tolist()) + l2_penalty(params, 1e-4)
            total_v.backward()
            total = total_v.data
        for p in params:
            p.data -= LinearDecay(1.0, 0.1, steps)(k) * p.grad  # the demo's schedule
    accuracy = float(np.mean((score(X) > 0) == (y > 0)))
    return total, accuracy, np.array([p.data for p in params])


def test_training_the_moons_demo_compiled_matches_the_scalar_engine():
    # Step for step: 10 steps of the demo's schedule on both engines end with the same weights.
    loss_c, acc_c, params_c = train_moons(True, steps=10)
    loss_s, acc_s, params_s = train_moons(False, steps=10)
    assert acc_c == acc_s
    assert loss_c == pytest.approx(loss_s, rel=1e-9)
    np.testing.assert_allclose(params_c, params_s, rtol=1e-9, atol=1e-12)
    # and the whole compiled run trains as the demo does
    loss, accuracy, _ = train_moons(True)
    assert accuracy == 1.0 and loss < 0.02


def test_compile_is_micrograd_compile_and_a_star_import_keeps_the_builtin():
    assert "compile" not in micrograd.__all__ and "TracingError" in micrograd.__all__
    assert micrograd.compile.__module__ == "micrograd.tape"


# --- no silent wrong answer: reading a traced number, Dropout, regrouped sums -------------------

def _keep_sign(x):
    return x if x.data > 0 else -x


@pytest.mark.parametrize("fn,args,source", [
    (_keep_sign, (np.array([1.0, -5.0, 2.0]),), "return x if x.data > 0 else -x"),
    (lambda x: x + x.relu().detach(), (np.array([-1.0, 5.0, -2.0]),), "x.relu().detach()"),
    (lambda x: x * Value(x.data), (np.array([3.0, 3.0]),), "Value(x.data)"),
    (lambda x: x * Value(math.exp(x.data)), (np.array([1.0, 2.0]),), "math.exp(x.data)"),
    (lambda x: x + (x * 2).data * 3, (np.array([1.0, 2.0]),), "(x * 2).data * 3"),
    (lambda x: x * float(np.tanh(x.data)), (np.array([1.0, 2.0]),), "np.tanh(x.data)"),
])
def test_reading_the_number_of_a_traced_value_is_refused_naming_the_line(fn, args, source):
    """Refused at the line that uses the number, whatever the samples: not a bet on two traces."""
    with pytest.raises(TracingError, match=r"test_tape\.py:\d+ `.*" + __import__("re").escape(source)):
        micrograd.compile(fn, params=[])(*args)


def test_dropout_in_training_mode_is_refused_by_name_and_compiles_in_eval_mode():
    from micrograd.nn import Dropout, Sequential
    from micrograd.optim import SGD
    from micrograd.train import fit
    random.seed(0)
    model = Sequential(MLP(3, [4]), Dropout(0.02, rng=0), MLP(4, [1]))
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(TracingError, match=r"Dropout\(p=0.02\) in training mode.*model\.eval\(\)"):
        micrograd.compile(lambda x: model(x), params=model.parameters())(X)
    y = np.sign(X[:, 0])
    before = [p.data for p in model.parameters()]
    with pytest.raises(TracingError, match=r"Dropout.*model\.eval\(\).*compiled=False"):
        fit(model, X, y, hinge, SGD(model, lr=0.1), epochs=2, compiled=True, progress=False)
    assert [p.data for p in model.parameters()] == before  # refused before any step
    model.eval()
    check_against_engine(lambda x: model(x), model.parameters(), X)


@pytest.mark.parametrize("fn", [
    lambda x: ((x + 1e-200) - x) ** -1,            # scalar: (x + 1e-200) - x = 0, so inf
    lambda x: (x * 3.0 + 1.0 - x * 3.0) * 1e300,   # constant weights: scalar gives 0 at x = 1e17
])
def test_sums_the_fast_path_would_regroup_equal_the_scalar_engine_exactly(fn):
    X = np.array([1.0, 5.0, -2.0, 1e17])
    want = np.array([fn(Value(x)).data for x in X.tolist()])
    for dots in (True, False):
        np.testing.assert_array_equal(micrograd.compile(fn, params=[], dots=dots)(X), want)


@settings(max_examples=30)
@given(w=st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=4), b=st.floats(-1e3, 1e3),
       scale=st.sampled_from([1.0, 1e8, 1e16]))
def test_a_neurons_sum_is_regrouped_within_the_stated_figure(w, b, scale):
    """The matrix product adds w_i x_i in its own order: at most 2 n u sum(|w_i x_i|) + |b| u from
    the scalar engine's order, n terms, u = 2^-53 (docs/tour/compile.md), even where terms cancel."""
    ws, bias = [Value(v) for v in w], Value(b)
    X = np.array([[1.0, -1.0, 1.0 + 2.0 ** -40, -1.0], [3.0, 2.0, -1.0, 0.5]]) * scale
    fn = lambda x: sum((wi * xi for wi, xi in zip(ws, x)), bias)  # noqa: E731 (a Neuron's sum)
    f = micrograd.compile(fn, params=ws + [bias])
    assert any("matmul" in repr(s) for s in f.tape(X).steps)
    got, want = f(X), np.array([fn([Value(v) for v in row]).data for row in X.tolist()])
    bound = (2 * 4 * np.abs(np.array(w) * X).sum(axis=1) + abs(b)) * 2.0 ** -53
    assert np.all(np.abs(got - want) <= bound)


_EDGES = [0.0, -0.0, 1.0, 5e-324, -5e-324, 1e-300, 1e300, -1e300, 1.7e308, -1.7e308, math.inf, -math.inf, math.nan]
_LOGITS = st.one_of(st.floats(-50.0, 50.0), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(_EDGES))


@st.composite
def _logit_rows(draw):
    """Rows of n >= 3 logits: moderate, huge, tiny (subnormal), inf, nan, and rows of equal ones
    (a row repeating its first ``period`` logits)."""
    n = draw(st.integers(3, 12))
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        row = draw(st.lists(_LOGITS, min_size=n, max_size=n))
        period = draw(st.integers(1, n))
        rows.append([row[j % period] for j in range(n)])
    return np.array(rows)


def _within(got, want, bound):
    """Equal where ``want`` is nan or infinite (nan where nan, the same infinity); elsewhere within
    ``bound`` (0 where the engine's log-sum-exp itself is not finite: then equal)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf]), (got, want)
    finite = np.isfinite(want)
    assert np.all(np.abs(got[finite] - want[finite]) <= bound), (got, want, bound)


def test_a_logsumexp_tree_is_one_step_unless_dots_is_off_or_a_node_is_read_elsewhere():
    xs = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [0.5, -1.0, 7.0, 2.0, 2.0]])
    w = Value(1.5)
    listing = lambda fn, dots=True: [str(s) for s in micrograd.compile(fn, params=[w], dots=dots).tape(xs).steps]
    lse = lambda x: micrograd.losses.logsumexp([v * w for v in x])
    assert "logsumexp x1, 5 leaves each (max-shifted, per sample)" in listing(lse)
    assert not any("logaddexp" in s for s in listing(lse))
    assert sum("logaddexp" in s for s in listing(lse, dots=False)) == 3  # levels of the pairwise tree
    inner = lambda x: lse(x) + x[0].logaddexp(x[1]) * 0.0 + (x[2] * w).logaddexp(x[3] * w)
    assert any("logaddexp" in s for s in listing(inner))  # (x2 w) lae (x3 w) is read twice: no tree
    shared = lambda x: micrograd.losses.logsumexp([x[0], w, x[1]])
    assert not any("logsumexp" in s for s in listing(shared))  # a shared leaf: the tree as it is
    two = lambda x: x[0].logaddexp(x[1])
    assert not any("logsumexp" in s for s in listing(two))  # a single logaddexp: no tree


def _thrice(a, x):
    return micrograd.losses.logsumexp([a, a, x[1], a, x[2]])


@pytest.mark.parametrize("fn", [
    lambda x, w: micrograd.losses.logsumexp([v * w for v in x[:5]]) - micrograd.losses.logsumexp([v * w for v in x[5:]]),
    lambda x, w: _thrice(x[0] * w, x),  # a node read 3 times
    lambda x, w: micrograd.losses.logsumexp([x[9] * w, x[2], x[5] * w, x[0]]) * (x[2] * w),  # leaves out of order
])
def test_log_sum_exps_that_gather_their_leaves_or_share_a_step_agree_with_the_engine(fn):
    """Two trees in one step (leaves interleaved), a leaf thrice (its adjoints added) and leaves in
    no row order (gathered): moderate logits, nothing cancels, so 1e-12 relative (check_against_engine)."""
    w = Value(0.7)
    fn = functools.partial(fn, w=w)
    X = np.random.default_rng(4).normal(size=(5, 10)) * 3.0
    X[1, 0] = -np.inf  # a sample on the tree's own path
    assert any("logsumexp" in str(s) for s in micrograd.compile(fn, params=[w]).tape(X).steps)
    check_against_engine(fn, [w], X[[0, 2, 3, 4]])
    want, got = engine(fn, [w], X), compiled(fn, [w], X)
    _within(got[0], want[0], 1e-12 * np.abs(want[0][np.isfinite(want[0])]).max())
    finite = want[2][np.isfinite(want[2])]
    _within(got[2], want[2], 1e-12 * np.abs(finite).max(initial=0.0))  # nan where the engine's is (0 * inf)


@settings(max_examples=150)
@given(X=_logit_rows(), c=st.one_of(st.floats(-1e3, 1e3), st.sampled_from([1e300, math.inf, -math.inf, math.nan, 0.0])))
def test_a_logsumexp_is_regrouped_within_the_stated_figure(X, c):
    """The fused log-sum-exp of n logits against the scalar engine's tree (steps.LseStep's
    docstring, docs/tour/compile.md): |d lse| <= 4 n u (|lse| + 2) and, per unit of incoming
    gradient, |d dx_i| <= 8 n u (|lse| + 2), u = 2^-53; those sizes are the derivation's (D u
    (|lse| + 3) for the tree's D = ceil(log2 n) levels, (2n + 1) u + u |lse| for the step; 2 D^2 u
    (|lse| + 3) and (n + 2) u relatively for the softmax), with room: at n = 3, |lse| = 1 the value's
    is 1.6e-15, so a step off by one ulp of each term or missing its shift fails. Where a logit is
    inf or nan, or the engine's result is not finite, the numbers are the unfused tape's: equal
    infinities and nans, and the figure for the finite ones."""
    n = X.shape[1]
    ps, cv = [Value(0.0) for _ in range(n)], Value(c)
    fn = lambda x: micrograd.losses.logsumexp([xi + p for xi, p in zip(x, ps)]) * cv
    f = micrograd.compile(fn, params=ps + [cv])
    assert any("logsumexp" in str(s) for s in f.tape(X).steps)
    values = f(X)  # the whole batch: rows with and without edge logits side by side
    for row, value in zip(X, values):
        p0 = [Value(0.0) for _ in range(n)]
        want = (micrograd.losses.logsumexp([Value(x) + p for x, p in zip(row.tolist(), p0)]) * c).data
        lse = want / c if c != 0.0 and math.isfinite(c) else None
        size = 4 * n * U * (abs(lse) + 2) * abs(c) if lse is not None and math.isfinite(lse) else 0.0
        _within(value, want, size + U * abs(want))  # (the product * c rounds once more)
    for row in X:  # gradients sample by sample (a batch's mean would mix them)
        for p in ps + [cv]:
            p.grad = 0.0
        f.backward(row[None])
        q = [Value(0.0) for _ in range(n)]
        root = micrograd.losses.logsumexp([Value(x) + p for x, p in zip(row.tolist(), q)])
        (root * c).backward()
        size = 8 * n * U * (abs(root.data) + 2) * abs(c) if math.isfinite(root.data) else 0.0
        _within([p.grad for p in ps], [p.grad for p in q], size)


@settings(max_examples=100)
@given(X=_logit_rows().filter(lambda X: np.isfinite(X).all() and np.abs(X).max() < 1e100),
       target=st.integers(0, 2))
def test_cross_entropy_per_sample_is_within_the_absolute_figure_where_it_cancels(X, target):
    """A per-sample loss lse - x_target can cancel to far below the log-sum-exp's rounding, so the
    compiled loss is held to the absolute figure of the log-sum-exp (plus one rounding of the
    difference, u |loss|), not to a relative one; the mean over the batch and the gradients
    stay within the figures too (a mean divides each sample's by the batch)."""
    w = Value(1.0)
    fn = lambda x: micrograd.losses.cross_entropy([v * w for v in x], target)
    want, mean, grad = engine(fn, [w], X)
    got, got_mean, got_grad = compiled(fn, [w], X)
    n = X.shape[1]
    lse = want + X[:, target]
    size = 4 * n * U * (np.abs(lse) + 2) + U * np.abs(want)
    assert np.all(np.abs(got - want) <= size)
    assert abs(got_mean - mean) <= size.mean() + len(X) * U * np.abs(want).mean()  # (and the mean's sum)
    # dw = mean over samples of sum_i (p_i - [i = t]) x_i: each p_i within the figure, times |x_i|,
    # and the n products (each at most |x_i|) added in another order; then the batch's sum
    size_x = np.abs(X).sum(axis=1)
    dsize = np.mean(8 * n * U * (np.abs(lse) + 2) * size_x + 4 * n * U * size_x) + len(X) * U * size_x.mean()
    assert abs(got_grad[0] - grad[0]) <= dsize


def _layer(w, b):
    """Neurons sum((w_i x_i), b) with each bias after its weights, as a Layer's parameters lie
    (the matrix product then reads [W | b] as one view); (params, fn returning the k sums)."""
    ws, bs = [[Value(v) for v in row] for row in w], [Value(v) for v in b]
    params = [p for row, bias in zip(ws, bs) for p in row + [bias]]
    return params, lambda x: [sum((wi * xi for wi, xi in zip(row, x)), bias) for row, bias in zip(ws, bs)]


def _bias_folded(f, *arrays):
    """Does the tape add some layer's bias inside its matrix product?"""
    steps = [s.inner if isinstance(s, ActivatedStep) else s for s in f.tape(*arrays).steps]
    return any(getattr(s, "wb_view", None) is not None for s in steps)


@settings(max_examples=30)
@given(w=st.lists(st.floats(-1e3, 1e3), min_size=6, max_size=6), b=st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3),
       scale=st.sampled_from([1.0, 1e8, 1e16]))
def test_a_layers_bias_added_in_the_matrix_product_is_within_the_stated_figure(w, b, scale):
    """[W | b] [x; 1] adds the bias among the w_i x_i in the product's order: at most
    2 n u (sum |w_i x_i| + |b|) from the scalar engine's order, n = 2 terms (docs/tour/compile.md)."""
    W = np.array(w).reshape(3, 2)
    params, fn = _layer(W, b)
    X = np.array([[1.0, -1.0], [1.0 + 2.0 ** -40, -1.0], [3.0, 2.0], [-1.0, 0.5]]) * scale
    f = micrograd.compile(fn, params=params)
    assert _bias_folded(f, X)
    got = f(X)
    want = np.array([[v.data for v in fn([Value(x) for x in row])] for row in X.tolist()])
    bound = 2 * 2 * (np.abs(X) @ np.abs(W).T + np.abs(np.array(b))) * 2.0 ** -53
    assert np.all(np.abs(got - want) <= bound)


def test_a_layers_bias_in_the_matrix_product_takes_infs_and_nans_as_the_scalar_engine():
    """inf and nan in a bias, a weight or an input: inf + -inf and 0 * inf are nan in the product as
    in the scalar engine's sums, and the adjoints of W and b carry them the same way."""
    W = np.array([[1.0, 2.0], [np.inf, 1.0], [1.0, -1.0], [0.5, np.nan]])
    b = [np.inf, -np.inf, np.nan, 0.0]
    params, fn = _layer(W, b)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [np.inf, 1.0], [-np.inf, 2.0], [np.nan, 1.0], [1.0, 3.0]])
    f = micrograd.compile(fn, params=params)
    assert _bias_folded(f, X)
    check_against_engine(fn, params, X)
    params, fn = _layer(W[:2], [0.5, np.inf])
    loss = lambda x: (lambda o: o[0].relu() * 0.5 + o[1].relu())(fn(x))  # noqa: E731 (adjoints inf * g, nan)
    assert _bias_folded(micrograd.compile(loss, params=params), X)
    check_against_engine(loss, params, X)


def test_a_layer_whose_bias_lies_elsewhere_adds_it_after_the_product():
    """Biases that do not follow their weights in the parameters (another order) are added after
    the product, as before; the values agree with the scalar engine either way."""
    W, b = np.array([[0.5, -1.0], [2.0, 0.25]]), [0.125, -3.0]
    params, fn = _layer(W, b)
    X = np.random.default_rng(5).normal(size=(7, 2))
    weights_first = params[0:2] + params[3:5] + [params[2], params[5]]
    f = micrograd.compile(fn, params=weights_first)
    assert not _bias_folded(f, X)
    check_against_engine(fn, weights_first, X)


@settings(max_examples=200)
@given(x=st.floats(-40.0, 40.0))
def test_saturated_tanh_gradients_differ_by_the_stated_absolute_figure(x):
    """numpy's tanh may differ from math.tanh by 1 ulp; the rule 1 - out^2 turns that into an
    absolute difference of at most 2 ulp(1) = 4.4e-16 per unit of incoming gradient near |out| = 1,
    where the gradient itself is ~1e-16: not 1e-12 relative (docs/tour/compile.md)."""
    p = Value(0.0)
    f = micrograd.compile(lambda v: (v + p).tanh() * 3.0, params=[p])
    p.grad = 0.0
    value = f(np.array([x]))[0]
    f.backward(np.array([x]))
    q = Value(0.0)
    out = (x + q).tanh() * 3.0
    out.backward()
    assert abs(value - out.data) <= 3.0 * 2.0 ** -52  # 1 ulp of tanh, times 3
    assert abs(p.grad - q.grad) <= 3.0 * 2.0 ** -51   # 2 ulp(1) of 1 - out^2, times g = 3


# --- fuzzing compile: every Python escape from the graph is exact or refused at its line -------------

_FLAG, _SCALE, _SEEN = [True], [2.5], []


def _counting(x):
    _SEEN.append(x)  # closes over mutable state: a different constant at each trace
    return x * float(len(_SEEN))


ESCAPES = [  # (function, how it compiles: "exact", a line the refusal names, or "different graph")
    (lambda x: max(x, x * 2), "max(x, x * 2)"),
    (lambda x: sorted([x, x * 2])[0], "sorted([x, x * 2])"),
    (lambda x: Value(math.exp(x)), "Value(math.exp(x))"),
    (lambda x: math.exp(x.data) * x, "math.exp(x.data)"),
    (lambda x: np.float64(x) * x, "np.float64(x)"),
    (lambda x: np.maximum(x, 0.0), "np.maximum(x, 0.0)"),
    (lambda x: x if x.data > 0 else -x, "x if x.data > 0 else -x"),
    (lambda x: x if x > 0 else -x, "x if x > 0 else -x"),
    (lambda x: (x * 2).relu().detach() + x, ".detach() + x"),
    (lambda x: np.exp(x) + np.tanh(x) * np.abs(x), "exact"),  # numpy calls the Value methods
    (lambda x: x if _FLAG[0] else -x, "exact"),                # closed-over state is read once, baked
    (lambda x: x * _SCALE[0] + sum([x, x * 3]), "exact"),
    (_counting, "different graph"),
]


@settings(max_examples=60)
@given(case=st.sampled_from(range(len(ESCAPES))),
       xs=st.lists(st.floats(-5, 5, allow_subnormal=False), min_size=1, max_size=5))
def test_python_escapes_from_the_graph_compile_exactly_or_are_refused_at_their_line(case, xs):
    fn, expected = ESCAPES[case]
    X = np.array(xs)
    if expected == "exact":
        check_against_engine(fn, [], X)
    elif expected == "different graph":
        with pytest.raises(TracingError, match="different graph"):
            micrograd.compile(fn, params=[])(X)
    else:
        with pytest.raises(TracingError, match=r"test_tape\.py:\d+ `.*" + __import__("re").escape(expected)):
            micrograd.compile(fn, params=[])(X)


def _bits(a):
    return np.ascontiguousarray(a, dtype=float).view(np.int64).tolist()


@pytest.mark.parametrize("fn, steps", [
    (lambda xs, w: sum((x * x * w for x in xs), xs[0]), ["sum x1, 5 summands"]),  # sum() of products
    (lambda xs, w: xs[0] + xs[1] + xs[0] * w + xs[1] + xs[0], ["sum x1, 5 summands"]),  # repeats
    (lambda xs, w: xs[3] + xs[0] + xs[2] + xs[0] * w + xs[1], ["sum x1, 5 summands"]),  # rows gathered
    (lambda xs, w: xs[0] + (xs[1] + (xs[2] + xs[3] * w)), []),  # right-deep: not in the trace's order
    (lambda xs, w: [xs[0] + xs[1] + xs[2] * w, xs[1] + xs[2] + xs[3] * w][0] * 2.0, ["sum x1, 3"]),
    (lambda xs, w: (xs[0].exp() + xs[1].exp() + xs[2].exp() + xs[3].exp())  # two sums, rows a view
     * (xs[0].tanh() + xs[1].tanh() + xs[2].tanh() + xs[3].tanh()) * w, ["sum x2, 4 summands"]),
])
def test_left_to_right_sums_are_one_step_bit_for_bit_the_engines(fn, steps):
    w = Value(0.75)
    fn = functools.partial(fn, w=w)
    X = np.array([[1e308, 1e308, -1e308, 1.0], [-0.0, -0.0, -0.0, -0.0], [1.0, 1e-16, -1.0, 3.0],
                  [np.inf, -np.inf, 2.0, np.nan], [0.5, 2.0, -3.0, 1e-300]])
    f = micrograd.compile(fn, params=[w])
    assert [s for s in steps if not any(str(t).startswith(s) for t in f.tape(X).steps)] == []
    want_out = engine(fn, [w], X)[0]
    assert _bits(compiled(fn, [w], X)[0]) == _bits(want_out)  # the same sums in the same order: the same bits
    fine = X[[2, 4]]  # gradients where the mean is finite
    assert_exact(compiled(fn, [w], fine)[2], engine(fn, [w], fine)[2])


def test_sums_of_a_loss_over_per_sample_targets_are_one_step_each():
    random.seed(3)
    model = MLP(4, [5, 3])
    f = micrograd.compile(lambda x, t: micrograd.losses.cross_entropy(model(x), t), params=model.parameters())
    X, T = np.random.default_rng(0).normal(size=(6, 4)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    kinds = [str(s).split(",")[0] for s in f.tape(X, T).steps]
    assert kinds.count("sum x1") == 2 and "add x1 (per sample)" not in kinds[:-1]
    check_against_engine(lambda x, t: micrograd.losses.cross_entropy(model(x), t), model.parameters(), X, T)


@pytest.mark.parametrize("fn, direct", [
    (lambda model: lambda x: model(x), [True]),                            # a first layer: reads X itself
    (lambda model: lambda x: model(x) + x[0] * x[1], [False]),            # its rows read elsewhere too
    (lambda model: lambda x: model(x[::-1]), [False]),                     # in another order
])
def test_a_first_layer_reads_its_input_array_itself_only_when_nothing_else_does(fn, direct):
    random.seed(5)
    model = MLP(3, [4, 1])
    f = fn(model)
    X = np.random.default_rng(1).normal(size=(7, 3))
    assert micrograd.compile(f, params=model.parameters()).tape(X).direct == direct
    check_against_engine(f, model.parameters(), X)


def test_a_one_input_network_reads_its_1d_batch_itself():
    random.seed(6)
    model = MLP(1, [3, 1])
    x = np.linspace(-2.0, 2.0, 9)
    assert micrograd.compile(lambda v: model([v]), params=model.parameters()).tape(x).direct == [True]
    check_against_engine(lambda v: model([v]), model.parameters(), x)


def test_a_layer_whose_inputs_other_nodes_also_read_adds_its_adjoints_to_theirs():
    """Three neurons over the same inputs, which a later node reads too: backward adds the layer's
    W^T g to the adjoints already there (no fresh block to write into)."""
    w = [Value(0.1 * k - 0.4) for k in range(10)]

    def fn(x):
        h = [(x[k] + w[9]).tanh() for k in range(3)]
        a = [w[3 * j] * h[0] + w[3 * j + 1] * h[1] + w[3 * j + 2] * h[2] for j in range(3)]
        return (a[0] * a[1] * a[2]).tanh() * h[1]  # h[1] read after the layer: its adjoint comes first

    X = np.random.default_rng(4).normal(size=(9, 3))
    steps = [repr(s) for s in micrograd.compile(fn, params=w).tape(X).steps]
    assert "linear x3, 3 terms each (matmul, per sample)" in steps
    check_against_engine(fn, w, X)


def test_add_and_mul_steps_write_every_kind_of_adjoint_as_the_engine():
    """add and mul run as ufuncs into their rows; backward computes only the adjoints an argument
    needs and assigns or adds them (a parameter's summed over the batch first); rows gathered
    at each call (repeated, or out of order) take the op's own rule."""
    w = [Value(0.5), Value(-1.25), Value(2.0)]

    def fn(x):
        h, k = x[0] + w[0], x[1] + w[1]
        a, b = h * w[1], h * w[2]                  # h twice in one step: its rows repeat
        c = k * k                                  # one row as both arguments
        d = (w[2] * w[2]) * x[2]                   # a shared step, then a parameter's column
        e = (a + b) * 3.0 + c * (h + 1.5)          # a constant argument needs no adjoint
        return (e + d) * (k + w[2])

    X = np.random.default_rng(7).normal(size=(5, 3))
    steps = [repr(s) for s in micrograd.compile(fn, params=w, dots=False).tape(X).steps]
    assert "mul x2 (per sample)" in steps and "mul x1 (shared)" in steps
    check_against_engine(fn, w, X)

    def later(x):
        k = x[0] + w[0]
        p = k + x[1]                               # k's adjoint added to: the product assigned it
        return (p * k) * w[1]

    check_against_engine(later, w, X)


@pytest.mark.parametrize("fn, block", [
    (lambda x, w: (x[0] * w).exp() - (x[1] * w).tanh(), True),    # exp's row, then tanh's times -1
    (lambda x, w: (x[0] * w).exp() + (x[1] * w).tanh(), False),   # tanh's row, then exp's: not in order
    (lambda x, w: (x[0] * w).exp() + (x[0] * w).exp(), False),    # one row twice: added, not assigned
])
def test_an_add_whose_adjoints_go_to_consecutive_fresh_rows_writes_them_at_once(fn, block):
    """An add's backward assigns g to both arguments' rows with one copy when they are fresh blocks
    one after the other (as a loss's last add), and with one copy each otherwise: the engine's."""
    w = Value(0.75)
    fn = functools.partial(fn, w=w)
    X = np.random.default_rng(2).normal(size=(5, 2))
    tape = micrograd.compile(fn, params=[w]).tape(X)
    adds = [s for s in tape.steps if repr(s).startswith("add")]
    assert [s.assigned_block(np.empty((tape.n_v, 5))) is not None for s in adds] == [block]
    check_against_engine(fn, [w], X)


@pytest.mark.parametrize("fn", [
    lambda xs, w: sum(xs[1:], xs[0]) * w,                                        # rows in order: a view
    lambda xs, w: sum((x.exp() for x in xs[1:]), xs[0].exp()) * sum((x.tanh() for x in xs[1:]), xs[0].tanh()) * w,
    lambda xs, w: sum([xs[4], xs[0], xs[2], xs[5], xs[1]], xs[3] * w),           # out of order: gathered
    lambda xs, w: sum([xs[1], xs[0], xs[1], xs[0], xs[5]], xs[0] * w),           # repeats
])
def test_long_sums_on_small_batches_run_as_running_sums_bit_for_bit_the_engines(fn):
    """Six summands at batch 5: one np.add.reduce along them, left to right as the trace adds."""
    w = Value(0.75)
    fn = functools.partial(fn, w=w)
    X = np.array([[1e308, 1e308, -1e308, 1.0, -1e308, 0.5], [-0.0] * 6, [1.0, 1e-16, -1.0, 3.0, -1e-16, 7.0],
                  [np.inf, -np.inf, 2.0, np.nan, 1.0, 0.0], [0.5, 2.0, -3.0, 1e-300, 4.0, -2.5]])
    assert any(str(s).startswith("sum x") and "6 summands" in str(s) for s in micrograd.compile(fn, params=[w]).tape(X).steps)
    assert _bits(compiled(fn, [w], X)[0]) == _bits(engine(fn, [w], X)[0])
    fine = X[[2, 4]]
    assert_exact(compiled(fn, [w], fine)[2], engine(fn, [w], fine)[2])


@pytest.mark.parametrize("batch", [1, 2, 3, 40])
@pytest.mark.parametrize("fn", [
    lambda xs, w: sum(xs[1:], xs[0]) * w,                                        # rows in order: a view
    lambda xs, w: sum([xs[4], xs[0], xs[2], xs[5], xs[1], xs[3]], xs[6]) * w,    # out of order: gathered
    lambda xs, w: sum([xs[1], xs[0], xs[1]], xs[0]) * w,                         # repeats, four summands
    lambda xs, w: (xs[0].exp() + xs[1].exp() + xs[2].exp())                      # two sums, one step
    * (xs[0].tanh() + xs[1].tanh() + xs[2].tanh()) * w,
])
def test_sums_add_left_to_right_at_every_batch_size(fn, batch):
    """A sum step's forward at batch 1 (row by row) and above (one reduction along
    the summands, from -0.0) is the engine's left-to-right sum, bit for bit: rows whose sums depend
    on the order (1e308 + 1e308 overflows before - 1e308 could cancel it) and signs of zero."""
    w = Value(0.75)
    fn = functools.partial(fn, w=w)
    rng = np.random.default_rng(batch)
    X = rng.choice(np.array([1e308, -1e308, -0.0, 1.0, 1e-16, -1.0, 3.0]), size=(batch, 7))
    X[0] = -0.0  # every summand -0.0: the sum is -0.0
    assert any(str(s).startswith("sum x") for s in micrograd.compile(fn, params=[w]).tape(X).steps)
    assert _bits(compiled(fn, [w], X)[0]) == _bits(engine(fn, [w], X)[0])


@pytest.mark.parametrize("x", [np.inf, -np.inf, np.nan, 1e308, -1.7e308])
def test_tracing_at_a_huge_or_non_finite_sample_warns_nothing(x):
    """The second trace's sample is moved away from the first's: x + |x| / 2 + 1 overflowed with a
    RuntimeWarning at a huge x (and is x again at inf or nan: such a point moves to 0 now)."""
    X = np.array([[x, 1.0], [x, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = micrograd.compile(lambda v: v[0] * 2.0 + v[1], params=[])
        got = f(X)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, np.array([x, x]) * 2.0 + 1.0)



def test_a_loss_that_is_a_layers_relu_is_seeded_again_at_every_call():
    """A fused relu rewrites its own rows' adjoints in place (relu's rule); when the loss is such a
    row, its adjoint 1 / batch must be set again at every call, not once per batch size: one
    compiled function over three batches of one size against the engine."""
    w, b = [Value(1.0), Value(-1.0)], Value(0.0)
    params = [*w, b]

    def fn(x):
        return (w[0] * x[0] + w[1] * x[1] + b).relu()

    f = micrograd.compile(fn, params=params)
    X1, X2 = np.array([[-1.0, 0.0], [2.0, 0.0]]), np.array([[3.0, 0.0], [-2.0, 0.0]])
    assert any(repr(s).endswith("then relu in place") for s in f.tape(X1).steps)
    for X in (X1, X2, X1):
        _, mean, want = engine(fn, params, X)
        for p in params:
            p.grad = 0.0
        assert f.backward(X) == mean
        assert_exact([p.grad for p in params], want)

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 5e-324, -5e-324, math.inf, -math.inf, math.nan]


def _relu_net(weights, keep):
    """A hand-written layer of 3 neurons on 2 inputs, relu, then one neuron; with ``keep`` the
    pre-activations are outputs too (read twice: the layer's relu then runs as its own step)."""
    w1, b1, w2 = weights[:6], weights[6:9], weights[9:12]

    def fn(x):
        pre = [w1[2 * j] * x[0] + w1[2 * j + 1] * x[1] + b1[j] for j in range(3)]
        out = sum((w * h.relu() for w, h in zip(w2, pre)), weights[12])
        return [out * out] + (pre if keep else [])
    return fn


@settings(max_examples=60, deadline=None)
@given(w=st.lists(st.sampled_from(EDGES) | st.floats(-3, 3), min_size=13, max_size=13),
       x=st.lists(st.sampled_from(EDGES) | st.floats(-3, 3), min_size=8, max_size=8))
def test_a_layers_relu_in_place_gives_the_numbers_of_its_own_step(w, x):
    """The layer's relu fused into its matrix product's step (``then relu in place``) against the
    same graph with the pre-activations also returned, where it is a step of its own: the loss,
    every per-sample value and every gradient bit for bit, signed zeros, infs and nans included."""
    params = [Value(v) for v in w]
    X = np.array(x).reshape(4, 2)
    results = []
    for keep in (False, True):
        f = micrograd.compile(_relu_net(params, keep), params=params)
        steps = [repr(s) for s in f.tape(X).steps]
        assert any(s.endswith("then relu in place") for s in steps) is not keep
        assert any(s.startswith("relu x3") for s in steps) is keep
        data, grad = np.array([p.data for p in params]), np.empty(len(params))
        with np.errstate(all="ignore"):
            mean, _ = f.backward_arrays(data, grad, X)
        results.append((mean, f(X)[:, 0], grad))
    for got, want in zip(results[0], results[1]):
        got, want = np.atleast_1d(got), np.atleast_1d(want)
        assert got.tobytes() == want.tobytes() or np.array_equal(got, want, equal_nan=True) and \
            np.array_equal(np.signbit(got), np.signbit(want)), (got, want)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_hidden_layer_reads_its_inputs_and_a_row_of_ones_in_place(activation):
    """A layer that adds its bias in its matrix product, [W | b] [x; 1], reads x, the block of the
    layer before (relu in place, or a tanh step), and the row of ones after it as a view of the
    tape's values; one compiled function over batch sizes that come and go (its buffers made
    again) keeps that row at 1, which the forward reads through nonzero biases."""
    random.seed(11)
    model = MLP(2, [6, 6, 1], activation=activation)
    params = model.parameters()
    for p in params:
        p.data += 0.25
    f = micrograd.compile(lambda x: model(x), params=params)
    X = np.random.default_rng(2).normal(size=(9, 2))
    layers = [s.inner if isinstance(s, ActivatedStep) else s for s in f.tape(X).steps]
    folded = [s.ones_after for s in layers if getattr(s, "wb_view", None) is not None]
    # the first layer copies its input array beside a row of ones; the next two read their x and
    # the row of ones after it in place (the last with more inputs than neurons: no copy to pay for)
    assert folded == [False, True, True]
    for batch in (9, 4, 1, 9):
        out, mean, grad = engine(lambda x: model(x), params, X[:batch])
        assert_exact(f(X[:batch]), out)
        got = np.empty(len(params))
        assert_exact(f.backward_arrays(np.array([p.data for p in params]), got, X[:batch])[0], mean)
        assert_exact(got, grad)


def test_a_layer_whose_pre_activation_is_read_elsewhere_stays_one_matrix_product():
    """relu joins its layer's step all or nothing: with one pre-activation read twice, none of the
    layer's relus is fused, the layer stays one matrix product, and the numbers are the engine's."""
    rng = np.random.default_rng(0)
    w = [Value(float(v)) for v in rng.normal(size=12)]

    def fn(x):
        pre = [w[3 * j] * x[0] + w[3 * j + 1] * x[1] + w[3 * j + 2] for j in range(4)]
        return sum([p.relu() for p in pre], pre[0] * pre[0])  # pre[0] read twice

    X = rng.normal(size=(7, 2))
    steps = [repr(s) for s in micrograd.compile(fn, params=w).tape(X).steps]
    assert "linear x4, 2 terms each (matmul, per sample)" in steps
    assert not any("then relu" in s for s in steps)
    check_against_engine(fn, w, X)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_layer_reading_its_x_and_the_row_of_ones_in_place_takes_infs_and_nans_as_the_engine(bad):
    """The hidden and output layers that read [x; 1] as a view of the tape's values, with an
    inf or nan in a weight and in a bias and inputs that make 0 * inf: the engine's numbers."""
    random.seed(5)
    model = MLP(2, [3, 3, 1])
    params = model.parameters()
    hidden, last = model.layers[1].neurons, model.layers[2].neurons
    hidden[0].w[1].data, hidden[2].b.data, last[0].w[2].data = bad, bad, 0.5
    for p in params[:9]:  # the first layer's weights and biases: some hidden inputs exactly 0
        p.data = 0.0 if p.data < 0 else p.data

    def fn(x):
        return model(x)

    f = micrograd.compile(fn, params=params)
    X = np.array([[1.0, -2.0], [0.0, 0.0], [-3.0, 0.5], [2.0, 2.0]])
    layers = [s.inner if isinstance(s, ActivatedStep) else s for s in f.tape(X).steps]
    assert [(s.ones_after, s.wb_view is not None) for s in layers] == [(False, True), (True, True), (True, True)]
    assert not np.isfinite(f(X)).all()
    check_against_engine(fn, params, X)
