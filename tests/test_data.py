"""data: make_moons reproduces scikit-learn's points (golden values recorded from sklearn 1.9)."""

import numpy as np
import pytest

from micrograd.data import make_moons

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
