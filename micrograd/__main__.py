"""Command line: ``python -m micrograd demo`` trains micrograd's moons demo and reports progress.

``python -m micrograd demo spiral`` trains a 3-class spiral with softmax cross-entropy and Adam;
``python -m micrograd draw`` writes the picture of a small graph; ``draw --frames`` its backward
pass step by step, as an animated GIF or an HTML page.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .data import make_moons, make_spiral
from .engine import Value
from .losses import cross_entropy, hinge, l2_penalty
from .nn import MLP, Neuron
from .optim import SGD, Adam
from .schedules import LinearDecay
from .train import History, fit


def moons_demo(steps: int = 100, seed: int = 1337, out: TextIO | None = None,
               compiled: bool = False) -> tuple[float, float]:
    """karpathy's moons demo: MLP 2-16-16-1, hinge loss + 1e-4 L2, full batch, linear lr decay.

    With the defaults it is his demo exactly (100 steps, seed 1337 for the data and the weights),
    run through :func:`micrograd.train.fit`: the same numbers, step for step. ``compiled=True``
    trains through the compiled tape (``fit(..., compiled=True)``): the same numbers to 1e-10.

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
    history = fit(model, X, y, hinge, SGD(model, lr=1.0), epochs=steps,
                  penalty=lambda: l2_penalty(model, 1e-4), schedule=LinearDecay(1.0, 0.1, steps), out=out,
                  compiled=compiled)
    return _report(history, out)


def spiral_demo(steps: int = 120, seed: int = 0, out: TextIO | None = None,
                compiled: bool = False) -> tuple[float, float]:
    """A 3-class spiral (30 points per arm): MLP 2-12-12-3 (he init), softmax cross-entropy, Adam.

    Full batch, Adam(lr=0.05), 120 steps by default: about 89% training accuracy with seed 0.
    ``compiled=True`` trains through the compiled tape. Returns the final (loss, accuracy).
    """
    out = sys.stdout if out is None else out
    X, y = make_spiral(30, 3, random_state=seed)
    model = MLP(2, [12, 12, 3], init="he", rng=seed)
    print(f"spiral demo: MLP 2-12-12-3, {len(model.parameters())} parameters, {len(X)} points, "
          f"softmax cross-entropy, Adam, {steps} steps", file=out)
    history = fit(model, X, y, cross_entropy, Adam(model, lr=0.05), epochs=steps, out=out,
                  compiled=compiled)
    return _report(history, out)


def _report(history: History, out: TextIO) -> tuple[float, float]:
    if not history.loss:  # Ctrl-C before the first epoch ended: nothing to report, no traceback
        print("stopped before the first epoch ended: no loss or accuracy to report", file=out)
        return math.nan, math.nan
    loss, accuracy = history.loss[-1], history.accuracy[-1]
    print(f"final loss {loss:.4f}, accuracy {accuracy:.0%}, {history.seconds / history.steps * 1e3:.0f} ms per step",
          file=out)
    return loss, accuracy


def draw_command(args: argparse.Namespace) -> int:
    """``python -m micrograd draw``: write the picture of an expression or of the demo's neuron."""
    from .expression import ExpressionError, evaluate
    from .viz import backward_frames, draw_dot

    path = Path(args.output)
    fmt = path.suffix.lstrip(".").lower()
    formats = FRAMES_FORMATS if args.frames else DRAW_FORMATS
    if fmt not in formats:
        raise SystemExit(f"draw: cannot write {path.name!r}: the file name must end in one of "
                         f"{', '.join('.' + f for f in formats)}{' with --frames' if args.frames else ''}")
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
    if args.frames:
        return _write_frames(backward_frames(root, rankdir=args.rankdir, params=params), path, fmt, what)
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
    print(f"wrote {path} ({len(root.nodes())} nodes: {what})")
    return 0


def _write_frames(slides: Any, path: Path, fmt: str, what: str) -> int:
    """Write the frames of a backward pass as an animated GIF or a self-contained HTML page."""
    try:
        if fmt == "gif":
            slides.save_gif(path)
        else:
            path.write_text(slides.to_html(), encoding="utf-8")
    except (RuntimeError, ImportError) as exc:  # no dot program, or no Pillow: say how to install it
        raise SystemExit(f"draw: {exc}") from None
    print(f"wrote {path} ({len(slides)} frames of the backward pass: {what})")
    return 0


DRAW_FORMATS = ("svg", "png", "pdf", "dot", "gv")
FRAMES_FORMATS = ("gif", "html")


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
    draw.add_argument("--frames", action="store_true",
                      help="the backward pass step by step, one frame per rule: -o file.gif or file.html")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m micrograd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train micrograd's moons demo (MLP 2-16-16-1, 100 steps)")
    demo.add_argument("data", nargs="?", choices=["moons", "spiral"], default="moons",
                      help="moons (default): micrograd's demo; spiral: 3 classes, cross-entropy, Adam")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default 100 moons, 120 spiral)")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default 1337 moons, 0 spiral)")
    _add_draw_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "draw":
        return draw_command(args)
    if args.command == "demo":
        if args.steps is not None and args.steps < 1:
            parser.error("--steps must be at least 1")
        if args.seed is not None and not 0 <= args.seed < 2 ** 32:  # numpy's seeds (else a traceback)
            parser.error(f"--seed must be in [0, 2**32), got {args.seed}")
        if args.data == "spiral":
            spiral_demo(args.steps or 120, 0 if args.seed is None else args.seed)
        else:
            moons_demo(args.steps or 100, 1337 if args.seed is None else args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
