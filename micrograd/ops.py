"""The op table: every primitive operation, declared once.

Each primitive is a forward function and a derivative rule, side by side. A rule receives the
gradient flowing into the node (``g``), the node's own value (``out``) and the values of its
arguments, and returns the gradient for each argument: one value for a unary op, a pair for a
binary op. Rules use ordinary arithmetic plus the few names of :data:`NAMESPACE` (``exp``, ``log``,
``sqrt``, ``tanh``, ``pow``, ``where``, ``iszero``; forwards may also use ``log_add_exp``), so one
rule runs on three kinds of numbers:

- floats, for the fast scalar backward pass;
- Values, for higher-order gradients (the rule builds a graph of its own);
- numpy arrays, for the compiled tape.

:func:`specialise` rebinds those names for each kind. Everything else a primitive needs (its
symbol in the graph picture, its PyTorch counterpart and the input domain its tests sample from)
sits in the same declaration, so adding an op is one edit to this file.

Derived operations (subtraction, division, negation, ...) are compositions of these, written in
``engine.py``.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any, Callable

import numpy as np

__all__ = ["Op", "OpFamily", "OPS", "NAMESPACE", "primitive", "specialise", "LEAF", "CONSTANT"]


# ---------------------------------------------------------------------------------------------
# The namespace rules are written in. These are the float versions; ``specialise`` swaps them for
# the numpy or Value versions. Float maths raises on domain errors and overflow; the engine catches
# that and reruns the same rule on numpy float64 scalars, which follow IEEE (log(0) = -inf, ...).

def where(cond: Any, x: Any, y: Any) -> Any:
    """where(c, x, y) = x if c else y (elementwise for arrays)."""
    return x if cond else y


def iszero(x: Any) -> Any:
    """iszero(x) = (x == 0), comparing numbers (Values compare by identity, so not with ==)."""
    return x == 0


exp, log, sqrt, tanh, pow = math.exp, math.log, math.sqrt, math.tanh, math.pow


def log_add_exp(a: float, b: float) -> float:
    """log(e^a + e^b), never overflowing: the larger plus log1p(e^-|a - b|) (torch's and numpy's
    formula; numpy's ``np.logaddexp`` is the array version). Forwards only: no Value version."""
    if a == b:
        return a + 0.6931471805599453  # exact, and inf + inf stays inf
    return (a if a > b else b) + math.log1p(math.exp(-abs(a - b)))

NAMESPACE = ("exp", "log", "sqrt", "tanh", "pow", "where", "iszero")

_ARRAY_NAMESPACE = {  # (iszero's float version already works on arrays)
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh, "pow": np.power, "where": np.where,
    "log_add_exp": np.logaddexp,
}


# The engine listens here: it binds every new Op's ``apply`` and gives every table entry its
# Value method, whether declared in this file or later by a user.
_NEW_OP_HOOKS: list[Callable[["Op"], None]] = []
_NEW_PRIMITIVE_HOOKS: list[Callable[["Op | OpFamily"], None]] = []


class Op(str):
    """A primitive operation: its forward function and derivative rule declared together.

    An Op *is* its symbol (a ``str`` such as ``'+'`` or ``'tanh'``), so ``value._op`` reads like
    karpathy's micrograd, where ``_op`` is a string; the rest hangs off the string as attributes.
    """

    name: str                       # Python name: Value.<name>() for unary ops, ops.<name>
    arity: int                      # number of Value arguments (0 for leaves)
    forward: Callable[..., Any]     # f(a[, b]) -> out, on floats
    derivative: Callable[..., Any]  # rule(g, out, a[, b]) -> grad_a or (grad_a, grad_b), on floats
    param: Any                      # the constant of a family member (the 2 of x**2), else None
    family: "OpFamily | None"       # the family this op belongs to
    torch: Callable[..., Any] | None  # the PyTorch counterpart, for the tests
    domain: tuple[tuple[float, float], ...]  # per argument: the interval tests sample from
    kinks: tuple[float, ...]        # points where the derivative jumps; tests keep samples away
    commutative: bool               # f(a, b) == f(b, a): pictures leave its argument order unlabelled
    forward_array: Callable[..., Any]     # forward on numpy arrays
    derivative_array: Callable[..., Any]  # the rule on numpy arrays (and numpy float64 scalars)
    apply: Callable[..., Any]             # the Value method applying this op (set by the engine)
    custom: Callable[[], None] | None     # a hand-built node's own backward closure
    _raw: tuple[Callable[..., Any] | None, Callable[..., Any] | None]  # as declared
    _derivative_value: Callable[..., Any] | None  # the rule on Values, made on first use

    def __new__(cls, symbol: str, name: str, arity: int = 0, forward: Callable[..., Any] | None = None,
                derivative: Callable[..., Any] | None = None, *, param: Any = None,
                family: "OpFamily | None" = None, torch: Callable[..., Any] | None = None,
                domain: tuple[tuple[float, float], ...] = (), kinks: tuple[float, ...] = (),
                commutative: bool = False) -> "Op":
        self = super().__new__(cls, symbol)
        self.name, self.arity, self.param, self.family = name, arity, param, family
        self.commutative = commutative
        self.torch, self.domain, self.kinks = torch, domain, kinks
        self._raw = (forward, derivative)
        self.forward = specialise(forward, "float", param)
        self.derivative = specialise(derivative, "float", param)
        self.forward_array = specialise(forward, "array", param)
        self.derivative_array = specialise(derivative, "array", param)
        self._derivative_value = None
        self.custom = None
        self.apply = _no_rule
        for hook in _NEW_OP_HOOKS:
            hook(self)
        return self

    @property
    def derivative_value(self) -> Callable[..., Any]:
        """The derivative rule running on Values (for gradients of gradients)."""
        if self._derivative_value is None:
            self._derivative_value = specialise(self._raw[1], "value", self.param)
        return self._derivative_value

    def __reduce__(self) -> Any:
        # Ops are singletons of the table (or of a family): pickle them by name.
        return (_lookup, (self.name, self.param))

    def __repr__(self) -> str:
        return f"<op {self.name} {str.__repr__(self)}>"


class OpFamily:
    """Primitive ops parameterised by a constant, e.g. ``x ** c`` or ``leaky_relu(x, slope)``.

    Calling the family with a constant returns the member Op for it (cached). The constant is the
    last argument of ``forward`` and ``derivative``.
    """

    def __init__(self, name: str, symbol: Callable[[Any], str], arity: int, forward: Callable[..., Any],
                 derivative: Callable[..., Any], *, torch: Callable[..., Any] | None = None,
                 domain: Callable[[Any], tuple[tuple[float, float], ...]],
                 kinks: Callable[[Any], tuple[float, ...]] = lambda c: (), examples: tuple[Any, ...] = (),
                 default: float | None = None, param_name: str = "c") -> None:
        self.name, self.symbol, self.arity = name, symbol, arity
        self.default = default  # the constant Value.<name>() uses when none is given
        self.param_name = param_name  # its keyword in Value.<name>(...)
        self.forward, self.derivative, self.torch = forward, derivative, torch
        self.domain, self.kinks = domain, kinks
        self.examples = examples  # constants the op tests run with
        self._members: dict[float, Op] = {}  # made on first use; x ** 2 looks its member up here

    def _make(self, param: float) -> Op:
        return Op(self.symbol(param), self.name, self.arity, self.forward, self.derivative, param=param,
                  family=self, torch=self.torch, domain=self.domain(param), kinks=self.kinks(param))

    def __call__(self, param: Any) -> Op:
        member = self._members.get(param)  # (2, 2.0 and np.float64(2) are one key)
        if member is None:
            if len(self._members) >= 4096:  # a program sweeping constants: start afresh
                self._members.clear()
            member = self._members[param] = self._make(float(param))
        return member

    def __repr__(self) -> str:
        return f"<op family {self.name}>"


def specialise(rule: Callable[..., Any] | None, kind: str, param: Any = None) -> Callable[..., Any]:
    """Return ``rule`` with the namespace names bound for ``kind`` ('float', 'array' or 'value').

    The same code object runs with other globals: this is how one declaration serves the scalar
    backward pass, the compiled tape and higher-order gradients. A family's constant is bound last.
    """
    if rule is None:
        return _no_rule
    if kind == "float":
        fn = rule
    else:
        names = dict(rule.__globals__)
        if kind == "array":
            names.update(_ARRAY_NAMESPACE)
        else:
            from . import engine  # the Value versions live with Value
            names.update(engine.VALUE_NAMESPACE)
        fn = types.FunctionType(rule.__code__, names, rule.__name__, rule.__defaults__, rule.__closure__)
    if param is not None:
        fn = functools.partial(fn, c=param)
    return fn


def _no_rule(*args: Any) -> Any:
    raise TypeError("this node has no derivative rule")


# ---------------------------------------------------------------------------------------------
# The table. Symbols follow karpathy's micrograd where it has the op ('+', '*', '**2', 'ReLU').

#: Every primitive, by name: the single list the engine, the tests, the picture and the compiler read.
OPS: dict[str, Op | OpFamily] = {}


def primitive(entry: Op | OpFamily) -> Any:
    """Enter an op (or op family) in the table; declaring ``x = primitive(Op(...))`` is all it takes."""
    if entry.name in OPS:
        raise ValueError(f"an op named {entry.name!r} is already in the table")
    OPS[entry.name] = entry
    for hook in _NEW_PRIMITIVE_HOOKS:
        hook(entry)
    return entry


LEAF = Op("", "leaf")  # inputs and parameters: nothing to differentiate through
CONSTANT = Op("", "constant")  # a leaf the engine lifted from a plain number (the 2 of x * 2)

add = primitive(Op(
    "+", "add", 2,
    lambda a, b: a + b,
    lambda g, out, a, b: (g, g),
    torch=lambda t, a, b: t.add(a, b), domain=((-10, 10), (-10, 10)), commutative=True))

mul = primitive(Op(
    "*", "mul", 2,
    lambda a, b: a * b,
    lambda g, out, a, b: (g * b, g * a),
    torch=lambda t, a, b: t.mul(a, b), domain=((-10, 10), (-10, 10)), commutative=True))

# a ** b with b a Value. Like torch: d/da is 0 where b == 0, d/db is 0 where a == 0 and b >= 0.
# (So the second derivative d2/da db jumps at b == 0: a kink, which samples keep away from.)
pow_ = primitive(Op(
    "**", "pow", 2,
    lambda a, b: pow(a, b),
    lambda g, out, a, b: (where(iszero(b), 0.0 * g, g * b * pow(a, b - 1.0)),
                          where(iszero(a) & (b >= 0), 0.0 * g, g * out * log(a))),
    torch=lambda t, a, b: t.pow(a, b), domain=((0.1, 5), (-3, 3)), kinks=(0.0,)))

# a ** c with c a constant (torch's pow(Tensor, Scalar)): no gradient is computed for c.
powc = primitive(OpFamily(
    "powc", lambda c: f"**{c:g}", 1,
    lambda a, c: pow(a, c),
    lambda g, out, a, c: 0.0 * g if c == 0 else g * c * pow(a, c - 1.0),
    torch=lambda t, a, c: t.pow(a, c),
    domain=lambda c: ((-4, 4),) if c == int(c) else ((0.05, 4),),
    kinks=lambda c: (0.0,) if c == int(c) and c < 0 else (),
    examples=(2, 3, -1, -2, 0.5, -0.5, 1.5, 0)))

relu = primitive(Op(
    "ReLU", "relu", 1,
    lambda a: where(a < 0, 0.0, a),  # written so that relu(nan) = nan, as torch
    lambda g, out, a: where(out <= 0, 0.0, g),  # relu'(0) = 0, as torch
    torch=lambda t, a: t.relu(a), domain=((-5, 5),), kinks=(0.0,)))

leaky_relu = primitive(OpFamily(
    "leaky_relu", lambda c: f"LeakyReLU({c:g})", 1,
    lambda a, c: where(a > 0, a, a * c),
    lambda g, out, a, c: where(a > 0, g, g * c),  # the slope at 0, as torch
    torch=lambda t, a, c: t.nn.functional.leaky_relu(a, c),
    domain=lambda c: ((-5, 5),), kinks=lambda c: (0.0,), examples=(0.01, 0.2),
    default=0.01, param_name="slope"))

tanh_ = primitive(Op(
    "tanh", "tanh", 1,
    lambda a: tanh(a),
    lambda g, out, a: g * (1.0 - out * out),
    torch=lambda t, a: t.tanh(a), domain=((-5, 5),)))

sigmoid = primitive(Op(
    "sigmoid", "sigmoid", 1,
    lambda a: 1.0 / (1.0 + exp(-a)),
    lambda g, out, a: g * out * (1.0 - out),
    torch=lambda t, a: t.sigmoid(a), domain=((-10, 10),)))

exp_ = primitive(Op(
    "exp", "exp", 1,
    lambda a: exp(a),
    lambda g, out, a: g * out,
    torch=lambda t, a: t.exp(a), domain=((-5, 5),)))

log_ = primitive(Op(
    "log", "log", 1,
    lambda a: log(a),
    lambda g, out, a: g / a,
    torch=lambda t, a: t.log(a), domain=((0.05, 10),)))

sqrt_ = primitive(Op(
    "sqrt", "sqrt", 1,
    lambda a: sqrt(a),
    lambda g, out, a: g / (2.0 * out),
    torch=lambda t, a: t.sqrt(a), domain=((0.05, 10),)))

abs_ = primitive(Op(
    "abs", "abs", 1,
    lambda a: abs(a),
    lambda g, out, a: g * ((a > 0) * 1.0 - (a < 0)),  # sign(a); abs'(0) = 0, as torch
    torch=lambda t, a: t.abs(a), domain=((-5, 5),), kinks=(0.0,)))

# log(exp(a) + exp(b)), never overflowing: the max plus a term in [0, log 2] (torch's formula).
# Smooth everywhere, so it serves log-sum-exp (softmax, cross-entropy) and softplus(x) =
# logaddexp(x, 0) (binary cross-entropy on logits) with no comparison on Values.
logaddexp = primitive(Op(
    "logaddexp", "logaddexp", 2,
    lambda a, b: log_add_exp(a, b),
    lambda g, out, a, b: (g * exp(a - out), g * exp(b - out)),
    torch=lambda t, a, b: t.logaddexp(a, b), domain=((-40, 40), (-40, 40))))


def _lookup(name: str, param: Any) -> Op:
    if name in ("leaf", "constant"):
        return LEAF if name == "leaf" else CONSTANT
    entry = OPS[name]
    return entry(param) if isinstance(entry, OpFamily) else entry
