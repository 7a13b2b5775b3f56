"""Pictures of training runs and models, with matplotlib (the ``plot`` extra).

matplotlib is not a dependency of the library: it is imported when a plot is first drawn, and a
clear ImportError says how to install it. Every function draws on the Axes it is given (``ax=``),
or on a new figure, and returns the Axes it drew on, so a caller can add to the picture;
``images``, a grid of Axes, takes and returns a Figure (``fig=``) instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics
from .conv import Conv2d
from .engine import Value, no_grad
from .tape import TracingError
from .tape import compile as compile_tape

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["confusion_matrix", "decision_boundary", "feature_maps", "images", "kernels", "loss_curve",
           "predicted_vs_true"]


def _pyplot() -> Any:
    """matplotlib.pyplot, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("micrograd.plot needs matplotlib: pip install 'micrograd[plot]'",
                          name="matplotlib") from exc
    return plt


def loss_curve(history: Any, *, ax: Axes | None = None, validation: str = "validation") -> Axes:
    """The training loss per epoch of a :class:`micrograd.train.History`, and its accuracy.

    The loss is drawn on ``ax`` (a new figure if None) against epochs 1, 2, ...; the accuracy, if
    the history has one, on a twin y-axis on the right (as a percentage). A history with
    ``val_loss`` (``fit(..., validation_data=...)``) also gets the loss and accuracy on those rows,
    dashed, named ``validation`` in the legend and the title (``validation="test"`` for a test
    split). Returns the loss Axes.
    """
    if not (hasattr(history, "loss") and hasattr(history, "accuracy")):
        raise TypeError(f"loss_curve needs a micrograd.train.History (what fit returns), got {type(history).__name__}")
    loss, acc = list(history.loss), list(history.accuracy)
    val_loss, val_acc = list(getattr(history, "val_loss", [])), list(getattr(history, "val_accuracy", []))
    if not loss:
        raise ValueError("the history has no epochs: nothing to plot (was training stopped before the first one ended?)")
    if acc and len(acc) != len(loss):
        raise ValueError(f"the history has {len(loss)} losses but {len(acc)} accuracies")
    if len(val_loss) > len(loss) or (val_acc and len(val_acc) != len(val_loss)):
        raise ValueError(f"the history has {len(loss)} losses but {len(val_loss)} validation losses and "
                         f"{len(val_acc)} validation accuracies")
    plt = _pyplot()
    from matplotlib.ticker import PercentFormatter

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    epochs = np.arange(1, len(loss) + 1)
    both = bool(val_loss)  # two of each: the legend says which is which
    lines = ax.plot(epochs, loss, color="C0", label="training loss" if both else "loss")
    if both:
        lines += ax.plot(epochs[:len(val_loss)], val_loss, color="C0", linestyle="--", label=f"{validation} loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" if both else "training loss")
    ax.set_xlim(1, max(len(loss), 2))
    if acc or val_acc:
        right = ax.twinx()
        if acc:
            lines += right.plot(epochs, acc, color="C1", label="training accuracy" if both else "accuracy")
        if val_acc:
            lines += right.plot(epochs[:len(val_acc)], val_acc, color="C1", linestyle="--",
                                label=f"{validation} accuracy")
        right.set_ylabel("accuracy" if both else "training accuracy")
        right.set_ylim(0, 1.05)
        right.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.legend(handles=lines, loc="center right")
    stopped = " (interrupted)" if getattr(history, "interrupted", False) else ""
    title = (f"training: loss {loss[-1]:.4g}" + (f", accuracy {acc[-1]:.0%}" if acc else "")
             + f" after {len(loss)} epochs{stopped}")
    if both:
        title += f"\n{validation}: loss {val_loss[-1]:.4g}" + (f", accuracy {val_acc[-1]:.0%}" if val_acc else "")
    ax.set_title(title)
    return ax


def decision_boundary(model: Callable[[Any], Any], X: Any, y: Any, *, ax: Axes | None = None,
                      resolution: int = 100, margin: float = 0.25) -> Axes:
    """The regions where ``model`` predicts each class, around 2-d points X coloured by label y.

    ``model(x)`` takes a list of two numbers (Values) and returns a score (a Value, or a list of
    one) or one score per class (a list). The scores are computed on a ``resolution`` x
    ``resolution`` grid spanning the data and ``margin`` times its extent beyond it on each side.
    One score: the plane is filled on either side of score 0 (the boundary is drawn as a line) and
    y holds 0/1 or -1/+1 labels (positive when > 0.5, as :func:`micrograd.train.fit` counts).
    Several: each class's region is where its score is the largest, and y holds class indices
    (or one-hot rows). Points take their class's colour. The title gives the accuracy on X.

    The grid is scored as one numpy batch by :func:`micrograd.compile` (milliseconds for the
    moons demo's MLP on 100 x 100 points: ``python bench/bench_compile.py`` times it); a model the tape cannot compile (Python control
    flow on a Value, random numbers: :class:`micrograd.TracingError`) is scored point by point by
    the scalar engine instead, which takes seconds. A model with Dropout should be in ``eval()``
    mode. Returns the Axes.
    """
    points = _points(X)
    labels = np.asarray(y)
    if len(labels) != len(points):
        raise ValueError(f"X has {len(points)} points but y has {len(labels)} labels")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2 (grid points per axis), got {resolution!r}")
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0 (a fraction of the data's extent), got {margin!r}")
    plt = _pyplot()

    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    scores = _scores(model, np.vstack([np.column_stack([gx.ravel(), gy.ravel()]), points]))
    scores, point_scores = scores[:gx.size], scores[gx.size:]  # one batch: one trace
    n_out = scores.shape[1]
    if not np.isfinite(scores).any():
        raise ValueError("the model's scores are nan or infinite everywhere on the grid: nothing to draw")
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numeric labels (0/1, -1/+1 or class indices), got dtype {labels.dtype}")
    if labels.ndim == 2:  # one-hot rows (or class probabilities)
        labels = labels.argmax(axis=1)
    if labels.ndim != 1:
        raise ValueError(f"y must hold one label per point (or one row per point), got shape {np.shape(y)}")
    if n_out == 1:
        classes = (labels.astype(np.float64) > 0.5).astype(np.intp)
        predicted = (point_scores[:, 0] > 0).astype(np.intp)
    else:
        classes = labels.astype(np.intp)
        if not np.array_equal(classes, labels) or classes.min() < 0 or classes.max() >= n_out:
            raise ValueError(f"a model with {n_out} outputs needs labels 0..{n_out - 1} (class indices), "
                             f"got {np.unique(labels)[:10].tolist()}")
        predicted = point_scores.argmax(axis=1)

    import matplotlib

    if 2 < n_out <= 10:  # distinct hues for a few classes; micrograd demo's red and blue for two
        colours = matplotlib.colormaps["tab10"](np.arange(n_out))
    else:
        colours = matplotlib.colormaps["Spectral"](np.linspace(0.0, 1.0, max(n_out, 2)))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    if n_out == 1:
        z = np.ma.masked_invalid(scores[:, 0].reshape(gx.shape))
        lowest, highest = min(float(z.min()), 0.0) - 1.0, max(float(z.max()), 0.0) + 1.0
        ax.contourf(gx, gy, z, levels=[lowest, 0.0, highest], colors=colours[:2], alpha=0.4)
        if z.min() < 0.0 < z.max():
            ax.contour(gx, gy, z, levels=[0.0], colors="k", linewidths=1.0)
    else:
        for c in range(n_out):  # where class c beats every other: margin s_c - max(others) > 0
            z = np.ma.masked_invalid((scores[:, c] - np.delete(scores, c, axis=1).max(axis=1)).reshape(gx.shape))
            if z.max() > 0.0:
                ax.contourf(gx, gy, z, levels=[0.0, float(z.max()) + 1.0], colors=colours[c:c + 1], alpha=0.4)
    raw = np.asarray(y) if np.ndim(y) == 1 else classes  # legend: the labels as given
    for c in np.unique(classes).tolist():
        mine = classes == c
        names = ", ".join(f"{v:g}" for v in np.unique(raw[mine]).tolist())
        ax.scatter(points[mine, 0], points[mine, 1], color=colours[c], edgecolors="k", linewidths=0.5,
                   s=30, label=f"y = {names}", zorder=3)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(f"decision boundary: accuracy {np.mean(predicted == classes):.0%} on {len(points)} points")
    return ax


def _points(X: Any) -> np.ndarray:
    """X as a float (n, 2) array, or a clear error."""
    try:
        points = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"X must be a table of numbers, one row of 2 features per point: {exc}") from None
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"decision_boundary draws points with 2 features: X must have shape (n, 2), got {points.shape}")
    return points


def _scores(model: Callable[[Any], Any], points: np.ndarray) -> np.ndarray:
    """model's outputs at every row of ``points``, shape (n, outputs): compiled, else one by one."""
    try:
        out = compile_tape(model, params=[])(points)  # parameters are read from .data at each call
    except TracingError:
        with no_grad():
            rows = [model([Value(a), Value(b)]) for a, b in points.tolist()]
        out = np.array([[_number(o) for o in r] if isinstance(r, (list, tuple)) else [_number(r)] for r in rows])
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 1:
        out = out[:, None]
    if out.shape[1] == 0:
        raise ValueError("the model returned no outputs")
    return out


def _number(v: Any) -> float:
    return v.data if isinstance(v, Value) else float(v)


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, *,
                     ax: Axes | None = None) -> Axes:
    """Draw :func:`micrograd.metrics.confusion_matrix`: true classes down, predicted across, the
    count written in every cell; returns the Axes.

    ``labels`` picks and orders the classes (default: every label seen, sorted).
    """
    counts = metrics.confusion_matrix(y_true, y_pred, labels)
    classes = np.union1d(np.asarray(y_true), np.asarray(y_pred)) if labels is None else np.asarray(labels)
    if ax is None:
        side = max(3.5, 1.5 + 0.45 * len(classes))  # inches: room for the axis labels of two classes
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


def predicted_vs_true(y_true: Any, y_pred: Any, *, ax: Axes | None = None) -> Axes:
    """A regression's predictions against the true values, one point per sample, with the
    diagonal y = x where exact predictions would lie; returns the Axes.

    Both axes span the same range, so a point's distance from the diagonal is its error. The
    title gives :func:`micrograd.metrics.r2_score` and :func:`micrograd.metrics.mean_squared_error`.
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim == 2 and t.shape[1] == 1:  # a column: one value per sample
        t = t[:, 0]
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    r2, error = metrics.r2_score(t, p), metrics.mean_squared_error(t, p)  # checks shapes and finiteness
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5, 5), layout="constrained")
    low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.05 * (high - low) if high > low else 1.0
    low, high = low - pad, high + pad
    ax.plot([low, high], [low, high], color="k", linewidth=1.0, label="predicted = true")
    ax.scatter(t, p, s=18, alpha=0.7, color="C0", edgecolors="none", label="samples")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    ax.legend(loc="upper left")
    ax.set_title(f"R² {r2:.3f}, mean squared error {error:.4g} on {len(t)} samples")
    return ax


def images(images: Any, titles: Sequence[str] | None = None, *, ncols: int = 10,
           shape: tuple[int, int] = (8, 8), cmap: str = "gray_r", centered: bool = False,
           fig: Figure | None = None) -> Figure:
    """Draw a grid of grey images, ``ncols`` to a row, each with its title; returns the Figure.

    ``images`` are flat rows of pixels (reshaped to ``shape``, 8x8 for scikit-learn's digits) or
    2-d arrays. All share one grey scale, from the smallest pixel to the largest, or, ``centered``,
    from -m to m with m the largest magnitude (0 in the middle of the scale: for weights).
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
    if centered:
        high = max(abs(low), abs(high))
        low = -high
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


def kernels(conv: Conv2d, *, ncols: int = 8, fig: Figure | None = None) -> Figure:
    """Draw a :class:`~micrograd.conv.Conv2d`'s kernels, ``w[o, c]`` as a kernel height x width image
    (red positive, blue negative, white 0; one scale for all); returns the Figure.

    One input channel: a kernel per output channel, ``ncols`` to a row. Several: a row per output
    channel, a column per input channel.
    """
    if not isinstance(conv, Conv2d):
        raise TypeError(f"kernels draws a Conv2d's weights, got {type(conv).__name__}")
    kh, kw = conv.kernel_size
    weights = np.array([w.data for w in conv.weight]).reshape(conv.out_channels, conv.in_channels, kh, kw)
    if conv.in_channels == 1:
        return images(weights[:, 0], [f"kernel {o}" for o in range(conv.out_channels)], ncols=ncols,
                      cmap="RdBu_r", centered=True, fig=fig)
    titles = [f"out {o}, in {c}" for o in range(conv.out_channels) for c in range(conv.in_channels)]
    return images(weights.reshape(-1, kh, kw), titles, ncols=conv.in_channels, cmap="RdBu_r", centered=True,
                  fig=fig)


def feature_maps(maps: Any, *, ncols: int = 8, fig: Figure | None = None) -> Figure:
    """Draw channels x height x width feature maps (nested lists of Values or numbers, as
    ``Conv2d`` and pooling return them, or an array), one image per channel; returns the Figure."""
    if getattr(maps, "ndim", None) is not None:
        pictures = np.asarray(maps, dtype=np.float64)
    else:
        try:
            pictures = np.array([[[_number(v) for v in row] for row in channel] for channel in maps])
        except TypeError:
            raise ValueError("feature_maps: expected channels x height x width nested lists of Values or "
                             "numbers") from None
    if pictures.ndim != 3:
        raise ValueError(f"feature_maps: expected channels x height x width, got shape {pictures.shape}")
    return images(pictures, [f"map {k}" for k in range(len(pictures))], ncols=ncols, fig=fig)
