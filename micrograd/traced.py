"""TracedNumber: the ``.data`` of a Value while ``micrograd.compile`` traces, usable by the engine only.

A tape replays the graph a function built for one sample; a Python number taken out of that
graph (``if x.data > 0``, ``Value(math.exp(x.data))``) would be baked into the tape, right for the
traced sample and silently wrong for every other. So while a thread traces, each Value made there
holds its number wrapped in a TracedNumber, and every use of it (arithmetic, comparison,
``float()``, ``bool()``, numpy) calls the tracer's hook, which raises ``TracingError`` naming the
user's line. The engine computing a node's forward is the one reader let through: a use is allowed
when the nearest frame of the engine's modules is one of the functions below. Printing stays free.

Outside tracing nothing here runs (the engine wraps numbers only while a tracer is set, and the
tracer puts plain floats back when it finishes); a TracedNumber kept past its trace is its float.
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType
from typing import Any

from . import modes

__all__ = ["TracedNumber"]

#: Functions of the engine's modules that compute forwards from numbers: a use made under one of
#: them is the engine's own (None: every function of that module). The first frame of a module
#: named here or in _ROOTS decides; frames of other modules (a user's declared op) are passed by.
_FORWARDS: dict[str, frozenset[str] | None] = {
    "micrograd.engine": frozenset({"__add__", "__mul__", "_unary", "apply", "__truediv__"}),
    "micrograd.backward": None,  # IEEE fallbacks, rules run on Values inside a traced function
    "micrograd.anomaly": None,   # detect_anomaly's checks of a forward
}
#: Modules where a walk stops and refuses: the tracer calling the user's function, and the
#: boundary turning plain numbers into floats (Value(x.data)).
_ROOTS = frozenset({"micrograd.tape", "micrograd.scalars"})


#: The verdict of each function of the modules above, by id() of its code, learnt the first time a
#: walk meets it: True for a forward of the engine, False for any other (a walk stops there). The
#: engine's forwards use a traced number once per node they make, so their frame is decided by one
#: lookup (by id: hashing a code object hashes its bytecode). Those functions live as long as their
#: modules, and _KEPT holds their code so that no id is reused; frames of other modules decide
#: nothing and are not kept.
_VERDICTS: dict[int, bool] = {}
_KEPT: list[CodeType] = []


def _by_engine(frame: FrameType | None) -> bool:
    """Is this use made by the engine computing a forward (not by user code)?"""
    while frame is not None:
        code = frame.f_code
        verdict = _VERDICTS.get(id(code))
        if verdict is not None:
            return verdict
        module = frame.f_globals.get("__name__")
        if module in _FORWARDS or module in _ROOTS:
            names = _FORWARDS.get(module, frozenset())
            verdict = module in _FORWARDS and (names is None or code.co_name in names)
            _KEPT.append(code)
            _VERDICTS[id(code)] = verdict
            return verdict
        frame = frame.f_back
    return False


def _check(number: TracedNumber, what: str, frame: FrameType | None) -> None:
    """Call the tracer's hook (it raises) if this thread traces and the use is not the engine's."""
    hook = modes.state.tracer
    if hook is not None and not _by_engine(frame):
        hook(number, what)


def _use(number: TracedNumber, what: str) -> float:
    """The float, after the tracer's hook has seen a use that is not the engine's (it raises)."""
    _check(number, what, sys._getframe(2))
    return number.value


# The engine's forwards call the two below once per node they make: a frame already known to be
# one of them is let through on one lookup, before reading the thread's tracer (a thread-local
# read costs about as much as the rest of the check).

def _binary(name: str, symbol: str) -> Any:
    """float's method ``name`` on the number, after the check (bound once: the engine calls these
    for every node it makes while tracing)."""
    op = getattr(float, name)

    def method(self: TracedNumber, other: Any) -> Any:
        frame = sys._getframe(1)
        if _VERDICTS.get(id(frame.f_code)) is not True:
            _check(self, symbol, frame)
        return op(self.value, other.value if type(other) is TracedNumber else other)
    method.__name__ = name
    return method


def _unary(name: str, what: str) -> Any:
    """float's method ``name`` on the number, after the check."""
    op = getattr(float, name)

    def method(self: TracedNumber, *args: Any) -> Any:
        frame = sys._getframe(1)
        if _VERDICTS.get(id(frame.f_code)) is not True:
            _check(self, what, frame)
        return op(self.value, *args)
    method.__name__ = name
    return method


class TracedNumber:
    """A traced Value's number: a float to the engine's forwards, a TracingError to anyone else."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        # the float the engine computed for the traced sample (an identity op's forward returns its argument)
        self.value: float = value.value if type(value) is TracedNumber else value

    def __repr__(self) -> str:
        return repr(self.value)  # printing a traced Value shows the traced sample's number

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        _use(self, "numpy")
        raise AssertionError  # (the hook raised)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        _use(self, f"numpy {ufunc.__name__}")
        raise AssertionError

    def __hash__(self) -> int:
        return hash(_use(self, "hash()"))

    # each operation of float, after the check (_binary, _unary)
    __add__ = _binary("__add__", "+")
    __radd__ = _binary("__radd__", "+")
    __sub__ = _binary("__sub__", "-")
    __rsub__ = _binary("__rsub__", "-")
    __mul__ = _binary("__mul__", "*")
    __rmul__ = _binary("__rmul__", "*")
    __truediv__ = _binary("__truediv__", "/")
    __rtruediv__ = _binary("__rtruediv__", "/")
    __floordiv__ = _binary("__floordiv__", "//")
    __rfloordiv__ = _binary("__rfloordiv__", "//")
    __mod__ = _binary("__mod__", "%")
    __rmod__ = _binary("__rmod__", "%")
    __divmod__ = _binary("__divmod__", "divmod()")
    __rdivmod__ = _binary("__rdivmod__", "divmod()")
    __pow__ = _binary("__pow__", "**")
    __rpow__ = _binary("__rpow__", "**")
    __lt__ = _binary("__lt__", "<")
    __le__ = _binary("__le__", "<=")
    __gt__ = _binary("__gt__", ">")
    __ge__ = _binary("__ge__", ">=")
    __eq__ = _binary("__eq__", "==")
    __ne__ = _binary("__ne__", "!=")
    __float__ = _unary("__float__", "float()")
    __bool__ = _unary("__bool__", "bool()")
    __int__ = _unary("__int__", "int()")
    __neg__ = _unary("__neg__", "-")
    __pos__ = _unary("__pos__", "+")
    __abs__ = _unary("__abs__", "abs()")
    __round__ = _unary("__round__", "round()")
    __trunc__ = _unary("__trunc__", "math.trunc()")
    __floor__ = _unary("__floor__", "math.floor()")
    __ceil__ = _unary("__ceil__", "math.ceil()")
    hex = _unary("hex", "hex()")
    is_integer = _unary("is_integer", "is_integer()")
