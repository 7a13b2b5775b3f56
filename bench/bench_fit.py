"""Benchmark: an epoch of ``fit`` on scikit-learn's digits, scalar engine against ``compiled=True``.

The workload of notebooks/digits.ipynb: ``MLP(64, [32, 10], init="xavier", rng=0)`` on the 1,347
training images of ``load_digits`` (pixels / 16, ``train_test_split(test_size=0.25,
random_state=0)``), ``cross_entropy`` on the integer labels, ``Adam(lr=0.01)``, batches of 32
(43 optimiser steps an epoch), no progress bar.

Peers, from the same weights, in the same process, one after the other in each repeat:

- **scalar**: ``fit(...)``, one epoch (a graph of Values per image, ``backward``);
- **compiled**: ``fit(..., compiled=True)``, several epochs; an epoch's time is the time between
  two epoch-end callbacks, so the one-off tracing (reported apart) is not in it;
- **Adam steps**: the 43 ``optimizer.step()`` calls of an epoch alone, on the 2,410 scalar
  parameters (gathered into arrays, the rule, written back): a cost of the scalar path only, as
  compiled training keeps the parameters in arrays and runs the rule on them directly.

Each ratio is the median over repeats of the ratio within a repeat. Before timing, the script checks
that both paths reach the same weights after one epoch (to 1e-10).

Run from the repository root:

    python bench/bench_fit.py            # about 40 s
    python bench/bench_fit.py --quick    # one repeat: a smoke test
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread (set before numpy loads)

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_compile import digits_train as digits  # noqa: I001 (the digits notebook's training split)

from micrograd.losses import cross_entropy
from micrograd.nn import MLP
from micrograd.optim import Adam
from micrograd.train import fit

BATCH = 32


def epoch_times(X: np.ndarray, y: np.ndarray, epochs: int, compiled: bool) -> tuple[list[float], MLP]:
    """Seconds from the call to each epoch's end, for a fresh model."""
    model = MLP(64, [32, 10], init="xavier", rng=0)
    start = time.perf_counter()
    ends: list[float] = []
    fit(model, X, y, cross_entropy, Adam(model, lr=0.01), epochs=epochs, batch_size=BATCH, progress=False,
        compiled=compiled, callbacks=[lambda epoch, history: ends.append(time.perf_counter() - start)])
    return ends, model


def adam_steps(steps: int) -> float:
    """Seconds for ``steps`` Adam steps on the model's parameters (gradients set, as after backward)."""
    model = MLP(64, [32, 10], init="xavier", rng=0)
    for p in model.parameters():
        p.grad = 1e-3
    optimizer = Adam(model, lr=0.01)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    X, y = digits()
    steps = -(-len(X) // BATCH)

    _, scalar_model = epoch_times(X, y, 1, compiled=False)
    _, compiled_model = epoch_times(X, y, 1, compiled=True)
    gap = max(abs(p.data - q.data) for p, q in zip(scalar_model.parameters(), compiled_model.parameters()))
    assert gap <= 1e-10, f"scalar and compiled fit disagree after an epoch: {gap:.3g}"

    rows: dict[str, list[float]] = {"scalar": [], "compiled": [], "trace": [], "adam": []}
    for _ in range(repeats):
        (scalar,), _ = epoch_times(X, y, 1, compiled=False)
        ends, _ = epoch_times(X, y, 6, compiled=True)
        epochs = np.diff(ends)
        rows["scalar"].append(scalar)
        rows["compiled"].append(float(np.median(epochs)))
        rows["trace"].append(ends[0] - float(np.median(epochs)))  # the first epoch's extra: tracing
        rows["adam"].append(adam_steps(steps))
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = statistics.median(s / c for s, c in zip(rows["scalar"], rows["compiled"]))
    adam_share = statistics.median(a / c for a, c in zip(rows["adam"], rows["compiled"]))

    print(f"fit on digits: MLP 64-32-10, {len(X)} training images, batches of {BATCH} ({steps} steps an epoch), "
          f"Adam; medians of {repeats} repeat(s)")
    print(f"  scalar engine       {med['scalar']:8.3f} s per epoch")
    print(f"  compiled=True       {med['compiled']:8.3f} s per epoch (tracing once: {med['trace']:.3f} s)")
    print(f"  scalar / compiled   {ratio:8.0f}x")
    print(f"  Adam steps alone    {med['adam']:8.3f} s per epoch = {adam_share:.0%} of a compiled epoch's time "
          "(the scalar path's cost: compiled training runs the rule on arrays)")


if __name__ == "__main__":
    main()
