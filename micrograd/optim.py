"""Optimisers with ``torch.optim``'s constructor arguments and update rules, in increasing complexity.

Each reproduces its ``torch.optim`` counterpart step for step (same hyperparameters and gradients
give the same parameters, to 1e-12 over 50 steps in the tests): the arithmetic below is torch's
single-tensor implementation, written per scalar, with its fused multiply-adds where rounding
twice would be magnified (centred RMSprop: ``_fma``). Optimisers read ``p.grad`` and update ``p.data``
only; their state lives in lists parallel to the parameters.

>>> from micrograd import Value
>>> w = Value(1.0)
>>> opt = SGD([w], lr=0.1, momentum=0.9)
>>> (w * w).backward()
>>> opt.step()
>>> round(w.data, 12)
0.8
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Any

from .engine import Value

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


def _lerp(start: float, end: float, weight: float, fused: bool = False) -> float:
    """torch.lerp: start + weight (end - start), from the nearer end; ``fused``: rounded once, as
    torch computes it (``_fma``, at a cost: only where a later cancellation magnifies the ulp)."""
    if abs(weight) < 0.5:
        return _fma(weight, end - start, start) if fused else start + weight * (end - start)
    return _fma(start - end, 1.0 - weight, end) if fused else end - (end - start) * (1.0 - weight)


_SPLIT = 134217729.0  # 2^27 + 1: splits a double into two halves of 26 bits (Dekker)


def _fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once: the fused multiply-add torch's ``addcmul`` and ``lerp`` compute.

    ``math.fma`` is Python 3.13+. Here x * y is split exactly into p + e (Dekker's product), and
    ``math.fsum`` rounds p + e + z once. Outside the range where that split is exact, Fractions;
    for inf and nan, IEEE's x * y + z.
    """
    if x == 0.0 or y == 0.0 or not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return x * y + z
    if 1e-140 < abs(x) < 1e140 and 1e-140 < abs(y) < 1e140:
        p = x * y
        c = _SPLIT * x
        x_hi = c - (c - x)
        x_lo = x - x_hi
        c = _SPLIT * y
        y_hi = c - (c - y)
        y_lo = y - y_hi
        e = ((x_hi * y_hi - p) + x_hi * y_lo + x_lo * y_hi) + x_lo * y_lo
        return math.fsum((p, e, z))
    try:
        return float(Fraction(x) * Fraction(y) + Fraction(z))
    except OverflowError:
        return x * y + z


class Optimizer:
    """Base class: holds the parameters and the learning rate ``lr`` (a schedule may change it)."""

    def __init__(self, params: Iterable[Value] | Any, lr: float) -> None:
        if hasattr(params, "parameters"):  # a Module
            params = params.parameters()
        self.params: list[Value] = list(params)
        if not self.params:
            raise ValueError("optimiser got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Value):
                raise TypeError(f"optimiser parameters must be Values, got {type(p).__name__}")
        self.lr = _check(lr, "learning rate", "lr")
        self.steps = 0  # how many step() calls so far

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def _grads(self, weight_decay: float = 0.0, fused: bool = False) -> Iterator[tuple[int, Value, float]]:
        """(i, p, g) per parameter, g = p.grad + weight_decay * p (L2 decay, added to g as torch does;
        ``fused``: rounded once, as torch's grad.add(p, alpha=weight_decay))."""
        grads = [float(p.grad) for p in self.params]  # all read before the first update
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if weight_decay != 0:
                g = _fma(weight_decay, p.data, g) if fused else g + weight_decay * p.data
            yield i, p, g

    def step(self) -> None:
        """Update every parameter's ``.data`` from its ``.grad``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                          if k not in ("params", "steps") and not isinstance(v, list))
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _check(x: Any, what: str, name: str, upper: float | None = None) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not x >= 0.0:
        raise ValueError(f"invalid {what} {name}={x!r}: must be a number >= 0")
    if upper is not None and not x < upper:
        raise ValueError(f"invalid {what} {name}={x!r}: must be < {upper}")
    return float(x)


class SGD(Optimizer):
    """p -= lr * g, with optional momentum (b = m b + (1 - dampening) g), nesterov and weight decay."""

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = _check(momentum, "momentum value", "momentum")
        self.dampening = float(dampening)
        self.weight_decay = _check(weight_decay, "weight_decay value", "weight_decay")
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.nesterov = bool(nesterov)
        self.buffers: list[float] = [0.0] * len(self.params)

    def step(self) -> None:
        lr, m, wd = self.lr, self.momentum, self.weight_decay
        first = self.steps == 0
        for i, p, g in self._grads(wd):
            if m != 0:
                b = g if first else self.buffers[i] * m + (1.0 - self.dampening) * g
                self.buffers[i] = b
                g = g + m * b if self.nesterov else b
            p.data -= lr * g
        self.steps += 1


class Adagrad(Optimizer):
    """s += g^2; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check(lr_decay, "lr_decay value", "lr_decay")
        self.weight_decay = _check(weight_decay, "weight_decay value", "weight_decay")
        self.eps = _check(eps, "epsilon value", "eps")
        self.sums = [_check(initial_accumulator_value, "initial_accumulator_value", "initial_accumulator_value")
                     ] * len(self.params)

    def step(self) -> None:
        self.steps += 1
        clr = self.lr / (1 + (self.steps - 1) * self.lr_decay)
        for i, p, g in self._grads(self.weight_decay):
            s = self.sums[i] = self.sums[i] + g * g
            p.data -= clr * (g / (math.sqrt(s) + self.eps))


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g^2; p -= lr g / (sqrt(v) + eps); optional centering and momentum."""

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr)
        self.alpha = _check(alpha, "alpha value", "alpha")
        self.eps = _check(eps, "epsilon value", "eps")
        self.weight_decay = _check(weight_decay, "weight_decay value", "weight_decay")
        self.momentum = _check(momentum, "momentum value", "momentum")
        self.centered = bool(centered)
        n = len(self.params)
        self.square_avgs, self.grad_avgs, self.buffers = [0.0] * n, [0.0] * n, [0.0] * n

    def step(self) -> None:
        lr, alpha, eps = self.lr, self.alpha, self.eps
        # Centred, v - a^2 cancels when the gradient barely varies, and 1 / sqrt(v - a^2) magnifies
        # an ulp of it: v, a and g are then rounded once where torch rounds once (its fused
        # addcmul, lerp and add). Uncentred, nothing magnifies it, and the plain arithmetic is faster.
        fused = self.centered
        for i, p, g in self._grads(self.weight_decay, fused):
            if fused:
                v = self.square_avgs[i] = _fma((1 - alpha) * g, g, self.square_avgs[i] * alpha)
                a = self.grad_avgs[i] = _lerp(self.grad_avgs[i], g, 1 - alpha, fused=True)
                avg = math.sqrt(_fma(-a, a, v)) + eps
            else:
                v = self.square_avgs[i] = self.square_avgs[i] * alpha + (1 - alpha) * g * g
                avg = math.sqrt(v) + eps
            if self.momentum > 0:
                b = self.buffers[i] = self.buffers[i] * self.momentum + g / avg
                p.data -= lr * b
            else:
                p.data -= lr * (g / avg)
        self.steps += 1


class Adam(Optimizer):
    """m, v: moving averages of g and g^2; p -= lr m_hat / (sqrt(v_hat) + eps) (bias-corrected).

    ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2), as torch.optim.Adam.
    """

    decoupled = False  # AdamW: decay the weights directly instead

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:  # (betas=0.9: len() of a float)
            raise ValueError(f"betas must be a pair, got {betas!r}")
        self.betas = (_check(betas[0], "beta parameter at index 0", "betas[0]", 1.0),
                      _check(betas[1], "beta parameter at index 1", "betas[1]", 1.0))
        self.eps = _check(eps, "epsilon value", "eps")
        self.weight_decay = _check(weight_decay, "weight_decay value", "weight_decay")
        self.amsgrad = bool(amsgrad)
        n = len(self.params)
        self.exp_avgs, self.exp_avg_sqs, self.max_exp_avg_sqs = [0.0] * n, [0.0] * n, [0.0] * n

    def step(self) -> None:
        self.steps += 1
        lr, (beta1, beta2), eps, wd, t = self.lr, self.betas, self.eps, self.weight_decay, self.steps
        step_size = lr / (1 - beta1 ** t)
        bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
        for i, p, g in self._grads(0.0 if self.decoupled else wd):
            if self.decoupled and wd != 0:
                p.data *= 1 - lr * wd
            m = self.exp_avgs[i] = _lerp(self.exp_avgs[i], g, 1 - beta1)
            v = self.exp_avg_sqs[i] = self.exp_avg_sqs[i] * beta2 + (1 - beta2) * g * g
            if self.amsgrad:
                # max keeps its first argument unless another is greater: a nan v stays, as in torch.maximum
                v = self.max_exp_avg_sqs[i] = max(v, self.max_exp_avg_sqs[i])
            p.data -= step_size * (m / (math.sqrt(v) / bias_correction2_sqrt + eps))


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
