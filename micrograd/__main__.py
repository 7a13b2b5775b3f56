"""Command line: ``python -m micrograd demo`` trains micrograd's moons demo and reports progress;
``python -m micrograd draw`` writes the picture of a small graph."""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO


from .data import make_moons
from .engine import Value
from .nn import MLP, Neuron


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


def draw_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``python -m micrograd draw``: write the picture of an expression or of the demo's neuron."""
    from .expression import ExpressionError, evaluate
    from .viz import draw_dot

    out = sys.stdout if out is None else out
    path = Path(args.output)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in DRAW_FORMATS:
        raise SystemExit(f"draw: cannot write {path.name!r}: the file name must end in one of "
                         f"{', '.join('.' + f for f in DRAW_FORMATS)}")
    if args.neuron:
        if args.expression is not None:
            raise SystemExit("draw: give an expression or --neuron, not both")
        random.seed(args.seed)
        X, _ = make_moons(n_samples=100, noise=0.1, random_state=args.seed)
        neuron = Neuron(2)
        for i, w in enumerate(neuron.w):
            w.label = f"w{i + 1}"
        neuron.b.label = "b"
        x = [Value(float(X[0][i]), label=f"x{i + 1}") for i in range(2)]
        root = neuron(x)
        params = neuron.parameters()
        what = "the moons demo's first neuron on its first point"
    elif args.expression is not None:
        values: dict[str, float] = {}
        for item in args.values:
            name, sep, number = item.partition("=")
            try:
                if not (sep and name.isidentifier()):
                    raise ValueError
                values[name] = float(number)
            except ValueError:
                raise SystemExit(f"draw: --values takes name=number pairs, got {item!r}") from None
        try:
            root = evaluate(args.expression, values)
        except ExpressionError as exc:
            raise SystemExit(f"draw: {exc}") from None
        params, what = [], repr(args.expression)
    else:
        raise SystemExit("draw: give an expression (e.g. \"a*b + c\" --values a=2 b=-3 c=10) or --neuron")
    if not args.no_backward:
        root.backward()
    picture = draw_dot(root, rankdir=args.rankdir, params=params)
    if fmt in ("dot", "gv"):
        path.write_text(picture.source)
    else:
        try:
            data = picture.pipe(format=fmt)
        except RuntimeError as exc:  # no dot program: say how to install it
            raise SystemExit(f"draw: {exc}") from None
        path.write_bytes(data)
    print(f"wrote {path} ({len(root.nodes())} nodes: {what})", file=out)
    return 0


DRAW_FORMATS = ("svg", "png", "pdf", "dot", "gv")


def _add_draw_parser(sub: Any) -> None:
    draw = sub.add_parser("draw", help="draw the graph of an expression, or of the demo's neuron",
                          description="Write a picture of a computation graph (svg, png, pdf or dot).")
    draw.add_argument("expression", nargs="?", help='e.g. "a*b + c" or "tanh(x*w + b)"')
    draw.add_argument("--values", nargs="*", default=[], metavar="NAME=NUMBER",
                      help="the variables' values, e.g. a=2 b=-3 c=10")
    draw.add_argument("--neuron", action="store_true", help="draw the moons demo's first neuron instead")
    draw.add_argument("--seed", type=int, default=1337, help="seed for --neuron (default 1337)")
    draw.add_argument("-o", "--output", required=True, help="output file: .svg, .png, .pdf or .dot")
    draw.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="layout direction")
    draw.add_argument("--no-backward", action="store_true", help="do not fill in gradients first")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m micrograd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train micrograd's moons demo (MLP 2-16-16-1, 100 steps)")
    demo.add_argument("--steps", type=int, default=100, help="training steps (default 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed (default 1337)")
    _add_draw_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "draw":
        return draw_command(args)
    if args.command == "demo":
        if args.steps < 1:
            parser.error("--steps must be at least 1")
        moons_demo(args.steps, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
