"""compile(): trace a per-sample scalar function once, replay it over a whole batch with numpy.

A scalar graph traced for one sample is a program: its nodes in topological order, each an op of
the table applied to earlier nodes. Its leaves are of three kinds: *inputs* (one column of a
batch), *parameters* (shared by every sample, read from ``.data`` at each call) and *constants*
(baked). Replaying the program on numpy arrays runs the same arithmetic for every sample at once:

- per-sample nodes live in rows of a matrix ``V`` of shape (nodes, batch); nodes that depend on
  parameters only (an L2 term) are computed once per call, in a vector ``S``;
- nodes of one op at one depth form one *step*: one call of the op's forward on ARRAYS (and, going
  back, its rule on ARRAYS) on all their rows at once, so derivative rules come from the op
  table and a new op compiles with no edit here;
- sums of products with a shared factor (``act = b; act = act + w_i * x_i``, as a Neuron builds
  them) become one *linear* step, and neurons reading the same inputs one matrix product. This is
  a fast path for ``add`` and ``mul`` only; ``compile(..., dots=False)`` turns it off, and the
  tests check one against the other.

Tracing is honest: a Python ``if``, comparison or ``float()`` on a traced Value raises
:class:`TracingError` naming the line, and the function is traced twice, at two different samples,
so a graph that depends on input values in any other way (reading ``.data``) is refused too.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine, modes, ops
from .backward import order as _order
from .engine import Value
from .ops import Op
from .scalars import is_real
from .xp import ARRAYS

__all__ = ["Compiled", "Tape", "TracingError", "compile"]

CONST, SHARED, SAMPLE = 0, 1, 2  # what a node depends on: nothing, parameters, or an input


class TracingError(TypeError):
    """The traced function cannot be compiled faithfully (Python control flow on a traced Value)."""


def compile(fn: Callable[..., Any], *, params: Sequence[Value], dots: bool = True) -> Compiled:
    """Compile ``fn``, scalar code for one sample, into a function of numpy batches.

    ``fn`` receives one Value per 1-D argument array and a list of Values per 2-D one (a row),
    and returns a Value or a list of Values. ``params`` are the Values that get gradients; they
    and any other Value that outlives a call (the same object at every trace) are read from
    ``.data`` at each call. Every other leaf is a constant, baked in. ``dots=False`` turns off
    the matrix-product fast path (every node then runs by its op's own rule), for checking it.

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

    def _prepare(self, arrays: Sequence[Any]) -> tuple[Tape, list[np.ndarray], int]:
        data = [_as_batch(a, i) for i, a in enumerate(arrays)]
        batch = data[0].shape[0] if data else 1
        for i, a in enumerate(data):
            if a.shape[0] != batch:
                raise ValueError(f"argument {i} has {a.shape[0]} samples, argument 0 has {batch}: "
                                 "every argument needs the same batch size (first axis)")
        if batch == 0:
            raise ValueError("the batch is empty (first axis of length 0)")
        key = tuple(a.shape[1:] for a in data)
        tape = self._tapes.get(key)
        if tape is None:
            tape = self._tapes[key] = Tape(self.fn, self.params, data, self.dots)
        return tape, data, batch


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

_INTERNAL_FILES = {os.path.abspath(engine.__file__), os.path.abspath(__file__)}


def _refuse(value: Value, what: str) -> None:
    """The tracer's hook: Python just asked for a traced Value as a bool or a float."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename) in _INTERNAL_FILES:
        frame = frame.f_back  # type: ignore[assignment]
    where = "an unknown line"
    if frame is not None:
        path = frame.f_code.co_filename
        rel = os.path.relpath(path) if os.path.isabs(path) else path
        if not rel.startswith(".."):
            path = rel
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
        where = f"{path}:{frame.f_lineno}" + (f" `{line}`" if line else "")
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
        with modes.tracing(_refuse):  # (records a graph even when called inside no_grad())
            result = fn(*args)
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
        # one traversal of them all; _order pops the last root first, so the first output comes first
        self.order: list[Value] = _order(*reversed(self.outputs))
        for v in self.order:
            if v._a is not None and (v.op.arity == 0 or v.op.closure is not None):
                raise TracingError(f"micrograd.compile: cannot compile the hand-built node {v._op!r}; "
                                   "declare it as a primitive in the op table (micrograd/ops.py)")


def _elsewhere(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The second tracing point: ``last``, with every number equal to ``first``'s moved away from
    it, so that a graph reading any input's ``.data`` differs between the two traces."""
    same = (first == last) | (np.isnan(first) & np.isnan(last))
    moved = first + 0.5 * np.abs(first) + 1.0  # > first for every finite number (no fixed point)
    return np.where(same, moved, last)


def _float_key(x: float) -> Any:
    return x.hex()  # compares nan and -0.0 exactly


# --- the tape --------------------------------------------------------------------------------------

class _Node:
    """A node of the lowered program: an op step member or a linear combination."""

    __slots__ = ("args", "bias", "cls", "grad", "level", "op", "terms")

    def __init__(self, cls: int, grad: bool, op: Op | None, args: tuple[int, ...]) -> None:
        self.cls = cls        # SHARED or SAMPLE
        self.grad = grad      # does it depend on a parameter (does backward need it)?
        self.op = op          # the primitive, or None for a linear combination
        self.args = args      # the op's arguments (node numbers)
        self.terms: list[tuple[int, int]] = []  # linear: sum of w * x, w shared, x per-sample
        self.bias = -1        # linear: the shared part (a node number), -1 for none
        self.level = 0        # depth among nodes of the same class


class Tape:
    """The program of one traced function for one sample shape, replayed on numpy batches."""

    def __init__(self, fn: Callable[..., Any], params: list[Value], data: list[np.ndarray],
                 dots: bool = True) -> None:
        first = [a[0] for a in data]
        last = [_elsewhere(a[0], a[-1]) for a in data]
        t1, t2 = _Trace(fn, first), _Trace(fn, last)
        self.scalar = t1.scalar
        self._local = threading.local()  # this thread's buffers (see _buffers)
        self.n_params = len(params)
        self._lower(t1, t2, params, dots)

    # -- from a trace to steps -------------------------------------------------------------------
    def _lower(self, t1: _Trace, t2: _Trace, params: list[Value], dots: bool) -> None:
        order = t1.order
        pos = {v: i for i, v in enumerate(order)}
        pos2 = {v: i for i, v in enumerate(t2.order)}
        n = len(order)
        inputs = {v: i for i, v in enumerate(t1.inputs)}
        inputs2 = {v: i for i, v in enumerate(t2.inputs)}
        pindex = {p: i for i, p in enumerate(params)}
        if len(t2.order) != n or len(t2.outputs) != len(t1.outputs):
            raise _depends_on_data()
        cls = [CONST] * n
        grad = [False] * n
        kids: list[tuple[int, ...]] = [()] * n
        external: list[Value] = []  # Values outliving the call that are not params: read, no grad
        store: dict[int, tuple[str, int]] = {}  # node -> where its value lives at run time
        consts: dict[int, float] = {}
        for i, (v, w) in enumerate(zip(order, t2.order)):
            if v.op is not w.op:
                raise _depends_on_data()
            if v._a is None:
                if v in inputs:
                    if inputs[v] != inputs2.get(w):
                        raise _depends_on_data()
                    cls[i] = SAMPLE
                    store[i] = ("v", inputs[v])
                elif v is w:  # the same object at both traces: a parameter or another live Value
                    cls[i] = SHARED
                    if v in pindex:
                        grad[i] = True
                        store[i] = ("s", pindex[v])
                    else:
                        store[i] = ("s", len(params) + len(external))
                        external.append(v)
                elif _float_key(v.data) == _float_key(w.data) and w not in inputs2:
                    consts[i] = v.data
                else:
                    raise _depends_on_data()
                continue
            k = tuple(pos[c] for c in v._prev)
            if k != tuple(pos2[c] for c in w._prev):
                raise _depends_on_data()
            kids[i] = k
            cls[i] = max(cls[c] for c in k)
            grad[i] = any(grad[c] for c in k)
            if cls[i] == CONST:
                consts[i] = v.data  # folded: the engine computed it while tracing
        if [pos[o] for o in t1.outputs] != [pos2[o] for o in t2.outputs]:
            raise _depends_on_data()
        self.leaves = params + external

        # shared-store rows: params, external Values, constants (with 1 and 0), computed nodes
        n_fixed = len(params) + len(external)
        const_values = [1.0, 0.0] + list(consts.values())
        ONE, ZERO = n, n + 1  # two extra node numbers for the constants 1 and 0
        for j, i in enumerate(consts):
            store[i] = ("s", n_fixed + 2 + j)
        store[ONE] = ("s", n_fixed)
        store[ZERO] = ("s", n_fixed + 1)
        cls += [CONST, CONST]
        grad += [False, False]
        self._consts = np.array(const_values)
        self._const_rows = slice(n_fixed, n_fixed + len(const_values))
        self.n_inputs = len(t1.inputs)

        # how many times each node is used, and by whom (for the linear fast path)
        uses = [0] * n
        user = [-1] * n
        for i in range(n):
            for c in kids[i]:
                uses[c] += 1
                user[c] = i
        outs = [pos[o] for o in t1.outputs]
        for o in outs:
            uses[o] += 2  # an output is always materialised

        def absorbed(i: int, op: Op) -> bool:  # used once, by an add of the same class
            return (order[i].op is op and uses[i] == 1 and order[user[i]].op is ops.add
                    and cls[user[i]] == cls[i] and (op is ops.add or _weighted(kids[i], cls, cls[i]) is not None))

        nodes: dict[int, _Node] = {}
        extra = n + 2  # numbers for nodes the lowering makes (the shared part of a linear node)
        for i in range(n):
            if cls[i] == CONST or not kids[i]:
                continue
            op = order[i].op
            if not dots or op is not ops.add:
                if dots and absorbed(i, ops.mul):
                    continue  # a term w * x of a linear node: no node of its own
                nodes[i] = _Node(cls[i], grad[i], op, kids[i])
                continue
            if absorbed(i, ops.add):
                continue  # part of the sum its user makes
            terms: list[int] = []
            stack = [i]
            while stack:
                j = stack.pop()
                if j == i or absorbed(j, ops.add):
                    stack.extend(reversed(kids[j]))
                else:
                    terms.append(j)
            node = _Node(cls[i], grad[i], None, ())
            shared_terms: list[tuple[int, int]] = []
            for t in terms:
                if t in consts and consts[t] == 0.0:
                    continue  # the 0 that sum() starts from: adding it changes nothing
                wx = (_weighted(kids[t], cls, cls[i]) if absorbed(t, ops.mul) else None) or (ONE, t)
                if cls[wx[1]] == SAMPLE:
                    node.terms.append(wx)
                else:
                    shared_terms.append(wx)
            if node.cls == SHARED:
                node.terms = shared_terms
            elif len(shared_terms) == 1 and shared_terms[0][0] == ONE:
                node.bias = shared_terms[0][1]
            elif shared_terms:
                bias = _Node(SHARED, any(grad[w] or grad[x] for w, x in shared_terms), None, ())
                bias.terms = shared_terms
                node.bias = extra
                nodes[extra] = bias
                cls.append(SHARED)
                grad.append(bias.grad)
                extra += 1
            nodes[i] = node

        # levels, then steps: nodes of one kind at one level of their class, together
        def deps(nd: _Node) -> list[int]:
            if nd.op is not None:
                return list(nd.args)
            return [x for _, x in nd.terms] + [w for w, _ in nd.terms] + ([nd.bias] if nd.bias >= 0 else [])

        for i in sorted(nodes):  # (nodes made for a shared part are numbered last, after what they read)
            nd = nodes[i]
            nd.level = 1 + max((nodes[d].level for d in deps(nd) if d in nodes and cls[d] == nd.cls),
                               default=0)
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in sorted(nodes, key=lambda j: (nodes[j].cls, nodes[j].level, j)):
            nd = nodes[i]
            if nd.op is not None:
                kind: Any = (nd.op, tuple(cls[a] == SAMPLE for a in nd.args))
            else:
                kind = ("linear", len(nd.terms))
            groups.setdefault((nd.cls, nd.level, kind), []).append(i)

        n_v = self.n_inputs
        n_s = n_fixed + len(const_values)
        self.steps: list[_Step] = []
        for (c, _, _), members in groups.items():
            # in the order of their arguments' rows: a layer's neurons come out in the order of
            # its parameters, so weight matrices and the next layer's inputs are views, not copies
            members.sort(key=lambda i: [store[a][1] for a in deps(nodes[i])[::-1]])
            if c == SAMPLE:
                rows = slice(n_v, n_v + len(members))
                n_v += len(members)
            else:
                rows = slice(n_s, n_s + len(members))
                n_s += len(members)
            for j, i in enumerate(members):
                store[i] = ("v" if c == SAMPLE else "s", rows.start + j)
            self.steps.append(_make_step([nodes[i] for i in members], rows, store, grad, store[ZERO][1],
                                         n_fixed + len(const_values)))
        self.n_v, self.n_s = n_v, n_s
        self.out_refs = [store[o] for o in outs]
        self._plan()

    def _plan(self) -> None:
        """Decide how backward writes per-sample adjoints: a block nothing was written to yet is
        assigned (no zeroing, no read); rows read or added to before any write are zeroed first."""
        written = np.zeros(self.n_v, dtype=bool)
        zero: set[int] = set()
        all_rows = np.arange(self.n_v)
        if self.scalar and self.out_refs[0][0] == "v":
            written[self.out_refs[0][1]] = True
        for step in reversed(self.steps):
            if not step.grad:
                continue
            rows = all_rows[step.rows] if step.sample else all_rows[:0]
            zero.update(rows[~written[rows]].tolist())  # read before anything was written: zeros
            written[rows] = True
            for target in step.targets():
                rows = all_rows[target[0]].ravel()
                fresh = ~written[rows]
                if target[1] is not ADD_AT and isinstance(target[0], slice) and fresh.all():
                    target[1] = ASSIGN
                else:
                    zero.update(rows[fresh].tolist())
                written[rows] = True
        self._zero = _index(sorted(zero)) if zero else None

    # -- running ---------------------------------------------------------------------------------
    def forward(self, data: list[np.ndarray], batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Every node's value: V (per-sample rows, batch columns) and S (shared values)."""
        V, S, _, _ = self._buffers(batch)
        r = 0
        for a in data:
            k = 1 if a.ndim == 1 else a.shape[1]
            V[r:r + k] = a.T
            r += k
        S[:len(self.leaves)] = [p.data for p in self.leaves]  # read now: no stale copies
        for forward in self._local.forward:
            forward()
        return V, S

    def _buffers(self, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Values and adjoints for a batch: kept between calls of the same size, per thread
        (allocating a few MB afresh at every call costs more than the arithmetic)."""
        local = self._local
        if getattr(local, "batch", None) != batch:
            local.buffers = local.forward = local.backward = None  # free the old ones first
            V, S, G, gS = buffers = (np.empty((self.n_v, batch)), np.empty(self.n_s),
                                     np.empty((self.n_v, batch)), np.empty(self.n_s))
            S[self._const_rows] = self._consts  # constants never change
            bound = [step.bind(V, S, G, gS) for step in self.steps]
            local.forward = [fwd for fwd, _ in bound]
            local.backward = [bwd for (_, bwd), step in zip(bound[::-1], self.steps[::-1]) if step.grad]
            local.buffers, local.batch = buffers, batch
        return local.buffers  # type: ignore[no-any-return]

    def mean(self, V: np.ndarray, S: np.ndarray) -> float:
        """The batch mean of a scalar output."""
        (s, r), = self.out_refs
        return float(V[r].sum() * (1.0 / V.shape[1])) if s == "v" else float(S[r])

    def outputs(self, V: np.ndarray, S: np.ndarray, batch: int) -> np.ndarray:
        """The function's outputs: (batch,) for a Value, (batch, k) for a list."""
        cols = [V[r] if s == "v" else np.full(batch, S[r]) for s, r in self.out_refs]
        if self.scalar:
            return cols[0].copy()
        return np.stack(cols, axis=1) if cols else np.empty((batch, 0))

    def backward(self, V: np.ndarray, S: np.ndarray, batch: int) -> np.ndarray:
        """Adjoints of d(mean output)/d(node); returns those of the shared store (params first)."""
        _, _, G, gS = self._buffers(batch)
        if self._zero is not None:
            G[self._zero] = 0.0
        gS.fill(0.0)
        (s, r), = self.out_refs
        if s == "v":
            G[r] = 1.0 / batch
        else:
            gS[r] = 1.0
        for backward in self._local.backward:
            backward()
        return gS

    def __repr__(self) -> str:
        lines = [(f"Tape: {self.n_inputs} inputs, {self.n_params} params, {len(self.steps)} steps, "
                 f"{self.n_v} per-sample rows, {self.n_s} shared")]
        lines += [f"  {step}" for step in self.steps]
        return "\n".join(lines)


def _depends_on_data() -> TracingError:
    return TracingError(
        "micrograd.compile: the function built a different graph at another sample: it depends on "
        "input values outside the graph (reading .data of a traced Value, random numbers, ...), "
        "which a tape cannot replay")


def _weighted(args: tuple[int, ...], cls: list[int], target: int) -> tuple[int, int] | None:
    """A product w * x as (w, x), w shared or constant and x of class ``target``; else None."""
    a, b = args
    if target == SAMPLE:
        if cls[a] != SAMPLE and cls[b] == SAMPLE:
            return a, b
        if cls[b] != SAMPLE and cls[a] == SAMPLE:
            return b, a
        return None
    return a, b  # shared: both factors are shared or constant


# --- steps ------------------------------------------------------------------------------------------

Index = Any  # a slice (contiguous rows: a view, no copy) or an array of row numbers


def _index(rows: Sequence[int]) -> Index:
    """Rows as a slice when they are evenly spaced and increasing (a view), else an index array."""
    rows = list(rows)
    step = rows[1] - rows[0] if len(rows) > 1 else 1
    if rows and step > 0 and rows == list(range(rows[0], rows[-1] + 1, step)):
        return slice(rows[0], rows[-1] + 1, step)
    return np.array(rows, dtype=np.intp)


def _matrix_view(rows: np.ndarray, limit: int) -> tuple[int, int] | None:
    """(base, stride) when rows[j, i] = base + j * stride + i with stride >= width, the layout of
    a layer's weights (each neuron's weights, then its bias), so the matrix is a view of S."""
    m, n = rows.shape
    base = int(rows[0, 0])
    stride = int(rows[1, 0] - base) if m > 1 else n
    expected = base + stride * np.arange(m)[:, None] + np.arange(n)[None, :]
    if stride >= n and base + m * stride <= limit and np.array_equal(rows, expected):
        return base, stride
    return None


def _repeats(rows: Sequence[int]) -> bool:
    return len(set(rows)) != len(rows)


ADD, ASSIGN, ADD_AT = "add", "assign", "add.at"  # how a step writes adjoints (see Tape._plan)


def _mode(repeats: bool) -> str:
    return ADD_AT if repeats else ADD


def _accumulate(arr: np.ndarray, index: Index, values: Any, mode: str) -> None:
    """arr[index] += values (np.add.at when the index repeats rows; = when nothing is there yet)."""
    if mode is ADD:
        arr[index] += values
    elif mode is ASSIGN:
        arr[index] = values
    else:
        np.add.at(arr, index, values)


class _Step:
    """Nodes of one kind at one depth, computed by one numpy call forward and one backward."""

    grad: bool    # does backward need to run it
    sample: bool  # per-sample rows of V (else shared values of S)
    rows: slice   # where its nodes' values go

    def targets(self) -> list[list[Any]]:
        """[rows, mode] of every block of per-sample adjoints backward writes, in order."""
        return []

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray,
             gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        """(forward, backward) on these buffers, with every view they need made once, here."""
        raise NotImplementedError


def _write(dst: np.ndarray, index: Index, mode: str) -> Callable[[Any], None]:
    """A function adding values into dst[index] (or assigning them: see Tape._plan)."""
    if mode is ADD_AT:
        return lambda values: np.add.at(dst, index, values)
    if isinstance(index, slice):
        view = dst[index]
        if mode is ASSIGN:
            def assign(values: Any) -> None:
                view[...] = values
            return assign

        def add(values: Any) -> None:
            view[...] += values
        return add
    return lambda values: _accumulate(dst, index, values, mode)


class _OpStep(_Step):
    """k nodes of one primitive: its forward and rule on ARRAYS, on all k rows."""

    def __init__(self, members: list[_Node], rows: slice, store: dict[int, tuple[str, int]],
                 grad: list[bool]) -> None:
        op = members[0].op
        assert op is not None
        self.op, self.rows = op, rows
        self.sample = members[0].cls == SAMPLE
        self.grad = any(m.grad for m in members)
        self.args: list[list[Any]] = []  # [rows, write mode, per sample, needs grad]
        for k in range(op.arity):
            refs = [store[m.args[k]] for m in members]
            at = [r for _, r in refs]
            self.args.append([_index(at), _mode(_repeats(at)), refs[0][0] == "v",
                              any(grad[m.args[k]] for m in members)])

    def targets(self) -> list[list[Any]]:
        return [arg for arg in self.args if arg[2] and arg[3]]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray,
             gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        sample, op = self.sample, self.op
        rule, forward_rule = functools.partial(op.rule, ARRAYS), functools.partial(op.forward, ARRAYS)
        out, g = (V[self.rows], G[self.rows]) if sample else (S[self.rows], gS[self.rows])
        args: list[Any] = []  # a view per argument, or None where rows are gathered at each call
        gathers: list[tuple[int, np.ndarray, Index, bool]] = []
        writes: list[tuple[Callable[[Any], None], bool] | None] = []
        for k, (ix, mode, per_sample, needed) in enumerate(self.args):
            src, widen = (V, False) if per_sample else (S, sample)  # a shared value: a (k, 1) column
            if isinstance(ix, slice):
                args.append(src[ix][:, None] if widen else src[ix])
            else:
                args.append(None)
                gathers.append((k, src, ix, widen))
            writes.append((_write(G if per_sample else gS, ix, mode), widen) if needed else None)

        def arguments() -> list[Any]:
            if not gathers:
                return args
            now = list(args)
            for k, src, ix, widen in gathers:
                now[k] = src[ix][:, None] if widen else src[ix]
            return now

        def forward() -> None:
            out[...] = forward_rule(*arguments())

        def backward() -> None:
            grads = rule(g, out, *arguments())
            for write, ga in zip(writes, grads if type(grads) is tuple else (grads,)):
                if write is not None:
                    if getattr(ga, "shape", None) != g.shape:  # a rule may return a scalar
                        ga = np.broadcast_to(ga, g.shape)
                    write[0](ga.sum(axis=1) if write[1] else ga)  # summed over the batch if shared

        return forward, backward

    def __repr__(self) -> str:
        where = "per sample" if self.sample else "shared"
        return f"{self.op.name}{'' if self.op.param is None else f'[{self.op.param:g}]'} x{self.rows.stop - self.rows.start} ({where})"


class _LinearStep(_Step):
    """k per-sample sums b + w1 x1 + ... + wn xn (w, b shared): a matrix product when the k sums
    read the same x (a layer of neurons), else a batched one."""

    def __init__(self, members: list[_Node], rows: slice, store: dict[int, tuple[str, int]],
                 grad: list[bool], zero: int, limit: int) -> None:
        self.rows, self.sample = rows, True
        self.grad = any(m.grad for m in members)
        w_rows = [[store[w][1] for w, _ in m.terms] for m in members]
        x_rows = [[store[x][1] for _, x in m.terms] for m in members]
        self.m, self.n = len(members), len(w_rows[0])
        self.w = np.array(w_rows, dtype=np.intp)
        self.w_view = _matrix_view(self.w, limit)
        self.w_mode = _mode(_repeats(self.w.ravel().tolist()))
        self.w_grad = any(grad[w] for m in members for w, _ in m.terms)
        self.shared_x = all(r == x_rows[0] for r in x_rows)
        if self.shared_x:
            self.x: Index = _index(x_rows[0])
            self.x_target = [self.x, _mode(_repeats(x_rows[0]))]
        else:
            self.x = np.array(x_rows, dtype=np.intp)
            self.x_target = [self.x.ravel(), _mode(_repeats(self.x.ravel().tolist()))]
        self.w_flat: Index = _index(self.w.ravel().tolist())
        self.x_grad = any(grad[x] for m in members for _, x in m.terms)
        b_rows = [store[m.bias][1] if m.bias >= 0 else zero for m in members]
        self.has_bias = any(m.bias >= 0 for m in members)
        self.b = _index(b_rows)
        self.b_mode = _mode(_repeats(b_rows))
        self.b_grad = any(grad[m.bias] for m in members if m.bias >= 0)

    def targets(self) -> list[list[Any]]:
        return [self.x_target] if self.x_grad else []

    def _weights(self, S: np.ndarray) -> np.ndarray:
        if self.w_view is None:
            return S[self.w]
        base, stride = self.w_view
        return S[base:base + self.m * stride].reshape(self.m, stride)[:, :self.n]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray,
             gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        out, g = V[self.rows], G[self.rows]
        w_view = self.w_view is not None
        W_fixed = self._weights(S) if w_view else None  # a view: read at each call, made once
        gW = self._weights(gS) if w_view else None
        X_fixed = V[self.x] if isinstance(self.x, slice) else None
        b = S[self.b][:, None] if isinstance(self.b, slice) else None
        shared_x, has_bias, w, x, b_rows = self.shared_x, self.has_bias, self.w, self.x, self.b
        write_w = None if w_view else _write(gS, self.w_flat, self.w_mode)
        write_x = _write(G, *self.x_target) if self.x_grad else None
        write_b = _write(gS, self.b, self.b_mode) if self.b_grad else None
        w_grad, m, n = self.w_grad, self.m, self.n

        def forward() -> None:
            W = S[w] if W_fixed is None else W_fixed
            X = V[x] if X_fixed is None else X_fixed
            if shared_x:
                np.matmul(W, X, out=out)
            else:
                out[...] = np.einsum("mn,mnb->mb", W, X)
            if has_bias:
                out[...] += S[b_rows][:, None] if b is None else b

        def backward() -> None:
            W = S[w] if W_fixed is None else W_fixed
            X = V[x] if X_fixed is None else X_fixed
            if w_grad:
                dW = g @ X.T if shared_x else np.einsum("mb,mnb->mn", g, X)
                if gW is not None:
                    gW[...] += dW
                else:
                    write_w(dW.ravel())  # type: ignore[misc]
            if write_x is not None:
                write_x(W.T @ g if shared_x else (W[:, :, None] * g[:, None, :]).reshape(m * n, -1))
            if write_b is not None:
                write_b(g.sum(axis=1))

        return forward, backward

    def __repr__(self) -> str:
        kind = "matmul" if self.shared_x else "batched dot"
        return f"linear x{self.m}, {self.n} terms each ({kind}, per sample)"


class _SharedLinearStep(_Step):
    """k sums w1 x1 + ... + wn xn of shared values (an L2 term): computed once per call."""

    def __init__(self, members: list[_Node], rows: slice, store: dict[int, tuple[str, int]],
                 grad: list[bool]) -> None:
        self.rows, self.sample = rows, False
        self.grad = any(m.grad for m in members)
        self.w = np.array([[store[w][1] for w, _ in m.terms] for m in members], dtype=np.intp)
        self.x = np.array([[store[x][1] for _, x in m.terms] for m in members], dtype=np.intp)
        self.w_flat, self.x_flat = _index(self.w.ravel().tolist()), _index(self.x.ravel().tolist())
        self.w_mode = _mode(_repeats(self.w.ravel().tolist()))
        self.x_mode = _mode(_repeats(self.x.ravel().tolist()))
        self.shape = self.w.shape

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray,
             gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        return functools.partial(self.forward, S), functools.partial(self.backward, S, gS)

    def forward(self, S: np.ndarray) -> None:
        S[self.rows] = np.einsum("mn,mn->m", S[self.w_flat].reshape(self.shape), S[self.x_flat].reshape(self.shape))

    def backward(self, S: np.ndarray, gS: np.ndarray) -> None:
        g = gS[self.rows][:, None]
        w, x = S[self.w_flat].reshape(self.shape), S[self.x_flat].reshape(self.shape)
        gw, gx = (g * x).ravel(), (g * w).ravel()  # both before either is added
        _accumulate(gS, self.w_flat, gw, self.w_mode)
        _accumulate(gS, self.x_flat, gx, self.x_mode)

    def __repr__(self) -> str:
        return f"linear x{self.w.shape[0]}, {self.w.shape[1]} terms each (shared)"


def _make_step(members: list[_Node], rows: slice, store: dict[int, tuple[str, int]], grad: list[bool],
               zero: int, limit: int) -> _Step:
    if members[0].op is not None:
        return _OpStep(members, rows, store, grad)
    if members[0].cls == SAMPLE:
        return _LinearStep(members, rows, store, grad, zero, limit)
    return _SharedLinearStep(members, rows, store, grad)
