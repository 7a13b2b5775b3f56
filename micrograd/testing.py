"""Tools to test gradients: hypothesis strategies over the op table and PyTorch comparisons.

Everything here is public and used by micrograd's own test suite:

- :func:`all_ops` lists every primitive of the op table (a family once per example constant).
- :func:`op_inputs` draws arguments inside an op's domain, away from its kinks.
- :func:`edge_floats` draws the numbers where IEEE arithmetic is hardest: zeros of both signs,
  subnormals, huge values, infinities, nan, and the floats next to every kink of the op table.
- :func:`expressions` draws random expression DAGs (:class:`Program`) over every op, with shared
  subexpressions, valid at the point they were drawn for.
- :func:`torch_reference` and :meth:`Program.torch` compute the same thing in PyTorch float64.
- :func:`central_difference` is the second oracle: numerical derivatives.
- :func:`gradcheck` and :func:`gradgradcheck` compare first and second derivatives with central
  differences (PyTorch's defaults), raising :class:`GradcheckError` that shows both side by side.
- :func:`mlps` draws random MLPs with inputs.
- :func:`assert_matches_torch` runs one function on Values and on PyTorch float64 tensors and
  compares values and derivatives (to any order); :func:`check_op` does all of it for one op.

Property-testing a new op takes three lines::

    @given(op_inputs(cube))
    def test_cube(xs):
        check_op(cube, xs)

Requires ``hypothesis`` (``pip install "micrograd[test]"``); PyTorch is imported only when a torch
helper is called.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the test extra
    raise ImportError("micrograd.testing needs hypothesis: pip install 'micrograd[test]'") from exc

from . import autograd, ops
from .backward import order as _order
from .engine import Value
from .ops import Op, OpFamily
from .scalars import is_real as _is_real
from .scalars import to_float
from .xp import FLOATS

__all__ = [
    "EDGE_VALUES",
    "GradcheckError",
    "MLPCase",
    "Program",
    "TorchScalar",
    "all_ops",
    "assert_matches_torch",
    "central_difference",
    "check_op",
    "close",
    "edge_floats",
    "expressions",
    "gradcheck",
    "gradgradcheck",
    "import_torch",
    "mlps",
    "op_inputs",
    "torch_reference",
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


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else to_float(x, "output")


def _away_from_kinks(op: Op, x: float) -> bool:
    return all(abs(x - k) > KINK_MARGIN for k in op.kinks)


def op_inputs(op: Op) -> st.SearchStrategy[tuple[float, ...]]:
    """Argument tuples for ``op``: each inside its domain interval and away from the op's kinks
    (and apart from one another when the op's derivative jumps at ties)."""
    def arg(i: int) -> st.SearchStrategy[float]:
        lo, hi = op.domain[i]
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(
            lambda x: _away_from_kinks(op, x))
    args = st.tuples(*[arg(i) for i in range(op.arity)])
    if op.kink_at_ties:  # (max) its derivative jumps where the arguments are equal
        return args.filter(lambda xs: abs(xs[0] - xs[1]) > KINK_MARGIN)
    return args


#: Numbers where float arithmetic breaks first: signed zeros, the smallest subnormal and a
#: mid-range one, the smallest normal, 1e±200 (whose products overflow or underflow), 1e16 (where
#: adding 1 rounds away), the edges of exp's range, the largest float, infinities and nan.
EDGE_VALUES: tuple[float, ...] = (
    0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-200, -1e-200, 1e200, -1e200,
    1e16, -1e16, 1.0, -1.0, 0.5, 2.0, 709.78, -745.2, 1.7976931348623157e308, -1.7976931348623157e308,
    math.inf, -math.inf, math.nan)


def _next_to_kinks() -> list[float]:
    """Every kink of the op table, and the floats just below and above it."""
    out: list[float] = []
    for op in all_ops():
        for k in op.kinks:
            out.extend((k, math.nextafter(k, -math.inf), math.nextafter(k, math.inf)))
    return sorted(set(out))


def edge_floats(ordinary: tuple[float, float] = (-10.0, 10.0)) -> st.SearchStrategy[float]:
    """Floats from x in EDGE_VALUES, x next to a kink of any op, or x ~ U[ordinary] (any float too).

    One strategy for differential tests at the edges of IEEE arithmetic: 0, -0.0, 5e-324, 1e±200,
    ±inf, nan, the floats either side of every kink the op table declares (read when called, so a
    new op's kinks are included), ordinary numbers in ``ordinary``, and now and then any float.
    """
    lo, hi = ordinary
    return st.one_of(
        st.sampled_from(EDGE_VALUES),
        st.sampled_from(_next_to_kinks() or [0.0]),
        st.floats(lo, hi),
        st.floats(allow_nan=True, allow_infinity=True),
    )


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
    subexpressions get shared (``x * x``, one node feeding several). Finally every step nobody
    used is summed into the output, so gradients reach every step; an input may go unused (no
    gradient reaches it: pass ``allow_unused=True`` or ``materialize_grads=True`` to ``grad``).
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
        out = op.forward(FLOATS, *[values[i] for i in args])
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


# --- gradcheck ---------------------------------------------------------------------------------

class GradcheckError(AssertionError):
    """A derivative disagrees with its numerical estimate (the message shows both, per input)."""


Outputs = Any  # a Value or number, or a list/tuple of them


def _flat_outputs(out: Outputs) -> list[Any]:
    """The scalars of an output: a scalar, or a (nested) list/tuple of scalars, in order."""
    flat: list[Any] = []
    stack = [out]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, (Value, TorchScalar)) or _is_real(item):
            flat.append(item)
        else:
            raise TypeError(f"outputs must be Values or numbers (or lists of them), got {type(item).__name__}")
    return flat


def _point(inputs: Any) -> list[float]:
    items = [inputs] if isinstance(inputs, Value) or _is_real(inputs) else list(inputs)
    point = []
    for i, x in enumerate(items):
        if isinstance(x, Value):
            x = x.data
        if not _is_real(x):
            raise TypeError(f"input {i} must be a number or a Value, got {type(x).__name__}")
        point.append(float(x))
    return point


def _compare(f: Callable[..., Outputs], point: list[float], eps: float, atol: float, rtol: float,
             raise_exception: bool, what: str, out_name: Callable[[int], str]) -> bool:
    """Analytical derivatives of every output of f against central differences, per input."""
    leaves = [Value(x) for x in point]
    outs = _flat_outputs(f(*leaves))
    analytical = [[float(g) for g in autograd.grad(o, leaves, materialize_grads=True)]
                  if isinstance(o, Value) else [0.0] * len(point) for o in outs]

    def evaluate(xs: list[float]) -> list[float]:  # (recording: f may take gradients itself)
        return [_number(o) for o in _flat_outputs(f(*[Value(x) for x in xs]))]

    rows, bad = [], []
    for i, x in enumerate(point):
        up, down = list(point), list(point)
        up[i] += eps
        down[i] -= eps
        f_up, f_down = evaluate(up), evaluate(down)
        for k in range(len(outs)):
            a, n = analytical[k][i], (f_up[k] - f_down[k]) / (2 * eps)
            ok = abs(a - n) <= atol + rtol * abs(n)  # (False when either is nan)
            rows.append((k, i, x, a, n, ok))
            if not ok:
                bad.append((k, i))
    if not bad:
        return True
    if not raise_exception:
        return False
    k0, i0 = bad[0]
    lines = [(f"{what} mismatch: {out_name(k0)} with respect to input {i0} (x{i0} = {point[i0]!r}) "
              f"disagrees with central differences (eps={eps:g}, atol={atol:g}, rtol={rtol:g})"),
             f"  {'output':<22}{'input':<8}{'analytical':>22}{'numerical':>22}{'difference':>14}"]
    for k, i, _, a, n, ok in rows:
        lines.append(f"  {out_name(k):<22}{'x' + str(i):<8}{a:>22.12g}{n:>22.12g}{abs(a - n):>14.3g}"
                     f"{'' if ok else '   <-- disagrees'}")
    lines.append(f"  at inputs {point}")
    raise GradcheckError("\n".join(lines))


def gradcheck(f: Callable[..., Outputs], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check f's gradients against central differences, like ``torch.autograd.gradcheck``.

    ``f`` takes one Value per input and returns a Value (or a list of them); ``inputs`` are the
    numbers to check at. A derivative passes when ``|analytical - numerical| <= atol + rtol *
    |numerical|``, the numerical one being ``(f(x + eps) - f(x - eps)) / (2 eps)``. Returns True,
    or raises :class:`GradcheckError` showing analytical and numerical side by side and naming
    the disagreeing input (returns False instead with ``raise_exception=False``).

    >>> gradcheck(lambda x, y: (x * y).tanh(), [0.3, -1.2])
    True
    """
    return _compare(f, _point(inputs), eps, atol, rtol, raise_exception, "gradient",
                    lambda k: f"output {k}")


def gradgradcheck(f: Callable[..., Outputs], inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check f's second derivatives against central differences of its gradients.

    Every first derivative d(output k)/d(x_j), computed with ``create_graph=True``, is itself
    checked with :func:`gradcheck`; a mismatch names the output, the first and the second input.

    >>> gradgradcheck(lambda x: x.sigmoid() * x, [0.7])
    True
    """
    point = _point(inputs)
    n = len(point)

    def first_derivatives(*xs: Value) -> list[Any]:
        return [g for o in _flat_outputs(f(*xs)) if isinstance(o, Value)
                for g in autograd.grad(o, xs, create_graph=True, materialize_grads=True)]

    # first_derivatives lists d(output k)/d(x_j) output by output: entry m is (k, j) = divmod(m, n)
    return _compare(first_derivatives, point, eps, atol, rtol, raise_exception, "second derivative",
                    lambda m: f"d(output {m // n})/d(x{m % n})")


# --- random MLPs -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MLPCase:
    """A random ``micrograd.nn.MLP`` and a batch of inputs for it."""

    model: Any
    sizes: tuple[int, ...]  # [nin] + nouts
    inputs: tuple[tuple[float, ...], ...]  # one input vector per sample
    seed: int  # the ``random`` seed the weights were drawn with

    def __repr__(self) -> str:
        return f"MLPCase(sizes={list(self.sizes)}, seed={self.seed}, inputs={list(self.inputs)})"


@st.composite
def mlps(draw: Any, max_inputs: int = 4, max_hidden: int = 2, max_width: int = 6, max_outputs: int = 3,
         max_batch: int = 4, bound: float = 3.0) -> MLPCase:
    """Random MLPs (``MLP(nin, nouts)``: 0..max_hidden hidden layers) with a batch of inputs.

    The weights come from ``random`` seeded with a drawn seed (the global state is restored), so
    each example is reproducible. ReLU has a kink at 0: compare with PyTorch (which pins
    relu'(0) = 0 too) rather than with central differences.
    """
    from .nn import MLP
    nin = draw(st.integers(1, max_inputs))
    # (hidden layers have two neurons or more: a one-neuron layer returns a bare Value, as in
    # micrograd, which the next layer cannot read)
    nouts = draw(st.lists(st.integers(2, max_width), max_size=max_hidden)) + [draw(st.integers(1, max_outputs))]
    seed = draw(st.integers(0, 2**32 - 1))
    state = random.getstate()
    try:
        random.seed(seed)
        model = MLP(nin, nouts)
    finally:
        random.setstate(state)
    sample = st.tuples(*[st.floats(-bound, bound, allow_nan=False)] * nin)
    inputs = tuple(draw(st.lists(sample, min_size=1, max_size=max_batch)))
    return MLPCase(model, (nin, *nouts), inputs, seed)


# --- the same function on PyTorch tensors ----------------------------------------------------------

class TorchScalar:
    """A float64 0-d torch tensor that answers to Value's interface, for :func:`assert_matches_torch`.

    Arithmetic uses torch's operators; every method of the op table (``x.tanh()``,
    ``x.leaky_relu(0.2)``, ops declared later) uses the op's declared PyTorch counterpart. A Value
    it meets (a model's weight, say) is converted with its history, through the same table.
    """

    __slots__ = ("_memo", "t")

    def __init__(self, t: Any, memo: dict[Value, Any]) -> None:
        self.t = t  # the tensor
        self._memo = memo  # Value -> tensor, shared by one run

    @property
    def data(self) -> float:
        return float(self.t.item())

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        return f"TorchScalar({self.data!r})"

    def _other(self, x: Any) -> Any:
        if isinstance(x, TorchScalar):
            return x.t
        if isinstance(x, Value):
            return _value_to_torch(x, self._memo)
        return float(x) if _is_real(x) else NotImplemented

    def _wrap(self, t: Any) -> TorchScalar:
        return TorchScalar(t, self._memo)

    def _binary(self, other: Any, fn: Callable[[Any, Any], Any]) -> Any:
        o = self._other(other)
        return NotImplemented if o is NotImplemented else self._wrap(fn(self.t, o))

    def __add__(self, o: Any) -> Any: return self._binary(o, lambda a, b: a + b)  # noqa: E704
    def __radd__(self, o: Any) -> Any: return self._binary(o, lambda a, b: b + a)  # noqa: E704
    def __sub__(self, o: Any) -> Any: return self._binary(o, lambda a, b: a - b)  # noqa: E704
    def __rsub__(self, o: Any) -> Any: return self._binary(o, lambda a, b: b - a)  # noqa: E704
    def __mul__(self, o: Any) -> Any: return self._binary(o, lambda a, b: a * b)  # noqa: E704
    def __rmul__(self, o: Any) -> Any: return self._binary(o, lambda a, b: b * a)  # noqa: E704
    def __truediv__(self, o: Any) -> Any: return self._binary(o, lambda a, b: a / b)  # noqa: E704
    def __rtruediv__(self, o: Any) -> Any: return self._binary(o, lambda a, b: b / a)  # noqa: E704
    def __pow__(self, o: Any) -> Any: return self._binary(o, lambda a, b: a ** b)  # noqa: E704
    def __rpow__(self, o: Any) -> Any: return self._binary(o, lambda a, b: b ** a)  # noqa: E704
    def __neg__(self) -> TorchScalar: return self._wrap(-self.t)  # noqa: E704
    def __lt__(self, o: Any) -> bool: return self.data < float(o)  # noqa: E704
    def __le__(self, o: Any) -> bool: return self.data <= float(o)  # noqa: E704
    def __gt__(self, o: Any) -> bool: return self.data > float(o)  # noqa: E704
    def __ge__(self, o: Any) -> bool: return self.data >= float(o)  # noqa: E704

    def apply(self, op: Op, *others: Any) -> TorchScalar:
        """``op`` through its PyTorch counterpart, as ``Value.apply``."""
        return _apply_op(op, self, *others)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        entry = ops.OPS.get(name)
        if entry is None:
            raise AttributeError(f"TorchScalar has no method {name!r} (not in the op table)")
        torch = import_torch()
        if isinstance(entry, OpFamily):
            family = entry

            def member(*args: Any, **kwargs: Any) -> TorchScalar:
                c = args[0] if args else kwargs.get(family.param_name, family.default)
                if c is None:
                    raise TypeError(f"{family.name}() needs its constant, {family.param_name}")
                return self._wrap(_torch_apply(torch, family(float(c)), self.t))
            return member
        op = entry
        return lambda *others: self._wrap(_torch_apply(torch, op, self.t, *[self._other(o) for o in others]))


def _value_to_torch(v: Value, memo: dict[Value, Any]) -> Any:
    """The tensor for a Value: its whole history rebuilt in torch through the op table (memoised)."""
    torch = import_torch()
    for node in _order(v):
        if node in memo:
            continue
        op = node.op
        if node._a is None or op.torch is None:  # a leaf (or a hand-built node): a torch leaf
            memo[node] = torch.tensor(node.data, dtype=torch.float64, requires_grad=True)
        else:
            memo[node] = _torch_apply(torch, op, *[memo[c] for c in node._prev])
    return memo[v]


def _apply_op(op: Op, *args: Any) -> Any:
    """``op`` on Values, or on TorchScalars through its PyTorch counterpart."""
    if isinstance(args[0], TorchScalar):
        return args[0]._wrap(_torch_apply(import_torch(), op, *[args[0]._other(a) for a in args]))
    return op.apply(*args)


def _structure(inputs: Sequence[Any], make: Callable[[float], Any]) -> tuple[list[Any], list[Any]]:
    """(arguments, flat leaves): each input a scalar, or a list of scalars passed as a list."""
    args, flat = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, (list, tuple)):
            leaves = [make(_point([xi])[0]) for xi in x]
            args.append(leaves)
            flat.extend(leaves)
        else:
            leaf = make(_point([x])[0])
            args.append(leaf)
            flat.append(leaf)
    return args, flat


def assert_matches_torch(fn: Callable[..., Any], *inputs: Any, order: int = 1, rtol: float = 1e-7,
                         atol: float = 1e-10) -> bool:
    """Run ``fn`` on Values and on PyTorch float64 tensors; compare values and derivatives.

    ``fn`` is written once with Value's interface (operators, the op table's methods such as
    ``x.tanh()``); it receives one argument per input (a list for a list input) and returns a
    scalar or a list/tuple of scalars. In the PyTorch run it receives :class:`TorchScalar`s. It
    may use Values it closes over (a model's parameters): they join the comparison, as leaves.
    Compared: every output value, every output's gradient with respect to the inputs and those
    Values, and derivatives up to ``order`` (second, third, ...) with respect to the inputs.
    Returns True or raises AssertionError listing every disagreement side by side.

    >>> assert_matches_torch(lambda x, y: (x * y).tanh() + x.exp() / y, 0.5, 2.0, order=2)
    True
    """
    torch = import_torch()
    args, ins = _structure(inputs, Value)
    outs = _flat_outputs(fn(*args))
    closed = [v for v in _order(*[o for o in outs if isinstance(o, Value)])
              if v._a is None and not any(v is x for x in ins)]

    memo: dict[Value, Any] = {}
    targs, tins = _structure(inputs, lambda x: TorchScalar(
        torch.tensor(x, dtype=torch.float64, requires_grad=True), memo))
    # an output computed from closed-over Values alone (or one of them, returned as is) is a Value
    # in this run too: rebuild it in torch, so its derivatives are compared and not taken as 0
    touts = [TorchScalar(_value_to_torch(o, memo), memo) if isinstance(o, Value) else o
             for o in _flat_outputs(fn(*targs))]
    tins_t = [x.t for x in tins]
    shared = [v for v in closed if v in memo]
    names = [f"x{i}" for i in range(len(ins))] + [f"closed-over Value #{j} ({v.data:g})" for j, v in enumerate(shared)]

    problems: list[str] = []
    if len(outs) != len(touts):
        raise AssertionError(f"fn returned {len(outs)} outputs on Values but {len(touts)} on tensors")

    def compare(label: str, mine: Any, ref: Any) -> None:
        a = _number(mine)
        b = float(ref.item()) if hasattr(ref, "item") else float(ref)
        if not close(a, b, rtol=rtol, atol=atol):
            problems.append(f"  {label:<40}{a:>24.15g}{b:>24.15g}{abs(a - b):>12.3g}")

    def as_tensor(x: Any) -> Any:
        return x.t if isinstance(x, TorchScalar) else x

    level = []
    for k, (o, t) in enumerate(zip(outs, touts)):
        compare(f"output {k}", o, as_tensor(t))
        level.append((f"output {k}", o, as_tensor(t)))
    for depth in range(1, order + 1):
        wrt_mine = ins + (shared if depth == 1 else [])
        wrt_ref = tins_t + ([memo[v] for v in shared] if depth == 1 else [])
        more = depth < order
        next_level = []
        for label, mine, ref in level:
            mg = (autograd.grad(mine, wrt_mine, create_graph=more, materialize_grads=True)
                  if isinstance(mine, Value) else [0.0] * len(wrt_mine))
            if torch.is_tensor(ref) and ref.requires_grad:
                tg = torch.autograd.grad(ref, wrt_ref, create_graph=more, retain_graph=True,
                                         allow_unused=True, materialize_grads=True)
            else:
                tg = [torch.zeros((), dtype=torch.float64)] * len(wrt_ref)
            for j, (m, r) in enumerate(zip(mg, tg)):
                sub = f"d{label[1:] if label.startswith('d') else '(' + label + ')'}/d{names[j]}"
                compare(sub, m, r)
                if j < len(ins):
                    next_level.append((sub, m, r))
        level = next_level
    if problems:
        header = f"  {'quantity':<40}{'micrograd':>24}{'torch float64':>24}{'difference':>12}"
        raise AssertionError(f"micrograd and PyTorch disagree (rtol={rtol:g}, atol={atol:g}) at inputs "
                             f"{list(inputs)}:\n{header}\n" + "\n".join(problems))
    return True


def check_op(op: Op, xs: Sequence[float], order: int = 2) -> bool:
    """Everything the project checks for a primitive, at one point: gradcheck, gradgradcheck, and
    PyTorch float64 up to ``order`` if the op declares its counterpart. True or AssertionError."""
    def f(*args: Any) -> Any:
        return _apply_op(op, *args)
    gradcheck(f, xs)
    if order >= 2:
        gradgradcheck(f, xs)
    if op.torch is not None:
        assert_matches_torch(f, *xs, order=order)
    return True
