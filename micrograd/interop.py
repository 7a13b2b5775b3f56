"""PyTorch export and import: train small here, continue in PyTorch (or come back).

``to_torch(mlp)`` returns a ``torch.nn.Sequential`` of ``Linear`` layers (float64) and the
activation modules between them, with the MLP's weights copied exactly: it computes the same
outputs. ``from_torch(sequential)`` builds the MLP back from such a Sequential (Linear layers,
each optionally followed by one activation of :data:`TORCH_ACTIVATIONS`).
``torch_gradients(sequential)`` lists the gradients PyTorch computed in the MLP's parameter order,
to compare with micrograd's side by side.

PyTorch is imported only when these functions are called (``pip install torch==2.13.0``).
"""

from __future__ import annotations

from typing import Any

from .nn import MLP

__all__ = ["TORCH_ACTIVATIONS", "from_torch", "to_torch", "torch_gradients"]

#: micrograd activation name -> torch.nn module class name (linear: no module).
TORCH_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("micrograd.interop needs PyTorch: pip install torch==2.13.0") from exc
    return torch


def to_torch(mlp: MLP) -> Any:
    """A ``torch.nn.Sequential`` (float64) with the MLP's layers, activations and exact weights."""
    torch = _torch()
    if not isinstance(mlp, MLP):
        raise TypeError(f"to_torch converts an MLP, got {type(mlp).__name__}")
    modules = []
    for layer in mlp.layers:
        neurons = layer.neurons
        kinds = {n.activation for n in neurons}
        if len(kinds) != 1:
            raise ValueError(f"a layer mixes activations {sorted(kinds)}; torch layers have one")
        linear = torch.nn.Linear(len(neurons[0].w), len(neurons), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in neurons], dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in neurons], dtype=torch.float64))
        modules.append(linear)
        (kind,) = kinds
        if kind != "linear":
            modules.append(getattr(torch.nn, TORCH_ACTIVATIONS[kind])())
    return torch.nn.Sequential(*modules)


def _check_sequential(sequential: Any, what: str) -> None:
    if not hasattr(sequential, "__iter__"):  # e.g. a bare Linear: else "object is not iterable"
        raise TypeError(f"{what} a torch.nn.Sequential of Linear layers, got {type(sequential).__name__} "
                        f"(wrap a single layer: torch.nn.Sequential(layer))")


def from_torch(sequential: Any) -> MLP:
    """The MLP of a Sequential of Linear layers, each optionally followed by one activation."""
    torch = _torch()
    _check_sequential(sequential, "from_torch converts")
    by_class = {v: k for k, v in TORCH_ACTIVATIONS.items()}
    linears: list[Any] = []
    activations: list[str] = []
    for i, module in enumerate(sequential):
        name = type(module).__name__
        if isinstance(module, torch.nn.Linear):
            if linears and module.in_features != linears[-1].out_features:
                raise ValueError(f"layer {i}: {module.in_features} inputs after a layer of "
                                 f"{linears[-1].out_features} outputs")
            if module.bias is None:
                raise ValueError(f"layer {i}: Linear without bias has no MLP counterpart")
            linears.append(module)
            activations.append("linear")
        elif name in by_class and linears and activations[-1] == "linear":
            if name == "LeakyReLU" and module.negative_slope != 0.01:
                raise ValueError(f"layer {i}: LeakyReLU slope {module.negative_slope} (micrograd's is 0.01)")
            activations[-1] = by_class[name]
        else:
            raise ValueError(f"layer {i}: cannot convert {name} (expected Linear layers, each optionally "
                             f"followed by one of {sorted(by_class)})")
    if not linears:
        raise ValueError("the Sequential has no Linear layer")
    model = MLP(linears[0].in_features, [m.out_features for m in linears], activation=activations,
                rng=0)  # (weights overwritten below; a seed leaves the global generator alone)
    for layer, linear in zip(model.layers, linears):
        weight = linear.weight.detach().to(torch.float64).tolist()
        bias = linear.bias.detach().to(torch.float64).tolist()
        for n, row, b in zip(layer.neurons, weight, bias):
            for w, x in zip(n.w, row):
                w.data = x
            n.b.data = b
    return model


def torch_gradients(sequential: Any) -> list[float]:
    """The ``.grad`` of a Sequential's Linear layers in the MLP's parameter order, as floats.

    The order is that of ``from_torch(sequential).parameters()``: per output neuron its weights,
    then its bias, layer after layer. With ``net = to_torch(model)`` and a backward pass on each
    side, ``torch_gradients(net)`` lines up with ``[p.grad for p in model.parameters()]``. A
    parameter without a gradient (no backward pass reached it) counts as 0.
    """
    torch = _torch()
    _check_sequential(sequential, "torch_gradients reads")
    linears = [m for m in sequential if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError("the Sequential has no Linear layer")
    grads: list[float] = []
    for i, linear in enumerate(linears):
        if linear.bias is None:
            raise ValueError(f"Linear layer {i}: no bias, so no MLP parameter order to follow")
        weight, bias = [torch.zeros_like(p) if p.grad is None else p.grad for p in (linear.weight, linear.bias)]
        grads += torch.cat([weight, bias[:, None]], dim=1).detach().to(torch.float64).flatten().tolist()
    return grads
