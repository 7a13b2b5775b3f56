"""The steps a compiled tape runs: nodes of one kind at one depth, one numpy call (or an exact
kernel) for all of them forward and one backward, on the tape's buffers.

- ``OpStep``: k nodes of one primitive, by the op table's forward and rule on arrays (add and mul,
  whose rules are g and g times the other argument, as ufuncs writing into the rows themselves);
- ``ReluStep``, ``ChainStep``: relus and left-to-right sums by the exact kernels of ``kernels.py``
  (a sum over a batch of 2 or more: one ``np.add.reduce`` along the summands, which adds them
  term by term in the same order; at batch 1 row by row);
- ``LinearStep``: per-sample sums b + w1 x1 + ... (a layer of neurons), a matrix product;
- ``ConvStep``: the same sums with one kernel's weights at many positions (a convolution), one
  matrix product over image patches (``conv_plan`` finds the kernels and the patches);
- ``ActivatedStep``: one of those two, then relu in place on its rows (a layer and its activation);
- ``SharedLinearStep``: sums of shared values (an L2 term), once per call;
- ``LseStep``: trees of ``logaddexp`` over n per-sample rows (``losses.logsumexp``), one
  max-shifted log-sum-exp over the n rows, regrouped within the figure in its docstring.

``micrograd.tape`` lowers a traced graph to these; ``Tape._plan`` decides how each writes its
adjoints (``Write``), and ``Tape._direct`` which input arrays a first layer reads itself.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import kernels, ops
from .program import SAMPLE, Layout, Node, Slot
from .xp import ARRAYS

__all__ = ["ActivatedStep", "Arg", "ChainStep", "ConvPlan", "ConvStep", "Index", "LinearStep", "LseStep", "OpStep", "ReluStep",
           "SharedLinearStep", "Step", "Target", "Write", "as_index", "conv_plan", "rounds", "weight_kernels"]


Index = Any  # a slice (contiguous rows: a view, no copy) or an array of row numbers


def as_index(rows: Sequence[int]) -> Index:
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


def _rows_view(V: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """V[rows] for an (n, k) array of row numbers as a read-only view, shape (n, k, batch), when
    rows[j, i] = base + j * a + i * b (a, b >= 0), else None."""
    n, k = rows.shape
    base = int(rows[0, 0])
    a = int(rows[1, 0]) - base if n > 1 else 0
    b = int(rows[0, 1]) - base if k > 1 else 0
    expected = base + a * np.arange(n)[:, None] + b * np.arange(k)[None, :]
    if a < 0 or b < 0 or not np.array_equal(rows, expected) or int(expected.max()) >= V.shape[0]:
        return None
    step = V.strides[0]
    return np.lib.stride_tricks.as_strided(V[base:], shape=(n, k, V.shape[1]),
                                           strides=(a * step, b * step, V.strides[1]), writeable=False)


def _weights(S: np.ndarray, rows: np.ndarray, view: tuple[int, int] | None) -> np.ndarray | None:
    """W[j, i] = S[rows[j, i]] as a view of S where ``view`` (from _matrix_view) lays the rows
    out, else None (the rows are gathered at each call)."""
    if view is None:
        return None
    base, stride = view
    m, n = rows.shape
    return S[base:base + m * stride].reshape(m, stride)[:, :n]


class Write(enum.Enum):
    """How a step writes adjoints into rows (see Tape._plan)."""

    ADD = enum.auto()     # arr[rows] += values: rows distinct
    ADD_AT = enum.auto()  # np.add.at(arr, rows, values): rows repeat, each repeat adds
    ASSIGN = enum.auto()  # arr[rows] = values: nothing was written to these rows yet


def _adding(rows: Sequence[int]) -> Write:
    """How to add values into ``rows``: ADD_AT when a row repeats, else ADD."""
    return Write.ADD_AT if len(set(rows)) != len(rows) else Write.ADD


@dataclass
class Target:
    """A block of per-sample adjoint rows a step's backward writes (Tape._plan may make it ASSIGN)."""

    rows: Index   # the rows of G
    write: Write  # how


@dataclass
class Arg:
    """One argument of an op step: where its k values are, and how backward writes their adjoints."""

    target: Target   # its rows (of V if per sample, else of S) and how adjoints are written there
    per_sample: bool  # rows of V, else shared values of S (a (k, 1) column in a per-sample step)
    grad: bool        # does any of them need an adjoint?


def _accumulate(arr: np.ndarray, index: Index, values: Any, write: Write) -> None:
    """arr[index] += values (np.add.at when the index repeats rows; = when nothing is there yet)."""
    if write is Write.ADD:
        arr[index] += values
    elif write is Write.ASSIGN:
        arr[index] = values
    else:
        np.add.at(arr, index, values)


class Step:
    """Nodes of one kind at one depth, computed by one numpy call forward and one backward."""

    grad: bool    # does backward need to run it
    sample: bool  # per-sample rows of V (else shared values of S)
    rows: slice   # where its nodes' values go
    #: does backward rewrite the adjoints of its own rows in place (then they are set again at
    #: every call, never once: Tape._plan)?
    rewrites_own_adjoints = False

    def targets(self) -> list[Target]:
        """Every block of per-sample adjoints backward writes, in order."""
        return []

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        """(forward, backward) on these buffers, with every view they need made once, here;
        ``data`` holds this call's input arrays that a step reads itself (Tape._direct)."""
        raise NotImplementedError

    def reads(self) -> list[Index]:
        """Every block of per-sample rows its forward or backward reads."""
        return []


#: np.add.at gives way to rounds of distinct rows when no row repeats more often than this
_MOST_ROUNDS = 16


def rounds(rows: np.ndarray) -> list[np.ndarray]:
    """The positions of ``rows`` in rounds: round q holds each row's q-th occurrence, so within a
    round rows are distinct and ``dst[rows[r]] += values[r]`` round by round adds every value, to
    each row in the order of the index, as np.add.at does (the same sums, bit for bit)."""
    order = np.argsort(rows, kind="stable")
    ranked = rows[order]
    start = np.r_[True, ranked[1:] != ranked[:-1]] if len(rows) else np.zeros(0, dtype=bool)
    first = np.maximum.accumulate(np.where(start, np.arange(len(rows)), 0))
    turn = np.empty(len(rows), dtype=np.intp)
    turn[order] = np.arange(len(rows)) - first
    return [np.flatnonzero(turn == q) for q in range(int(turn.max(initial=-1)) + 1)]


def _write(dst: np.ndarray, index: Index, write: Write) -> Callable[[Any], None]:
    """A function adding values into dst[index] (or assigning them: see Tape._plan)."""
    if write is Write.ADD_AT:
        at = np.asarray(index)
        turns = rounds(at)
        if len(turns) > _MOST_ROUNDS:
            return lambda values: np.add.at(dst, index, values)
        parts = [(at[r], r) for r in turns]

        def add_at(values: Any) -> None:
            values = np.asarray(values)
            if values.ndim == 0 or len(values) != len(at):  # broadcast against the index
                values = np.broadcast_to(values, at.shape + dst.shape[1:])
            for rows_q, r in parts:
                dst[rows_q] += values[r]
        return add_at
    if isinstance(index, slice):
        view = dst[index]
        if write is Write.ASSIGN:
            def assign(values: Any) -> None:
                view[...] = values
            return assign

        def add(values: Any) -> None:
            np.add(view, values, out=view)  # (one call: view[...] += values is three)
        return add
    return lambda values: _accumulate(dst, index, values, write)


class OpStep(Step):
    """k nodes of one primitive: its forward and derivative rule on all k rows at once."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot], grad: list[bool]) -> None:
        op = members[0].op
        assert op is not None
        self.op, self.rows = op, rows
        self.sample = members[0].dep is SAMPLE
        self.grad = any(m.grad for m in members)
        self.args: list[Arg] = []
        for k in range(op.arity):
            at = [slots[m.args[k]].row for m in members]
            self.args.append(Arg(Target(as_index(at), _adding(at)), slots[members[0].args[k]].per_sample,
                                  any(grad[m.args[k]] for m in members)))

    def targets(self) -> list[Target]:
        return [arg.target for arg in self.args if arg.per_sample and arg.grad]

    def reads(self) -> list[Index]:
        return [arg.target.rows for arg in self.args if arg.per_sample]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        sample, op = self.sample, self.op
        out, g = (V[self.rows], G[self.rows]) if sample else (S[self.rows], gS[self.rows])
        args: list[Any] = []  # a view per argument, or None where rows are gathered at each call
        gathers: list[tuple[int, np.ndarray, Index, bool]] = []
        # per argument needing adjoints: (a function adding them, whether to sum the batch first)
        writes: list[tuple[Callable[[Any], None], bool] | None] = []
        for k, arg in enumerate(self.args):
            ix = arg.target.rows
            src, widen = (V, False) if arg.per_sample else (S, sample)  # a shared value: a (k, 1) column
            if isinstance(ix, slice):
                args.append(src[ix][:, None] if widen else src[ix])
            else:
                args.append(None)
                gathers.append((k, src, ix, widen))
            dst = G if arg.per_sample else gS
            writes.append((_write(dst, ix, arg.target.write), widen) if arg.grad else None)
        if not gathers and (op is ops.add or op is ops.mul):
            return self._bind_arithmetic(out, g, args, G, gS)

        def arguments() -> list[Any]:
            if not gathers:
                return args
            now = list(args)
            for k, src, ix, widen in gathers:
                now[k] = src[ix][:, None] if widen else src[ix]
            return now

        run_forward, run_rule = op.forward, op.rule  # both on ARRAYS: the op's own code, run by numpy

        def forward() -> None:
            out[...] = run_forward(ARRAYS, *arguments())

        def backward() -> None:
            grads = run_rule(ARRAYS, g, out, *arguments())
            for write, ga in zip(writes, grads if type(grads) is tuple else (grads,)):
                if write is not None:
                    add, summed = write
                    if getattr(ga, "shape", None) != g.shape:  # a rule may return a scalar
                        ga = np.broadcast_to(ga, g.shape)
                    add(np.add.reduce(ga, axis=1) if summed else ga)  # summed over the batch if shared

        return forward, backward

    def _bind_arithmetic(self, out: np.ndarray, g: np.ndarray, args: list[Any], G: np.ndarray,
                         gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        """add and mul, whose rules are (g, g) and (g b, g a), as ufuncs into the rows themselves:
        a + b (a b) straight into ``out``; backward computes only the adjoints some argument needs,
        each g (g b, g a) as the rule has it, assigned into rows nothing was written to yet with no
        temporary, else added (a shared argument's summed over the batch first)."""
        ufunc = np.add if self.op is ops.add else np.multiply
        # a shared argument of one per-sample node, a (1, 1) column, as a 0-d view of its number:
        # numpy broadcasts it as a scalar, at half the cost (the same products and sums)
        args = [x.reshape(()) if self.sample and not arg.per_sample and x.shape == (1, 1) else x
                for x, arg in zip(args, self.args)]
        a, b = args
        parts = self._arithmetic_parts(args, g, G, gS, ufunc is np.add)

        def forward() -> None:
            ufunc(a, b, out=out)

        if len(parts) == 1:
            return forward, parts[0]

        def backward() -> None:
            for part in parts:
                part()
        return forward, backward

    def _arithmetic_parts(self, args: list[Any], g: np.ndarray, G: np.ndarray, gS: np.ndarray,
                          is_add: bool) -> list[Callable[[], None]]:
        """add's or mul's backward, as one part per argument that needs an adjoint (g, or g times
        the other argument), or one copy of g into both where ``assigned_block`` finds them."""
        block = self.assigned_block(G) if is_add else None
        if block is not None:
            return [_assign_part(block, g, None)]
        parts: list[Callable[[], None]] = []
        for k, arg in enumerate(self.args):
            if not arg.grad:
                continue
            other = None if is_add else args[1 - k]  # the adjoint is g, or g * the other
            ix, write, dst = arg.target.rows, arg.target.write, G if arg.per_sample else gS
            if arg.per_sample or not self.sample:  # the adjoint has g's shape
                if write is Write.ASSIGN and isinstance(ix, slice):
                    parts.append(_assign_part(dst[ix], g, other))
                else:
                    parts.append(_add_part(_write(dst, ix, write), g, other, False))
            else:  # a shared argument of a per-sample step: summed over the batch
                parts.append(_add_part(_write(dst, ix, write), g, other, True))
        return parts

    def assigned_block(self, G: np.ndarray) -> np.ndarray | None:
        """For an add whose two per-sample arguments are assigned g into consecutive blocks of
        rows, one after the other (a loss's last a + b), both blocks as one (2, k, batch) view, to
        write with one copy; else None."""
        first, second = (arg.target for arg in self.args)
        if not all(arg.per_sample and arg.grad and arg.target.write is Write.ASSIGN
                   and isinstance(arg.target.rows, slice) and arg.target.rows.step == 1 for arg in self.args):
            return None
        k = first.rows.stop - first.rows.start
        if second.rows.start != first.rows.stop or second.rows.stop - second.rows.start != k:
            return None
        return G[first.rows.start:second.rows.stop].reshape(2, k, G.shape[1])

    def __repr__(self) -> str:
        where = "per sample" if self.sample else "shared"
        param = "" if self.op.param is None else f"[{self.op.param:g}]"
        return f"{self.op.name}{param} x{self.rows.stop - self.rows.start} ({where})"


def _assign_part(dst: np.ndarray, g: np.ndarray, other: np.ndarray | None) -> Callable[[], None]:
    """dst = g (add's rule) or dst = g * other (mul's), with no temporary."""
    if other is None:
        def copy() -> None:
            dst[...] = g
        return copy

    def product() -> None:
        np.multiply(g, other, out=dst)
    return product


def _add_part(add: Callable[[Any], None], g: np.ndarray, other: np.ndarray | None,
              summed: bool) -> Callable[[], None]:
    """add(g) or add(g * other), each summed over the batch first if ``summed``."""
    if other is None:
        if summed:
            return lambda: add(np.add.reduce(g, axis=1))
        return lambda: add(g)
    if summed:
        return lambda: add(np.add.reduce(g * other, axis=1))
    return lambda: add(g * other)


class ReluStep(OpStep):
    """k per-sample relus of consecutive rows: the op's forward and rule by exact kernels, written
    straight into the rows (kernels.py: no temporaries, no branches on the signs)."""

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        (arg,) = self.args
        out, g, a = V[self.rows], G[self.rows], V[arg.target.rows]
        dst, write = G[arg.target.rows], arg.target.write
        scratch = dst if write is Write.ASSIGN else np.empty_like(dst)
        relu = kernels.Relu(a, out, g, scratch)
        if scratch is dst:
            return relu.forward, relu.backward

        def backward() -> None:
            relu.backward()
            np.add(dst, scratch, out=dst)

        return relu.forward, backward


class ActivatedStep(Step):
    """A per-sample step (a layer's matrix product, a convolution) whose rows then go through
    relu in place: ``inner``'s forward, then relu's kernel on its rows; backward, relu's rule on
    their adjoints in place, then ``inner``'s backward. The numbers of the two steps, bit for bit
    (the same kernels, ``kernels.Relu``), without a block of V and G for the sums before relu;
    tape._fuse_relus makes one where the sums have no other reader."""

    rewrites_own_adjoints = True  # relu's rule, in place on its rows of G

    def __init__(self, inner: Step, activation: ops.Op) -> None:
        if activation is not ops.relu:
            raise ValueError(f"only relu runs in place after a step, not {activation.name}")
        if not inner.sample:
            raise ValueError(f"relu runs in place only after a per-sample step, not after {inner!r}")
        self.inner, self.rows, self.sample, self.grad = inner, inner.rows, True, inner.grad

    def targets(self) -> list[Target]:
        return self.inner.targets()

    def reads(self) -> list[Index]:
        return self.inner.reads()

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        inner_forward, inner_backward = self.inner.bind(V, S, G, gS, data)
        out, g = V[self.rows], G[self.rows]
        relu = kernels.Relu(out, out, g, g)  # in place: its forward reads out, its rule g

        def forward() -> None:
            inner_forward()
            relu.forward()

        def backward() -> None:
            relu.backward()
            inner_backward()

        return forward, backward

    def __repr__(self) -> str:
        return f"{self.inner!r}, then relu in place"


class ChainStep(Step):
    """k per-sample sums s0 + s1 + ... + s(n-1) of per-sample rows, added left to right as the
    trace adds them (kernels.chain_sum); backward passes each summand the sum's adjoint."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot], grad: list[bool]) -> None:
        self.rows, self.sample = rows, True
        self.grad = any(m.grad for m in members)
        self.n = len(members[0].summands)
        at = [[slots[m.summands[j]].row for m in members] for j in range(self.n)]  # per position
        self.summands = np.array(at, dtype=np.intp)  # (n, k) rows of V
        self.positions = [Target(as_index(rows), _adding(rows)) for rows in at]
        self.position_grad = [any(grad[m.summands[j]] for m in members) for j in range(self.n)]

    def targets(self) -> list[Target]:
        return [t for t, gr in zip(self.positions, self.position_grad) if gr]

    def reads(self) -> list[Index]:
        return [t.rows for t in self.positions]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        out, g, summands = V[self.rows], G[self.rows], self.summands
        writes = [_write(G, t.rows, t.write) for t, gr in zip(self.positions, self.position_grad) if gr]
        views = [V[t.rows] for t in self.positions if isinstance(t.rows, slice)]
        if V.shape[1] >= 2:
            forward = self._reducing(V, out)
        else:  # (at batch 1 a reduction would run along the summands, the fast axis, and pair them)
            def forward() -> None:
                kernels.chain_sum(views if len(views) == len(summands) else V[summands], out)

        block = self._fresh_block()
        if block is not None:  # every summand its own fresh row, one after another: one write
            rows = G[block]

            def backward() -> None:
                rows[...] = g
        else:
            def backward() -> None:
                for write in writes:  # add's rule: (g, g)
                    write(g)
        return forward, backward

    def _reducing(self, V: np.ndarray, out: np.ndarray) -> Callable[[], None]:
        """The forward as one np.add.reduce along the summands, for batches of 2 or more: numpy sums
        pairwise only along the fast axis in memory, and along the others adds term by term in index
        order, so each sample's sum is chain_sum's, left to right (the batch, the fast axis, has a
        stride of one number, and the summands' a positive one); it starts from -0.0, which leaves
        the first summand as it is (+0.0, the default, would turn a -0.0 into 0.0). The summands are
        a view of V when their rows are evenly laid out, else gathered at each call."""
        block = _rows_view(V, self.summands)
        if block is not None and block.strides[0] > 0:
            def forward() -> None:
                np.add.reduce(block, axis=0, out=out, initial=-0.0)
            return forward
        summands = self.summands

        def gathered() -> None:
            np.add.reduce(V[summands], axis=0, out=out, initial=-0.0)  # (a fresh (n, k, batch) array)
        return gathered

    def _fresh_block(self) -> slice | None:
        """The rows of a one-member sum's summands when they are consecutive, distinct, all need
        adjoints and are all assigned (Tape._plan), else None."""
        rows = [t.rows for t in self.positions]
        if self.rows.stop - self.rows.start != 1 or not all(self.position_grad) or any(
                t.write is not Write.ASSIGN for t in self.positions):
            return None
        starts = [r.start for r in rows]
        if starts != list(range(starts[0], starts[0] + len(starts))):
            return None
        return slice(starts[0], starts[0] + len(starts))

    def __repr__(self) -> str:
        return f"sum x{self.rows.stop - self.rows.start}, {self.n} summands each (in order, per sample)"


class LinearStep(Step):
    """k per-sample sums b + w1 x1 + ... + wn xn (w, b shared): a matrix product when the k sums
    read the same x (a layer of neurons), else a batched one."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot], grad: list[bool],
                 layout: Layout, ones: set[int]) -> None:
        self.rows, self.sample = rows, True
        self.grad = any(m.grad for m in members)
        w_rows = [[slots[t.w].row for t in m.terms] for m in members]
        x_rows = [[slots[t.x].row for t in m.terms] for m in members]
        self.m, self.n = len(members), len(w_rows[0])
        self.w = np.array(w_rows, dtype=np.intp)
        self.w_view = _matrix_view(self.w, layout.constants.stop)
        self.w_write = _adding(self.w.ravel().tolist())
        self.w_grad = any(grad[t.w] for m in members for t in m.terms)
        self.shared_x = all(r == x_rows[0] for r in x_rows)
        if self.shared_x:
            self.x: Index = as_index(x_rows[0])
            self.x_target = Target(self.x, _adding(x_rows[0]))
        else:
            self.x = np.array(x_rows, dtype=np.intp)
            self.x_target = Target(self.x.ravel(), _adding(self.x.ravel().tolist()))
        self.w_flat: Index = as_index(self.w.ravel().tolist())
        self.x_grad = any(grad[t.x] for m in members for t in m.terms)
        b_rows = [layout.zero if m.bias is None else slots[m.bias].row for m in members]
        self.has_bias = any(m.bias is not None for m in members)
        self.b = as_index(b_rows)
        self.b_write = _adding(b_rows)
        self.b_grad = any(grad[m.bias] for m in members if m.bias is not None)
        # is the row of V after x's rows one that holds 1 (then [x; 1] is a view of V)?
        self.ones_after = isinstance(self.x, slice) and self.x.step == 1 and self.x.stop in ones
        self.wb = np.c_[self.w, np.array(b_rows, dtype=np.intp)]  # [W | b]'s rows of S
        self.wb_view = self._bias_column(members, layout)
        self.source: int | None = None  # the input array it reads as X itself (Tape._direct)

    def _bias_column(self, members: list[Node], layout: Layout) -> tuple[int, int] | None:
        """(base, stride) of [W | b] as one view of S when each neuron's bias follows its weights (a
        Layer's parameters), so that W x + b is one matrix product [W | b] [x; 1] and b's adjoint
        comes with W's; None where that does not pay or where the bias is laid out elsewhere.
        It pays where [x; 1] is a view of V (x followed by a row of ones: the bias's add and its
        adjoints' sum are gone; 32 -> 10 on digits at batch 1,347: 41 against 54 us forward and
        backward), and where copying x into [x; 1], a pass over n rows, costs less than the
        bias's add and sum over m rows (measured to pay for n <= m, and not clearly at the input
        layer 64 -> 32 on digits)."""
        if not (self.shared_x and (self.n <= self.m or self.ones_after) and self.w_grad == self.b_grad
                and all(m.bias is not None for m in members)):
            return None
        return _matrix_view(self.wb, layout.constants.stop)

    def targets(self) -> list[Target]:
        return [self.x_target] if self.x_grad else []

    def reads(self) -> list[Index]:
        return [self.x_target.rows]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        if self.wb_view is not None:
            return self._bind_folded(V, S, G, gS, data)
        out, g = V[self.rows], G[self.rows]
        W_fixed = _weights(S, self.w, self.w_view)  # a view: read at each call, made once
        gW = _weights(gS, self.w, self.w_view)
        X_fixed = V[self.x] if isinstance(self.x, slice) and self.source is None else None
        source = self.source
        b = S[self.b][:, None] if isinstance(self.b, slice) else None
        shared_x, has_bias, w, x, b_rows = self.shared_x, self.has_bias, self.w, self.x, self.b
        write_w = None if self.w_view is not None else _write(gS, self.w_flat, self.w_write)
        write_x = _write(G, self.x_target.rows, self.x_target.write) if self.x_grad else None
        write_b = _write(gS, self.b, self.b_write) if self.b_grad else None
        into_x = (G[self.x] if self.x_grad and shared_x and isinstance(self.x, slice)
                  and self.x_target.write is Write.ASSIGN else None)
        w_grad, m, n = self.w_grad, self.m, self.n

        def forward() -> None:
            W = S[w] if W_fixed is None else W_fixed
            X = _x_of(V, x, data, source) if X_fixed is None else X_fixed
            if shared_x:
                np.matmul(W, X, out=out)
            else:
                out[...] = np.einsum("mn,mnb->mb", W, X)
            if has_bias:
                out[...] += S[b_rows][:, None] if b is None else b

        def backward() -> None:
            W = S[w] if W_fixed is None else W_fixed
            X = _x_of(V, x, data, source) if X_fixed is None else X_fixed
            if w_grad:
                dW = g @ X.T if shared_x else np.einsum("mb,mnb->mn", g, X)
                if gW is not None:
                    np.add(gW, dW, out=gW)
                else:
                    write_w(dW.ravel())  # type: ignore[misc]
            if into_x is not None:  # nothing written there yet: no temporary
                _transposed_product(W, g, into_x)
            elif write_x is not None:
                write_x(W.T @ g if shared_x else (W[:, :, None] * g[:, None, :]).reshape(m * n, -1))
            if write_b is not None:
                write_b(np.add.reduce(g, axis=1))

        return forward, backward

    def _bind_folded(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
                     data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        """forward: out = [W | b] [x; 1]; backward: [dW | db] += g [x; 1]^T and dx = W^T g, with
        [x; 1] a view of V where x's rows are followed by a row of ones, else copied into a
        buffer of this step by forward (backward reads the buffers of the forward before it, as
        the tape runs them). The product adds b among the w_i x_i in its own
        order: within the figure of any summation order, 2 n u (sum |w_i x_i| + |b|)."""
        out, g, n = V[self.rows], G[self.rows], self.n
        WB = _weights(S, self.wb, self.wb_view)
        gWB = _weights(gS, self.wb, self.wb_view)
        assert WB is not None and gWB is not None
        W, source, x = WB[:, :n], self.source, self.x
        batch = V.shape[1]
        # [x; 1] laid out as x is read: an input array (batch, n) is copied row by row; rows of V
        # followed by a row of ones are a view, else copied
        if source is None and self.ones_after:
            X1 = V[x.start:x.stop + 1]
            X_rows = None
        else:
            X1 = np.empty((batch, n + 1)).T if source is not None else np.empty((n + 1, batch))
            X1[n] = 1.0
            X_rows = X1[:n]
        X_fixed = V[x] if isinstance(x, slice) and source is None else None
        write_x = _write(G, self.x_target.rows, self.x_target.write) if self.x_grad else None
        into_x = (G[x] if self.x_grad and isinstance(x, slice) and self.x_target.write is Write.ASSIGN
                  else None)
        w_grad = self.w_grad

        def forward() -> None:
            if X_rows is not None:
                X_rows[...] = _x_of(V, x, data, source) if X_fixed is None else X_fixed
            np.matmul(WB, X1, out=out)

        def backward() -> None:
            if w_grad:
                np.add(gWB, g @ X1.T, out=gWB)
            if into_x is not None:  # nothing written there yet: no temporary
                _transposed_product(W, g, into_x)
            elif write_x is not None:
                write_x(W.T @ g)

        return forward, backward

    def __repr__(self) -> str:
        kind = "matmul" if self.shared_x else "batched dot"
        return f"linear x{self.m}, {self.n} terms each ({kind}, per sample)"


def _transposed_product(W: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    """out = W^T g, a layer's x adjoints; for one neuron the outer product w_i g, each entry the
    engine's product w_i * g (a matrix product would add it to a 0.0, turning -0.0 into 0.0),
    written as a copy of g's row then an in-place product (1.4x faster than numpy's broadcast
    product into a (n, batch) block)."""
    if W.shape[0] == 1:
        np.copyto(out, g)
        np.multiply(W.T, out, out=out)
    else:
        np.matmul(W.T, g, out=out)


def _x_of(V: np.ndarray, x: Index, data: list[Any], source: int | None) -> np.ndarray:
    """A linear step's X: rows of V, or the input array it reads itself, as (n, batch)."""
    if source is None:
        return V[x]
    a = data[source]
    return a[None, :] if a.ndim == 1 else a.T


class SharedLinearStep(Step):
    """k sums w1 x1 + ... + wn xn of shared values (an L2 term): computed once per call."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot]) -> None:
        self.rows, self.sample = rows, False
        self.grad = any(m.grad for m in members)
        self.w = np.array([[slots[t.w].row for t in m.terms] for m in members], dtype=np.intp)
        self.x = np.array([[slots[t.x].row for t in m.terms] for m in members], dtype=np.intp)
        self.w_flat, self.x_flat = as_index(self.w.ravel().tolist()), as_index(self.x.ravel().tolist())
        self.w_write = _adding(self.w.ravel().tolist())
        self.x_write = _adding(self.x.ravel().tolist())
        self.shape = self.w.shape

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        if self.shape[0] == 1 and isinstance(self.w_flat, slice) and isinstance(self.x_flat, slice):
            return self._bind_dot(S, gS)
        return functools.partial(self.forward, S), functools.partial(self.backward, S, gS)

    def _bind_dot(self, S: np.ndarray, gS: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
        """One sum of consecutive rows (an L2 term, sum of p * p): a dot product of views of S."""
        w, x, gw, gx, row = S[self.w_flat], S[self.x_flat], gS[self.w_flat], gS[self.x_flat], self.rows.start

        def forward() -> None:
            S[row] = np.dot(w, x)

        def backward() -> None:
            g = gS[row]
            dw, dx = g * x, g * w  # both before either is added (w and x may be the same rows)
            np.add(gw, dw, out=gw)
            np.add(gx, dx, out=gx)

        return forward, backward

    def forward(self, S: np.ndarray) -> None:
        w, x = S[self.w_flat].reshape(self.shape), S[self.x_flat].reshape(self.shape)
        S[self.rows] = np.einsum("mn,mn->m", w, x)

    def backward(self, S: np.ndarray, gS: np.ndarray) -> None:
        g = gS[self.rows][:, None]
        w, x = S[self.w_flat].reshape(self.shape), S[self.x_flat].reshape(self.shape)
        gw, gx = (g * x).ravel(), (g * w).ravel()  # both before either is added
        _accumulate(gS, self.w_flat, gw, self.w_write)
        _accumulate(gS, self.x_flat, gx, self.x_write)

    def __repr__(self) -> str:
        return f"linear x{self.w.shape[0]}, {self.w.shape[1]} terms each (shared)"


def weight_kernels(members: Sequence[Node]) -> dict[int, int]:
    """Each weight node of these linear nodes -> its kernel (a weight node standing for it): two
    weights are in one kernel when one sum reads both (union-find, no recursion)."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for m in members:
        ws = [t.w for t in m.terms]
        for w in ws:
            parent.setdefault(w, w)
        root = find(ws[0]) if ws else -1
        for w in ws[1:]:
            other = find(w)
            if other != root:
                parent[other] = root
    return {w: find(w) for w in parent}


@dataclass
class ConvPlan:
    """Linear nodes that apply C kernels of n weights each at P positions (a convolution):
    member j is kernel ``channel[j]`` at ``position[j]``, and a position's patch lists the x
    that each of the kernel's weights multiplies, None where the sum has no such term (padding)."""

    kernels: list[list[int]]               # C lists of n weight nodes
    patches: list[tuple[int | None, ...]]  # P patches of n per-sample nodes (None: no term)
    bias: list[int | None]                 # each kernel's bias node (None: no bias)
    channel: list[int]                     # each member's kernel
    position: list[int]                    # each member's patch


def conv_plan(members: Sequence[Node]) -> ConvPlan | None:
    """The kernels and patches of per-sample sums b + sum w x that are convolutions: every sum's
    weights are distinct and lie in one kernel, kernels are of one size, every kernel is applied
    at the same patches, each (kernel, patch) by exactly one sum with the kernel's one bias;
    else None."""
    root = weight_kernels(members)
    kernels: dict[int, list[int]] = {}
    for w, r in root.items():
        kernels.setdefault(r, []).append(w)
    channel_of = {r: c for c, r in enumerate(dict.fromkeys(root[m.terms[0].w] for m in members if m.terms))}
    if len(channel_of) != len(kernels) or len({len(k) for k in kernels.values()}) != 1:
        return None
    ordered = [sorted(kernels[r]) for r in channel_of]
    n = len(ordered[0])
    at = {w: k for ws in ordered for k, w in enumerate(ws)}
    bias: list[int | None | bool] = [False] * len(ordered)  # False: not seen yet
    positions: dict[tuple[int | None, ...], int] = {}
    seen: set[tuple[int, int]] = set()
    channel, position = [], []
    for m in members:
        ws = [t.w for t in m.terms]
        if len(set(ws)) != len(ws):
            return None
        c = channel_of[root[ws[0]]]
        patch: list[int | None] = [None] * n
        for t in m.terms:
            patch[at[t.w]] = t.x
        p = positions.setdefault(tuple(patch), len(positions))
        if (c, p) in seen or bias[c] not in (False, m.bias):
            return None
        seen.add((c, p))
        bias[c] = m.bias
        channel.append(c)
        position.append(p)
    if len(seen) != len(ordered) * len(positions):
        return None
    return ConvPlan(ordered, list(positions), bias, channel, position)  # type: ignore[arg-type]


class ConvStep(Step):
    """Kernels at many positions: ``out[c, p] = b[c] + sum_k W[c, k] X[k, p]`` for every sample,
    one matrix product of the kernels W (C x n) with the image patches X (n x P*batch) gathered
    from V by one index (im2col). Backward: dW = g X^T, dX = W^T g added back into the patches'
    rows (each row at most once per round), db = g summed. A term a sum does not have (padding)
    reads 0; where a weight (forward) or an adjoint (dW) is not finite, 0 * inf would be nan, so
    the sums with such terms are then recomputed without them, as the scalar engine has them."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot], grad: list[bool],
                 layout: Layout, plan: ConvPlan) -> None:
        self.rows, self.sample = rows, True
        self.grad = any(m.grad for m in members)
        self.C, self.P, self.n, self.m = len(plan.kernels), len(plan.patches), len(plan.kernels[0]), len(members)
        w = np.array([[slots[x].row for x in ws] for ws in plan.kernels], dtype=np.intp)
        order = np.argsort(w[0], kind="stable")  # kernel terms in the order of their rows: W a view of S
        self.w = w[:, order]
        self.w_view = _matrix_view(self.w, layout.constants.stop)
        self.w_flat: Index = as_index(self.w.ravel().tolist())
        self.w_write = _adding(self.w.ravel().tolist())
        self.w_grad = any(grad[x] for ws in plan.kernels for x in ws)
        x = np.array([[-1 if t is None else slots[t].row for t in patch] for patch in plan.patches],
                     dtype=np.intp).T[order]  # (n, P)
        self.pad = x < 0
        x[self.pad] = x[~self.pad][0]  # any row: the gathered number is overwritten with 0
        self.x = x
        self.pad_at = np.nonzero(self.pad)
        self.border = np.flatnonzero(self.pad.any(axis=0))
        in_border = np.full(self.P, -1, dtype=np.intp)
        in_border[self.border] = np.arange(len(self.border))
        self.pad_in_border = (self.pad_at[0], in_border[self.pad_at[1]])
        self.padded_terms = [(k, np.flatnonzero(~self.pad[k])) for k in np.flatnonzero(self.pad.any(axis=1))]
        self.x_grad = any(grad[t] for patch in plan.patches for t in patch if t is not None)
        valid, flat = x[~self.pad], np.flatnonzero(~self.pad)  # rows of V and k * P + p, term by term
        self.rounds = [(valid[r], flat[r]) for r in rounds(valid)]
        self.x_target = Target(valid, Write.ADD_AT)
        b_rows = [layout.zero if b is None else slots[b].row for b in plan.bias]
        self.has_bias = any(b is not None for b in plan.bias)
        self.b = np.array(b_rows, dtype=np.intp)
        self.b_write = _adding(b_rows)
        self.b_grad = any(grad[b] for b in plan.bias if b is not None)
        cp = np.array(plan.channel, dtype=np.intp) * self.P + np.array(plan.position, dtype=np.intp)
        self.cp = None if np.array_equal(cp, np.arange(self.m)) else cp  # None: members in (c, p) order

    def targets(self) -> list[Target]:
        return [self.x_target] if self.x_grad else []

    def reads(self) -> list[Index]:
        return [self.x_target.rows]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        C, P, n, B = self.C, self.P, self.n, V.shape[1]
        out, g = V[self.rows], G[self.rows]
        held: list[np.ndarray] = [np.empty((n, P, B))]  # the forward's patches, read by backward
        cp = self.cp
        R = out.reshape(C, P, B) if cp is None else np.empty((C, P, B))  # out[c * P + p] in (c, p) order
        R2 = R.reshape(C, P * B)
        inverse = None if cp is None else np.argsort(cp)
        W_fixed = _weights(S, self.w, self.w_view)
        gW = _weights(gS, self.w, self.w_view)
        x, pad_k, pad_p = self.x, self.pad_at[0], self.pad_at[1]
        padded = pad_k.size > 0
        w_rows, b_rows, has_bias = self.w, self.b, self.has_bias
        write_w = None if self.w_view is not None else _write(gS, self.w_flat, self.w_write)
        write_b = _write(gS, self.b, self.b_write) if self.b_grad else None
        w_grad, x_grad, rounds = self.w_grad, self.x_grad, self.rounds

        def forward() -> None:
            W = S[w_rows] if W_fixed is None else W_fixed
            patches = held[0] = V[x]  # (a fresh array: numpy's gather into a given one is slower)
            cols = patches.reshape(n, P * B)
            if padded:
                patches[pad_k, pad_p] = 0.0
            np.matmul(W, cols, out=R2)
            if has_bias:
                R[...] += S[b_rows][:, None, None]
            if padded and not np.isfinite(W).all():
                self._exact_border(W, patches, R, S[b_rows] if has_bias else None)
            if cp is not None:
                out[...] = R.reshape(C * P, B)[cp]

        def backward() -> None:
            W = S[w_rows] if W_fixed is None else W_fixed
            gc = g.reshape(C, P * B) if cp is None else g[inverse].reshape(C, P * B)
            patches = held[0]
            cols = patches.reshape(n, P * B)
            if w_grad:
                dW = gc @ cols.T
                if padded and not np.isfinite(gc).all():
                    self._exact_dw(gc.reshape(C, P, B), patches, dW)
                if gW is not None:
                    np.add(gW, dW, out=gW)
                else:
                    write_w(dW.ravel())  # type: ignore[misc]
            if x_grad:
                terms = (W.T @ gc).reshape(n * P, B)
                for r, k in rounds:  # rows distinct within a round: += adds each term once
                    G[r] += terms[k]
            if write_b is not None:
                write_b(np.add.reduce(gc, axis=1))

        return forward, backward

    def _exact_border(self, W: np.ndarray, patches: np.ndarray, R: np.ndarray, b: np.ndarray | None) -> None:
        """The sums at positions with a missing term, without it (a weight is inf or nan)."""
        terms = W[:, :, None, None] * patches[None, :, self.border, :]  # (C, n, border, batch)
        terms[:, self.pad_in_border[0], self.pad_in_border[1]] = 0.0
        sums = np.add.reduce(terms, axis=1)
        R[:, self.border] = sums if b is None else sums + b[:, None, None]

    def _exact_dw(self, g: np.ndarray, patches: np.ndarray, dW: np.ndarray) -> None:
        """dW's columns of kernel terms some positions lack, without those positions (an adjoint
        is inf or nan)."""
        for k, present in self.padded_terms:
            dW[:, k] = np.einsum("cpb,pb->c", g[:, present], patches[k, present])

    def __repr__(self) -> str:
        return (f"conv x{self.m} ({self.C} kernels at {self.P} positions), {self.n} terms each "
                "(matmul over patches, per sample)")


class LseStep(Step):
    """k per-sample log-sum-exps, each a tree of ``logaddexp`` over n per-sample leaves x_i:
    lse = m + log(s), s = sum_i e^(x_i - m), m = max_i x_i, over the n rows at once; backward
    dx_i += g e^(x_i - m) / s (the softmax times the incoming adjoint g).

    This regroups the tree, as a matrix product regroups a sum. Against the scalar engine (u =
    2^-53, |lse| the result's size), for the value and for each gradient per unit of g:

        |d lse| <= 4 n u (|lse| + 2),    |d dx_i| <= 8 n u (|lse| + 2) |g|.

    Both differ from the exact log-sum-exp L. The tree rounds each node (u |node|, and 2 ulps of
    libm's exp and log1p), and a node's error reaches the root scaled by e^(node - L) <= 1, the
    weights of one level summing to 1: at most D u (|L| + 3) over D = ceil(log2 n) levels. The
    step's n - 1 additions of terms in [0, 1] to a sum >= 1, n exps and one log, plus the final
    rounding, give at most (2n + 1) u + u |L|. The engine's gradient is g times D rounded
    sigmoids of differences of such nodes, relatively within 2 D^2 u (|L| + 3); the step's
    e^(x_i - m) / s is within (n + 2) u relatively; both are at most 1 before g. The bound is
    absolute: a loss lse - x_target can cancel to far below it.

    Where a column has a leaf that is inf or nan, leaves whose sum overflows, or (backward) an
    adjoint that is not finite, the step runs the tree itself there (the op's forward and rule on
    arrays, as unfused steps do), so those columns are the unfused tape's numbers exactly."""

    def __init__(self, members: list[Node], rows: slice, slots: dict[int, Slot], grad: list[bool]) -> None:
        op = members[0].op
        assert op is not None
        self.op, self.rows, self.sample = op, rows, True
        self.grad = any(m.grad for m in members)
        self.tree = members[0].tree
        self.n, self.k = len(members[0].args), len(members)
        at = [slots[m.args[j]].row for j in range(self.n) for m in members]  # leaf j of member i: j * k + i
        self.leaves = np.array(at, dtype=np.intp)
        self.target = Target(as_index(at), _adding(at))

    def targets(self) -> list[Target]:
        return [self.target] if self.grad else []

    def reads(self) -> list[Index]:
        return [self.target.rows]

    def bind(self, V: np.ndarray, S: np.ndarray, G: np.ndarray, gS: np.ndarray,
             data: list[Any]) -> tuple[Callable[[], None], Callable[[], None]]:
        # each block of k rows as one row of k * B numbers, (k, B) flattened: leaf j of every
        # member and sample is row j of X (n, k * B), and each column is one log-sum-exp
        n, c = self.n, self.k * V.shape[1]
        out, g = V[self.rows].reshape(c), G[self.rows].reshape(c)  # (views: the rows are consecutive)
        ix, leaves = self.target.rows, self.leaves
        view = V[ix].reshape(n, c) if isinstance(ix, slice) and ix.step == 1 else None
        E, m, s = np.empty((n, c)), np.empty(c), np.empty(c)  # e^(x - m), m, s
        direct = isinstance(ix, slice) and ix.step == 1 and self.target.write is Write.ASSIGN
        dX = G[ix].reshape(n, c) if direct else np.empty((n, c))
        write = None if direct else _write(G, ix, self.target.write)
        scale = np.empty(c)

        def leaves_now() -> np.ndarray:
            return view if view is not None else V[leaves].reshape(n, c)

        edge = [False]  # did the last forward meet a column that needs the tree (read by backward)?

        def forward() -> None:
            X = leaves_now()
            np.maximum.reduce(X, axis=0, out=m)
            np.subtract(X, m, out=E)
            np.exp(E, out=E)
            np.add.reduce(E, axis=0, out=s)
            np.log(s, out=out)
            np.add(out, m, out=out)
            edge[0] = not math.isfinite(np.add.reduce(X, axis=None))  # an inf, a nan or an overflow
            if edge[0]:
                cols = np.flatnonzero(~np.isfinite(np.add.reduce(X, axis=0)))
                out[cols] = self._tree_forward(X[:, cols])[-1]

        def backward() -> None:
            np.divide(g, s, out=scale)
            np.multiply(E, scale, out=dX)
            if edge[0] or not math.isfinite(np.add.reduce(g)):
                X = leaves_now()
                cols = np.flatnonzero(~(np.isfinite(np.add.reduce(X, axis=0)) & np.isfinite(g)))
                dX[:, cols] = self._tree_backward(X[:, cols], g[cols])
            if write is not None:
                write(dX.reshape(n * self.k, -1))

        return forward, backward

    def _tree_forward(self, X: np.ndarray) -> list[np.ndarray]:
        """Every node of the tree on some columns (leaves ``X``, (n, c)): the leaves, then each pair."""
        values = list(X)
        for a, b in self.tree:
            values.append(self.op.forward(ARRAYS, values[a], values[b]))
        return values

    def _tree_backward(self, X: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The leaves' adjoints on some columns by the tree's rule, pair by pair from the root."""
        values = self._tree_forward(X)
        adj: list[Any] = [None] * len(values)
        adj[-1] = g
        for q in range(len(self.tree) - 1, -1, -1):
            a, b = self.tree[q]
            adj[a], adj[b] = self.op.rule(ARRAYS, adj[self.n + q], values[self.n + q], values[a], values[b])
        return np.array(adj[:self.n])

    def __repr__(self) -> str:
        return f"logsumexp x{self.k}, {self.n} leaves each (max-shifted, per sample)"
