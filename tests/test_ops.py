"""The op table, row by row: every primitive against PyTorch float64 and central differences.

Parametrised over ``micrograd.testing.all_ops()``, so a new op in ops.py is tested with no edit
here (its declaration carries its PyTorch counterpart and its domain).
"""

import functools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import Value, ops
from micrograd.xp import ARRAYS, FLOATS, VALUES
from micrograd.testing import all_ops, central_difference, close, op_inputs, torch_reference

OPS = all_ops()
ids = [f"{op.name}[{op.param:g}]" if op.param is not None else op.name for op in OPS]


def forward_and_grads(op, xs):
    leaves = [Value(x) for x in xs]
    out = op.apply(*leaves)
    out.backward()
    return out, [v.grad for v in leaves]


@pytest.mark.usefixtures("torch")
@pytest.mark.parametrize("op", OPS, ids=ids)
@given(data=st.data())
def test_value_and_gradient_match_torch(op, data):
    xs = data.draw(op_inputs(op))
    out, grads = forward_and_grads(op, xs)
    ref_value, ref_grads = torch_reference(op, *xs)
    assert close(out.data, ref_value, rtol=1e-12), (xs, out.data, ref_value)
    for i, (g, ref) in enumerate(zip(grads, ref_grads)):
        assert close(g, ref, rtol=1e-10, atol=1e-12), (xs, i, g, ref)


@pytest.mark.parametrize("op", OPS, ids=ids)
@given(data=st.data())
def test_gradient_matches_central_differences(op, data):
    xs = data.draw(op_inputs(op))
    _, grads = forward_and_grads(op, xs)
    for i, g in enumerate(grads):
        numeric = central_difference(functools.partial(op.forward, FLOATS), xs, i)
        assert close(g, numeric, rtol=1e-5, atol=1e-6), (xs, i, g, numeric)


@pytest.mark.parametrize("op", OPS, ids=ids)
def test_rule_runs_on_floats_values_and_arrays_alike(op):
    # One declaration serves the scalar backward, higher-order gradients and the compiled tape.
    xs = tuple(lo + 0.37 * (hi - lo) for lo, hi in op.domain)
    out = op.forward(FLOATS, *xs)
    g = 1.3
    on_floats = op.rule(FLOATS, g, out, *xs)
    on_arrays = op.rule(ARRAYS, np.array([g]), np.array([out]), *[np.array([x]) for x in xs])
    on_values = op.rule(VALUES, Value(g), Value(out), *[Value(x) for x in xs])
    as_tuple = lambda r: r if isinstance(r, tuple) else (r,)  # noqa: E731
    for f, a, v in zip(as_tuple(on_floats), as_tuple(on_arrays), as_tuple(on_values)):
        assert math.isclose(f, float(np.asarray(a).ravel()[0]), rel_tol=1e-14)
        assert math.isclose(f, float(v), rel_tol=1e-14)


def test_every_op_declares_what_its_tests_need():
    for op in OPS:
        assert op.torch is not None and len(op.domain) == op.arity, op.name
        out = op.apply(*[Value(lo + 0.5 * (hi - lo)) for lo, hi in op.domain])
        assert out.op is op and out._op == op.symbol and len(out._prev) == op.arity


#: Ops a derivative rule calls, as torch's own backward functions: reached by ``apply``, no method.
RULE_OPS = {"sigmoid_backward"}


def test_every_table_entry_gets_a_value_method():
    operators = {"add": "__add__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__", "powc": "__pow__"}
    for name in set(ops.OPS) - RULE_OPS:
        assert callable(getattr(Value, operators.get(name, name))), name
    for name in RULE_OPS:
        assert not hasattr(Value, name) and (Value(0.5).apply(ops.OPS[name], 0.25)).op is ops.OPS[name]


def test_symbols_follow_micrograd():
    a, b = Value(2.0), Value(3.0)
    assert (a + b)._op == "+" and (a * b)._op == "*"
    assert (a ** 2)._op == "**2" and (a ** -1)._op == "**-1" and (a ** 0.5)._op == "**0.5"
    assert a.relu()._op == "ReLU" and a.tanh()._op == "tanh" and a.exp()._op == "exp"
    assert Value(1.0)._op == "" and not Value(1.0)._op


def test_op_families_share_members():
    assert ops.powc(2) is ops.powc(2.0)
    assert ops.leaky_relu(0.1) is not ops.leaky_relu(0.2)
    assert ops.powc(2).param == 2.0 and ops.powc(2).family is ops.powc


def test_ops_pickle_as_table_entries():
    import pickle
    for op in OPS:
        assert pickle.loads(pickle.dumps(op)) is op


def test_a_new_op_is_one_declaration_and_leaves_again():
    # Declaring a primitive puts it in the table the tests read; Value reaches it with apply.
    cube = micrograd.primitive(ops.Op("cube", "cube_for_test", 1, lambda xp, a: a * a * a,
                                      lambda xp, g, out, a: g * 3.0 * a * a,
                                      torch=lambda t, a: a ** 3, domain=((-2, 2),)))
    try:
        x = Value(2.0)
        y = x.apply(cube)
        y.backward()
        assert (y.data, x.grad, y._op) == (8.0, 12.0, "cube") and cube(x).op is cube
        assert cube in all_ops()
        with pytest.raises(ValueError, match="already"):
            micrograd.primitive(cube)
    finally:
        ops.remove(cube)
    assert cube not in all_ops() and "cube_for_test" not in ops.OPS


# --- ops are objects with identity ----------------------------------------------------------------

def test_ops_are_never_equal_to_one_another_whatever_their_symbols():
    assert ops.LEAF != ops.CONSTANT and ops.LEAF.symbol == ops.CONSTANT.symbol == ""
    assert ops.powc(2.5) != ops.powc(2.5000001) and str(ops.powc(2.5)) == str(ops.powc(2.5000001)) == "**2.5"
    impostor = ops.Op("*", "twice_mul_test", 2, lambda xp, a, b: 2.0 * a * b,
                      lambda xp, g, out, a, b: (2.0 * g * b, 2.0 * g * a))
    assert impostor != ops.mul and not isinstance(impostor, str) and str(impostor) == "*"
    assert len({ops.mul, impostor, ops.LEAF, ops.CONSTANT}) == 4


def same(a, b):
    """Equal to 1e-13 relative: math.pow and numpy.power may round the last bit apart, while
    near twins (c and c + 1e-7) differ by 1e-8 relative or more."""
    return math.isclose(a, b, rel_tol=1e-13) or a == b or (math.isnan(a) and math.isnan(b))


def test_near_identical_constants_compile_exactly():
    f = micrograd.compile(lambda x: [x ** 2, x ** 2.5000001, x ** 2.5], params=[])
    assert f(np.array([3.0]))[0].tolist() == [9.0, (Value(3.0) ** 2.5000001).data, (Value(3.0) ** 2.5).data]


@pytest.mark.parametrize("family", [e for e in ops.OPS.values() if isinstance(e, ops.OpFamily)], ids=str)
@given(data=st.data())
def test_every_family_member_compiles_exactly_beside_its_near_twins(family, data):
    # members whose symbols print alike (f"{c:g}") are still different ops, each on its own kernel
    members = [m for c in family.examples for m in (family(c), family(c + 1e-7))]
    xs = [data.draw(op_inputs(family(c)))[0] for c in family.examples]
    f = micrograd.compile(lambda x: [x.apply(m) for m in members], params=[])
    got = f(np.array(xs))
    for i, x in enumerate(xs):
        for j, m in enumerate(members):
            assert same(got[i, j], Value(x).apply(m).data), (x, m)


@pytest.mark.parametrize("dots", [True, False])
def test_a_user_op_with_the_symbol_of_mul_compiles_as_itself(dots):
    twice = ops.Op("*", "twice_mul_test", 2, lambda xp, a, b: 2.0 * a * b,
                   lambda xp, g, out, a, b: (2.0 * g * b, 2.0 * g * a), domain=((-2, 2), (-2, 2)))
    w = Value(0.5)
    f = micrograd.compile(lambda x: twice(w, x) + w * x, params=[w], dots=dots)
    xs = np.array([1.0, -2.0, 3.0])
    assert f(xs).tolist() == [2.0 * 0.5 * x + 0.5 * x for x in xs.tolist()]
    f.backward(xs)
    assert w.grad == sum(3.0 * x for x in xs.tolist()) / 3


def test_a_rule_can_call_another_op_of_the_table_on_every_kind_of_number():
    # xp.f the library lacks is the table's op f: sigmoid's rule calls sigmoid_backward on all three
    assert FLOATS.sigmoid_backward(2.0, 0.25) == 2.0 * (1.0 - 0.25) * 0.25 == 0.375
    assert ARRAYS.sigmoid_backward(np.array([2.0, 4.0]), np.array([0.25, 0.5])).tolist() == [0.375, 1.0]
    out = Value(0.25)
    node = VALUES.sigmoid_backward(0.0, out)  # a plain gradient (relu's 0.0) is lifted to a constant
    assert node.op is ops.sigmoid_backward and node._prev[0].op is ops.CONSTANT and node._prev[1] is out
    assert VALUES.sigmoid_backward(2.0, 0.25) == 0.375 and VALUES.tanh(0.0) == 0.0
    for xp in (FLOATS, ARRAYS, VALUES):
        with pytest.raises(AttributeError, match="no_such_op"):
            _ = xp.no_such_op
