"""plot: the pictures hold the numbers they claim (matrix counts, images, titles)."""

import importlib.util
import sys

import numpy as np
import pytest

from micrograd import metrics

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="needs matplotlib: pip install -e '.[notebooks]'")


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


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    from micrograd import plot

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # import matplotlib.pyplot fails
    with pytest.raises(ImportError, match=r"pip install 'micrograd\[notebooks\]'") as info:
        plot.confusion_matrix([0, 1], [0, 1])
    assert info.value.name == "matplotlib"  # (what a notebook runner reads to skip on a missing extra)
    with pytest.raises(ImportError, match=r"pip install 'micrograd\[notebooks\]'"):
        plot.images(np.zeros((1, 64)))
