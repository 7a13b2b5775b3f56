"""Benchmark: how the compiled tape scales, with the model's width, the batch and the graph's size.

Two sweeps, in one process, on one thread:

1. **compiled step** (forward, backward, gradients of every parameter): ``MLP(2, [w, w, 1])``
   after ``random.seed(1337)``, hidden width w in 16, 64, 256, on n moons points
   (``make_moons(noise=0.1, random_state=1337)``, labels -1/+1), n in 100, 1,000, 10,000; hinge
   loss mean + 1e-4 L2, as ``bench/bench_compile.py``'s workloads. A step is
   ``model.zero_grad(); f.backward(X, y)`` with ``f = micrograd.compile(per_sample_loss, ...)``
   traced beforehand. Each cell is the median over repeats of one step (repeats: as many as fit
   in about 0.3 s, at least 3). The printed slopes are least-squares slopes on log-log axes: time
   ~ batch^a at each width, time ~ width^b at each batch (b = 2 is the cost of the weights of the
   w x w layer, b = 0 a fixed cost per step).
2. **tracing**: ``micrograd.compile(model, params=model.parameters()).tape(X)`` for
   ``MLP(64, [w, w, 10])`` on one 64-number sample (the function is traced twice, then lowered
   to steps), w in 32, 64, 128, 256, 512, 724; one timing each (the cycle collector is collected
   before). Printed: nodes of one trace (op nodes and leaves), seconds, and microseconds per node;
   a constant last column is linear growth. The largest model of the sweep that traced in under
   10 s is named, with the slope fitted on the sweep.

Run from the repository root:

    python bench/bench_scale.py            # a few minutes
    python bench/bench_scale.py --quick    # widths up to 256, batches up to 1,000: a smoke test

On a shared machine absolute times drift between runs; rerun before trusting a figure.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread (set before numpy loads)

import argparse
import datetime
import gc
import math
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import micrograd
from micrograd import Value
from micrograd.backward import order
from micrograd.data import make_moons
from micrograd.losses import hinge, l2_penalty
from micrograd.nn import MLP

L2 = 1e-4
STEP_WIDTHS = (16, 64, 256)
STEP_BATCHES = (100, 1_000, 10_000)
TRACE_WIDTHS = (32, 64, 128, 256, 512, 724)
TRACE_LIMIT_S = 10.0
STEP_BUDGET_S = 0.3


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def step_time(width: int, batch: int) -> float:
    """Median seconds of one compiled step of MLP(2, [width, width, 1]) on ``batch`` moons points."""
    random.seed(1337)
    X, y = make_moons(n_samples=batch, noise=0.1, random_state=1337)
    y = (y * 2 - 1).astype(float)
    model = MLP(2, [width, width, 1])
    params = model.parameters()

    def per_sample(x: list[Value], yi: Value) -> Value:
        return hinge(model(x), yi) + l2_penalty(params, L2)  # type: ignore[operator]

    f = micrograd.compile(per_sample, params=params)
    f.tape(X, y)  # traced before timing

    def step() -> None:
        model.zero_grad()
        f.backward(X, y)

    step()  # warm-up
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < STEP_BUDGET_S:
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def trace_time(width: int) -> tuple[int, int, float]:
    """(op nodes, leaves of one trace, seconds to trace and lower) for MLP(64, [width, width, 10])."""
    random.seed(1337)
    model = MLP(64, [width, width, 10])
    X = np.random.default_rng(0).normal(size=(2, 64))
    outs = model([Value(x) for x in X[0]])
    nodes = order(*outs)
    n_ops = sum(1 for v in nodes if v._a is not None)
    n_leaves = len(nodes) - n_ops
    del outs, nodes
    f = micrograd.compile(model, params=model.parameters())
    gc.collect()
    t = time.perf_counter()
    f.tape(X)
    return n_ops, n_leaves, time.perf_counter() - t


def step_sweep(widths: tuple[int, ...], batches: tuple[int, ...]) -> list[str]:
    ms = {(w, n): step_time(w, n) * 1e3 for w in widths for n in batches}
    lines = ["compiled step, MLP(2, [w, w, 1]) on n moons points, hinge + L2: ms per step (median)",
             "width".ljust(8) + "".join(f"n={n:,}".rjust(12) for n in batches)
             + "   slope in n (time ~ n^a)"]
    for w in widths:
        row = [ms[w, n] for n in batches]
        lines.append(f"{w:<8}" + "".join(f"{t:12.2f}" for t in row)
                     + f"   a = {slope([float(n) for n in batches], row):.2f}")
    lines.append("slope in w (time ~ w^b): " + ", ".join(
        f"n={n:,}: b = {slope([float(w) for w in widths], [ms[w, n] for w in widths]):.2f}"
        for n in batches))
    return lines


def trace_sweep(widths: tuple[int, ...]) -> list[str]:
    lines = ["tracing MLP(64, [w, w, 10]) on one sample (two traces, then lowering)",
             f"{'width':<8}{'op nodes':>12}{'leaves':>10}{'seconds':>10}{'us per op node':>17}"]
    sizes: list[float] = []
    seconds: list[float] = []
    largest = None
    for w in widths:
        n_ops, n_leaves, s = trace_time(w)
        sizes.append(float(n_ops))
        seconds.append(s)
        lines.append(f"{w:<8}{n_ops:>12,}{n_leaves:>10,}{s:>10.2f}{s / n_ops * 1e6:>17.2f}")
        if s < TRACE_LIMIT_S:
            largest = (w, n_ops, s)
        else:
            break  # wider ones take longer still
    lines.append(f"slope (time ~ op nodes^k): k = {slope(sizes, seconds):.2f}")
    if largest is not None:
        w, n_ops, s = largest
        lines.append(f"largest of the sweep traced in under {TRACE_LIMIT_S:.0f} s: MLP(64, [{w}, {w}, 10]), "
                     f"{n_ops:,} op nodes per trace, {s:.2f} s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="How the compiled tape scales with width, batch and graph size.")
    parser.add_argument("--quick", action="store_true", help="smaller sweeps, for a smoke run")
    args = parser.parse_args(argv)
    widths, batches = STEP_WIDTHS, STEP_BATCHES[:2] if args.quick else STEP_BATCHES
    trace_widths = TRACE_WIDTHS[:4] if args.quick else TRACE_WIDTHS
    print(f"micrograd scale bench, {datetime.date.today().isoformat()}, python {platform.python_version()} "
          f"({platform.machine()}), numpy {np.__version__}, one thread")
    print()
    for line in step_sweep(widths, batches):
        print(line, flush=True)
    print()
    for line in trace_sweep(trace_widths):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
