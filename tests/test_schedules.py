"""schedules: the closed forms equal torch.optim.lr_scheduler's rates, and micrograd's demo decay."""

import itertools
import math

import pytest

from micrograd.schedules import (
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseTimeDecay,
    LinearDecay,
    StepDecay,
)


def torch_rates(torch, make, steps=40, lr=0.5):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(torch, opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("ours,make", [  # make(torch module, optimiser) -> torch's scheduler
    (StepDecay(0.5, step_size=7, gamma=0.3), lambda t, o: t.optim.lr_scheduler.StepLR(o, 7, gamma=0.3)),
    (ExponentialDecay(0.5, gamma=0.9), lambda t, o: t.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    (CosineAnnealing(0.5, T_max=40, eta_min=0.01),
     lambda t, o: t.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.01)),
])
def test_schedules_match_torch(torch, ours, make):
    assert [ours(t) for t in range(40)] == pytest.approx(torch_rates(torch, make), rel=1e-12)


def test_a_growing_rate_overflows_to_inf_not_to_an_exception():
    assert ExponentialDecay(0.1, gamma=1.5)(2000) == math.inf
    assert StepDecay(0.1, step_size=1, gamma=-1.5)(2001) == -math.inf
    assert StepDecay(0.1, step_size=1, gamma=-1.5)(2000) == math.inf


@pytest.mark.parametrize("steps", [10, 100, 300])
def test_the_demos_linear_decay_falls_over_the_whole_run(steps):
    rates = [LinearDecay(1.0, 0.1, steps)(k) for k in range(steps)]  # as python -m micrograd demo
    assert rates[0] == 1.0 and all(a > b for a, b in itertools.pairwise(rates)) and rates[-1] > 0.1


def test_linear_decay_is_micrograds_and_inverse_time_is_the_classic():
    assert [LinearDecay()(k) for k in range(100)] == [1.0 - 0.9 * k / 100 for k in range(100)]
    assert LinearDecay(0.5, 0.0, steps=10)(5) == 0.25
    # after its steps the rate stays at the end (training longer must not make it negative)
    assert [LinearDecay(1.0, 0.1, steps=10)(t) for t in (10, 11, 50)] == pytest.approx([0.1] * 3, rel=1e-12)
    assert [InverseTimeDecay(0.1, 0.5)(t) for t in range(3)] == [0.1, 0.1 / 1.5, 0.1 / 2.0]
    assert Constant(0.3)(99) == 0.3
    assert "lr=0.3" in repr(Constant(0.3))


@pytest.mark.parametrize("make,match", [
    (lambda: Constant(0), "lr must be a positive number"),
    (lambda: CosineAnnealing(-1, 10), "lr must be a positive number"),
    (lambda: StepDecay(0.1, step_size=0), "step_size must be a positive int"),
    (lambda: LinearDecay(steps=0), "steps must be a positive int"),
    # a fractional count would truncate to 0 and divide by zero at the first call
    (lambda: LinearDecay(steps=0.5), "steps must be a positive int"),
    (lambda: StepDecay(0.1, step_size=0.5), "step_size must be a positive int"),
    (lambda: CosineAnnealing(0.1, T_max=0.5), "T_max must be a positive int"),
    (lambda: InverseTimeDecay(0.1, decay=-0.5), "decay must be a number >= 0"),  # 1 + decay t = 0 at t = 2
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
