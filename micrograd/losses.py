"""Loss functions and penalties, written with Value operations only.

Each equals its ``torch.nn.functional`` counterpart in value and gradient (float64):

=============================================  ===============================================
here                                           PyTorch
=============================================  ===============================================
``mse(pred, target)``                          ``F.mse_loss``
``mae(pred, target)``                          ``F.l1_loss``
``hinge(score, target)``                       ``F.relu(1 - target * score).mean()`` (micrograd's demo)
``binary_cross_entropy(prob, target)``         ``F.binary_cross_entropy``
``binary_cross_entropy_with_logits(x, t)``     ``F.binary_cross_entropy_with_logits``
``softmax(logits)`` / ``log_softmax(logits)``  ``F.softmax`` / ``F.log_softmax``
``logsumexp(logits)``                          ``torch.logsumexp``
``cross_entropy(logits, target)``              ``F.cross_entropy`` on one sample (index or probabilities)
``l1_penalty(params)`` / ``l2_penalty``        ``sum(p.abs())`` / ``sum(p * p)``
=============================================  ===============================================

Predictions and targets are a Value (or number) each, or equal-length sequences of them;
``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'`` (a list, one loss per element),
as in PyTorch. No loss compares or converts a Value: everything is arithmetic on Values, so a loss
differentiates, and traces, like any other expression. The stable ones (log-sum-exp, logits) rest
on the ``logaddexp`` primitive, which never overflows: ``cross_entropy`` is finite for a logit of
1000, and ``binary_cross_entropy_with_logits`` for logits of +-1000.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from .engine import Value
from .ops import logaddexp
from .scalars import is_real, to_float

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge",
    "l1_penalty",
    "l2_penalty",
    "log_softmax",
    "logsumexp",
    "mae",
    "mse",
    "softmax",
]

Scalar = Value | float | int
Scalars = Scalar | Sequence[Scalar]

REDUCTIONS = ("mean", "sum", "none")
_LOG_FLOOR = math.exp(-100.0)  # probabilities are clamped here: logs >= -100, as PyTorch clamps


def _total(values: Iterable[Value]) -> Value:
    """v0 + v1 + ... as a plain loop (the first term is not added to 0)."""
    it = iter(values)
    total = next(it)
    for v in it:
        total = total + v
    return total


def _pairs(pred: Scalars, target: Scalars, what: str) -> list[tuple[Value, Any]]:
    """Match predictions with targets, lifting plain-number predictions to Values and plain-number
    targets to floats (any real number, by the rule of ``micrograd.scalars``)."""
    preds = _sequence(pred, what, "predictions")
    targets = [target] * len(preds) if _is_scalar(target) else _sequence(target, what, "targets")
    if not preds:
        raise ValueError(f"{what}: no predictions given")
    if len(preds) != len(targets):
        raise ValueError(f"{what}: {len(preds)} predictions but {len(targets)} targets")
    for x in preds + targets:
        if not _is_scalar(x):
            raise TypeError(f"{what}: predictions and targets must be Values or numbers, got {type(x).__name__}")
    return [(p if isinstance(p, Value) else Value(to_float(p, f"{what}: prediction")), _target(t, what))
            for p, t in zip(preds, targets)]


def _target(t: Any, what: str) -> Any:
    """A Value target as it is; a number as its float (an int stays an int, for messages: 'got 0')."""
    if isinstance(t, Value):
        return t
    f = to_float(t, f"{what}: target")
    return t if type(t) is int else f


def _sequence(x: Any, what: str, name: str) -> list[Any]:
    """A scalar as a list of one, a sequence as a list; a TypeError naming anything else."""
    if _is_scalar(x):
        return [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{what}: {name} must be a Value, a number or a sequence of them, got {type(x).__name__}")
    return list(x)


def _check_signs(pairs: list[tuple[Value, Any]], what: str) -> None:
    """Targets given as numbers must be -1 or +1 (a Value target, as a compiled tape passes, is not read)."""
    for _, t in pairs:
        if not isinstance(t, Value) and t not in (-1, 1):
            hint = (" (0/1 labels, as make_moons returns, train to chance here): pass y * 2 - 1"
                    if t == 0 else "")
            raise ValueError(f"{what}: targets must be -1 or +1, got {t!r}{hint}")


def _check_probabilities(pairs: list[tuple[Value, Any]], what: str) -> None:
    """Targets given as numbers must lie in [0, 1] (a Value target is not read)."""
    for _, t in pairs:
        if not isinstance(t, Value) and not 0 <= t <= 1:
            hint = " (-1/+1 labels): pass (y + 1) / 2" if t == -1 else ""
            raise ValueError(f"{what}: targets must be in [0, 1], got {t!r}{hint}")


def _is_scalar(x: object) -> bool:
    return isinstance(x, (Value, int, float)) or is_real(x) or (hasattr(x, "ndim") and x.ndim == 0)


def _reduce(losses: list[Value], reduction: str) -> Value | list[Value]:
    if reduction == "mean":
        return _total(losses) * (1.0 / len(losses))  # micrograd demo's sum(losses) * (1.0 / n)
    if reduction == "sum":
        return _total(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def mse(pred: Scalars, target: Scalars, reduction: str = "mean") -> Value | list[Value]:
    """Mean squared error: mean((pred - target)^2)."""
    return _reduce([(p - t) * (p - t) for p, t in _pairs(pred, target, "mse")], reduction)


def mae(pred: Scalars, target: Scalars, reduction: str = "mean") -> Value | list[Value]:
    """Mean absolute error (L1 loss): mean(|pred - target|)."""
    return _reduce([(p - t).abs() for p, t in _pairs(pred, target, "mae")], reduction)


def hinge(score: Scalars, target: Scalars, reduction: str = "mean") -> Value | list[Value]:
    """Max-margin loss of micrograd's demo: mean(relu(1 - target * score)), targets -1 or +1.

    A target given as a number must be -1 or +1: with 0/1 labels (``make_moons``) every 0 would
    add a constant 1, and training would stop at chance, so they raise ValueError naming the fix,
    ``y * 2 - 1``.
    """
    pairs = _pairs(score, target, "hinge")
    _check_signs(pairs, "hinge")
    return _reduce([(1 + -t * s).relu() for s, t in pairs], reduction)


def binary_cross_entropy(prob: Scalars, target: Scalars, reduction: str = "mean") -> Value | list[Value]:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1]; logs clamped at -100 as PyTorch.

    At p exactly 0 or 1 the value is PyTorch's; the gradient there is the derivative of the clamped
    formula, where PyTorch returns (p - t) / max(p (1 - p), 1e-12).
    """
    def clamped_log(q: Value) -> Value:
        return (_LOG_FLOOR + (q - _LOG_FLOOR).relu()).log()  # log(max(q, e^-100)), no comparison
    pairs = _pairs(prob, target, "binary_cross_entropy")
    _check_probabilities(pairs, "binary_cross_entropy")
    return _reduce([-(t * clamped_log(p) + (1 - t) * clamped_log(1 - p)) for p, t in pairs], reduction)


def _softplus(x: Value) -> Value:
    """log(1 + e^x), without overflow."""
    return logaddexp.apply(x, 0.0)  # type: ignore[no-any-return]


def binary_cross_entropy_with_logits(logit: Scalars, target: Scalars,
                                     reduction: str = "mean") -> Value | list[Value]:
    """Binary cross-entropy of sigmoid(x): t softplus(-x) + (1 - t) softplus(x), stable for any x."""
    pairs = _pairs(logit, target, "binary_cross_entropy_with_logits")
    _check_probabilities(pairs, "binary_cross_entropy_with_logits")
    return _reduce([t * _softplus(-x) + (1 - t) * _softplus(x) for x, t in pairs], reduction)


def _logits(logits: Sequence[Scalar], what: str) -> list[Value]:
    if not hasattr(logits, "__len__") or isinstance(logits, (str, bytes)):
        raise TypeError(f"{what}: expects a non-empty list of class scores, got {type(logits).__name__}")
    if _is_scalar(logits) or len(logits) == 0:
        raise ValueError(f"{what}: expects a non-empty list of class scores, got {logits!r}")
    return [x if isinstance(x, Value) else Value(to_float(x, f"{what}: a class score")) for x in logits]


def logsumexp(logits: Sequence[Scalar]) -> Value:
    """log(sum_i exp(x_i)), folded pairwise with the overflow-free logaddexp primitive.

    A pairwise fold is log2(n) deep rather than n: a compiled tape runs each level as one step.
    """
    xs = _logits(logits, "logsumexp")
    while len(xs) > 1:
        xs = [logaddexp.apply(a, b) for a, b in zip(xs[::2], xs[1::2])] + xs[len(xs) - len(xs) % 2:]
    return xs[0]


def log_softmax(logits: Sequence[Scalar]) -> list[Value]:
    """log softmax: x_i - logsumexp(x)."""
    xs = _logits(logits, "log_softmax")
    lse = logsumexp(xs)
    return [x - lse for x in xs]


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """softmax: exp(x_i - logsumexp(x)), so exp never overflows."""
    return [y.exp() for y in log_softmax(logits)]


def cross_entropy(logits: Sequence[Scalar], target: int | Sequence[Scalar]) -> Value:
    """Cross-entropy of one sample, as ``F.cross_entropy``: ``target`` is a class index, or class
    probabilities (a one-hot or soft target, one per logit).

    With an index it is ``logsumexp(x) - x[target]``; with probabilities t it is
    ``-sum_i t_i log_softmax(x)_i``, computed as ``sum(t) logsumexp(x) - sum_i t_i x_i`` (the same
    operations as the index form for a one-hot t, and two sums where a compiled tape runs a
    matrix product). Probabilities may be Values, which is how a compiled per-sample function
    (:func:`micrograd.compile`) receives its labels: a one-hot row of Y.
    """
    xs = _logits(logits, "cross_entropy")
    if not _is_scalar(target) and not isinstance(target, (str, bytes)):
        ts = list(target)  # type: ignore[arg-type]  # (a sequence: class probabilities)
        if len(ts) != len(xs):
            raise ValueError(f"cross_entropy: {len(xs)} class scores but {len(ts)} target probabilities")
        return logsumexp(xs) * _total(ts) - _total(t * x for x, t in zip(xs, ts))  # type: ignore[arg-type]
    if isinstance(target, bool) or not isinstance(target, int) and not (
            hasattr(target, "dtype") and target.dtype.kind in "iu"):
        raise TypeError(f"cross_entropy: target must be a class index (int) or class probabilities, "
                        f"got {target!r}")
    index = int(target)  # type: ignore[arg-type]
    if not 0 <= index < len(xs):
        raise IndexError(f"cross_entropy: target class {index} is out of range for {len(xs)} classes")
    return logsumexp(xs) - xs[index]


def l1_penalty(params: Iterable[Value] | Any, alpha: float = 1.0) -> Value:
    """alpha * sum(|p|): L1 (lasso) regularisation, over a list of Values or a Module's parameters."""
    return alpha * _total(p.abs() for p in _params(params, "l1_penalty"))


def l2_penalty(params: Iterable[Value] | Any, alpha: float = 1.0) -> Value:
    """alpha * sum(p * p): L2 regularisation as micrograd's demo writes it (no 1/2); Values or a Module."""
    return alpha * _total(p * p for p in _params(params, "l2_penalty"))


def _params(params: Iterable[Value] | Any, what: str) -> list[Value]:
    if not hasattr(params, "parameters") and not hasattr(params, "__iter__"):
        raise TypeError(f"{what}: params must be Values or a Module, got {type(params).__name__}")
    ps = list(params.parameters() if hasattr(params, "parameters") else params)  # a Module works too
    if not ps:
        raise ValueError(f"{what}: no parameters given")
    return ps
