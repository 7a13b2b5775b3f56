"""PyTorch export and import: train small here, continue in PyTorch (or come back).

``to_torch(mlp)`` returns a ``torch.nn.Sequential`` of ``Linear`` layers (float64) and the
activation modules between them, with the MLP's weights copied exactly: it computes the same
outputs. ``from_torch(sequential)`` builds the MLP back from such a Sequential (Linear layers,
each optionally followed by one activation of :data:`TORCH_ACTIVATIONS`).
``torch_gradients(sequential)`` lists the gradients PyTorch computed in the MLP's parameter order,
to compare with micrograd's side by side.

One module each way: ``layer_norm_to_torch`` / ``layer_norm_from_torch`` and
``batch_norm_to_torch`` / ``batch_norm_from_torch`` carry a :class:`~micrograd.norm.LayerNorm` or
:class:`~micrograd.norm.BatchNorm1d` to its ``torch.nn`` twin (float64) and back, with the weights,
the running statistics, ``num_batches_tracked`` and the training mode copied exactly.

PyTorch is imported only when these functions are called (``pip install torch==2.13.0``).
"""

from __future__ import annotations

from typing import Any

from .nn import MLP
from .norm import BatchNorm1d, LayerNorm

__all__ = ["TORCH_ACTIVATIONS", "batch_norm_from_torch", "batch_norm_to_torch", "from_torch",
           "layer_norm_from_torch", "layer_norm_to_torch", "to_torch", "torch_gradients"]

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


def _floats(tensor: Any) -> list[float]:
    return tensor.detach().double().tolist()


def _copy(torch: Any, target: Any, numbers: list[float]) -> None:
    with torch.no_grad():
        target.copy_(torch.tensor(numbers, dtype=torch.float64))


def layer_norm_to_torch(norm: LayerNorm) -> Any:
    """``torch.nn.LayerNorm(n, eps, elementwise_affine)`` (float64) with the same weight and bias."""
    torch = _torch()
    if not isinstance(norm, LayerNorm):
        raise TypeError(f"layer_norm_to_torch converts a LayerNorm, got {type(norm).__name__}")
    out = torch.nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=norm.elementwise_affine,
                             dtype=torch.float64)
    if norm.elementwise_affine:
        _copy(torch, out.weight, [w.data for w in norm.weight])
        _copy(torch, out.bias, [b.data for b in norm.bias])
    return out.train(norm.training)


def layer_norm_from_torch(module: Any) -> LayerNorm:
    """The LayerNorm of a ``torch.nn.LayerNorm`` over one dimension, weight and bias copied."""
    torch = _torch()
    if not isinstance(module, torch.nn.LayerNorm):
        raise TypeError(f"layer_norm_from_torch converts a torch.nn.LayerNorm, got {type(module).__name__}")
    if len(module.normalized_shape) != 1:
        raise ValueError(f"micrograd's LayerNorm normalises one list of Values: normalized_shape "
                         f"{tuple(module.normalized_shape)} has {len(module.normalized_shape)} dimensions")
    if module.elementwise_affine and module.bias is None:
        raise ValueError("a LayerNorm with a weight but no bias (bias=False) has no micrograd counterpart")
    norm = LayerNorm(module.normalized_shape[0], eps=module.eps, elementwise_affine=module.elementwise_affine)
    if norm.elementwise_affine:
        for v, x in zip(norm.weight + norm.bias, _floats(module.weight) + _floats(module.bias)):
            v.data = x
    norm.train(module.training)
    return norm


def batch_norm_to_torch(norm: BatchNorm1d) -> Any:
    """``torch.nn.BatchNorm1d`` (float64) with the same hyperparameters, weights, running
    statistics, ``num_batches_tracked`` and mode."""
    torch = _torch()
    if not isinstance(norm, BatchNorm1d):
        raise TypeError(f"batch_norm_to_torch converts a BatchNorm1d, got {type(norm).__name__}")
    out = torch.nn.BatchNorm1d(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=norm.affine,
                               track_running_stats=norm.track_running_stats, dtype=torch.float64)
    if norm.affine:
        _copy(torch, out.weight, [w.data for w in norm.weight])
        _copy(torch, out.bias, [b.data for b in norm.bias])
    if norm.track_running_stats:
        _copy(torch, out.running_mean, list(norm.running_mean or ()))
        _copy(torch, out.running_var, list(norm.running_var or ()))
        out.num_batches_tracked.fill_(norm.num_batches_tracked or 0)
    return out.train(norm.training)


def batch_norm_from_torch(module: Any) -> BatchNorm1d:
    """The BatchNorm1d of a ``torch.nn.BatchNorm1d``: hyperparameters, weights, running statistics,
    ``num_batches_tracked`` and mode copied exactly."""
    torch = _torch()
    if not isinstance(module, torch.nn.BatchNorm1d):
        raise TypeError(f"batch_norm_from_torch converts a torch.nn.BatchNorm1d, got {type(module).__name__}")
    tracked = module.track_running_stats and module.running_mean is not None
    norm = BatchNorm1d(module.num_features, eps=module.eps, momentum=module.momentum, affine=module.affine,
                       track_running_stats=bool(tracked))
    if norm.affine:
        for v, x in zip(norm.weight + norm.bias, _floats(module.weight) + _floats(module.bias)):
            v.data = x
    if tracked:
        norm.running_mean = _floats(module.running_mean)
        norm.running_var = _floats(module.running_var)
        norm.num_batches_tracked = int(module.num_batches_tracked.item())
    norm.train(module.training)
    return norm
