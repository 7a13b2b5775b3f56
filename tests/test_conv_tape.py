"""Compiled convolutions: a Conv2d's sums become one matrix product over image patches (a
ConvStep per conv layer), and the tape equals the scalar engine on drawn conv nets."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import Value, steps
from micrograd.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from micrograd.nn import Activation, Layer, Sequential

# A conv sum of n terms is added in the matrix product's order, not the trace's: it differs by at
# most 2n 2^-53 sum|w x| (docs/tour/compile.md); with n <= 2 x 3 x 3 = 18 terms of size <= 3 and
# two conv layers and a head compounding it, 1e-10 relative to the largest entry holds with room.
TOL = 1e-10


def image_fn(model, channels, height, width):
    """The model on one sample of channels x height x width numbers, given as one flat row."""
    def fn(x):
        img = [[x[(c * height + r) * width:(c * height + r + 1) * width] for r in range(height)]
               for c in range(channels)]
        out = model(img)
        return sum(out[1:], out[0]) if isinstance(out, list) else out
    return fn


def image_outputs(model, height, width):
    """The model's outputs (a list) on one one-channel image given as a flat row."""
    return lambda x: model([[x[r * width:(r + 1) * width] for r in range(height)]])


def engine(fn, params, X):
    """Per-sample outputs, and d(mean)/d(param) by the scalar engine."""
    for p in params:
        p.grad = 0.0
    outs = [fn([Value(v) for v in row]) for row in X.tolist()]
    total = sum(outs) * (1.0 / len(outs))
    total.backward()
    return np.array([o.data for o in outs]), np.array([p.grad for p in params])


def compiled(fn, params, X):
    f = micrograd.compile(fn, params=params)
    out = f(X)
    for p in params:
        p.grad = 0.0
    f.backward(X)
    return out, np.array([p.grad for p in params]), f.tape(X)


def assert_close(got, want):
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    scale = np.abs(want[finite]).max(initial=0.0)
    np.testing.assert_allclose(got[finite], want[finite], rtol=TOL, atol=max(TOL * scale, 1e-300))


@st.composite
def conv_nets(draw):
    """A conv net's layers (one or two conv layers, relu, maybe a pool, a Layer head) and its input
    shape; ``build`` makes the modules (outside the strategy: they draw their weights)."""
    channels = draw(st.integers(1, 2))
    height, width = draw(st.integers(3, 7)), draw(st.integers(3, 7))
    specs, c, h, w = [], channels, height, width
    for _ in range(draw(st.integers(1, 2))):
        k = draw(st.integers(1, min(3, h + 2, w + 2)))
        pad = draw(st.integers(0, min(2, k - 1 + 1)))
        if h + 2 * pad < k or w + 2 * pad < k:
            pad = k
        stride = draw(st.integers(1, 2))
        out = draw(st.integers(1, 3))
        specs.append(("conv", c, out, k, stride, pad, draw(st.integers(0, 99))))
        c, h, w = out, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    pool = draw(st.sampled_from([None, MaxPool2d, AvgPool2d]))
    if pool is not None and h >= 2 and w >= 2:
        specs.append(("pool", pool))
        h, w = h // 2, w // 2
    specs.append(("head", c * h * w))
    return specs, (channels, height, width)


def build(specs):
    layers = []
    for spec in specs:
        if spec[0] == "conv":
            _, c, out, k, stride, pad, seed = spec
            layers += [Conv2d(c, out, k, stride=stride, padding=pad, rng=seed), Activation("relu")]
        elif spec[0] == "pool":
            layers.append(spec[1](2))
        else:
            layers += [Flatten(), Layer(spec[1], 2, nonlin=False, rng=0)]
    return Sequential(*layers)


@settings(max_examples=40, deadline=None)
@given(net=conv_nets(), batch=st.integers(1, 4), seed=st.integers(0, 2 ** 32 - 1))
def test_random_conv_nets_compile_to_the_scalar_engines_values_and_gradients(net, batch, seed):
    specs, (channels, height, width) = net
    model = build(specs)
    X = np.random.default_rng(seed).uniform(-3.0, 3.0, (batch, channels * height * width))
    fn, params = image_fn(model, channels, height, width), model.parameters()
    want_out, want_grad = engine(fn, params, X)
    got_out, got_grad, _ = compiled(fn, params, X)
    assert_close(got_out, want_out)
    assert_close(got_grad, want_grad)


def test_the_tape_shows_one_matrix_product_step_per_conv_layer():
    model = Sequential(Conv2d(1, 4, 3, padding=1, rng=0), Activation("relu"), MaxPool2d(2),
                       Conv2d(4, 3, 3, stride=2, padding=1, rng=1), Activation("relu"), Flatten(),
                       Layer(12, 10, nonlin=False))
    f = micrograd.compile(image_fn(model, 1, 8, 8), params=model.parameters())
    steps = [repr(s) for s in f.tape(np.zeros((2, 64))).steps]
    convs = [s for s in steps if s.startswith("conv")]
    assert convs == [("conv x256 (4 kernels at 64 positions), 9 terms each (matmul over patches, per sample), "
                      "then relu in place"),
                     ("conv x12 (3 kernels at 4 positions), 36 terms each (matmul over patches, per sample), "
                      "then relu in place")]
    assert not any("batched dot" in s for s in steps)  # (today's path for sums at many positions)


def test_a_non_finite_weight_leaves_border_sums_without_it_as_the_scalar_engine():
    """Padding reads 0, and inf * 0 is nan: the border sums that lack the weight's term must not
    see it (the scalar engine never multiplies it there)."""
    X = np.random.default_rng(0).uniform(-1.0, 1.0, (3, 16))
    for weight in (math.inf, -math.inf, math.nan):
        conv = Conv2d(1, 1, 3, padding=1, rng=0)
        conv.weight[0].data = weight  # the top-left weight: no term at the top and left border
        model = Sequential(conv, Flatten())
        each = image_outputs(model, 4, 4)
        want = np.array([[v.data for v in each([Value(v) for v in row])] for row in X.tolist()])
        got = micrograd.compile(each, params=model.parameters())(X)
        assert np.isfinite(want).any() and not np.isfinite(want).all()
        assert_close(got, want)
        fn = image_fn(model, 1, 4, 4)
        want_out, want_grad = engine(fn, model.parameters(), X)
        got_out, got_grad, _ = compiled(fn, model.parameters(), X)
        assert_close(got_out, want_out)
        assert_close(got_grad, want_grad)


def test_an_infinite_adjoint_at_a_border_leaves_the_weights_it_does_not_reach_as_the_scalar_engine():
    """dW = g X^T over padded patches would add inf * 0 = nan for a term the border sum lacks."""
    conv = Conv2d(1, 1, 3, padding=1, rng=0)

    def fn(x):
        out = Flatten()(conv([[x[r * 4:(r + 1) * 4] for r in range(4)]]))
        return out[0] * 1e300 * 1e300 + sum(out[1:], out[1] * 0.0)  # inf adjoint at the corner only

    X = np.random.default_rng(1).uniform(0.5, 1.0, (2, 16))
    want_out, want_grad = engine(fn, conv.parameters(), X)
    got_out, got_grad, _ = compiled(fn, conv.parameters(), X)
    assert np.isfinite(want_grad).any() and not np.isfinite(want_grad).all()
    assert_close(got_out, want_out)
    assert_close(got_grad, want_grad)


@settings(max_examples=30, deadline=None)
@given(w=st.lists(st.floats(-1e3, 1e3), min_size=4, max_size=4), b=st.floats(-1e3, 1e3),
       scale=st.sampled_from([1.0, 1e8, 1e16]))
def test_a_convolutions_sums_are_regrouped_within_the_stated_figure(w, b, scale):
    """The matrix product over patches adds w_i x_i in its own order: at each position at most
    2 n u (sum |w_i x_i| + |b|) from the scalar engine's order, n terms, u = 2^-53
    (docs/tour/compile.md), even where terms cancel and at border positions (padding)."""
    conv = Conv2d(1, 1, 2, padding=1, rng=0)
    for p, v in zip(conv.parameters(), w + [b]):
        p.data = v
    X = np.array([[1.0, -1.0, 1.0 + 2.0 ** -40, -1.0, 3.0, 2.0], [-1.0, 0.5, 1.0, -1.0, 2.0 ** -30, 1.0]]) * scale
    each = image_outputs(Sequential(conv, Flatten()), 2, 3)  # 3 x 4 positions
    f = micrograd.compile(each, params=conv.parameters())
    assert any(repr(s).startswith("conv") for s in f.tape(X).steps)
    got = f(X)
    want = np.array([[v.data for v in each([Value(v) for v in row])] for row in X.tolist()])
    padded = np.pad(X.reshape(-1, 2, 3), ((0, 0), (1, 1), (1, 1)))
    size = np.array([[[np.abs(np.array(w).reshape(2, 2) * padded[s, i:i + 2, j:j + 2]).sum() for j in range(4)]
                      for i in range(3)] for s in range(len(X))]).reshape(len(X), -1)
    bound = 2 * 4 * (size + abs(b)) * 2.0 ** -53
    assert np.all(np.abs(got - want) <= bound)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(0, 5), min_size=0, max_size=30), seed=st.integers(0, 2 ** 32 - 1))
def test_adding_in_rounds_of_distinct_rows_is_np_add_at_bit_for_bit(rows, seed):
    """A row's values are added in the index's order either way (values span 40 orders of
    magnitude, so another order would round otherwise)."""
    index = np.array(rows, dtype=np.intp)
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((len(rows), 3)) * 10.0 ** rng.integers(-20, 20, (len(rows), 1))
    want, got = np.zeros((6, 3)), np.zeros((6, 3))
    np.add.at(want, index, values)
    turns = steps.rounds(index)
    for r in turns:
        assert len(set(index[r].tolist())) == len(r)
        got[index[r]] += values[r]
    assert sorted(np.concatenate(turns or [np.zeros(0, dtype=np.intp)]).tolist()) == list(range(len(rows)))
    assert np.array_equal(got.view(np.int64), want.view(np.int64))


def test_kernels_without_bias_whose_weights_are_no_run_of_rows_agree_with_the_engine():
    """Two kernels of a 1-d convolution, no bias, their parameters interleaved (k0[0], k1[0],
    k0[1], k1[1]): no kernel is a view of the shared values, so the weights are gathered at each
    call and their adjoints added back by index; inputs computed from a parameter need adjoints."""
    k = [[Value(0.5), Value(-1.5)], [Value(2.0), Value(0.25)]]
    params = [k[0][0], k[1][0], k[0][1], k[1][1], Value(0.5)]

    def fn(x):
        h = [(xi + params[4]).tanh() for xi in x]
        outs = [kc[0] * h[p] + kc[1] * h[p + 1] for kc in k for p in range(4)]
        return sum(o * o for o in outs)

    X = np.random.default_rng(2).normal(size=(6, 5))
    want_out, want_grad = engine(fn, params, X)
    got_out, got_grad, tape = compiled(fn, params, X)
    assert "conv x8 (2 kernels at 4 positions), 2 terms each (matmul over patches, per sample)" in [
        repr(s) for s in tape.steps]
    assert_close(got_out, want_out)
    assert_close(got_grad, want_grad)
