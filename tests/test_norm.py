"""norm: LayerNorm and BatchNorm1d equal torch.nn's in float64 (values, gradients of input, weight
and bias, second order, running statistics), in training and eval mode; their buffers are saved
and loaded; compile runs them in eval mode and refuses BatchNorm1d in training mode."""

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import micrograd
from micrograd import Value
from micrograd.autograd import grad
from micrograd.interop import (
    batch_norm_from_torch,
    batch_norm_to_torch,
    layer_norm_from_torch,
    layer_norm_to_torch,
)
from micrograd.losses import mse
from micrograd.nn import MLP, BatchNorm1d, Layer, LayerNorm, Sequential
from micrograd.optim import SGD
from micrograd.train import fit

# Tolerance: both sides round float64 sums in other orders (~1e-16 relative each); the result is
# scaled by 1/sqrt(var + eps) (<= 1/sqrt(1e-4) = 100 here) and its gradient by up to its cube, so
# differences of 1e-16 * 100**3 = 1e-10 relative to the largest number are rounding, not error.
TOL = 1e-9

sizes = st.integers(1, 5)
eps_values = st.sampled_from([1e-5, 1e-3, 0.1, 1.0]) | st.floats(1e-4, 1.0)
numbers = st.floats(-3, 3)
momenta = st.sampled_from([0.1, 0.0, 1.0, None]) | st.floats(0.0, 1.0)


def close(ours, theirs):
    """Every number within TOL of torch's, relative to the largest of torch's numbers."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    scale = max(1.0, float(np.abs(theirs).max(initial=0.0)))
    return ours.shape == theirs.shape and bool(np.all(np.abs(ours - theirs) <= TOL * scale))


def data(vs):
    return [[v.data for v in row] for row in vs] if isinstance(vs[0], list) else [v.data for v in vs]


def weighted_sum(outs, coefs):
    """sum c * y over the flattened outputs (a plain sum of a normalised row has gradient 0)."""
    flat = [y for row in outs for y in row] if isinstance(outs[0], list) else outs
    total = Value(0.0)
    for y, c in zip(flat, coefs):
        total = total + y * c
    return total


def draw_floats(d, n):
    return d.draw(st.lists(numbers, min_size=n, max_size=n))


# --- LayerNorm ----------------------------------------------------------------------------------

@given(st.data(), sizes, eps_values, st.booleans())
def test_layer_norm_matches_torch_in_value_and_gradient(torch, d, n, eps, affine):
    ln = LayerNorm(n, eps=eps, elementwise_affine=affine)
    if affine:
        for v in ln.parameters():
            v.data = d.draw(numbers)
    net = layer_norm_to_torch(ln)
    x, coefs = [Value(xi) for xi in draw_floats(d, n)], draw_floats(d, n)
    weighted_sum(ln(x), coefs).backward()
    tx = torch.tensor([v.data for v in x], dtype=torch.float64, requires_grad=True)
    ty = net(tx)
    (ty * torch.tensor(coefs, dtype=torch.float64)).sum().backward()
    assert close(data(ln(x)), ty.tolist())
    assert close([v.grad for v in x], tx.grad.tolist())
    if affine:
        assert close([w.grad for w in ln.weight], net.weight.grad.tolist())
        assert close([b.grad for b in ln.bias], net.bias.grad.tolist())


@given(st.data(), st.integers(2, 4), eps_values)
def test_layer_norm_second_order_matches_torch(torch, d, n, eps):
    """d/dx_j of (d/dx_0 of sum c y), with torch's double backward."""
    ln = LayerNorm(n, eps=eps)
    for v in ln.parameters():
        v.data = d.draw(numbers)
    net = layer_norm_to_torch(ln)
    x, coefs = [Value(xi) for xi in draw_floats(d, n)], draw_floats(d, n)
    (g0,) = grad(weighted_sum(ln(x), coefs), x[0], create_graph=True)
    ours = grad(g0, x + ln.weight, allow_unused=True, materialize_grads=True)
    tx = torch.tensor([v.data for v in x], dtype=torch.float64, requires_grad=True)
    (tg,) = torch.autograd.grad((net(tx) * torch.tensor(coefs, dtype=torch.float64)).sum(), tx, create_graph=True)
    theirs = torch.autograd.grad(tg[0], [tx, net.weight])
    assert close(list(ours), theirs[0].tolist() + theirs[1].tolist())


def test_layer_norm_of_one_sample_by_hand():
    ln = LayerNorm(3, eps=0.0 + 1e-5)
    y = ln([1.0, 2.0, 4.0])  # mean 7/3, biased var 14/9
    expected = [(x - 7 / 3) / (14 / 9 + 1e-5) ** 0.5 for x in (1.0, 2.0, 4.0)]
    assert data(y) == pytest.approx(expected, rel=1e-14)
    assert [n for n, _ in ln.named_parameters()] == ["weight.0", "weight.1", "weight.2", "bias.0", "bias.1", "bias.2"]
    assert [p.data for p in ln.parameters()] == [1.0] * 3 + [0.0] * 3
    assert LayerNorm((3,), elementwise_affine=False).parameters() == []


# --- BatchNorm1d --------------------------------------------------------------------------------

def random_batch_norm(d, c, **kwargs):
    bn = BatchNorm1d(c, **kwargs)
    for v in bn.parameters():
        v.data = d.draw(numbers)
    return bn


def step_both(bn, net, torch, batch, coefs):
    """One forward and backward on each side; returns (our values, torch's, our x grads, torch's)."""
    bn.zero_grad()
    net.zero_grad()
    x = [[Value(v) for v in row] for row in batch]
    out = bn(x)
    weighted_sum(out, coefs).backward()
    tx = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
    ty = net(tx)
    (ty * torch.tensor(coefs, dtype=torch.float64).reshape(ty.shape)).sum().backward()
    return data(out), ty.tolist(), [[v.grad for v in row] for row in x], tx.grad.tolist()


def check_parameter_grads(bn, net):
    if bn.affine:
        assert close([w.grad for w in bn.weight], net.weight.grad.tolist())
        assert close([b.grad for b in bn.bias], net.bias.grad.tolist())


@given(st.data(), sizes, st.integers(2, 5), eps_values, momenta, st.booleans(), st.booleans(), st.integers(1, 3))
def test_batch_norm_training_matches_torch_and_tracks_its_running_statistics(
        torch, d, c, n, eps, momentum, affine, track, steps):
    bn = random_batch_norm(d, c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    net = batch_norm_to_torch(bn)
    for _ in range(steps):
        batch = [draw_floats(d, c) for _ in range(n)]
        ours, theirs, gx, tgx = step_both(bn, net, torch, batch, draw_floats(d, n * c))
        assert close(ours, theirs) and close(gx, tgx)
        check_parameter_grads(bn, net)
    if track:
        assert bn.num_batches_tracked == net.num_batches_tracked.item() == steps
        assert close(bn.running_mean, net.running_mean.tolist())
        assert close(bn.running_var, net.running_var.tolist())
    else:
        assert bn.running_mean is None and bn.named_buffers() == []
    # then eval mode: the running statistics (or, untracked, the batch's again), as torch
    bn.eval()
    net.eval()
    batch = [draw_floats(d, c) for _ in range(n)]
    ours, theirs, gx, tgx = step_both(bn, net, torch, batch, draw_floats(d, n * c))
    assert close(ours, theirs) and close(gx, tgx)
    check_parameter_grads(bn, net)


@given(st.data(), sizes, eps_values)
def test_batch_norm_eval_takes_one_sample_as_torch_takes_a_batch_of_one(torch, d, c, eps):
    bn = random_batch_norm(d, c, eps=eps)
    bn.running_mean = draw_floats(d, c)
    bn.running_var = [abs(v) + 0.1 for v in draw_floats(d, c)]
    net = batch_norm_to_torch(bn.eval())
    x = [Value(v) for v in draw_floats(d, c)]
    coefs = draw_floats(d, c)
    weighted_sum(bn(x), coefs).backward()
    tx = torch.tensor([[v.data for v in x]], dtype=torch.float64, requires_grad=True)
    ty = net(tx)
    (ty[0] * torch.tensor(coefs, dtype=torch.float64)).sum().backward()
    assert close(data(bn(x)), ty[0].tolist()) and close([v.grad for v in x], tx.grad[0].tolist())
    check_parameter_grads(bn, net)


@given(st.data(), st.integers(1, 3), st.integers(2, 4), eps_values)
def test_batch_norm_second_order_matches_torch(torch, d, c, n, eps):
    bn = random_batch_norm(d, c, eps=eps)
    net = batch_norm_to_torch(bn)
    batch = [draw_floats(d, c) for _ in range(n)]
    coefs = draw_floats(d, n * c)
    x = [[Value(v) for v in row] for row in batch]
    (g,) = grad(weighted_sum(bn(x), coefs), x[0][0], create_graph=True)
    flat = [v for row in x for v in row]
    ours = grad(g, flat + bn.weight, allow_unused=True, materialize_grads=True)
    tx = torch.tensor(batch, dtype=torch.float64, requires_grad=True)
    ty = net(tx)
    (tg,) = torch.autograd.grad((ty * torch.tensor(coefs, dtype=torch.float64).reshape(ty.shape)).sum(), tx,
                                create_graph=True)
    theirs = torch.autograd.grad(tg[0, 0], [tx, net.weight])
    assert close(list(ours), theirs[0].flatten().tolist() + theirs[1].tolist())


def test_batch_norm_by_hand_and_its_modes():
    bn = BatchNorm1d(1, momentum=0.5)
    out = bn([[1.0], [3.0]])  # mean 2, biased var 1: -1 and 1 (eps aside)
    assert [y.data for (y,) in out] == pytest.approx([-1 / (1 + 1e-5) ** 0.5, 1 / (1 + 1e-5) ** 0.5], rel=1e-14)
    # running: mean 0.5 * 0 + 0.5 * 2 = 1, var 0.5 * 1 + 0.5 * 2 (unbiased) = 1.5
    assert bn.running_mean == [1.0] and bn.running_var == [1.5] and bn.num_batches_tracked == 1
    bn.eval()
    assert bn([4.0])[0].data == pytest.approx(3 / (1.5 + 1e-5) ** 0.5, rel=1e-14)
    assert bn.num_batches_tracked == 1  # eval mode leaves the statistics alone
    assert data(bn.batch([Value(4.0), Value(1.0)])) == pytest.approx(
        [3 / (1.5 + 1e-5) ** 0.5, 0.0], rel=1e-14)  # a one-neuron layer's bare Values, one feature
    cumulative = BatchNorm1d(1, momentum=None)
    cumulative([[0.0], [2.0]])
    cumulative([[4.0], [6.0]])
    assert cumulative.running_mean == [3.0] and cumulative.running_var == [2.0]  # plain averages


def test_batch_norm_running_statistics_are_buffers_not_parameters():
    bn = BatchNorm1d(2)
    assert len(bn.parameters()) == 4
    assert bn.named_buffers() == [("running_mean.0", 0.0), ("running_mean.1", 0.0), ("running_var.0", 1.0),
                                  ("running_var.1", 1.0), ("num_batches_tracked", 0)]
    bn([[Value(1.0), Value(2.0)], [Value(3.0), Value(5.0)]])
    assert all(type(x) in (float, int) for _, x in bn.named_buffers())  # never a Value in the graph
    assert list(BatchNorm1d(2, affine=False).state_dict()) == [n for n, _ in bn.named_buffers()]


# --- a model with them: fit, a hand-written loop, torch side by side ----------------------------

def test_a_model_with_batch_norm_trains_like_torch_in_a_hand_written_loop(torch):
    """Sequential(Layer, BatchNorm1d, LayerNorm, Layer) and its torch twin: three SGD steps on
    the same batches give the same weights and running statistics."""
    model = Sequential(Layer(3, 4, activation="tanh", rng=0), BatchNorm1d(4, momentum=0.3), LayerNorm(4),
                       Layer(4, 1, activation="linear", rng=1))
    lin = [torch.nn.Linear(3, 4, dtype=torch.float64), torch.nn.Linear(4, 1, dtype=torch.float64)]
    with torch.no_grad():
        for t, layer in zip(lin, (model.layers[0], model.layers[3])):
            t.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64))
            t.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
    net = torch.nn.Sequential(lin[0], torch.nn.Tanh(), batch_norm_to_torch(model.layers[1]),
                              layer_norm_to_torch(model.layers[2]), lin[1])
    rng = np.random.RandomState(0)
    opt, topt = SGD(model, lr=0.1), torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        X, y = rng.randn(5, 3), rng.randn(5)
        outs = model.batch([[Value(v) for v in row] for row in X.tolist()])
        loss = sum((o - t) ** 2 for o, t in zip(outs, y.tolist())) * (1 / 5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = ((net(torch.tensor(X))[:, 0] - torch.tensor(y)) ** 2).mean()
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert close(loss.data, tloss.item())
    bn, tbn = model.layers[1], net[2]
    assert close(bn.running_mean, tbn.running_mean.tolist()) and close(bn.running_var, tbn.running_var.tolist())
    ours = [w.data for n in model.layers[3].neurons for w in n.w]
    assert close(ours, net[4].weight.flatten().tolist())
    assert close([w.data for w in model.layers[2].weight], net[3].weight.tolist())


def test_fit_trains_a_batch_norm_model_in_the_scalar_engine_and_compiled_fit_refuses_it_untouched():
    model = Sequential(Layer(2, 4, rng=0), BatchNorm1d(4), Layer(4, 1, activation="linear", rng=1))
    X = np.random.RandomState(1).randn(16, 2)
    y = X[:, 0] - 2 * X[:, 1]
    before = model.state_dict()
    with pytest.raises(micrograd.TracingError, match=r"BatchNorm1d\(4.*training mode.*model.eval\(\).*compiled=False"):
        fit(model, X, y, mse, SGD(model, lr=0.05), epochs=2, progress=False, compiled=True)
    assert model.state_dict() == before  # refused before any weight or statistic moved
    history = fit(model, X, y, mse, SGD(model, lr=0.05), epochs=20, batch_size=8, progress=False)
    assert history.loss[-1] < history.loss[0] / 2
    assert model.layers[1].num_batches_tracked == 40  # 2 batches x 20 epochs, each seen whole
    model.eval()  # then the running statistics: compiled fit and compile run it
    after = fit(model, X, y, mse, SGD(model, lr=0.01), epochs=1, progress=False, compiled=True)
    assert model.layers[1].num_batches_tracked == 40 and after.steps == 1


def test_compiled_equals_scalar_for_layer_norm_and_batch_norm_in_eval_mode():
    rng = random.Random(3)
    for trial in range(4):
        model = Sequential(Layer(3, 5, rng=trial), LayerNorm(5), BatchNorm1d(5, momentum=None),
                           Layer(5, 2, activation="linear", rng=trial + 10))
        for v in model.layers[1].parameters() + model.layers[2].parameters():
            v.data = rng.uniform(-2, 2)
        model.batch([[rng.uniform(-2, 2) for _ in range(3)] for _ in range(6)])  # running statistics
        model.eval()
        X = np.array([[rng.uniform(-2, 2) for _ in range(3)] for _ in range(7)])
        f = micrograd.compile(model, params=model.parameters())
        scalar = [data(model(list(row))) for row in X.tolist()]
        assert np.abs(f(X) - np.array(scalar)).max() <= 1e-10
        model.zero_grad()
        g = micrograd.compile(lambda x, m=model: sum(m(x)), params=model.parameters())
        g.backward(X)
        compiled = [p.grad for p in model.parameters()]
        model.zero_grad()
        (sum(sum(model(list(row))) for row in X.tolist()) * (1 / len(X))).backward()
        assert np.abs(np.array(compiled) - [p.grad for p in model.parameters()]).max() <= 1e-10


def test_compile_refuses_batch_norm_in_training_mode_saying_what_to_do():
    model = Sequential(Layer(2, 3, rng=0), BatchNorm1d(3))
    with pytest.raises(micrograd.TracingError, match=r"model.eval\(\) before compiling"):
        micrograd.compile(lambda x: model(x), params=model.parameters())(np.zeros((4, 2)))
    untracked = BatchNorm1d(3, track_running_stats=False).eval()  # no statistics: the batch's, always
    with pytest.raises(micrograd.TracingError, match="without running statistics normalises over a batch"):
        micrograd.compile(lambda x: untracked(x), params=[])(np.zeros((4, 3)))


# --- saving and loading -------------------------------------------------------------------------

def trained_model():
    model = Sequential(Layer(2, 3, rng=0), BatchNorm1d(3, momentum=0.2), LayerNorm(3))
    model.batch([[0.5, -1.0], [2.0, 1.0], [-1.5, 0.25]])
    model.batch([[1.5, -2.0], [0.0, 1.0]])
    return model


def test_state_dict_and_save_load_carry_the_running_statistics(tmp_path):
    a = trained_model()
    b = Sequential(Layer(2, 3, rng=5), BatchNorm1d(3, momentum=0.2), LayerNorm(3))
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict() and b.layers[1].num_batches_tracked == 2
    assert type(b.layers[1].num_batches_tracked) is int
    path = tmp_path / "model.json"
    a.save(path)
    saved = json.loads(path.read_text())["parameters"]
    assert saved["layers.1.running_var.2"] == a.layers[1].running_var[2] and saved["layers.1.num_batches_tracked"] == 2
    c = Sequential(Layer(2, 3, rng=6), BatchNorm1d(3, momentum=0.2), LayerNorm(3))
    c.load(path)
    assert c.state_dict() == a.state_dict()
    x = [[0.1, 0.2], [0.3, -0.4]]
    assert data(c.eval().batch(x)) == data(a.eval().batch(x))


@pytest.mark.parametrize("change, error, match", [
    ({"layers.1.running_mean.1": "x"}, TypeError, "buffer 'layers.1.running_mean.1' must be a number"),
    ({"layers.1.num_batches_tracked": 1.5}, ValueError, "whole number"),
    ({"layers.1.num_batches_tracked": -1}, ValueError, "whole number"),
    ({"layers.1.running_var.9": 1.0}, ValueError, "unexpected layers.1.running_var.9"),
])
def test_a_bad_buffer_changes_nothing(change, error, match):
    model = trained_model()
    before = model.state_dict()
    state = {**Sequential(Layer(2, 3, rng=1), BatchNorm1d(3), LayerNorm(3)).state_dict(), **change}
    with pytest.raises(error, match=match):
        model.load_state_dict(state)
    assert model.state_dict() == before  # not one parameter or statistic assigned
    missing = dict(before)
    del missing["layers.1.running_mean.0"]
    with pytest.raises(ValueError, match="missing layers.1.running_mean.0"):
        model.load_state_dict(missing)


def test_another_momentum_is_another_architecture_for_load(tmp_path):
    trained_model().save(tmp_path / "m.json")
    with pytest.raises(ValueError, match="another architecture"):
        Sequential(Layer(2, 3, rng=0), BatchNorm1d(3, momentum=0.1), LayerNorm(3)).load(tmp_path / "m.json")


# --- interop ------------------------------------------------------------------------------------

def test_torch_modules_come_back_exactly(torch):
    a = trained_model()
    bn = batch_norm_from_torch(batch_norm_to_torch(a.layers[1]))
    assert bn.state_dict() == a.layers[1].state_dict() and repr(bn) == repr(a.layers[1]) and bn.training
    ln = a.layers[2]
    ln.weight[1].data = 0.75
    back = layer_norm_from_torch(layer_norm_to_torch(ln))
    assert back.state_dict() == ln.state_dict() and repr(back) == repr(ln)
    tbn = torch.nn.BatchNorm1d(2, momentum=None, track_running_stats=False, dtype=torch.float64).eval()
    assert repr(batch_norm_from_torch(tbn)) == repr(BatchNorm1d(2, momentum=None, track_running_stats=False))
    assert not batch_norm_from_torch(tbn).training
    with pytest.raises(ValueError, match="2 dimensions"):
        layer_norm_from_torch(torch.nn.LayerNorm((2, 3)))
    with pytest.raises(TypeError, match="converts a BatchNorm1d"):
        batch_norm_to_torch(ln)
    with pytest.raises(TypeError, match="torch.nn.LayerNorm"):
        layer_norm_from_torch(tbn)


# --- errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: LayerNorm(0), ValueError, "normalized_shape must be a positive int"),
    (lambda: LayerNorm((2, 3)), ValueError, "an int n or"),
    (lambda: LayerNorm(2, eps=0.0), ValueError, "eps must be a positive number"),
    (lambda: LayerNorm(2, elementwise_affine=1), TypeError, "True or False"),
    (lambda: BatchNorm1d(2.0), ValueError, "num_features must be a positive int"),
    (lambda: BatchNorm1d(2, eps=-1), ValueError, "eps must be a positive number"),
    (lambda: BatchNorm1d(2, momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\] or None"),
    (lambda: BatchNorm1d(2, momentum="0.1"), ValueError, "momentum"),
    (lambda: BatchNorm1d(2, affine="yes"), TypeError, "affine must be True or False"),
])
def test_bad_arguments_are_refused_at_construction(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("module, x, error, match", [
    (LayerNorm(3), [1.0, 2.0], ValueError, "expects 3 features per sample, got 2"),
    (LayerNorm(2), [1.0, "a"], TypeError, "feature 1 must be a Value or a real number"),
    (LayerNorm(2), 1.0, TypeError, "takes a list of 2 Values"),
    (BatchNorm1d(2), [1.0, 2.0], ValueError, "expected more than 1 value per channel when training"),
    (BatchNorm1d(2), [[1.0, 2.0]], ValueError, "expected more than 1 value per channel when training, got a batch of 1"),
    (BatchNorm1d(2), [[1.0, 2.0], [1.0]], ValueError, "sample 1, expects 2 features per sample, got 1"),
    (BatchNorm1d(2), [], ValueError, "got a batch of 0 samples"),
    (BatchNorm1d(2), "ab", TypeError, "takes a batch"),
    (BatchNorm1d(2).eval(), [1.0, 2.0, 3.0], ValueError, "expects 2 features per sample, got 3"),
    (BatchNorm1d(2, track_running_stats=False).eval(), [1.0, 2.0], ValueError, "more than 1 value per channel"),
])
def test_wrong_inputs_get_a_clear_error(module, x, error, match):
    with pytest.raises(error, match=match):
        module(x)


def test_an_mlp_runs_a_batch_sample_by_sample():
    model = MLP(2, [3, 2], rng=0)
    xs = [[0.5, 1.0], [-1.0, 2.0]]
    assert data(model.batch(xs)) == [data(model(x)) for x in xs]


def test_a_sequential_with_norm_layers_goes_to_torch_and_back(torch):
    from micrograd.interop import from_torch, to_torch
    from micrograd.nn import Layer, Sequential
    model = Sequential(Layer(3, 4, rng=1), BatchNorm1d(4), LayerNorm(4), Layer(4, 2, nonlin=False, rng=2))
    rows = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-2.0, 1.0, 0.0]]
    model.batch([[Value(x) for x in r] for r in rows])  # a training step moves the running statistics
    model.eval()
    net = to_torch(model)
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "BatchNorm1d", "LayerNorm", "Linear"]
    ours = [[v.data for v in out] for out in model.batch([[Value(x) for x in r] for r in rows])]
    theirs = net(torch.tensor(rows, dtype=torch.float64)).tolist()
    assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)  # float64 rounding, same formulas
    back = from_torch(net)
    assert back.state_dict() == model.state_dict()  # weights and running statistics, exactly
