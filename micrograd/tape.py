"""compile(): trace a per-sample scalar function once, replay it over a whole batch with numpy.

A scalar graph traced for one sample is a program: its nodes in topological order, each an op of
the table applied to earlier nodes. Its leaves are of three kinds: *inputs* (one column of a
batch), *parameters* (shared by every sample, read from ``.data`` at each call) and *constants*
(baked). Replaying the program on numpy arrays runs the same arithmetic for every sample at once:

- per-sample nodes live in rows of a matrix ``V`` of shape (nodes, batch); nodes that depend on
  parameters only (an L2 term) are computed once per call, in a vector ``S``;
- nodes of one op at one depth form one *step*: one call of the op's forward on arrays (and,
  going back, its derivative rule on arrays) on all their rows at once, so derivative rules come
  from the op table and a new op compiles with no edit here;
- sums of products with a shared factor (``act = b; act = act + w_i * x_i``, as a Neuron builds
  them) become one *linear* step, and neurons reading the same inputs one matrix product; the same
  kernel of weights at many positions (a Conv2d's sums) one matrix product over patches. This is
  a fast path for ``add`` and ``mul`` only; ``compile(..., dots=False)`` turns it off, and the
  tests check one against the other;
- with ``dots`` too, a per-sample tree of ``logaddexp`` over n per-sample leaves (``logsumexp``,
  softmax cross-entropy) becomes one *log-sum-exp* step, m + log(sum e^(x_i - m)) over all n rows
  at once (``steps.LseStep``), which regroups the tree's roundings (the figure: its docstring).

Lowering a pair of traces to steps is a sequence of passes, each a small function over the
records of ``program.py`` (:class:`Node`, :class:`Slot`, ...) and below (:class:`_Graph`, :class:`_Group`):

1. classify (``_pair``, ``_classify``): the two traces, checked node for node, become one graph
   of numbered nodes whose leaves are inputs, parameters (or other live Values) or constants;
2. fold (``_fold``): each op node depends on what its arguments do (:class:`Dep`); one that
   depends on nothing is a constant, the value the engine computed for it while tracing;
3. find sums (``_find_sums``): with ``dots``, each tree of adds of products w * x becomes one
   linear node, a per-sample sum added left to right (``sum()``) one chain node, and a tree of
   ``logaddexp`` over per-sample leaves one log-sum-exp node (``_lse_trees``); every other op
   node that is not constant is a node of its own;
4. levels (``_levels``): a node's depth among nodes of its own :class:`Dep`; then, with
   ``dots``, a layer's relu joins its linear node where nothing else reads the sums it takes,
   all of a level's or none (``_fuse_relus``), and the levels are found again;
5. group (``_group``, ``_split``): nodes of one op (told apart by identity, never by symbol text)
   or one linear shape (a kernel's size) at one level become one step; sums of one kernel at many
   positions (``steps.conv_plan``) one conv step;
6. allocate (``_layout``, ``_allocate``): rows of ``S`` for parameters and constants, then
   consecutive rows of ``V`` or ``S`` for each group, and a row of ones after a block that a
   layer with biases reads (its [x; 1], a view);
7. emit (``_emit``): a step object per group (``steps.py``), then ``Tape._plan`` decides how
   backward writes and ``Tape._direct`` which input arrays a first layer reads itself.

Tracing is honest: a Python ``if``, comparison, ``float()`` or ``detach()`` on a traced Value,
and any use of its number outside the engine (``x.data``: a ``traced.TracedNumber`` while tracing),
raise :class:`TracingError` naming the line. The function is traced twice, at two different
samples, so a graph built from other changing numbers (random draws) is refused too. The fast
path regroups only sums of products with shared weights (``_regroupable``) and log-sum-exp trees
(``_lse_trees``), each within a stated figure (docs/tour/compile.md). With or without it, the
adjoint of a node read k times adds its readers' contributions c_i in the steps' order, not the
scalar engine's: within 2 (k - 1) u sum |c_i| of the engine's, u = 2^-53 (the same page).
"""

from __future__ import annotations

import linecache
import operator
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from . import engine, modes, ops
from .engine import Value
from .gc_pause import gc_paused
from .ops import Op
from .program import CONST, SAMPLE, SHARED, Dep, Layout, Node, Slot, Term
from .scalars import is_real
from .steps import (
    ActivatedStep,
    ChainStep,
    ConvStep,
    LinearStep,
    LseStep,
    OpStep,
    ReluStep,
    SharedLinearStep,
    Step,
    Write,
    as_index,
    conv_plan,
    weight_kernels,
)
from .traced import TracedNumber

__all__ = ["Compiled", "Tape", "TracingError", "compile"]


class TracingError(TypeError):
    """The traced function cannot be compiled faithfully (Python control flow on a traced Value)."""


def compile(fn: Callable[..., Any], *, params: Sequence[Value], dots: bool = True) -> Compiled:
    """Compile ``fn``, scalar code for one sample, into a function of numpy batches.

    ``fn`` receives one Value per 1-D argument array and a list of Values per 2-D one (a row),
    and returns a Value or a list of Values. ``params`` are the Values that get gradients; they
    and any other Value that outlives a call (the same object at every trace) are read from
    ``.data`` at each call. Every other leaf is a constant, baked in. ``dots=False`` turns off
    the regrouping fast paths, the matrix products and the fused log-sum-exp (every node then
    runs by its op's own rule), for checking them.

    >>> import numpy as np
    >>> w = Value(2.0)
    >>> f = compile(lambda x, y: (w * x - y) ** 2, params=[w])
    >>> f(np.array([1.0, 2.0]), np.array([1.0, 1.0])).tolist()
    [1.0, 9.0]
    >>> f.backward(np.array([1.0, 2.0]), np.array([1.0, 1.0])), w.grad
    (5.0, 7.0)
    """
    return Compiled(fn, params, dots)


class Compiled:
    """A per-sample function compiled for numpy batches: ``f(*arrays)`` and ``f.backward(*arrays)``."""

    def __init__(self, fn: Callable[..., Any], params: Sequence[Value], dots: bool = True) -> None:
        if not callable(fn):
            raise TypeError(f"compile needs a function, got {type(fn).__name__}")
        if isinstance(params, (Value, str, bytes)) or not hasattr(params, "__iter__"):
            hint = " (one Value: [w])" if isinstance(params, Value) else ""
            raise TypeError(f"params must be a list of Values ([] for none), got {type(params).__name__}{hint}")
        if not isinstance(dots, bool):
            raise TypeError(f"dots must be True or False, got {type(dots).__name__}")
        params = list(params)
        for p in params:
            if type(p) is not Value:
                raise TypeError(f"params must be Values, got {type(p).__name__}")
            if p._a is not None:
                raise ValueError("params must be leaf Values (parameters), not results of ops")
        self.fn = fn
        self.params = list({id(p): p for p in params}.values())  # once each, in order
        self.dots = dots
        self._tapes: dict[tuple[Any, ...], Tape] = {}  # one per shape of a sample
        # the last call's array shapes, its tape and batch size: a loop over batches of one shape
        # skips the checks and the lookup
        self._last: tuple[tuple[tuple[int, ...], ...], Tape, int] | None = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"<compiled {name}: {len(self.params)} params, {len(self._tapes)} tape(s)>"

    def tape(self, *arrays: Any) -> Tape:
        """The tape for batches shaped like ``arrays`` (traced on first use)."""
        return self._prepare(arrays)[0]

    def __call__(self, *arrays: Any) -> np.ndarray:
        """Per-sample outputs for a batch: shape (batch,) for a Value, (batch, k) for a list."""
        tape, data, batch = self._prepare(arrays)
        with np.errstate(all="ignore"):
            V, S = tape.forward(data, batch)
            return tape.outputs(V, S, batch)

    def backward(self, *arrays: Any) -> float:
        """The batch mean of a scalar output; adds d(mean)/d(p) into every param's ``.grad``."""
        tape, data, batch = self._prepare(arrays)
        if not tape.scalar:
            raise ValueError("backward() needs a function that returns one Value per sample, "
                             f"this one returns {len(tape.out_refs)}")
        with np.errstate(all="ignore"):
            V, S = tape.forward(data, batch)
            gS = tape.backward(V, S, batch)
            mean = tape.mean(V, S)
        for p, g in zip(self.params, gS[:len(self.params)].tolist()):
            p.grad += g
        return mean

    def backward_arrays(self, params: np.ndarray, grad: np.ndarray, *arrays: Any) -> tuple[float, np.ndarray]:
        """backward() with the parameters in arrays: reads them from ``params`` (one float per param,
        in order), writes d(mean)/d(p) into ``grad`` (assigned, not added; no Value is touched).

        The function may return a list: its first item is the loss, and the others come back per
        sample as the second result, shape (batch, k - 1) (a model's outputs, for accuracy)."""
        tape, data, batch = self._prepare(arrays)
        with np.errstate(all="ignore"):
            V, S = tape.forward(data, batch, params)
            gS = tape.backward(V, S, batch)
            mean = tape.mean(V, S)
            extras = tape.outputs(V, S, batch, first=1)
        grad[...] = gS[:len(self.params)]
        return mean, extras

    def _prepare(self, arrays: Sequence[Any]) -> tuple[Tape, list[np.ndarray], int]:
        """The arrays as float64 batches, the tape for their shapes, and the batch size."""
        # (a float64 array of 1 or 2 axes is one already: kept with no call, the common case)
        data = [a if type(a) is np.ndarray and a.dtype is _FLOAT64 and 0 < a.ndim < 3 else _as_batch(a, i)
                for i, a in enumerate(arrays)]
        shapes = tuple([a.shape for a in data])
        last = self._last
        if last is not None and last[0] == shapes:  # the shapes of the last call: checked then
            return last[1], data, last[2]
        batch = shapes[0][0] if data else 1
        for i, shape in enumerate(shapes):
            if shape[0] != batch:
                raise ValueError(f"argument {i} has {shape[0]} samples, argument 0 has {batch}: "
                                 "every argument needs the same batch size (first axis)")
        if batch == 0:
            raise ValueError("the batch is empty (first axis of length 0)")
        key = tuple([shape[1:] for shape in shapes])
        tape = self._tapes.get(key)
        if tape is None:
            tape = self._tapes[key] = Tape(self.fn, self.params, data, self.dots)
        self._last = (shapes, tape, batch)  # one tuple, replaced whole: safe across threads
        return tape, data, batch


def _block(refs: list[Slot]) -> slice | None:
    """The rows of V these outputs are, as one slice, when they are per-sample rows evenly spaced
    (increasing), else None."""
    if not refs or not all(o.per_sample for o in refs):
        return None
    rows = as_index([o.row for o in refs])
    return rows if isinstance(rows, slice) else None


_FLOAT64 = np.dtype(np.float64)


def _as_batch(a: Any, i: int) -> np.ndarray:
    """A float64 array with a batch axis, or a clear error."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"argument {i} has dtype {arr.dtype}: compiled functions take arrays of real "
                        "numbers (bool, int or float)")
    if arr.ndim not in (1, 2):
        raise ValueError(f"argument {i} has shape {arr.shape}: expected (batch,) for one number per "
                         "sample or (batch, k) for k numbers per sample")
    return arr.astype(np.float64, copy=False)


# --- tracing -------------------------------------------------------------------------------------

#: micrograd's modules a refusal looks past to find the line that asked (the engine, the tracer, the
#: boundary turning numbers into floats, traced numbers, the modes, modules: Dropout)
_INTERNAL = frozenset({engine.__name__, __name__, "micrograd.scalars", "micrograd.traced", modes.__name__,
                       "micrograd.nn"})


def _caller() -> str:
    """``path:line `source``` of the innermost frame outside micrograd's internal modules."""
    frame: Any = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in _INTERNAL:
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    path = frame.f_code.co_filename
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    if not rel.startswith(".."):
        path = rel
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{path}:{frame.f_lineno}" + (f" `{line}`" if line else "")


def _refuse(thing: Any, what: str) -> None:
    """The tracer's hook: Python just asked for a traced Value (or its number) as a plain number,
    or a module that cannot be replayed ran."""
    where = _caller()
    if isinstance(thing, TracedNumber):
        raise TracingError(
            f"micrograd.compile: the number of a traced Value (.data) used in Python at {where} "
            f"({what}): the tape would bake the traced sample's number for every sample; use Value "
            "ops instead (v.relu(), v.abs(), v.exp(), ...)")
    if what == "detach()":
        raise TracingError(
            f"micrograd.compile: detach() of a traced Value at {where}: the tape would bake the "
            "traced sample's number for every sample")
    if what == "Dropout":
        raise TracingError(
            f"micrograd.compile: {thing!r} in training mode at {where}: its mask is random, fresh for "
            "every sample and call, which a tape cannot replay; call model.eval() before compiling, "
            "or train in the scalar engine (fit(..., compiled=False))")
    kind = {"float()": "float()", "bool()": "bool() or `if`"}.get(what, f"comparison {what}")
    raise TracingError(
        f"micrograd.compile: Python control flow on a traced Value at {where} ({kind}): the tape "
        "would take one branch for every sample; use Value ops instead (v.relu(), v.abs(), ...)")


class _Trace:
    """One call of the function on placeholder Values: its graph, in topological order."""

    def __init__(self, fn: Callable[..., Any], rows: list[np.ndarray]) -> None:
        args: list[Any] = []
        self.inputs: list[Value] = []
        for row in rows:
            if row.ndim == 0:
                v = Value(float(row))
                self.inputs.append(v)
                args.append(v)
            else:
                vs = [Value(x) for x in row.tolist()]
                self.inputs.extend(vs)
                args.append(vs)
        made: list[Value] = list(self.inputs)  # every Value made while tracing (the engine adds)
        for v in self.inputs:
            v.data = TracedNumber(v.data)  # type: ignore[assignment]
        try:
            with modes.tracing(_refuse, made):  # (records a graph even when called inside no_grad())
                result = fn(*args)
        finally:
            for v in made:  # plain floats again, for the lowering and for any Value kept by fn
                v.data = v.data.value
        self.scalar = type(result) is Value
        outs = [result] if self.scalar else result
        if not isinstance(outs, (list, tuple)):
            raise TypeError("the compiled function must return a Value or a list of Values, got "
                            f"{type(result).__name__}")
        for k, o in enumerate(outs):
            if type(o) is not Value:
                raise TypeError(f"the compiled function must return a Value or a list of Values; item {k} "
                                f"of the {type(result).__name__} it returned is a {type(o).__name__}"
                                + (" (make a constant output Value(c))" if is_real(o) else ""))
        self.outputs: list[Value] = list(outs)
        # one traversal of them all, numbering as it goes (the last root is popped first, so the
        # first output comes first)
        self.order, self.kids, self.ops, at = _numbered(self.outputs[::-1])
        self.out_pos: list[int] = [at[o] for o in self.outputs]  # the outputs' positions in order
        del at  # (as large as the graph: dropped before the next trace)
        for kids, op in zip(self.kids, self.ops):  # (the lists, not the nodes: they stay in cache)
            if kids and (op.arity == 0 or op.closure is not None):
                raise TracingError(f"micrograd.compile: cannot compile the hand-built node {op.symbol!r}; "
                                   "declare it as a primitive in the op table (micrograd/ops.py)")


_EMIT = object()  # stack marker of _numbered: the node below it has all its arguments numbered


def _numbered(roots: list[Value]) -> tuple[list[Value], list[tuple[int, ...]], list[Op], dict[Value, int]]:
    """Every node reachable from ``roots``, children first (``backward.order``'s order); each
    node's arguments as positions in that list (() for a leaf); each node's op; each node's position.

    ``backward.order``'s depth-first search with an explicit stack, numbering a node when it is
    emitted: the positions and ops come from the one traversal, not from a dict built after it
    and passes over the nodes again (at a million nodes the graph is far larger than the cache,
    and each pass over it misses)."""
    out: list[Value] = []
    kids: list[tuple[int, ...]] = []
    ops: list[Op] = []
    at: dict[Value, int] = {}  # a node's position; -1 while its arguments are still on the stack
    stack: list[Any] = list(roots)
    push, pop, emit, arguments, op_of = stack.append, stack.pop, out.append, kids.append, ops.append
    while stack:
        v = pop()
        if v is _EMIT:
            v = pop()
            a, b = v._a, v._b
            at[v] = len(out)
            emit(v)
            arguments((at[a],) if b is None else (at[a], at[b]))
            op_of(v.op)
            continue
        if v in at:
            continue
        a = v._a
        if a is None:  # a leaf
            at[v] = len(out)
            emit(v)
            arguments(())
            op_of(v.op)
            continue
        b = v._b
        ia = at.get(a, -1)  # (a DAG: a node seen is numbered unless it is an ancestor of v, never)
        if ia >= 0 and (b is None or at.get(b, -1) >= 0):
            at[v] = len(out)
            emit(v)
            arguments((ia,) if b is None else (ia, at[b]))
            op_of(v.op)
            continue
        at[v] = -1
        push(v)
        push(_EMIT)
        if ia < 0:
            push(a)
        if b is not None and b not in at:
            push(b)
    return out, kids, ops, at


def _elsewhere(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The second tracing point: ``last``, with every number equal to ``first``'s moved away from
    it, so that a graph reading any input's ``.data`` differs between the two traces."""
    same = (first == last) | (np.isnan(first) & np.isnan(last))
    with np.errstate(over="ignore", invalid="ignore"):  # a huge or infinite input is no warning
        moved = first + 0.5 * np.abs(first) + 1.0  # > first for every finite number (no fixed point)
    moved = np.where(np.isfinite(moved), moved, 0.0)  # inf, nan or overflowed: 0 differs from them
    return np.where(same, moved, last)


def _float_key(x: float) -> Any:
    """A key equal for two floats exactly when they are the same number (nan and -0.0 too)."""
    return x.hex()


def _depends_on_data() -> TracingError:
    """The error for two traces that differ: the graph depends on the sample's values."""
    return TracingError(
        "micrograd.compile: the function built a different graph at another sample: it depends on "
        "input values outside the graph (reading .data of a traced Value, random numbers, ...), "
        "which a tape cannot replay")


# --- the program: numbered nodes and what they depend on -----------------------------------------

@dataclass
class _Graph:
    """The traced program as numbered nodes: the trace's order, then nodes the lowering adds."""

    op: list[Op]                  # each traced node's op
    kids: list[tuple[int, ...]]   # each traced node's arguments (node numbers); () for a leaf
    outputs: list[int]            # the function's outputs (node numbers)
    dep: list[Dep]                # every node's Dep, added nodes' too
    grad: list[bool]              # does it depend on a parameter (does backward need it)?
    consts: dict[int, float] = field(default_factory=dict)  # the value of every CONST node
    slots: dict[int, Slot] = field(default_factory=dict)    # where values live: leaves, then all
    external: list[Value] = field(default_factory=list)     # live Values that are not params: read, no grad
    one: int = field(init=False)   # the node holding 1 (the weight of a term that is not a product)
    zero: int = field(init=False)  # the node holding 0 (the bias of a linear node without one)

    def add(self, dep: Dep, grad: bool) -> int:
        """A new node (its number): the constants 1 and 0, a linear node's shared part."""
        self.dep.append(dep)
        self.grad.append(grad)
        return len(self.dep) - 1


class _GroupKey(NamedTuple):
    """Nodes with equal keys become one step: one numpy call for all of them."""

    dep: Dep                 # SHARED or SAMPLE
    level: int               # depth among nodes of that Dep
    op: int | None           # id() of the op, never its symbol (the nodes keep the op alive); None: linear
    # op: which arguments are per sample; a tree: ("tree", its pairs); a chain: ("chain", summands);
    # per-sample linear: ("kernel", its kernel's size, id() of its activation); shared linear: (terms,)
    shape: tuple[Any, ...]


@dataclass
class _Group:
    """The members of one step and the rows they get."""

    members: list[Node]  # in the order of their rows
    rows: slice           # rows of V (SAMPLE) or of S (SHARED), one per member


# --- the passes, in order: classify -> fold -> find sums -> levels -> group -> allocate -> emit ----

def _pair(t1: _Trace, t2: _Trace) -> tuple[list[tuple[int, ...]], list[int]]:
    """Each node's arguments and the outputs as node numbers, the same in both traces (else the
    function built its graph from input values)."""
    if (len(t2.order) != len(t1.order) or t2.kids != t1.kids or t2.out_pos != t1.out_pos
            or any(map(operator.is_not, t1.ops, t2.ops))):
        raise _depends_on_data()
    return t1.kids, t1.out_pos


def _classify(t1: _Trace, t2: _Trace, params: list[Value]) -> _Graph:
    """The traces paired into one graph whose leaves are classified: an input (a row of V), a
    parameter or another live Value (an entry of S), or a constant."""
    kids, outputs = _pair(t1, t2)
    n = len(kids)
    g = _Graph(t1.ops, kids, outputs, [CONST] * n, [False] * n)
    inputs = {v: i for i, v in enumerate(t1.inputs)}
    inputs2 = {v: i for i, v in enumerate(t2.inputs)}
    pindex = {p: i for i, p in enumerate(params)}
    for i, k in enumerate(kids):
        if not k:  # a leaf
            _classify_leaf(g, i, t1.order[i], t2.order[i], inputs, inputs2, pindex)
    return g


def _classify_leaf(g: _Graph, i: int, v: Value, w: Value, inputs: dict[Value, int],
                   inputs2: dict[Value, int], pindex: dict[Value, int]) -> None:
    """Leaf i (v in the first trace, w in the second): where it lives, or its constant value."""
    if v in inputs:
        if inputs[v] != inputs2.get(w):
            raise _depends_on_data()
        g.dep[i] = SAMPLE
        g.slots[i] = Slot(True, inputs[v])
    elif v is w:  # the same object at both traces: a parameter or another live Value
        g.dep[i], g.grad[i] = SHARED, v in pindex
        if v in pindex:
            g.slots[i] = Slot(False, pindex[v])
        else:
            g.slots[i] = Slot(False, len(pindex) + len(g.external))
            g.external.append(v)
    elif _float_key(v.data) == _float_key(w.data) and w not in inputs2:
        g.consts[i] = v.data
    else:
        raise _depends_on_data()


def _fold(g: _Graph, order: list[Value]) -> None:
    """Each op node depends on the most any argument does, and on a parameter if any does; one
    that depends on nothing is folded to the value the engine computed for it while tracing.
    Then the nodes holding 1 and 0 are added."""
    dep, grad = g.dep, g.grad  # (locals: this loop runs once per node)
    for i, (v, kids) in enumerate(zip(order, g.kids)):
        if not kids:
            continue
        if len(kids) == 1:
            d, gr = dep[kids[0]], grad[kids[0]]
        else:  # (two arguments, written out: max() and any() over a generator cost more than the rest)
            a, b = kids
            d = dep[a] if dep[a] >= dep[b] else dep[b]
            gr = grad[a] or grad[b]
        dep[i], grad[i] = d, gr
        if d is CONST:
            g.consts[i] = v.data
    g.consts = dict(sorted(g.consts.items()))  # in node order, leaves' and folded ones together
    g.one, g.zero = g.add(CONST, False), g.add(CONST, False)


def _readers(g: _Graph) -> tuple[list[int], list[int]]:
    """For each node, how many times it is read (an output counts twice: it is always
    materialised) and by which node (the last reader)."""
    uses, user = [0] * len(g.op), [-1] * len(g.op)
    for i, kids in enumerate(g.kids):
        for c in kids:
            uses[c] += 1
            user[c] = i
    for o in g.outputs:
        uses[o] += 2
    return uses, user


def _absorbed(g: _Graph, readers: tuple[list[int], list[int]]) -> set[int]:
    """Nodes that get no node of their own in the fast path: an add, or a product w * x, used
    once, by an add of the same Dep (its user's linear node sums it)."""
    add, mul, dep = ops.add, ops.mul, g.dep
    uses, user = readers
    out: set[int] = set()
    for i, op in enumerate(g.op):
        if op is not add and op is not mul or uses[i] != 1:
            continue
        u = user[i]
        if g.op[u] is add and dep[u] == dep[i] and (op is add or _is_term(g.kids[i], dep, dep[i])):
            out.add(i)
    return out


def _is_term(args: tuple[int, ...], dep: list[Dep], target: Dep) -> bool:
    """Is the product of ``args`` a term w * x of a sum of Dep ``target`` (_weighted not None)?"""
    a, b = args
    return target is not SAMPLE or (dep[a] is SAMPLE) is not (dep[b] is SAMPLE)


def _weighted(args: tuple[int, ...], dep: list[Dep], target: Dep) -> Term | None:
    """A product w * x as a term, w shared or constant and x of Dep ``target``; else None."""
    a, b = args
    if target is SAMPLE:
        if dep[a] != SAMPLE and dep[b] == SAMPLE:
            return Term(a, b)
        if dep[b] != SAMPLE and dep[a] == SAMPLE:
            return Term(b, a)
        return None
    return Term(a, b)  # shared: both factors are shared or constant


def _find_sums(g: _Graph, dots: bool, readers: tuple[list[int], list[int]]) -> dict[int, Node]:
    """The nodes to compute: one per op node that is not constant; with ``dots``, a tree of adds
    of products w * x is one linear node (and its adds and products none of their own), when
    regrouping it is allowed (``_regroupable``), a per-sample sum added left to right one
    chain node, added in the trace's order (``_is_chain``), a tree of ``logaddexp`` one
    log-sum-exp node (``_lse_trees``); ``readers``: ``_readers(g)``."""
    if not dots:
        return {i: Node(g.dep[i], g.grad[i], op, g.kids[i])
                for i, op in enumerate(g.op) if g.dep[i] is not CONST and g.kids[i]}
    absorbed = _absorbed(g, readers)
    nodes, fused = _lse_trees(g, readers)
    for i, op in enumerate(g.op):
        if g.dep[i] is CONST or not g.kids[i] or i in absorbed or i in fused or i in nodes:
            continue
        if op is ops.add:
            summands, inner = _sum_terms(g, i, absorbed)
            if _regroupable(g, i, summands, absorbed):
                _linear_node(g, i, summands, absorbed, nodes)
                continue
            chain = _is_chain(g, i, summands, absorbed)
            for j in inner:  # summed in the trace's order instead: every node of the tree its own
                if not (chain and g.op[j] is ops.add):  # (a chain's adds are its step's)
                    nodes[j] = Node(g.dep[j], g.grad[j], g.op[j], g.kids[j])
            if chain:
                nodes[i] = Node(SAMPLE, g.grad[i], summands=summands)
                continue
        nodes[i] = Node(g.dep[i], g.grad[i], op, g.kids[i])
    return nodes


def _fuse_relus(nodes: dict[int, Node], uses: list[int]) -> bool:
    """A per-sample relu of a per-sample linear node that nothing else reads (a layer's
    activation) becomes that linear node with ``activation`` relu, under the relu's number: its
    step applies relu's kernels in place on its own rows (``steps.ActivatedStep``), the same
    numbers as two steps, without a block of V and G for the sums before relu. All or nothing
    at a level: where one linear node of a level stays plain (a pre-activation read elsewhere),
    none there is fused, so that a layer stays one matrix product. Returns whether any was
    (then the levels are to be found again)."""
    relu_of = {nd.args[0]: i for i, nd in nodes.items() if nd.op is ops.relu and nd.dep is SAMPLE}
    pairs: dict[int, list[tuple[int, int]]] = {}  # level -> (relu, linear node) to fuse there
    plain: set[int] = set()  # levels with a per-sample linear node that stays as it is
    for a, lin in nodes.items():
        if lin.dep is not SAMPLE or lin.op is not None or not lin.terms or lin.activation is not None:
            continue
        i = relu_of.get(a)
        if i is not None and uses[a] == 1:
            pairs.setdefault(lin.level, []).append((i, a))
        else:
            plain.add(lin.level)
    fused = False
    for level, found in pairs.items():
        if level in plain:
            continue
        for i, a in found:
            nodes[i] = replace(nodes[a], grad=nodes[i].grad, activation=ops.relu)
            del nodes[a]
            fused = True
    return fused


def _lse_trees(g: _Graph, readers: tuple[list[int], list[int]]) -> tuple[dict[int, Node], set[int]]:
    """Log-sum-exp nodes: each per-sample tree of ``logaddexp`` (by identity) over 3 or more
    per-sample leaves whose inner nodes have no other reader (``losses.logsumexp``'s pairwise
    fold), as one node of its root, the tree kept as pairs of positions (``Node.tree``); and the
    inner nodes it absorbs. Regrouped within the figure of ``steps.LseStep``."""
    lae, dep = ops.logaddexp, g.dep
    if lae not in g.op:  # (a scan at C speed, most graphs having none; the loops below test identity)
        return {}, set()
    uses, user = readers
    inner = {i for i, op in enumerate(g.op) if op is lae and dep[i] is SAMPLE and uses[i] == 1
             and g.op[user[i]] is lae and dep[user[i]] is SAMPLE}
    nodes: dict[int, Node] = {}
    fused: set[int] = set()
    for i, op in enumerate(g.op):
        if op is not lae or dep[i] is not SAMPLE or i in inner or not inner.intersection(g.kids[i]):
            continue
        leaves, pairs, absorbed = _lse_tree(g, i, inner)
        if all(dep[x] is SAMPLE for x in leaves):
            nodes[i] = Node(SAMPLE, g.grad[i], lae, tuple(leaves), tree=pairs)
            fused.update(absorbed)
    return nodes, fused


def _lse_tree(g: _Graph, root: int, inner: set[int]) -> tuple[list[int], tuple[tuple[int, int], ...], list[int]]:
    """The leaves of the tree under ``root`` through ``inner`` nodes, left to right (a node read
    twice is two leaves); its pairs, children before parents, as positions (leaves 0..n-1, then
    pair q at n + q); the inner nodes."""
    leaves: list[int] = []
    pairs: list[tuple[bool, int, bool, int]] = []  # (is a pair, index) of the left and the right
    absorbed: list[int] = []
    done: list[tuple[bool, int]] = []  # the results of finished subtrees, left to right
    stack: list[tuple[int, bool]] = [(root, False)]
    while stack:
        j, ready = stack.pop()
        if ready:
            right, left = done.pop(), done.pop()
            pairs.append((*left, *right))
            done.append((True, len(pairs) - 1))
        elif j == root or j in inner:
            if j != root:
                absorbed.append(j)
            a, b = g.kids[j]
            stack += [(j, True), (b, False), (a, False)]
        else:
            leaves.append(j)
            done.append((False, len(leaves) - 1))
    n = len(leaves)
    at = [(n + ia if pa else ia, n + ib if pb else ib) for pa, ia, pb, ib in pairs]
    return leaves, tuple(at), absorbed


def _sum_terms(g: _Graph, i: int, absorbed: set[int]) -> tuple[list[int], list[int]]:
    """The summands of add node i, through every add it absorbs, left to right; and the nodes of
    the tree it absorbs (adds and products)."""
    terms: list[int] = []
    inner: list[int] = []
    stack = [i]
    while stack:
        j = stack.pop()
        if j == i or (j in absorbed and g.op[j] is ops.add):
            stack.extend(reversed(g.kids[j]))
            if j != i:
                inner.append(j)
        else:
            terms.append(j)
            if j in absorbed:
                inner.append(j)
    return terms, inner


def _is_chain(g: _Graph, i: int, summands: list[int], absorbed: set[int]) -> bool:
    """Is add node i a per-sample sum of 3 or more per-sample summands, added left to right
    (each add it absorbs the left argument of the next, as ``sum()`` builds them)? Then one
    step adds them in that order, bit for bit the trace's sums."""
    if len(summands) < 3 or any(g.dep[t] is not SAMPLE for t in summands):
        return False
    j = i
    while j == i or (j in absorbed and g.op[j] is ops.add):
        a, b = g.kids[j]
        if b in absorbed and g.op[b] is ops.add:
            return False  # a right argument that is a sum: added before the left one
        j = a
    return True


def _regroupable(g: _Graph, i: int, summands: list[int], absorbed: set[int]) -> bool:
    """May this sum be added in another order (a matrix product's)? Only when each of its terms
    of its own Dep is a product w * x with w shared (a weight: a parameter or computed from them),
    as a Neuron's or a convolution's: then the tape differs from the scalar engine by rounding of
    the order only, at most 2 n u sum(|w_i x_i|) for n terms (u = 2^-53). A term that is not a product with a weight
    (x, or 3.0 * x) may cancel another exactly in the trace's order (x + c - x is 0, not c)."""
    for t in summands:
        if g.dep[t] is not g.dep[i]:
            continue  # a sample sum's shared part (a bias): one number added to the products
        if t not in absorbed or g.op[t] is not ops.mul:
            return False
        term = _weighted(g.kids[t], g.dep, g.dep[i])
        if term is None or g.dep[term.w] is not SHARED or (g.dep[i] is SHARED and g.dep[term.x] is not SHARED):
            return False
    return True


def _linear_node(g: _Graph, i: int, summands: list[int], absorbed: set[int],
                 nodes: dict[int, Node]) -> None:
    """nodes[i]: the sum of ``summands`` as terms w * x; per-sample ones in the sum itself, shared
    ones in its bias (one node of their own, unless that is a single unweighted one)."""
    node = Node(g.dep[i], g.grad[i])
    shared: list[Term] = []
    for t in summands:
        if t in g.consts and g.consts[t] == 0.0:
            continue  # the 0 that sum() starts from: adding it changes nothing
        product = _weighted(g.kids[t], g.dep, g.dep[i]) if t in absorbed and g.op[t] is ops.mul else None
        term = product or Term(g.one, t)
        (node.terms if g.dep[term.x] is SAMPLE else shared).append(term)
    if node.dep is SHARED:
        node.terms = shared
    elif len(shared) == 1 and shared[0].w == g.one:
        node.bias = shared[0].x
    elif shared:
        bias_grad = any(g.grad[t.w] or g.grad[t.x] for t in shared)
        node.bias = g.add(SHARED, bias_grad)
        nodes[node.bias] = Node(SHARED, bias_grad, terms=shared)
    nodes[i] = node


def _levels(nodes: dict[int, Node], dep: list[Dep]) -> None:
    """Each node's level: 1 + the deepest node of the same Dep it reads (inputs, constants: 0)."""
    for i in sorted(nodes):  # (nodes made for a shared part are numbered last, after what they read)
        nd = nodes[i]
        nd.level = 1 + max((nodes[d].level for d in nd.reads() if d in nodes and dep[d] == nd.dep),
                           default=0)


def _group(nodes: dict[int, Node], dep: list[Dep]) -> list[list[int]]:
    """Nodes of one op (by identity) or one linear shape at one level of one Dep, together;
    shared groups first, then by level. A per-sample linear node's shape is the size of its
    kernel (``weight_kernels``), so a convolution's sums at the border, which lack the terms
    that fall on padding, join those inside (``_split`` parts them again if they are no
    convolution)."""
    linear = [i for i, nd in nodes.items() if nd.op is None and not nd.summands and nd.dep is SAMPLE]
    kernel = weight_kernels([nodes[i] for i in linear])
    size: dict[int, int] = {}
    for root in kernel.values():
        size[root] = size.get(root, 0) + 1
    groups: dict[_GroupKey, list[int]] = {}
    for i in sorted(nodes, key=lambda j: (nodes[j].dep, nodes[j].level, j)):
        nd = nodes[i]
        if nd.tree:
            key = _GroupKey(nd.dep, nd.level, id(nd.op), ("tree", nd.tree))
        elif nd.op is not None:
            key = _GroupKey(nd.dep, nd.level, id(nd.op), tuple(dep[a] == SAMPLE for a in nd.args))
        elif nd.summands:
            key = _GroupKey(nd.dep, nd.level, None, ("chain", len(nd.summands)))
        elif nd.dep is SAMPLE and nd.terms:
            key = _GroupKey(nd.dep, nd.level, None, ("kernel", size[kernel[nd.terms[0].w]],
                                                     id(nd.activation)))
        else:
            key = _GroupKey(nd.dep, nd.level, None, (len(nd.terms),))
        groups.setdefault(key, []).append(i)
    return [part for members in groups.values() for part in _split(members, nodes)]


def _split(members: list[int], nodes: dict[int, Node]) -> list[list[int]]:
    """A group of per-sample linear nodes stays one when its sums are of one length or are a
    convolution (``conv_plan``); else it parts into groups of sums of one length."""
    first = nodes[members[0]]
    if first.op is not None or first.summands or first.dep is not SAMPLE:
        return [members]
    lengths: dict[int, list[int]] = {}
    for i in members:
        lengths.setdefault(len(nodes[i].terms), []).append(i)
    if len(lengths) == 1 or _is_conv([nodes[i] for i in members]):
        return [members]
    return list(lengths.values())


def _is_conv(members: list[Node]) -> bool:
    """Are these per-sample linear nodes kernels applied at more than one position?"""
    plan = conv_plan(members)
    return plan is not None and len(plan.patches) > 1


def _layout(g: _Graph, n_params: int) -> tuple[Layout, np.ndarray]:
    """Rows of S for params, external Values and constants (1, 0, then the folded ones), and the
    constants' values; sets every constant's slot."""
    n_fixed = n_params + len(g.external)
    constants = {g.one: 1.0, g.zero: 0.0, **g.consts}
    for j, i in enumerate(constants):
        g.slots[i] = Slot(False, n_fixed + j)
    rows = slice(n_fixed, n_fixed + len(constants))
    return Layout(rows, g.slots[g.zero].row), np.array(list(constants.values()))


def _allocate(nodes: dict[int, Node], groups: list[list[int]], slots: dict[int, Slot],
              n_v: int, n_s: int) -> tuple[list[_Group], int, int, list[int]]:
    """Consecutive rows for each group's members, after ``n_v`` rows of V and ``n_s`` of S; sets
    their slots. Returns the groups, the rows of V and S in all, and the rows of V that hold 1:
    one after each per-sample block of two or more that a layer with biases reads (its x), so
    that [x; 1] is a view of V for a layer that adds its bias in its matrix product."""
    biased_x = {t.x for nd in nodes.values() if nd.dep is SAMPLE and nd.op is None and nd.bias is not None
                for t in nd.terms}
    out: list[_Group] = []
    ones: list[int] = []
    for members in groups:
        # in the order of their arguments' rows: a layer's neurons come out in the order of
        # its parameters, so weight matrices and the next layer's inputs are views, not copies
        members.sort(key=lambda i: [slots[a].row for a in nodes[i].reads()[::-1]])
        sample = nodes[members[0]].dep is SAMPLE
        start = n_v if sample else n_s
        rows = slice(start, start + len(members))
        if sample:
            n_v = rows.stop
            if len(members) >= 2 and not biased_x.isdisjoint(members):
                ones.append(n_v)
                n_v += 1
        else:
            n_s = rows.stop
        for j, i in enumerate(members):
            slots[i] = Slot(sample, rows.start + j)
        out.append(_Group([nodes[i] for i in members], rows))
    return out, n_v, n_s, ones


def _consecutive(first: Node, members: list[Node], slots: dict[int, Slot]) -> bool:
    """Do the members read per-sample rows that follow each other (a view of V, distinct rows)?"""
    rows = [slots[m.args[0]].row for m in members]
    return slots[first.args[0]].per_sample and rows == list(range(rows[0], rows[0] + len(rows)))


def _emit(groups: list[_Group], g: _Graph, layout: Layout, ones: set[int]) -> list[Step]:
    """One step per group: an op step, a per-sample linear step or a shared one (``ones``: the
    rows of V that hold 1, see ``_allocate``)."""
    steps: list[Step] = []
    for group in groups:
        first = group.members[0]
        plan = conv_plan(group.members) if first.op is None and not first.summands and first.dep is SAMPLE else None
        if first.tree:
            steps.append(LseStep(group.members, group.rows, g.slots, g.grad))
        elif first.op is ops.relu and first.dep is SAMPLE and _consecutive(first, group.members, g.slots):
            steps.append(ReluStep(group.members, group.rows, g.slots, g.grad))
        elif first.op is not None:
            steps.append(OpStep(group.members, group.rows, g.slots, g.grad))
        elif first.summands:
            steps.append(ChainStep(group.members, group.rows, g.slots, g.grad))
        elif plan is not None and len(plan.patches) > 1:  # (as _is_conv)
            steps.append(ConvStep(group.members, group.rows, g.slots, g.grad, layout, plan))
        elif first.dep is SAMPLE:
            steps.append(LinearStep(group.members, group.rows, g.slots, g.grad, layout, ones))
        else:
            steps.append(SharedLinearStep(group.members, group.rows, g.slots))
        if first.activation is not None:
            steps[-1] = ActivatedStep(steps[-1], first.activation)
    return steps


# --- the tape --------------------------------------------------------------------------------------

class Tape:
    """The program of one traced function for one sample shape, replayed on numpy batches."""

    def __init__(self, fn: Callable[..., Any], params: list[Value], data: list[np.ndarray],
                 dots: bool = True) -> None:
        # The traces and the records lowering makes have no cycles, so the cycle collector finds
        # nothing in them; left running it would rescan the growing traces again and again.
        with gc_paused():
            self._build(fn, params, data, dots)

    def _build(self, fn: Callable[..., Any], params: list[Value], data: list[np.ndarray],
               dots: bool) -> None:
        """Trace ``fn`` twice and lower the pair to steps (the passes above, in order)."""
        first = [a[0] for a in data]
        last = [_elsewhere(a[0], a[-1]) for a in data]
        t1, t2 = _Trace(fn, first), _Trace(fn, last)
        self.scalar = t1.scalar
        self._local = threading.local()  # this thread's buffers (see _buffers)
        self.n_params = len(params)
        self.n_inputs = len(t1.inputs)
        g = _classify(t1, t2, params)
        _fold(g, t1.order)
        self.leaves = params + g.external  # read from .data at each call, into S's first rows
        self._live = g.external  # the other live Values, read even when the params come in an array
        readers = _readers(g) if dots else ([], [])
        nodes = _find_sums(g, dots, readers)
        _levels(nodes, g.dep)
        if dots and _fuse_relus(nodes, readers[0]):
            _levels(nodes, g.dep)
        layout, self._consts = _layout(g, len(params))
        self._const_rows = layout.constants
        groups, self.n_v, self.n_s, self._ones = _allocate(nodes, _group(nodes, g.dep), g.slots,
                                                           self.n_inputs, layout.constants.stop)
        self.steps = _emit(groups, g, layout, set(self._ones))
        self.out_refs = [g.slots[o] for o in g.outputs]  # where each output lives
        self._plan()
        self._direct([1 if a.ndim == 1 else a.shape[1] for a in data])

    def _plan(self) -> None:
        """Decide how backward writes per-sample adjoints: a block nothing was written to yet is
        assigned (no zeroing, no read); rows read or added to before any write are zeroed first.
        Also, where ``outputs`` reads them, and whether the loss's adjoint, 1 / batch, is set once
        per batch size (no step adds to it: nothing else reads the loss) or at every call."""
        written = np.zeros(self.n_v, dtype=bool)
        zero: set[int] = set()
        targeted: set[int] = set()  # rows whose adjoints some step writes (or rewrites) at every call
        all_rows = np.arange(self.n_v)
        if self.out_refs and self.out_refs[0].per_sample:  # backward assigns the first output's adjoint
            written[self.out_refs[0].row] = True
        for step in reversed(self.steps):
            if not step.grad:
                continue
            rows = all_rows[step.rows] if step.sample else all_rows[:0]
            zero.update(rows[~written[rows]].tolist())  # read before anything was written: zeros
            written[rows] = True
            if step.rewrites_own_adjoints:
                targeted.update(rows.tolist())
            for target in step.targets():
                rows = all_rows[target.rows].ravel()
                fresh = ~written[rows]
                if target.write is not Write.ADD_AT and isinstance(target.rows, slice) and fresh.all():
                    target.write = Write.ASSIGN
                else:
                    zero.update(rows[fresh].tolist())
                written[rows] = True
                targeted.update(rows.tolist())
        self._zero = as_index(sorted(zero)) if zero else None
        loss = self.out_refs[0] if self.out_refs else None  # (a shared loss's row: gS, zeroed per call)
        self._seed_once = loss is not None and loss.per_sample and loss.row not in targeted
        # and where outputs() reads the outputs from the first and from the second on: one block
        # of V when they are per-sample rows evenly spaced (a transposed copy), else None
        self._out_rows = [_block(self.out_refs[first:]) for first in (0, 1)]

    def _direct(self, widths: list[int]) -> None:
        """Inputs whose rows only one layer reads, all of them as its X (a network's first layer):
        that step reads the array itself, and the rows stay unfilled (no transposed copy)."""
        readers: dict[int, set[int]] = {}
        all_rows = np.arange(self.n_v)
        for k, step in enumerate(self.steps):
            for rows in step.reads():
                for r in all_rows[rows].ravel().tolist():
                    readers.setdefault(r, set()).add(k)
        outputs = {o.row for o in self.out_refs if o.per_sample}
        self.direct = [False] * len(widths)
        self._input_rows: list[slice | None] = []  # where forward copies each array (None: read directly)
        start = 0
        for j, width in enumerate(widths):
            block = range(start, start + width)
            users = set().union(*(readers.get(r, set()) for r in block))
            step = self.steps[next(iter(users))] if len(users) == 1 else None
            if isinstance(step, ActivatedStep):
                step = step.inner
            if (isinstance(step, LinearStep) and isinstance(step.x, slice) and step.x == slice(start, start + width, 1)
                    and not outputs.intersection(block)):
                step.source, self.direct[j] = j, True
            self._input_rows.append(None if self.direct[j] else slice(start, start + width))
            start += width

    # -- running ---------------------------------------------------------------------------------
    def forward(self, data: list[np.ndarray], batch: int,
                params: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every node's value: V (per-sample rows, batch columns) and S (shared values); the
        parameters come from ``params`` if given, else from their ``.data``."""
        V, S, _, _ = self._buffers(batch)
        local = self._local
        for j, rows in enumerate(local.inputs):
            if rows is None:
                local.data[j] = data[j]  # read by the step that reads it (_direct)
            else:
                rows[...] = data[j].T
        if params is None:
            S[:len(self.leaves)] = [p.data for p in self.leaves]  # read now: no stale copies
        else:
            local.params[...] = params
            if self._live:  # other live Values: read now
                S[self.n_params:len(self.leaves)] = [p.data for p in self._live]
        for forward in local.forward:
            forward()
        return V, S

    def _buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Values and adjoints for a batch: kept between calls of the same size, per thread
        (allocating a few MB afresh at every call costs more than the arithmetic), with the
        views of them that every call reads or writes, made once."""
        local = self._local
        if getattr(local, "batch", None) != batch:
            local.buffers = local.forward = local.backward = None  # free the old ones first
            V, S, G, gS = buffers = (np.empty((self.n_v, batch)), np.empty(self.n_s),
                                     np.empty((self.n_v, batch)), np.empty(self.n_s))
            S[self._const_rows] = self._consts  # constants never change
            V[self._ones] = 1.0  # (no step writes these rows)
            local.data = [None] * len(self.direct)  # this call's arrays that a step reads itself
            bound = [step.bind(V, S, G, gS, local.data) for step in self.steps]
            local.forward = [fwd for fwd, _ in bound]
            local.backward = [bwd for (_, bwd), step in zip(bound[::-1], self.steps[::-1]) if step.grad]
            local.inputs = [None if rows is None else V[rows] for rows in self._input_rows]
            local.params = S[:self.n_params]
            out = self.out_refs[0] if self.out_refs else None
            local.seed = None if out is None else G[out.row] if out.per_sample else gS[out.row:out.row + 1]
            if self._seed_once:
                local.seed.fill(1.0 / batch)
            local.buffers, local.batch = buffers, batch
        return local.buffers  # type: ignore[no-any-return]

    def mean(self, V: np.ndarray, S: np.ndarray) -> float:
        """The batch mean of a scalar output (of the first, for a list)."""
        per_sample, row = self.out_refs[0]  # the loss's Slot
        return float(np.add.reduce(V[row])) * (1.0 / V.shape[1]) if per_sample else float(S[row])

    def outputs(self, V: np.ndarray, S: np.ndarray, batch: int, first: int = 0) -> np.ndarray:
        """The function's outputs: (batch,) for a Value, (batch, k) for a list; with ``first=1``,
        those after the first (a loss's model outputs), (batch, k - 1)."""
        if first >= len(self.out_refs):
            return np.empty((batch, 0))
        if self.scalar and first == 0:
            out = self.out_refs[0]
            return V[out.row].copy() if out.per_sample else np.full(batch, S[out.row])
        rows = self._out_rows[first]
        if rows is not None:
            return V[rows].T.copy()
        cols = [V[o.row] if o.per_sample else np.full(batch, S[o.row]) for o in self.out_refs[first:]]
        return np.stack(cols, axis=1)

    def backward(self, V: np.ndarray, S: np.ndarray, batch: int) -> np.ndarray:
        """Adjoints of d(mean output)/d(node); returns those of the shared store (params first)."""
        _, _, G, gS = self._buffers(batch)
        if self._zero is not None:
            G[self._zero] = 0.0
        gS.fill(0.0)
        local = self._local  # the loss's adjoint: 1 / batch per sample (1.0 for a shared one)
        if not self._seed_once:
            local.seed.fill(1.0 / batch if self.out_refs[0].per_sample else 1.0)
        for backward in local.backward:
            backward()
        return gS

    def __repr__(self) -> str:
        lines = [(f"Tape: {self.n_inputs} inputs, {self.n_params} params, {len(self.steps)} steps, "
                 f"{self.n_v} per-sample rows, {self.n_s} shared")]
        lines += [f"  {step}" for step in self.steps]
        return "\n".join(lines)
