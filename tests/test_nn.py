"""nn: karpathy's micrograd surface (Neuron, Layer, MLP) and his moons demo, unchanged."""

import random

import numpy as np
import pytest
import torch

from micrograd import Value
from micrograd.__main__ import linear_decay, moons_demo
from micrograd.data import make_moons
from micrograd.nn import MLP, Layer, Module, Neuron


def test_mlp_has_micrograd_parameter_count_and_structure():
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 337
    assert [len(layer.neurons) for layer in model.layers] == [16, 16, 1]
    assert [layer.neurons[0].nonlin for layer in model.layers] == [True, True, False]
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(2)") and "LinearNeuron(16)" in repr(model)


def test_neuron_is_relu_of_affine_and_matches_torch():
    random.seed(0)
    n = Neuron(3)
    assert len(n.w) == 3 and n.b.data == 0.0 and all(-1 <= w.data <= 1 for w in n.w)
    n.b.data = 0.3
    x = [Value(0.5), Value(-1.0), Value(2.0)]
    out = n(x)
    out.backward()
    tw = torch.tensor([w.data for w in n.w], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    tx = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tout = torch.relu(tw @ tx + tb)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    assert [w.grad for w in n.w] == pytest.approx(tw.grad.tolist(), rel=1e-12)
    assert [v.grad for v in x] == pytest.approx(tx.grad.tolist(), rel=1e-12)
    assert not Neuron(2, nonlin=False).nonlin


def test_one_neuron_layer_returns_a_bare_value():
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    out = Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_mlp_accepts_plain_floats_and_matches_torch():
    random.seed(1)
    model = MLP(3, [4, 2])
    x = [0.1, -0.2, 0.3]
    outs = model(x)
    assert isinstance(outs, list) and len(outs) == 2
    (outs[0] * outs[1]).backward()
    # the same network in torch
    layers = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        layers.append((W, b))
    h = torch.tensor(x, dtype=torch.float64)
    for i, (W, b) in enumerate(layers):
        h = W @ h + b
        if i < len(layers) - 1:
            h = torch.relu(h)
    (h[0] * h[1]).backward()
    assert [o.data for o in outs] == pytest.approx(h.tolist(), rel=1e-12)
    for layer, (W, b) in zip(model.layers, layers):
        np.testing.assert_allclose([[w.grad for w in n.w] for n in layer.neurons], W.grad.numpy(),
                                   rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose([n.b.grad for n in layer.neurons], b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_zero_grad_and_module_base():
    model = MLP(2, [3, 1])
    model([1.0, 2.0]).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    assert Module().parameters() == []


def test_micrograd_moons_demo_runs_unchanged_and_trains():
    # The training loop of karpathy's demo.ipynb, verbatim but for the data source.
    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1  # make y be -1 or 1
    model = MLP(2, [16, 16, 1])  # 2-layer neural network

    def loss(batch_size=None):
        # inline DataLoader :)
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(map(Value, xrow)) for xrow in Xb]
        # forward the model to get scores
        scores = list(map(model, inputs))
        # svm "max-margin" loss
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        # L2 regularization
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    for k in range(100):
        # forward
        total_loss, acc = loss()
        # backward
        model.zero_grad()
        total_loss.backward()
        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    assert acc >= 0.99 and total_loss.data < 0.05


def test_demo_command_reaches_full_accuracy_as_the_readme_says(capsys):
    loss, acc = moons_demo()
    out = capsys.readouterr().out
    assert acc == 1.0 and loss < 0.02
    assert "337 parameters" in out and "step 100/100" in out and "accuracy 100%" in out


@pytest.mark.parametrize("steps", [10, 100, 300])
def test_demo_learning_rate_decays_over_the_whole_run(steps):
    rates = [linear_decay(k, steps) for k in range(steps)]
    assert rates[0] == 1.0 and all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] > 0.1
    assert linear_decay(90, 100) == pytest.approx(1.0 - 0.9 * 90 / 100)  # micrograd's own schedule


def test_demo_command_line(capsys):
    from micrograd.__main__ import main
    assert main(["demo", "--steps", "2"]) == 0
    assert "step   2/2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])
