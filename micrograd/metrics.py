"""Classification and regression metrics on arrays (numpy), with scikit-learn's conventions.

``confusion_matrix[i, j]`` counts samples of true class ``labels[i]`` predicted as ``labels[j]``;
the labels are the sorted union of both arrays unless given. Precision, recall and F1 are per
class (``average=None``), their unweighted mean (``average='macro'``, the default), or the score
of the positive class ``pos_label`` of two (``average='binary'``, scikit-learn's default); a class
with no predicted (or no true) samples scores 0, as scikit-learn's ``zero_division=0``.

For regression, ``mean_squared_error`` and ``r2_score`` (the coefficient of determination: 1 for
exact predictions, 0 for predicting the mean of the true values everywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy", "confusion_matrix", "f1_score", "mean_squared_error", "precision", "predicted_class",
           "r2_score", "recall"]


def _labels(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shapes {t.shape} and {p.shape}")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
    if len(t) == 0:
        raise ValueError("no labels given")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of predictions equal to the true label."""
    t, p = _labels(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> np.ndarray:
    """C[i, j] = number of samples with true label labels[i] predicted as labels[j]."""
    t, p = _labels(y_true, y_pred)
    classes = np.union1d(t, p) if labels is None else np.asarray(labels)
    if classes.ndim != 1 or len(classes) == 0:  # (else a 0 x 0 matrix, and nan for the macro scores)
        raise ValueError(f"labels must be a non-empty 1-d list of class labels, got {labels!r}")
    index = {c: i for i, c in enumerate(classes.tolist())}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist()):
        if a in index and b in index:
            matrix[index[a], index[b]] += 1
    return matrix


def _per_class(y_true: Any, y_pred: Any, labels: Sequence[Any] | None, average: str | None,
               pos_label: Any) -> tuple[np.ndarray, ...]:
    """(true positives, predicted, actual) per class; for ``average='binary'`` only pos_label's."""
    if average == "binary":
        t, p = _labels(y_true, y_pred)
        if labels is not None:
            raise ValueError("average='binary' scores pos_label: give pos_label, not labels")
        classes = np.union1d(np.union1d(t, p), [pos_label])
        if len(classes) > 2:
            raise ValueError(f"average='binary' needs two classes (pos_label {pos_label!r} and one other), got "
                             f"{classes.tolist()[:10]}: use average='macro' or None")
        labels = classes.tolist()
        m = confusion_matrix(t, p, labels)
        k = labels.index(pos_label)
        return (m[k:k + 1, k].astype(np.float64), m[:, k:k + 1].sum(axis=0).astype(np.float64),
                m[k:k + 1, :].sum(axis=1).astype(np.float64))
    m = confusion_matrix(y_true, y_pred, labels)
    tp = np.diag(m).astype(np.float64)
    return tp, m.sum(axis=0).astype(np.float64), m.sum(axis=1).astype(np.float64)  # tp, predicted, true


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _check_average(average: str | None) -> None:
    if average not in ("macro", "binary", None):
        raise ValueError(f"average must be 'macro', 'binary' or None, got {average!r}")


def _average(scores: np.ndarray, average: str | None) -> float | np.ndarray:
    if average is None:
        return scores
    if average in ("macro", "binary"):  # (binary: the one score of pos_label)
        return float(scores.mean())
    raise ValueError(f"average must be 'macro', 'binary' or None, got {average!r}")


def precision(y_true: Any, y_pred: Any, average: str | None = "macro",
              labels: Sequence[Any] | None = None, pos_label: Any = 1) -> float | np.ndarray:
    """Per class: true positives / predicted positives."""
    _check_average(average)
    tp, predicted, _ = _per_class(y_true, y_pred, labels, average, pos_label)
    return _average(_ratio(tp, predicted), average)


def recall(y_true: Any, y_pred: Any, average: str | None = "macro",
           labels: Sequence[Any] | None = None, pos_label: Any = 1) -> float | np.ndarray:
    """Per class: true positives / actual positives."""
    _check_average(average)
    tp, _, actual = _per_class(y_true, y_pred, labels, average, pos_label)
    return _average(_ratio(tp, actual), average)


def f1_score(y_true: Any, y_pred: Any, average: str | None = "macro",
             labels: Sequence[Any] | None = None, pos_label: Any = 1) -> float | np.ndarray:
    """Per class: 2 tp / (predicted + actual), the harmonic mean of precision and recall."""
    _check_average(average)
    tp, predicted, actual = _per_class(y_true, y_pred, labels, average, pos_label)
    return _average(_ratio(2 * tp, predicted + actual), average)


def _values(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Two equal-length 1-d float arrays of finite numbers, or a clear error."""
    try:
        t, p = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"regression metrics take arrays of numbers: {exc}") from None
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError(f"regression metrics take 1-d arrays, one value per sample, got shapes {t.shape} and {p.shape}")
    if len(t) != len(p) or len(t) == 0:
        raise ValueError(f"y_true has {len(t)} values but y_pred has {len(p)}"
                         + (": no samples" if len(t) == 0 else ""))
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("regression metrics take finite numbers: y_true or y_pred holds nan or inf")
    return t, p


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """mean((y_true - y_pred) ** 2)."""
    t, p = _values(y_true, y_pred)
    return float(np.mean((t - p) ** 2))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """1 - sum((y_true - y_pred) ** 2) / sum((y_true - mean(y_true)) ** 2).

    Constant true values (a zero denominator) score 1 for exact predictions and 0 otherwise, as
    scikit-learn's ``force_finite=True``.
    """
    t, p = _values(y_true, y_pred)
    residual, total = float(np.sum((t - p) ** 2)), float(np.sum((t - t.mean()) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else 0.0
    return 1.0 - residual / total


def predicted_class(output: Any) -> int:
    """The class a model output stands for: argmax of several scores, score > 0 for a single one
    (a bare score or a list of one: the argmax of one score would always be class 0)."""
    if isinstance(output, (list, tuple)) and len(output) == 1:
        output = output[0]
    if isinstance(output, (list, tuple)):
        scores = [float(o) for o in output]
        return int(np.argmax(scores))
    return int(float(output) > 0)
