"""Benchmark: the compiled tape against hand-written numpy, PyTorch eager and the scalar engine.

Three workloads, each a full-batch gradient computation (forward, backward, gradients of every
parameter) of the same model from the same weights:

(a) the moons demo step: ``MLP(2, [16, 16, 1])`` after ``random.seed(1337)``, 100 points of
    ``make_moons(noise=0.1, random_state=1337)``, labels -1/+1, hinge loss mean + 1e-4 L2;
(b) ``MLP(2, [64, 64, 1])`` on 1,000 moons points, the same loss;
(c) ``MLP(64, [32, 10])`` on scikit-learn's bundled ``load_digits`` (1,797 images, pixels / 16),
    softmax cross-entropy mean.

Peers, measured in the same process and run, interleaved repeat by repeat:

- **compiled**: ``f = micrograd.compile(per_sample_loss, params=model.parameters())``, a step is
  ``model.zero_grad(); f.backward(X, y)``; the model code is ``micrograd.nn.MLP`` unchanged;
- **numpy**: the same MLP written by hand with numpy arrays (weights already in matrices), forward
  and backward;
- **torch**: PyTorch eager, ``nn.Linear`` layers in float64, ``zero_grad``, forward, ``backward``;
- **scalar**: this micrograd's scalar engine (workload (a) only: the others take seconds a step).

Everything runs on one thread: ``torch.set_num_threads(1)`` and the BLAS thread count of numpy set
to 1 before numpy loads. In each of 21 repeats every peer runs a loop of steps (~20 ms), back to
back; times are medians over repeats, and each ratio is the median over repeats of the ratio within
a repeat (a shared machine's load drifts between repeats, much less within one). The line "param
I/O" times what a compiled step spends on the scalar parameters alone (``zero_grad``, reading
``.data``, adding ``.grad``). Before timing, the script checks that the compiled loss and gradients
equal numpy's (and torch's) to 1e-10 relative.

Also timed: scoring ``micrograd.plot.decision_boundary``'s default 100 x 100 grid with the moons
demo's MLP, forward only, as that function does it (``micrograd.compile(model, params=[])`` on the
grid, tracing included) against the scalar engine point by point (its fallback), after checking
both give the same scores; 5 repeats (3 with ``--quick``), the scalar pass taking seconds.

Memory: for the digits tape, ``tracemalloc`` peak during ``f.backward`` at several batch sizes; the
slope of a least-squares line is the state the tape holds per batch row.

Run from the repository root:

    python bench/bench_compile.py            # about a minute
    python bench/bench_compile.py --quick    # fewer repeats: a smoke test
    python bench/bench_compile.py --cpu-time # steps and epochs timed by CPU time (a busy machine)

Targets are printed for information, never enforced.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread, for numpy as for torch (set before numpy loads)

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import micrograd
from micrograd import Value, no_grad
from micrograd.data import make_moons
from micrograd.losses import cross_entropy, hinge, l2_penalty
from micrograd.nn import MLP
from micrograd.optim import SGD, Adam
from micrograd.train import fit
from micrograd.tape import Compiled

L2 = 1e-4


# --- the workloads -------------------------------------------------------------------------

def moons_workload(sizes: list[int], n: int) -> dict[str, Any]:
    random.seed(1337)
    X, y = make_moons(n_samples=n, noise=0.1, random_state=1337)
    y = (y * 2 - 1).astype(float)
    model = MLP(2, sizes)
    params = model.parameters()

    def per_sample(x: list[Value], yi: Value) -> Value:
        return hinge(model(x), yi) + l2_penalty(params, L2)  # type: ignore[operator]

    name = f"MLP 2-{'-'.join(map(str, sizes))}, {n} moons points, hinge + L2"
    return {"model": model, "X": X, "Y": y, "fn": per_sample, "loss": "hinge", "name": name}


def digits_train() -> tuple[np.ndarray, np.ndarray]:
    """The 1,347 training images of notebooks/digits.ipynb (pixels / 16) and their labels."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]  # bundled: no download
    from micrograd.data import train_test_split
    data = load_digits()
    X, _, y, _ = train_test_split(data.data / 16.0, data.target, test_size=0.25, random_state=0)
    return X, y


def digits_workload(batch: int | None = None) -> dict[str, Any]:
    X, y = digits_train()
    X, y = (X, y) if batch is None else (X[:batch], y[:batch])
    Y = np.eye(10)[y]
    random.seed(1337)
    model = MLP(64, [32, 10])

    def per_sample(x: list[Value], onehot: list[Value]) -> Value:
        return cross_entropy(model(x), onehot)  # type: ignore[arg-type,return-value]

    return {"model": model, "X": X, "Y": Y, "fn": per_sample, "loss": "xent",
            "name": f"MLP 64-32-10, digits batch {len(X)}, softmax cross-entropy"}


def weights(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array([[w.data for w in n.w] for n in layer.neurons]),
             np.array([n.b.data for n in layer.neurons])) for layer in model.layers]


# --- the hand-written numpy peer ------------------------------------------------------------

def numpy_step(layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, Y: np.ndarray,
               loss: str) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    """Loss and (dW, db) per layer of the MLP, forward and backward by hand."""
    acts, pres = [X], []
    h = X
    last = len(layers) - 1
    for i, (W, b) in enumerate(layers):
        z = h @ W.T + b
        pres.append(z)
        h = np.maximum(z, 0.0) if i < last else z
        acts.append(h)
    n = len(X)
    if loss == "hinge":
        margin = 1.0 - Y * h[:, 0]
        value = np.maximum(margin, 0.0).mean()
        value += L2 * sum((W * W).sum() + (b * b).sum() for W, b in layers)
        dh = ((margin > 0) * (-Y / n))[:, None]
    else:
        m = h.max(axis=1, keepdims=True)
        e = np.exp(h - m)
        s = e.sum(axis=1, keepdims=True)
        value = float((np.log(s) + m - (Y * h).sum(axis=1, keepdims=True)).mean())
        dh = (e / s - Y) / n
    grads = []
    for i in range(last, -1, -1):
        W, b = layers[i]
        dz = dh if i == last else dh * (pres[i] > 0)
        dW, db = dz.T @ acts[i], dz.sum(axis=0)
        if loss == "hinge":
            dW, db = dW + 2 * L2 * W, db + 2 * L2 * b
        grads.append((dW, db))
        dh = dz @ W
    return float(value), grads[::-1]


# --- the PyTorch peer -----------------------------------------------------------------------

def torch_peer(layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray, Y: np.ndarray,
               loss: str) -> tuple[Callable[[], float], Any]:
    import torch
    torch.set_num_threads(1)
    mods: list[Any] = []
    for i, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if i < len(layers) - 1:
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    params = list(net.parameters())

    def step() -> float:
        net.zero_grad()
        out = net(tX)
        if loss == "hinge":
            total = torch.relu(1 - tY * out[:, 0]).mean() + L2 * sum((p * p).sum() for p in params)
        else:
            total = torch.nn.functional.cross_entropy(out, tY)
        total.backward()
        return total.item()

    return step, net


def scalar_step(w: dict[str, Any]) -> float:
    """The moons demo's step in the scalar engine (the L2 term once, as the demo writes it)."""
    model, X, Y = w["model"], w["X"], w["Y"]
    model.zero_grad()
    scores = [model([Value(x) for x in row]) for row in X.tolist()]
    total = hinge(scores, Y.tolist()) + l2_penalty(model, L2)  # type: ignore[operator]
    total.backward()
    return total.data


# --- timing ---------------------------------------------------------------------------------

def time_repeats(fns: dict[str, Callable[[], Any]], repeats: int, budget: float = 0.02,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds per call of each function in every repeat; within a repeat the functions run back
    to back, each a loop of ~budget s, so a repeat's ratios compare like with like."""
    loops = {}
    for name, fn in fns.items():
        fn()  # warm up
        t = clock()
        fn()
        once = max(clock() - t, 1e-7)
        loops[name] = max(1, int(budget / once))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = clock()
            for _ in range(loops[name]):
                fn()
            samples[name].append((clock() - t) / loops[name])
    return samples


def ratio(samples: dict[str, list[float]], a: str, b: str) -> float:
    """Median over repeats of a's time / b's time in the same repeat."""
    return statistics.median(x / y for x, y in zip(samples[a], samples[b]))


def check(w: dict[str, Any], f: Compiled, torch_step: Callable[[], float], net: Any) -> None:
    """The compiled loss and gradients equal numpy's and torch's (1e-10 relative)."""
    model, X, Y = w["model"], w["X"], w["Y"]
    model.zero_grad()
    loss = f.backward(X, Y)
    ref, grads = numpy_step(weights(model), X, Y, w["loss"])
    tloss = torch_step()
    got = np.concatenate([np.r_[[[p.grad for p in n.w] for n in layer.neurons]].ravel() for layer in model.layers]
                         + [np.array([n.b.grad for n in layer.neurons]) for layer in model.layers])
    want = np.concatenate([g[0].ravel() for g in grads] + [g[1] for g in grads])
    lins = [m for m in net if hasattr(m, "weight")]
    twant = np.concatenate([m.weight.grad.numpy().ravel() for m in lins] + [m.bias.grad.numpy() for m in lins])
    scale = np.abs(want).max()
    assert abs(loss - ref) <= 1e-10 * abs(ref) and abs(tloss - ref) <= 1e-10 * abs(ref), (loss, ref, tloss)
    assert np.abs(got - want).max() <= 1e-10 * scale, np.abs(got - want).max() / scale
    assert np.abs(twant - want).max() <= 1e-10 * scale


def run(w: dict[str, Any], repeats: int, scalar: bool,
        clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    model, X, Y = w["model"], w["X"], w["Y"]
    f = micrograd.compile(w["fn"], params=model.parameters())
    t = time.perf_counter()
    tape = f.tape(X, Y)
    trace_ms = (time.perf_counter() - t) * 1e3
    layers = weights(model)
    torch_step, net = torch_peer(layers, X, Y, w["loss"])
    check(w, f, torch_step, net)

    params = model.parameters()
    run_arrays = micrograd.training(f, SGD(params, lr=0.0))  # the parameters in arrays, as fit keeps them

    def compiled_step() -> None:
        run_arrays.backward(X, Y)

    fns: dict[str, Callable[[], Any]] = {
        "numpy": lambda: numpy_step(layers, X, Y, w["loss"]),
        "compiled": compiled_step,
        "torch": torch_step,
    }
    if scalar:
        fns["scalar"] = lambda: scalar_step(w)
    samples = time_repeats(fns, repeats, clock=clock)
    print(f"\n{w['name']}  ({len(tape.steps)} tape steps, traced and lowered in {trace_ms:.0f} ms)")
    for name, secs in samples.items():
        print(f"  {name:9s} {statistics.median(secs) * 1e3:9.3f} ms/step   "
              f"{ratio(samples, name, 'numpy'):8.2f}x numpy")
    print(f"  compiled / numpy = {ratio(samples, 'compiled', 'numpy'):.2f}x (target <= 1.5x), "
          f"compiled / torch = {ratio(samples, 'compiled', 'torch'):.2f}x (target <= 0.7x)"
          + (f", scalar engine / compiled = {ratio(samples, 'scalar', 'compiled'):.0f}x" if scalar else ""))
    return {name: statistics.median(secs) for name, secs in samples.items()}


def numpy_adam(layers: list[tuple[np.ndarray, np.ndarray]], lr: float) -> Callable[[list[Any]], None]:
    """torch.optim.Adam's rule (defaults but lr) on the numpy peer's arrays, in place."""
    state = [[np.zeros_like(a) for a in pair] for pair in layers for _ in (0, 1)]
    flat = [a for pair in layers for a in pair]
    m, v = [np.zeros_like(a) for a in flat], [np.zeros_like(a) for a in flat]
    t = [0]
    del state

    def update(grads: list[Any]) -> None:
        t[0] += 1
        step_size = lr / (1 - 0.9 ** t[0])
        bc2 = (1 - 0.999 ** t[0]) ** 0.5
        for a, g, mi, vi in zip(flat, [g for pair in grads for g in pair], m, v):
            mi += 0.1 * (g - mi)
            vi *= 0.999
            vi += 0.001 * g * g
            a -= step_size * (mi / (np.sqrt(vi) / bc2 + 1e-8))

    return update


def fit_epoch(repeats: int, batch: int = 32, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """An epoch of training on digits, batches of 32, Adam(lr=0.01), the same shuffles (fit's
    RandomState(0) permutations) from the same weights: fit(compiled=True), numpy by hand and
    PyTorch eager. The compiled epoch is the time between two epoch-end callbacks (no tracing)."""
    import torch
    X, y = digits_train()
    Y = np.eye(10)[y]
    n_batches = -(-len(X) // batch)

    def compiled() -> float:
        model = MLP(64, [32, 10], init="xavier", rng=0)
        ends: list[float] = []
        fit(model, X, y, cross_entropy, Adam(model, lr=0.01), epochs=2, batch_size=batch, progress=False,
            compiled=True, callbacks=[lambda epoch, history: ends.append(clock())])
        return ends[1] - ends[0]

    def by_hand(peer: str) -> float:
        model = MLP(64, [32, 10], init="xavier", rng=0)
        layers = weights(model)
        order = np.random.RandomState(0).permutation(len(X))
        if peer == "numpy":
            update = numpy_adam(layers, 0.01)
            start = clock()
            for b in range(n_batches):
                idx = order[b * batch:(b + 1) * batch]
                update(numpy_step(layers, X[idx], Y[idx], "xent")[1])
            return clock() - start
        step, net = torch_peer(layers, X, Y, "xent")
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
        start = clock()
        for b in range(n_batches):
            idx = torch.from_numpy(order[b * batch:(b + 1) * batch])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(tX[idx]), tY[idx]).backward()
            opt.step()
        return clock() - start

    samples: dict[str, list[float]] = {"compiled": [], "numpy": [], "torch": []}
    for _ in range(repeats):  # alternated within each repeat
        samples["compiled"].append(compiled())
        samples["numpy"].append(by_hand("numpy"))
        samples["torch"].append(by_hand("torch"))
    print(f"\nfit epoch: MLP 64-32-10, {len(X)} digits, batches of {batch} ({n_batches} Adam steps), "
          f"same shuffles and weights; medians of {repeats} repeats")
    for name, secs in samples.items():
        print(f"  {name:9s} {statistics.median(secs) * 1e3:9.2f} ms/epoch   "
              f"{ratio(samples, name, 'numpy'):8.2f}x numpy")
    print(f"  compiled / numpy = {ratio(samples, 'compiled', 'numpy'):.2f}x (target <= 3x), "
          f"compiled / torch = {ratio(samples, 'compiled', 'torch'):.2f}x (target <= 0.5x)")
    return {name: statistics.median(secs) for name, secs in samples.items()}


def grid_scoring(repeats: int) -> float:
    """decision_boundary's 100 x 100 grid scored compiled and point by point; returns the ratio."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    axis = np.linspace(-2.0, 3.0, 100)
    grid = np.column_stack([a.ravel() for a in np.meshgrid(axis, axis)])

    def compiled() -> np.ndarray:
        return micrograd.compile(model, params=[])(grid)

    def scalar() -> list[float]:
        with no_grad():
            return [model([Value(a), Value(b)]).data for a, b in grid.tolist()]

    assert np.allclose(compiled(), scalar(), rtol=1e-12, atol=1e-12)
    samples = time_repeats({"compiled": compiled, "scalar": scalar}, repeats)
    print(f"\ndecision_boundary's 100 x 100 grid, MLP 2-16-16-1, forward only: compiled (tracing included) "
          f"{statistics.median(samples['compiled']) * 1e3:.0f} ms, scalar engine point by point "
          f"{statistics.median(samples['scalar']):.2f} s: {ratio(samples, 'scalar', 'compiled'):.0f}x")
    return ratio(samples, "scalar", "compiled")


def memory(w: dict[str, Any], sizes: tuple[int, ...] = (200, 400, 800, 1600)) -> float:
    """Peak bytes allocated during f.backward per batch row (slope over batch sizes)."""
    model, X, Y = w["model"], w["X"], w["Y"]
    peaks = []
    for n in sizes:
        f = micrograd.compile(w["fn"], params=model.parameters())
        f.tape(X[:n], Y[:n])  # traced outside the measurement; the buffers come with the first call
        tracemalloc.start()
        f.backward(X[:n], Y[:n])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    slope, intercept = np.polyfit(sizes, peaks, 1)
    tape = f.tape(X[:n], Y[:n])
    print(f"\nmemory, {w['name']}: peak during f.backward "
          + ", ".join(f"{n} rows {p / 1e3:.0f} kB" for n, p in zip(sizes, peaks))
          + f"\n  {slope:.0f} bytes per batch row ({tape.n_v} per-sample rows of float64 in the tape:"
          f" values and adjoints {2 * 8 * tape.n_v} bytes), {intercept / 1e3:.0f} kB fixed")
    return float(slope)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time steps and epochs by this thread's CPU time, which other processes on a "
                             "busy machine disturb less than wall time")
    args = parser.parse_args(argv)
    clock = time.thread_time if args.cpu_time else time.perf_counter
    repeats = 3 if args.quick else 21
    import torch
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
          "float64, one thread")
    try:
        import jax  # noqa: F401
        print("JAX is installed but not timed here yet")
    except ImportError:
        print("JAX: not installed, skipped")
    print(f"clock: {'CPU time of this thread' if args.cpu_time else 'wall time'}")
    run(moons_workload([16, 16, 1], 100), repeats, scalar=True, clock=clock)
    run(moons_workload([64, 64, 1], 1000), repeats, scalar=False, clock=clock)
    digits = digits_workload()
    run(digits, repeats, scalar=False, clock=clock)
    run(digits_workload(32), repeats, scalar=False, clock=clock)
    fit_epoch(3 if args.quick else 11, clock=clock)
    memory(digits)
    grid_scoring(3 if args.quick else 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
