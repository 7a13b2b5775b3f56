"""Differential fuzzing at the edges: random DAGs over every op, on edge inputs, against PyTorch float64.

Each drawn graph (inputs from ``edge_floats``: 0, -0.0, 5e-324, 1e±200, ±inf, nan, next to kinks)
is checked five ways:

- every step, at the arguments and the incoming gradient it really meets in the graph, against
  the same op in PyTorch float64: its value, its vector-Jacobian product, and the derivatives of
  that product (second derivatives, through ``create_graph``). Step by step, so that a rounding
  difference allowed at one step is not blamed on the steps after it;
- ``backward()`` against ``grad(create_graph=True)`` on the whole graph: the same rules on floats
  and on Values, so equal to the bit;
- the compiled tape against the scalar engine: every node's value, each checked at the arguments
  the tape gave it, and the gradients of the whole graph.

Every difference fails unless ALLOWED (tests/allowed_differences.py, the one table of allowed
differences, which tests/test_edges.py reads too) lists it with its reason; each entry's example
must still need it. Run ``HYPOTHESIS_PROFILE=thorough python -m pytest -s tests/test_fuzz.py`` to
dig deeper; ``-s`` prints how many graphs ran and which entries allowed how many differences.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from allowed_differences import (
    ALLOWED,
    CHECKS,
    SEEN,
    TAPE_ROUNDING_RULES,
    allowed,
    difference,
    reference,
)
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

import micrograd
from micrograd import Value, ops
from micrograd.autograd import grad
from micrograd.ops import OpFamily
from micrograd.testing import all_ops, edge_floats

# --- what is fuzzed: every op of the table, and the operators engine.py composes ---------------


@dataclass(frozen=True)
class Fn:
    """One step kind: how to apply it to Values, and to float64 tensors (``torch(t, *tensors)``)."""

    name: str
    arity: int
    value: Callable[..., Any]
    torch: Callable[..., Any]


#: Constants every family is also fuzzed with, beyond its examples (x ** inf, x ** nan, ...).
FAMILY_EDGE_CONSTANTS = (math.inf, -math.inf, math.nan)


def _table_fn(op: ops.Op) -> Fn:
    if op.torch is None:
        raise AssertionError(f"op {op.name!r} declares no PyTorch counterpart (torch=...): the "
                             "fuzzer cannot check it; declare one in its Op(...)")
    name = op.name if op.param is None else f"{op.name}[{op.param:g}]"
    extra = () if op.param is None else (op.param,)
    return Fn(name, op.arity, op.apply, lambda t, *a: op.torch(t, *a, *extra))


def _family_fn(family: OpFamily, c: float) -> Fn:
    """A family member made when applied (so a constant the family refuses is a finding, not a
    crash while drawing graphs)."""
    if family.torch is None:
        raise AssertionError(f"op family {family.name!r} declares no PyTorch counterpart (torch=...)")
    torch = family.torch
    return Fn(f"{family.name}[{c:g}]", family.arity, lambda *a: family(c).apply(*a),
              lambda t, *a: torch(t, *a, c))


def table_fns() -> list[Fn]:
    """Every op of the table (read now, so a new op is fuzzed), families at edge constants too."""
    fns = [_table_fn(op) for op in all_ops()]
    for entry in ops.OPS.values():
        if isinstance(entry, OpFamily):
            fns.extend(_family_fn(entry, c) for c in FAMILY_EDGE_CONSTANTS)
    return fns


#: Python operators on Values, as engine.py builds them (compositions of table ops, or primitives).
OPERATORS = [
    Fn("a-b", 2, lambda a, b: a - b, lambda t, a, b: a - b),
    Fn("a/b", 2, lambda a, b: a / b, lambda t, a, b: a / b),
    Fn("-a", 1, lambda a: -a, lambda t, a: -a),
    Fn("3/a", 1, lambda a: 3.0 / a, lambda t, a: reference("3/a")(t, 3.0, a)),
]


def fns() -> list[Fn]:
    return table_fns() + OPERATORS


# --- random graphs with shared subexpressions ------------------------------------------------


@dataclass(frozen=True)
class Graph:
    """Inputs, then steps each applying a Fn to earlier nodes (indices); the last node is the output."""

    point: tuple[float, ...]
    steps: tuple[tuple[Fn, tuple[int, ...]], ...]

    def run(self, inputs: list[Any], torch: Any = None) -> list[Any]:
        nodes = list(inputs)
        for fn, args in self.steps:
            a = [nodes[i] for i in args]
            nodes.append(fn.value(*a) if torch is None else fn.torch(torch, *a))
        return nodes

    def __repr__(self) -> str:
        n = len(self.point)
        names = [f"x{i}" for i in range(n)] + [f"n{k}" for k in range(len(self.steps))]
        lines = [f"{', '.join(names[:n])} = {', '.join(repr(x) for x in self.point)}"]
        lines += [f"n{k} = {fn.name}({', '.join(names[i] for i in args)})"
                  for k, (fn, args) in enumerate(self.steps)]
        return "Graph(\n  " + "\n  ".join(lines) + "\n)"


@st.composite
def graphs(draw: Any, max_inputs: int = 3, max_steps: int = 7) -> Graph:
    """Random DAGs over every Fn on edge inputs; arguments are drawn among all earlier nodes (so
    subexpressions are shared, x * x included) and the unused nodes are summed into the output."""
    pool = fns()
    point = tuple(draw(st.lists(edge_floats(), min_size=1, max_size=max_inputs)))
    n = len(point)
    steps: list[tuple[Fn, tuple[int, ...]]] = []
    for _ in range(draw(st.integers(1, max_steps))):
        fn = draw(st.sampled_from(pool))
        size = n + len(steps)
        steps.append((fn, tuple(draw(st.integers(0, size - 1)) for _ in range(fn.arity))))
    used = {i for _, args in steps for i in args}
    add = _table_fn(ops.OPS["add"])  # type: ignore[arg-type]
    sinks = [i for i in range(n, n + len(steps)) if i not in used]
    out = sinks[0]
    for i in sinks[1:]:
        steps.append((add, (out, i)))
        out = n + len(steps) - 1
    return Graph(point, tuple(steps))


# --- checks -------------------------------------------------------------------------------------


def _f(x: Any) -> float:
    return float(x.item()) if hasattr(x, "item") else float(getattr(x, "data", x))


class Report:
    """Differences found in one graph, each a line naming the check, the step and both numbers."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def compare(self, check: str, fn: str | None, where: str, mine: Any, ref: Any, ref_name: str,
                ctx: tuple[list[float], float] | None = None) -> None:
        a, b = _f(mine), _f(ref)
        if not allowed(check, fn, a, b, ctx):
            self.lines.append(f"{check:<10} {where}: micrograd {a!r}, {ref_name} {b!r}")


def _torch_grads(torch: Any, out: Any, wrt: list[Any], **kw: Any) -> list[Any]:
    if not out.requires_grad:
        return [torch.zeros((), dtype=torch.float64) for _ in wrt]
    return list(torch.autograd.grad(out, wrt, allow_unused=True, materialize_grads=True,
                                    retain_graph=True, **kw))


def check_step(torch: Any, report: Report, fn: Fn, xs: list[float], pattern: list[int], g: float,
               where: str) -> None:
    """One step at arguments xs (pattern[i]: which distinct leaf argument i is) and incoming
    gradient g: value, vector-Jacobian product and its derivatives, against PyTorch."""
    distinct = len(set(pattern))
    leaves = [Value(xs[pattern.index(j)]) for j in range(distinct)]
    gv = Value(g)
    y = fn.value(*[leaves[j] for j in pattern])
    tleaves = [torch.tensor(xs[pattern.index(j)], dtype=torch.float64, requires_grad=True)
               for j in range(distinct)]
    tg = torch.tensor(g, dtype=torch.float64, requires_grad=True)
    ty = fn.torch(torch, *[tleaves[j] for j in pattern])
    call = f"{fn.name}({', '.join(repr(xs[i]) for i in range(len(xs)))}) [args {pattern}]"
    report.compare("value", fn.name, f"{where} {call}", y, ty, "torch", (xs, g))
    vjp = grad(y, leaves, grad_outputs=gv, create_graph=True, materialize_grads=True)
    tvjp = _torch_grads(torch, ty, tleaves, grad_outputs=tg, create_graph=True)
    wrt, twrt = leaves + [gv], tleaves + [tg]
    for j, (d, td) in enumerate(zip(vjp, tvjp)):
        report.compare("vjp", fn.name, f"{where} {call}, g={g!r}: d/d arg{j}", d, td, "torch",
                       (xs, g))
        second = grad(d, wrt, materialize_grads=True)
        tsecond = _torch_grads(torch, td, twrt)
        for k, (s, ts) in enumerate(zip(second, tsecond)):
            name = "g" if k == distinct else f"arg{k}"
            report.compare("vjp'", fn.name, f"{where} {call}, g={g!r}: d/d {name} of d/d arg{j}",
                           s, ts, "torch", (xs, g))


def check_steps_against_torch(torch: Any, report: Report, graph: Graph) -> None:
    """Every step at the values and incoming gradient micrograd's own run gives it."""
    n = len(graph.point)
    nodes = graph.run([Value(x) for x in graph.point])
    gs = grad(nodes[-1], nodes, materialize_grads=True)
    for k, (fn, args) in enumerate(graph.steps):
        firsts: dict[int, int] = {}
        pattern = [firsts.setdefault(i, len(firsts)) for i in args]
        check_step(torch, report, fn, [nodes[i].data for i in args], pattern, _f(gs[n + k]), f"n{k}")


def check_backward_against_grad(report: Report, graph: Graph) -> None:
    """backward() (rules on floats) and grad(create_graph=True) (the same rules on Values)."""
    leaves = [Value(x) for x in graph.point]
    graph.run(leaves)[-1].backward()
    others = [Value(x) for x in graph.point]
    by_values = grad(graph.run(others)[-1], others, create_graph=True, materialize_grads=True)
    for i, (x, g) in enumerate(zip(leaves, by_values)):
        report.compare("backward", None, f"d out/d x{i}", x.grad, g, "grad(create_graph=True)")


def check_tape_against_engine(report: Report, graph: Graph) -> None:
    """The compiled tape: every node's value (checked at the arguments the tape gave it, so an
    allowed rounding is not blamed on later steps), then gradients of the output."""
    n = len(graph.point)
    nodes = graph.run([Value(x) for x in graph.point])
    f = micrograd.compile(lambda *xs: graph.run(list(xs))[n:], params=[])
    tape = [float(v) for v in f(*[np.array([x]) for x in graph.point])[0]]
    got = list(graph.point) + tape
    for k, (fn, args) in enumerate(graph.steps):
        if all(difference(got[i], nodes[i].data) == (0, False) for i in args):
            want = nodes[n + k].data  # same arguments: the engine's own value
        else:  # an earlier allowed rounding: the engine's step at the tape's arguments
            want = fn.value(*[Value(got[i]) for i in args]).data
        report.compare("tape", fn.name, f"n{k} = {fn.name}(...)", got[n + k], want, "engine")
    uses = collections.Counter(i for _, args in graph.steps for i in args)
    rounded = (any(difference(a, v.data) != (0, False) for a, v in zip(got, nodes))
               or any(fn.name.split("[")[0] in TAPE_ROUNDING_RULES for fn, _ in graph.steps)
               or any(k >= 3 for k in uses.values()))

    leaves = [Value(x) for x in graph.point]
    engine_grads = grad(graph.run(leaves)[-1], leaves, materialize_grads=True)
    params = [Value(x) for x in graph.point]
    micrograd.compile(lambda _: graph.run(list(params))[-1], params=params).backward(np.zeros(1))
    check = "tape grad after a tape rounding" if rounded else "tape grad"
    for i, (p, g) in enumerate(zip(params, engine_grads)):
        report.compare(check, None, f"d out/d x{i}",
                       p.grad, g, "engine")


GRAPHS: collections.Counter[str] = collections.Counter()  # graphs run, by test


@pytest.fixture(scope="module", autouse=True)
def _count():
    """With -s: how many graphs ran, and which allowed differences they met (and how often)."""
    GRAPHS.clear()
    before = collections.Counter(SEEN)
    yield
    used = SEEN - before
    print("\nfuzz:", ", ".join(f"graphs ({k}): {v}" for k, v in sorted(GRAPHS.items())))
    for entry, count in sorted(used.items(), key=lambda item: -item[1]):
        print(f"  allowed {count:>6} x  {entry.check}: {entry.reason[:70]}...")


def _first_raising_step(graph: Graph) -> tuple[str, Exception] | None:
    """The step whose Value op raises on the graph's inputs (maths never raises: IEEE instead)."""
    nodes: list[Any] = [Value(x) for x in graph.point]
    for fn, args in graph.steps:
        try:
            nodes.append(fn.value(*[nodes[i] for i in args]))
        except Exception as exc:  # noqa: BLE001 - any exception out of maths is a finding
            return fn.name, exc
    return None


def _run(check: Callable[[Report], None], graph: Graph, label: str) -> None:
    GRAPHS[label] += 1
    raising = _first_raising_step(graph)
    if raising is not None:
        name, exc = raising
        assert allowed("exception", name, 0.0, math.nan), \
            f"{graph!r}\n{name} raised {type(exc).__name__}: {exc}"
        return  # an open bug (ALLOWED says which): nothing after it can be checked
    report = Report()
    with np.errstate(all="ignore"):
        check(report)
    assert not report.lines, f"{graph!r}\n" + "\n".join(report.lines)


# --- the tests ----------------------------------------------------------------------------------

#: Graphs are cheap (~10 ms): each fuzz test runs 3x the profile's examples (ci: 180, thorough: 6000).
MORE = settings(max_examples=3 * settings().max_examples)


def test_every_op_of_the_table_is_fuzzed_with_its_torch_counterpart():
    names = {fn.name.split("[")[0] for fn in fns()}
    assert set(ops.OPS) <= names


def test_graphs_share_subexpressions():
    """One node for both arguments of a step (x * x), and one node read by two steps."""
    def read_twice(graph):
        reads = collections.Counter(i for _, args in graph.steps for i in set(args))
        return max(reads.values()) >= 2
    found = settings(max_examples=2000, database=None, derandomize=True, phases=[Phase.generate])
    find(graphs(), lambda graph: any(len(set(args)) < len(args) for _, args in graph.steps), settings=found)
    find(graphs(), read_twice, settings=found)


def test_ci_runs_the_fuzzer_derandomised_and_the_thorough_profile_digs_deeper():
    ci, thorough = settings.get_profile("ci"), settings.get_profile("thorough")
    assert ci.derandomize and not thorough.derandomize
    assert thorough.max_examples >= 10 * ci.max_examples


def test_every_allowed_difference_names_a_check_and_says_why():
    for entry in ALLOWED:
        assert entry.check in CHECKS and len(entry.reason) > 20, entry


def example_graph(example: Any) -> Graph:
    """An entry's example (inputs, steps by name) as a Graph of this module's steps."""
    by_name = {fn.name: fn for fn in fns()}
    point, steps = example
    return Graph(tuple(point), tuple((by_name[name], tuple(args)) for name, args in steps))


#: The check functions, by the checks they compare in.
CHECK_FUNCTIONS: dict[str, Callable[[Any, Report, Graph], None]] = {
    "value": check_steps_against_torch, "vjp": check_steps_against_torch, "vjp'": check_steps_against_torch,
    "backward": lambda torch, report, graph: check_backward_against_grad(report, graph),
    **{check: lambda torch, report, graph: check_tape_against_engine(report, graph)
       for check in ("tape", "tape grad", "tape grad after a tape rounding")},
}
#: torch's own operator where a reference entry compares with another expression.
TORCH_OPERATORS = {"3/a": lambda t, a: 3.0 / a}


@pytest.mark.parametrize("entry", ALLOWED, ids=lambda e: f"{e.check}: {e.reason[:40]}")
def test_every_allowed_difference_is_needed_by_its_example(torch, entry):
    """Each entry's example shows its difference, and this entry is the one that allows it: an
    entry that a fix made unnecessary fails here until it is removed (or given a new example)."""
    graph = example_graph(entry.example)
    if entry.check == "reference":
        ((fn, (arg,)),) = graph.steps
        x = torch.tensor(graph.point[arg], dtype=torch.float64)
        mine = fn.value(Value(graph.point[arg])).data
        assert mine == fn.torch(torch, x).item() != TORCH_OPERATORS[fn.name](torch, x).item()
        return
    before = SEEN[entry]
    report = Report()
    with np.errstate(all="ignore"):
        CHECK_FUNCTIONS[entry.check](torch, report, graph)
    assert not report.lines, f"{graph!r}\n" + "\n".join(report.lines)
    assert SEEN[entry] > before, f"{graph!r} does not need this entry: remove it, or give it an example that does"


def test_a_difference_outside_the_table_fails():
    assert allowed("value", "tanh", 1.0, math.nextafter(1.0, 2.0))
    assert not allowed("value", "tanh", 1.0, math.nextafter(math.nextafter(1.0, 2.0), 2.0))
    assert not allowed("value", "add", 1.0, math.nextafter(1.0, 2.0))
    assert not allowed("value", "tanh", math.nan, 1.0)
    assert not allowed("value", "tanh", math.inf, -math.inf)
    assert not allowed("backward", None, math.inf, 1e308)
    assert allowed("value", "add", math.nan, math.nan)


# --- open bugs: each one an entry of ALLOWED, until fixed -----------------------------------------

def _torch_grad(torch, f, *xs):
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    out = f(*ts)
    return out.item(), [g.item() for g in torch.autograd.grad(out, ts, materialize_grads=True)]


def test_constant_exponents_inf_and_nan_follow_ieee():
    assert math.isinf((Value(2.0) ** math.inf).data)   # OverflowError on main; torch: inf
    assert math.isnan((Value(2.0) ** math.nan).data)   # ValueError on main; torch: nan


def test_division_is_a_primitive(torch):
    assert (Value(5e-324) / Value(5e-324)).data == 1.0  # main: inf
    assert (Value(5e-324) / Value(1e-323)).data == 0.5  # main: inf; torch: 0.5
    x = Value(1e200)
    assert grad(x / x, x)[0] == 0.0                     # main: 1e-200 - ...; torch: 0.0
    x = Value(1e-310)
    y = 3.0 / -x.log()
    y.backward()
    (by_values,) = grad(3.0 / -x.log(), x, create_graph=True)
    assert by_values.data == x.grad                     # main: inf against 5.887982216803782e+304
    x = Value(5e-324)
    assert grad(x.log(), x, grad_outputs=0.0, create_graph=True)[0].data == 0.0  # main: nan


def test_logaddexp_gradient_is_the_softmax(torch):
    x = Value(1e16)
    assert grad(x.logaddexp(x), x)[0] == 1.0            # main: 2.0; torch: 1.0
    a, b = Value(-4.597833320138192e+16), Value(-4.597833320138192e+16)
    assert grad(a.logaddexp(b), [a, b]) == (0.5, 0.5)   # main: (1.0, 1.0)


def test_half_powers_follow_torchs_sqrt(torch):
    assert math.isnan(torch.tensor(-math.inf, dtype=torch.float64).pow(0.5).item())
    assert math.isnan((Value(-math.inf) ** 0.5).data)   # main: inf
    assert math.isnan((Value(-math.inf) ** -0.5).data)  # main: 0.0
    assert math.copysign(1.0, (Value(-0.0) ** 0.5).data) == -1.0  # main: 0.0; torch: -0.0
    x = Value(-math.inf)
    assert math.isnan(grad(x ** 1.5, x)[0])             # main: inf; torch: nan (1.5 * sqrt(-inf))
    x = Value(-0.0)
    assert grad(x ** 0.5, x)[0] == -math.inf            # main: inf; torch: 0.5 / sqrt(-0.0) = -inf


def test_zero_times_inf_and_product_association(torch):
    x = Value(-2.0)
    (g,) = grad(x ** 0, x, grad_outputs=math.nan)      # torch: 0.0 (pow's where(c == 0, 0))
    assert g == 0.0                                     # main: nan
    x = Value(0.125)
    (g,) = grad(x ** 2, x, grad_outputs=1e308)          # torch: 1e308 * (2 * 0.125) = 2.5e307
    assert g == 2.5e307                                 # main: inf


def test_second_derivative_of_reciprocal_at_zero(torch):
    x = Value(0.0)
    (d,) = grad(x ** -1, x, create_graph=True)
    assert grad(d, x)[0] == math.inf                    # nan; torch: 2 / 0.0 ** 3 = inf


def test_sigmoid_second_derivative_with_infinite_gradient(torch):
    x = Value(1.0)
    (d,) = grad(x.sigmoid(), x, grad_outputs=Value(-math.inf), create_graph=True)
    assert d.data == -math.inf
    assert grad(d, x)[0] == math.inf                    # was nan; torch: inf (-inf * s(1-s)(1-2s))


def test_tape_sums_keep_the_sign_of_zero():
    """Found by the fuzzer: the linear fast path summed from 0.0, so -0.0 + -0.0 was 0.0 there."""
    f = micrograd.compile(lambda x: (-x + -x) ** -1, params=[])
    want = ((-Value(0.0) + -Value(0.0)) ** -1).data     # -inf, as torch
    assert want == -math.inf
    assert f(np.array([0.0]))[0] == want                # (was inf)


def test_every_open_bug_in_the_table_has_its_xfail_test():
    for entry in ALLOWED:
        if entry.bug is not None:
            assert entry.reason.startswith("open bug") and callable(globals().get(entry.bug)), entry


def test_an_op_without_a_torch_counterpart_fails_loudly():
    bare = ops.Op("cube", "cube", 1, lambda xp, a: a * a * a, lambda xp, g, out, a: g * 3.0 * a * a)
    with pytest.raises(AssertionError, match="'cube' declares no PyTorch counterpart"):
        _table_fn(bare)


@MORE
@given(graph=graphs())
def test_every_step_matches_torch_values_gradients_and_second_derivatives(torch, graph):
    _run(lambda r: check_steps_against_torch(torch, r, graph), graph, "steps against torch")


@MORE
@given(graph=graphs())
def test_backward_matches_grad_with_create_graph(graph):
    _run(lambda r: check_backward_against_grad(r, graph), graph, "backward against grad")


@MORE
@given(graph=graphs())
def test_compiled_tape_matches_the_scalar_engine(graph):
    _run(lambda r: check_tape_against_engine(r, graph), graph, "tape against engine")
