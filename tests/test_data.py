"""data: the toy sets and the split reproduce scikit-learn's arrays (make_moons also against golden
values recorded from sklearn 1.9, so it is checked without scikit-learn too)."""

import numpy as np
import pytest

from micrograd.data import (
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    train_test_split,
)

# sklearn.datasets.make_moons(n_samples=6, noise=0.1, random_state=0), scikit-learn 1.9.1
GOLDEN_Y = [1, 0, 0, 1, 0, 1]
GOLDEN_X = [
    [1.9157275946170713, 0.6969924447869893],
    [-0.8733881470142222, -0.05058765397605105],
    [0.25452007784710545, 1.1080811913055446],
    [0.04843121541206648, 0.5579140478706729],
    [0.9818417427268804, 0.1410204631131214],
    [0.9625528309019793, -0.47248016844236795],
]


def test_make_moons_matches_scikit_learn_golden_values():
    X, y = make_moons(n_samples=6, noise=0.1, random_state=0)
    assert y.tolist() == GOLDEN_Y
    np.testing.assert_allclose(X, GOLDEN_X, rtol=0, atol=1e-15)


def test_make_moons_matches_scikit_learn_when_installed():
    sklearn = pytest.importorskip("sklearn.datasets")
    for seed, n, noise in [(0, 100, 0.1), (5, 37, 0.3), (1337, 10, None)]:
        a = sklearn.make_moons(n_samples=n, noise=noise, random_state=seed)
        b = make_moons(n_samples=n, noise=noise, random_state=seed)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_make_moons_shapes_labels_and_seeding():
    X, y = make_moons(101, random_state=3)
    assert X.shape == (101, 2) and y.shape == (101,) and set(y.tolist()) == {0, 1}
    assert (y == 1).sum() == 51
    assert np.array_equal(make_moons(20, noise=0.2, random_state=np.random.RandomState(4))[0],
                          make_moons(20, noise=0.2, random_state=4)[0])
    np.random.seed(1)
    a = make_moons(10, noise=0.1)[0]
    np.random.seed(1)
    assert np.array_equal(a, make_moons(10, noise=0.1)[0])


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10"])
def test_make_moons_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(bad)


def test_make_moons_rejects_bad_seed():
    with pytest.raises(TypeError, match="random_state"):
        make_moons(10, random_state="seed")


# --- the other data sets and the split: scikit-learn's arrays, seed for seed --------------------

def sklearn_datasets():
    return pytest.importorskip("sklearn.datasets")


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("kwargs", [{}, {"n_samples": 37, "noise": 0.1}, {"n_samples": 20, "factor": 0.3,
                                                                          "shuffle": False}])
def test_make_circles_matches_scikit_learn(seed, kwargs):
    a = sklearn_datasets().make_circles(random_state=seed, **kwargs)
    b = make_circles(random_state=seed, **kwargs)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("kwargs", [{}, {"n_samples": 53, "n_features": 3, "centers": 4, "cluster_std": 0.5},
                                    {"centers": np.array([[0.0, 0.0], [3.0, 3.0]]), "shuffle": False}])
def test_make_blobs_matches_scikit_learn(seed, kwargs):
    a = sklearn_datasets().make_blobs(random_state=seed, **kwargs)
    b = make_blobs(random_state=seed, **kwargs)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_make_spiral_is_the_tutorial_spiral():
    X, y = make_spiral(100, 3, random_state=0)
    assert X.shape == (300, 2) and y.tolist() == [0] * 100 + [1] * 100 + [2] * 100
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[:100], np.linspace(0, 1, 100), atol=1e-12)  # r = linspace(0, 1)
    X0, _ = make_spiral(100, 3, noise=0.0)
    t = np.linspace(4, 8, 100) * 2.5  # arm 1, without noise
    np.testing.assert_allclose(X0[100:200], np.c_[np.linspace(0, 1, 100) * np.sin(t),
                                               np.linspace(0, 1, 100) * np.cos(t)], atol=1e-12)
    assert np.array_equal(make_spiral(10, 2, random_state=3)[0], make_spiral(10, 2, random_state=3)[0])


@pytest.mark.parametrize("kwargs", [{}, {"test_size": 0.3}, {"test_size": 7}, {"train_size": 0.6},
                                    {"train_size": 5, "test_size": 3}, {"shuffle": False, "test_size": 0.2}])
def test_train_test_split_matches_scikit_learn(kwargs):
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20)
    ours = train_test_split(X, y, random_state=4, **kwargs)
    theirs = model_selection.train_test_split(X, y, random_state=4, **kwargs)
    assert len(ours) == 4 and all(np.array_equal(a, b) for a, b in zip(ours, theirs))


@pytest.mark.parametrize("call,match", [
    (lambda: train_test_split(), "at least one"),
    (lambda: train_test_split(np.zeros(3), np.zeros(4)), "different numbers of rows"),
    (lambda: train_test_split(np.zeros(3), 5.0), "arrays of rows, got a single number"),
    (lambda: train_test_split(np.zeros(10), test_size=1.5), "test_size"),
    (lambda: train_test_split(np.zeros(10), test_size=0), "test_size"),
    (lambda: train_test_split(np.zeros(10), test_size=6, train_size=6), "cannot split"),
    (lambda: make_circles(10, factor=1.5), "factor"),
    (lambda: make_blobs(0), "n_samples"),
    (lambda: make_spiral(10, 0), "classes"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_shifted_copies_move_each_image_one_pixel_with_zeros_at_the_edge():
    from micrograd.data import shifted_copies
    image = np.arange(1.0, 7.0).reshape(2, 3)  # [[1 2 3] [4 5 6]]
    X, y = shifted_copies(image.reshape(1, 6), np.array([7]), (2, 3))
    assert X.shape == (5, 6) and y.tolist() == [7] * 5
    assert X.reshape(5, 2, 3).tolist() == [
        [[1, 2, 3], [4, 5, 6]],
        [[4, 5, 6], [0, 0, 0]],   # up
        [[0, 0, 0], [1, 2, 3]],   # down
        [[2, 3, 0], [5, 6, 0]],   # left
        [[0, 1, 2], [0, 4, 5]],   # right
    ]
    with pytest.raises(ValueError, match="rows of 2x3 = 6 pixels"):
        shifted_copies(np.zeros((1, 5)), [0], (2, 3))
    with pytest.raises(ValueError, match="1 rows but 2 labels"):
        shifted_copies(np.zeros((1, 6)), [0, 1], (2, 3))
