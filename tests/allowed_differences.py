"""The one table of allowed differences from PyTorch float64 (and between the engine's own paths).

tests/test_edges.py (every op at every edge value) and tests/test_fuzz.py (random graphs on edge
inputs) compare every number through :func:`allowed` and nothing else: two numbers pass when they
are equal (nan equal to nan, zeros of the same sign), or when an entry of ALLOWED lists the
difference for that check and step, with its reason. Each entry also names an ``example``, a small
graph on which the difference shows; tests/test_fuzz.py checks that every entry's example needs
that entry, so an entry that a fix made unnecessary fails the suite until it is removed.

The checks, each a comparison of one kind:

- ``value``: a step's value against torch's; ``vjp``: its vector-Jacobian product, with the
  incoming gradient it meets, against torch's; ``vjp'``: the derivatives of that product in the
  arguments and in the incoming gradient (second derivatives, through ``create_graph``);
- ``backward``: ``.grad`` after ``backward()`` against ``grad(create_graph=True)``;
- ``tape``, ``tape grad``, ``tape grad after a tape rounding``: the compiled tape's values and
  gradients against the scalar engine's;
- ``reference``: where the torch expression compared with is not torch's own operator, and why;
- ``exception``: a step that raises instead of giving IEEE's inf or nan (no entry: none may).
"""

from __future__ import annotations

import collections
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ALLOWED", "CHECKS", "SEEN", "TAPE_ROUNDING_RULES", "Allowed", "allowed", "difference", "reference"]

#: (inputs, steps): x0, x1, ... = inputs; each step (name, argument indices) adds a node; the last
#: node is the output. Step names are the fuzzer's: table ops by name (family members as
#: ``powc[2]``), and the operators ``a-b``, ``a/b``, ``-a``, ``3/a``.
Example = tuple[tuple[float, ...], tuple[tuple[str, tuple[int, ...]], ...]]


@dataclass(frozen=True)
class Allowed:
    """A difference accepted in one check, for some steps, up to ``ulps`` units in the last place,
    plus ``slack(xs, g)`` absolute where a rule reads an output allowed to be 1 ulp off. nan must
    still match nan and an infinity its sign; ``zero_sign`` lets 0.0 meet -0.0. An entry with
    ``any_value`` accepts any difference at the steps ``when(xs, g)`` selects (torch's own nan
    where the true value is finite, or an open bug: ``bug`` names its xfail test, and the entry
    goes when the fix lands). A ``reference`` entry gives the torch expression used instead
    (``torch(t, c, x)``)."""

    check: str                   # one of CHECKS
    fns: frozenset[str] | None   # step names it applies to (family members by family); None: any
    ulps: float
    reason: str
    example: Example             # a graph on which this difference shows
    zero_sign: bool = False
    slack: Callable[[list[float], float], float] | None = None
    any_value: bool = False
    when: Callable[[list[float], float], bool] | None = None
    torch: Callable[..., Any] | None = None
    bug: str | None = None       # an open bug: its strict xfail test in tests/test_fuzz.py


def _ulp_of_out(forward: Callable[[float], float]) -> Callable[[list[float], float], float]:
    """8 |g| ulp(out) (|g| at least 1): the rule reads out, 1 ulp from torch's, with a factor <= 4."""
    return lambda xs, g: 8.0 * (1.0 if math.isnan(g) else max(abs(g), 1.0)) * math.ulp(forward(xs[0]))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _names(*names: str) -> frozenset[str]:
    return frozenset(names)


def _one(name: str, *xs: float) -> Example:
    """The one step ``name`` applied to inputs x0 (, x1)."""
    return tuple(xs), ((name, tuple(range(len(xs)))),)


POW = _names("pow", "powc")
#: rules calling xp.exp / xp.pow: numpy's on the tape
TAPE_ROUNDING_RULES = POW | _names("logaddexp")
CHECKS = ("exception", "value", "vjp", "vjp'", "backward", "tape", "tape grad", "tape grad after a tape rounding",
          "reference")
RULES_IN_OTHER_FORMULAS = POW | _names("logaddexp", "log", "sqrt", "exp")

#: Every difference the tests accept, each with its reason and an example. Anything else fails.
ALLOWED: tuple[Allowed, ...] = (
    # -- libm against torch's kernels: values
    Allowed("value", _names("tanh"), 1, "math.tanh and torch's tanh are different libms, each "
            "faithfully rounded: 1 ulp", _one("tanh", 0.5)),
    Allowed("value", _names("exp", "log"), 1, "math.exp/log and torch's are different libms, each "
            "faithfully rounded: 1 ulp", _one("log", 1.0157207669155277)),
    Allowed("value", _names("sqrt", "powc[0.5]", "powc[-0.5]"), 1, "torch 2.13's CPU sqrt is not "
            "correctly rounded (sqrt(0.5) is 1 ulp from math.sqrt's), and x ** 0.5, x ** -0.5 call it "
            "(as torch's pow does): 1 ulp", _one("sqrt", 0.5)),
    # -- rules that are other float formulas than torch's backward
    Allowed("vjp", RULES_IN_OTHER_FORMULAS, 4,
            "the rule is another float formula than torch's backward (g*c*x**(c-1), g/a, g/(2 out), "
            "g*out with out 1 ulp off), with its own roundings: 4 ulps", _one("exp", 16.270004610401287)),
    Allowed("vjp'", RULES_IN_OTHER_FORMULAS, 8,
            "the derivative of the rule, another float formula than torch's double backward, "
            "rounds a few more times: 8 ulps", _one("exp", 16.270004610401287)),
    Allowed("vjp'", POW, 0, "the sign of a zero second derivative of a ** b follows the formula "
            "(0.0 * g): torch's formulas give the other sign", ((2.2250738585072014e-308, -0.0), (("pow", (0, 1)),)),
            zero_sign=True),
    Allowed("vjp'", _names("sigmoid_backward"), 2, "with one node for both arguments "
            "(sigmoid_backward(x, x)), a second derivative adds three or more products, and torch's "
            "engine adds them in another order (the formulas are torch's): 2 ulps",
            ((0.37,), (("sigmoid_backward", (0, 0)), ("sigmoid_backward", (0, 1)))),
            when=lambda xs, g: xs[0] == xs[1]),
    Allowed("vjp", _names("tanh"), 4, "the rule reads out, 1 ulp from torch's; near saturation "
            "1 - out*out cancels, so allow 8 |g| ulp(out) absolute", _one("tanh", -2.5),
            slack=_ulp_of_out(math.tanh)),
    Allowed("vjp'", _names("tanh"), 8, "as the tanh vjp, one derivative further", _one("tanh", 0.5),
            slack=_ulp_of_out(math.tanh)),
    # -- torch's own nan and overflow where the true derivative is finite
    Allowed("vjp'", _names("pow"), 0, "torch's double backward of a ** b at b = 0 or a = 0 is nan "
            "(its where() masks the first derivative to 0, not the derivative of it: 0 * log 0); "
            "micrograd gives 0, the derivative of that constant 0", _one("pow", 0.0, 0.0), any_value=True,
            when=lambda xs, g: xs[-1] == 0 or xs[0] == 0),
    # -- where a gradient is added into .grad
    Allowed("backward", None, 0, "the sign of a zero gradient: backward() adds into .grad, which "
            "starts at 0.0, and 0.0 + -0.0 is 0.0", _one("mul", 0.0, -0.0), zero_sign=True),
    Allowed("tape grad", None, 0, "the sign of a zero gradient: the tape adds into zeroed arrays, "
            "and 0.0 + -0.0 is 0.0", _one("mul", 0.0, -0.0), zero_sign=True),
    # -- the compiled tape: numpy's maths
    Allowed("tape", POW | _names("tanh", "sigmoid", "exp", "log", "logaddexp"), 2, "numpy's tanh, "
            "exp, log, log1p and power against the math module's (the engine's): 1 ulp each, 2 "
            "where a forward calls two (sigmoid's 1 / (1 + exp(-a)), logaddexp)", _one("pow", 1e200, 0.3)),
    Allowed("tape grad after a tape rounding", None, math.inf, "a tape value was 1 ulp off (an "
            "entry above), a rule called numpy's exp/power (TAPE_ROUNDING_RULES) 1 ulp from math's, "
            "or a node feeds 3 or more places, whose gradient contributions the tape adds in another "
            "order than the engine (x - x + x * x at 5e-324: 5e-324 against 1e-323): a whole-graph "
            "gradient can amplify that without bound (cancellation); nan and inf must still match",
            _one("pow", -0.0, 2.0), zero_sign=True),
    # -- the reference itself
    Allowed("reference", _names("3/a"), 0, "c / x with c a plain number is the quotient div(c, x), "
            "one rounding, as torch.div(c, x); torch's own c / t is t.reciprocal() * c, two roundings "
            "(1e-10 / 1e-310 is inf there, 1.000000000000003e300 here): compared with torch.div",
            _one("3/a", 10.0), torch=lambda t, c, x: t.div(t.tensor(c, dtype=t.float64), x)),
)

#: How often each entry allowed a difference (or gave a reference) in this run.
SEEN: collections.Counter[Allowed] = collections.Counter()


def _ordinal(x: float) -> int:
    """Floats as integers in order, consecutive floats one apart (0.0 and -0.0 both 0)."""
    (bits,) = struct.unpack("<q", struct.pack("<d", x))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def difference(a: float, b: float) -> tuple[int, bool] | None:
    """(ulps apart, zero signs differ) for two comparable floats; None if nan/inf disagree."""
    if math.isnan(a) or math.isnan(b):
        return (0, False) if math.isnan(a) and math.isnan(b) else None
    if math.isinf(a) or math.isinf(b):
        return (0, False) if a == b else None
    return abs(_ordinal(a) - _ordinal(b)), a == b == 0 and math.copysign(1, a) != math.copysign(1, b)


def _within(entry: Allowed, a: float, b: float, ulps: int, ctx: tuple[list[float], float] | None) -> bool:
    if ulps <= entry.ulps:
        return True
    if entry.slack is None or ctx is None:
        return False
    with np.errstate(all="ignore"):
        try:
            slack = entry.slack(*ctx)
        except (OverflowError, ValueError):
            return False
    return abs(a - b) <= slack


def allowed(check: str, fn: str | None, a: float, b: float,
            ctx: tuple[list[float], float] | None = None) -> bool:
    """a and b equal, or apart by a difference ALLOWED lists for this check and step (``fn``:
    the step's name; ``ctx``: its arguments and incoming gradient)."""
    diff = difference(a, b)
    if diff == (0, False):
        return True
    family = fn.split("[")[0] if fn else None
    for entry in ALLOWED:
        if entry.check != check or not (entry.fns is None or fn in entry.fns or family in entry.fns):
            continue
        if entry.when is not None and (ctx is None or not entry.when(*ctx)):
            continue
        if entry.any_value or (diff is not None and (entry.zero_sign or not diff[1])
                               and _within(entry, a, b, diff[0], ctx)):
            SEEN[entry] += 1
            return True
    return False


def reference(fn: str) -> Callable[..., Any]:
    """The torch expression ``fn`` is compared with, where a ``reference`` entry says it is not
    torch's own operator (and why)."""
    for entry in ALLOWED:
        if entry.check == "reference" and entry.fns is not None and fn in entry.fns:
            SEEN[entry] += 1
            assert entry.torch is not None, entry
            return entry.torch
    raise KeyError(f"no reference entry for {fn!r} in ALLOWED")
