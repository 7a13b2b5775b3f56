"""The op table: every primitive operation, declared once.

A primitive is a forward function and a derivative rule, side by side. Both receive first the
namespace ``xp`` of the numbers they run on and reach every maths function through it (``xp.exp``,
``xp.log``, ``xp.where``, ...), so one declaration runs on three kinds of numbers:

- ``xp.FLOATS`` (the math module): the scalar forward pass and the fast backward pass;
- ``xp.ARRAYS`` (numpy): the compiled tape, and IEEE values where float maths raises (log(0) = -inf);
- ``xp.VALUES`` (each op of this table by its name): rules building graphs, for higher-order gradients.

A rule ``rule(xp, g, out, a[, b])`` receives the gradient flowing into the node, the node's own
value and its arguments' values, and returns the gradient of each argument (a pair for two). The
rest of a declaration (symbol, PyTorch counterpart, the domain its tests sample) sits beside it.
``micrograd.primitive(Op(...))`` checks a new op on all three kinds and enters it here.
Subtraction and negation are compositions, written in ``engine.py`` (see the note at ``mul``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

__all__ = ["Op", "OpFamily", "OPS", "enter", "remove", "LEAF", "CONSTANT"]


class Op:
    """A primitive: forward and derivative rule declared together. Ops compare by identity;
    ``str(op)`` is the symbol drawn and printed (``'+'``, ``'**2'``, ``'ReLU'``)."""

    __slots__ = ("symbol", "name", "arity", "forward", "rule", "torch", "domain", "kinks", "kink_at_ties",
                 "commutative", "param", "family", "closure")

    def __init__(self, symbol: str, name: str, arity: int = 0, forward: Callable[..., Any] | None = None,
                 rule: Callable[..., Any] | None = None, *, torch: Callable[..., Any] | None = None,
                 domain: tuple[tuple[float, float], ...] = (), kinks: tuple[float, ...] = (),
                 kink_at_ties: bool = False, commutative: bool = False, param: float | None = None,
                 family: OpFamily | None = None, closure: Callable[[], None] | None = None) -> None:
        if param is not None:  # a family member: its constant is bound as the last argument
            forward, rule = functools.partial(forward, c=param), functools.partial(rule, c=param)
        self.symbol = symbol            # drawn in graph pictures; micrograd's _op string
        self.name = name                # its key in OPS, and xp.<name> on Values
        self.arity = arity              # number of Value arguments (0 for leaves)
        self.forward = forward          # forward(xp, a[, b]) -> out
        self.rule = rule                # rule(xp, g, out, a[, b]) -> grad_a or (grad_a, grad_b)
        self.torch = torch              # torch(t, a[, b]): the PyTorch counterpart, for tests
        self.domain = domain            # per argument: the interval checks and tests sample
        self.kinks = kinks              # where the derivative jumps: tests keep samples away
        self.kink_at_ties = kink_at_ties  # it jumps where a == b too (max): tests keep a and b apart
        self.commutative = commutative  # f(a, b) == f(b, a): pictures leave the order unlabelled
        self.param = param              # the constant of a family member (the 2 of x ** 2)
        self.family = family            # the family this member belongs to
        self.closure = closure          # a hand-built node's own _backward (karpathy's extension)

    def __call__(self, x: Any, *others: Any) -> Any:
        """op(x, y): this op applied to Values (``x.apply(op, y)``)."""
        return x.apply(self, *others)

    apply = __call__

    def __str__(self) -> str:
        return self.symbol

    def __repr__(self) -> str:
        return f"<op {self.name} {self.symbol!r}>"

    def __reduce__(self) -> Any:  # table ops unpickle as themselves; others as new ops
        if self.family is not None or OPS.get(self.name) is self or self in (LEAF, CONSTANT):
            return (_lookup, (self.name, self.param))
        return (Op, (self.symbol, self.name, self.arity))


class OpFamily:
    """Primitives parameterised by a constant (``x ** c``, ``leaky_relu(x, slope)``): calling the
    family with a constant gives its member Op, one per constant; forward and rule take it as c."""

    def __init__(self, name: str, symbol: Callable[[float], str], arity: int, forward: Callable[..., Any],
                 rule: Callable[..., Any], *, torch: Callable[..., Any] | None = None,
                 domain: Callable[[float], tuple[tuple[float, float], ...]],
                 kinks: Callable[[float], tuple[float, ...]] = lambda c: (),
                 examples: tuple[float, ...] = (), default: float | None = None, param_name: str = "c") -> None:
        self.name, self.symbol, self.arity = name, symbol, arity
        self.forward, self.rule, self.torch = forward, rule, torch
        self.domain, self.kinks = domain, kinks
        self.examples = examples      # constants the checks and tests run with
        self.default = default        # the constant Value.<name>() uses when none is given
        self.param_name = param_name  # its keyword in Value.<name>(...)
        self.members: dict[float, Op] = {}  # one Op per constant (2, 2.0 and np.float64(2) are one)

    def __call__(self, param: Any) -> Op:
        member = self.members.get(param)
        if member is None:
            if len(self.members) >= 4096:  # a program sweeping constants: start afresh
                self.members.clear()
            c = float(param)
            member = self.members[param] = Op(
                self.symbol(c), self.name, self.arity, self.forward, self.rule, torch=self.torch,
                domain=self.domain(c), kinks=self.kinks(c), param=c, family=self)
        return member

    def __repr__(self) -> str:
        return f"<op family {self.name}>"


#: Every primitive, by name: the one list the engine, tests, pictures and compiler read.
OPS: dict[str, Op | OpFamily] = {}


def enter(entry: Op | OpFamily) -> Any:
    """Put an op (or family) in the table, unchecked: ``micrograd.primitive`` checks, then enters."""
    if entry.name in OPS:
        raise ValueError(f"an op named {entry.name!r} is already in the table")
    OPS[entry.name] = entry
    return entry


def remove(entry: Op | OpFamily) -> None:
    """Take an op (or family) out of the table again."""
    if OPS.get(entry.name) is not entry:
        raise ValueError(f"{entry!r} is not in the table")
    del OPS[entry.name]


def _lookup(name: str, param: float | None) -> Op:
    if name in ("leaf", "constant"):
        return LEAF if name == "leaf" else CONSTANT
    entry = OPS[name]
    return entry(param) if isinstance(entry, OpFamily) else entry


LEAF = Op("", "leaf")          # inputs and parameters: nothing to differentiate through
CONSTANT = Op("", "constant")  # a leaf lifted from a plain number (the 2 of x * 2)

# -- the table. Symbols follow karpathy's micrograd where it has the op ('+', '*', '**2', 'ReLU').

add = enter(Op(
    "+", "add", 2,
    lambda xp, a, b: a + b,
    lambda xp, g, out, a, b: (g, g),
    torch=lambda t, a, b: t.add(a, b), domain=((-10, 10), (-10, 10)), commutative=True))

mul = enter(Op(
    "*", "mul", 2,
    lambda xp, a, b: a * b,
    lambda xp, g, out, a, b: (g * b, g * a),
    torch=lambda t, a, b: t.mul(a, b), domain=((-10, 10), (-10, 10)), commutative=True))

# Negation -b is b * -1 and a - b is a + (-b): both exact, as IEEE defines a - b as a + (-b) and
# multiplying by -1 only flips the sign (of zeros, infs and nans too), so values and gradients
# (g * -1 == -g) are torch's neg and sub, bit for bit.

# a / b, IEEE's quotient (1/0 = inf, 0/0 = nan, 5e-324/5e-324 = 1) as torch.div, with torch's
# rules: d/db = -g * ((a / b) / b) stays finite where b * b would underflow (a = b = 1e-200).
div = enter(Op(
    "/", "div", 2,
    lambda xp, a, b: a / b,
    lambda xp, g, out, a, b: (g / b, -g * (a / b / b)),
    torch=lambda t, a, b: t.div(a, b), domain=((-10, 10), (0.5, 10))))

# a ** b with b a Value. Like torch: d/da is 0 where b == 0 (whatever flows in), d/db is g * 0
# where a == 0 and b >= 0, and products are grouped as torch groups them (which decides overflow).
# (So the second derivative d2/da db jumps at b == 0: a kink, which samples keep away from.)
pow = enter(Op(
    "**", "pow", 2,
    lambda xp, a, b: xp.pow(a, b),
    lambda xp, g, out, a, b: (xp.where(xp.iszero(b), 0.0, g * (b * xp.pow(a, b - 1.0))),
                              g * xp.where(xp.iszero(a) & (b >= 0), 0.0, out * xp.log(a))),
    torch=lambda t, a, b: t.pow(a, b), domain=((0.1, 5), (-3, 3)), kinks=(0.0,)))

# a ** c with c a constant (torch's pow(Tensor, Scalar)): no gradient is computed for c. As
# torch: x ** 0 has gradient 0 whatever flows in, and g * (c * a ** (c - 1)) is grouped so.
powc = enter(OpFamily(
    "powc", lambda c: f"**{c:g}", 1,
    lambda xp, a, c: xp.pow_scalar(a, c),  # torch's small exponents: sqrt, 1/sqrt, a * a, ... (xp.py)
    lambda xp, g, out, a, c: 0.0 if c == 0 else g * (c * xp.pow_scalar(a, c - 1.0)),
    torch=lambda t, a, c: t.pow(a, c),
    domain=lambda c: ((-4, 4),) if c.is_integer() else ((0.05, 4),),  # (inf and nan are not integers)
    kinks=lambda c: (0.0,) if c.is_integer() and c < 0 else (),
    examples=(2, 3, -1, -2, 0.5, -0.5, 1.5, 0)))

relu = enter(Op(
    "ReLU", "relu", 1,
    lambda xp, a: xp.where(a < 0, 0.0, a),  # written so that relu(nan) = nan, as torch
    lambda xp, g, out, a: xp.where(out <= 0, 0.0, g),  # relu'(0) = 0, as torch
    torch=lambda t, a: t.relu(a), domain=((-5, 5),), kinks=(0.0,)))

leaky_relu = enter(OpFamily(
    "leaky_relu", lambda c: f"LeakyReLU({c:g})", 1,
    lambda xp, a, c: xp.where(a > 0, a, a * c),
    lambda xp, g, out, a, c: xp.where(a > 0, g, g * c),  # the slope at 0, as torch
    torch=lambda t, a, c: t.nn.functional.leaky_relu(a, c),
    domain=lambda c: ((-5, 5),), kinks=lambda c: (0.0,), examples=(0.01, 0.2),
    default=0.01, param_name="slope"))

tanh = enter(Op(
    "tanh", "tanh", 1,
    lambda xp, a: xp.tanh(a),
    lambda xp, g, out, a: g * (1.0 - out * out),
    torch=lambda t, a: t.tanh(a), domain=((-5, 5),)))

sigmoid = enter(Op(
    "sigmoid", "sigmoid", 1,
    lambda xp, a: 1.0 / (1.0 + xp.exp(-a)),
    lambda xp, g, out, a: xp.sigmoid_backward(g, out),  # the op below, as torch's rule
    torch=lambda t, a: t.sigmoid(a), domain=((-10, 10),)))

# sigmoid's rule as one op, g (1 - out) out, as torch's sigmoid_backward (grouped as its kernel).
# Its derivative in out is g (1 - 2 out), one product (torch's -2 out + 1): written as sigmoid's
# rule on Values, g * (1 - out) * out would differentiate to g (1 - out) - g out, which is
# inf - inf = nan for an infinite g where torch gives ±inf. Its derivative in g is itself.
sigmoid_backward = enter(Op(
    "sigmoid_backward", "sigmoid_backward", 2,
    lambda xp, g, out: g * (1.0 - out) * out,
    lambda xp, gg, r, g, out: (xp.sigmoid_backward(gg, out), gg * g * (-2.0 * out + 1.0)),
    torch=lambda t, g, out: t.ops.aten.sigmoid_backward(g, out), domain=((-10, 10), (0.05, 0.95))))

exp = enter(Op(
    "exp", "exp", 1,
    lambda xp, a: xp.exp(a),
    lambda xp, g, out, a: g * out,
    torch=lambda t, a: t.exp(a), domain=((-5, 5),)))

log = enter(Op(
    "log", "log", 1,
    lambda xp, a: xp.log(a),
    lambda xp, g, out, a: g / a,
    torch=lambda t, a: t.log(a), domain=((0.05, 10),)))

sqrt = enter(Op(
    "sqrt", "sqrt", 1,
    lambda xp, a: xp.sqrt(a),
    lambda xp, g, out, a: g / (2.0 * out),
    torch=lambda t, a: t.sqrt(a), domain=((0.05, 10),)))

abs = enter(Op(
    "abs", "abs", 1,
    lambda xp, a: xp.abs(a),
    lambda xp, g, out, a: g * ((a > 0) * 1.0 - (a < 0)),  # sign(a); abs'(0) = 0, as torch
    torch=lambda t, a: t.abs(a), domain=((-5, 5),), kinks=(0.0,)))

# log(exp(a) + exp(b)), never overflowing: the max plus a term in [0, log 2] (torch's formula).
# Its gradients are the softmax of (a, b), as torch computes them: g / (1 + e^(b - a)) never
# reads the rounded ``out`` (at a = b = 1e16, exp(a - out) is e^0 = 1, not 1/2), and gives
# (1, 0) at (inf, 0).
# Smooth everywhere, so it serves log-sum-exp (softmax, cross-entropy) and softplus(x) =
# logaddexp(x, 0) (binary cross-entropy on logits) with no comparison on Values.
logaddexp = enter(Op(
    "logaddexp", "logaddexp", 2,
    lambda xp, a, b: xp.log_add_exp(a, b),
    lambda xp, g, out, a, b: (g / (1.0 + xp.exp(b - a)), g / (1.0 + xp.exp(a - b))),
    torch=lambda t, a, b: t.logaddexp(a, b), domain=((-40, 40), (-40, 40))))

# The larger of a and b, as torch's max pooling scans a window: b wins only if b > a or b is nan,
# so a tie sends the whole gradient to a (the first), and nan propagates. A left-to-right chain
# max(max(x0, x1), x2) picks the element torch's MaxPool2d picks: the first maximum, or the last nan.
# torch.where with the same condition is its exact counterpart (torch.maximum splits a tie's gradient).
maximum = enter(Op(
    "max", "max", 2,
    lambda xp, a, b: xp.where((b > a) | xp.isnan(b), b, a),
    lambda xp, g, out, a, b: (xp.where((b > a) | xp.isnan(b), 0.0, g), xp.where((b > a) | xp.isnan(b), g, 0.0)),
    torch=lambda t, a, b: t.where((b > a) | t.isnan(b), b, a),
    domain=((-10, 10), (-10, 10)), kink_at_ties=True))
