"""conv: Conv2d, MaxPool2d, AvgPool2d and Flatten against torch.nn in float64, values, gradients
(of the input and every parameter) and second derivatives, on drawn shapes and hyperparameters."""

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd import Value
from micrograd.autograd import grad
from micrograd.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten
from micrograd.nn import Layer, Sequential
from micrograd.testing import gradcheck

# Tolerances. A convolution's sum runs in another order in torch (a matrix product over patches),
# so values and gradients agree to rounding: 1e-12 relative to the size of the terms summed
# (inputs, weights and coefficients are all at most 3 in magnitude, sums of at most 27 products).
RTOL, ATOL = 1e-12, 1e-12


def leaves(array):
    """Nested lists of leaf Values with the numbers of ``array`` (C x H x W)."""
    return [[[Value(x) for x in row] for row in channel] for channel in array.tolist()]


def flat(nested):
    return [v for channel in nested for row in channel for v in row]


def data(nested):
    return np.array([[[v.data for v in row] for row in channel] for channel in nested])


def assert_close(got, want, what):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert np.allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True), (what, got, want)


@st.composite
def images(draw, channels, kernel, padding, integers):
    """One C x H x W image the kernel fits in; integer-valued numbers make ties likely."""
    kh, kw = kernel
    ph, pw = padding
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 3))
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 3))
    numbers = st.integers(-2, 2).map(float) if integers else st.floats(-3, 3, allow_subnormal=False)
    xs = draw(st.lists(numbers, min_size=channels * h * w, max_size=channels * h * w))
    return np.array(xs).reshape(channels, h, w)


pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))


def torch_leaf(torch, x):
    return torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=True)


def loss_of(outputs, coefficients):
    """sum c * o * o: a loss whose gradient depends on the outputs, so second order is not zero."""
    total = 0.0
    for o, c in zip(outputs, coefficients):
        total = o * o * c + total
    return total


def check(torch, module, tmodule, image, params, tparams, second_order=True):
    """Values, gradients (input and params) and second derivatives of module against tmodule."""
    x = leaves(image)
    out = module(x)
    coefficients = np.random.default_rng(len(flat(out))).uniform(-1, 1, size=len(flat(out)))
    t = torch_leaf(torch, image)
    tout = tmodule(t[None])[0]
    assert_close(data(out), tout.detach().numpy(), "values")
    loss = loss_of(flat(out), coefficients)
    tloss = (tout.flatten() ** 2 * torch.tensor(coefficients)).sum()
    wrt, twrt = flat(x) + params, [t] + tparams
    firsts = grad(loss, wrt, create_graph=second_order, materialize_grads=True)
    tfirsts = torch.autograd.grad(tloss, twrt, create_graph=second_order, materialize_grads=True)
    assert_close([getattr(g, "data", g) for g in firsts], np.concatenate([g.detach().flatten() for g in tfirsts]),
                 "gradients")
    if not second_order:
        return
    squares = loss_of([g for g in firsts if isinstance(g, Value)], [1.0] * len(firsts))
    tsquares = sum((g ** 2).sum() for g in tfirsts)
    seconds = grad(squares, wrt, materialize_grads=True) if isinstance(squares, Value) else [0.0] * len(wrt)
    tseconds = torch.autograd.grad(tsquares, twrt, materialize_grads=True)
    assert_close(seconds, np.concatenate([g.flatten() for g in tseconds]), "second derivatives")


def torch_conv(torch, module):
    tc = torch.nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                         module.padding, dtype=torch.float64)
    with torch.no_grad():
        tc.weight.copy_(torch.tensor([w.data for w in module.weight], dtype=torch.float64).reshape(tc.weight.shape))
        tc.bias.copy_(torch.tensor([b.data for b in module.bias], dtype=torch.float64))
    return tc


# --- against torch, on drawn shapes and hyperparameters -------------------------------------------

@settings(max_examples=25)
@given(data_=st.data(), cin=st.integers(1, 2), cout=st.integers(1, 2), kernel=pairs,
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)), padding=st.tuples(st.integers(0, 1), st.integers(0, 2)),
       integers=st.booleans(), seed=st.integers(0, 99))
def test_conv2d_matches_torch(torch, data_, cin, cout, kernel, stride, padding, integers, seed):
    image = data_.draw(images(cin, kernel, padding, integers))
    module = Conv2d(cin, cout, kernel, stride, padding, rng=seed)
    tc = torch_conv(torch, module)
    check(torch, module, tc, image, module.weight + module.bias, [tc.weight, tc.bias])


@settings(max_examples=40)
@given(data_=st.data(), channels=st.integers(1, 2), kernel=pairs,
       stride=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))), integers=st.booleans(),
       kind=st.sampled_from(["MaxPool2d", "AvgPool2d"]))
def test_pooling_matches_torch_ties_included(torch, data_, channels, kernel, stride, integers, kind):
    # integer-valued inputs in [-2, 2] tie within most windows: torch sends a tie's gradient to
    # the first maximum, and so does the chain of Value.max
    image = data_.draw(images(channels, kernel, (0, 0), integers))
    module = {"MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d}[kind](kernel, stride)
    check(torch, module, getattr(torch.nn, kind)(kernel, stride), image, [], [])


def test_max_pooling_sends_a_tie_to_the_first_maximum_and_propagates_nan(torch):
    image = np.array([[[1.0, 1.0, 0.0, math.nan], [1.0, 0.0, math.nan, 2.0], [3.0, 3.0, 3.0, -math.inf]]])
    for kernel, stride in [(2, None), (2, 1), ((3, 2), (1, 2)), (1, None)]:
        x = leaves(image)
        out = flat(MaxPool2d(kernel, stride)(x))
        total = out[0] * 1.0
        for o in out[1:]:
            total = total + o
        total.backward()
        t = torch_leaf(torch, image)
        tout = torch.nn.MaxPool2d(kernel, stride)(t[None])[0].flatten()
        tout.sum().backward()
        assert np.array_equal([o.data for o in out], tout.detach().numpy(), equal_nan=True)
        assert [v.grad for v in flat(x)] == t.grad.flatten().tolist(), (kernel, stride)


@given(data_=st.data(), channels=st.integers(1, 3))
def test_flatten_is_torchs_order(torch, data_, channels):
    image = data_.draw(images(channels, (1, 1), (0, 0), True))
    x = leaves(image)
    assert Flatten()(x) == flat(x)
    assert [v.data for v in Flatten()(x)] == torch.nn.Flatten()(torch.tensor(image)[None])[0].tolist()
    assert Flatten()(image) == image.ravel().tolist() and Flatten()([[1, [2, [3]]], 4]) == [1, 2, 3, 4]


@given(data_=st.data(), channels=st.integers(1, 3))
def test_unflatten_is_torchs_order_and_undoes_flatten(torch, data_, channels):
    image = data_.draw(images(channels, (1, 1), (0, 0), False))
    c, h, w = image.shape
    row = [Value(x) for x in image.ravel()]
    out = Unflatten(c, h, w)(row)
    assert Flatten()(out) == row  # the same Values, not copies
    assert data(out).tolist() == torch.nn.Unflatten(1, (c, h, w))(torch.tensor(image.ravel())[None])[0].tolist()
    assert Unflatten(c, h, w)(image.ravel()) == image.tolist() == Unflatten(c, h, w)(tuple(image.ravel()))


@pytest.mark.parametrize("x,error,match", [
    (list(range(15)), ValueError, "1 x 4 x 4 = 16 numbers; got 15"),
    (np.zeros((4, 4)), ValueError, "one flat row; got an array of shape \\(4, 4\\)"),
    (Value(1.0), TypeError, "got a Value"),
])
def test_unflatten_names_a_wrong_row(x, error, match):
    with pytest.raises(error, match=match):
        Unflatten(1, 4, 4)(x)
    with pytest.raises(ValueError, match="height"):
        Unflatten(1, 0, 4)


def test_a_conv_net_reads_a_flat_row_and_trains_compiled_as_scalar():
    # fit hands the model a flat row per sample: Unflatten makes the image Conv2d reads, and the
    # compiled path reaches the scalar path's weights (to rounding: the tape may sum in another order)
    from micrograd.losses import cross_entropy
    from micrograd.nn import Activation
    from micrograd.optim import Adam
    from micrograd.train import fit

    def net():
        return Sequential(Unflatten(1, 4, 4), Conv2d(1, 2, 3, padding=1, rng=0), Activation("relu"), MaxPool2d(2),
                          Flatten(), Layer(8, 3, activation="linear", rng=0))
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 16)), rng.integers(0, 3, size=12)
    runs = []
    for compiled in (False, True):
        model = net()
        history = fit(model, X, y, cross_entropy, Adam(model, lr=0.01), epochs=2, batch_size=4, compiled=compiled,
                      progress=False)
        runs.append(([p.data for p in model.parameters()], history.loss))
    assert np.allclose(runs[1][0], runs[0][0], rtol=1e-10, atol=1e-12)
    assert np.allclose(runs[1][1], runs[0][1], rtol=1e-10, atol=1e-12)


# --- the second oracle, once ----------------------------------------------------------------------

def test_a_conv_and_pooling_net_matches_central_differences():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 5, 5))
    conv, pool = Conv2d(2, 2, 2, padding=1, rng=0), MaxPool2d(2, 1)
    n_w, n_b = len(conv.weight), len(conv.bias)

    def f(*vs):
        conv.weight, conv.bias = list(vs[:n_w]), list(vs[n_w:n_w + n_b])
        x = np.array(vs[n_w + n_b:], dtype=object).reshape(image.shape).tolist()
        outs = Flatten()(AvgPool2d(2)(pool(conv(x))))
        return loss_of(outs, np.linspace(-1, 1, len(outs)))

    point = [w.data for w in conv.weight + conv.bias] + image.ravel().tolist()
    assert gradcheck(f, point, atol=1e-7, rtol=1e-6)  # smooth here: the samples are far from ties


# --- construction, inputs, saving -----------------------------------------------------------------

def test_init_is_torchs_default_bound_and_reproducible():
    conv = Conv2d(2, 3, (2, 3), rng=5)
    bound = 1 / math.sqrt(2 * 2 * 3)
    assert len(conv.weight) == 3 * 2 * 2 * 3 and len(conv.bias) == 3
    assert all(-bound <= p.data <= bound for p in conv.parameters())
    assert [p.data for p in Conv2d(2, 3, (2, 3), rng=5).parameters()] == [p.data for p in conv.parameters()]
    r = random.Random(5)
    assert conv.weight[0].data == r.uniform(-bound, bound)
    assert [n for n, _ in conv.named_parameters()][-3:] == ["bias.0", "bias.1", "bias.2"]


@pytest.mark.parametrize("make,match", [
    (lambda: Conv2d(0, 1, 3), "in_channels"),
    (lambda: Conv2d(1, 2.5, 3), "out_channels"),
    (lambda: Conv2d(1, 1, (3,)), "kernel_size"),
    (lambda: Conv2d(1, 1, 0), "kernel_size"),
    (lambda: Conv2d(1, 1, 3, stride=0), "stride"),
    (lambda: Conv2d(1, 1, 3, padding=-1), "padding"),
    (lambda: Conv2d(1, 1, 3, padding=True), "padding"),
    (lambda: MaxPool2d((2, 0)), "kernel_size"),
    (lambda: AvgPool2d(2, stride="1"), "stride"),
])
def test_bad_arguments_are_named_at_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("module,x,error,match", [
    (Conv2d(2, 1, 2), np.zeros((3, 4, 4)), ValueError, "2 channels x height x width.*got 3 channels"),
    (Conv2d(1, 1, 2), np.zeros((4, 4)), ValueError, "shape \\(4, 4\\)"),
    (Conv2d(1, 1, 2), [[1.0, 2.0], [3.0, 4.0]], ValueError, "depth 2"),
    (Conv2d(1, 1, 2), [[[1.0, 2.0], [3.0]]], ValueError, "grid"),
    (Conv2d(1, 1, 3), np.zeros((1, 2, 5)), ValueError, "height of 2 .* kernel's 3"),
    (Conv2d(1, 1, 2), [[["a", 1.0], [1.0, 1.0]]], TypeError, "str 'a'"),
    (Conv2d(1, 1, 2), Value(1.0), ValueError, "single number"),
    (MaxPool2d(3), np.zeros((1, 3, 2)), ValueError, "MaxPool2d: an input width of 2"),
])
def test_bad_inputs_are_named_at_call(module, x, error, match):
    with pytest.raises(error, match=match):
        module(x)


def test_numbers_and_arrays_are_inputs_too():
    conv = Conv2d(1, 1, 2, rng=0)
    image = np.arange(9.0).reshape(1, 3, 3)
    assert data(conv(image)).tolist() == data(conv(image.tolist())).tolist() == data(conv(leaves(image))).tolist()
    assert data(MaxPool2d(2, 1)(image)).tolist() == [[[4.0, 5.0], [7.0, 8.0]]]
    assert data(AvgPool2d(3)(image)).tolist() == [[[4.0]]]


def test_a_conv_net_saves_and_loads(tmp_path):
    def net(seed):
        return Sequential(Conv2d(1, 2, 3, padding=1, rng=seed), MaxPool2d(2), Flatten(), Layer(8, 3, rng=seed))
    model, other = net(0), net(1)
    assert list(model.state_dict())[:2] == ["layers.0.weight.0", "layers.0.weight.1"]
    model.save(tmp_path / "conv.json")
    other.load(tmp_path / "conv.json")
    assert other.state_dict() == model.state_dict()
    image = np.random.default_rng(0).normal(size=(1, 4, 4))
    assert [v.data for v in other(image)] == [v.data for v in model(image)]
    assert repr(model) == ("Sequential(Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)), "
                           "MaxPool2d(kernel_size=(2, 2), stride=(2, 2)), Flatten(), "
                           "Layer of [ReLUNeuron(8), ReLUNeuron(8), ReLUNeuron(8)])")


def test_a_conv_net_compiles_to_the_scalar_engines_numbers():
    # ties included (integer pixels): the tape replays each max per sample, not the traced one's choice
    import micrograd
    from micrograd.nn import Activation
    model = Sequential(Conv2d(1, 3, 3, padding=1, rng=0), Activation("relu"), MaxPool2d(2), AvgPool2d(2, 1),
                       Flatten(), Layer(12, 2, rng=0))
    params = model.parameters()

    def fn(row):
        out = model(np.array(row, dtype=object).reshape(1, 6, 6).tolist())
        return out[0] - out[1] * 0.5
    X = np.random.default_rng(0).integers(-2, 3, size=(5, 36)).astype(float)
    f = micrograd.compile(fn, params=params)
    scalar = [fn([Value(x) for x in row]) for row in X]
    # the tape may group a sum's terms in another order than the scalar loop: rounding apart only
    assert np.allclose(f(X), [v.data for v in scalar], rtol=1e-12, atol=1e-13)
    f.backward(X)
    compiled = [p.grad for p in params]
    model.zero_grad()
    for v in scalar:
        v.backward()
    assert np.allclose(compiled, [p.grad / len(X) for p in params], rtol=1e-12, atol=1e-13)
