"""Benchmark: one moons training step in karpathy's micrograd 0.1.0, this micrograd (scalar and
compiled) and PyTorch eager, in one run: the figures of the README's comparison table.

The step is the moons demo's: ``MLP(2, [16, 16, 1])`` after ``random.seed(1337)``, 100 points
from ``make_moons(noise=0.1, random_state=1337)`` with labels -1/+1, hinge loss + 1e-4 L2,
``zero_grad``, forward, backward and the SGD update ``p.data -= lr * p.grad``.

Two measurements, each comparing peers within one run:

1. **micrograd 0.1.0 against this scalar engine**: ``bench_engine.py``'s ``moons`` worker, run in
   a subprocess for each package (0.1.0 from its own cached virtual environment, created on first
   use), on identical data. Ratio: 0.1.0's median step / ours.
2. **this scalar engine, compiled, PyTorch**, in this process, interleaved repeat by repeat
   (``bench_compile.py``'s timing), one thread each, float64:

   - *scalar*: the demo's step as in (1);
   - *compiled*: ``f = micrograd.compile(per_sample_loss, params=model.parameters())``, a step is
     ``model.zero_grad(); f.backward(X, y)`` and the same SGD loop over the scalar parameters;
   - *torch*: ``to_torch(model)`` (``nn.Linear`` layers), ``zero_grad``, forward, ``backward``,
     ``torch.optim.SGD.step``.

   Before timing, the script checks that the three give the same loss and gradients (1e-10).

Speed-ups over 0.1.0 for the compiled step and PyTorch multiply the ratio of (1) by the ratio of
(2) to the scalar engine, the peer both runs share. Run from the repository root:

    python bench/bench_compare.py          # about a minute (plus a one-time pip install of 0.1.0)
    python bench/bench_compare.py --quick  # fewer repeats: a smoke test
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_compile  # first: it sets one BLAS thread before numpy loads
import bench_engine

import argparse
import statistics
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

import micrograd
from micrograd.interop import to_torch, torch_gradients

LR = 1.0  # the demo's first step's rate: every peer takes the same update


def subprocess_ratio(quick: bool) -> tuple[float | None, float, float | None, str]:
    """(0.1.0 ms/step, ours ms/step, 0.1.0 / ours) from the two moons workers, and any error."""
    settings = bench_engine.QUICK_SETTINGS if quick else bench_engine.FULL_SETTINGS
    venv = bench_engine.default_venv_dir()
    python, reason = bench_engine.ensure_baseline(venv)
    with tempfile.TemporaryDirectory(prefix="micrograd-bench-") as tmp:
        workdir = Path(tmp)
        data = workdir / "moons.npz"
        bench_engine.write_moons_data(data)

        def moons(interpreter: bench_engine.Interpreter, label: str) -> dict[str, Any]:
            bench_engine.progress(f"{label}: the moons step, in a subprocess")
            worker = {"moons_steps": settings[interpreter.label].moons_steps,
                      "data_path": str(data), "clock": bench_engine.WALL_CLOCK}
            return bench_engine.run_worker(interpreter, "moons", worker, workdir)

        ours = moons(bench_engine.ours_interpreter(), "this micrograd")
        if "error" in ours:
            raise SystemExit(f"this micrograd's moons worker failed: {ours['error']}")
        if python is None:
            return None, ours["step_ms"], None, reason
        base = moons(bench_engine.baseline_interpreter(python, venv), bench_engine.BASELINE_NAME)
    if "error" in base:
        return None, ours["step_ms"], None, base["error"]
    return base["step_ms"], ours["step_ms"], base["step_ms"] / ours["step_ms"], ""


def in_process(repeats: int) -> dict[str, list[float]]:
    """Seconds per step of the scalar, compiled and torch steps, interleaved per repeat."""
    import torch

    torch.set_num_threads(1)
    w = bench_compile.moons_workload([16, 16, 1], 100)
    model, X, Y = w["model"], w["X"], w["Y"]
    params = model.parameters()
    f = micrograd.compile(w["fn"], params=params)
    net = to_torch(model)
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    sgd = torch.optim.SGD(net.parameters(), lr=LR)

    def torch_loss() -> Any:
        return (torch.relu(1 - tY * net(tX)[:, 0]).mean()
                + bench_compile.L2 * sum((p * p).sum() for p in net.parameters()))

    check(model, f, X, Y, net, torch_loss)

    def update() -> None:
        for p in params:
            p.data -= LR * p.grad

    def scalar() -> None:
        bench_compile.scalar_step(w)  # zero_grad, forward, backward
        update()

    def compiled() -> None:
        model.zero_grad()
        f.backward(X, Y)
        update()

    def torch_step() -> None:
        sgd.zero_grad()
        torch_loss().backward()
        sgd.step()

    steps: dict[str, Callable[[], Any]] = {"scalar": scalar, "compiled": compiled, "torch": torch_step}
    return bench_compile.time_repeats(steps, repeats)


def check(model: Any, f: Any, X: np.ndarray, Y: np.ndarray, net: Any, torch_loss: Callable[[], Any]) -> None:
    """The three peers compute the same loss and gradients (1e-10 relative) before any is timed."""
    scalar_loss = bench_compile.scalar_step({"model": model, "X": X, "Y": Y})
    scalar_grads = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    compiled_loss = f.backward(X, Y)
    compiled_grads = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    net.zero_grad()
    loss = torch_loss()
    loss.backward()
    torch_grads = np.array(torch_gradients(net))  # in this micrograd's parameter order
    scale = np.abs(scalar_grads).max()
    for name, value, grads in (("compiled", compiled_loss, compiled_grads),
                               ("torch", loss.item(), torch_grads)):
        assert abs(value - scalar_loss) <= 1e-10 * abs(scalar_loss), (name, value, scalar_loss)
        assert np.abs(grads - scalar_grads).max() <= 1e-10 * scale, f"{name}'s gradients differ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke test")
    args = parser.parse_args(argv)
    import torch

    base_ms, ours_ms, base_ratio, error = subprocess_ratio(args.quick)
    bench_engine.progress("scalar, compiled and torch steps, interleaved in this process")
    samples = in_process(3 if args.quick else 21)
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, torch {torch.__version__}, "
          f"float64, one thread; moons demo training step (MLP 2-16-16-1, 100 points)")
    print(f"\n(1) subprocesses: {bench_engine.BASELINE_NAME} "
          + (f"{base_ms:.0f} ms/step, " if base_ms else "n/a, ")
          + f"this micrograd {ours_ms:.1f} ms/step"
          + (f": {base_ratio:.1f}x" if base_ratio else f" ({error.splitlines()[0] if error else 'n/a'})"))
    print("(2) this process, medians of per-repeat ratios: scalar / compiled = "
          f"{bench_compile.ratio(samples, 'scalar', 'compiled'):.0f}x, scalar / torch = "
          f"{bench_compile.ratio(samples, 'scalar', 'torch'):.0f}x, compiled / torch = "
          f"{bench_compile.ratio(samples, 'compiled', 'torch'):.2f}x (below 1: compiled is faster)")
    rows = [("this micrograd, scalar engine", "scalar"), ("this micrograd, compiled", "compiled"),
            ("PyTorch eager (float64)", "torch")]
    print(f"\n| peer | ms/step | speed-up over {bench_engine.BASELINE_NAME} |\n|---|---|---|")
    if base_ms:
        print(f"| karpathy's {bench_engine.BASELINE_NAME} | {base_ms:.0f} | 1x |")
    for label, key in rows:
        to_scalar = bench_compile.ratio(samples, "scalar", key)  # how many times faster than scalar
        speed = f"{base_ratio * to_scalar:,.0f}x" if base_ratio else "n/a"
        ms = statistics.median(samples[key]) * 1e3
        print(f"| {label} | {ms:.3g} | {speed} |")
    return 1 if base_ratio is None else 0


if __name__ == "__main__":
    sys.exit(main())
