"""The base of every network: :class:`Module` finds its parameters, saves and loads them, and
switches training and evaluation mode; plus the size and random-generator rules modules share.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Mapping
from typing import Any

from . import saving
from .engine import Value
from .scalars import describe, is_real, to_float

__all__ = ["MAX_SIZE", "Module", "Rng", "check_size", "generator"]

Rng = random.Random | int | None


def generator(rng: Rng) -> Any:
    """A random.Random for a seed, the given one as is, or the global ``random`` module for None."""
    if rng is None or rng is random:
        return random  # micrograd draws from the global generator: random.seed() reproduces it
    if isinstance(rng, random.Random):
        return rng
    if isinstance(rng, int) and not isinstance(rng, bool):
        return random.Random(rng)
    raise TypeError(f"rng must be None, an int seed or a random.Random, got {type(rng).__name__}")


MAX_SIZE = 10 ** 6  # inputs of a neuron, neurons of a layer: a Value is ~100 bytes, so 10**6 is ~100 MB


def check_size(n: Any, what: str) -> int:
    """``n`` if it is an int in [1, MAX_SIZE], else a ValueError naming ``what``."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SIZE:
        raise ValueError(f"{what} must be a positive int of at most {MAX_SIZE:,}, got {describe(n)}")
    return n


class Module:
    """Base class: a module owns parameters (Values) and is called to run forward.

    ``named_parameters()`` finds parameters in the instance's attributes, in the order they were
    set: a Value, a list of Values, a Module or a list of Modules. Subclasses may override
    ``parameters()`` for speed, keeping the same order.
    """

    training: bool = True  # set per instance by train() / eval()

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        """All trainable Values of this module, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted name, Value) for every parameter, e.g. ``('layers.0.neurons.3.w.1', w)``.

        A parameter shared by several places (the same layer twice in a Sequential) is listed once,
        under its first name, as torch's ``named_parameters()``: an optimiser must step it once.
        """
        out: list[tuple[str, Value]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Any]] = [("", self)]
        while stack:  # depth-first, in attribute order, without recursion
            prefix, obj = stack.pop()
            if isinstance(obj, Value):
                if id(obj) not in seen:
                    seen.add(id(obj))
                    out.append((prefix, obj))
                continue
            items = (vars(obj).items() if isinstance(obj, Module)
                     else ((str(i), x) for i, x in enumerate(obj)))
            children = [(f"{prefix}.{name}" if prefix else name, x) for name, x in items if _holds_parameters(x)]
            stack.extend(reversed(children))
        return out

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, depth first."""
        stack: list[Any] = [self]
        while stack:
            obj = stack.pop()
            if isinstance(obj, Module):
                yield obj
                stack.extend(reversed([x for x in vars(obj).values() if _holds_modules(x)]))
            else:
                stack.extend(reversed([x for x in obj if _holds_modules(x)]))

    def train(self, mode: bool = True) -> Module:
        """Put this module and all inside it in training mode (Dropout active); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all inside it in evaluation mode (Dropout off); returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        """The structure: ``Name(attr=<module repr>, weights=[3 Values], ...)``."""
        parts = []
        for name, x in vars(self).items():
            if isinstance(x, Value):
                parts.append(f"{name}=Value")
            elif isinstance(x, Module):
                parts.append(f"{name}={x!r}")
            elif _holds_parameters(x) and isinstance(x[0], Value):
                parts.append(f"{name}=[{len(x)} Values]")
            elif _holds_parameters(x):
                parts.append(f"{name}=[{', '.join(repr(m) for m in x)}]")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, float]:
        """{dotted name: float} for every parameter, in ``named_parameters()`` order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from ``state``; checks everything first, so an error changes nothing."""
        named = self.named_parameters()
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of parameter names to numbers, got {type(state).__name__}")
        missing = [n for n, _ in named if n not in state]
        unexpected = [n for n in state if n not in dict(named)]
        if missing or unexpected:
            raise ValueError("the state does not fit this model (another architecture?): "
                             + "; ".join(part for part in (_some("missing", missing), _some("unexpected", unexpected))
                                         if part))
        values = []
        for name, _ in named:
            x = state[name]
            if isinstance(x, bool) or not is_real(x):
                raise TypeError(f"parameter {name!r} must be a number, got {type(x).__name__} {describe(x)}")
            values.append(to_float(x, f"parameter {name!r}"))  # the number rule of micrograd.scalars
        for (_, p), x in zip(named, values):
            p.data = x

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to ``path`` as JSON, atomically (format, links and read-only files:
        :mod:`micrograd.saving`). An error names ``path`` and leaves every file as it was."""
        saving.write(path, repr(self), self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by ``save``; any problem raises and leaves the model untouched.

        A file that is not exactly the format of :mod:`micrograd.saving` raises ValueError
        (a missing one FileNotFoundError).
        """
        path = saving.as_path(path)
        state = saving.read(path, repr(self))
        try:  # load_state_dict checks every name and number before assigning any
            self.load_state_dict(state)
        except TypeError as exc:  # a value that is not a number: bad file content
            raise ValueError(f"{path!r}: {exc}") from None


def _holds_parameters(x: Any) -> bool:
    return isinstance(x, (Value, Module)) or (
        isinstance(x, (list, tuple)) and bool(x) and all(isinstance(i, (Value, Module)) for i in x))


def _holds_modules(x: Any) -> bool:
    return isinstance(x, Module) or (isinstance(x, (list, tuple)) and any(isinstance(i, Module) for i in x))


def _some(what: str, names: list[str]) -> str:
    if not names:
        return ""
    more = f" (and {len(names) - 3} more)" if len(names) > 3 else ""
    return f"{what} {', '.join(names[:3])}{more}"
