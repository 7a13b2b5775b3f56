"""schedules: the closed forms equal torch.optim.lr_scheduler's rates, and micrograd's demo decay."""

import pytest
import torch

from micrograd.schedules import (
    Constant,
    CosineAnnealing,
    ExponentialDecay,
    InverseTimeDecay,
    LinearDecay,
    StepDecay,
)


def torch_rates(make, steps=40, lr=0.5):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("ours,make", [
    (StepDecay(0.5, step_size=7, gamma=0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 7, gamma=0.3)),
    (ExponentialDecay(0.5, gamma=0.9), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    (CosineAnnealing(0.5, T_max=40, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.01)),
])
def test_schedules_match_torch(ours, make):
    assert [ours(t) for t in range(40)] == pytest.approx(torch_rates(make), rel=1e-12)


def test_linear_decay_is_micrograds_and_inverse_time_is_the_classic():
    assert [LinearDecay()(k) for k in range(100)] == [1.0 - 0.9 * k / 100 for k in range(100)]
    assert LinearDecay(0.5, 0.0, steps=10)(5) == 0.25
    assert [InverseTimeDecay(0.1, 0.5)(t) for t in range(3)] == [0.1, 0.1 / 1.5, 0.1 / 2.0]
    assert Constant(0.3)(99) == 0.3
    assert "lr=0.3" in repr(Constant(0.3))


@pytest.mark.parametrize("make", [lambda: Constant(0), lambda: StepDecay(0.1, step_size=0),
                                  lambda: CosineAnnealing(-1, 10), lambda: LinearDecay(steps=0)])
def test_bad_arguments_are_named(make):
    with pytest.raises(ValueError, match="must be a positive number"):
        make()
