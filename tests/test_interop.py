"""interop: to_torch gives the same function with the same weights; from_torch comes back exactly;
torch_gradients lists PyTorch's gradients in the MLP's parameter order."""

import builtins
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd.interop import from_torch, to_torch, torch_gradients
from micrograd.nn import MLP


def weights(model):
    return [p.data for p in model.parameters()]


@given(nin=st.integers(1, 4), sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       activation=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]), seed=st.integers(0, 99),
       x=st.lists(st.floats(-3, 3), min_size=4, max_size=4))
def test_to_torch_computes_the_same_outputs_and_gradients(torch, nin, sizes, activation, seed, x):
    model = MLP(nin, sizes, activation=activation, rng=seed)
    net = to_torch(model)
    assert all(p.dtype == torch.float64 for p in net.parameters())
    x = x[:nin]
    out = model(x)
    outs = [out] if not isinstance(out, list) else out
    total = outs[0] * 1.0
    for o in outs[1:]:
        total = total + o
    total.backward()
    t = net(torch.tensor(x, dtype=torch.float64))
    t.sum().backward()
    assert [o.data for o in outs] == pytest.approx(t.tolist(), rel=1e-12, abs=1e-15)
    theirs = []
    for linear in [m for m in net if isinstance(m, torch.nn.Linear)]:
        for row, b in zip(linear.weight.grad.tolist(), linear.bias.grad.tolist()):
            theirs += row + [b]
    assert [p.grad for p in model.parameters()] == pytest.approx(theirs, rel=1e-10, abs=1e-14)
    assert torch_gradients(net) == theirs


def test_round_trip_is_exact_and_structural(torch):
    model = MLP(3, [4, 4, 2], activation=["tanh", "relu", "sigmoid"], rng=0)
    net = to_torch(model)
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Linear", "ReLU", "Linear", "Sigmoid"]
    state = random.getstate()
    back = from_torch(net)
    assert random.getstate() == state  # building the MLP did not consume the global generator
    assert repr(back) == repr(model) and weights(back) == weights(model)
    assert [type(m).__name__ for m in to_torch(MLP(2, [16, 16, 1], rng=0))] == [
        "Linear", "ReLU", "Linear", "ReLU", "Linear"]  # micrograd's default: last layer linear


def test_from_torch_accepts_a_network_trained_in_torch(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))  # float32
    model = from_torch(net)
    x = [0.25, -0.5]
    assert model(x).data == pytest.approx(net(torch.tensor([x])).item(), rel=1e-6)


@pytest.mark.parametrize("make,match", [  # make(torch module) -> the network
    (lambda t: t.nn.Sequential(t.nn.ReLU()), "cannot convert ReLU"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Linear(4, 1)), "4 inputs after a layer of 3"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3, bias=False)), "without bias"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.Dropout()), "cannot convert Dropout"),
    (lambda t: t.nn.Sequential(t.nn.Linear(2, 3), t.nn.LeakyReLU(0.2)), "slope"),
    (lambda t: t.nn.Sequential(), "no Linear"),
])
def test_from_torch_names_what_it_cannot_convert(torch, make, match):
    net = make(torch)
    with pytest.raises(ValueError, match=match):
        from_torch(net)


def test_to_torch_rejects_other_things(torch):
    with pytest.raises(TypeError, match="MLP"):
        to_torch([1, 2])
    with pytest.raises(TypeError, match=r"Sequential of Linear layers, got Linear \(wrap"):
        from_torch(torch.nn.Linear(2, 3))


def test_torch_gradients_follow_the_parameter_order_and_count_missing_ones_as_zero(torch):
    model = MLP(2, [3, 1], rng=0)
    net = to_torch(model)
    assert torch_gradients(net) == [0.0] * len(model.parameters())  # no backward pass yet
    x = [0.5, -2.0]
    model(x).backward()
    net(torch.tensor(x, dtype=torch.float64)).sum().backward()
    assert torch_gradients(net) == pytest.approx([p.grad for p in model.parameters()], rel=1e-12, abs=1e-15)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))  # float32
    net[0].weight.grad = torch.tensor([[1.5, 2.5], [3.5, 4.5]])
    net[2].bias.grad = torch.tensor([-1.0])
    # per neuron: weights then bias; a layer's neurons, then the next layer; floats as float64
    assert torch_gradients(net) == [1.5, 2.5, 0.0, 3.5, 4.5, 0.0, 0.0, 0.0, -1.0]


def test_torch_gradients_names_what_it_cannot_read(torch):
    with pytest.raises(TypeError, match="torch_gradients reads a torch.nn.Sequential"):
        torch_gradients(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="no Linear"):
        torch_gradients(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ValueError, match="no bias"):
        torch_gradients(torch.nn.Sequential(torch.nn.Linear(2, 3, bias=False)))


def test_missing_torch_gives_a_clear_message(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ImportError, match="pip install torch==2.13.0"):
        to_torch(MLP(2, [1], rng=0))


# --- convolutional networks: a Sequential of Conv2d, pooling, Flatten, Activation and Layers ------

def conv_net(cin, channels, kernel, padding, pool, act, hidden, size, seed):
    """Conv2d -> Activation -> pool -> Flatten -> Layer -> Layer, sized for a size x size image."""
    from micrograd.conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
    from micrograd.nn import Activation, Layer, Sequential
    side = (size + 2 * padding - kernel) // 1 + 1
    pooled = (side - 2) // 2 + 1
    return Sequential(Conv2d(cin, channels, kernel, padding=padding, rng=seed), Activation(act),
                      {"max": MaxPool2d, "avg": AvgPool2d}[pool](2), Flatten(),
                      Layer(channels * pooled * pooled, hidden, activation=act, rng=seed), Layer(hidden, 2, rng=seed))


@settings(max_examples=15)
@given(cin=st.integers(1, 2), channels=st.integers(1, 3), kernel=st.integers(1, 3), padding=st.integers(0, 1),
       pool=st.sampled_from(["max", "avg"]), act=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]),
       hidden=st.integers(1, 3), seed=st.integers(0, 99))
def test_a_conv_net_goes_to_torch_and_back_exactly(torch, cin, channels, kernel, padding, pool, act, hidden, seed):
    size = 5
    model = conv_net(cin, channels, kernel, padding, pool, act, hidden, size, seed)
    net = to_torch(model)
    torch_act = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU"}[act]
    assert [type(m).__name__ for m in net] == ["Conv2d", torch_act, f"{pool.capitalize()}Pool2d", "Flatten",
                                               "Linear", torch_act, "Linear", "ReLU"]
    assert all(p.dtype == torch.float64 for p in net.parameters())
    image = np.random.default_rng(seed).normal(size=(cin, size, size))
    out = model(image)
    (out[0] - out[1] * 2.0).backward()
    t = net(torch.tensor(image)[None])[0]
    (t[0] - t[1] * 2.0).backward()
    # a convolution sums in another order in torch: rounding apart only
    assert [o.data for o in out] == pytest.approx(t.tolist(), rel=1e-12, abs=1e-14)
    assert [p.grad for p in model.parameters()] == pytest.approx(torch_gradients(net), rel=1e-10, abs=1e-13)
    back = from_torch(net)
    assert repr(back) == repr(model) and weights(back) == weights(model)
    assert back.state_dict() == model.state_dict()


def test_from_torch_accepts_a_conv_net_built_in_torch(torch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, stride=(1, 2), padding=(1, 0)), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2, 1), torch.nn.Flatten(), torch.nn.Linear(8, 2))  # float32
    model = from_torch(net)
    assert repr(model) == ("Sequential(Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 2), padding=(1, 0)), "
                           "Activation('relu'), MaxPool2d(kernel_size=(2, 2), stride=(1, 1)), Flatten(), "
                           "Layer of [LinearNeuron(8), LinearNeuron(8)])")
    image = np.random.default_rng(0).normal(size=(1, 3, 7))  # 2 channels x 3 x 3, pooled to 2 x 2
    want = net(torch.tensor(image, dtype=torch.float32)[None])[0].tolist()
    assert [v.data for v in model(image)] == pytest.approx(want, rel=1e-5)  # torch ran in float32


def test_a_conv_net_reading_flat_rows_goes_to_torch_and_back(torch):
    from micrograd.conv import Conv2d, Flatten, MaxPool2d, Unflatten
    from micrograd.nn import Activation, Layer, Sequential
    model = Sequential(Unflatten(1, 4, 4), Conv2d(1, 2, 3, padding=1, rng=0), Activation("relu"), MaxPool2d(2),
                       Flatten(), Layer(8, 3, activation="linear", rng=0))
    net = to_torch(model)
    assert [type(m).__name__ for m in net][:2] == ["Unflatten", "Conv2d"]
    row = np.random.default_rng(0).normal(size=16)
    out = model(row)
    (out[0] - out[2] * 2.0).backward()
    t = net(torch.tensor(row)[None])[0]
    (t[0] - t[2] * 2.0).backward()
    assert [o.data for o in out] == pytest.approx(t.tolist(), rel=1e-12, abs=1e-14)  # a conv sums in another order
    assert [p.grad for p in model.parameters()] == pytest.approx(torch_gradients(net), rel=1e-10, abs=1e-13)
    back = from_torch(net)
    assert repr(back) == repr(model) and back.state_dict() == model.state_dict()


@pytest.mark.parametrize("make,match", [
    (lambda t: t.nn.Sequential(t.nn.Unflatten(1, (4, 4)), t.nn.Conv2d(1, 1, 3)), "layer 0: Unflatten"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(2, 2, 3, groups=2)), "layer 0: Conv2d with groups=2"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3, dilation=2)), "dilation"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3, padding="same")), "padding='same'"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3, bias=False)), "has a bias"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3), t.nn.MaxPool2d(2, padding=1)), "layer 1: MaxPool2d with padding"),
    (lambda t: t.nn.Sequential(t.nn.AvgPool2d(2, ceil_mode=True)), "ceil_mode"),
    (lambda t: t.nn.Sequential(t.nn.Flatten(0)), "start_dim=0"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3), t.nn.BatchNorm2d(2)), "layer 1: cannot convert BatchNorm2d"),
    (lambda t: t.nn.Sequential(t.nn.Conv2d(1, 2, 3), t.nn.ReLU(), t.nn.Tanh()), "layer 2: cannot convert Tanh"),
])
def test_from_torch_names_the_conv_module_it_cannot_convert(torch, make, match):
    with pytest.raises(ValueError, match=match):
        from_torch(make(torch))


def test_to_torch_names_the_module_it_cannot_convert(torch):
    from micrograd.conv import Flatten
    from micrograd.nn import Dropout, Sequential
    with pytest.raises(TypeError, match="module 1 is a Dropout, which has no converter"):
        to_torch(Sequential(Flatten(), Dropout()))
    with pytest.raises(TypeError, match="an MLP or a Sequential, got Flatten"):
        to_torch(Flatten())
    assert [type(m).__name__ for m in to_torch(Sequential(MLP(2, [3, 1], rng=0)))] == ["Linear", "ReLU", "Linear"]
