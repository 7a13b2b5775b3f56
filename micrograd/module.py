"""The base of every network: :class:`Module` finds its parameters and buffers, saves and loads
them, and switches training and evaluation mode; plus the size and random-generator rules modules
share.

A buffer is state that is not trained: a plain number (or a list of them) that a module updates
itself, such as BatchNorm1d's running statistics. A module names its buffer attributes in the
class attribute ``buffers``; they are never Values, so no graph reaches them.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    buffers: tuple[str, ...] = ()  # attribute names of this class's buffers (floats, int counters, float lists)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def batch(self, xs: Sequence[Any]) -> list[Any]:
        """The module on each sample of a batch, ``[self(x) for x in xs]``; a module that looks
        across the batch (BatchNorm1d) or holds one (Sequential) overrides it."""
        return [self(x) for x in xs]  # type: ignore[operator]

    def parameters(self) -> list[Value]:
        """All trainable Values of this module, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted name, Value) for every parameter, e.g. ``('layers.0.neurons.3.w.1', w)``.

        A parameter shared by several places (the same layer twice in a Sequential) is listed once,
        under its first name, as torch's ``named_parameters()``: an optimiser must step it once.
        """
        return [(name, p) for name, p in _walk(self, _holds_parameters) if isinstance(p, Value)]

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, each once (a shared one too, as torch lists
        it), depth first: the modules of ``named_modules()``."""
        for _, m in self.named_modules():
            yield m

    def named_modules(self) -> list[tuple[str, Module]]:
        """(dotted name, module) for this module ('') and every module inside it, each once, in
        the order and with the names of ``named_parameters()``."""
        return [(name, m) for name, m in _walk(self, _holds_modules) if isinstance(m, Module)]

    def named_buffers(self) -> list[tuple[str, float]]:
        """(dotted name, number) for every buffer, e.g. ``('layers.1.running_mean.0', 0.0)``: a
        list buffer gives one entry per item, as a parameter list does."""
        return [(name, getattr(m, attr) if i is None else getattr(m, attr)[i])
                for name, m, attr, i in self._buffer_slots()]

    def _buffer_slots(self) -> list[tuple[str, Module, str, int | None]]:
        """(dotted name, owner, attribute, index in a list buffer or None) for every buffer."""
        slots: list[tuple[str, Module, str, int | None]] = []
        for prefix, m in self.named_modules():
            for attr in type(m).buffers:
                name = f"{prefix}.{attr}" if prefix else attr
                x = getattr(m, attr)
                if isinstance(x, list):
                    slots.extend((f"{name}.{i}", m, attr, i) for i in range(len(x)))
                elif x is not None:  # (None: a buffer this instance does not keep)
                    slots.append((name, m, attr, None))
        return slots

    def train(self, mode: bool = True) -> Module:
        """Put this module and all inside it in training mode (Dropout active, BatchNorm1d on batch
        statistics); returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all inside it in evaluation mode (Dropout off, BatchNorm1d on its
        running statistics); returns self."""
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
        """{dotted name: number} for every parameter (``named_parameters()`` order), then every
        buffer (``named_buffers()`` order), as torch's ``state_dict()``."""
        return {**{name: p.data for name, p in self.named_parameters()}, **dict(self.named_buffers())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter and buffer from ``state``; checks everything first, so an error
        changes nothing."""
        named = self.named_parameters()
        slots = self._buffer_slots()
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a mapping of parameter names to numbers, got {type(state).__name__}")
        names = [n for n, _ in named] + [n for n, *_ in slots]
        missing = [n for n in names if n not in state]
        known = set(names)
        unexpected = [n for n in state if n not in known]
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
        buffered = [_count(state[name], name) if i is None and isinstance(getattr(m, attr), int)
                    else to_float(_number(state[name], name), f"buffer {name!r}") for name, m, attr, i in slots]
        for (_, p), x in zip(named, values):
            p.data = x
        for (_, m, attr, i), b in zip(slots, buffered):
            if i is None:
                setattr(m, attr, b)
            else:
                getattr(m, attr)[i] = b

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


def _number(x: Any, name: str) -> Any:
    """``x`` if it is a real number (not a bool), else a TypeError naming the buffer."""
    if isinstance(x, bool) or not is_real(x):
        raise TypeError(f"buffer {name!r} must be a number, got {type(x).__name__} {describe(x)}")
    return x


def _count(x: Any, name: str) -> int:
    """A counter buffer's value (num_batches_tracked): a whole number >= 0, as an int."""
    f = to_float(_number(x, name), f"buffer {name!r}")
    if not (math.isfinite(f) and f >= 0 and f == int(f)):
        raise ValueError(f"buffer {name!r} counts, so it must be a whole number >= 0, got {describe(x)}")
    return int(f)


def _walk(root: Module, holds: Callable[[Any], bool]) -> Iterator[tuple[str, Any]]:
    """(dotted name, object) for each Module and Value under ``root`` (itself named ''), each once
    under its first name: depth first, in attribute order, without recursion, entering the
    attributes and list items for which ``holds`` is true."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, obj = stack.pop()
        if isinstance(obj, (Module, Value)):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield prefix, obj
            if isinstance(obj, Value):
                continue
            items: Any = vars(obj).items()
        else:
            items = ((str(i), x) for i, x in enumerate(obj))
        children = [(f"{prefix}.{name}" if prefix else name, x) for name, x in items if holds(x)]
        stack.extend(reversed(children))


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
