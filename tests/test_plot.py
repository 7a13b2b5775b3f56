"""plot: the pictures hold the numbers they claim (history lines, grid scores, label colours,
matrix counts, images and titles)."""

import importlib.util
import sys

import numpy as np
import pytest

from micrograd import Value, metrics, no_grad
from micrograd.data import make_blobs, make_moons
from micrograd.nn import MLP
from micrograd.train import History

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="needs matplotlib: pip install -e '.[plot]'")


@pytest.fixture
def plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot

    yield pyplot
    pyplot.close("all")


@pytest.fixture
def plot(plt):
    from micrograd import plot

    return plot


def test_a_missing_matplotlib_says_how_to_install_it(monkeypatch):
    from micrograd import plot

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'micrograd\[plot\]'") as info:
        plot.loss_curve(History(loss=[1.0], accuracy=[0.5]))
    assert info.value.name == "matplotlib"  # names the missing module, as Python's own ImportError does


# --- loss_curve -------------------------------------------------------------------------------------

def history(n=12):
    rng = np.random.RandomState(0)
    return History(loss=np.exp(-np.arange(n) / 4 + rng.rand(n) * 0.1).tolist(),
                   accuracy=np.minimum(1.0, 0.5 + np.arange(n) / n).tolist(), lr=[0.1] * n, steps=n)


@needs_matplotlib
def test_loss_curve_draws_loss_and_accuracy_per_epoch(plot):
    h = history()
    ax = plot.loss_curve(h)
    (loss_line,) = ax.get_lines()
    assert loss_line.get_xdata().tolist() == list(range(1, 13)) and loss_line.get_ydata().tolist() == h.loss
    (twin,) = [a for a in ax.figure.axes if a is not ax]
    (acc_line,) = twin.get_lines()
    assert acc_line.get_xdata().tolist() == list(range(1, 13)) and acc_line.get_ydata().tolist() == h.accuracy
    assert twin.get_ylim() == (0, 1.05) and twin.yaxis.get_major_formatter()(0.5, 0) == "50%"
    assert (ax.get_xlabel(), ax.get_ylabel(), twin.get_ylabel()) == ("epoch", "training loss", "training accuracy")
    assert ax.get_title() == f"training: loss {h.loss[-1]:.4g}, accuracy 100% after 12 epochs"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "accuracy"]


@needs_matplotlib
def test_loss_curve_draws_on_the_axes_given(plot, plt):
    fig, (left, right) = plt.subplots(1, 2)
    h = History(loss=[2.0, 1.0, 0.5], interrupted=True)  # no accuracy: no twin axis
    assert plot.loss_curve(h, ax=right) is right
    assert len(fig.axes) == 2 and not left.get_lines() and right.get_lines()[0].get_ydata().tolist() == h.loss
    assert right.get_title().endswith("after 3 epochs (interrupted)")


@needs_matplotlib
def test_loss_curve_rejects_what_it_cannot_draw(plot):
    with pytest.raises(TypeError, match="needs a micrograd.train.History"):
        plot.loss_curve([1.0, 0.5])
    with pytest.raises(ValueError, match="no epochs"):
        plot.loss_curve(History())
    with pytest.raises(ValueError, match="3 losses but 2 accuracies"):
        plot.loss_curve(History(loss=[3.0, 2.0, 1.0], accuracy=[0.5, 0.6]))


@needs_matplotlib
def test_loss_curve_draws_the_validation_loss_and_accuracy_dashed(plot):
    h = history()
    h.val_loss, h.val_accuracy = [x * 1.5 for x in h.loss], [a - 0.1 for a in h.accuracy]
    ax = plot.loss_curve(h, validation="test")
    train, test = ax.get_lines()
    assert train.get_ydata().tolist() == h.loss and train.get_linestyle() == "-"
    assert test.get_xdata().tolist() == list(range(1, 13)) and test.get_ydata().tolist() == h.val_loss
    assert test.get_linestyle() == "--"
    (twin,) = [a for a in ax.figure.axes if a is not ax]
    acc, val_acc = twin.get_lines()
    assert acc.get_ydata().tolist() == h.accuracy and val_acc.get_ydata().tolist() == h.val_accuracy
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "training loss", "test loss", "training accuracy", "test accuracy"]
    assert (ax.get_ylabel(), twin.get_ylabel()) == ("loss", "accuracy")
    assert ax.get_title().splitlines() == [f"training: loss {h.loss[-1]:.4g}, accuracy 100% after 12 epochs",
                                           f"test: loss {h.val_loss[-1]:.4g}, accuracy 90%"]


@needs_matplotlib
def test_loss_curve_of_a_regression_has_no_accuracy_axis(plot):
    h = History(loss=[3.0, 2.0, 1.5], val_loss=[3.5, 2.5])  # stopped before the last validation
    ax = plot.loss_curve(h)
    train, val = ax.get_lines()
    assert val.get_xdata().tolist() == [1, 2] and val.get_ydata().tolist() == [3.5, 2.5]
    assert ax.figure.axes == [ax] and ax.get_title().endswith("\nvalidation: loss 2.5")
    with pytest.raises(ValueError, match="3 losses but 4 validation losses"):
        plot.loss_curve(History(loss=[3.0, 2.0, 1.0], val_loss=[1.0] * 4))


# --- decision_boundary ------------------------------------------------------------------------------

class Recorder:
    """Wraps ax.contourf to keep the (x, y, z) grids it is given, then draws as usual."""

    def __init__(self, ax):
        self.calls, self.draw = [], ax.contourf
        ax.contourf = self

    def __call__(self, x, y, z, **kwargs):
        self.calls.append((x, y, np.ma.filled(z, np.nan), kwargs))
        return self.draw(x, y, z, **kwargs)


def scalar_scores(model, points):
    """The scalar engine's outputs, one point at a time: (n, outputs)."""
    with no_grad():
        outs = [model([Value(a), Value(b)]) for a, b in points]
    return np.array([[o.data for o in out] if isinstance(out, list) else [out.data] for out in outs])


def colour(artist, k=0):
    """The RGB face colour of a scatter, or of the k-th filled band of a contour set."""
    return tuple(np.round(artist.get_facecolor()[k][:3], 6))


def dots(ax, points):
    """The one scatter of the Axes whose points are exactly these."""
    (found,) = [c for c in ax.collections if np.array_equal(c.get_offsets(), points)]
    return found


def inside(contour_set, k, points):
    """For each point: is it inside the k-th filled band (polygons with holes) of the contour set?"""
    return contour_set.get_paths()[k].contains_points(points)


def interior(gx):
    """The grid points off the edge of the picture (those on it lie on the polygons' borders)."""
    edge = np.zeros(gx.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    return ~edge.ravel()


def moons(n=40):
    X, y = make_moons(n, noise=0.1, random_state=0)
    return X, y * 2 - 1


@needs_matplotlib
def test_one_output_fills_each_side_of_score_zero_with_the_model_scores(plot, plt):
    X, y = moons()
    model = MLP(2, [8, 8, 1], rng=3)  # (its boundary crosses the data)
    _, ax = plt.subplots()
    recorder = Recorder(ax)
    assert plot.decision_boundary(model, X, y, ax=ax, resolution=25, margin=0.5) is ax
    ((gx, gy, z, kwargs),) = recorder.calls
    span = X.max(axis=0) - X.min(axis=0)
    assert gx.shape == gy.shape == z.shape == (25, 25)
    np.testing.assert_allclose([gx.min(), gx.max()], [X[:, 0].min() - span[0] / 2, X[:, 0].max() + span[0] / 2])
    np.testing.assert_allclose([gy.min(), gy.max()], [X[:, 1].min() - span[1] / 2, X[:, 1].max() + span[1] / 2])
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    np.testing.assert_allclose(z.ravel(), scalar_scores(model, grid)[:, 0], rtol=1e-12, atol=1e-12)
    assert kwargs["levels"][1] == 0.0
    assert z.min() < 0 < z.max(), "the test needs a boundary inside the grid"

    filled, line = ax.collections[:2]  # the bands below and above score 0; the line at 0
    s = z.ravel()
    clear = (np.abs(s) > 0.05 * np.abs(s).max()) & interior(gx)  # away from where contours interpolate
    assert clear.sum() > 400
    assert np.array_equal(inside(filled, 0, grid[clear]), s[clear] < 0)
    assert np.array_equal(inside(filled, 1, grid[clear]), s[clear] > 0)
    assert list(line.levels) == [0.0] and len(line.get_paths()[0].vertices) > 10

    assert colour(dots(ax, X[y == -1])) == colour(filled, 0) and colour(dots(ax, X[y == 1])) == colour(filled, 1)
    assert colour(filled, 0) != colour(filled, 1)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = -1", "y = 1"]
    predicted = np.where(scalar_scores(model, X)[:, 0] > 0, 1, -1)
    assert ax.get_title() == f"decision boundary: accuracy {np.mean(predicted == y):.0%} on 40 points"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x[0]", "x[1]")


@needs_matplotlib
def test_several_outputs_fill_the_argmax_class(plot, plt):
    X, y = make_blobs(45, centers=3, random_state=1)
    model = MLP(2, [6, 3], activation="tanh", rng=2)
    _, ax = plt.subplots()
    recorder = Recorder(ax)
    plot.decision_boundary(model, X, y, ax=ax, resolution=30)
    gx, gy = recorder.calls[0][:2]
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    scores = scalar_scores(model, grid)
    best = scores.argmax(axis=1)
    assert len(recorder.calls) == len(np.unique(best)) >= 2  # one filled region per class that wins somewhere
    regions = ax.collections[:len(recorder.calls)]
    top2 = np.sort(scores, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0] > 0.05 * np.ptp(scores)) & interior(gx)
    for (_, _, z, _), region, c in zip(recorder.calls, regions, np.unique(best)):
        others = np.delete(scores, c, axis=1).max(axis=1)
        np.testing.assert_allclose(z.ravel(), scores[:, c] - others, rtol=1e-12, atol=1e-12)
        assert np.array_equal(inside(region, 0, grid[clear]), best[clear] == c)
    for region, c in zip(regions, np.unique(best)):
        assert colour(dots(ax, X[y == c])) == colour(region)
    assert len({colour(dots(ax, X[y == c])) for c in range(3)}) == 3
    # one-hot rows are the same labels
    _, ax2 = plt.subplots()
    plot.decision_boundary(model, X, np.eye(3)[y], ax=ax2, resolution=30)
    assert ax2.get_title() == ax.get_title()


@needs_matplotlib
def test_a_model_the_tape_refuses_is_scored_by_the_scalar_engine(plot, plt):
    X, y = moons(20)
    model = MLP(2, [4, 1], rng=1)

    def clipped(x):  # Python control flow on a Value: compile raises TracingError
        score = model(x)
        return score if score < 2.0 else score * 0.0 + 2.0

    _, ax = plt.subplots()
    recorder = Recorder(ax)
    plot.decision_boundary(clipped, X, y, ax=ax, resolution=12)
    gx, gy, z, _ = recorder.calls[0]
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    expected = np.minimum(scalar_scores(model, grid)[:, 0], 2.0)
    np.testing.assert_allclose(z.ravel(), expected, rtol=1e-12, atol=1e-12)


@needs_matplotlib
def test_a_model_returning_a_list_of_one_is_a_one_output_model(plot, plt):
    X, y = moons(20)
    model = MLP(2, [4, 1], rng=3)
    ax = plot.decision_boundary(lambda x: [model(x)], X, (y > 0).astype(int), resolution=10)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["y = 0", "y = 1"]
    assert ax.figure.get_size_inches().tolist() == [6.0, 5.0]


@needs_matplotlib
def test_decision_boundary_rejects_what_it_cannot_draw(plot):
    X, y = moons(10)
    model = MLP(2, [3, 1], rng=0)
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(10, 3\)"):
        plot.decision_boundary(model, np.hstack([X, X[:, :1]]), y)
    with pytest.raises(ValueError, match="10 points but y has 9 labels"):
        plot.decision_boundary(model, X, y[:9])
    with pytest.raises(ValueError, match="resolution must be an int >= 2"):
        plot.decision_boundary(model, X, y, resolution=1)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        plot.decision_boundary(model, X, y, margin=-0.1)
    with pytest.raises(ValueError, match=r"3 outputs needs labels 0..2"):
        plot.decision_boundary(MLP(2, [3], rng=0), X, y)
    with pytest.raises(ValueError, match="y must hold numeric labels"):
        plot.decision_boundary(model, X, np.array(["a", "b"] * 5))
    with pytest.raises(ValueError, match="nan or infinite everywhere"):
        plot.decision_boundary(lambda x: model(x) * float("nan"), X, y, resolution=4)
    with pytest.raises(ValueError, match="X must be a table of numbers"):
        plot.decision_boundary(model, [["a", "b"]], [1])


# --- confusion_matrix and images ------------------------------------------------------------------

Y_TRUE = [0, 1, 2, 2, 1, 0, 2, 2]
Y_PRED = [0, 2, 2, 2, 1, 1, 0, 2]


def cell_texts(ax):
    """{(row, column): text} of the numbers written in the cells."""
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}


@needs_matplotlib
def test_confusion_matrix_draws_the_counts_in_their_cells(plot):
    ax = plot.confusion_matrix(Y_TRUE, Y_PRED)
    want = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    assert want.tolist() == [[1, 1, 0], [0, 1, 1], [1, 0, 3]]
    assert np.array_equal(ax.images[0].get_array(), want)
    assert cell_texts(ax) == {(i, j): str(n) for (i, j), n in np.ndenumerate(want)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "1", "2"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert ax.get_title() == "confusion matrix: 5 of 8 correct"
    colours = {cell: t.get_color() for cell, t in zip(cell_texts(ax), ax.texts)}
    assert colours[(2, 2)] == "white" and colours[(0, 0)] == "black"  # readable on the dark cell


@needs_matplotlib
def test_confusion_matrix_takes_labels_and_an_axes(plot, plt):
    _, (left, right) = plt.subplots(1, 2)
    ax = plot.confusion_matrix(Y_TRUE, Y_PRED, labels=[2, 0], ax=right)
    assert ax is right and not left.images  # drawn where asked
    assert np.array_equal(ax.images[0].get_array(), [[3, 1], [0, 1]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "0"]
    assert ax.get_title() == "confusion matrix: 4 of 5 correct"


@needs_matplotlib
def test_images_draws_a_grid_with_titles(plot):
    pixels = np.arange(7 * 64, dtype=float).reshape(7, 64)
    fig = plot.images(pixels, [f"image {k}" for k in range(7)], ncols=3)
    assert len(fig.axes) == 7  # 3 rows of 3, the last two cells left empty
    assert [ax.get_title() for ax in fig.axes] == [f"image {k}" for k in range(7)]
    for k, ax in enumerate(fig.axes):
        assert np.array_equal(ax.images[0].get_array(), pixels[k].reshape(8, 8))
        assert ax.images[0].get_clim() == (0.0, 7 * 64 - 1)  # one grey scale for all
    assert fig.axes[3].get_subplotspec().rowspan.start == 1  # the fourth image starts row two
    assert plot.images(np.zeros((4, 2, 3))).axes[3].images[0].get_array().shape == (2, 3)


@needs_matplotlib
def test_images_takes_a_shape_and_a_figure(plot, plt):
    fig = plt.figure()
    assert plot.images(np.ones((2, 12)), shape=(3, 4), fig=fig) is fig
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(3, 4), (3, 4)]
    assert [ax.get_title() for ax in fig.axes] == ["", ""]


@needs_matplotlib
@pytest.mark.parametrize("args,kwargs,match", [
    ((np.zeros((2, 10)),), {}, r"rows of 10 pixels cannot be shown as \(8, 8\)"),
    ((np.zeros((0, 64)),), {}, "non-empty"),
    ((np.zeros(64),), {}, r"got shape \(64,\)"),
    ((np.zeros((2, 64)), ["one"]), {}, "2 images but 1 titles"),
    ((np.zeros((2, 64)),), {"ncols": 0}, "ncols must be a positive int"),
])
def test_images_names_bad_input(plot, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.images(*args, **kwargs)


@needs_matplotlib
def test_kernels_draws_each_kernel_on_one_scale_centred_at_zero(plot):
    from micrograd.conv import Conv2d
    conv = Conv2d(1, 3, (2, 3), rng=0)
    fig = plot.kernels(conv)
    weights = np.array([w.data for w in conv.weight]).reshape(3, 2, 3)
    assert [ax.get_title() for ax in fig.axes] == ["kernel 0", "kernel 1", "kernel 2"]
    m = np.abs(weights).max()
    for k, ax in enumerate(fig.axes):
        assert np.array_equal(ax.images[0].get_array(), weights[k])
        assert ax.images[0].get_clim() == (-m, m)
    two = Conv2d(2, 3, 2, rng=0)
    fig = plot.kernels(two)
    assert len(fig.axes) == 6 and fig.axes[1].get_title() == "out 0, in 1"
    assert fig.axes[2].get_subplotspec().rowspan.start == 1  # a row per output channel
    assert np.array_equal(fig.axes[5].images[0].get_array(), np.array([w.data for w in two.weight[20:24]]).reshape(2, 2))
    with pytest.raises(TypeError, match="Conv2d's weights, got MLP"):
        plot.kernels(MLP(2, [1], rng=0))


@needs_matplotlib
def test_feature_maps_draws_one_image_per_channel(plot):
    maps = [[[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]], [[0.0, -1.0], [5.0, 6.0]]]
    fig = plot.feature_maps(maps)
    assert [ax.get_title() for ax in fig.axes] == ["map 0", "map 1"]
    assert fig.axes[0].images[0].get_array().tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert fig.axes[1].images[0].get_clim() == (-1.0, 6.0)  # one grey scale for all
    assert len(plot.feature_maps(np.zeros((3, 4, 4))).axes) == 3
    with pytest.raises(ValueError, match="channels x height x width"):
        plot.feature_maps(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="channels x height x width"):
        plot.feature_maps([Value(1.0)])


def test_without_matplotlib_confusion_matrix_and_images_say_what_to_install(monkeypatch):
    from micrograd import plot

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import matplotlib.pyplot fails
    with pytest.raises(ImportError, match=r"pip install 'micrograd\[plot\]'") as info:
        plot.confusion_matrix([0, 1], [0, 1])
    assert info.value.name == "matplotlib"  # (what a notebook runner reads to skip on a missing extra)
    with pytest.raises(ImportError, match=r"pip install 'micrograd\[plot\]'"):
        plot.images(np.zeros((1, 64)))


# --- predicted_vs_true ------------------------------------------------------------------------------

@needs_matplotlib
def test_predicted_vs_true_scatters_the_samples_around_the_diagonal(plot):
    t = np.array([1.0, 2.0, 4.0, 9.0])
    p = np.array([[2.0], [2.0], [4.0], [11.0]])  # a column, as a compiled model returns it
    ax = plot.predicted_vs_true(t, p)
    (diagonal,) = ax.get_lines()
    (points,) = ax.collections
    assert points.get_offsets().tolist() == [[1.0, 2.0], [2.0, 2.0], [4.0, 4.0], [9.0, 11.0]]
    low, high = diagonal.get_xdata()
    assert diagonal.get_ydata().tolist() == [low, high] and low < 1.0 and high > 11.0
    assert ax.get_xlim() == ax.get_ylim() == (low, high)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("true value", "predicted value")
    # R² = 1 - (1 + 0 + 0 + 4) / (9 + 4 + 0 + 25), mean squared error (1 + 4) / 4
    assert ax.get_title() == f"R² {1 - 5 / 38:.3f}, mean squared error 1.25 on 4 samples"


@needs_matplotlib
def test_predicted_vs_true_draws_on_the_axes_given_and_names_bad_input(plot, plt):
    fig, (left, right) = plt.subplots(1, 2)
    assert plot.predicted_vs_true([1.0, 2.0], [1.5, 2.5], ax=right) is right and not left.collections
    with pytest.raises(ValueError, match="2 values but y_pred has 3"):
        plot.predicted_vs_true([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite numbers"):
        plot.predicted_vs_true([1.0, 2.0], [1.0, np.nan])


@needs_matplotlib
def test_confusion_matrix_of_two_classes_leaves_room_for_its_labels(plot):
    assert plot.confusion_matrix([0, 1, 1], [0, 1, 0]).figure.get_size_inches().tolist() == [3.5, 3.5]
    assert plot.confusion_matrix(list(range(10)), list(range(10))).figure.get_size_inches().tolist() == [6.0, 6.0]
