"""Learning-rate schedules: each is a function of the step number t = 0, 1, 2, ... giving the rate.

Use one by setting the optimiser's rate before each step (``fit`` does it for you)::

    schedule = LinearDecay(1.0, 0.1, steps=100)   # micrograd demo's
    for t in range(100):
        opt.lr = schedule(t)
        ...

The closed forms follow ``torch.optim.lr_scheduler`` (StepLR, ExponentialLR, CosineAnnealingLR)
for t <= T_max.
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "Constant",
    "CosineAnnealing",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LinearDecay",
    "Schedule",
    "StepDecay",
]


class Schedule:
    """A learning rate as a function of the step: ``schedule(t)``."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _positive(x: float, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not x > 0:  # np.float32 too
        raise ValueError(f"{name} must be a positive number, got {x!r}")
    return float(x)


def _count(n: int, name: str) -> int:
    """A positive int: a float such as 0.5 would truncate to 0 and divide by zero at the first call."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return n


def _power(base: float, n: int) -> float:
    """base ** n, +-inf where Python's float power raises OverflowError (IEEE, as torch)."""
    try:
        return base ** n
    except OverflowError:
        return math.copysign(math.inf, base) if n % 2 else math.inf


class Constant(Schedule):
    """lr(t) = lr."""

    def __init__(self, lr: float) -> None:
        self.lr = _positive(lr, "lr")

    def __call__(self, t: int) -> float:
        return self.lr


class LinearDecay(Schedule):
    """lr(t) = start - (start - end) min(t, steps) / steps: micrograd demo's 1.0 - 0.9 k / 100 by default.

    From t = steps on the rate stays at ``end`` (as torch's LinearLR): continuing the line would
    make it negative, and a negative rate climbs the loss.
    """

    def __init__(self, start: float = 1.0, end: float = 0.1, steps: int = 100) -> None:
        self.start, self.end = float(start), float(end)
        self.steps = _count(steps, "steps")

    def __call__(self, t: int) -> float:
        return self.start - (self.start - self.end) * min(t, self.steps) / self.steps


class InverseTimeDecay(Schedule):
    """lr(t) = lr / (1 + decay t): the classic annealing schedule."""

    def __init__(self, lr: float, decay: float) -> None:
        self.lr = _positive(lr, "lr")
        if isinstance(decay, bool) or not isinstance(decay, numbers.Real) or not decay >= 0:
            raise ValueError(f"decay must be a number >= 0, got {decay!r}")  # 1 + decay t = 0 at some t
        self.decay = float(decay)

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.decay * t)


class StepDecay(Schedule):
    """lr(t) = lr gamma^floor(t / step_size) (torch's StepLR)."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr, self.step_size, self.gamma = _positive(lr, "lr"), _count(step_size, "step_size"), float(gamma)

    def __call__(self, t: int) -> float:
        return self.lr * _power(self.gamma, t // self.step_size)


class ExponentialDecay(Schedule):
    """lr(t) = lr gamma^t (torch's ExponentialLR)."""

    def __init__(self, lr: float, gamma: float) -> None:
        self.lr, self.gamma = _positive(lr, "lr"), float(gamma)

    def __call__(self, t: int) -> float:
        return self.lr * _power(self.gamma, t)


class CosineAnnealing(Schedule):
    """lr(t) = eta_min + (lr - eta_min) (1 + cos(pi t / T_max)) / 2 (torch's CosineAnnealingLR)."""

    def __init__(self, lr: float, T_max: int, eta_min: float = 0.0) -> None:
        self.lr, self.T_max, self.eta_min = _positive(lr, "lr"), _count(T_max, "T_max"), float(eta_min)

    def __call__(self, t: int) -> float:
        return self.eta_min + (self.lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
