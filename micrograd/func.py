"""Function transforms, named and meant like ``torch.func`` and JAX: grad, jacrev, hessian, hvp.

They take a plain Python function of scalars and return a new function::

    f = lambda x, y: x * x * y
    grad(f)(3.0, 2.0)                  # df/dx = 12.0
    grad(f, argnums=(0, 1))(3.0, 2.0)  # (12.0, 9.0)
    grad(grad(f))(3.0, 2.0)            # d2f/dx2 = 4.0

Shapes. Each argument of ``f`` is a scalar (a float, int or Value) or a vector (a list or tuple
of scalars); the gradient for an argument has its shape (a float, or a list). ``argnums`` is an
int (one gradient) or a tuple of ints (a tuple of gradients). For :func:`jacrev` the output of
``f`` is a scalar, a vector (a list of scalars) or a tuple of those; the Jacobian of a scalar or
vector output with respect to an argument has shape ``out_shape + arg_shape`` as nested lists,
and a tuple output or tuple ``argnums`` nests as tuples, outputs first, as in ``torch.func``.

Numbers in, numbers out: called with floats, a transform returns floats and builds no graph of
gradients. Called with Values, or inside another transform, it returns Values that carry their
own graph (``create_graph=True``), which is what makes ``grad(grad(f))`` and closures over an
outer transform's variables work. Each transform differentiates with respect to fresh nodes
standing for its arguments, so nested transforms never confuse their variables.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from . import autograd
from .engine import Value, is_grad_enabled
from .scalars import is_real as _is_real

__all__ = ["grad", "hessian", "hvp", "jacobian", "jacrev", "value_and_grad"]

Argnums = int | Sequence[int]

_state = threading.local()  # .depth: how many transforms are running f in this thread


def _is_scalar(x: Any) -> bool:
    return isinstance(x, Value) or _is_real(x)


def _contains_value(x: Any) -> bool:
    if isinstance(x, (list, tuple)):
        return any(_contains_value(item) for item in x)
    return isinstance(x, Value)


def _fresh(x: Any, where: str) -> Value:
    """A new node standing for ``x``: a leaf for a number, ``x + 0`` for a Value (keeps its history)."""
    if isinstance(x, Value):
        return x + 0.0
    if _is_real(x):
        return Value(float(x))
    raise TypeError(f"{where} must be a scalar (a number or a Value) or a list of scalars, "
                    f"got {type(x).__name__}")


class _Call:
    """One call of a transformed function: fresh inputs for the differentiated arguments."""

    def __init__(self, name: str, args: tuple[Any, ...], argnums: Argnums) -> None:
        if not is_grad_enabled():
            raise RuntimeError(f"{name} records a graph: call it outside no_grad()")
        self.single = isinstance(argnums, int)
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        if not nums:
            raise ValueError(f"{name}: argnums must name at least one argument")
        for k in nums:
            if not isinstance(k, int) or not -len(args) <= k < len(args):
                raise ValueError(f"{name}: argnums {argnums!r} out of range for {len(args)} arguments")
        self.nums = tuple(k % len(args) for k in nums)
        if len(set(self.nums)) != len(self.nums):
            raise ValueError(f"{name}: argnums {argnums!r} names an argument twice (as torch.func, "
                             "each argument once)")
        # Values out (with a graph) when given Values or running inside another transform.
        self.keep_graph = getattr(_state, "depth", 0) > 0 or _contains_value(args)
        call_args = list(args)
        self.inputs: list[Any] = []  # per differentiated argument: a node or a list of nodes
        for k in self.nums:
            arg = args[k]
            if isinstance(arg, (list, tuple)):
                fresh: Any = [_fresh(x, f"{name}: argument {k}[{i}]") for i, x in enumerate(arg)]
            else:
                fresh = _fresh(arg, f"{name}: argument {k}")
            self.inputs.append(fresh)
            call_args[k] = fresh
        self.call_args = call_args

    def run(self, f: Callable[..., Any]) -> Any:
        _state.depth = getattr(_state, "depth", 0) + 1
        try:
            return f(*self.call_args)
        finally:
            _state.depth -= 1

    def flat_inputs(self) -> list[Value]:
        return [x for inp in self.inputs for x in (inp if isinstance(inp, list) else [inp])]

    def derivative(self, out: Any) -> Any:
        """d(out)/d(differentiated arguments), shaped like them (a tuple for tuple argnums)."""
        flat = self.flat_inputs()
        if isinstance(out, Value):
            gs = list(autograd.grad(out, flat, create_graph=self.keep_graph, materialize_grads=True))
        elif _is_real(out):  # f does not depend on its arguments
            gs = [Value(0.0) if self.keep_graph else 0.0 for _ in flat]
        else:
            raise TypeError(f"expected a scalar output (a Value or a number), got {type(out).__name__}")
        shaped: list[Any] = []
        for inp in self.inputs:
            if isinstance(inp, list):
                shaped.append(gs[:len(inp)])
                del gs[:len(inp)]
            else:
                shaped.append(gs.pop(0))
        return shaped[0] if self.single else tuple(shaped)

    def result(self, x: Any) -> Any:
        """``x`` as returned to the caller: numbers when called with numbers."""
        if self.keep_graph:
            return x
        return _to_numbers(x)


def _to_numbers(x: Any) -> Any:
    if isinstance(x, Value):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_to_numbers(item) for item in x)
    return x


def _split_aux(out: Any, has_aux: bool, name: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{name}(has_aux=True): f must return a pair (output, aux)")
    return out


def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing ``(f(*args), df/d(args[argnums]))``; f returns one scalar.

    With ``has_aux=True`` f returns ``(output, aux)`` and the result is ``((value, aux), grad)``.

    >>> value_and_grad(lambda x: x * x)(3.0)
    (9.0, 6.0)
    """
    @functools.wraps(f)
    def transformed(*args: Any) -> Any:
        call = _Call("value_and_grad", args, argnums)
        out, aux = _split_aux(call.run(f), has_aux, "value_and_grad")
        if not _is_scalar(out):
            raise TypeError(f"grad needs f to return one scalar (a Value or a number), got "
                            f"{type(out).__name__}: use jacrev for functions with several outputs")
        value, g = call.result(out), call.result(call.derivative(out))
        return ((value, call.result(aux)), g) if has_aux else (value, g)
    return transformed


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing df/d(args[argnums]) (f returns one scalar), as ``torch.func.grad``.

    With ``has_aux=True`` f returns ``(output, aux)`` and the result is ``(grad, aux)``.

    >>> grad(lambda x: x ** 3)(2.0), grad(grad(lambda x: x ** 3))(2.0)
    (12.0, 12.0)
    """
    both = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def transformed(*args: Any) -> Any:
        value, g = both(*args)
        return (g, value[1]) if has_aux else g
    return transformed


def jacrev(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """Return a function computing the Jacobian of f by reverse mode (one pass per output).

    f returns a scalar, a list of scalars, or a tuple of those; see the module docstring for
    the shapes (``out_shape + arg_shape``). With ``has_aux=True`` the result is ``(jac, aux)``.

    >>> jacrev(lambda x: [x[0] * x[1], x[0] + x[1]])([2.0, 3.0])
    [[3.0, 2.0], [1.0, 1.0]]
    """
    @functools.wraps(f)
    def transformed(*args: Any) -> Any:
        call = _Call("jacrev", args, argnums)
        out, aux = _split_aux(call.run(f), has_aux, "jacrev")
        jac = call.result(_map_outputs(out, call.derivative, None if call.single else len(call.nums)))
        return (jac, call.result(aux)) if has_aux else jac
    return transformed


jacobian = jacrev  # JAX's name for the same thing


def _map_outputs(out: Any, fn: Callable[[Any], Any], n_args: int | None) -> Any:
    """Replace every scalar of an output structure (scalar, list of scalars, tuples of those).

    A list is one vector output: with several argnums (``n_args``) its rows regroup per argument, so the
    tuple over arguments sits outside the list (``J[arg][row]``), as for a tensor in torch.func.
    """
    if isinstance(out, tuple):
        return tuple(_map_outputs(item, fn, n_args) for item in out)
    if isinstance(out, list):
        for i, item in enumerate(out):
            if not _is_scalar(item):
                raise TypeError(f"a vector output must hold scalars; item {i} is {type(item).__name__}")
        rows = [fn(item) for item in out]
        if n_args is None:
            return rows
        return tuple([row[k] for row in rows] for k in range(n_args))
    if _is_scalar(out):
        return fn(out)
    raise TypeError(f"f must return a scalar, a list of scalars or a tuple of those, got {type(out).__name__}")


def hessian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """Return a function computing the Hessian of scalar f: ``jacrev(jacrev(f))``.

    For a vector argument of length n the result is an n x n nested list; for ``argnums=(i, j)``
    a tuple of tuples of blocks ``H[i][j]``, as ``torch.func.hessian``.

    >>> hessian(lambda x: x[0] * x[0] * x[1])([1.0, 2.0])
    [[4.0, 2.0], [2.0, 0.0]]
    """
    return jacrev(jacrev(f, argnums), argnums)


def hvp(f: Callable[..., Any], primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, ...]:
    """The Hessian of scalar f at ``primals`` times ``tangents``, without forming the Hessian.

    ``primals`` is the tuple of f's arguments and ``tangents`` a tuple of the same shapes; the
    result has those shapes too (like ``torch.autograd.functional.hvp(f, primals, tangents)[1]``).
    Two reverse passes: the gradient with its graph, then the gradient of its dot with tangents.

    >>> hvp(lambda x, y: x * x * y, (3.0, 2.0), (1.0, 0.0))
    (4.0, 6.0)
    """
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise TypeError("hvp: primals and tangents must be tuples (one entry per argument of f)")
    if len(primals) != len(tangents) or any(
            isinstance(p, (list, tuple)) != isinstance(t, (list, tuple)) or
            (isinstance(p, (list, tuple)) and len(p) != len(t)) for p, t in zip(primals, tangents)):
        raise ValueError("hvp: tangents must have the shapes of primals")
    every = tuple(range(len(primals)))

    def grad_dot_tangents(*xs: Any) -> Any:
        total: Any = 0.0
        for g, t in zip(grad(f, every)(*xs), tangents):
            for gi, ti in (zip(g, t) if isinstance(g, list) else [(g, t)]):
                total = total + gi * ti
        return total

    return grad(grad_dot_tangents, every)(*primals)  # type: ignore[no-any-return]
