"""The records of a lowered tape program: what a node depends on, where its value lives, and the
nodes the lowering passes of ``micrograd.tape`` build and ``micrograd.steps`` compute."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from .ops import Op

__all__ = ["CONST", "SAMPLE", "SHARED", "Dep", "Layout", "Node", "Slot", "Term"]


class Dep(enum.IntEnum):
    """What a node's value depends on; an op node depends on the most any argument does (max)."""

    CONST = 0   # nothing: folded to the value the engine computed while tracing
    SHARED = 1  # parameters (or other live Values) only: computed once per call, into S
    SAMPLE = 2  # an input: one value per sample, a row of V


CONST, SHARED, SAMPLE = Dep  # its members, bound once (an Enum member's attribute lookup is slow)


class Slot(NamedTuple):
    """Where a node's value lives at run time."""

    per_sample: bool  # a row of V (per-sample values), else an entry of S (shared values)
    row: int          # its row number there


class Term(NamedTuple):
    """One term w * x of a linear node."""

    w: int  # the weight (a node number): shared or constant
    x: int  # the value it multiplies (a node number): per sample, or shared in a shared sum


@dataclass
class Node:
    """A node of the lowered program: an op applied to nodes, or a linear combination of them."""

    dep: Dep                    # SHARED or SAMPLE
    grad: bool                  # does it depend on a parameter (does backward need it)?
    op: Op | None = None        # the primitive, or None for a linear combination
    args: tuple[int, ...] = ()  # the op's arguments (node numbers)
    terms: list[Term] = field(default_factory=list)  # linear: the sum of w * x
    summands: list[int] = field(default_factory=list)  # a chain: ((s0 + s1) + s2) + ..., in order
    bias: int | None = None     # linear: its shared part (a node number), if any
    level: int = 0              # depth among nodes of the same Dep
    # a fused tree: ``op`` applied pairwise over ``args`` (its leaves, left to right), pair by pair
    # as (left, right) positions: 0..n-1 the leaves, n + q the q-th pair's result (the last: this node)
    tree: tuple[tuple[int, int], ...] = ()
    # linear: an op of one argument (relu) its step applies to its sums in place, when a node of
    # that op read them and nothing else did (tape._fuse_relus; the node keeps that op node's number)
    activation: Op | None = None

    def reads(self) -> list[int]:
        """The nodes it reads (for a linear node: x's, then w's, then the bias)."""
        if self.op is not None:
            return list(self.args)
        if self.summands:
            return list(self.summands)
        bias = [] if self.bias is None else [self.bias]
        return [t.x for t in self.terms] + [t.w for t in self.terms] + bias


class Layout(NamedTuple):
    """Where the baked constants are in S (after params and external Values, before computed nodes)."""

    constants: slice   # the baked constants: 1, 0, then every CONST node
    zero: int          # the row holding 0 (a linear node without a shared part adds it)
