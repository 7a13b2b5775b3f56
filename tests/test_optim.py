"""optim: every optimiser follows torch.optim step for step (float64, 50 steps, 1e-12)."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd import Value, optim

STEPS = 50
START = [0.5, -1.2, 2.0, 0.03, -0.7]
TARGET = [1.0, 0.5, -1.5, 0.0, 2.0]


def loss_of(ps, exp):
    """A non-quadratic loss, the same expression for Values and tensors."""
    total = 0
    for i, (p, t) in enumerate(zip(ps, TARGET)):
        d = p - t
        total = total + (i + 1) * d * d + 0.1 * exp(0.3 * p)
    return total


def run_ours(cls, kwargs):
    ps = [Value(x) for x in START]
    opt = cls(ps, **kwargs)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(ps, lambda v: v.exp()).backward()
        opt.step()
        trajectory.append([p.data for p in ps])
    return trajectory


def run_torch(name, kwargs):
    ps = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
    opt = getattr(torch.optim, name)(ps, **kwargs)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(ps, torch.exp).backward()
        opt.step()
        trajectory.append([p.item() for p in ps])
    return trajectory


def assert_same_trajectory(name, kwargs):
    ours = run_ours(getattr(optim, name), kwargs)
    ref = run_torch(name, kwargs)
    worst = max(abs(a - b) for step_a, step_b in zip(ours, ref) for a, b in zip(step_a, step_b))
    assert worst <= 1e-12, (name, kwargs, worst)
    assert ours[-1] != ours[0]  # it moved


CASES = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "betas": (0.5, 0.9), "weight_decay": 0.3, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_listed_hyperparameters_match_torch(name, kwargs):
    assert_same_trajectory(name, kwargs)


unit = st.floats(0.0, 0.95)


@st.composite
def hyperparameters(draw):
    name = draw(st.sampled_from(["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]))
    lr = draw(st.floats(1e-4, 0.05))
    wd = draw(st.sampled_from([0.0, 0.01, 0.2]))
    if name == "SGD":
        momentum = draw(unit)
        nesterov = momentum > 0 and draw(st.booleans())
        dampening = 0.0 if nesterov else draw(unit)
        return name, {"lr": lr, "momentum": momentum, "dampening": dampening, "nesterov": nesterov, "weight_decay": wd}
    if name == "Adagrad":
        return name, {"lr": lr * 10, "lr_decay": draw(st.floats(0, 0.1)), "weight_decay": wd,
                          "initial_accumulator_value": draw(st.floats(0, 1)), "eps": draw(st.sampled_from([1e-10, 1e-6]))}
    if name == "RMSprop":
        return name, {"lr": lr, "alpha": draw(st.floats(0.5, 0.999)), "momentum": draw(unit),
                          "centered": draw(st.booleans()), "weight_decay": wd, "eps": draw(st.sampled_from([1e-8, 1e-3]))}
    return name, {"lr": lr, "betas": (draw(unit), draw(st.floats(0.5, 0.9999))), "weight_decay": wd,
                      "eps": draw(st.sampled_from([1e-8, 1e-4])), "amsgrad": draw(st.booleans())}


@settings(max_examples=25)
@given(hyperparameters())
def test_drawn_hyperparameters_match_torch(case):
    assert_same_trajectory(*case)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_a_nan_or_inf_gradient_propagates_as_in_torch(name, kwargs, bad):
    """No Python exception out of the maths: parameters and state follow torch's IEEE results."""
    ours = [Value(1.0), Value(-0.5)]
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (1.0, -0.5)]
    opt, ref = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    for k in range(5):
        grads = [bad if k == 2 else 0.3, 0.2 * (k + 1)]  # one bad gradient, on one parameter
        for p, t, g in zip(ours, theirs, grads):
            p.grad, t.grad = g, torch.tensor(g, dtype=torch.float64)
        opt.step()
        ref.step()
    same = lambda a, b: a == pytest.approx(b, rel=1e-12, abs=1e-12, nan_ok=True)
    assert same([p.data for p in ours], [t.item() for t in theirs])
    if name in ("Adam", "AdamW") and kwargs.get("amsgrad"):
        assert same(opt.max_exp_avg_sqs, [ref.state[t]["max_exp_avg_sq"].item() for t in theirs])


def test_optimisers_update_data_only_and_accept_a_module():
    from micrograd.nn import MLP
    model = MLP(2, [3, 1], rng=0)
    opt = optim.Adam(model, lr=0.1)
    out = model([1.0, -1.0])
    out.backward()
    before = [p.data for p in model.parameters()]
    grads = [p.grad for p in model.parameters()]
    opt.step()
    assert [p.grad for p in model.parameters()] == grads  # grads untouched
    assert [p.data for p in model.parameters()] != before
    assert all(p._prev == () for p in model.parameters())  # still leaves
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize("make,match", [
    (lambda: optim.SGD([], lr=0.1), "empty"),
    (lambda: optim.SGD([1.0], lr=0.1), "Values"),
    (lambda: optim.SGD([Value(1.0)], lr=-1), "lr"),
    (lambda: optim.SGD([Value(1.0)], lr="fast"), "lr"),
    (lambda: optim.SGD([Value(1.0)], lr=0.1, nesterov=True), "Nesterov"),
    (lambda: optim.Adam([Value(1.0)], betas=(1.0, 0.9)), "betas"),
    (lambda: optim.Adam([Value(1.0)], betas=(0.9,)), "pair"),
    (lambda: optim.Adam([Value(1.0)], betas=0.9), "betas must be a pair, got 0.9"),
    (lambda: optim.RMSprop([Value(1.0)], alpha=-0.1), "alpha"),
    (lambda: optim.Adagrad([Value(1.0)], eps=math.nan), "eps"),
])
def test_bad_hyperparameters_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()
