"""nn: karpathy's micrograd surface (Neuron, Layer, MLP) and his moons demo, unchanged; then the rest
of the module kit (names, activations, init, dropout, modes; saving: test_saving.py)."""

import gc
import math
import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from micrograd import Value
from micrograd.__main__ import moons_demo
from micrograd.data import make_moons
from micrograd.nn import MLP, Dropout, Layer, Module, Neuron, Sequential


def test_mlp_has_micrograd_parameter_count_and_structure():
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 337
    assert [len(layer.neurons) for layer in model.layers] == [16, 16, 1]
    assert [layer.neurons[0].nonlin for layer in model.layers] == [True, True, False]
    assert repr(model).startswith("MLP of [Layer of [ReLUNeuron(2)") and "LinearNeuron(16)" in repr(model)


@pytest.mark.parametrize("make", [lambda: MLP(2, [16, 16, 1], rng=0),
                                  lambda: Sequential(Layer(2, 16, rng=0), Layer(16, 16, rng=1), Layer(16, 1, rng=2))])
def test_a_loop_of_model_calls_runs_no_collection(make):
    # The model pauses the cycle collector without allocating anything, so the collector (which
    # counts allocations while paused too) first runs after the loop, not at every call's start.
    model = make()
    inputs = [[0.5, -0.25]] * 20  # 20 calls of ~640 new nodes each, far past the collector's threshold
    assert 20 * 640 > gc.get_threshold()[0]
    runs = []
    def note(phase, info):
        runs.append(phase)
    gc.collect()
    gc.callbacks.append(note)
    try:
        scores = list(map(model, inputs))
    finally:
        gc.callbacks.remove(note)
    assert runs == [] and len(scores) == 20 and gc.isenabled()


def test_neuron_is_relu_of_affine_and_matches_torch(torch):
    random.seed(0)
    n = Neuron(3)
    assert len(n.w) == 3 and n.b.data == 0.0 and all(-1 <= w.data <= 1 for w in n.w)
    n.b.data = 0.3
    x = [Value(-0.5), Value(1.0), Value(-2.0)]  # w . x + b = 0.79 > 0: the ReLU passes values and gradients
    out = n(x)
    out.backward()
    tw = torch.tensor([w.data for w in n.w], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    tx = torch.tensor([-0.5, 1.0, -2.0], dtype=torch.float64, requires_grad=True)
    tout = torch.relu(tw @ tx + tb)
    tout.backward()
    assert out.data > 0 and out.data == pytest.approx(tout.item(), rel=1e-12)
    assert n.b.grad == tb.grad.item() == 1.0
    assert [w.grad for w in n.w] == pytest.approx(tw.grad.tolist(), rel=1e-12)
    assert [v.grad for v in x] == pytest.approx(tx.grad.tolist(), rel=1e-12)
    assert not Neuron(2, nonlin=False).nonlin


def test_one_neuron_layer_returns_a_bare_value():
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    out = Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_mlp_accepts_plain_floats_and_matches_torch(torch):
    random.seed(4)  # 3 of the 4 hidden ReLUs active on x (with seed 1 all were 0: nothing was compared)
    model = MLP(3, [4, 2])
    x = [0.1, -0.2, 0.3]
    outs = model(x)
    assert isinstance(outs, list) and len(outs) == 2
    assert sum(n(x).data > 0 for n in model.layers[0].neurons) == 3 and all(o.data != 0 for o in outs)
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
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    # The first 15 of its 100 steps: they run, and the loss falls. (The whole run reaching 100% is
    # test_demo_command_reaches_full_accuracy_as_the_readme_says; the same numbers as this loop,
    # test_main's test_moons_demo_through_fit_is_the_hand_written_loop_bit_for_bit.)
    first = None
    for k in range(15):
        # forward
        total_loss, acc = loss()
        first = first or (total_loss.data, acc)
        # backward
        model.zero_grad()
        total_loss.backward()
        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
    assert total_loss.data < 0.5 * first[0] and acc > first[1]


def test_demo_command_reaches_full_accuracy_as_the_readme_says(capsys):
    # Trained through the compiled tape, whose fit equals the scalar one to 1e-10 (test_train), so
    # the 100 steps take a fraction of a second rather than ten.
    loss, acc = moons_demo(compiled=True)
    out = capsys.readouterr().out
    assert acc == 1.0 and loss < 0.02
    assert "337 parameters" in out and "step 100/100" in out and "accuracy 100%" in out


def test_demo_command_line(capsys):
    from micrograd.__main__ import main
    assert main(["demo", "--steps", "2"]) == 0
    assert "step   2/2" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])


# --- beyond micrograd: names, activations, init, dropout, modes ---------------------------------

def test_default_weights_are_micrographs_draws_from_the_global_generator():
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    random.seed(1337)
    expected = []
    for nin, nout in [(2, 16), (16, 16), (16, 1)]:  # micrograd: uniform(-1, 1) per weight, bias 0
        for _ in range(nout):
            expected += [random.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert [p.data for p in model.parameters()] == expected


def test_named_parameters_have_dotted_names_in_parameters_order():
    model = MLP(3, [4, 2], rng=0)
    named = model.named_parameters()
    assert [p for _, p in named] == model.parameters()
    assert named[0][0] == "layers.0.neurons.0.w.0" and named[3][0] == "layers.0.neurons.0.b"
    assert dict(named)["layers.1.neurons.1.w.3"] is model.layers[1].neurons[1].w[3]
    assert len({n for n, _ in named}) == len(named) == 4 * 4 + 2 * 5
    for m in [Neuron(3), Layer(3, 2)]:
        assert [p for _, p in m.named_parameters()] == m.parameters()
    assert Neuron(2).named_parameters()[2][0] == "b"


def test_a_shared_layer_is_one_set_of_parameters_stepped_once_as_in_torch(torch):
    from micrograd.optim import SGD
    layer = Layer(2, 2, nonlin=False, rng=0)
    net = Sequential(layer, layer)  # the same weights applied twice
    assert net.parameters() == layer.parameters() and len(net.state_dict()) == 6
    lin = torch.nn.Linear(2, 2, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64))
        lin.bias.zero_()
    tnet = torch.nn.Sequential(lin, lin)
    for model, x, opt in [(net, [0.5, -1.0], SGD(net, lr=0.1)),
                          (tnet, torch.tensor([0.5, -1.0], dtype=torch.float64),
                           torch.optim.SGD(tnet.parameters(), lr=0.1))]:
        out = model(x)
        (out[0] + 2.0 * out[1]).backward()
        opt.step()
    assert [p.data for p in layer.parameters()] == pytest.approx(
        [x for row, b in zip(lin.weight.tolist(), lin.bias.tolist()) for x in [*row, b]], rel=1e-12)


def test_a_module_of_my_own_finds_its_parameters():
    class Affine(Module):
        def __init__(self):
            self.scale = Value(2.0)
            self.inner = [Layer(2, 2, rng=0)]
            self.note = "not a parameter"

    m = Affine()
    assert [n for n, _ in m.named_parameters()][:2] == ["scale", "inner.0.neurons.0.w.0"]
    assert len(m.parameters()) == 1 + 6
    assert repr(m) == "Affine(scale=Value, inner=[Layer of [ReLUNeuron(2), ReLUNeuron(2)]])"
    m.inner = Neuron(2, rng=0).w
    assert repr(m) == "Affine(scale=Value, inner=[2 Values])" and repr(Module()) == "Module()"


ACTIVATIONS = [  # name, and torch's function of that name (t is the torch module, x a tensor)
    ("relu", lambda t, x: t.relu(x)), ("tanh", lambda t, x: t.tanh(x)), ("sigmoid", lambda t, x: t.sigmoid(x)),
    ("leaky_relu", lambda t, x: t.nn.functional.leaky_relu(x, 0.01)), ("linear", lambda t, x: x)]


@pytest.mark.parametrize("activation,torch_fn", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_each_activation_matches_torch(torch, activation, torch_fn):
    model = MLP(3, [5, 4, 2], activation=activation, rng=3)
    x = [0.4, -0.9, 1.3]
    outs = model(x)
    (outs[0] * 2.0 + outs[1]).backward()
    h = torch.tensor(x, dtype=torch.float64)
    params = []
    for i, layer in enumerate(model.layers):
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        params += [W, b]
        h = W @ h + b
        if i < len(model.layers) - 1:
            h = torch_fn(torch, h)
    (h[0] * 2.0 + h[1]).backward()
    assert [o.data for o in outs] == pytest.approx(h.tolist(), rel=1e-12)
    ours = [p.grad for p in model.parameters()]
    theirs = [g for W, b in zip(params[::2], params[1::2])
              for row, gb in zip(W.grad.tolist(), b.grad.tolist()) for g in row + [gb]]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)
    assert repr(model.layers[0].neurons[0]).endswith("Neuron(3)")


def test_activation_per_layer_and_reprs():
    model = MLP(2, [3, 3, 1], activation=["tanh", "sigmoid", "relu"], rng=0)
    assert [layer.neurons[0].activation for layer in model.layers] == ["tanh", "sigmoid", "relu"]
    assert repr(model.layers[0]) == "Layer of [TanhNeuron(2), TanhNeuron(2), TanhNeuron(2)]"
    assert Neuron(2, nonlin=False).activation == "linear" and Neuron(2).activation == "relu"


@pytest.mark.parametrize("init,variance", [
    ("uniform", lambda i, o: 1 / 3), ("xavier", lambda i, o: 2 / (i + o)), ("glorot", lambda i, o: 2 / (i + o)),
    ("he", lambda i, o: 2 / i), ("kaiming", lambda i, o: 2 / i), ("lecun", lambda i, o: 1 / i)])
def test_init_schemes_have_their_variance(init, variance):
    nin, nout = 50, 200
    layer = Layer(nin, nout, init=init, rng=0)
    w = np.array([w.data for n in layer.neurons for w in n.w])
    bound = math.sqrt(3 * variance(nin, nout))  # uniform(-a, a) has variance a^2 / 3
    assert np.abs(w).max() <= bound
    assert w.var() == pytest.approx(variance(nin, nout), rel=0.05)
    assert all(n.b.data == 0.0 for n in layer.neurons)


def test_seed_or_generator_makes_init_reproducible_and_leaves_global_random_alone():
    random.seed(5)
    state = random.getstate()
    a, b = MLP(2, [4, 1], rng=7), MLP(2, [4, 1], rng=random.Random(7))
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert random.getstate() == state
    assert [p.data for p in MLP(2, [4, 1], rng=8).parameters()] != [p.data for p in a.parameters()]


@pytest.mark.parametrize("make,match", [
    (lambda: MLP(2, [16, 1], activation="swish"), "activation"),
    (lambda: MLP(2, [16, 1], activation=["relu"]), "one per layer"),
    (lambda: MLP(2, [16, 1], init="zeros"), "init"),
    (lambda: MLP(2, [16, 1], rng="seed"), "rng"),
    (lambda: MLP(0, [1]), "nin"),
    (lambda: MLP(2, [0]), "layer size"),
    (lambda: MLP(2, []), "at least one"),
    (lambda: Dropout(1.5), "probability"),
    (lambda: Dropout(math.nan), "probability"),
    (lambda: Dropout("0.5"), "probability"),
    (lambda: MLP(2, [1], activation="foo"), "unknown activation 'foo'"),  # one layer: no hidden activation
    (lambda: MLP(2, [4, 1], activation=5), "activation: give one name, or one per layer"),
    (lambda: MLP(2, 3), "nouts must be a list of layer sizes, e.g. \\[16, 16, 1\\], got int 3"),
    (lambda: MLP(2, "3"), "nouts must be a list of layer sizes"),
    (lambda: MLP(2, [10 ** 400]), "layer size must be a positive int of at most"),
    (lambda: MLP(10 ** 9, [1]), "nin must be a positive int of at most"),
    (lambda: Neuron(2, init="xavier", fan_out=-5), "fan_out must be a positive int"),
    # a function among the modules: named_parameters skipped the whole list (0 parameters to train)
    # and its repr held a memory address (no file saved from it would load in another run)
    (lambda: Sequential(Layer(2, 3), lambda xs: [x.tanh() for x in xs], Layer(3, 1)), "takes modules, got function"),
])
def test_bad_construction_is_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_dropout_in_training_mode_only_and_scaled():
    drop = Dropout(0.25, rng=0)
    xs = [Value(1.0) for _ in range(4000)]
    out = drop(xs)
    kept = [o.data for o in out if o.data != 0.0]
    assert set(kept) == {1.0 / 0.75}
    assert len(kept) / len(xs) == pytest.approx(0.75, abs=0.03)
    out[0].backward()
    assert xs[0].grad == out[0].data  # the multiplier is a constant: d out / d x = mask / (1 - p)
    drop.eval()
    assert drop(xs) is xs and drop(xs[0]) is xs[0]
    assert Dropout(1.0, rng=0)([Value(3.0)])[0].data == 0.0


def test_train_and_eval_reach_every_module():
    net = Sequential(Layer(2, 8, rng=0), Dropout(0.5, rng=1), Layer(8, 1, nonlin=False, rng=2))
    assert net.training and all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules()) and len(list(net.modules())) == 4 + 8 + 1
    x = [0.5, -0.5]
    assert net(x).data == net(x).data  # no dropout in eval mode
    net.train()
    assert all(m.training for m in net.modules())
    assert len(net.parameters()) == 8 * 3 + 9


def test_modules_lists_a_shared_module_once_as_torch_does():
    """torch.nn.Module.modules() visits a module shared by two places once; so does ours."""
    shared = Layer(2, 2, rng=0)
    net = Sequential(shared, Layer(2, 2, rng=1), shared)
    mods = list(net.modules())
    assert [id(m) for m in mods] == [id(m) for _, m in net.named_modules()]
    assert sum(m is shared for m in mods) == 1 and len(mods) == 1 + (1 + 2) + (1 + 2)


# --- state dicts and files ----------------------------------------------------------------------

def test_a_hidden_layer_of_one_neuron_feeds_the_next_and_inputs_may_be_tuples_or_arrays():
    model = MLP(2, [1, 2], rng=0)  # the one-neuron layer returns a bare Value
    out = model([0.5, -0.5])
    assert [o.data for o in model((0.5, -0.5))] == [o.data for o in out]
    assert [o.data for o in model(np.array([0.5, -0.5]))] == [o.data for o in out]
    assert MLP(1, [2, 1], rng=0)(0.5).data == MLP(1, [2, 1], rng=0)([0.5]).data


@pytest.mark.parametrize("x,match", [([1.0], "2 inputs got 1 values"), ([1.0, 2.0, 3.0], "got 3 values"),
                                     (1.0, "got a float"), ([], "got 0 values"),
                                     ([1.0, "2"], "input 1 must be a real number .* got str"),
                                     ([[1.0], [2.0]], "input 0 must be a real number .* got list"),
                                     ([1.0, 10 ** 400], "input 1 must be within the float range")])
@pytest.mark.parametrize("module", ["MLP", "Layer", "Neuron"])
def test_wrong_inputs_are_named(x, match, module):
    model = {"MLP": MLP(2, [3, 1], rng=0), "Layer": Layer(2, 3, rng=0), "Neuron": Neuron(2, rng=0)}[module]
    with pytest.raises((ValueError, TypeError), match=match):
        model(x)


def test_numbers_of_any_kind_are_their_nearest_float():
    model = MLP(2, [1], rng=0)
    model.load_state_dict({name: Fraction(1, 3) if name.endswith("b") else Decimal("0.25")
                           for name in model.state_dict()})
    assert model.state_dict() == {"layers.0.neurons.0.w.0": 0.25, "layers.0.neurons.0.w.1": 0.25,
                                  "layers.0.neurons.0.b": 1 / 3}
    assert model([Fraction(1, 2), Decimal(2)]).data == 0.25 * 0.5 + 0.25 * 2 + 1 / 3
    assert Dropout(Fraction(1, 2)).p == 0.5


def test_activation_applies_to_every_value_of_nested_lists():
    from micrograd.nn import Activation
    x = [[[Value(-1.0), 2.0]], [[Value(0.5)]]]
    out = Activation("relu")(x)
    assert [[[v.data for v in row] for row in c] for c in out] == [[[0.0, 2.0]], [[0.5]]]
    assert Activation("tanh")(Value(0.5)).data == math.tanh(0.5)
    assert [v.data for v in Activation("sigmoid")(np.zeros(2))] == [0.5, 0.5]
    assert repr(Activation()) == "Activation('relu')" and Activation().parameters() == []
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        Activation("gelu")
