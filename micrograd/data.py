"""Toy data sets, generated with numpy (nothing is downloaded).

``make_moons`` follows scikit-learn's formula and random-number use, so with the same seed it
returns the same points as ``sklearn.datasets.make_moons``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_moons"]

Seed = int | np.random.RandomState | None


def _rng(random_state: Seed) -> np.random.RandomState:
    if random_state is None:
        return np.random.mtrand._rand  # numpy's global generator, as scikit-learn uses
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
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    rng = _rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    outer = np.linspace(0, np.pi, n_out)
    inner = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(outer), 1 - np.cos(inner)),
                   np.append(np.sin(outer), 1 - np.sin(inner) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    if shuffle:
        order = np.arange(n_samples)
        rng.shuffle(order)
        X, y = X[order], y[order]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y
