"""Toy data sets and a train/test split, with numpy (nothing is downloaded).

``make_moons``, ``make_circles``, ``make_blobs`` and ``train_test_split`` follow scikit-learn's
signatures, formulas and random-number use, so with the same seed they return the same arrays as
``sklearn.datasets`` / ``sklearn.model_selection``. ``make_spiral`` is the classic spiral of the
"neural networks from scratch" tutorials, seeded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["make_blobs", "make_circles", "make_moons", "make_spiral", "shifted_copies", "train_test_split"]

Seed = int | np.random.RandomState | None


def _rng(random_state: Seed) -> Any:
    """A RandomState to draw from; for None the ``numpy.random`` module itself.

    The functions of ``numpy.random`` (``np.random.normal``, ...) are the methods of numpy's
    global RandomState: drawing from them is drawing from it, as scikit-learn does.
    """
    if random_state is None:
        return np.random
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, (int, np.integer)):
        return np.random.RandomState(random_state)
    raise TypeError(f"random_state must be None, an int or a numpy RandomState, got {type(random_state).__name__}")


def make_moons(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
               random_state: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X of shape (n_samples, 2), labels y in {0, 1}.

    Same signature, formula and random draws as ``sklearn.datasets.make_moons``.
    """
    _check_count(n_samples, "n_samples")
    rng = _rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_and_noise(X, y, shuffle, noise, rng)


def _check_count(n: object, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{what} must be a positive int, got {n!r}")


def _shuffle_and_noise(X: np.ndarray, y: np.ndarray, shuffle: bool, noise: float | None,
                       rng: Any) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's order of draws: a permutation of the rows, then the noise."""
    if shuffle:
        order = np.arange(len(X))
        rng.shuffle(order)
        X, y = X[order], y[order]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def make_circles(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
                 random_state: Seed = None, factor: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """A large circle (label 0) around a small one of radius ``factor`` (label 1).

    Same signature, formula and random draws as ``sklearn.datasets.make_circles``.
    """
    _check_count(n_samples, "n_samples")
    if not 0 <= factor < 1:
        raise ValueError(f"factor must be in [0, 1), got {factor!r}")
    rng = _rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([np.append(np.cos(outer), np.cos(inner) * factor),
                   np.append(np.sin(outer), np.sin(inner) * factor)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_and_noise(X, y, shuffle, noise, rng)


def make_blobs(n_samples: int = 100, n_features: int = 2, *, centers: int | np.ndarray | None = None,
               cluster_std: float = 1.0, center_box: tuple[float, float] = (-10.0, 10.0),
               shuffle: bool = True, random_state: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs: ``centers`` clusters (3 random ones by default), label = cluster.

    Same signature (for an int ``n_samples`` and a scalar ``cluster_std``), formula and random
    draws as ``sklearn.datasets.make_blobs``.
    """
    _check_count(n_samples, "n_samples")
    _check_count(n_features, "n_features")
    rng = _rng(random_state)
    if centers is None or isinstance(centers, (int, np.integer)):
        n_centers = 3 if centers is None else int(centers)
        _check_count(n_centers, "centers")
        centers = rng.uniform(center_box[0], center_box[1], size=(n_centers, n_features))
    else:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2:
            raise ValueError(f"centers must be an int or a 2-d array, got shape {centers.shape}")
        n_centers, n_features = centers.shape
    counts = [n_samples // n_centers] * n_centers
    for i in range(n_samples % n_centers):
        counts[i] += 1
    X = np.empty((n_samples, n_features), dtype=np.float64)
    y = np.empty((n_samples,), dtype=int)
    start = 0
    for i, n in enumerate(counts):
        X[start:start + n] = rng.normal(loc=centers[i], scale=cluster_std, size=(n, n_features))
        y[start:start + n] = i
        start += n
    return _shuffle_and_noise(X, y, shuffle, None, rng)


def make_spiral(samples: int = 100, classes: int = 3, *, noise: float = 0.2,
                random_state: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms of ``samples`` points each: X (samples * classes, 2), y.

    Arm k: radius r = linspace(0, 1), angle t = linspace(4k, 4(k + 1)) + noise * N(0, 1), points
    (r sin(2.5 t), r cos(2.5 t)), as ``nnfs.datasets.spiral_data(samples, classes)``.
    """
    _check_count(samples, "samples")
    _check_count(classes, "classes")
    rng = _rng(random_state)
    X = np.zeros((samples * classes, 2))
    y = np.zeros(samples * classes, dtype=np.intp)
    for k in range(classes):
        ix = range(samples * k, samples * (k + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(k * 4, (k + 1) * 4, samples) + rng.randn(samples) * noise
        X[ix] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[ix] = k
    return X, y


def train_test_split(*arrays: np.ndarray, test_size: float | None = None,
                     train_size: float | None = None, random_state: Seed = None,
                     shuffle: bool = True) -> list[np.ndarray]:
    """Split arrays into train and test rows: [a_train, a_test, b_train, b_test, ...].

    Same sizes and random draws as ``sklearn.model_selection.train_test_split`` (without
    ``stratify``): test_size defaults to 0.25; a float is a fraction, an int a row count.
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    arrays_ = [np.asarray(a) for a in arrays]
    if any(a.ndim == 0 for a in arrays_):  # (len() of it: "len() of unsized object")
        raise ValueError("train_test_split splits arrays of rows, got a single number")
    n = len(arrays_[0])
    if any(len(a) != n for a in arrays_):
        raise ValueError(f"arrays have different numbers of rows: {[len(a) for a in arrays_]}")
    if test_size is None and train_size is None:
        test_size = 0.25

    def rows(size: float | None, what: str) -> int | None:
        if size is None:
            return None
        if isinstance(size, (float, np.floating)) and 0 < size < 1:
            return int(np.ceil(size * n)) if what == "test_size" else int(np.floor(size * n))
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and 0 < size < n:
            return int(size)
        raise ValueError(f"{what}={size!r} must be a fraction in (0, 1) or a row count in (0, {n})")

    n_test, n_train = rows(test_size, "test_size"), rows(train_size, "train_size")
    n_test = n - n_train if n_test is None else n_test  # type: ignore[operator]
    n_train = n - n_test if n_train is None else n_train
    if n_train < 1 or n_test < 1 or n_train + n_test > n:
        raise ValueError(f"cannot split {n} rows into {n_train} train and {n_test} test rows")
    if shuffle:
        order = _rng(random_state).permutation(n)
        test, train = order[:n_test], order[n_test:n_test + n_train]
    else:
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    return [part for a in arrays_ for part in (a[train], a[test])]


def shifted_copies(X: Any, y: Any, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of flattened ``shape`` images and their copies moved one pixel up, down, left and right,
    zeros filling the vacated edge: ``(5n, h*w)`` images and their labels repeated (a digit moved by
    a pixel is still the same digit, so a small convolutional net learns from five times the rows).
    The originals come first, then the four shifts in that order."""
    h, w = shape
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != h * w:
        raise ValueError(f"shifted_copies: X must be rows of {h}x{w} = {h * w} pixels, got shape {X.shape}")
    if len(y) != len(X):
        raise ValueError(f"shifted_copies: {len(X)} rows but {len(y)} labels")
    images = X.reshape(-1, h, w)
    copies = [images]
    for axis in (1, 2):  # up, down; left, right
        for step in (-1, 1):
            moved = np.roll(images, step, axis=axis)
            edge = 0 if step == 1 else -1  # the row or column np.roll wrapped around
            if axis == 1:
                moved[:, edge, :] = 0.0
            else:
                moved[:, :, edge] = 0.0
            copies.append(moved)
    return np.concatenate(copies).reshape(-1, h * w), np.tile(y, len(copies))
