"""Gradients as values: ``grad()``, higher-order gradients, and ``detect_anomaly()``.

``Value.backward()`` accumulates into ``.grad``; ``grad(outputs, inputs)`` returns d(outputs)/d(inputs)
and touches no ``.grad`` (as ``torch.autograd.grad``). Both run the passes of ``backward.py``: with
``create_graph=True`` each op's derivative rule runs on Values (the same rule from the op table),
so the gradients are Values with a graph of their own and can be differentiated again, to any
order. ``detect_anomaly()`` (state in ``modes.py``, checks in ``anomaly.py``) is re-exported here.

With ``backward(create_graph=True)`` every ``.grad`` becomes a Value, as in PyTorch. Such a
gradient refers to the graph, which refers to the node holding it: a reference cycle, which the
cycle collector frees (``zero_grad()`` breaks it at once). ``grad(..., create_graph=True)`` makes
no such cycle and is the better choice for gradients of gradients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .backward import accumulate, gradients
from .engine import Value
from .modes import detect_anomaly, is_anomaly_enabled
from .scalars import is_real, to_float

__all__ = ["accumulate", "detect_anomaly", "grad", "gradients", "is_anomaly_enabled"]

Scalar = Value | float | int
Gradient = Value | float


def _seed(x: Any, create_graph: bool, what: str) -> Gradient:
    if isinstance(x, Value):
        return x if create_graph else x.data
    x = to_float(x, what)
    return Value(x) if create_graph else x


def _as_value(g: Gradient) -> Value:
    return g if isinstance(g, Value) else Value(g)


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
    elif isinstance(grad_outputs, (Value, int, float)) or is_real(grad_outputs):
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
