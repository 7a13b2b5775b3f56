"""Benchmark: this repository's micrograd against karpathy's micrograd 0.1.0 (PyPI), same run.

What it measures, for both packages, on the same machine and in the same run:

1. **chain**: 10,000 scalar ops starting from ``x = Value(0.5)``, alternating ``x = x * 1.0001``
   and ``x = x + 0.0001`` (plain Python floats, as users write them). Building the chain
   (forward) and ``x.backward()`` are timed separately with ``time.perf_counter`` (``--cpu-time``:
   ``time.process_time``, the worker's CPU time, which other processes disturb less); reported in
   ns per op, median over repeats (3 rounds of 3 for this repository, of 2 for 0.1.0), a fresh
   chain per repeat, after one untimed warm-up repeat per round.
2. **moons step**: one training step of the moons demo (``MLP(2, [16, 16, 1])`` after
   ``random.seed(1337)``, 100 points from ``make_moons(noise=0.1, random_state=1337)`` with labels
   -1/+1, max-margin loss + L2 regularisation, ``zero_grad``, ``backward``, SGD update), written
   as in the demo notebook. Whole steps are timed, including the freeing of the previous step's
   graph (the natural loop); median ms per step over 3 rounds of 7 steps (of 2 for 0.1.0, about
   1 s each), after one warm-up step per round. The number of nodes in the loss graph is counted
   outside the timing.
   For this repository the step is measured a second time with ``MLP``'s cycle-collector pause
   (``micrograd.gc_pause``) turned off, reported on a line of its own: what the pause buys.
3. **memory per live op**: with ``tracemalloc``, the bytes allocated and still held after building
   a chain of 100,000 ops (the same alternating ops), divided by the number of ops, before and
   after ``backward()`` (which allocates the gradients). This runs in its own process, so the
   tracing overhead never touches the timings.

Both packages are imported as ``micrograd``, so every workload runs in a subprocess of its own,
ours and micrograd 0.1.0's alternating (chain and moons in 3 rounds each, pooled), from the same
worker code (``--worker`` mode of this file, which imports nothing from the repository at module
level):

* this repository: ``sys.executable`` with ``PYTHONPATH`` set to the repository root, so the
  working tree is measured;
* micrograd 0.1.0: a virtual environment created on first use with ``python -m venv`` and
  ``pip install micrograd==0.1.0 numpy``, cached in ``~/.cache/micrograd-bench/micrograd-0.1.0/``
  (``$XDG_CACHE_HOME`` is honoured; ``--venv DIR`` picks another place) and reused afterwards.

The moons data is generated once, here, with this repository's ``micrograd.data.make_moons`` and
handed to both workers in a temporary ``.npz`` file, so both train on identical data. As a sanity
check the script also compares the results of both packages (chain value and gradient, moons
losses), which should agree.

Run from the repository root:

    python bench/bench_engine.py                  # full run: a minute or two
    python bench/bench_engine.py --quick          # fewer repeats: a smoke test
    python bench/bench_engine.py --cpu-time       # CPU time instead of wall time (a busy machine)
    python bench/bench_engine.py --json out.json  # also write every number as JSON

On a shared machine absolute times drift from run to run; the ratios, measured in the same run,
are the meaningful figures. Targets are shown for information and never enforced. Exit code: 0 on
success; 1 if a measurement could not be made (for instance micrograd 0.1.0 could not be
installed: this repository's figures are still printed, the ratios as n/a).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BASELINE_NAME = "micrograd 0.1.0"
BASELINE_VERSION = "0.1.0"
# micrograd 0.1.0's backward() recurses once per node along the chain.
RECURSION_LIMIT = 1_000_000
WORKER_STACK_BYTES = 1024 * 1024 * 1024  # a C stack deep enough for that recursion on Python 3.10

CHAIN_OPS = 10_000
MOONS_SAMPLES = 100
MOONS_NOISE = 0.1
MOONS_DATA_SEED = 1337
MODEL_SEED = 1337

WORKLOADS = ("chain", "moons", "memory")
# The clock the chain and moons workers read (a function of the time module): wall time by
# default; --cpu-time picks the worker's own CPU time, which other processes disturb much less.
WALL_CLOCK, CPU_CLOCK = "perf_counter", "process_time"
# Ours only: the moons step again with MLP's cycle-collector pause turned off, to show what it buys.
ABLATION = "moons-collector-running"
WORKER_TIMEOUT_S = 1800.0
PIP_TIMEOUT_S = 900.0


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """How much work one package's workers do."""

    chain_ops: int
    chain_repeats: int
    moons_steps: int
    memory_ops: int


# chain and moons run in ROUNDS rounds, ours and the baseline's alternating; the repeats below
# are per round, and the figures are medians of all rounds' samples pooled.
ROUNDS = 3
FULL_SETTINGS = {
    "ours": Settings(chain_ops=CHAIN_OPS, chain_repeats=3, moons_steps=7, memory_ops=100_000),
    "baseline": Settings(chain_ops=CHAIN_OPS, chain_repeats=2, moons_steps=2, memory_ops=100_000),
}
QUICK_SETTINGS = {
    "ours": Settings(chain_ops=CHAIN_OPS, chain_repeats=2, moons_steps=2, memory_ops=20_000),
    "baseline": Settings(chain_ops=CHAIN_OPS, chain_repeats=1, moons_steps=1, memory_ops=20_000),
}


# ------------------------------------------------------------------------------------------------
# Worker side: runs unchanged against either package; imports micrograd only inside functions.
# ------------------------------------------------------------------------------------------------

def build_chain(value_cls: Any, n_ops: int) -> tuple[Any, Any]:
    """The benchmark chain: ``n_ops`` ops alternating ``* 1.0001`` and ``+ 0.0001``.

    Returns (first node, last node). ``n_ops`` must be even (the loop does one pair per turn, so
    no per-op branching is timed).
    """
    x0 = x = value_cls(0.5)
    for _ in range(n_ops // 2):
        x = x * 1.0001
        x = x + 0.0001
    return x0, x


def count_nodes(root: Any) -> int:
    """Number of nodes reachable from ``root`` through ``._prev`` (iterative, no recursion)."""
    seen = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


def worker_chain(settings: dict[str, Any]) -> dict[str, Any]:
    """Time building a chain and its backward pass, a fresh chain per repeat."""
    from micrograd.engine import Value

    n_ops, repeats = settings["chain_ops"], settings["chain_repeats"]
    clock = getattr(time, settings["clock"])
    forward_s: list[float] = []
    backward_s: list[float] = []
    final_data = leaf_grad = 0.0
    for repeat in range(repeats + 1):  # repeat 0 is an untimed warm-up
        gc.collect()
        start = clock()
        x0, x = build_chain(Value, n_ops)
        built = clock()
        x.backward()
        done = clock()
        if repeat:
            forward_s.append(built - start)
            backward_s.append(done - built)
        final_data, leaf_grad = float(x.data), float(x0.grad)
        del x0, x  # freed outside the timed region
    totals = [f + b for f, b in zip(forward_s, backward_s)]
    per_op_ns = 1e9 / n_ops
    return {
        "ops": n_ops,
        "repeats": repeats,
        "forward_ns_per_op": statistics.median(forward_s) * per_op_ns,
        "backward_ns_per_op": statistics.median(backward_s) * per_op_ns,
        "total_ns_per_op": statistics.median(totals) * per_op_ns,
        "forward_s": forward_s,
        "backward_s": backward_s,
        "check": {"final_data": final_data, "leaf_grad": leaf_grad},
    }


def worker_moons(settings: dict[str, Any]) -> dict[str, Any]:
    """Time whole training steps of the moons demo, written as in the demo notebook."""
    import numpy as np

    from micrograd.engine import Value
    from micrograd.nn import MLP

    if settings.get("collector_running"):
        import micrograd.nn

        def nothing() -> None:
            pass

        micrograd.nn.pause = micrograd.nn.resume = nothing  # type: ignore[attr-defined]

    with np.load(settings["data_path"]) as data:
        X, y = data["X"], data["y"]  # float rows and integer labels -1/+1, as in the demo
    random.seed(MODEL_SEED)
    model = MLP(2, [16, 16, 1])

    steps = settings["moons_steps"]
    clock = getattr(time, settings["clock"])
    step_s: list[float] = []
    loss_history: list[float] = []
    total_loss: Any = None
    for k in range(steps + 1):  # step 0 is an untimed warm-up
        start = clock()
        # Reassigning these names frees the previous step's graph: part of the timed step.
        inputs = [list(map(Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        elapsed = clock() - start
        if k:
            step_s.append(elapsed)
        loss_history.append(float(total_loss.data))
    return {
        "samples": len(X),
        "steps": steps,
        "step_ms": statistics.median(step_s) * 1e3,
        "step_s": step_s,
        "graph_nodes": count_nodes(total_loss),
        "parameters": len(model.parameters()),
        "check": {"losses": loss_history},
    }


def worker_memory(settings: dict[str, Any]) -> dict[str, Any]:
    """Bytes allocated and still held per op of a live chain, before and after backward()."""
    import tracemalloc

    from micrograd.engine import Value

    n_ops = settings["memory_ops"]
    # Slow for micrograd 0.1.0 (about a minute at 100,000 ops): its backward() recurses once per
    # node, and tracemalloc walks the whole Python stack on every allocation, so the traced
    # backward is quadratic in the chain length. Only bytes are measured here, never time.
    warm0, warm = build_chain(Value, 1_000)  # one-time allocations (caches, tables) not counted
    warm.backward()
    del warm0, warm

    tracemalloc.start()
    gc.collect()
    start, _ = tracemalloc.get_traced_memory()
    x0, x = build_chain(Value, n_ops)
    gc.collect()  # drops only garbage; the chain stays alive through x0 and x
    built, _ = tracemalloc.get_traced_memory()
    x.backward()
    gc.collect()
    after_backward, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "ops": n_ops,
        "bytes_per_op": (built - start) / n_ops,
        "bytes_per_op_after_backward": (after_backward - start) / n_ops,
        "check": {"final_data": float(x.data), "leaf_grad": float(x0.grad)},
    }


def worker_environment() -> dict[str, Any]:
    """Which micrograd and numpy this worker really imported."""
    import importlib.metadata

    import numpy

    import micrograd

    try:
        dist_version: str | None = importlib.metadata.version("micrograd")
    except importlib.metadata.PackageNotFoundError:
        dist_version = None
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "micrograd_file": str(Path(micrograd.__file__ or "").resolve()),
        "micrograd_version": getattr(micrograd, "__version__", None) or dist_version,
    }


WORKER_FUNCTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "chain": worker_chain,
    "moons": worker_moons,
    "memory": worker_memory,
}


def run_with_large_stack(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``function`` in a thread with a large C stack and return its result.

    Before Python 3.11 every nested Python call also nests on the C stack, and micrograd 0.1.0's
    recursive backward() over a 100,000-op chain overflows the default one (a segfault). The
    stack is reserved address space: pages never touched cost nothing.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = function()
        except BaseException as error:  # re-raised in the calling thread
            outcome["error"] = error

    try:
        threading.stack_size(WORKER_STACK_BYTES)
    except (ValueError, RuntimeError):  # a platform that refuses it: keep the default stack
        pass
    thread = threading.Thread(target=target, name="bench-worker")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    result: dict[str, Any] = outcome["result"]
    return result


def worker_main(workload: str, config_path: str) -> int:
    """Entry point of ``--worker``: run one workload and print its results as JSON on stdout."""
    sys.setrecursionlimit(RECURSION_LIMIT)
    settings = json.loads(Path(config_path).read_text())
    if workload == ABLATION:
        workload, settings = "moons", {**settings, "collector_running": True}
    result = run_with_large_stack(lambda: WORKER_FUNCTIONS[workload](settings))
    result["environment"] = worker_environment()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


# ------------------------------------------------------------------------------------------------
# Parent side: environments, data, running the workers.
# ------------------------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Progress notes go to stderr, so stdout carries only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def default_venv_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "micrograd-bench" / f"micrograd-{BASELINE_VERSION}"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def parent_numpy_version() -> str:
    import numpy

    return str(numpy.__version__)


def baseline_ready(python: Path) -> bool:
    """True if ``python`` exists and imports micrograd 0.1.0 and numpy."""
    if not python.exists():
        return False
    probe = ("import importlib.metadata as m, micrograd.engine, micrograd.nn, numpy; "
             "print(m.version('micrograd'))")
    try:
        result = subprocess.run([str(python), "-I", "-c", probe], check=False,
                                capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and result.stdout.strip() == BASELINE_VERSION


def run_setup_command(command: list[str]) -> tuple[bool, str]:
    """Run an installation command; (success, tail of its output)."""
    try:
        result = subprocess.run(command, check=False, capture_output=True, text=True,
                                timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as error:
        return False, str(error)
    output = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode == 0, "\n".join(output[-15:])


def ensure_baseline(venv: Path) -> tuple[Path | None, str]:
    """The python of a virtual environment holding micrograd 0.1.0, creating it if needed.

    Returns (python, "") on success, (None, reason) on failure.
    """
    python = venv_python(venv)
    if baseline_ready(python):
        progress(f"using the cached {BASELINE_NAME} environment in {venv}")
        return python, ""
    progress(f"creating a virtual environment for {BASELINE_NAME} in {venv} (first run only)")
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return None, f"cannot create {venv.parent}: {error}"
    ok, output = run_setup_command([sys.executable, "-m", "venv", "--clear", str(venv)])
    if not ok:
        return None, f"python -m venv failed:\n{output}"
    pinned_numpy = f"numpy=={parent_numpy_version()}"  # the same numpy as ours, where possible
    for numpy_spec in (pinned_numpy, "numpy"):
        progress(f"installing micrograd=={BASELINE_VERSION} and {numpy_spec} with pip")
        ok, output = run_setup_command([str(python), "-m", "pip", "install", "--quiet",
                                        "--disable-pip-version-check",
                                        f"micrograd=={BASELINE_VERSION}", numpy_spec])
        if ok:
            break
        progress(f"pip install with {numpy_spec} failed")
    if not ok:
        return None, f"pip install failed:\n{output}"
    if not baseline_ready(python):
        return None, f"{python} does not import micrograd {BASELINE_VERSION} after installation"
    progress(f"{BASELINE_NAME} installed")
    return python, ""


def write_moons_data(path: Path) -> None:
    """Generate the moons data with this repository's make_moons; labels as -1/+1."""
    import numpy as np

    root = str(repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from micrograd.data import make_moons

    X, y = make_moons(n_samples=MOONS_SAMPLES, noise=MOONS_NOISE, random_state=MOONS_DATA_SEED)
    np.savez(path, X=X, y=y * 2 - 1)


@dataclass(frozen=True)
class Interpreter:
    """A python able to import one of the two micrograd packages."""

    label: str  # "ours" or "baseline"
    command: list[str]
    env: dict[str, str]
    expected_location: Path  # micrograd must be imported from under here


def ours_interpreter() -> Interpreter:
    env = dict(os.environ)
    # The repository root first, so its micrograd wins over any installed copy.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo_root()), env.get("PYTHONPATH")]))
    return Interpreter("ours", [sys.executable], env, repo_root() / "micrograd")


def baseline_interpreter(python: Path, venv: Path) -> Interpreter:
    # -I: isolated mode, so no PYTHONPATH or user site can slip this repository's package in.
    return Interpreter("baseline", [str(python), "-I"], dict(os.environ), venv.resolve())


def run_worker(interpreter: Interpreter, workload: str, settings: dict[str, Any],
               workdir: Path) -> dict[str, Any]:
    """Run one workload in a fresh process; its JSON results, or {"error": ...}."""
    config_path = workdir / f"{interpreter.label}-{workload}.json"
    config_path.write_text(json.dumps(settings))
    command = [*interpreter.command, str(Path(__file__).resolve()), "--worker", workload,
               "--config", str(config_path)]
    try:
        result = subprocess.run(command, check=False, env=interpreter.env, capture_output=True,
                                text=True, timeout=WORKER_TIMEOUT_S, cwd=str(workdir))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT_S:.0f} s"}
    except OSError as error:
        return {"error": str(error)}
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        return {"error": f"exit code {result.returncode}\n{tail}"}
    try:
        data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": f"no JSON result on stdout: {result.stdout[-500:]!r}"}
    imported = Path(data["environment"]["micrograd_file"])
    if interpreter.expected_location not in imported.parents:
        return {"error": f"imported micrograd from {imported}, expected it under "
                         f"{interpreter.expected_location}"}
    return data


def run_workload(interpreter: Interpreter, workload: str, settings: Settings, data_path: Path,
                 workdir: Path, clock: str) -> dict[str, Any]:
    """One workload of one package, in its own process."""
    worker_settings = {**asdict(settings), "data_path": str(data_path), "clock": clock}
    note = ""
    if interpreter.label == "baseline" and workload == "memory" and settings.memory_ops > 50_000:
        note = " (tracing its deeply recursive backward takes a minute or so)"
    progress(f"{interpreter.label}: {workload}{note}")
    result = run_worker(interpreter, workload, worker_settings, workdir)
    if "error" in result:
        progress(f"{interpreter.label}: {workload} FAILED: {result['error']}")
    return result


def pooled(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One workload's results over several rounds: the samples pooled, the medians recomputed
    (a failed round makes the whole workload fail)."""
    for result in rounds:
        if "error" in result:
            return result
    out = dict(rounds[-1])
    if "step_s" in out:  # moons
        steps = [t for r in rounds for t in r["step_s"]]
        out.update(step_s=steps, steps=len(steps), step_ms=statistics.median(steps) * 1e3)
    elif "forward_s" in out:  # chain
        forward = [t for r in rounds for t in r["forward_s"]]
        backward = [t for r in rounds for t in r["backward_s"]]
        per_op_ns = 1e9 / out["ops"]
        out.update(forward_s=forward, backward_s=backward, repeats=len(forward),
                   forward_ns_per_op=statistics.median(forward) * per_op_ns,
                   backward_ns_per_op=statistics.median(backward) * per_op_ns,
                   total_ns_per_op=statistics.median([f + b for f, b in zip(forward, backward)]) * per_op_ns)
    return out


def run_packages(ours_interpreter: Interpreter, baseline_interpreter: Interpreter | None,
                 settings: dict[str, Settings], data_path: Path, workdir: Path,
                 clock: str) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]] | None]:
    """Every workload, ours and the baseline's alternating (chain and moons in ROUNDS rounds, so
    the load of a shared machine drifts less between the two figures of a ratio), then ours
    again without the collector pause."""
    ours: dict[str, dict[str, Any]] = {}
    baseline: dict[str, dict[str, Any]] | None = None if baseline_interpreter is None else {}
    for workload in WORKLOADS:
        mine: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for _ in range(1 if workload == "memory" else ROUNDS):
            mine.append(run_workload(ours_interpreter, workload, settings["ours"], data_path, workdir, clock))
            if baseline_interpreter is not None:
                theirs.append(run_workload(baseline_interpreter, workload, settings["baseline"],
                                           data_path, workdir, clock))
        ours[workload] = pooled(mine)
        if baseline is not None:
            baseline[workload] = pooled(theirs)
    ours[ABLATION] = run_workload(ours_interpreter, ABLATION, settings["ours"], data_path, workdir, clock)
    return ours, baseline


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One line of the table: where to find the figure in each package's results."""

    title: str
    workload: str
    key: str
    decimals: int
    ratio_suffix: str  # "x" for speed-ups, "x less" for memory
    target: str = ""
    target_check: Callable[[float, float | None], bool | None] | None = None
    # (our figure, ratio or None) -> met, not met, or None when it cannot be told


ROWS = [
    Row("chain forward (ns/op)", "chain", "forward_ns_per_op", 0, "x"),
    Row("chain backward (ns/op)", "chain", "backward_ns_per_op", 0, "x"),
    Row("chain total (ns/op)", "chain", "total_ns_per_op", 0, "x", ">= 5x",
        lambda ours, ratio: None if ratio is None else ratio >= 5),
    Row("moons step (ms)", "moons", "step_ms", 2, "x", ">= 30x",
        lambda ours, ratio: None if ratio is None else ratio >= 30),
    Row("memory per live op (bytes)", "memory", "bytes_per_op", 0, "x less", "<= 250 B (ours)",
        lambda ours, ratio: ours <= 250),
    Row("  after backward (bytes)", "memory", "bytes_per_op_after_backward", 0, "x less"),
]


def figure(results: dict[str, dict[str, Any]] | None, workload: str, key: str) -> float | None:
    if results is None or "error" in results[workload]:
        return None
    value = results[workload].get(key)
    return float(value) if value is not None else None


def compute_ratios(ours: dict[str, dict[str, Any]],
                   baseline: dict[str, dict[str, Any]] | None) -> dict[str, float | None]:
    """Baseline figure / our figure for every row: how many times faster (or smaller) ours is."""
    ratios: dict[str, float | None] = {}
    for row in ROWS:
        mine, theirs = figure(ours, row.workload, row.key), figure(baseline, row.workload, row.key)
        ratios[f"{row.workload}.{row.key}"] = theirs / mine if mine and theirs is not None else None
    return ratios


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def cross_check(ours: dict[str, dict[str, Any]],
                baseline: dict[str, dict[str, Any]] | None) -> dict[str, float | None]:
    """Largest relative difference between the two packages' results, per workload."""
    checks: dict[str, float | None] = {}
    for workload in WORKLOADS:
        if baseline is None or "error" in ours[workload] or "error" in baseline[workload]:
            checks[workload] = None
            continue
        mine, theirs = ours[workload]["check"], baseline[workload]["check"]
        if workload == "moons":
            pairs = list(zip(mine["losses"], theirs["losses"]))
        else:
            pairs = [(mine[key], theirs[key]) for key in ("final_data", "leaf_grad")]
        checks[workload] = max(relative_difference(a, b) for a, b in pairs)
    return checks


def format_number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def format_table(ours: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None,
                 ratios: dict[str, float | None]) -> list[str]:
    widths = (28, 12, 18, 12)
    header = ("workload", "ours", BASELINE_NAME, "speed-up", "target")
    lines = ["".join(text.ljust(width) for text, width in zip(header, widths)) + header[-1]]
    for row in ROWS:
        mine = figure(ours, row.workload, row.key)
        theirs = figure(baseline, row.workload, row.key)
        ratio = ratios[f"{row.workload}.{row.key}"]
        ratio_text = "n/a" if ratio is None else f"{ratio:.1f}{row.ratio_suffix}"
        target = row.target
        met = row.target_check(mine, ratio) if row.target_check and mine is not None else None
        if met is not None:
            target += "  (met)" if met else "  (NOT met)"
        cells = (row.title, format_number(mine, row.decimals),
                 format_number(theirs, row.decimals), ratio_text)
        lines.append("".join(text.ljust(width) for text, width in zip(cells, widths)) + target)
    return lines


def format_report(ours: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None,
                  ratios: dict[str, float | None], checks: dict[str, float | None],
                  settings: dict[str, Settings], errors: list[str], clock: str = WALL_CLOCK) -> str:
    lines = [f"micrograd bench (ours vs karpathy's {BASELINE_NAME}, same machine, same run)", ""]
    lines += format_table(ours, baseline, ratios)
    lines.append("")
    moons_nodes = [f"{label} {results['moons']['graph_nodes']:,}"
                   for label, results in (("ours", ours), (BASELINE_NAME, baseline))
                   if results is not None and "error" not in results["moons"]]
    if moons_nodes:
        lines.append(f"moons loss graph nodes: {', '.join(moons_nodes)}")
    paused, running = figure(ours, "moons", "step_ms"), figure(ours, ABLATION, "step_ms")
    if paused is not None and running is not None:
        lines.append(f"ours, moons step with MLP's cycle-collector pause turned off: {running:.2f} ms "
                     f"({running / paused:.2f}x the step with it)")
    mine, theirs = settings["ours"], settings["baseline"]
    lines.append(f"repeats: {ROUNDS} alternating rounds of chain {mine.chain_repeats} (ours) / "
                 f"{theirs.chain_repeats} ({BASELINE_NAME}) x {mine.chain_ops:,} ops and moons "
                 f"{mine.moons_steps} / {theirs.moons_steps} steps, each after 1 warm-up; memory chain "
                 f"{mine.memory_ops:,} ops; medians of the pooled samples; clock time.{clock}")
    if any(value is not None for value in checks.values()):
        parts = [f"{name} {'n/a' if diff is None else f'{diff:.1e}'}"
                 for name, diff in checks.items()]
        agree = all(diff is None or diff < 1e-9 for diff in checks.values())
        lines.append(f"results agree between the packages: {'yes' if agree else 'NO'} "
                     f"(max relative difference: {', '.join(parts)})")
    lines.append(environment_line(ours, baseline))
    lines.append("On a shared machine absolute times drift between runs; the ratios, measured in "
                 "the same run, are the meaningful figures.")
    for error in errors:
        lines.append(f"ERROR: {error}")
    return "\n".join(lines)


def worker_env_field(results: dict[str, dict[str, Any]] | None, field: str) -> str:
    if results is None:
        return "n/a"
    for workload in WORKLOADS:
        if "error" not in results[workload]:
            return str(results[workload]["environment"][field])
    return "n/a"


def environment_line(ours: dict[str, dict[str, Any]],
                     baseline: dict[str, dict[str, Any]] | None) -> str:
    return (f"python {platform.python_version()} ({platform.python_implementation()}, "
            f"{platform.machine()}); numpy {worker_env_field(ours, 'numpy')} (ours), "
            f"{worker_env_field(baseline, 'numpy')} ({BASELINE_NAME}); "
            f"ours micrograd {worker_env_field(ours, 'micrograd_version')} from "
            f"{repo_root()}")


def json_report(ours: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None,
                ratios: dict[str, float | None], checks: dict[str, float | None],
                settings: dict[str, Settings], errors: list[str]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "settings": {label: asdict(value) for label, value in settings.items()},
        "ours": ours,
        "baseline": baseline,
        "baseline_name": BASELINE_NAME,
        "ratios_baseline_over_ours": ratios,
        "max_relative_difference_of_results": checks,
        "errors": errors,
    }


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=f"Benchmark this repository's micrograd against {BASELINE_NAME} (same run).")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with each worker's CPU time (time.process_time) instead of wall time")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write all numbers here")
    parser.add_argument("--venv", metavar="DIR", type=Path, default=None,
                        help=f"virtual environment for {BASELINE_NAME} "
                             f"(default: {default_venv_dir()})")
    parser.add_argument("--worker", choices=(*WORKLOADS, ABLATION), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def bench_main(args: argparse.Namespace) -> int:
    settings = QUICK_SETTINGS if args.quick else FULL_SETTINGS
    clock = CPU_CLOCK if args.cpu_time else WALL_CLOCK
    venv = (args.venv or default_venv_dir()).expanduser().resolve()
    errors: list[str] = []

    baseline_python, reason = ensure_baseline(venv)
    if baseline_python is None:
        errors.append(f"could not set up {BASELINE_NAME} in {venv}; measuring ours only. "
                      f"Reason: {reason}")
        progress(errors[-1])

    with tempfile.TemporaryDirectory(prefix="micrograd-bench-") as tmp:
        workdir = Path(tmp)
        data_path = workdir / "moons.npz"
        write_moons_data(data_path)
        theirs = None if baseline_python is None else baseline_interpreter(baseline_python, venv)
        ours, baseline = run_packages(ours_interpreter(), theirs, settings, data_path, workdir, clock)

    for label, results in (("ours", ours), (BASELINE_NAME, baseline)):
        for workload, result in (results or {}).items():
            if "error" in result:
                errors.append(f"{label} {workload} failed: {result['error']}")

    ratios = compute_ratios(ours, baseline)
    checks = cross_check(ours, baseline)
    print(format_report(ours, baseline, ratios, checks, settings, errors, clock))
    if args.json is not None:
        report = json_report(ours, baseline, ratios, checks, settings, errors)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        progress(f"wrote {args.json}")
    return 1 if errors else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        if args.config is None:
            raise SystemExit("--worker needs --config")
        return worker_main(args.worker, args.config)
    return bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
