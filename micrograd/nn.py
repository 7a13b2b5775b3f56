"""Neural-net modules on top of Value, with karpathy's micrograd surface.

``Neuron``, ``Layer`` and ``MLP`` behave like micrograd's by default: weights drawn from
uniform(-1, 1) with the global ``random`` module, bias 0, ReLU on every layer but the last. They
go further with keyword arguments: an activation per layer, an init scheme and a seed::

    MLP(2, [16, 16, 3], activation="tanh", init="xavier", rng=0)

Every module has ``parameters()``, ``named_parameters()`` (dotted names such as
``layers.0.neurons.3.w.1``), ``named_buffers()``, ``zero_grad()``, ``train()`` / ``eval()``,
``batch(samples)``, ``state_dict()`` / ``load_state_dict()`` and ``save(path)`` / ``load(path)``.
``LayerNorm`` and ``BatchNorm1d`` live in :mod:`micrograd.norm` and are re-exported here.

Every ``Layer`` and ``MLP`` call is recorded for graph pictures (``micrograd.provenance``: about
1 µs per MLP call, dropped with the graph), whatever else is imported.

The saved file format is described in :mod:`micrograd.saving`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from operator import methodcaller
from typing import Any

from . import modes, provenance
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten
from .engine import Value, weighted_sum
from .gc_pause import pause, resume
from .module import MAX_SIZE, Module, Rng, check_size, generator
from .norm import BatchNorm1d, LayerNorm
from .scalars import describe, is_real, to_float

__all__ = ["ACTIVATIONS", "INITS", "MAX_SIZE", "MLP", "Activation", "AvgPool2d", "BatchNorm1d", "Conv2d", "Dropout",
           "Flatten", "Layer", "LayerNorm", "MaxPool2d", "Module", "Neuron", "Sequential", "Unflatten"]

Input = Sequence[Value | float]

#: Activation name -> the function applied to a neuron's w . x + b.
#: Method calls (not ``Value.relu``), so duck-typed scalars work too; methodcaller adds no frame.
ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": methodcaller("relu"),
    "leaky_relu": methodcaller("leaky_relu"),  # slope 0.01, as torch.nn.LeakyReLU
    "tanh": methodcaller("tanh"),
    "sigmoid": methodcaller("sigmoid"),
    "linear": lambda v: v,
}
_REPR_NAMES = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid",
               "linear": "Linear"}

#: Init scheme -> the bound a of uniform(-a, a), from fan-in and fan-out.
INITS: dict[str, Callable[[int, int], float]] = {
    "uniform": lambda fan_in, fan_out: 1.0,                           # micrograd's uniform(-1, 1)
    "xavier": lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out)),  # Var = 2 / (in + out)
    "he": lambda fan_in, fan_out: math.sqrt(6.0 / fan_in),            # Var = 2 / fan_in
    "lecun": lambda fan_in, fan_out: math.sqrt(3.0 / fan_in),         # Var = 1 / fan_in
}
INITS["glorot"] = INITS["xavier"]
INITS["kaiming"] = INITS["he"]

def _check_activation(name: Any) -> str:
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return name


def _inputs(x: Any, nin: int) -> list[Any]:
    """The inputs as a list (a one-neuron layer returns a bare Value); a clear error for a wrong size."""
    if isinstance(x, (Value, int, float)) and nin == 1:
        return [x]
    if hasattr(x, "__len__") and len(x) == nin:
        return list(x)
    got = f"{len(x)} values" if hasattr(x, "__len__") else f"a {type(x).__name__}"
    raise ValueError(f"a neuron with {nin} inputs got {got}")


def _bad_input(x: Any, exc: Exception) -> Exception:
    """The error for inputs a forward pass failed on: the first input that is not a Value or a
    real number in the float range, named; else the original error."""
    items = [x] if isinstance(x, (Value, int, float)) else list(x) if hasattr(x, "__iter__") else []
    for i, xi in enumerate(items):
        if not isinstance(xi, Value):
            try:
                to_float(xi, f"input {i}")
            except (TypeError, ValueError) as bad:
                return type(bad)(f"{bad} (inputs are Values or real numbers, one per input of the model)")
    return exc


class Neuron(Module):
    """y = act(w . x + b): ReLU by default, w . x + b when ``nonlin`` is False.

    ``activation`` (one of :data:`ACTIVATIONS`) overrides ``nonlin``. Weights are drawn from
    uniform(-a, a) with a given by ``init`` (one of :data:`INITS`; ``fan_out`` matters for xavier
    only), from ``rng`` (a seed, a random.Random, or None for the global ``random`` module).
    """

    def __init__(self, nin: int, nonlin: bool = True, *, activation: str | None = None,
                 init: str = "uniform", rng: Rng = None, fan_out: int = 1) -> None:
        check_size(nin, "nin")
        check_size(fan_out, "fan_out")  # (xavier's sqrt(6 / (nin + fan_out)) of a negative: math domain error)
        activation = ("relu" if nonlin else "linear") if activation is None else activation
        _check_activation(activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose from {sorted(INITS)}")
        draw, bound = generator(rng).uniform, INITS[init](nin, fan_out)
        self.w = [Value(draw(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = activation

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the neuron is linear."""
        return self.activation != "linear"

    def __call__(self, x: Input) -> Value:
        try:
            out = self._forward(x)
        except (TypeError, ValueError, OverflowError) as exc:  # a str or a 10**400 among the inputs: name it
            raise _bad_input(x, exc) from None
        provenance.record(self, x, out)  # called on its own: pictures draw w and b as parameters
        return out

    def _forward(self, x: Input) -> Value:  # for Layer, which records its neurons' calls itself
        if type(x) is not list or len(x) != len(self.w):  # a bare Value, a tuple, an array, a mistake
            x = _inputs(x, len(self.w))
        act = weighted_sum(self.b, self.w, x)  # micrograd's sum((wi*xi ...), b), node for node
        return ACTIVATIONS[self.activation](act)

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{_REPR_NAMES[self.activation]}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same input; a one-neuron layer returns a bare Value."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        check_size(nout, "nout")
        kwargs["rng"] = generator(kwargs.get("rng"))  # one generator for all the neurons
        self.neurons = [Neuron(nin, fan_out=nout, **kwargs) for _ in range(nout)]

    def __call__(self, x: Input) -> Value | list[Value]:
        try:
            out = [n._forward(x) for n in self.neurons]
        except (TypeError, ValueError, OverflowError) as exc:
            raise _bad_input(x, exc) from None
        provenance.record(self, x, out)  # which Values this call made, for graph pictures
        return out[0] if len(out) == 1 else out

    def _forward(self, x: Input) -> list[Value]:  # for MLP, which records its layers' calls itself
        return [n._forward(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``[nin] + nouts``: ReLU between them, the last layer linear.

    ``activation`` is the hidden layers' activation (a name), or a list with one name per layer
    (the last one included). ``init`` and ``rng`` are passed to every :class:`Neuron`.
    """

    def __init__(self, nin: int, nouts: Sequence[int], *, activation: str | Sequence[str] = "relu",
                 init: str = "uniform", rng: Rng = None) -> None:
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence):
            raise TypeError(f"nouts must be a list of layer sizes, e.g. [16, 16, 1], got {type(nouts).__name__} "
                            f"{describe(nouts)}")
        sz = [check_size(nin, "nin")] + [check_size(n, "layer size") for n in nouts]
        if not nouts:
            raise ValueError("an MLP needs at least one layer size in nouts")
        if isinstance(activation, str):
            acts = [_check_activation(activation)] * (len(nouts) - 1) + ["linear"]
        elif isinstance(activation, Sequence) and len(activation) == len(nouts):
            acts = [_check_activation(a) for a in activation]
        else:
            raise ValueError(f"activation: give one name, or one per layer ({len(nouts)}), got {activation!r}")
        rng = generator(rng)
        self.layers = [Layer(sz[i], sz[i + 1], activation=acts[i], init=init, rng=rng)
                       for i in range(len(nouts))]

    def __call__(self, x: Input) -> Value | list[Value]:
        inputs = x
        # The graph built here has no cycles: spare the collector's rescans. pause() and resume(),
        # not ``with gc_paused()``, allocate nothing, so a loop of calls runs no collection
        # between them (gc_pause.py says why that matters).
        pause()
        try:
            if any(type(layer).__call__ is not Layer.__call__ for layer in self.layers):
                for layer in self.layers:  # a subclass's own __call__ runs (and records itself)
                    x = layer(x)  # type: ignore[assignment]
                provenance.record(self, inputs, x)  # type: ignore[arg-type]
                return x  # type: ignore[return-value]
            outs = []
            try:
                x = self.layers[0]._forward(x)  # type: ignore[assignment]
            except (TypeError, ValueError, OverflowError) as exc:  # a str or a 10**400 among the inputs: name it
                raise _bad_input(x, exc) from None
            outs.append(x)
            for layer in self.layers[1:]:
                x = layer._forward(x)  # type: ignore[assignment]
                outs.append(x)
            # for pictures: one store for the whole call, its layers' calls inside (Values all new)
            provenance.record_layers(self, inputs, self.layers, outs)  # type: ignore[arg-type]
        finally:
            resume()
        return x[0] if len(x) == 1 else x  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Layer(2, 16), Dropout(0.2), Layer(16, 1))``."""

    def __init__(self, *layers: Module) -> None:
        for m in layers:
            if not isinstance(m, Module):  # a plain function would hide every parameter of the list
                raise TypeError(f"Sequential takes modules, got {type(m).__name__} "
                                f"(give a function a Module subclass of its own)")
        self.layers = list(layers)

    def __call__(self, x: Input) -> Value | list[Value]:
        pause()  # as MLP.__call__
        try:
            for layer in self.layers:
                x = layer(x)  # type: ignore[operator]
        finally:
            resume()
        return x  # type: ignore[return-value]

    def batch(self, xs: Sequence[Any]) -> list[Any]:
        """The whole batch through each module in turn (``module.batch``), so a BatchNorm1d inside
        sees every sample; for modules that run sample by sample it equals ``[self(x) for x in xs]``."""
        pause()  # as MLP.__call__
        try:
            for layer in self.layers:
                xs = layer.batch(xs)
        finally:
            resume()
        return list(xs)

    def __repr__(self) -> str:
        return f"Sequential({', '.join(str(m) for m in self.layers)})"


class Activation(Module):
    """act(x) for every Value of nested lists (a convolution's feature maps): ``Activation("relu")``.

    A Layer applies its activation itself; this one follows modules that have none (Conv2d).
    """

    def __init__(self, name: str = "relu") -> None:
        self.name = _check_activation(name)

    def __call__(self, x: Any) -> Any:
        act = ACTIVATIONS[self.name]

        def lift(v: Any) -> Value:
            return v if isinstance(v, Value) else Value(to_float(v, "Activation input"))
        if getattr(x, "ndim", 0):  # a numpy array: its numbers as nested lists
            x = x.tolist()
        if not isinstance(x, (list, tuple)):
            return act(lift(x))
        out: list[Any] = []
        stack = [(x, out)]
        while stack:  # nested lists of any depth, without recursion
            items, into = stack.pop()
            for v in items:
                if isinstance(v, (list, tuple)):
                    into.append([])
                    stack.append((v, into[-1]))
                else:
                    into.append(act(lift(v)))
        return out

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class Dropout(Module):
    """In training mode, zero each input with probability p and scale the rest by 1 / (1 - p).

    The mask is drawn from the module's own ``random.Random`` (``rng``: a seed or a generator) as
    plain numbers, so each output is its input times a constant. In eval mode it is the identity.
    ``micrograd.compile`` refuses it in training mode (a tape would replay one mask for every
    sample and call).
    """

    def __init__(self, p: float = 0.5, *, rng: Rng = None) -> None:
        if isinstance(p, bool) or not is_real(p) or not 0.0 <= to_float(p, "p") <= 1.0:
            raise ValueError(f"dropout probability must be a number in [0, 1], got {describe(p)}")
        self.p = to_float(p, "p")
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)

    def __call__(self, x: Any) -> Any:
        if not self.training or self.p == 0.0:
            return x
        hook = modes.tracer()
        if hook is not None:  # micrograd.compile is tracing: a tape would replay one mask forever
            hook(self, "Dropout")
        keep = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        draw = self.rng.random
        if isinstance(x, (list, tuple)):
            return [xi * (keep if draw() >= self.p else 0.0) for xi in x]
        return x * (keep if draw() >= self.p else 0.0)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"
