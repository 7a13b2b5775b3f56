"""Normalisation layers written with Values: :class:`LayerNorm` and :class:`BatchNorm1d`, as
``torch.nn.LayerNorm`` and ``torch.nn.BatchNorm1d`` in value and gradient.

LayerNorm normalises the features of one sample, so it runs sample by sample like every other
module. BatchNorm1d in training mode normalises each feature over a batch, which a model called
one sample at a time never sees; so its call takes the batch: a list of N samples, each a list of
C Values (or numbers), and returns the same shape (torch's (N, C) input). In eval mode it uses
its running statistics, and one sample (a list of C Values) works too. A model holding it is
called on a batch with ``model.batch(samples)`` (``Module.batch``: ``Sequential`` passes the whole
batch from layer to layer), which is what ``fit`` calls.

The running statistics are buffers (``Module.buffers``): plain floats, updated outside the graph,
saved and loaded with the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from . import modes
from .engine import Value
from .module import Module, check_size
from .scalars import describe, is_real, to_float
from .tape import TracingError

__all__ = ["BatchNorm1d", "LayerNorm"]


def _positive(x: Any, what: str) -> float:
    """``x`` as a float if it is a real number > 0, else a ValueError naming ``what``."""
    if isinstance(x, bool) or not is_real(x) or not to_float(x, what) > 0:
        raise ValueError(f"{what} must be a positive number, got {describe(x)}")
    return to_float(x, what)


def _flag(x: Any, what: str) -> bool:
    if not isinstance(x, bool):
        raise TypeError(f"{what} must be True or False, got {describe(x)}")
    return x


def _sample(x: Any, n: int, who: str) -> list[Value]:
    """One sample as n Values (numbers lifted to constant leaves); a ValueError for another size."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence) and not hasattr(x, "tolist"):
        raise TypeError(f"{who} takes a list of {n} Values (one sample), got {type(x).__name__} {describe(x)}")
    items = x.tolist() if hasattr(x, "tolist") else list(x)
    if len(items) != n:
        raise ValueError(f"{who} expects {n} features per sample, got {len(items)}")
    out = []
    for i, xi in enumerate(items):
        if isinstance(xi, Value):
            out.append(xi)
        elif isinstance(xi, bool) or not is_real(xi):
            raise TypeError(f"{who}: feature {i} must be a Value or a real number, got {type(xi).__name__} "
                            f"{describe(xi)}")
        else:
            out.append(Value(to_float(xi, f"feature {i}")))
    return out


def _normalise(xs: list[Value], eps: float) -> list[Value]:
    """(x - mean) / sqrt(var + eps) over ``xs``, with the biased variance (divided by n)."""
    inv_n = 1.0 / len(xs)
    mean = sum(xs) * inv_n
    centred = [x - mean for x in xs]
    var = sum(c * c for c in centred) * inv_n
    scale = (var + eps) ** -0.5
    return [c * scale for c in centred]


class LayerNorm(Module):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias over the features of one sample
    (var biased: divided by n), as ``torch.nn.LayerNorm(n)``; weight starts at 1, bias at 0."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        shape = normalized_shape
        if isinstance(shape, (list, tuple)) and len(shape) == 1:  # torch's (n,)
            shape = shape[0]
        if isinstance(normalized_shape, (list, tuple)) and len(normalized_shape) != 1:
            raise ValueError(f"LayerNorm normalises a list of Values: normalized_shape must be an int n or (n,), "
                             f"got {normalized_shape!r}")
        self.normalized_shape = check_size(shape, "normalized_shape")
        self.eps = _positive(eps, "eps")
        self.elementwise_affine = _flag(elementwise_affine, "elementwise_affine")
        if self.elementwise_affine:
            self.weight = [Value(1.0) for _ in range(self.normalized_shape)]
            self.bias = [Value(0.0) for _ in range(self.normalized_shape)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        ys = _normalise(_sample(x, self.normalized_shape, repr(self)), self.eps)
        if not self.elementwise_affine:
            return ys
        return [y * w + b for y, w, b in zip(ys, self.weight, self.bias)]

    def __repr__(self) -> str:
        return (f"LayerNorm({self.normalized_shape}, eps={self.eps!r}, "
                f"elementwise_affine={self.elementwise_affine})")


class BatchNorm1d(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per feature, as ``torch.nn.BatchNorm1d(C)``.

    Training mode (or ``track_running_stats=False``): mean and biased var of each feature over the
    batch, a list of N >= 2 samples of C Values; each call also updates ``running_mean`` and
    ``running_var`` (``r = (1 - momentum) r + momentum s``, s the batch mean and the unbiased
    variance; ``momentum=None``: the cumulative average over ``num_batches_tracked`` batches).
    Eval mode: the running statistics, constants of the graph; one sample works too.
    ``micrograd.compile`` refuses it in training mode: a per-sample trace cannot see the batch.
    """

    buffers = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True) -> None:
        self.num_features = check_size(num_features, "num_features")
        self.eps = _positive(eps, "eps")
        if momentum is not None and (isinstance(momentum, bool) or not is_real(momentum)
                                     or not 0.0 <= to_float(momentum, "momentum") <= 1.0):
            raise ValueError(f"momentum must be a number in [0, 1] or None, got {describe(momentum)}")
        self.momentum = None if momentum is None else to_float(momentum, "momentum")
        self.affine = _flag(affine, "affine")
        self.track_running_stats = _flag(track_running_stats, "track_running_stats")
        if self.affine:
            self.weight = [Value(1.0) for _ in range(num_features)]
            self.bias = [Value(0.0) for _ in range(num_features)]
        tracked = self.track_running_stats
        self.running_mean: list[float] | None = [0.0] * num_features if tracked else None
        self.running_var: list[float] | None = [1.0] * num_features if tracked else None
        self.num_batches_tracked: int | None = 0 if tracked else None

    def __call__(self, x: Any) -> list[Any]:
        """A batch (list of N samples of C Values) -> N lists of C Values; in eval mode with
        running statistics, one sample (C Values) -> C Values."""
        batch_stats = self.training or not self.track_running_stats
        if batch_stats and modes.tracer() is not None:
            mode = "in training mode" if self.training else "without running statistics"
            raise TracingError(
                f"micrograd.compile: {self!r} {mode} normalises over a batch, which a per-sample "
                "trace cannot see; call model.eval() before compiling for inference (with "
                "track_running_stats=True it then uses the running statistics), or train in the "
                "scalar engine (fit(..., compiled=False))")
        one = _is_sample(x)
        if one and not batch_stats:
            return self._eval(_sample(x, self.num_features, repr(self)))
        if one:
            raise ValueError(f"{self!r}: expected more than 1 value per channel when training: it "
                             f"normalises over a batch, so call it with a list of N >= 2 samples of "
                             f"{self.num_features} Values (a model holding it: model.batch(samples))")
        samples = self._batch(x)
        if not batch_stats:
            return [self._eval(s) for s in samples]
        return self._train(samples)

    def batch(self, xs: Sequence[Any]) -> list[Any]:
        """The layer on a batch (its call takes one already); with one feature, a batch of bare
        Values (a one-neuron layer's outputs) gives bare Values back."""
        if self.num_features == 1 and isinstance(xs, Sequence) and all(_is_number(x) for x in xs):
            return [y[0] for y in self([[x] for x in xs])]
        return self(xs)

    def _batch(self, x: Any) -> list[list[Value]]:
        if isinstance(x, (str, bytes)) or not isinstance(x, Sequence) and not hasattr(x, "tolist"):
            raise TypeError(f"{self!r} takes a batch: a list of samples, each a list of {self.num_features} "
                            f"Values, got {type(x).__name__} {describe(x)}")
        rows = list(x)
        if len(rows) < 2:
            raise ValueError(f"{self!r}: expected more than 1 value per channel when training, got a batch of "
                             f"{len(rows)} sample{'s' * (len(rows) != 1)}")
        return [_sample(row, self.num_features, f"{self!r}, sample {n},") for n, row in enumerate(rows)]

    def _train(self, samples: list[list[Value]]) -> list[list[Value]]:
        """Each feature normalised over the batch; the running statistics take a step."""
        columns = [_normalise(list(col), self.eps) for col in zip(*samples)]
        if self.track_running_stats and self.training:
            self._track(samples)
        if self.affine:
            columns = [[y * w + b for y in col] for col, w, b in zip(columns, self.weight, self.bias)]
        return [list(row) for row in zip(*columns)]

    def _track(self, samples: list[list[Value]]) -> None:
        """running = (1 - m) running + m batch, with the batch's mean and unbiased variance (floats)."""
        assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        n = len(samples)
        for c, col in enumerate(zip(*samples)):
            xs = [v.data for v in col]
            mean = math.fsum(xs) / n
            var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
            self.running_mean[c] = (1.0 - m) * self.running_mean[c] + m * mean
            self.running_var[c] = (1.0 - m) * self.running_var[c] + m * var

    def _eval(self, x: list[Value]) -> list[Value]:
        """(x - running_mean) / sqrt(running_var + eps) * weight + bias, the statistics constants."""
        assert self.running_mean is not None and self.running_var is not None
        ys = [(xi - mu) * (1.0 / math.sqrt(var + self.eps))
              for xi, mu, var in zip(x, self.running_mean, self.running_var)]
        if not self.affine:
            return ys
        return [y * w + b for y, w, b in zip(ys, self.weight, self.bias)]

    def __repr__(self) -> str:
        return (f"BatchNorm1d({self.num_features}, eps={self.eps!r}, momentum={self.momentum!r}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats})")


def _is_number(x: Any) -> bool:
    return isinstance(x, Value) or (is_real(x) and not isinstance(x, bool))


def _is_sample(x: Any) -> bool:
    """True for one sample (a list whose items are Values or numbers), False for a batch."""
    items = x.tolist() if hasattr(x, "tolist") else x
    return isinstance(items, Sequence) and not isinstance(items, (str, bytes)) and bool(items) \
        and _is_number(items[0])
