"""micrograd.primitive: a new op declared outside the package, checked on every kind of number."""

import math

import numpy as np
import pytest

import micrograd
from micrograd import Value, ops
from micrograd.autograd import grad
from micrograd.declare import DeclarationError
from micrograd.testing import all_ops, check_op
from micrograd.viz import draw_dot
from micrograd.xp import FLOATS


@pytest.fixture
def sin_cos():
    """sin and cos, declared here as a user would, and taken out of the table afterwards."""
    sin, cos = micrograd.primitive(
        ops.Op("sin", "sin", 1, lambda xp, a: xp.sin(a), lambda xp, g, out, a: g * xp.cos(a),
               torch=lambda t, a: t.sin(a), domain=((-3, 3),)),
        ops.Op("cos", "cos", 1, lambda xp, a: xp.cos(a), lambda xp, g, out, a: -g * xp.sin(a),
               torch=lambda t, a: t.cos(a), domain=((-3, 3),)))
    yield sin, cos
    ops.remove(sin)
    ops.remove(cos)


def test_sin_declared_outside_the_package_has_value_gradient_second_order_kernel_and_picture(torch, sin_cos):
    sin, cos = sin_cos
    x = Value(0.7)
    y = x * sin(x)
    y.backward()
    assert y.data == 0.7 * math.sin(0.7) and y._op == "*" and y._b._op == "sin"
    assert math.isclose(x.grad, math.sin(0.7) + 0.7 * math.cos(0.7), rel_tol=1e-15)
    (dx,) = grad(x * x.apply(sin), x, create_graph=True)
    assert math.isclose(grad(dx, x)[0], 2 * math.cos(0.7) - 0.7 * math.sin(0.7), rel_tol=1e-14)
    # compiled: the op's forward and rule run on arrays, and agree with the scalar engine
    w = Value(1.3)
    f = micrograd.compile(lambda t: sin(w * t) + cos(t), params=[w])
    ts = np.array([-1.0, 0.25, 2.0])
    assert f(ts).tolist() == [(sin(w * t) + cos(t)).data for t in map(Value, ts.tolist())]
    f.backward(ts)
    expected = sum(t * math.cos(1.3 * t) for t in ts.tolist()) / 3
    assert math.isclose(w.grad, expected, rel_tol=1e-14)
    # drawn with its symbol, and tested like every table op (torch, central differences, order 2)
    assert '"sin"' in draw_dot(sin(x)).source or "label=sin" in draw_dot(sin(x)).source
    assert sin in all_ops() and check_op(sin, [0.4]) and check_op(cos, [-1.1])


@pytest.mark.parametrize("name,rule,message", [
    # a rule written with math.cos: right on floats, refused on arrays
    ("sin_math_test", lambda xp, g, out, a: g * math.cos(a), r"op 'sin_math_test': its rule fails on arrays"),
    # a rule calling xp.cos before an op named cos is declared: refused on Values
    ("sin_alone_test", lambda xp, g, out, a: g * xp.cos(a), r"'sin_alone_test': its rule fails on Values.*cos"),
], ids=["math-rule", "undeclared-op"])
def test_a_rule_that_fails_on_one_kind_is_refused_at_declaration_naming_op_and_kind(name, rule, message):
    sin = ops.Op(name, name, 1, lambda xp, a: xp.sin(a), rule, domain=((-3, 3),))
    with pytest.raises(DeclarationError, match=message):
        micrograd.primitive(sin)
    assert name not in ops.OPS


def test_a_rule_that_disagrees_between_kinds_is_refused():
    def rule(xp, g, out, a):  # right on floats, wrong on arrays
        return g * 2.0 * a if xp is FLOATS else g * 3.0 * a
    with pytest.raises(DeclarationError, match=r"'square_test': its rule on arrays gives .* where floats give"):
        micrograd.primitive(ops.Op("square_test", "square_test", 1, lambda xp, a: a * a, rule, domain=((-1, 1),)))
    with pytest.raises(DeclarationError, match="domain"):
        micrograd.primitive(ops.Op("nodomain_test", "nodomain_test", 1, lambda xp, a: a, lambda xp, g, out, a: g))
    # one bad op of several: none of them stays
    good = ops.Op("good_test", "good_test", 1, lambda xp, a: a + 1.0, lambda xp, g, out, a: g, domain=((-1, 1),))
    with pytest.raises(DeclarationError):
        micrograd.primitive(good, ops.Op("square_test", "square_test", 1, lambda xp, a: a * a, rule,
                                         domain=((-1, 1),)))
    assert "good_test" not in ops.OPS and "square_test" not in ops.OPS


def test_every_table_row_passes_the_declaration_check():
    for entry in ops.OPS.values():
        micrograd.declare.check(entry)
