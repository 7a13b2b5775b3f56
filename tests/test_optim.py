"""optim: every optimiser's update rule is torch.optim's.

Two checks on every case, listed and drawn:

- the update rule: both sides get the *same* gradients at every step (torch's, copied into our
  ``.grad``), so the same arithmetic must give the same parameters: 1e-12 over 50 steps;
- the whole trajectory: each side takes gradients from its own backward pass. The two backward
  passes may round a gradient differently by an ulp (``math.exp`` against ``torch.exp``, or a
  different order of additions), and an adaptive optimiser can magnify that: see ``trajectory_tol``.
"""

import math
from fractions import Fraction

import pytest
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


def torch_optimiser(torch, name, kwargs):
    ps = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
    return ps, getattr(torch.optim, name)(ps, **kwargs)


def worst_difference(torch, name, kwargs, shared_gradients):
    """Worst |ours - torch| over 50 steps. ``shared_gradients``: both are given torch's gradients
    at every step; otherwise each side differentiates its own loss."""
    ours = [Value(x) for x in START]
    opt = getattr(optim, name)(ours, **kwargs)
    theirs, ref = torch_optimiser(torch, name, kwargs)
    worst = 0.0
    for _ in range(STEPS):
        ref.zero_grad()
        loss_of(theirs, torch.exp).backward()
        opt.zero_grad()
        if shared_gradients:
            for p, t in zip(ours, theirs):
                p.grad = t.grad.item()
        else:
            loss_of(ours, lambda v: v.exp()).backward()
        opt.step()
        ref.step()
        worst = max(worst, *(abs(p.data - t.item()) for p, t in zip(ours, theirs)))
    assert [p.data for p in ours] != START  # it moved
    return worst


def trajectory_tol(kwargs):
    """How far two trajectories may drift when their gradients differ by an ulp.

    The loss's terms are O(10), so the two backward passes agree to about 1e-14 absolute. A step
    of SGD moves a parameter by lr * g, passing that difference on as lr * 1e-14. An adaptive step
    divides g by sqrt(v) + eps, and where the gradient (so v) has passed near zero that divisor is
    as small as eps: the difference grows by up to lr / eps per step. Over 50 steps that gives the
    bound below, which a wrong rule (a missing bias correction, eps in the wrong place, a dropped
    momentum term) exceeds by orders of magnitude on these cases, as the update-rule check shows.
    """
    lr, eps = kwargs["lr"], kwargs.get("eps")
    gain = lr / eps if eps else lr
    return STEPS * max(gain, 1.0) * 1e-14


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
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
DEFAULT_EPS = {"SGD": None, "Adagrad": 1e-10, "RMSprop": 1e-8, "Adam": 1e-8, "AdamW": 1e-8}


def assert_follows_torch(torch, name, kwargs):
    assert worst_difference(torch, name, kwargs, shared_gradients=True) <= 1e-12, (name, kwargs)
    tol = trajectory_tol({"eps": DEFAULT_EPS[name], **kwargs})
    assert worst_difference(torch, name, kwargs, shared_gradients=False) <= tol, (name, kwargs, tol)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_listed_hyperparameters_follow_torch(torch, name, kwargs):
    assert_follows_torch(torch, name, kwargs)


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
@given(case=hyperparameters())
def test_drawn_hyperparameters_follow_torch(torch, case):
    assert_follows_torch(torch, *case)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_a_nan_or_inf_gradient_propagates_as_in_torch(torch, name, kwargs, bad):
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
    # (was a bare OverflowError: int too large to convert to float)
    (lambda: optim.SGD([Value(1.0)], lr=10 ** 400), r"learning rate lr must be within the float range .* 401 digits"),
    (lambda: optim.Adam([Value(1.0)], betas=(0.9, Fraction(10 ** 400))), r"betas\[1\] must be within the float range"),
])
def test_bad_hyperparameters_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_centred_rmsprop_gives_torchs_nan_where_the_variance_rounds_negative(torch):
    """alpha = 0.5 and a constant gradient: v - a^2 is 0 in exact arithmetic, and rounds below 0
    at some step; torch's sqrt gives nan there, and so must every parameter here (no exception,
    no parameter updated when another is not)."""
    kwargs = {"lr": 0.01, "alpha": 0.5, "centered": True}
    ours = [Value(1.0), Value(2.0), Value(3.0)]
    theirs = [torch.tensor(x, dtype=torch.float64) for x in (1.0, 2.0, 3.0)]
    opt, ref = optim.RMSprop(ours, **kwargs), torch.optim.RMSprop(theirs, **kwargs)
    nans = 0
    for _ in range(100):
        for p, t in zip(ours, theirs):
            p.grad, t.grad = 0.001, torch.tensor(0.001, dtype=torch.float64)
        opt.step()
        ref.step()
        got, want = [p.data for p in ours], [t.item() for t in theirs]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12, nan_ok=True)
        nans = max(nans, sum(math.isnan(x) for x in got))
    assert nans == 3  # torch reaches nan on this case, for every parameter at once


@pytest.mark.parametrize("lr", [0.1, 1, "float32", "float64", "int64", "fraction", "decimal"])
def test_any_real_number_type_is_a_learning_rate(lr):
    import decimal
    import fractions

    import numpy as np
    value = {"float32": np.float32(0.1), "float64": np.float64(0.1), "int64": np.int64(1),
             "fraction": fractions.Fraction(1, 10), "decimal": decimal.Decimal("0.1")}.get(lr, lr)
    w = Value(1.0)
    opt = optim.SGD([w], lr=value)
    assert type(opt.lr) is float and opt.lr == float(value)
    opt.lr = value  # as a schedule sets it
    w.grad = 1.0
    opt.step()
    assert w.data == 1.0 - float(value)


def test_a_parameter_listed_twice_is_refused():
    w = Value(1.0)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
