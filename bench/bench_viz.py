"""Benchmark: the cost of graph pictures on the moons demo, against the demo step itself.

Two measurements, each a ratio against a peer timed in the same run:

1. **provenance recording**: one moons demo training step (``MLP(2, [16, 16, 1])`` after
   ``random.seed(1337)``, 100 points of ``make_moons(noise=0.1, random_state=1337)``, hinge loss +
   1e-4 L2, zero_grad, backward, SGD) with the model called as ``model(x)`` (``MLP`` records
   every call), and the same step with the same neurons called one layer after another by hand,
   which records nothing. The two variants alternate step by step (in ABBA order); the median and
   the fastest of each are reported (CPU time of the process), and their ratio. The same cost is
   also counted directly: one ``record_layers`` call per MLP call, times the cost of one call and
   of dropping its record with the graph, against the fastest step and the fastest forward pass.
   Likewise a ``Conv2d(1, 8, 3)`` call on an 8x8 image (the digits' first layer): its one
   ``record_image`` call and the drop of its record, against the fastest call.
2. **drawing the moons loss graph** (65,818 nodes): ``draw_dot(total)`` with the default node
   budget (building the ``graphviz.Digraph``: traversal, module calls, collapse, DOT text), then
   rendering it to SVG with ``dot``; both against the median training step of (1).

Run from the repository root:

    python bench/bench_viz.py            # 60 steps per variant, 3 drawings
    python bench/bench_viz.py --quick    # 12 steps per variant, 1 drawing

Absolute times drift on a shared machine; read the ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from micrograd import Value, gc_paused, provenance
from micrograd.conv import Conv2d
from micrograd.data import make_moons
from micrograd.nn import MLP


def moons_setup() -> tuple[MLP, list[list[float]], list[int]]:
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1, random_state=1337)
    return MLP(2, [16, 16, 1]), X.tolist(), (y * 2 - 1).tolist()


def unrecorded(model: MLP) -> Callable[[list[Value]], Value]:
    """The same forward as ``model(x)``, neuron by neuron, without the call's record."""
    def forward(x: list[Value]) -> Value:
        with gc_paused():  # as MLP.__call__
            for layer in model.layers:
                x = [n(x) for n in layer.neurons]
        return x[0]
    return forward


def moons_loss(model: MLP, X: list[list[float]], y: list[int],
               forward: Callable[[list[Value]], Any] | None = None) -> Value:
    forward = model if forward is None else forward
    scores = [forward([Value(a), Value(b)]) for a, b in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]  # type: ignore[operator]
    data_loss = sum(losses) * (1.0 / len(losses))
    return data_loss + 1e-4 * sum(p * p for p in model.parameters())  # type: ignore[no-any-return]


def step(model: MLP, X: list[list[float]], y: list[int],
         forward: Callable[[list[Value]], Any] | None = None) -> float:
    """One training step (lr 0.5), freeing its graph: CPU time of this process, in seconds.

    CPU time rather than wall time: on a shared machine the other processes' load is not ours.
    """
    start = time.process_time()
    total = moons_loss(model, X, y, forward)
    model.zero_grad()
    total.backward()
    for p in model.parameters():
        p.data -= 0.5 * p.grad
    del total
    return time.process_time() - start


def conv_recording(repeats: int = 20) -> None:
    """Print the counted cost of a Conv2d call's record against the fastest call itself."""
    conv = Conv2d(1, 8, 3, rng=0)
    image = [[[Value((i * 8 + j) / 64) for j in range(8)] for i in range(8)]]
    forwards, per_call, per_drop = [], [], []
    for _ in range(repeats):
        start = time.process_time()
        out = conv(image)
        forwards.append(time.process_time() - start)
        del out
        outs = [[[[Value(1.0)]]] for _ in range(100)]  # fresh first outputs: a record each
        start = time.perf_counter()
        for o in outs:
            provenance.record_image(conv, image, o)
        per_call.append((time.perf_counter() - start) / 100)
        start = time.perf_counter()
        del outs
        per_drop.append((time.perf_counter() - start) / 100)
    cost = min(per_call) + min(per_drop)
    print(f"Conv2d(1, 8, 3) on 8x8: one record_image() call ({min(per_call) * 1e9:.0f} ns to record + "
          f"{min(per_drop) * 1e9:.0f} ns to drop) = {cost / min(forwards) * 100:.3f} % of the fastest call "
          f"({min(forwards) * 1e3:.2f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke test")
    args = parser.parse_args()
    steps, drawings = (12, 1) if args.quick else (60, 3)

    model, X, y = moons_setup()
    plain = unrecorded(model)
    timings: dict[str, list[float]] = {"recording": [], "unrecorded": []}
    step(model, X, y)  # warm-up
    step(model, X, y, plain)
    for k in range(2 * steps):
        variant = "recording" if k % 4 in (0, 3) else "unrecorded"  # ABBA: no variant always goes first
        timings[variant].append(step(model, X, y, None if variant == "recording" else plain))
    with_rec, without = (statistics.median(timings[v]) for v in ("recording", "unrecorded"))
    fast_rec, fast_without = (min(timings[v]) for v in ("recording", "unrecorded"))
    print(f"moons step, {steps} steps per variant, alternating, CPU time:  median     fastest")
    print(f"  model(x), with provenance records    : {with_rec * 1e3:7.1f} ms  {fast_rec * 1e3:7.1f} ms")
    print(f"  the same neurons, no records         : {without * 1e3:7.1f} ms  {fast_without * 1e3:7.1f} ms")
    print(f"  difference                           : {(with_rec / without - 1) * 100:+7.2f} %  "
          f"{(fast_rec / fast_without - 1) * 100:+7.2f} %")
    # The same cost counted directly: one record_layers call per MLP call, times its cost.
    calls = len(X)
    xs = [Value(1.0) for _ in range(2)]
    hidden = [Value(1.0) for _ in range(16)]
    per_call, per_drop = [], []
    for _ in range(5):
        outs = [[Value(1.0)] for _ in range(calls)]
        start = time.perf_counter()
        for o in outs:  # an MLP call of three layers: one record, its layers' calls inside
            provenance.record_layers(model, xs, model.layers, [hidden, hidden, o])
        per_call.append((time.perf_counter() - start) / calls)
        start = time.perf_counter()
        del outs  # the records go with their keys
        per_drop.append((time.perf_counter() - start) / calls)
    forwards = []
    for _ in range(5):
        start = time.process_time()
        scores = [model([Value(a), Value(b)]) for a, b in X]
        forwards.append(time.process_time() - start)
        del scores
    cost = (min(per_call) + min(per_drop)) * calls
    print(f"  counted: {calls} record_layers() calls per step x ({min(per_call) * 1e9:.0f} ns to record + "
          f"{min(per_drop) * 1e9:.0f} ns to drop) = {cost * 1e3:.2f} ms = "
          f"{cost / fast_without * 100:.2f} % of the fastest step, "
          f"{cost / min(forwards) * 100:.2f} % of the fastest forward pass ({min(forwards) * 1e3:.1f} ms)")
    print("  (on a shared machine the timed difference is mostly noise; the counted figure is the one to read)")

    conv_recording()

    try:
        from micrograd.viz import draw_dot
    except ImportError as exc:  # pragma: no cover
        print(f"drawing skipped: {exc}")
        return 1
    total = moons_loss(model, X, y)
    total.backward()
    n = len(total.nodes())
    builds, renders = [], []
    source = ""
    for _ in range(drawings):
        start = time.perf_counter()
        picture = draw_dot(total)
        source = picture.source
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        try:
            svg = picture.pipe(format="svg")
        except RuntimeError as exc:
            print(f"rendering skipped: {exc}")
            return 1
        renders.append(time.perf_counter() - start)
    build, render = statistics.median(builds), statistics.median(renders)
    drawn = source.count("shape=")
    print(f"moons loss graph, {n:,} nodes, draw_dot(total) with the default budget "
          f"({drawn} shapes drawn, {len(svg) / 1e6:.2f} MB of SVG); median of {drawings}:")
    print(f"  build the Digraph : {build:6.2f} s = {build / with_rec:5.1f} training steps")
    print(f"  render to SVG     : {render:6.2f} s = {render / with_rec:5.1f} training steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
