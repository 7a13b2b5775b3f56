"""The backward pass: topological order, and the two passes that push gradients through it.

Both passes work on any node with this small interface (Value is one): ``data`` (a float),
``grad``, ``_a`` and ``_b`` (its arguments, None when absent: a leaf has neither) and ``op`` (a row
of the op table; its ``rule`` gives the arguments' gradients, its ``closure`` is a hand-built
node's own ``_backward``).

- :func:`float_pass` is the plain, fast one: each rule runs on FLOATS and adds into ``.grad``.
- :func:`gradients` is the general one: gradients kept in a dict; rules run on VALUES when
  ``create_graph`` (so gradients are Values that can be differentiated again); hooks see the
  gradient flowing into their node; inside ``detect_anomaly()`` every rule is checked.

:func:`run` (what ``Value.backward`` calls) picks one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import anomaly, hooks, modes, ops
from .glue import hide
from .scalars import is_real
from .xp import ARRAYS, FLOATS, VALUES

__all__ = ["order", "topological_order", "run", "float_pass", "gradients", "accumulate", "local_gradients",
           "closure_gradients"]

IEEE_ERRORS = (ArithmeticError, ValueError)  # what float maths raises where IEEE gives inf or nan


def ieee(fn: Callable[..., Any], *args: float) -> Any:
    """``fn(ARRAYS, *args)`` on numpy float64 scalars, which give inf/nan where float maths raises."""
    with np.errstate(all="ignore"):
        result = fn(ARRAYS, *[np.float64(a) for a in args])
    if type(result) is tuple:
        return tuple(float(r) for r in result)
    return float(result)


_EMIT = object()  # stack marker: the node below me has all its children emitted


def order(*roots: Any) -> list[Any]:
    """Every node reachable from ``roots`` (glue included), children first.

    A depth-first search with an explicit stack. A node whose children are already emitted is
    emitted at once; otherwise it goes back on the stack under a marker, its children above it,
    and is emitted when the marker comes off. (A child in ``seen`` is always already emitted: in
    a graph without cycles a node cannot be its own descendant.)
    """
    out: list[Any] = []
    seen: set[Any] = set()
    stack: list[Any] = list(roots)
    push, pop, emit, mark = stack.append, stack.pop, out.append, seen.add
    while stack:
        v = pop()
        if v is _EMIT:
            emit(pop())
            continue
        if v in seen:
            continue
        mark(v)
        a = v._a
        if a is None:  # a leaf
            emit(v)
            continue
        b = v._b
        if a in seen:
            if b is None or b in seen:
                emit(v)
            else:
                push(v)
                push(_EMIT)
                push(b)
        else:
            push(v)
            push(_EMIT)
            push(a)
            if b is not None and b not in seen:
                push(b)
    return out


def topological_order(root: Any) -> list[Any]:
    """The nodes reachable from ``root``, each after all of its children. Iterative, no recursion."""
    return hide(order(root))


def run(root: Any, seed: Any, create_graph: bool = False) -> None:
    """Accumulate d(root)/d(node) * seed into ``.grad`` of every node: the float pass unless
    create_graph, hooks or anomaly checks need the general one."""
    if create_graph or hooks.any_hooks() or modes.is_anomaly_enabled():
        accumulate(root, seed, create_graph)
    else:
        float_pass(root, seed)


def float_pass(root: Any, seed: float) -> None:
    """The plain pass: every rule on FLOATS, gradients added into ``.grad``."""
    if root._a is None:  # a leaf: d(root)/d(root) = 1
        root.grad += seed
        return
    # Each pass propagates its own gradients; what earlier passes left is added back at the end.
    nodes, stale = _interior_order(root)  # (every leaf it meets now holds 0.0, every listed node _REACHED)
    root.grad = seed
    try:
        _float_rules(nodes)
    except BaseException:  # no mark may outlive the pass: a later search would take it for its own
        for v in nodes:
            if v.grad is _REACHED:
                v.grad = 0.0
        _add_back(stale)  # nor may an error lose what earlier passes left
        raise
    _add_back(stale)


def _add_back(stale: list[tuple[Any, Any]]) -> None:
    """The gradients the search set aside (what earlier passes left), added back into ``.grad``."""
    for v, old in stale:
        v.grad += old


def _float_rules(nodes: list[Any]) -> None:
    """The float pass's loop: every listed node's rule, parents first, its gradient added into
    its arguments' ``.grad``. A listed node's ``.grad`` starts as :data:`_REACHED`, a float 0.0, so
    the first gradient added into it gives what adding it to 0.0 gives, to the last bit (-0.0
    included), with no loop setting every node to 0.0 first."""
    xp, add, mul, relu, reached = FLOATS, ops.add, ops.mul, ops.relu, _REACHED
    for v in reversed(nodes):
        op = v.op
        # mul's, add's and relu's rules written out, as engine.py writes out add's and mul's
        # forwards: on floats they never raise, and a call costs as much as the rest of the step
        # (tests/test_backward checks them against the table's rules). Nearly every node of a
        # network is one of them.
        if op is mul:
            g = v.grad
            a = v._a
            b = v._b
            a.grad += g * b.data
            b.grad += g * a.data
            continue
        if op is add:
            g = v.grad
            v._a.grad += g
            v._b.grad += g
            continue
        # The other common cases inline (this loop is the hot path); propagate() handles the
        # rest: IEEE special values, hand-built nodes and glue (whose op has no rule).
        a = v._a
        b = v._b
        try:
            if op is relu:
                a.grad += 0.0 if v.data <= 0 else v.grad  # relu'(0) = 0 and relu(nan) = nan passes g
            elif b is None:
                a.grad += op.rule(xp, v.grad, v.data, a.data)
            else:
                ga, gb = op.rule(xp, v.grad, v.data, a.data, b.data)
                a.grad += ga
                b.grad += gb
        except Exception:
            # a rule that raised wrote nothing; the node may pass no gradient at all (a
            # hand-built node without a rule) or set one rather than add it (a closure): its
            # arguments (and itself) leave the mark first, so none survives the pass
            if v.grad is reached:
                v.grad = 0.0
            if a.grad is reached:
                a.grad = 0.0
            if b is not None and b.grad is reached:
                b.grad = 0.0
            propagate(v)


class _Mark:
    """What a node's ``.grad`` holds while :func:`_interior_order` searches the graph."""

    def __init__(self, state: str) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<node {self.state} by the backward search>"


_WAITING = _Mark("waiting on the stack for both its children")  # listed when it comes off again
# Listed, or on the way down to its one pending child. A float 0.0 of its own (told apart from
# every other 0.0 by identity), so the float pass adds a node's first gradient straight into it:
# 0.0 + x, as into a node set to 0.0 (float maths makes a new float every time, so no result is
# ever this one object). :func:`float_pass` makes sure none is left once it ends.
_REACHED = float.fromhex("0x0p+0")


def _interior_order(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """(the nodes reachable from ``root`` that have arguments, children first; (node, its
    ``.grad``) for every node the pass reaches whose ``.grad`` is not 0): all the float pass walks.
    On return every listed node's ``.grad`` is :data:`_REACHED` (a 0.0: see there), and every
    such leaf's is 0.0.

    :func:`order`'s order without the leaves (which the pass only adds into), found by the same
    depth-first search (``b``'s side before ``a``'s), its state kept in the nodes' ``.grad``
    slots rather than in a set (:func:`_search`). A gradient that is not 0 left by an earlier
    pass is kept aside as the search meets it (an interior node holding -0.0 starts again from
    0.0, like one holding 0.0: -0.0 + x and 0.0 + x differ only for x = -0.0). While it runs,
    another thread's pass through the same nodes would see the marks: two passes through one
    graph at once were never supported (both add into the same ``.grad``).
    """
    out: list[Any] = []
    stale: list[tuple[Any, Any]] = []
    try:
        _search(root, out, stale)
    except BaseException:
        _unmark(root, stale)
        raise
    return out, stale


def _search(root: Any, out: list[Any], stale: list[tuple[Any, Any]]) -> None:
    """List the interior nodes under ``root`` in ``out``, children first; keep (node, gradient)
    in ``stale`` for every node met that holds a gradient (a leaf's is set to 0.0 at once).

    A node is searched when first met, and its children that are interior and not yet
    ``_REACHED`` are pending. Then:

    - none pending: it is listed;
    - one pending: it goes on ``path``, the way down, and the search goes on with that child
      (when a node is listed, the nodes on the way down to it are listed after it, last first);
    - both pending: if ``b``'s own children are leaves or reached, ``b`` is listed at once and
      this is the case above (a neuron's ``act + w * x``); otherwise the way down so far goes on
      the stack as a list, the node goes on the stack as ``_WAITING``, ``a`` above it, and the
      search goes on with ``b``.

    A node on the way down is marked ``_REACHED`` before it is listed: only its own subtree is
    searched before then, and in a graph without cycles that never meets it. One function, no
    calls per node: a call costs as much as searching a node.
    """
    WAITING, REACHED = _WAITING, _REACHED
    stack: list[Any] = [root]  # nodes to search, _WAITING nodes to list, ways down to list
    path: list[Any] = []
    push, pop, emit, keep, extend, down = stack.append, stack.pop, out.append, stale.append, out.extend, path.append
    while stack:
        v = pop()
        if type(v) is list:  # a way down whose last node is listed
            v.reverse()
            extend(v)
            continue
        g = v.grad
        if g is WAITING:  # both its children are listed
            emit(v)
            v.grad = REACHED
            continue
        if g is REACHED:  # met again through another parent
            continue
        while True:  # search v
            if g:
                keep((v, g))
            a = v._a
            b = v._b
            if a._a is None:  # a leaf: never searched; kept aside if it holds a gradient
                g = a.grad
                if g:
                    keep((a, g))
                    a.grad = 0.0
                a = None
            elif a.grad is REACHED:
                a = None
            if b is not None:
                if b._a is None:
                    g = b.grad
                    if g:
                        keep((b, g))
                        b.grad = 0.0
                    b = None
                elif b.grad is REACHED:
                    b = None
                elif a is not None:  # both pending: is b ready to be listed?
                    c = b._a
                    d = b._b
                    if (c._a is None or c.grad is REACHED) and (d is None or d._a is None or d.grad is REACHED):
                        g = b.grad
                        if g:
                            keep((b, g))
                        if c._a is None:
                            g = c.grad
                            if g:
                                keep((c, g))
                                c.grad = 0.0
                        if d is not None and d._a is None:
                            g = d.grad
                            if g:
                                keep((d, g))
                                d.grad = 0.0
                        emit(b)
                        b.grad = REACHED
                        if a is b:  # (x * x)
                            a = None
                        b = None
            if a is None:
                if b is None:  # none pending: list v, then the way down to it
                    emit(v)
                    v.grad = REACHED
                    if path:
                        path.reverse()
                        extend(path)
                        path.clear()
                    break
                v.grad = REACHED
                down(v)
                v = b
            elif b is None:
                v.grad = REACHED
                down(v)
                v = a
            else:  # both pending: b's side, then a's, then v
                if path:
                    push(path)
                    path = []
                    down = path.append
                v.grad = WAITING
                push(v)
                push(a)
                v = b
            g = v.grad


def _unmark(root: Any, stale: list[tuple[Any, Any]]) -> None:
    """Undo an interrupted :func:`_search`: marks back to 0.0, then the kept gradients back."""
    for v in order(root):
        if v.grad is _WAITING or v.grad is _REACHED:
            v.grad = 0.0
    for v, g in stale:
        v.grad = g


def propagate(v: Any) -> None:
    """Add this node's contribution to its children's gradients (micrograd's per-node backward)."""
    op = v.op
    if op.closure is not None:
        op.closure()
    elif op.rule is not None:  # (a hand-built node with no rule passes no gradient, as in micrograd)
        if op.arity == 2:
            ga, gb = local_gradients(v, v.grad)
            v._a.grad += ga
            v._b.grad += gb
        else:
            v._a.grad += local_gradients(v, v.grad)


def local_gradients(v: Any, g: float) -> Any:
    """The rule of ``v``'s op on FLOATS for incoming gradient ``g``, with IEEE special values."""
    rule = v.op.rule
    args = (g, v.data, v._a.data) if v.op.arity == 1 else (g, v.data, v._a.data, v._b.data)
    try:
        return rule(FLOATS, *args)
    except IEEE_ERRORS:
        return ieee(rule, *args)


# --- the general pass ---------------------------------------------------------------------------

def gradients(outputs: Sequence[Any], seeds: Sequence[Any], create_graph: bool = False,
              inputs: Sequence[Any] | None = None) -> dict[Any, Any]:
    """The gradient flowing into every node on a path from ``outputs`` (to ``inputs``, if given).

    ``seeds[k]`` is the gradient of ``outputs[k]`` (a Value when ``create_graph``). Returns a dict
    node -> gradient, after hooks. Nodes no gradient reaches are absent. When ``inputs`` is given,
    only nodes that lead to one of them are visited (and hooked).
    """
    nodes = order(*outputs)
    needed: set[Any] | None = None
    if inputs is not None:
        needed = set(inputs)
        for v in nodes:  # children first: a node is needed if it leads to an input
            if v not in needed and ((v._a is not None and v._a in needed) or
                                    (v._b is not None and v._b in needed)):
                needed.add(v)
    grads: dict[Any, Any] = {}
    for out, seed in zip(outputs, seeds):
        if needed is None or out in needed:
            grads[out] = seed if out not in grads else grads[out] + seed
    check = modes.is_anomaly_enabled()
    hooked = hooks.any_hooks()  # (looked up once: most passes have no hooked node to look for)
    for v in reversed(nodes):
        g = grads.get(v)
        if g is None:
            continue
        fns = hooks.hooks_of(v) if hooked else None
        if fns:
            g = grads[v] = _run_hooks(v, g, fns, create_graph)
        op = v.op
        if v._a is None or (op.rule is None and op.closure is None):
            continue  # a leaf, or a hand-built node without a rule: nothing flows on
        children, local = _local(v, g, create_graph)
        if check:
            anomaly.check_rule(v, g, local)
        for child, cg in zip(children, local):
            if needed is not None and child not in needed:
                continue
            old = grads.get(child)
            if old is None:
                grads[child] = cg
            else:
                grads[child] = total = old + cg
                if check:
                    anomaly.check_sum(child, old, cg, total)
    return grads


def _local(v: Any, g: Any, create_graph: bool) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(children, the gradient for each) of node ``v`` receiving gradient ``g``."""
    op = v.op
    if op.closure is not None:
        return closure_gradients(v, g, create_graph)
    args = (v._a,) if op.arity == 1 else (v._a, v._b)
    if create_graph:
        # The same rule on Values: the node itself is its ``out``, so gradients of gradients flow.
        result = op.rule(VALUES, g, v, *args)
    else:
        result = local_gradients(v, g)
    return args, (result if op.arity == 2 else (result,))


def closure_gradients(v: Any, g: Any, create_graph: bool = False) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Run a hand-built node's ``_backward`` closure on its own, reading what it adds to its children."""
    if create_graph:
        raise RuntimeError(
            f"node {v.op.symbol!r} was built by hand with a _backward closure, which runs on floats: "
            "its gradient cannot be differentiated again. Declare the op with micrograd.primitive(Op(...)) "
            "to give it a derivative rule.")
    children = tuple(dict.fromkeys(v._prev))  # each once: the closure adds into child.grad
    saved = [c.grad for c in children]
    saved_own = v.grad
    try:
        for c in children:
            c.grad = 0.0
        v.grad = g
        v.op.closure()
        local = tuple(c.grad for c in children)
    finally:
        for c, s in zip(children, saved):
            c.grad = s
        v.grad = saved_own
    return children, local


def _run_hooks(v: Any, g: Any, fns: list[Callable[[Any], Any]], create_graph: bool) -> Any:
    """The gradient after each hook (a hook returning None leaves it)."""
    for fn in list(fns):
        result = fn(g)
        if result is None:
            continue
        if hasattr(result, "op") and hasattr(result, "data"):  # a node
            g = result if create_graph else result.data
        elif is_real(result):
            g = type(v)(float(result)) if create_graph else float(result)
        else:
            raise TypeError(f"a hook returned {type(result).__name__}; it must return a number, a Value or None")
    return g


def accumulate(root: Any, seed: Any, create_graph: bool = False) -> None:
    """The general pass from ``root``, its gradients added into ``.grad`` (``Value.backward``)."""
    grads = gradients([root], [seed], create_graph)
    for v, g in grads.items():  # (nodes no gradient reached keep theirs, as in PyTorch)
        old = v.grad
        if create_graph and not hasattr(g, "op"):
            g = type(root)(g)
        if hasattr(old, "op") or old:  # (a float 0.0 adds nothing: keep the graph small)
            g = old + g if hasattr(old, "op") else g + old
        v.grad = g
