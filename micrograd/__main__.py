"""Command line: ``python -m micrograd demo`` trains micrograd's moons demo and reports progress.

``python -m micrograd demo spiral`` trains a 3-class spiral with softmax cross-entropy and Adam;
``python -m micrograd draw`` writes the picture of a small graph; ``draw --frames`` its backward
pass step by step, as an animated GIF or an HTML page.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .data import make_moons, make_spiral
from .engine import Value
from .expression import ExpressionError, evaluate
from .losses import cross_entropy, hinge, l2_penalty
from .nn import MLP, Neuron
from .optim import SGD, Adam
from .schedules import LinearDecay
from .train import History, fit
from .viz import GraphvizMissing, backward_frames, dot_source, draw_dot


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


class CommandError(Exception):
    """A command's input it cannot take: reported as one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message (see prog --help)``, exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print the one line and exit with code 2 (argparse's code for a usage error)."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _seed_error(seed: int | None) -> str | None:
    if seed is not None and not 0 <= seed < 2 ** 32:  # numpy's seeds (else a traceback)
        return f"--seed must be in [0, 2**32), got {seed}"
    return None


def draw_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """``python -m micrograd draw``: write the picture of an expression or of the demo's neuron.

    Bad input raises :class:`CommandError`; the file is written whole or not at all.
    """
    out = sys.stdout if out is None else out
    path = Path(args.output)
    fmt = path.suffix.lstrip(".").lower()
    formats = FRAMES_FORMATS if args.frames else DRAW_FORMATS
    if fmt not in formats:
        raise CommandError(f"cannot write {args.output!r}: the file name must end in one of "
                           f"{', '.join('.' + f for f in formats)}{' with --frames' if args.frames else ''}")
    root, params, what = _draw_graph(args)
    if args.frames:
        data, frames = _frames_bytes(root, params, args.rankdir, fmt)
        _write_whole(path, data)
        print(f"wrote {path} ({frames} frames of the backward pass: {what})", file=out)
        return 0
    if not args.no_backward:
        root.backward()
    data = _picture_bytes(root, params, args.rankdir, fmt)
    _write_whole(path, data)
    count = len(root.nodes())
    print(f"wrote {path} ({count} node{'' if count == 1 else 's'}: {what})", file=out)
    return 0


def _draw_graph(args: argparse.Namespace) -> tuple[Value, list[Value], str]:
    """The graph ``draw`` pictures: (root, parameters, a description)."""
    if args.neuron:
        if args.expression is not None:
            raise CommandError("give an expression or --neuron, not both")
        seed_error = _seed_error(args.seed)
        if seed_error:
            raise CommandError(seed_error)
        random.seed(args.seed)
        X, _ = make_moons(n_samples=100, noise=0.1, random_state=args.seed)
        neuron = Neuron(2)
        for i, w in enumerate(neuron.w):
            w.label = f"w{i + 1}"
        neuron.b.label = "b"
        x = [Value(float(X[0][i]), label=f"x{i + 1}") for i in range(2)]
        return neuron(x), neuron.parameters(), "the moons demo's first neuron on its first point"
    if args.expression is None:
        raise CommandError("give an expression (e.g. \"a*b + c\" --values a=2 b=-3 c=10) or --neuron")
    values, given = _parse_values(args.values)
    try:
        root = evaluate(args.expression, values)
    except ExpressionError as exc:
        raise CommandError(str(exc)) from None
    used = {v.label for v in root.nodes()}  # (only the variables' leaves carry labels)
    for name, item in given.items():
        if name not in used:
            uses = ", ".join(sorted(used - {""})) or "no variables"
            raise CommandError(f"--values {item}: the expression has no variable {name!r} (it uses {uses})")
    return root, [], repr(args.expression)


def _parse_values(items: Sequence[str]) -> tuple[dict[str, float], dict[str, str]]:
    """``--values a=2 b=-3``: ({name: number}, {name: the item as given})."""
    values: dict[str, float] = {}
    given: dict[str, str] = {}
    for item in items:
        name, sep, number = item.partition("=")
        try:
            if not (sep and name.isidentifier()):
                raise ValueError
            value = float(number)
        except ValueError:
            raise CommandError(f"--values takes name=number pairs, got {item!r}") from None
        if math.isinf(value) and number.strip().lstrip("+-").lower() not in ("inf", "infinity"):
            shown = item if len(item) <= 20 else f"{item[:14]}…{item[-3:]}"
            raise CommandError(f"--values {shown}: the number is beyond the float range (at most about "
                               f"{sys.float_info.max:.1e}); write inf for infinity")
        if name in given:
            raise CommandError(f"--values: {name!r} is given twice ({given[name]} and {item})")
        values[name], given[name] = value, item
    return values, given


def _picture_bytes(root: Value, params: list[Value], rankdir: str, fmt: str) -> bytes:
    """The picture of ``root`` as the bytes of a ``fmt`` file."""
    if fmt in ("dot", "gv"):  # DOT text: no graphviz package needed
        return dot_source(root, rankdir=rankdir, params=params).encode("utf-8")
    try:
        return bytes(draw_dot(root, rankdir=rankdir, params=params).pipe(format=fmt))
    except (ImportError, GraphvizMissing) as exc:  # no graphviz package or no dot program: say how to install it
        raise CommandError(str(exc)) from None


def _frames_bytes(root: Value, params: list[Value], rankdir: str, fmt: str) -> tuple[bytes, int]:
    """The backward pass step by step as the bytes of an animated GIF or an HTML page; the frame count."""
    try:
        slides = backward_frames(root, params=params, rankdir=rankdir)
        data = slides.gif() if fmt == "gif" else slides.to_html().encode("utf-8")
    except (ImportError, GraphvizMissing, ValueError) as exc:  # a package or dot missing, too many frames
        raise CommandError(str(exc)) from None
    return data, len(slides)


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it: whole, or not at all."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:  # (an error or a Ctrl-C leaves no partial file; after os.replace there is none)
        partial.unlink(missing_ok=True)


DRAW_FORMATS = ("svg", "png", "pdf", "dot", "gv")
FRAMES_FORMATS = ("gif", "html")
DESCRIPTION = ("micrograd from the command line: 'demo' trains micrograd's moons demo (or 'demo spiral', "
               "3 classes); 'draw' writes the picture of a small graph ('draw --frames': its backward pass "
               "step by step). "
               "'python -m micrograd COMMAND --help' tells more.")


def _add_draw_parser(sub: Any) -> argparse.ArgumentParser:
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
    return draw


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; a usage error or bad input is one line on stderr and exit code 2."""
    parser = Parser(prog="python -m micrograd", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train micrograd's moons demo (MLP 2-16-16-1, 100 steps)")
    demo.add_argument("data", nargs="?", choices=["moons", "spiral"], default="moons",
                      help="moons (default): micrograd's demo; spiral: 3 classes, cross-entropy, Adam")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default 100 moons, 120 spiral)")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default 1337 moons, 0 spiral)")
    draw = _add_draw_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "draw":
        try:
            return draw_command(args)
        except CommandError as exc:
            draw.error(str(exc))
    if args.steps is not None and args.steps < 1:
        demo.error(f"--steps must be at least 1, got {args.steps}")
    seed_error = _seed_error(args.seed)
    if seed_error:
        demo.error(seed_error)
    if args.data == "spiral":
        spiral_demo(args.steps or 120, 0 if args.seed is None else args.seed)
    else:
        moons_demo(args.steps or 100, 1337 if args.seed is None else args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
