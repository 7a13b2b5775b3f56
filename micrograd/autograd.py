"""Gradients as values: ``grad()``, higher-order gradients, hooks, and ``detect_anomaly()``.

``Value.backward()`` runs a plain float loop for speed. Everything it does not do is here, in one
general pass over the graph (:func:`gradients`) that keeps the gradients in a dict instead of in
``.grad``:

- ``grad(outputs, inputs)`` returns d(outputs)/d(inputs) and touches no ``.grad`` (as
  ``torch.autograd.grad``);
- ``create_graph=True`` runs each op's derivative rule on Values instead of floats (the same
  rule from the op table), so the gradients are Values with a graph of their own and can be
  differentiated again, to any order;
- hooks registered with ``Value.register_hook`` see (and may replace) the gradient flowing into
  their Value;
- inside ``detect_anomaly()`` every rule's result is checked for a nan or inf it produced.

With ``backward(create_graph=True)`` every ``.grad`` becomes a Value, as in PyTorch. Such a
gradient refers to the graph, which refers to the node holding it: a reference cycle, which the
cycle collector frees (``zero_grad()`` breaks it at once). ``grad(..., create_graph=True)`` makes
no such cycle and is the better choice for gradients of gradients.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import engine, ops
from .engine import Value, _number, _order, local_gradients
from .ops import Op, OpFamily

__all__ = ["backward_general", "detect_anomaly", "grad", "gradients", "is_anomaly_enabled"]

Scalar = Value | float | int
Gradient = Value | float


# --- the general backward pass -----------------------------------------------------------------

def gradients(outputs: Sequence[Value], seeds: Sequence[Gradient], create_graph: bool = False,
              inputs: Sequence[Value] | None = None) -> dict[Value, Gradient]:
    """The gradient flowing into every node on a path from ``outputs`` (to ``inputs``, if given).

    ``seeds[k]`` is the gradient of ``outputs[k]``. Returns a dict node -> gradient (a float, or
    a Value when ``create_graph``), after hooks. Nodes no gradient reaches are absent. When
    ``inputs`` is given, only nodes that lead to one of them are visited (and hooked).
    """
    order = _order(*outputs)
    needed: set[Value] | None = None
    if inputs is not None:
        needed = set(inputs)
        for v in order:  # children first: a node is needed if it leads to an input
            if v not in needed and ((v._a is not None and v._a in needed) or
                                    (v._b is not None and v._b in needed)):
                needed.add(v)
    grads: dict[Value, Gradient] = {}
    for out, seed in zip(outputs, seeds):
        if needed is None or out in needed:
            grads[out] = seed if out not in grads else grads[out] + seed
    hooks = engine._hooks
    check = _anomaly_depth > 0
    for v in reversed(order):
        g = grads.get(v)
        if g is None:
            continue
        if hooks:
            fns = hooks.get(v)
            if fns:
                g = grads[v] = _run_hooks(v, g, fns, create_graph)
        op = v._op
        if v._a is None or op.arity == 0 and op.custom is None:
            continue  # a leaf, or a hand-built node without a rule: nothing flows on
        children, local = _local(v, g, create_graph)
        if check:
            _check_backward(v, g, local)
        for child, cg in zip(children, local):
            if needed is not None and child not in needed:
                continue
            old = grads.get(child)
            if old is None:
                grads[child] = cg
            else:
                grads[child] = total = old + cg
                if check:
                    _check_sum(child, old, cg, total)
    return grads


def _local(v: Value, g: Gradient, create_graph: bool) -> tuple[tuple[Value, ...], tuple[Gradient, ...]]:
    """(children, the gradient for each) of node ``v`` receiving gradient ``g``."""
    op = v._op
    if op.custom is not None:
        return _closure_grads(v, g, create_graph)
    args = (v._a,) if op.arity == 1 else (v._a, v._b)
    if create_graph:
        # The same rule on Values: the node itself is its ``out``, so gradients of gradients flow.
        result = op.derivative_value(g, v, *args)
    else:
        result = local_gradients(v, g)  # type: ignore[arg-type]
    return args, (result if op.arity == 2 else (result,))  # type: ignore[return-value]


def _closure_grads(v: Value, g: Gradient, create_graph: bool) -> tuple[tuple[Value, ...], tuple[Gradient, ...]]:
    """Run a hand-built node's ``_backward`` closure on its own, reading what it adds to its children."""
    if create_graph:
        raise RuntimeError(
            f"node {str(v._op)!r} was built by hand with a _backward closure, which runs on floats: "
            "its gradient cannot be differentiated again. Declare the op with ops.primitive(Op(...)) "
            "to give it a derivative rule.")
    children = tuple(dict.fromkeys(v._prev))  # each once: the closure adds into child.grad
    saved = [c.grad for c in children]
    saved_own = v.grad
    try:
        for c in children:
            c.grad = 0.0
        v.grad = g
        v._op.custom()  # type: ignore[misc]
        local = tuple(c.grad for c in children)
    finally:
        for c, s in zip(children, saved):
            c.grad = s
        v.grad = saved_own
    return children, local


def _run_hooks(v: Value, g: Gradient, fns: list[Callable[[Any], Any]], create_graph: bool) -> Gradient:
    for fn in list(fns):
        result = fn(g)
        if result is None:
            continue
        if isinstance(result, Value):
            g = result if create_graph else result.data
        elif engine._is_real(result):
            g = float(result)
        else:
            raise TypeError(f"a hook returned {type(result).__name__}; it must return a number, a Value or None")
    return g


def _seed(x: Any, create_graph: bool, what: str) -> Gradient:
    if isinstance(x, Value):
        return x if create_graph else x.data
    return engine._to_float(x, what)


def _as_value(g: Gradient) -> Value:
    return g if isinstance(g, Value) else Value(g)


def backward_general(root: Value, gradient: Any = 1.0, create_graph: bool = False) -> None:
    """``Value.backward`` with hooks, ``create_graph`` or anomaly checks: accumulate into ``.grad``."""
    grads = gradients([root], [_seed(gradient, create_graph, "backward gradient")], create_graph)
    for v, g in grads.items():  # (nodes no gradient reached keep theirs, as in PyTorch)
        if create_graph:
            g = _as_value(g)
        old = v.grad
        if isinstance(old, Value) or old:  # (a float 0.0 adds nothing: keep the graph small)
            g = old + g if isinstance(old, Value) else g + old
        v.grad = g


# --- grad() --------------------------------------------------------------------------------------

def _values(x: Value | Iterable[Value], what: str) -> tuple[Value, ...]:
    items = (x,) if isinstance(x, Value) else tuple(x)
    for i, item in enumerate(items):
        if not isinstance(item, Value):
            raise TypeError(f"{what}[{i}] must be a Value, got {type(item).__name__}")
    return items


def grad(outputs: Value | Sequence[Value], inputs: Value | Sequence[Value],
         grad_outputs: Scalar | Sequence[Scalar | None] | None = None, create_graph: bool = False,
         allow_unused: bool = False, materialize_grads: bool = False) -> tuple[Any, ...]:
    """d(sum of grad_outputs[k] * outputs[k]) / d(inputs[i]) for each input, as ``torch.autograd.grad``.

    Returns a tuple with one gradient per input: a float, or a Value with its own graph when
    ``create_graph=True`` (differentiate it again for higher orders). No ``.grad`` is touched,
    intermediate nodes' included. ``grad_outputs`` defaults to 1.0 for every output. An input no
    output depends on raises ``RuntimeError`` unless ``allow_unused=True``, which gives ``None``
    for it (or 0.0 with ``materialize_grads=True``, as in PyTorch).

    >>> x = Value(3.0)
    >>> (dx,) = grad(x * x * x, x, create_graph=True)
    >>> dx.data, grad(dx, x)[0]
    (27.0, 18.0)
    """
    outs = _values(outputs, "outputs")
    ins = _values(inputs, "inputs")
    if grad_outputs is None:
        seeds_in: Sequence[Any] = [None] * len(outs)
    elif isinstance(grad_outputs, (Value, int, float)) or engine._is_real(grad_outputs):
        seeds_in = [grad_outputs]
    else:
        seeds_in = list(grad_outputs)  # type: ignore[arg-type]
    if len(seeds_in) != len(outs):
        raise ValueError(f"grad_outputs has {len(seeds_in)} entries for {len(outs)} outputs")
    seeds = [1.0 if s is None else _seed(s, create_graph, "grad_outputs") for s in seeds_in]
    grads = gradients(outs, seeds, create_graph, inputs=ins)
    result: list[Any] = []
    for i, x in enumerate(ins):
        g = grads.get(x)
        if g is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(
                    f"input {i} ({x!r}) was not used in computing the outputs: no gradient reaches it. "
                    "Pass allow_unused=True to get None for it.")
            if materialize_grads:
                g = 0.0
        if g is not None and create_graph:
            g = _as_value(g)
        result.append(g)
    return tuple(result)


# --- detect_anomaly() ------------------------------------------------------------------------------
# While the context is active, every op method of Value (and each op's ``apply``) is swapped for a
# checking version that records where each node was made and raises on the first nan or inf an
# op produces from finite inputs; ``Value.backward`` is swapped for the general pass, which checks
# every derivative rule. Leaving the context puts the originals back. Off, it costs nothing.

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_anomaly_lock = threading.Lock()
_anomaly_depth = 0  # open detect_anomaly() blocks, across threads (the switch is process-wide)
_wrapped: list[Op] = []  # every op whose apply is swapped now (ops are strs: no weak references)
_made_at: weakref.WeakKeyDictionary[Value, tuple[str, int, str]] = weakref.WeakKeyDictionary()


def is_anomaly_enabled() -> bool:
    """True while a ``detect_anomaly()`` block is open."""
    return _anomaly_depth > 0


class detect_anomaly(contextlib.ContextDecorator):
    """Raise FloatingPointError at the first nan or inf produced, naming the op and your source line.

    "Produced" means: in forward, an op whose inputs are all finite returns nan or inf (an inf you
    pass in, or one that flows on from it, is not an anomaly); in backward, a derivative rule whose
    inputs (incoming gradient, the node's value and its arguments' values) are all finite returns
    a non-finite gradient, or adding finite gradients overflows. The message names the op and the
    line of your code that created the node (backward can name it for nodes made inside the
    block). Slow while active (every op is checked); free when not. Nesting is fine; the switch is
    process-wide, so it affects other threads while open.

    >>> with detect_anomaly():
    ...     Value(-1.0).log()
    Traceback (most recent call last):
    ...
    FloatingPointError: detect_anomaly: op 'log' produced nan from finite inputs (-1.0)...
    """

    def __enter__(self) -> detect_anomaly:  # noqa: PYI034 (typing.Self is 3.11+)
        global _anomaly_depth
        with _anomaly_lock:
            if _anomaly_depth == 0:
                _switch(on=True)
            _anomaly_depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        global _anomaly_depth
        with _anomaly_lock:
            _anomaly_depth -= 1
            if _anomaly_depth == 0:
                _switch(on=False)


def _table_ops() -> list[Op]:
    out: list[Op] = []
    for entry in ops.OPS.values():
        out.extend(entry._members.values() if isinstance(entry, OpFamily) else [entry])
    return out


def _switch(on: bool) -> None:
    """Swap the checking versions in (``on``) or the originals back, wherever they are reachable."""
    cls: Any = Value
    if on:
        originals = {id(op.apply): op for op in _table_ops()}
        for op in originals.values():
            _wrap_op(op)
        for name, attr in list(vars(cls).items()):
            owner = originals.get(id(attr))
            if owner is not None:  # __add__, __mul__, tanh, ...: the op's apply itself
                setattr(cls, name, owner.apply)
        engine._binary_pow = ops.pow_.apply
        cls.backward = _checked(Value.backward, _anomaly_backward)
        cls.__truediv__ = _checked(Value.__truediv__, _anomaly_truediv)
        ops._NEW_OP_HOOKS.append(_wrap_op)
    else:
        ops._NEW_OP_HOOKS.remove(_wrap_op)
        for op in _wrapped:
            op.apply = op.apply._original  # type: ignore[attr-defined]
        _wrapped.clear()
        for name, attr in list(vars(cls).items()):
            if hasattr(attr, "_original"):
                setattr(cls, name, attr._original)
        engine._binary_pow = ops.pow_.apply


def _checked(original: Callable[..., Any], wrapper: Callable[..., Any]) -> Callable[..., Any]:
    wrapper._original = original  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(original, "__name__", "op")
    wrapper.__doc__ = original.__doc__
    return wrapper


def _wrap_op(op: Op) -> None:
    if not op.arity or hasattr(op.apply, "_original"):
        return
    original = op.apply

    def apply(*args: Any) -> Any:
        out = original(*args)
        if type(out) is Value:
            site = _user_site()
            _made_at[out] = site
            if not math.isfinite(out.data) and all(math.isfinite(_number(a)) for a in args):
                raise FloatingPointError(
                    f"detect_anomaly: op {op.name!r} produced {out.data} from finite inputs "
                    f"({', '.join(repr(_number(a)) for a in args)})\n{_describe(site)}")
        return out

    op.apply = _checked(original, apply)
    _wrapped.append(op)


def _anomaly_truediv(self: Value, other: Any) -> Any:
    """``self / number`` multiplies by the number's reciprocal, worked out on floats: a division by
    0 makes its inf there, before any op sees it, so it is checked here."""
    out = _anomaly_truediv._original(self, other)  # type: ignore[attr-defined]
    if (type(out) is Value and not math.isfinite(out.data) and not isinstance(other, Value)
            and math.isfinite(self.data) and math.isfinite(_number(other))):
        raise FloatingPointError(
            f"detect_anomaly: op '/' produced {out.data} from finite inputs "
            f"({self.data!r}, {_number(other)!r})\n{_describe(_made_at.get(out))}")
    return out


def _anomaly_backward(self: Value, gradient: Any = 1.0, create_graph: bool = False) -> None:
    backward_general(self, gradient, create_graph)


def _user_site() -> tuple[str, int, str]:
    """(file, line, code) of the innermost frame outside the micrograd package."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:  # pragma: no cover - only micrograd on the stack
        return ("<unknown>", 0, "")
    filename, line = frame.f_code.co_filename, frame.f_lineno
    return filename, line, linecache.getline(filename, line).strip()


def _describe(site: tuple[str, int, str] | None) -> str:
    if site is None:
        return ("  the node was made outside detect_anomaly(): build the graph inside the block "
                "to see where")
    filename, line, code = site
    return f"  created at {filename}:{line}\n      {code}"


def _op_name(op: Op) -> str:
    return op.name if op.name != "custom" else str(op)


def _check_sum(v: Value, old: Gradient, new: Gradient, total: Gradient) -> None:
    if math.isfinite(_number(old)) and math.isfinite(_number(new)) and not math.isfinite(_number(total)):
        raise FloatingPointError(
            f"detect_anomaly: the gradient of a node made by op {_op_name(v._op)!r} overflowed to "
            f"{_number(total)} adding {_number(old)} and {_number(new)}\n{_describe(_made_at.get(v))}")


def _check_backward(v: Value, g: Gradient, local: tuple[Gradient, ...]) -> None:
    inputs = [_number(g), v.data, *(c.data for c in v._prev)]
    if not all(math.isfinite(x) for x in inputs):
        return
    for k, cg in enumerate(local):
        if not math.isfinite(_number(cg)):
            raise FloatingPointError(
                f"detect_anomaly: the derivative rule of op {_op_name(v._op)!r} produced gradient "
                f"{_number(cg)} for argument {k} from finite values (incoming gradient {_number(g)}, "
                f"value {v.data}, arguments {tuple(c.data for c in v._prev)})\n{_describe(_made_at.get(v))}")
