"""expression: text to a Value graph, safely, with IEEE numbers and labelled variables."""

import math

import pytest

from micrograd import Value
from micrograd.expression import ExpressionError, evaluate, functions


def test_evaluates_like_python_with_labelled_leaves():
    out = evaluate("a*b + c", {"a": 2, "b": -3, "c": 10})
    assert out.data == 4.0
    out.backward()
    leaves = {v.label: v for v in out.nodes() if not v._prev}
    assert set(leaves) == {"a", "b", "c"}
    assert (leaves["a"].grad, leaves["b"].grad, leaves["c"].grad) == (-3.0, 2.0, 1.0)
    x = 0.7
    out = evaluate("tanh(x) ** 2 / (x - 1) + (x * 2).relu() - -x + leaky_relu(-x, 0.2) + +x", {"x": x})
    expected = math.tanh(x) ** 2 / (x - 1) + max(x * 2, 0) + x + 0.2 * -x + x
    assert out.data == pytest.approx(expected, rel=1e-15)
    v = Value(x)
    direct = v.tanh() ** 2 / (v - 1) + (v * 2).relu() - -v + (-v).leaky_relu(0.2) + v
    direct.backward()
    out.backward()
    (leaf,) = [n for n in out.nodes() if n.label == "x"]
    assert leaf.grad == pytest.approx(v.grad, rel=1e-12)


def test_shared_names_are_one_node_and_numbers_follow_ieee():
    out = evaluate("a * a", {"a": 3})
    assert out._prev[0] is out._prev[1]
    assert evaluate("1/0 + 9**9**9", {}).data == math.inf
    assert evaluate("2", {}).data == 2.0 and isinstance(evaluate("2", {}), Value)
    assert set(functions()) >= {"relu", "tanh", "exp", "log", "sigmoid", "leaky_relu"}
    assert "add" not in functions() and "powc" not in functions()


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('true')", "unknown function"),
    ("a.__class__", "not allowed"),
    ("(lambda: 1)()", "unknown function"),
    ("a[0]", "not allowed"),
    ("'text'", "not allowed"),
    ("a if a else a", "not allowed"),
    ("a < 1", "not allowed"),
    ("True + a", "not allowed"),
    ("b + 1", "unknown name 'b'"),
    ("a +", "not an expression"),
    ("relu(a, b=1)", "not allowed"),
    ("tanh(a, a)", "second argument must be a number"),
    ("relu(a, 2)", "relu()"),
    pytest.param("a" + "+a" * 3000, "nested too deeply", id="deep"),
    pytest.param("a" * 20_000, "too long", id="long"),
    pytest.param("not " * 2400 + "a", "not allowed in an expression: 'not not not", id="deep-not"),
    pytest.param("lambda: " * 1000 + "1", "not allowed in an expression: 'lambda: lambda:", id="deep-lambda"),
    pytest.param("9" * 400, "integer 999999999999…999 (400 digits) is too large for a float", id="huge-int"),
])
def test_rejects_anything_else_with_a_clear_error(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        evaluate(text, {"a": 1.0})
