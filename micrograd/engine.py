"""Value: a scalar that records the arithmetic done with it, and backward() to differentiate it.

The graph is plain data. Each Value holds its number, its gradient, its children and its op (a
row of the op table in ``ops.py``); there are no closures on nodes, so a graph has no reference
cycles and CPython frees it the moment the last reference drops. ``backward()`` walks the graph
with an explicit stack, never recursion, so a million-node chain is fine.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import numbers
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable, Union

import numpy as np

from . import ops
from .ops import LEAF, Op

__all__ = ["Value", "no_grad", "is_grad_enabled", "gc_paused", "topological_order"]

Number = Union[int, float]
Operand = Union["Value", int, float]

_IEEE_ERRORS = (ArithmeticError, ValueError)  # what float maths raises where IEEE gives inf or nan


def _ieee(fn: Callable[..., Any], *args: float) -> Any:
    """Evaluate ``fn`` on numpy float64 scalars, which give inf/nan where float maths raises."""
    with np.errstate(all="ignore"):
        result = fn(*[np.float64(a) for a in args])
    if type(result) is tuple:
        return tuple(float(r) for r in result)
    return float(result)


# --- grad mode -------------------------------------------------------------------------------
# Grad mode is per thread. Reading a thread-local on every op would cost more than the op, so a
# global counts the threads inside no_grad(); the thread-local is read only while it is non-zero.

_mode = threading.local()
_nograd_threads = 0
_nograd_lock = threading.Lock()


def is_grad_enabled() -> bool:
    """True unless this thread is inside ``no_grad()``."""
    return not (_nograd_threads and getattr(_mode, "depth", 0))


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: Values made inside record no graph (per thread).

    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y._prev
    ()
    """

    def __enter__(self) -> "no_grad":
        global _nograd_threads
        depth = getattr(_mode, "depth", 0)
        if depth == 0:
            with _nograd_lock:
                _nograd_threads += 1
        _mode.depth = depth + 1
        return self

    def __exit__(self, *exc: Any) -> None:
        global _nograd_threads
        _mode.depth -= 1
        if _mode.depth == 0:
            with _nograd_lock:
                _nograd_threads -= 1



# --- tracing (micrograd.compile) --------------------------------------------------------------
# While compile() traces a function on this thread it registers a hook here; the conversion and
# comparison methods of Value call it, and it raises an error naming the user's line.

_trace_hooks: dict[int, Callable[[Value, str], None]] = {}  # thread id -> the tracer's hook


def _traced(value: Value, what: str) -> None:
    hook = _trace_hooks.get(threading.get_ident())
    if hook is not None:
        hook(value, what)


# --- the cycle collector -----------------------------------------------------------------------
# A graph has no reference cycles, so CPython's cycle collector never finds garbage in it. But
# the collector runs every ~700 allocations of container objects regardless, and each run rescans
# the young objects, so building a large graph makes it scan the growing graph again and again
# (over a third of a moons demo step: bench/bench_engine.py measures it). Building a graph with
# the collector paused avoids that work; cyclic garbage made meanwhile elsewhere is collected at
# the collector's next run.

_pause_lock = threading.Lock()
_pause_depth = 0     # how many gc_paused() blocks are open, across threads
_resume_gc = False   # whether the collector was enabled when the first one opened


class gc_paused(contextlib.ContextDecorator):
    """Context manager and decorator: pause CPython's cycle collector, then restore it.

    Use it around code that builds a large graph (``MLP.__call__`` does). Nesting and threads
    are fine: the collector comes back, if it was on, when the last open block closes.
    """

    def __enter__(self) -> "gc_paused":
        global _pause_depth, _resume_gc
        with _pause_lock:
            if _pause_depth == 0:
                _resume_gc = gc.isenabled()
                gc.disable()
            _pause_depth += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        global _pause_depth
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0 and _resume_gc:
                gc.enable()


# --- the node ----------------------------------------------------------------------------------

class Value:
    """A scalar in a computation graph: ``.data`` is its number, ``.grad`` d(output)/d(this).

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> c.data, a.grad, b.grad
    (-4.0, -2.0, 2.0)
    """

    __slots__ = (
        "data",         # float: the value
        "grad",         # float: d(root)/d(this), accumulated by backward()
        "_a",           # Value or None: the op's first argument
        "_b",           # Value or None: the op's second argument
        "_op",          # Op: the row of the op table that made this node (LEAF for leaves)
        "__weakref__",  # so caches and tests can refer to a node without keeping it alive
    )
    # Two argument slots rather than a tuple: one object per node instead of two, which halves
    # the work of CPython's cycle collector and of freeing a graph. ``_prev`` gives the tuple.

    def __init__(self, data: Number, _children: Iterable["Value"] = (), _op: str = "",
                 label: str | None = None) -> None:
        if type(data) is not float:
            data = _to_float(data, "Value data")
        self.data: float = data
        self.grad: Any = 0.0
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                raise TypeError(f"Value children must be Values, got {type(child).__name__}")
        if not isinstance(_op, str):
            raise TypeError(f"Value _op must be a str, got {type(_op).__name__}")
        if not isinstance(_op, Op):  # a hand-built node: no rule unless a _backward is given
            _op = _custom_op(_op) if (_op or children) else LEAF
        elif _op.arity and len(children) != _op.arity:
            raise TypeError(f"op {_op.name!r} takes {_op.arity} children, got {len(children)}")
        self._op: Op = _op
        self._a: Value | None = None
        self._b: Value | None = None
        if children:
            self._a = children[0]
            if len(children) == 2:
                self._b = children[1]
            elif len(children) > 2:  # chain the rest through glue nodes that carry no gradient
                self._b = _glue(children[1:])
        if label is not None:
            _labels[self] = str(label)

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The op's arguments, in order (micrograd's ``_prev``; empty for leaves)."""
        a: Any = self._a
        b: Any = self._b
        if a is None:
            return ()
        if b is None:
            return (a,)
        if b._op is _GLUE:
            rest = []
            while b._op is _GLUE:
                rest.append(b._a)
                b = b._b
            return (a, *rest, b)
        return (a, b)

    # -- karpathy's extension point: a closure that pushes out.grad into the children --------
    @property
    def _backward(self) -> Callable[[], None]:
        """Push this node's ``.grad`` into its children's once (micrograd's per-node backward)."""
        return functools.partial(_propagate, self)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        # A node built karpathy-style, Value(data, children, 'op'), then given its own closure.
        # The closure usually refers to the node, a reference cycle the user opted into.
        self._op = _custom_op(str(self._op), fn)

    # -- labels (drawn in graph pictures), kept off the node to keep nodes small ---------------
    @property
    def label(self) -> str:
        """An optional name shown in graph pictures ('' if none)."""
        return _labels.get(self, "")

    @label.setter
    def label(self, text: str) -> None:
        _labels[self] = str(text)

    # -- pickling and copying: the label travels with the node --------------------------------
    def __getstate__(self) -> tuple[Any, ...]:
        return (self.data, self.grad, self._a, self._b, self._op, _labels.get(self))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.data, self.grad, self._a, self._b, self._op, label = state
        if label is not None:
            _labels[self] = label

    # -- conversions and comparisons ----------------------------------------------------------
    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # While micrograd.compile traces a function, these would bake one branch into the tape:
    # each asks the tracer first (one global test, and only in these rarely used methods).
    def __float__(self) -> float:
        if _trace_hooks:
            _traced(self, "float()")
        return self.data

    def __bool__(self) -> bool:
        if _trace_hooks:
            _traced(self, "bool()")
        return True  # a node is always truthy, as micrograd's (which has no __bool__)

    def __lt__(self, other: Operand) -> bool:
        if _trace_hooks:
            _traced(self, "<")
        return self.data < _number(other)

    def __le__(self, other: Operand) -> bool:
        if _trace_hooks:
            _traced(self, "<=")
        return self.data <= _number(other)

    def __gt__(self, other: Operand) -> bool:
        if _trace_hooks:
            _traced(self, ">")
        return self.data > _number(other)

    def __ge__(self, other: Operand) -> bool:
        if _trace_hooks:
            _traced(self, ">=")
        return self.data >= _number(other)

    # __eq__ and __hash__ stay object's: Values are nodes, equal only to themselves (and hashing in
    # C, not through a Python-level __hash__, keeps graph traversal fast).

    # -- derived operations: compositions of primitives ---------------------------------------
    # A plain-number operand stays a plain number here (no node for -2 or 1/2); the primitive
    # lifts it to a constant leaf.
    def __neg__(self) -> Value:  # -self
        return self * -1.0

    def __pos__(self) -> Value:  # +self
        return self

    def __abs__(self) -> Value:  # abs(self): the op table's abs
        return self.abs()

    def __sub__(self, other: Operand) -> Value:  # self - other
        other = _operand(other)
        return NotImplemented if other is NotImplemented else self + (-other)

    def __rsub__(self, other: Operand) -> Value:  # other - self
        other = _operand(other)
        return NotImplemented if other is NotImplemented else (-self) + other

    def __truediv__(self, other: Operand) -> Value:  # self / other
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        return self * (other ** -1.0 if isinstance(other, Value) else _reciprocal(other))

    def __rtruediv__(self, other: Operand) -> Value:  # other / self
        other = _operand(other)
        return NotImplemented if other is NotImplemented else self ** -1.0 * other

    def __pow__(self, other: Operand) -> Value:  # self ** other
        other = _operand(other)
        if type(other) is float:
            return ops.powc(other).apply(self)  # constant exponent: no gradient for it
        return NotImplemented if other is NotImplemented else _binary_pow(self, other)

    def __rpow__(self, other: Operand) -> Value:  # other ** self
        base = _lift(other)
        return NotImplemented if base is NotImplemented else _binary_pow(base, self)

    # The primitive methods (__add__, __mul__, relu, tanh, ...) are attached from the op table
    # below this class; their signatures are declared here for type checkers and readers.
    if TYPE_CHECKING:
        def __add__(self, other: Operand) -> Value: ...
        def __radd__(self, other: Operand) -> Value: ...
        def __mul__(self, other: Operand) -> Value: ...
        def __rmul__(self, other: Operand) -> Value: ...
        def relu(self) -> Value: ...
        def leaky_relu(self, slope: Number = 0.01) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def abs(self) -> Value: ...

    # -- graph utilities ----------------------------------------------------------------------
    def backward(self, gradient: Operand = 1.0, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) * gradient into ``.grad`` of every node of the graph.

        Like PyTorch, gradients add up across calls: calling it twice doubles every ``.grad``.
        With ``create_graph=True`` each ``.grad`` becomes a Value with a graph of its own (the
        derivative rules run on Values), so it can be differentiated again, as in PyTorch.
        Hooks (:meth:`register_hook`) run during the pass.
        """
        if create_graph or _hooks:  # the general pass; the loop below stays the plain float one
            from .autograd import backward_general
            backward_general(self, gradient, create_graph)
            return
        gradient = _to_float(gradient, "backward gradient")
        order = _order(self)
        # Each pass propagates its own gradients; what earlier passes left is added back at the end.
        previous = [v.grad for v in order]
        stale = any(previous)
        if stale:
            for v in order:
                v.grad = 0.0
        self.grad = gradient
        a: Any
        b: Any
        for v in reversed(order):
            a = v._a
            if a is None:
                continue
            b = v._b
            # The common cases inline (this loop is the hot path); _propagate handles the rest:
            # IEEE special values and hand-built nodes.
            try:
                if b is None:
                    a.grad += v._op.derivative(v.grad, v.data, a.data)
                else:
                    ga, gb = v._op.derivative(v.grad, v.data, a.data, b.data)
                    a.grad += ga
                    b.grad += gb
            except Exception:
                _propagate(v)
        if stale:
            for v, old in zip(order, previous):
                v.grad += old

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on every node of this Value's graph."""
        for v in topological_order(self):
            v.grad = 0.0

    def register_hook(self, hook: Callable[[Any], Any]) -> RemovableHandle:
        """Call ``hook(grad)`` during backward with the gradient flowing into this Value.

        As in PyTorch: the gradient is the sum over all uses of this Value, the hook runs once
        per pass, and a value it returns (not None) replaces the gradient, both in ``.grad`` and
        in what flows on to this Value's children. Returns a handle whose ``remove()`` undoes it.
        """
        if not callable(hook):
            raise TypeError(f"register_hook needs a callable, got {type(hook).__name__}")
        _hooks.setdefault(self, []).append(hook)
        return RemovableHandle(self, hook)

    def detach(self) -> Value:
        """A new leaf Value with the same data and no history."""
        return Value(self.data)

    def nodes(self) -> list[Value]:
        """Every node of the graph, children before parents."""
        return topological_order(self)


_EMIT = object()  # stack marker: the node below me has all its children emitted


def topological_order(root: Value) -> list[Value]:
    """The nodes reachable from ``root``, each after all of its children. Iterative, no recursion."""
    order = _order(root)
    if _glue_made:  # hide the links of hand-built nodes with more than two children
        order = [v for v in order if v._op is not _GLUE]
    return order


def _order(*roots: Value) -> list[Value]:
    """Every node reachable from ``roots`` (glue included), children first.

    A depth-first search with an explicit stack. A node whose children are already emitted is
    emitted at once; otherwise it goes back on the stack under a marker, its children above it,
    and is emitted when the marker comes off. (A child in ``seen`` is always already emitted: in
    a graph without cycles a node cannot be its own descendant.)
    """
    order: list[Value] = []
    seen: set[Value] = set()
    stack: list[Any] = list(roots)
    push, pop, emit, mark = stack.append, stack.pop, order.append, seen.add
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
    return order


def _propagate(v: Value) -> None:
    """Add this node's contribution to its children's gradients, by its op's derivative rule."""
    op = v._op
    if op.custom is not None:
        op.custom()
    elif op.arity:  # (a hand-built node with no rule passes no gradient, as in micrograd)
        a: Any = v._a
        if op.arity == 2:
            ga, gb = local_gradients(v, v.grad)
            a.grad += ga
            v._b.grad += gb  # type: ignore[union-attr]
        else:
            a.grad += local_gradients(v, v.grad)


def local_gradients(v: Value, g: float) -> Any:
    """The float rule of ``v``'s op for incoming gradient ``g``, with IEEE special values."""
    op = v._op
    args: tuple[Any, ...] = (g, v.data, v._a.data) if op.arity == 1 else (  # type: ignore[union-attr]
        g, v.data, v._a.data, v._b.data)  # type: ignore[union-attr]
    try:
        return op.derivative(*args)
    except _IEEE_ERRORS:
        return _ieee(op.derivative_array, *args)


# --- turning numbers into Values: the one boundary -------------------------------------------

def _is_real(x: Any) -> bool:
    """Is x a plain real number: int, float, bool, numpy scalar or 0-d numeric array?"""
    return isinstance(x, numbers.Real) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "biuf")


def _to_float(x: Any, what: str) -> float:
    if _is_real(x):
        return float(x)
    raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__}")


def _number(x: Any) -> float:
    return x.data if type(x) is Value else _to_float(x, "comparison operand")


def _operand(x: Any) -> Value | float:
    """A Value as it is, a plain number as a float; NotImplemented for anything else."""
    if type(x) is Value or type(x) is float:
        return x
    if type(x) is int:  # before the slow ABC check: x ** 2, x - 1
        return float(x)
    return float(x) if _is_real(x) else NotImplemented


def _reciprocal(c: float) -> float:
    """1 / c for a float, with IEEE's 1/0 = inf (Python raises ZeroDivisionError)."""
    return 1.0 / c if c else math.copysign(math.inf, c)


def _lift(x: Any) -> Value:
    """Lift a plain number to a constant leaf; a Value stays; NotImplemented for anything else."""
    if type(x) is float or type(x) is int:  # the common case, before the slow ABC check
        return _leaf(float(x))
    x = _operand(x)
    return _leaf(x) if type(x) is float else x


_new = object.__new__


def _leaf(data: float) -> Value:
    """A constant leaf: its op, CONSTANT, tells it apart from leaves users make (at no cost)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._a = None
    v._b = None
    v._op = ops.CONSTANT
    return v


def _make_method(op: Op) -> Callable[..., Value]:
    """Build the Value method that applies a primitive: forward now, derivative rule recorded."""
    forward, forward_array = op.forward, op.forward_array

    if op.arity == 2:
        def method(self: Value, other: Operand) -> Value:
            if type(other) is not Value:
                other = _lift(other)
                if other is NotImplemented:
                    return NotImplemented
            try:
                data = forward(self.data, other.data)
            except _IEEE_ERRORS:
                data = _ieee(forward_array, self.data, other.data)
            out = _new(Value)
            out.data = data
            out.grad = 0.0
            if _nograd_threads and not is_grad_enabled():
                out._a = out._b = None
                out._op = LEAF
            else:
                out._a = self
                out._b = other
                out._op = op
            return out
    else:
        def method(self: Value) -> Value:  # type: ignore[misc]
            try:
                data = forward(self.data)
            except _IEEE_ERRORS:
                data = _ieee(forward_array, self.data)
            out = _new(Value)
            out.data = data
            out.grad = 0.0
            out._b = None
            if _nograd_threads and not is_grad_enabled():
                out._a = None
                out._op = LEAF
            else:
                out._a = self
                out._op = op
            return out

    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = f"The primitive {op.name!r} (symbol {str(op)!r}) from the op table."
    return method


def _bind(op: Op) -> None:
    """Give a new op its ``apply`` method (ops made later, like x ** 7, get theirs when made)."""
    if op.arity:
        op.apply = _make_method(op)


def _family_method(family: ops.OpFamily) -> Callable[..., Value]:
    """The Value method of an op family: ``x.leaky_relu(0.2)`` applies the member for 0.2."""
    def method(self: Value, *args: Number, **kwargs: Number) -> Value:
        if len(args) + len(kwargs) > 1 or any(k != family.param_name for k in kwargs):
            raise TypeError(f"{family.name}() takes one constant, {family.param_name}")
        c = args[0] if args else kwargs.get(family.param_name, family.default)
        if c is None:
            raise TypeError(f"{family.name}() needs its constant, {family.param_name}")
        return family(_to_float(c, f"{family.name} {family.param_name}")).apply(self)
    method.__name__ = method.__qualname__ = family.name
    method.__doc__ = f"The primitive family {family.name!r} from the op table (default {family.default})."
    return method


def _add_method(entry: Op | ops.OpFamily) -> None:
    """Give Value the method of a table entry (+, * and ** are reached through operators)."""
    cls: Any = Value  # (type checkers see the methods' declarations in the class body)
    method = entry.apply if isinstance(entry, Op) else _family_method(entry)
    if entry.name == "add":
        cls.__add__ = cls.__radd__ = method  # other + self is recorded as self + other,
    elif entry.name == "mul":                # as micrograd does
        cls.__mul__ = cls.__rmul__ = method
    elif entry.name not in ("pow", "powc"):
        setattr(cls, entry.name, method)


def _install_ops() -> None:
    """Bind every op of the table, now and as more are declared, and give Value their methods."""
    ops._NEW_OP_HOOKS.append(_bind)
    ops._NEW_PRIMITIVE_HOOKS.append(_add_method)
    for entry in ops.OPS.values():
        if isinstance(entry, Op):
            _bind(entry)
        _add_method(entry)


_install_ops()
_binary_pow = ops.pow_.apply


def _custom_op(symbol: str, fn: Callable[[], None] | None = None) -> Op:
    """An op for nodes built by hand, Value(data, children, 'sym'): no rule unless given ``fn``."""
    op = Op(symbol, "custom")
    op.custom = fn
    return op


_GLUE = Op("", "glue")  # links the extra children of a hand-built node with more than two


_glue_made = False  # set once a glue node exists, so traversals only filter when they must


def _glue(rest: tuple[Value, ...]) -> Value:
    """Link Values r0, r1, ..., rn as glue(r0, glue(r1, ... rn)), built from the end."""
    global _glue_made
    _glue_made = True
    node = rest[-1]
    for child in reversed(rest[:-1]):
        link = _leaf(0.0)
        link._op, link._a, link._b = _GLUE, child, node
        node = link
    return node


# Labels live beside the nodes, not on them: most nodes have none, and a slot costs every node.
_labels: "weakref.WeakKeyDictionary[Value, str]" = weakref.WeakKeyDictionary()


# Hooks live beside the nodes too, for the same reason; backward() takes its general path
# whenever any Value with a hook is alive.
_hooks: weakref.WeakKeyDictionary[Value, list[Callable[[Any], Any]]] = weakref.WeakKeyDictionary()


class RemovableHandle:
    """Returned by :meth:`Value.register_hook`; ``remove()`` unregisters the hook."""

    __slots__ = ("_hook", "_node")

    def __init__(self, node: Value, hook: Callable[[Any], Any]) -> None:
        self._node = weakref.ref(node)
        self._hook = hook

    def remove(self) -> None:
        """Unregister the hook (a no-op if it is already gone)."""
        node = self._node()
        if node is None:
            return
        fns = _hooks.get(node)
        if fns and self._hook in fns:
            fns.remove(self._hook)
            if not fns:
                del _hooks[node]


# --- the namespace rules use when they run on Values (higher-order gradients) ---------------

VALUE_NAMESPACE: dict[str, Callable[..., Any]] = {
    "exp": lambda x: x.exp() if type(x) is Value else ops.exp(x),
    "log": lambda x: x.log() if type(x) is Value else ops.log(x),
    "sqrt": lambda x: x.sqrt() if type(x) is Value else ops.sqrt(x),
    "tanh": lambda x: x.tanh() if type(x) is Value else ops.tanh(x),
    "pow": lambda x, y: x ** y,
    "where": ops.where,  # conditions compare .data, so the float version serves
    "iszero": lambda x: (x.data if type(x) is Value else x) == 0,
}
