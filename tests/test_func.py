"""micrograd.func: grad, value_and_grad, jacrev, hessian and hvp against torch.func in float64."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, no_grad
from micrograd.func import grad, hessian, hvp, jacobian, jacrev, value_and_grad
from micrograd.testing import close, expressions


@pytest.fixture(scope="module")
def tf(torch):
    """torch.func, the reference for every transform."""
    return torch.func


def tensors(torch, xs):
    return [torch.tensor(float(x), dtype=torch.float64) for x in xs]


def as_floats(x):
    """A torch result (tensor or nested tuples of tensors) as floats and nested lists."""
    if isinstance(x, tuple):
        return tuple(as_floats(i) for i in x)
    return x.tolist()


def assert_close_nested(mine, ref, rtol=1e-8, atol=1e-10):
    if isinstance(ref, (list, tuple)):
        assert type(mine) is type(ref) and len(mine) == len(ref), (mine, ref)
        for m, r in zip(mine, ref):
            assert_close_nested(m, r, rtol, atol)
    else:
        assert type(mine) is float, mine
        assert close(mine, ref, rtol=rtol, atol=atol), (mine, ref)


def scalar_fn(program):
    """The program as f(x0, x1, ...) -> output, for micrograd and for torch."""
    def f(*xs):  # (arguments not differentiated stay numbers: lift them for op.apply)
        return program.values([x if isinstance(x, Value) else Value(x) for x in xs])[-1]

    def t(*xs):
        return program.torch(list(xs))[-1]
    return f, t


def vector_fn(program):
    """The program as f([x0, x1, ...]) -> output."""
    def f(x):
        return program.values(list(x))[-1]

    def t(x):
        return program.torch(list(x.unbind()))[-1]
    return f, t


# --- against torch.func on random programs ---------------------------------------------------------

@given(program=expressions(min_inputs=2, max_steps=10))
def test_grad_over_all_argnums_matches_torch_func(torch, tf, program):
    f, t = scalar_fn(program)
    argnums = tuple(range(program.n_inputs))
    mine = grad(f, argnums=argnums)(*program.point)
    ref = tf.grad(t, argnums=argnums)(*tensors(torch, program.point))
    assert_close_nested(mine, as_floats(ref))
    assert_close_nested(grad(f)(*program.point), ref[0].item())


@given(program=expressions(max_steps=8))
def test_grad_of_grad_is_the_second_derivative_like_torch_func(torch, tf, program):
    f, t = scalar_fn(program)
    mine = grad(grad(f))(*program.point)
    ref = tf.grad(tf.grad(t))(*tensors(torch, program.point)).item()
    assert close(mine, ref, rtol=1e-7, atol=1e-9), program


@given(program=expressions(max_steps=8))
def test_hessian_of_a_vector_function_matches_torch_func(torch, tf, program):
    f, t = vector_fn(program)
    x = list(program.point)
    mine = hessian(f)(x)
    ref = tf.hessian(t)(torch.tensor(x, dtype=torch.float64)).tolist()
    assert_close_nested(mine, ref, rtol=1e-7, atol=1e-9)


@given(program=expressions(min_inputs=2, max_steps=12), m=st.integers(1, 3))
def test_jacrev_of_a_vector_output_matches_torch_func(torch, tf, program, m):
    def f(x):
        return program.values(list(x))[-m:]

    def t(x):
        return torch.stack(program.torch(list(x.unbind()))[-m:])
    x = list(program.point)
    mine = jacrev(f)(x)
    ref = tf.jacrev(t)(torch.tensor(x, dtype=torch.float64)).tolist()
    assert_close_nested(mine, ref)
    assert jacobian is jacrev


@given(program=expressions(min_inputs=2, max_steps=8), data=st.data())
def test_hvp_matches_torch_autograd_functional(torch, program, data):
    f, t = scalar_fn(program)
    v = tuple(data.draw(st.lists(st.floats(-2, 2), min_size=program.n_inputs, max_size=program.n_inputs)))
    mine = hvp(f, tuple(program.point), v)
    ref = torch.autograd.functional.hvp(t, tuple(tensors(torch, program.point)), tuple(tensors(torch, v)))[1]
    assert_close_nested(mine, tuple(r.item() for r in ref), rtol=1e-7, atol=1e-9)


def test_third_derivative_by_nesting(torch, tf):
    def f(x):
        return (x * 0.5).tanh() * x.exp()
    mine = grad(grad(grad(f)))(0.3)
    ref = tf.grad(tf.grad(tf.grad(lambda x: (x * 0.5).tanh() * x.exp())))(torch.tensor(0.3, dtype=torch.float64))
    assert close(mine, ref.item(), rtol=1e-10)


# --- shapes, as torch.func ----------------------------------------------------------------------------

def f2(x, y):
    return x * x * y + (x * y).tanh()


def test_value_and_grad_and_tuple_argnums_like_torch_func(torch, tf):
    value, g = value_and_grad(f2, argnums=(0, 1))(1.5, -0.5)
    tvalue, tg = tf.grad_and_value(f2, argnums=(0, 1))(*tensors(torch, [1.5, -0.5]))[::-1]
    assert close(value, tvalue.item(), rtol=1e-14) and type(value) is float
    assert_close_nested(g, as_floats(tg))
    assert grad(f2, argnums=-1)(1.5, -0.5) == g[1]


def test_hessian_with_tuple_argnums_and_vector_arguments_like_torch_func(torch, tf):
    def f(x, y):
        return x[0] * x[1] * y + (x[0] * y).exp()

    x, y = [0.3, -0.7], 0.4
    mine = hessian(f, argnums=(0, 1))(x, y)
    ref = tf.hessian(f, argnums=(0, 1))(torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
    assert_close_nested(mine, as_floats(ref))
    jac = jacrev(lambda x, y: [x[0] * y, x[1] + y], argnums=(0, 1))(x, y)
    tjac = tf.jacrev(lambda x, y: torch.stack([x[0] * y, x[1] + y]), argnums=(0, 1))(
        torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64))
    assert_close_nested(jac, as_floats(tjac))


def test_jacrev_of_a_tuple_output_nests_outputs_first_like_torch_func(torch, tf):
    def f(x, y):
        return (x * y, [x + y, x - y])
    mine = jacrev(f, argnums=(0, 1))(2.0, 3.0)
    ref = tf.jacrev(lambda x, y: (x * y, torch.stack([x + y, x - y])), argnums=(0, 1))(*tensors(torch, [2.0, 3.0]))
    assert_close_nested(mine, as_floats(ref))


def test_has_aux_like_torch_func():
    def f(x):
        y = x * x
        return y, [y.data, "label"]
    assert grad(f, has_aux=True)(3.0) == (6.0, [9.0, "label"])
    assert value_and_grad(f, has_aux=True)(3.0) == ((9.0, [9.0, "label"]), 6.0)
    assert jacrev(f, has_aux=True)(3.0) == (6.0, [9.0, "label"])
    with pytest.raises(TypeError, match="pair"):
        grad(lambda x: x, has_aux=True)(1.0)


def test_constant_function_has_zero_gradient():
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(grad(lambda x: x * 2.0))(1.0) == 0.0
    assert hessian(lambda x: x[0] + x[1])([1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]


# --- numbers in, numbers out; Values in, Values out ------------------------------------------

def test_values_in_give_differentiable_values_out(torch, tf):
    x = Value(0.5)
    g = grad(lambda x: x.tanh() * x)(x)
    assert isinstance(g, Value)
    g.backward()
    ref = tf.grad(tf.grad(lambda x: x.tanh() * x))(torch.tensor(0.5, dtype=torch.float64)).item()
    assert close(x.grad, ref, rtol=1e-12)


def test_nested_transforms_do_not_confuse_their_variables(torch, tf):
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x (a wrong engine differentiates y = x as x too)
    mine = grad(lambda x: x * grad(lambda y: x * y)(x))(1.5)
    ref = tf.grad(lambda x: x * tf.grad(lambda y: x * y)(x))(torch.tensor(1.5, dtype=torch.float64))
    assert mine == ref.item() == 3.0
    # a mixed partial through a closure: d/dx d/dy (x^2 y^3) = 6 x y^2
    mixed = grad(lambda x: grad(lambda y: x * x * y ** 3)(2.0))(3.0)
    assert math.isclose(mixed, 6 * 3.0 * 2.0 ** 2, rel_tol=1e-14)


def test_transforms_return_floats_for_floats_and_leave_grads_alone():
    p = Value(2.0)
    g = grad(lambda x: x * p)(3.0)  # p is closed over: it is a constant here
    assert g == 2.0 and type(g) is float and p.grad == 0.0


# --- errors ------------------------------------------------------------------------------------

def test_errors_are_clear():
    with pytest.raises(TypeError, match="one scalar"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(ValueError, match="argnums"):
        grad(f2, argnums=2)(1.0, 2.0)
    with pytest.raises(ValueError, match="argnums"):
        grad(f2, argnums=())(1.0, 2.0)
    for twice in ((0, 0), (1, -1)):  # torch.func refuses these too (it would give 0 for one copy)
        with pytest.raises(ValueError, match="names an argument twice"):
            grad(f2, argnums=twice)(1.0, 2.0)
        with pytest.raises(ValueError, match="names an argument twice"):
            hessian(f2, argnums=twice)(1.0, 2.0)
    with pytest.raises(TypeError, match="argument 0"):
        grad(lambda x: x)("1.0")
    with pytest.raises(TypeError, match=r"argument 0\[1\]"):
        grad(lambda x: x[0])([1.0, None])
    with pytest.raises(TypeError, match="scalar"):
        jacrev(lambda x: {"a": x})(1.0)
    with pytest.raises(TypeError, match="tuples"):
        hvp(f2, [1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shapes"):
        hvp(f2, (1.0, 2.0), (1.0,))
    with no_grad(), pytest.raises(RuntimeError, match="no_grad"):
        grad(f2)(1.0, 2.0)
