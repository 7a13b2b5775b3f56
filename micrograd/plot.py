"""Pictures of training runs and models, with matplotlib (from the ``notebooks`` extra).

matplotlib is not a dependency of the library: it is imported when a plot is first drawn, and a
clear ImportError says how to install it. Every function draws on the Axes it is given (``ax=``),
or on a new figure, and returns the Axes it drew on, so a caller can add to the picture;
``images``, a grid of Axes, takes and returns a Figure (``fig=``) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["confusion_matrix", "images"]


def _pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("micrograd.plot needs matplotlib: pip install 'micrograd[notebooks]'",
                          name="matplotlib") from exc
    return plt


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, *,
                     ax: Axes | None = None) -> Axes:
    """Draw :func:`micrograd.metrics.confusion_matrix`: true classes down, predicted across, the
    count written in every cell; returns the Axes.

    ``labels`` picks and orders the classes (default: every label seen, sorted).
    """
    counts = metrics.confusion_matrix(y_true, y_pred, labels)
    classes = np.union1d(np.asarray(y_true), np.asarray(y_pred)) if labels is None else np.asarray(labels)
    if ax is None:
        side = 1.5 + 0.45 * len(classes)
        _, ax = _pyplot().subplots(figsize=(side, side))
    ax.imshow(counts, cmap="Blues", vmin=0)
    dark = counts.max() / 2  # white digits on the darker half of the colour scale
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", color="white" if n > dark else "black")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, [str(c) for c in classes.tolist()])
    ax.set_yticks(ticks, [str(c) for c in classes.tolist()])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix: {np.trace(counts)} of {counts.sum()} correct")
    return ax


def images(images: Any, titles: Sequence[str] | None = None, *, ncols: int = 10,
           shape: tuple[int, int] = (8, 8), cmap: str = "gray_r", fig: Figure | None = None) -> Figure:
    """Draw a grid of grey images, ``ncols`` to a row, each with its title; returns the Figure.

    ``images`` are flat rows of pixels (reshaped to ``shape``, 8x8 for scikit-learn's digits) or
    2-d arrays. All share one grey scale, from the smallest pixel to the largest.
    """
    pictures = np.asarray(images, dtype=np.float64)
    if pictures.ndim == 2:
        if pictures.shape[1] != shape[0] * shape[1]:
            raise ValueError(f"images: rows of {pictures.shape[1]} pixels cannot be shown as {shape} images "
                             "(give shape=(height, width))")
        pictures = pictures.reshape(len(pictures), *shape)
    if pictures.ndim != 3 or len(pictures) == 0:
        raise ValueError(f"images: expected a non-empty list of images (flat rows or 2-d arrays), "
                         f"got shape {pictures.shape}")
    if titles is not None and len(titles) != len(pictures):
        raise ValueError(f"images: {len(pictures)} images but {len(titles)} titles")
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"images: ncols must be a positive int, got {ncols!r}")
    cols = min(ncols, len(pictures))
    rows = -(-len(pictures) // cols)
    if fig is None:
        fig = _pyplot().figure(figsize=(1.2 * cols, 1.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    low, high = float(pictures.min()), float(pictures.max())
    for k, ax in enumerate(axes):
        if k >= len(pictures):
            ax.remove()  # the rest of the last row stays empty
            continue
        ax.imshow(pictures[k], cmap=cmap, vmin=low, vmax=high)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k], fontsize=9)
    return fig
