"""Optimisers with ``torch.optim``'s constructor arguments and update rules, in increasing complexity.

Each reproduces its ``torch.optim`` counterpart step for step (same hyperparameters and gradients
give the same parameters, to 1e-12 over 50 steps in the tests): the arithmetic below is torch's
single-tensor implementation, with its fused multiply-adds where rounding twice would be magnified
(centred RMSprop: :func:`micrograd.fused.fma_arrays`).

Each rule is written once, on float64 arrays (``update(data, grad)``: one entry per parameter),
and serves both paths: ``step()`` gathers the scalar Values' ``.data`` and ``.grad`` into arrays,
runs the rule and writes every ``.data`` back; compiled training (:func:`micrograd.training`)
keeps the parameters in arrays and calls the rule on them directly. The state (momentum buffers,
moving averages) is arrays parallel to the parameters. numpy's IEEE arithmetic gives torch's inf
and nan where float maths would raise (sqrt of a rounded-negative variance), and a step computes
every new number before it writes any: a parameter list is never half-updated.

>>> from micrograd import Value
>>> w = Value(1.0)
>>> opt = SGD([w], lr=0.1, momentum=0.9)
>>> (w * w).backward()
>>> opt.step()
>>> round(w.data, 12)
0.8
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .engine import Value
from .fused import fma_arrays
from .scalars import is_real, to_float

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


def _fused_lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp: start + weight (end - start), from the nearer end, rounded once as torch computes
    it (``fma_arrays``, at a cost: only where a later cancellation magnifies the ulp)."""
    if abs(weight) < 0.5:
        return fma_arrays(weight, end - start, start)
    return fma_arrays(start - end, 1.0 - weight, end)


def _lerp_into(out: np.ndarray, start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray) -> None:
    """out = torch.lerp(start, end, weight) rounded step by step: start + weight (end - start), or
    end - (end - start) (1 - weight) from the nearer end, into ``out``, ``work`` its scratch."""
    np.subtract(end, start, out=work)
    if abs(weight) < 0.5:
        np.multiply(weight, work, out=work)
        np.add(start, work, out=out)
    else:
        np.multiply(work, 1.0 - weight, out=work)
        np.subtract(end, work, out=out)


def _check(x: Any, what: str, name: str, upper: float | None = None) -> float:
    """x as a float: any real number (int, float, Fraction, Decimal, numpy's float32 ...: the rule
    of scalars.py) that is >= 0 (< upper); beyond the float range, a ValueError naming it."""
    if isinstance(x, (bool, np.bool_)) or not is_real(x):
        raise ValueError(f"invalid {what} {name}={x!r}: must be a number >= 0")
    f = to_float(x, f"{what} {name}")
    if not f >= 0.0:
        raise ValueError(f"invalid {what} {name}={x!r}: must be a number >= 0")
    if upper is not None and not f < upper:
        raise ValueError(f"invalid {what} {name}={x!r}: must be < {upper}")
    return f


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
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("optimiser got a parameter more than once: it would be updated twice per step")
        self.lr = lr
        self.steps = 0  # how many steps so far

    @property
    def lr(self) -> float:
        """The learning rate: a real number >= 0, checked when it is set."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check(value, "learning rate", "lr")

    def _state(self) -> np.ndarray:
        """A state array, one zero per parameter."""
        return np.zeros(len(self.params))

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter's ``.data`` from its ``.grad``: the rule on arrays, written back."""
        n = len(self.params)
        data = np.fromiter([p.data for p in self.params], np.float64, n)
        grad = np.fromiter([p.grad for p in self.params], np.float64, n)
        self.update(data, grad)
        for p, x in zip(self.params, data.tolist()):
            p.data = x

    def update(self, data: np.ndarray, grad: np.ndarray) -> None:
        """One step of the rule on arrays: ``data`` (one float64 per parameter, in order) updated
        in place from ``grad``; every new number is computed before any is written."""
        with np.errstate(all="ignore"):
            self._rule(data, grad)
        self.steps += 1

    def _rule(self, data: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k.lstrip('_')}={v!r}" for k, v in vars(self).items()
                          if k not in ("params", "steps") and not isinstance(v, (list, np.ndarray)))
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


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
        self.buffers = self._state()

    def _rule(self, data: np.ndarray, grad: np.ndarray) -> None:
        m, wd = self.momentum, self.weight_decay
        g = grad + wd * data if wd != 0 else grad
        if m != 0:
            b = g.copy() if self.steps == 0 else self.buffers * m + (1.0 - self.dampening) * g
            g = g + m * b if self.nesterov else b
            self.buffers = b
        data -= self.lr * g


class Adagrad(Optimizer):
    """s += g^2; p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check(lr_decay, "lr_decay value", "lr_decay")
        self.weight_decay = _check(weight_decay, "weight_decay value", "weight_decay")
        self.eps = _check(eps, "epsilon value", "eps")
        self.sums = self._state() + _check(initial_accumulator_value, "initial_accumulator_value",
                                           "initial_accumulator_value")

    def _rule(self, data: np.ndarray, grad: np.ndarray) -> None:
        clr = self.lr / (1 + self.steps * self.lr_decay)
        wd = self.weight_decay
        g = grad + wd * data if wd != 0 else grad
        s = self.sums + g * g
        update = clr * (g / (np.sqrt(s) + self.eps))
        self.sums = s
        data -= update


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
        self.square_avgs, self.grad_avgs, self.buffers = self._state(), self._state(), self._state()

    def _rule(self, data: np.ndarray, grad: np.ndarray) -> None:
        alpha, wd = self.alpha, self.weight_decay
        # Centred, v - a^2 cancels when the gradient barely varies, and 1 / sqrt(v - a^2) magnifies
        # an ulp of it: v, a and g are then rounded once where torch rounds once (its fused
        # addcmul, lerp and add). Uncentred, nothing magnifies it, and the plain arithmetic is faster.
        if self.centered:
            g = fma_arrays(wd, data, grad) if wd != 0 else grad
            v = fma_arrays((1 - alpha) * g, g, self.square_avgs * alpha)
            a = _fused_lerp(self.grad_avgs, g, 1 - alpha)
            avg = np.sqrt(fma_arrays(-a, a, v)) + self.eps  # nan where v - a^2 rounds below 0, as torch
            self.grad_avgs = a
        else:
            g = grad + wd * data if wd != 0 else grad
            v = self.square_avgs * alpha + (1 - alpha) * g * g
            avg = np.sqrt(v) + self.eps
        self.square_avgs = v
        if self.momentum > 0:
            b = self.buffers = self.buffers * self.momentum + g / avg
            data -= self.lr * b
        else:
            data -= self.lr * (g / avg)


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
        self.exp_avgs, self.exp_avg_sqs, self.max_exp_avg_sqs = self._state(), self._state(), self._state()
        # the arrays the next step computes m and v into (then swapped with the state), and its
        # scratch: a step allocates nothing
        self._next_m, self._next_v, self._work = self._state(), self._state(), self._state()

    def _rule(self, data: np.ndarray, grad: np.ndarray) -> None:
        lr, (beta1, beta2), eps, wd, t = self.lr, self.betas, self.eps, self.weight_decay, self.steps + 1
        step_size = lr / (1 - beta1 ** t)
        bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
        g = grad + wd * data if wd != 0 and not self.decoupled else grad
        m, v, work = self._next_m, self._next_v, self._work
        _lerp_into(m, self.exp_avgs, g, 1 - beta1, work)
        np.multiply(self.exp_avg_sqs, beta2, out=v)  # v = exp_avg_sq * beta2 + ((1 - beta2) * g) * g
        np.multiply(1 - beta2, g, out=work)
        np.multiply(work, g, out=work)
        np.add(v, work, out=v)
        self._next_m, self._next_v = self.exp_avgs, self.exp_avg_sqs
        self.exp_avgs, self.exp_avg_sqs = m, v
        if self.amsgrad:
            v = self.max_exp_avg_sqs = np.maximum(self.max_exp_avg_sqs, v)  # nan from either, as torch
        if self.decoupled and wd != 0:
            data *= 1 - lr * wd
        np.sqrt(v, out=work)  # data -= step_size * (m / (sqrt(v) / bias_correction2_sqrt + eps))
        np.divide(work, bias_correction2_sqrt, out=work)
        np.add(work, eps, out=work)
        np.divide(m, work, out=work)
        np.multiply(step_size, work, out=work)
        data -= work


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Iterable[Value] | Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
