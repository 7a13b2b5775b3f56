"""Command line: ``python -m micrograd demo`` trains micrograd's moons demo and reports progress."""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Sequence, TextIO


from .data import make_moons
from .engine import Value
from .nn import MLP


def linear_decay(step: int, steps: int) -> float:
    """micrograd demo's learning rate: 1.0 at the first step, falling linearly towards 0.1."""
    return 1.0 - 0.9 * step / steps


def moons_demo(steps: int = 100, seed: int = 1337, out: TextIO | None = None) -> tuple[float, float]:
    """karpathy's moons demo: MLP 2-16-16-1, hinge loss + 1e-4 L2, full batch, linear lr decay.

    With the defaults it is his demo exactly (100 steps, seed 1337 for the data and the weights).

    Returns the final (loss, accuracy).
    """
    out = sys.stdout if out is None else out
    random.seed(seed)
    X, y = make_moons(n_samples=100, noise=0.1, random_state=seed)
    y = y * 2 - 1  # labels -1 / +1 for the hinge loss
    model = MLP(2, [16, 16, 1])
    sizes = "-".join(str(n) for n in [2] + [len(layer.neurons) for layer in model.layers])
    print(f"moons demo: MLP {sizes}, {len(model.parameters())} parameters, {len(X)} points, "
          f"hinge loss + 1e-4 L2, {steps} steps", file=out)
    interactive = hasattr(out, "isatty") and out.isatty()
    start = time.perf_counter()
    loss_value = accuracy = 0.0
    for k in range(steps):
        inputs = [list(map(Value, row)) for row in X]
        scores: list[Value] = [model(x) for x in inputs]  # type: ignore[misc]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in model.parameters())
        total = data_loss + reg_loss
        accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
        model.zero_grad()
        total.backward()
        lr = linear_decay(k, steps)
        for p in model.parameters():
            p.data -= lr * p.grad
        loss_value = total.data
        bar = "#" * (30 * (k + 1) // steps)
        line = f"step {k + 1:3d}/{steps} [{bar:<30}] loss {loss_value:.4f} accuracy {accuracy:.0%}"
        if interactive:  # redraw one line in a terminal; a log gets every tenth step
            print("\r" + line, end="", file=out, flush=True)
        elif (k + 1) % 10 == 0 or k + 1 == steps:
            print(line, file=out, flush=True)
    elapsed = time.perf_counter() - start
    if interactive:
        print(file=out)
    print(f"final loss {loss_value:.4f}, accuracy {accuracy:.0%}, {elapsed / steps * 1e3:.0f} ms per step",
          file=out)
    return loss_value, float(accuracy)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m micrograd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train micrograd's moons demo (MLP 2-16-16-1, 100 steps)")
    demo.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.steps < 1:
            parser.error("--steps must be at least 1")
        moons_demo(args.steps, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
