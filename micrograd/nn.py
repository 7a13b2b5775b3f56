"""Neural-net modules on top of Value, with karpathy's micrograd surface.

``Neuron``, ``Layer`` and ``MLP`` behave like micrograd's: weights drawn from uniform(-1, 1) with
the global ``random`` module, bias 0, ReLU on every layer but the last.
"""

from __future__ import annotations

import random
from typing import Any, Sequence, Union

from . import provenance
from .engine import Value, gc_paused

__all__ = ["Module", "Neuron", "Layer", "MLP"]

Input = Sequence[Union[Value, float]]


class Module:
    """Base class: a module owns parameters (Values) and is called to run forward."""

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def parameters(self) -> list[Value]:
        """All trainable Values of this module, in a fixed order."""
        return []


class Neuron(Module):
    """y = relu(w . x + b), or w . x + b when ``nonlin`` is False."""

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin

    def __call__(self, x: Input) -> Value:
        act = self.b  # the same sum as micrograd's sum(wi*xi ..., b), as a plain loop (faster)
        for wi, xi in zip(self.w, x):
            act = act + wi * xi
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same input; a one-neuron layer returns a bare Value."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Input) -> Union[Value, list[Value]]:
        out = [n(x) for n in self.neurons]
        provenance.record(self, x, out)  # which Values this call made, for graph pictures
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """Layers of sizes ``[nin] + nouts``: ReLU between them, the last layer linear."""

    def __init__(self, nin: int, nouts: Sequence[int]) -> None:
        sz = [nin] + list(nouts)
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x: Input) -> Union[Value, list[Value]]:
        with gc_paused():  # the graph built here has no cycles: spare the collector's rescans
            inputs = x
            for layer in self.layers:
                x = layer(x)  # type: ignore[assignment]
        provenance.record(self, inputs, x)  # type: ignore[arg-type]
        return x  # type: ignore[return-value]

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
