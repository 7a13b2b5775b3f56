"""Benchmark: a small CNN trained on the 8x8 digits, fit(compiled=True) against PyTorch eager.

The network is notebooks/conv_digits.ipynb's::

    Sequential(Unflatten(1, 8, 8), Conv2d(1, 16, 3, padding=1), Activation("relu"), MaxPool2d(2),
               Conv2d(16, 32, 3, padding=1), Activation("relu"), MaxPool2d(2),
               Flatten(), Layer(32 * 2 * 2, 10, activation="linear"))

trained (without the notebook's shifted copies) on the 1,347 training images of notebooks/digits.ipynb's split (``load_digits``, pixels /
16, ``test_size=0.25, random_state=0``) with softmax cross-entropy, Adam(lr=0.01) and batches of
32 (43 Adam steps an epoch). Peers, from the same weights (copied by
``micrograd.interop.to_torch``) over the same batches (fit's shuffles: ``RandomState(0)``
permutations, one per epoch):

- **compiled**: ``fit(model, ..., compiled=True)`` for two epochs; an epoch is the time between
  the two epoch-end callbacks (tracing and lowering fall in the first epoch and are not counted);
- **torch**: PyTorch eager, the ``torch.nn.Sequential`` of ``to_torch(model)`` (``nn.Unflatten``,
  ``nn.Conv2d``, ``nn.ReLU``, ``nn.MaxPool2d``, ``nn.Flatten``, ``nn.Linear``, float64),
  ``torch.optim.Adam``, two epochs, the second timed.

Everything runs on one thread: ``torch.set_num_threads(1)`` and the BLAS thread count of numpy set
to 1 before numpy loads. Repeats alternate the peers; times are medians over repeats, and the ratio
is the median over repeats of compiled / torch within a repeat (a shared machine's load drifts
between repeats, much less within one). Before timing, the script checks that one step gives the
same loss and gradients in both (1e-10 relative) and, after the timed runs, prints how far the two
peers' weights are apart after two epochs.

Run from the repository root:

    python bench/bench_cnn.py             # about a minute
    python bench/bench_cnn.py --quick     # fewer repeats: a smoke test
    python bench/bench_cnn.py --cpu-time  # epochs timed by CPU time (a busy machine)

The goal (compiled no slower than torch per epoch) is printed for information, never enforced.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_compile  # first: it sets one BLAS thread before numpy loads
import cnn_accuracy

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import micrograd
from micrograd.interop import to_torch, torch_gradients
from micrograd.losses import cross_entropy
from micrograd.nn import Sequential
from micrograd.optim import Adam
from micrograd.train import fit

LR, BATCH, SEED = 0.01, 32, 1


def cnn(seed: int = SEED) -> Sequential:
    """The notebook's CNN (cnn_accuracy's, 16 and 32 channels): 1 x 8 x 8 -> 10 scores."""
    return cnn_accuracy.cnn(seed, (16, 32))


def torch_net(model: Sequential) -> Any:
    import torch
    torch.set_num_threads(1)
    return to_torch(model)


def check_one_step(X: np.ndarray, y: np.ndarray) -> None:
    """One batch: the compiled mean loss and gradients equal PyTorch's (1e-10 relative)."""
    import torch
    model = cnn()
    net = torch_net(model)
    idx = np.random.RandomState(0).permutation(len(X))[:BATCH]
    f = micrograd.compile(lambda x, t: cross_entropy(model(x), t), params=model.parameters())
    model.zero_grad()
    loss = f.backward(X[idx], np.eye(10)[y[idx]])
    got = np.array([p.grad for p in model.parameters()])
    tloss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]))
    tloss.backward()
    want = np.array(torch_gradients(net))
    scale = np.abs(want).max()
    assert abs(loss - tloss.item()) <= 1e-10 * abs(tloss.item()), (loss, tloss.item())
    assert np.abs(got - want).max() <= 1e-10 * scale, np.abs(got - want).max() / scale
    print(f"one step, batch of {BATCH}: loss {loss:.12f} (torch {tloss.item():.12f}), "
          f"{len(got)} gradients agree to {np.abs(got - want).max() / scale:.1e} of the largest")


def compiled_epoch(X: np.ndarray, y: np.ndarray, clock: Callable[[], float]) -> tuple[float, list[float]]:
    """Seconds of fit's second epoch (compiled), and the weights after two epochs."""
    model = cnn()
    ends: list[float] = []
    fit(model, X, y, cross_entropy, Adam(model, lr=LR), epochs=2, batch_size=BATCH, progress=False,
        compiled=True, callbacks=[lambda epoch, history: ends.append(clock())])
    return ends[1] - ends[0], [p.data for p in model.parameters()]


def torch_epoch(X: np.ndarray, y: np.ndarray, clock: Callable[[], float]) -> tuple[float, list[float]]:
    """Seconds of PyTorch eager's second epoch over fit's batches, and the weights after two epochs."""
    import torch
    net = torch_net(cnn())
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)
    order_rng = np.random.RandomState(0)  # fit's shuffles
    start = 0.0
    for epoch in range(2):
        order = torch.from_numpy(order_rng.permutation(len(X)))
        if epoch == 1:
            start = clock()
        for b in range(0, len(X), BATCH):
            idx = order[b:b + BATCH]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(tX[idx]), ty[idx]).backward()
            opt.step()
    seconds = clock() - start
    weights: list[float] = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            weights += torch.cat([m.weight, m.bias[:, None]], dim=1).detach().flatten().tolist()
        elif isinstance(m, torch.nn.Conv2d):
            weights += m.weight.detach().flatten().tolist() + m.bias.detach().tolist()
    return seconds, weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time epochs by this thread's CPU time, which other processes on a busy machine "
                             "disturb less than wall time")
    args = parser.parse_args(argv)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    repeats = 3 if args.quick else 11
    import torch
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
          "float64, one thread")
    print(f"clock: {'CPU time of this thread' if args.cpu_time else 'wall time'}")
    X, y = bench_compile.digits_train()
    print(f"model: {cnn()!r}, {len(cnn().parameters())} parameters")
    check_one_step(X, y)
    samples: dict[str, list[float]] = {"compiled": [], "torch": []}
    for _ in range(repeats):  # alternated within each repeat
        seconds, compiled_weights = compiled_epoch(X, y, clock)
        samples["compiled"].append(seconds)
        seconds, torch_weights = torch_epoch(X, y, clock)
        samples["torch"].append(seconds)
    steps = -(-len(X) // BATCH)
    print(f"\nfit epoch: {len(X)} digits, batches of {BATCH} ({steps} Adam steps, lr {LR}), same shuffles "
          f"and weights; medians of {repeats} alternated repeats")
    for name, secs in samples.items():
        print(f"  {name:9s} {statistics.median(secs) * 1e3:9.2f} ms/epoch  "
              f"({', '.join(f'{s * 1e3:.0f}' for s in secs)})")
    ratio = bench_compile.ratio(samples, "compiled", "torch")
    print(f"  compiled / torch = {ratio:.2f}x per epoch (goal: <= 1x)")
    apart = np.abs(np.array(compiled_weights) - np.array(torch_weights)).max()
    print(f"after two epochs the weights are at most {apart:.1e} apart (rounding, grown by {2 * steps} Adam steps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
