"""Value: a scalar that records the arithmetic done with it, and backward() to differentiate it.

The graph is plain data. Each Value holds its number, its gradient, its arguments and its op (a
row of the op table in ``ops.py``); there are no closures on nodes, so a graph has no reference
cycles and CPython frees it the moment the last reference drops. ``backward()`` (``backward.py``)
walks the graph with an explicit stack, never recursion, so a million-node chain is fine.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Union

from . import anomaly, glue, hooks, modes, ops
from .backward import IEEE_ERRORS, ieee, order, propagate, run, topological_order
from .gc_pause import gc_paused
from .labels import label_of, set_label
from .modes import is_grad_enabled, no_grad
from .ops import CONSTANT, LEAF, Op
from .scalars import is_real, to_float
from .traced import TracedNumber
from .xp import FLOATS

__all__ = ["Value", "no_grad", "is_grad_enabled", "gc_paused", "topological_order", "weighted_sum"]

Number = Union[int, float]
Operand = Union["Value", int, float]


class Value:
    """A scalar in a computation graph: ``.data`` is its number, ``.grad`` d(output)/d(this).

    ``data`` (and any number an operator meets) is any real number: int, float, bool, Fraction,
    Decimal or a numpy real scalar, stored as the nearest float (``float(x)``: ``Fraction(1, 3)``
    becomes 0.3333333333333333, ``2**53 + 1`` becomes 2**53); nan and +-inf are kept (IEEE). A
    finite number beyond the float range (``10**400``, ``Decimal('1e400')``) raises ValueError
    naming the argument, rather than becoming inf; a str, complex, None or sequence raises
    TypeError (the rule lives in ``scalars.py``, the one boundary).

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> c.data, a.grad, b.grad
    (-4.0, -2.0, 2.0)
    """

    __slots__ = (
        "data",         # float: the value
        "grad",         # float: d(root)/d(this), accumulated by backward() (a Value with create_graph)
        "_a",           # Value or None: the op's first argument  } the children: two slots, not a
        "_b",           # Value or None: the op's second argument } tuple, halve the objects per node
        "op",           # Op: the row of the op table that made this node (LEAF for leaves)
        "_hooks",       # list of gradient hooks, set only on hooked nodes (hooks.py owns it)
        "__weakref__",  # so labels, hooks and caches can refer to a node without keeping it alive
    )

    def __init__(self, data: Number, _children: Iterable[Value] = (), _op: str | Op = "",
                 label: str | None = None) -> None:
        self.data: float = data if type(data) is float else to_float(data, "Value data")
        self.grad: Any = 0.0
        children = tuple(_children)
        for child in children:
            if not isinstance(child, Value):
                raise TypeError(f"Value children must be Values, got {type(child).__name__}")
        if isinstance(_op, Op):
            if _op.arity and len(children) != _op.arity:
                raise TypeError(f"op {_op.name!r} takes {_op.arity} children, got {len(children)}")
        elif isinstance(_op, str):  # a hand-built node: no rule unless a _backward is given
            _op = Op(_op, "custom") if (_op or children) else LEAF
        else:
            raise TypeError(f"Value _op must be a str, got {type(_op).__name__}")
        self.op: Op = _op
        self._a: Value | None = children[0] if children else None
        self._b: Value | None = None
        if len(children) == 2:
            self._b = children[1]
        elif len(children) > 2:  # chain the rest through glue nodes (glue.py)
            self._b = glue.chain(children[1:], _link)
        if label is not None:
            set_label(self, label)

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The op's arguments, in order (micrograd's ``_prev``; empty for leaves)."""
        return glue.unchain(self._a, self._b)

    @property
    def _op(self) -> str:
        """The op's symbol, micrograd's ``_op`` ('+', '*', '**2', 'ReLU'; '' for leaves)."""
        return self.op.symbol

    # -- the operators. + and * are micrograd's hot path: their forward (ops.add's and ops.mul's,
    # which never raise on floats) is written inline, and so is making the node (_node's work, and
    # _lift's for a float operand) while no no_grad() or detect_anomaly() block is open: a Python
    # call costs about as much as the rest of the op. A plain number operand is lifted to a
    # constant leaf (x * 2); derived operations are compositions of primitives.
    def __add__(self, other: Operand) -> Value:  # self + other
        if type(other) is not Value:
            if type(other) is float:  # _lift's constant leaf, written out (x + 0.5 is the common case)
                c = _new(Value)
                c.data = other
                c.grad = 0.0
                c._a = c._b = None
                c.op = CONSTANT
                other = c
            else:
                other = _lift(other)
                if other is NotImplemented:
                    return NotImplemented
        if modes.open_blocks:
            return _node(self.data + other.data, self, other, _ADD)
        out = _new(Value)  # _node's work, written out: a call less on the hot path
        out.data = self.data + other.data
        out.grad = 0.0
        out._a = self
        out._b = other
        out.op = _ADD
        return out

    __radd__ = __add__  # other + self is recorded as self + other, as micrograd does

    def __mul__(self, other: Operand) -> Value:  # self * other
        if type(other) is not Value:
            if type(other) is float:  # _lift's constant leaf, written out (x * 0.5 is the common case)
                c = _new(Value)
                c.data = other
                c.grad = 0.0
                c._a = c._b = None
                c.op = CONSTANT
                other = c
            else:
                other = _lift(other)
                if other is NotImplemented:
                    return NotImplemented
        if modes.open_blocks:
            return _node(self.data * other.data, self, other, _MUL)
        out = _new(Value)  # as in __add__
        out.data = self.data * other.data
        out.grad = 0.0
        out._a = self
        out._b = other
        out.op = _MUL
        return out

    __rmul__ = __mul__

    def __pow__(self, other: Operand) -> Value:  # self ** other
        if isinstance(other, Value):
            return self.apply(ops.pow, other)
        c = _operand(other)  # a constant exponent: no gradient for it
        return NotImplemented if c is NotImplemented else _unary(self, ops.powc(c))

    def __rpow__(self, other: Operand) -> Value:  # other ** self
        base = _lift(other)
        return NotImplemented if base is NotImplemented else base.apply(ops.pow, self)

    def __neg__(self) -> Value:  # -self
        return self * -1.0

    def __pos__(self) -> Value:  # +self
        return self

    def __sub__(self, other: Operand) -> Value:  # self - other
        other = _operand(other)
        return NotImplemented if other is NotImplemented else self + (-other)

    def __rsub__(self, other: Operand) -> Value:  # other - self
        other = _operand(other)
        return NotImplemented if other is NotImplemented else (-self) + other

    def __truediv__(self, other: Operand) -> Value:  # self / other
        other = _lift(other)
        return NotImplemented if other is NotImplemented else self.apply(ops.div, other)

    def __rtruediv__(self, other: Operand) -> Value:  # other / self
        other = _lift(other)
        return NotImplemented if other is NotImplemented else other.apply(ops.div, self)

    def relu(self) -> Value:
        """max(0, x) (relu(nan) = nan, relu(-0.0) = -0.0: ops.relu's forward)."""
        if modes.open_blocks:
            return _unary(self, ops.relu)
        x = self.data  # ops.relu's forward written out, as __add__'s: a network's other common op
        out = _new(Value)
        out.data = 0.0 if x < 0 else x
        out.grad = 0.0
        out._a = self
        out._b = None
        out.op = _RELU
        return out

    def leaky_relu(self, slope: Number = 0.01) -> Value:
        """x if x > 0 else slope * x."""
        return _unary(self, ops.leaky_relu(to_float(slope, "leaky_relu slope")))

    def tanh(self) -> Value:
        """tanh(x)."""
        return _unary(self, ops.tanh)

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x)."""
        return _unary(self, ops.sigmoid)

    def exp(self) -> Value:
        """e^x."""
        return _unary(self, ops.exp)

    def log(self) -> Value:
        """ln(x) (log(0) = -inf, log of a negative number = nan, as IEEE)."""
        return _unary(self, ops.log)

    def sqrt(self) -> Value:
        """x ** 0.5."""
        return _unary(self, ops.sqrt)

    def abs(self) -> Value:
        """|x|."""
        return _unary(self, ops.abs)

    __abs__ = abs

    def logaddexp(self, other: Operand) -> Value:
        """log(e^x + e^other), never overflowing."""
        return self.apply(ops.logaddexp, other)

    def max(self, other: Operand) -> Value:
        """other if other > x or other is nan, else x: a tie's gradient goes to x (torch's max pooling)."""
        return self.apply(ops.maximum, other)

    def apply(self, op: Op, *others: Operand) -> Value:
        """op(self, *others): any primitive of the table, built in or declared later."""
        if not isinstance(op, Op) or op.arity != 1 + len(others):
            raise TypeError(f"{op!r} is not an op taking {1 + len(others)} argument(s)")
        if op.arity == 1:
            return _unary(self, op)
        other = _lift(others[0])
        if other is NotImplemented:
            raise TypeError(f"op {op.name!r} needs a Value or a number, got {type(others[0]).__name__}")
        try:
            data = op.forward(FLOATS, self.data, other.data)
        except IEEE_ERRORS:
            data = ieee(op.forward, self.data, other.data)
        return _node(data, self, other, op)

    # -- backward -----------------------------------------------------------------------------
    def backward(self, gradient: Operand = 1.0, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(node) * gradient into ``.grad`` of every node of the graph.

        Like PyTorch, gradients add up across calls: calling it twice doubles every ``.grad``.
        With ``create_graph=True`` each ``.grad`` becomes a Value with a graph of its own (the
        derivative rules run on Values), so it can be differentiated again, as in PyTorch.
        Hooks (:meth:`register_hook`) run during the pass.
        """
        if create_graph:
            seed: Any = gradient if isinstance(gradient, Value) else Value(to_float(gradient, "backward gradient"))
        else:
            seed = gradient.data if isinstance(gradient, Value) else to_float(gradient, "backward gradient")
        run(self, seed, create_graph)

    @property
    def _backward(self) -> Callable[[], None]:
        """Push this node's ``.grad`` into its children's once (micrograd's per-node backward)."""
        return functools.partial(propagate, self)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        # A node built karpathy-style, Value(data, children, 'op'), then given its own closure.
        # The closure usually refers to the node, a reference cycle the user opted into.
        self.op = Op(self.op.symbol, "custom", closure=fn)

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on every node of this Value's graph."""
        for v in topological_order(self):
            v.grad = 0.0

    def register_hook(self, hook: Callable[[Any], Any]) -> hooks.RemovableHandle:
        """Call ``hook(grad)`` during backward with the gradient flowing into this Value.

        As in PyTorch: the gradient is the sum over all uses of this Value, the hook runs once
        per pass, and a value it returns (not None) replaces the gradient, both in ``.grad`` and
        in what flows on to this Value's children. Returns a handle whose ``remove()`` undoes it.
        """
        return hooks.add_hook(self, hook)

    def detach(self) -> Value:
        """A new leaf Value with the same data and no history."""
        _traced(self, "detach()")  # a tape would bake the traced sample's number
        return Value(self.data)

    def nodes(self) -> list[Value]:
        """Every node of the graph, children before parents."""
        return topological_order(self)

    # -- labels (drawn in graph pictures: labels.py), pickling, printing ------------------------
    @property
    def label(self) -> str:
        """An optional name shown in graph pictures ('' if none)."""
        return label_of(self) or ""

    @label.setter
    def label(self, text: str) -> None:
        set_label(self, text)

    # Copies and pickles of a graph are made from a flat list of its nodes, children first, never
    # by recursion: a 100k-op chain copies like a 3-op one. Gradients are set once every node
    # exists, as a Value's grad (create_graph) has a graph that leads back to the node. Hooks are
    # not copied. A leaf pickles as itself, so a model's parameters pickled beside a graph stay
    # its leaves; an inner node pickled apart from its graph is a copy of it.
    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle a leaf as its fields; any other node as its whole graph, one record per node."""
        if self._a is None:
            return (_leaf, (type(self), self.data, self.op, label_of(self)), self.grad, None, None, _set_grad)
        nodes = order(self)
        return (_graph, (_records(nodes),), [v.grad for v in nodes if v._a is not None], None, None, _set_grads)

    def __copy__(self) -> Value:
        """A new node with this one's fields and the same children."""
        return _shell(self, self.grad, self._a, self._b, self.op)

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        """A new graph: every node copied once (the ``memo`` keeps sharing, as ``copy.deepcopy`` does)."""
        made = []
        for v in order(self):
            if id(v) not in memo:
                a, b = v._a, v._b
                memo[id(v)] = _shell(v, 0.0, None if a is None else memo[id(a)], None if b is None else memo[id(b)],
                                     copy.deepcopy(v.op, memo))
                made.append(v)
        for v in made:
            memo[id(v)].grad = copy.deepcopy(v.grad, memo)
        return memo[id(self)]  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    # -- conversions and comparisons. While micrograd.compile traces a function these would bake
    # one branch into the tape, so each tells the tracer first (modes.tracer()).
    def __float__(self) -> float:
        _traced(self, "float()")
        return self.data

    def __bool__(self) -> bool:
        _traced(self, "bool()")
        return True  # a node is always truthy, as micrograd's (which has no __bool__)

    def __lt__(self, other: Operand) -> bool:
        _traced(self, "<")
        return self.data < _number(other)

    def __le__(self, other: Operand) -> bool:
        _traced(self, "<=")
        return self.data <= _number(other)

    def __gt__(self, other: Operand) -> bool:
        _traced(self, ">")
        return self.data > _number(other)

    def __ge__(self, other: Operand) -> bool:
        _traced(self, ">=")
        return self.data >= _number(other)

    # __eq__ and __hash__ stay object's: Values are nodes, equal only to themselves (and hashing in
    # C, not through a Python-level __hash__, keeps graph traversal fast).


# --- making nodes ----------------------------------------------------------------------------------

_new = object.__new__
_ADD, _MUL, _RELU = ops.add, ops.mul, ops.relu


def _node(data: float, a: Value, b: Value | None, op: Op) -> Value:
    """A new node: ``data``, made by ``op`` from ``a`` (and ``b``); a leaf inside no_grad()."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out._a = a
    out._b = b
    out.op = op
    if modes.open_blocks:  # a no_grad() or detect_anomaly() block is open in some thread
        state = modes.state  # this thread's
        if modes.anomaly_blocks and state.anomaly:
            anomaly.check_forward(out, op, (a,) if b is None else (a, b))
        if state.no_grad:
            out._a = out._b = None
            out.op = LEAF
        if state.traced is not None:  # micrograd.compile is tracing: the number is the engine's only
            out.data = TracedNumber(data)
            state.traced.append(out)
    return out


def weighted_sum(bias: Value, weights: Sequence[Value], inputs: Sequence[Any]) -> Value:
    """bias + w0*x0 + w1*x1 + ...: the graph the operators record (a '*' node per term, a '+'
    node adding it to the sum so far, micrograd's ``sum((wi*xi ...), b)``), node for node.

    A neuron's sum is most of a network's forward pass, so the nodes are made here as ``__add__``
    and ``__mul__`` make them, without a Python call per node (float + and * never raise). A term
    that is not two plain Values (a number, a subclass), and any term while a no_grad(),
    detect_anomaly() or tracing block is open, goes through the operators.
    """
    act = bias
    if type(bias) is not Value or modes.open_blocks:
        for w, x in zip(weights, inputs):
            act = act + w * x
        return act
    for w, x in zip(weights, inputs):
        if type(x) is not Value or type(w) is not Value:
            act = act + w * x
            continue
        term = _new(Value)  # w * x, as __mul__ makes it
        term.data = w.data * x.data
        term.grad = 0.0
        term._a = w
        term._b = x
        term.op = _MUL
        total = _new(Value)  # act + term, as __add__ makes it
        total.data = act.data + term.data
        total.grad = 0.0
        total._a = act
        total._b = term
        total.op = _ADD
        act = total
    return act


def _unary(x: Value, op: Op) -> Value:
    """op(x) for a one-argument primitive, IEEE special values included (log(0) = -inf)."""
    try:
        data = op.forward(FLOATS, x.data)
    except IEEE_ERRORS:
        data = ieee(op.forward, x.data)
    return _node(data, x, None, op)


def _link(a: Value, b: Value) -> Value:
    """A glue node (glue.py) linking a hand-built node's extra children."""
    v = _new(Value)
    v.data, v.grad, v._a, v._b, v.op = 0.0, 0.0, a, b, glue.GLUE
    return v


_INT_LIMIT = 2 ** 1023  # ints below it in magnitude convert to a float; larger ones take to_float's check


def _operand(x: Any) -> Any:
    """A Value (or subclass) as it is, a plain number as a float; NotImplemented for anything else."""
    if type(x) is Value or type(x) is float:
        return x
    if type(x) is int and -_INT_LIMIT < x < _INT_LIMIT:  # before the slow ABC check: x ** 2, x - 1
        return float(x)
    if isinstance(x, Value):
        return x
    return to_float(x, "operand") if is_real(x) else NotImplemented


def _lift(x: Any) -> Any:
    """A Value as it is, a plain number as a constant leaf (op CONSTANT, told apart from leaves
    users make); NotImplemented for anything else."""
    if type(x) is not float:
        x = _operand(x)
        if type(x) is not float:
            return x
    v = _new(Value)
    v.data = x
    v.grad = 0.0
    v._a = v._b = None
    v.op = CONSTANT
    return v


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else to_float(x, "comparison operand")


def _traced(value: Value, what: str) -> None:
    hook = modes.state.tracer
    if hook is not None:
        hook(value, what)


# --- copies and pickles (Value.__reduce__, __copy__, __deepcopy__) ------------------------------

Record = Union["Value", tuple[Any, ...]]


def _shell(v: Value, grad: Any, a: Value | None, b: Value | None, op: Op) -> Value:
    """A new node of ``v``'s class with ``v``'s data and label and the given other fields."""
    twin = _new(type(v))
    twin.data, twin.grad, twin._a, twin._b, twin.op = v.data, grad, a, b, op
    label = label_of(v)
    if label is not None:
        set_label(twin, label)
    return twin


def _records(nodes: list[Value]) -> list[Record]:
    """A graph's nodes, children first: a leaf as itself (pickled on its own), any other node as
    (class, data, op, label, index of its first child, index of its second or -1)."""
    index = {v: i for i, v in enumerate(nodes)}
    return [v if v._a is None else
            (type(v), v.data, v.op, label_of(v), index[v._a], -1 if v._b is None else index[v._b])
            for v in nodes]


def _graph(records: list[Record]) -> Value:
    """The root (the last node) of a graph pickled by ``_records``; grads come after (``_set_grads``)."""
    nodes: list[Value] = []
    for r in records:
        if type(r) is tuple:
            cls, data, op, label, a, b = r
            r = _leaf(cls, data, op, label)
            r._a, r._b = nodes[a], None if b < 0 else nodes[b]
        nodes.append(r)  # type: ignore[arg-type]
    return nodes[-1]


def _set_grads(root: Value, grads: list[Any]) -> None:
    """Give the inner nodes of a graph made by ``_graph`` their grads (leaves carry their own)."""
    inner = [v for v in order(root) if v._a is not None]  # (the order _records saw: the same graph)
    for v, g in zip(inner, grads):
        v.grad = g


def _leaf(cls: type[Value], data: float, op: Op, label: str | None) -> Value:
    """A pickled leaf (grad 0 until ``_set_grad``)."""
    v = _new(cls)
    v.data, v.grad, v._a, v._b, v.op = data, 0.0, None, None, op
    if label is not None:
        set_label(v, label)
    return v


def _set_grad(v: Value, grad: Any) -> None:
    v.grad = grad
