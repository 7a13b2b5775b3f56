"""Tools to test gradients: hypothesis strategies over the op table and PyTorch comparisons.

Everything here is public and used by micrograd's own test suite:

- :func:`all_ops` lists every primitive of the op table (a family once per example constant).
- :func:`op_inputs` draws arguments inside an op's domain, away from its kinks.
- :func:`expressions` draws random expression DAGs (:class:`Program`) over every op, with shared
  subexpressions, valid at the point they were drawn for.
- :func:`torch_reference` and :meth:`Program.torch` compute the same thing in PyTorch float64.
- :func:`central_difference` is the second oracle: numerical derivatives.

Requires ``hypothesis`` (``pip install "micrograd[test]"``); PyTorch is imported only when a torch
helper is called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError("micrograd.testing needs hypothesis: pip install 'micrograd[test]'") from exc

from . import ops
from .engine import Value
from .ops import Op, OpFamily

__all__ = [
    "all_ops", "op_inputs", "expressions", "Program", "torch_reference", "central_difference",
    "import_torch", "close",
]

KINK_MARGIN = 1e-3  # samples stay this far from a kink, so central differences never straddle one


def all_ops() -> list[Op]:
    """Every primitive of the op table; a family contributes one Op per example constant."""
    out: list[Op] = []
    for entry in ops.OPS.values():
        if isinstance(entry, OpFamily):
            out.extend(entry(c) for c in entry.examples)
        else:
            out.append(entry)
    return out


def _away_from_kinks(op: Op, x: float) -> bool:
    return all(abs(x - k) > KINK_MARGIN for k in op.kinks)


def op_inputs(op: Op) -> st.SearchStrategy[tuple[float, ...]]:
    """Argument tuples for ``op``: each inside its domain interval and away from the op's kinks."""
    def arg(i: int) -> st.SearchStrategy[float]:
        lo, hi = op.domain[i]
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(
            lambda x: _away_from_kinks(op, x))
    return st.tuples(*[arg(i) for i in range(op.arity)])


@dataclass(frozen=True)
class Program:
    """An expression DAG: inputs, then steps that each apply an op to earlier nodes.

    Node ``i`` is input ``i`` for ``i < n_inputs``, else step ``i - n_inputs``; the last step is
    the output. ``point`` is the input at which every step was checked to be inside its op's
    domain.
    """

    n_inputs: int
    steps: tuple[tuple[Op, tuple[int, ...]], ...]
    point: tuple[float, ...]

    def run(self, inputs: Sequence[Any], apply: Callable[..., Any]) -> list[Any]:
        """Evaluate every node, calling ``apply(op, *args)`` for each step."""
        nodes = list(inputs)
        for op, args in self.steps:
            nodes.append(apply(op, *[nodes[i] for i in args]))
        return nodes

    def values(self, inputs: Sequence[Value]) -> list[Value]:
        """Build the graph in micrograd; returns every node, the output last."""
        return self.run(inputs, lambda op, *args: op.apply(*args))

    def torch(self, inputs: Sequence[Any]) -> list[Any]:
        """Build the same graph in PyTorch (inputs are tensors); returns every node."""
        torch = import_torch()
        return self.run(inputs, lambda op, *args: _torch_apply(torch, op, *args))

    def __repr__(self) -> str:
        names = [f"x{i}" for i in range(self.n_inputs)]
        lines = [f"inputs {', '.join(names)} = {self.point}"]
        for k, (op, args) in enumerate(self.steps):
            names.append(f"n{k}")
            lines.append(f"n{k} = {op.name}{'' if op.param is None else f'[{op.param:g}]'}"
                         f"({', '.join(names[i] for i in args)})")
        return "Program(\n  " + "\n  ".join(lines) + "\n)"


@st.composite
def expressions(draw: Any, min_inputs: int = 1, max_inputs: int = 4, max_steps: int = 12,
                ops_to_use: Sequence[Op] | None = None, bound: float = 50.0) -> Program:
    """Random expression DAGs over every op of the table, with shared subexpressions.

    Inputs are drawn first; each step then picks an op and arguments among the nodes so far
    whose values lie inside the op's domain, so the program is valid at ``Program.point`` and
    every intermediate stays within ``bound``. Arguments are drawn from all the nodes so far, so
    subexpressions get shared (``x * x``, one node feeding several). Finally every node nobody
    used is summed into the output, so gradients reach every node.
    """
    pool = list(ops_to_use) if ops_to_use is not None else all_ops()
    n_inputs = draw(st.integers(min_inputs, max_inputs))
    point = tuple(draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n_inputs, max_size=n_inputs)))
    values = list(point)
    steps: list[tuple[Op, tuple[int, ...]]] = []
    used: set[int] = set()
    for _ in range(draw(st.integers(1, max_steps))):
        op = draw(st.sampled_from(pool))
        candidates = [[i for i, v in enumerate(values) if _in_domain_arg(op, k, v)] for k in range(op.arity)]
        if not all(candidates):
            continue
        args = tuple(draw(st.sampled_from(c)) for c in candidates)
        out = op.forward(*[values[i] for i in args])
        if not (math.isfinite(out) and abs(out) <= bound):
            continue
        steps.append((op, args))
        used.update(args)
        values.append(out)
    # Sum the unused nodes (the sinks) into one output.
    sinks = [i for i in range(len(values)) if i not in used and (i >= n_inputs or not steps)]
    out_index = sinks[0]
    for i in sinks[1:]:
        steps.append((ops.add, (out_index, i)))
        values.append(values[out_index] + values[i])
        out_index = len(values) - 1
    if not steps:  # a single input and nothing applied: make the output a node of its own
        steps.append((ops.mul, (0, 0)))
    return Program(n_inputs, tuple(steps), point)


def _in_domain_arg(op: Op, k: int, v: float) -> bool:
    lo, hi = op.domain[k]
    return lo <= v <= hi and _away_from_kinks(op, v)


# --- PyTorch -----------------------------------------------------------------------------------

def import_torch() -> Any:
    """Import PyTorch, or say how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this helper compares against PyTorch: pip install torch==2.13.0") from exc
    return torch


def _torch_apply(torch: Any, op: Op, *args: Any) -> Any:
    if op.torch is None:
        raise ValueError(f"op {op.name!r} declares no PyTorch counterpart")
    if op.param is None:
        return op.torch(torch, *args)
    return op.torch(torch, *args, op.param)


def torch_reference(op: Op, *xs: float) -> tuple[float, tuple[float, ...]]:
    """``op`` applied to ``xs`` in PyTorch float64: (value, gradient for each argument)."""
    torch = import_torch()
    ts = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True) for x in xs]
    out = _torch_apply(torch, op, *ts)
    out.backward()
    return out.item(), tuple(t.grad.item() if t.grad is not None else 0.0 for t in ts)


def central_difference(f: Callable[..., float], xs: Sequence[float], i: int, eps: float = 1e-6) -> float:
    """(f(x + h e_i) - f(x - h e_i)) / 2h: the numerical partial derivative along argument i."""
    h = eps * max(1.0, abs(xs[i]))
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def close(a: float, b: float, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """Equal within tolerance, with IEEE specials equal to themselves (nan == nan, inf == inf)."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
