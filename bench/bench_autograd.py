"""Benchmark: what the general backward pass costs, against the float loop and PyTorch, same run.

Workload: the moons demo's loss graph (``MLP(2, [16, 16, 1])`` after ``random.seed(1337)``, 100
points from ``make_moons(noise=0.1, random_state=1337)``, hinge loss; about 65,000 nodes). Timed,
median of repeats after one warm-up, each on the same graph:

1. ``loss.backward()``: the float loop (the peer every other figure is a ratio of);
2. ``loss.backward()`` while a hook is registered on some other Value (the general pass, floats);
3. ``grad(loss, params)``: the general pass, floats, touching no ``.grad``;
4. ``grad(loss, params, create_graph=True)``: the rules run on Values, building the gradient graph;
5. PyTorch float64 on the same scalar graph built from 0-d tensors: ``torch.autograd.grad``,
   without and with ``create_graph``, as a reference for scalar-graph autograd in C++.

Run from the repository root: ``python bench/bench_autograd.py`` (``--quick`` for fewer repeats).
Ratios measured in one run are the figures to read; absolute times drift on a shared machine.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def moons_loss(lib: str) -> tuple[Any, list[Any]]:
    """The demo's hinge loss on 100 moons points, built with micrograd or with 0-d torch tensors."""
    from micrograd.data import make_moons
    from micrograd.nn import MLP
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    X, y = make_moons(n_samples=100, noise=0.1, random_state=1337)
    y = [2 * label - 1 for label in y]
    if lib == "micrograd":
        params = model.parameters()
        losses = [(1 + -yi * model(list(map(float, xi)))).relu() for xi, yi in zip(X, y)]
        return sum(losses) * (1.0 / len(losses)), params
    import torch
    params = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    total = torch.zeros((), dtype=torch.float64)
    sizes = [2, 16, 16, 1]
    for xi, yi in zip(X, y):
        act, k = [torch.tensor(float(v), dtype=torch.float64) for v in xi], 0
        for layer, (nin, nout) in enumerate(itertools.pairwise(sizes)):
            out = []
            for _ in range(nout):
                s = params[k + nin]
                for j in range(nin):
                    s = s + params[k + j] * act[j]
                k += nin + 1
                out.append(s.relu() if layer < len(sizes) - 2 else s)
            act = out
        total = total + (1 + -yi * act[0]).relu()
    return total * (1.0 / len(X)), params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = parser.parse_args()
    repeats = 3 if args.quick else 9
    from micrograd import Value
    from micrograd.autograd import grad
    loss, params = moons_loss("micrograd")
    print(f"[bench] moons loss graph: {len(loss.nodes()):,} nodes, {len(params)} parameters")
    fast = median_time(lambda: loss.backward(), repeats)
    bystander = Value(0.0)
    handle = bystander.register_hook(lambda g: g)
    hooked = median_time(lambda: loss.backward(), repeats)
    handle.remove()
    plain = median_time(lambda: grad(loss, params), repeats)
    graph = median_time(lambda: grad(loss, params, create_graph=True), repeats)
    rows = [("backward(), float loop", fast), ("backward() with a live hook (general pass)", hooked),
            ("grad(loss, params)", plain), ("grad(loss, params, create_graph=True)", graph)]
    try:
        import torch
        tloss, tparams = moons_loss("torch")
        rows.append(("torch.autograd.grad, float64 scalar graph",
                     median_time(lambda: torch.autograd.grad(tloss, tparams, retain_graph=True), repeats)))
        rows.append(("torch.autograd.grad(create_graph=True)",
                     median_time(lambda: torch.autograd.grad(tloss, tparams, retain_graph=True,
                                                             create_graph=True), repeats)))
    except ImportError:
        print("[bench] PyTorch is not installed: its rows are left out")
    print(f"\n{'workload':<46}{'ms':>10}{'vs float loop':>16}")
    for name, t in rows:
        print(f"{name:<46}{t * 1e3:>10.1f}{t / fast:>15.2f}x")
    print(f"\nmedian of {repeats} after a warm-up; ratios are the figures to read on a shared machine")


if __name__ == "__main__":
    main()
