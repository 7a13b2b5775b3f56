"""PyTorch export and import: train small here, continue in PyTorch (or come back).

``to_torch(model)`` returns a ``torch.nn.Sequential`` (float64) computing what ``model`` computes,
with its weights copied exactly: an ``MLP`` becomes ``Linear`` layers and the activation modules
between them; a micrograd ``Sequential`` becomes one torch module (or two) per module, each by
its converter in :data:`TO_TORCH` (``Layer`` -> ``Linear`` + activation, ``Conv2d``,
``MaxPool2d``, ``AvgPool2d``, ``Flatten``, ``Unflatten``, ``Activation``). ``from_torch(sequential)`` comes
back: Linear layers (each optionally followed by one activation of :data:`TORCH_ACTIVATIONS`)
give an ``MLP``, as before; a network with other modules gives a ``Sequential``, each module by
its converter in :data:`FROM_TORCH`. Anything else is an error naming the module.
``torch_gradients(sequential)`` lists the gradients PyTorch computed in the order of
``from_torch(sequential).parameters()``, to compare with micrograd's side by side.

Torch runs on batches: a micrograd model reads one sample (an image is channels x height x width,
a list of features is one row), its torch twin a batch of them (``net(x[None])``).

One module each way: ``layer_norm_to_torch`` / ``layer_norm_from_torch`` and
``batch_norm_to_torch`` / ``batch_norm_from_torch`` carry a :class:`~micrograd.norm.LayerNorm` or
:class:`~micrograd.norm.BatchNorm1d` to its ``torch.nn`` twin (float64) and back, with the weights,
the running statistics, ``num_batches_tracked`` and the training mode copied exactly.

PyTorch is imported only when these functions are called (``pip install torch==2.13.0``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten
from .module import Module
from .nn import MLP, Activation, Layer, Sequential
from .norm import BatchNorm1d, LayerNorm

__all__ = ["FROM_TORCH", "TORCH_ACTIVATIONS", "TO_TORCH", "batch_norm_from_torch", "batch_norm_to_torch",
           "from_torch", "layer_norm_from_torch", "layer_norm_to_torch", "to_torch", "torch_gradients"]

#: micrograd activation name -> torch.nn module class name (linear: no module).
TORCH_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError("micrograd.interop needs PyTorch: pip install torch==2.13.0") from exc
    return torch


def _floats(tensor: Any) -> list[float]:
    """A tensor's numbers as float64 Python floats, row by row."""
    return tensor.detach().to(dtype=_torch().float64).flatten().tolist()


def _set(values: list[Any], numbers: list[float]) -> None:
    """Set each Value's ``.data`` to the matching number."""
    for v, x in zip(values, numbers):
        v.data = x


def _copy(target: Any, numbers: list[float]) -> None:
    """Copy numbers into a torch parameter of the same size, exactly (float64)."""
    torch = _torch()
    with torch.no_grad():
        target.copy_(torch.tensor(numbers, dtype=torch.float64).reshape(target.shape))


# --- micrograd -> torch: one converter per module class, each returning torch modules -----------

def _activation_module(name: str) -> list[Any]:
    return [] if name == "linear" else [getattr(_torch().nn, TORCH_ACTIVATIONS[name])()]


def layer_to_torch(layer: Layer) -> list[Any]:
    """``Linear`` (and its activation module): ``y = act(W x + b)``, W's rows the neurons' weights."""
    torch = _torch()
    neurons = layer.neurons
    kinds = {n.activation for n in neurons}
    if len(kinds) != 1:
        raise ValueError(f"a layer mixes activations {sorted(kinds)}; torch layers have one")
    linear = torch.nn.Linear(len(neurons[0].w), len(neurons), dtype=torch.float64)
    _copy(linear.weight, [w.data for n in neurons for w in n.w])
    _copy(linear.bias, [n.b.data for n in neurons])
    return [linear] + _activation_module(kinds.pop())


def conv2d_to_torch(conv: Conv2d) -> list[Any]:
    """``torch.nn.Conv2d`` with the same sizes, weight and bias (float64)."""
    torch = _torch()
    out = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                          dtype=torch.float64)
    _copy(out.weight, [w.data for w in conv.weight])
    _copy(out.bias, [b.data for b in conv.bias])
    return [out]


def pool_to_torch(pool: MaxPool2d | AvgPool2d) -> list[Any]:
    """``torch.nn.MaxPool2d`` or ``AvgPool2d`` with the same window and stride."""
    return [getattr(_torch().nn, type(pool).__name__)(pool.kernel_size, pool.stride)]


def flatten_to_torch(flatten: Flatten) -> list[Any]:
    """``torch.nn.Flatten()``: a batch of samples, each laid out flat."""
    return [_torch().nn.Flatten()]


def unflatten_to_torch(unflatten: Unflatten) -> list[Any]:
    """``torch.nn.Unflatten(1, (C, H, W))``: a batch of flat rows, each as one image."""
    return [_torch().nn.Unflatten(1, (unflatten.channels, unflatten.height, unflatten.width))]


def activation_to_torch(activation: Activation) -> list[Any]:
    """The activation's ``torch.nn`` module (``Identity`` for linear)."""
    return _activation_module(activation.name) or [_torch().nn.Identity()]


def mlp_to_torch(mlp: MLP) -> list[Any]:
    """Its layers, one after another."""
    return [m for layer in mlp.layers for m in layer_to_torch(layer)]


#: micrograd module class -> its converter, returning the torch modules that compute the same.
TO_TORCH: dict[type[Module], Callable[[Any], list[Any]]] = {
    Layer: layer_to_torch,
    MLP: mlp_to_torch,
    Conv2d: conv2d_to_torch,
    MaxPool2d: pool_to_torch,
    AvgPool2d: pool_to_torch,
    Flatten: flatten_to_torch,
    Unflatten: unflatten_to_torch,
    Activation: activation_to_torch,
    LayerNorm: lambda norm: [layer_norm_to_torch(norm)],
    BatchNorm1d: lambda norm: [batch_norm_to_torch(norm)],
}


def to_torch(model: Module) -> Any:
    """A ``torch.nn.Sequential`` (float64) computing what an MLP or a Sequential computes, weights exact."""
    torch = _torch()
    if not isinstance(model, (MLP, Sequential)):
        raise TypeError(f"to_torch converts an MLP or a Sequential, got {type(model).__name__}")
    parts = model.layers if isinstance(model, Sequential) else [model]
    modules = []
    for i, part in enumerate(parts):
        convert = TO_TORCH.get(type(part))
        if convert is None:
            raise TypeError(f"to_torch: module {i} is a {type(part).__name__}, which has no converter "
                            f"(it converts {', '.join(sorted(c.__name__ for c in TO_TORCH))})")
        modules += convert(part)
    return torch.nn.Sequential(*modules)


# --- torch -> micrograd: one converter per torch.nn class name, each given the module and the
# activation following it (None if none), returning micrograd modules --------------------------

def _check_sequential(sequential: Any, what: str) -> None:
    if not hasattr(sequential, "__iter__"):  # e.g. a bare Linear: else "object is not iterable"
        raise TypeError(f"{what} a torch.nn.Sequential of Linear layers, got {type(sequential).__name__} "
                        f"(wrap a single layer: torch.nn.Sequential(layer))")


def _pair(x: Any) -> tuple[int, int]:
    return (x, x) if isinstance(x, int) else (int(x[0]), int(x[1]))


def _then(activation: str | None) -> list[Module]:
    return [] if activation is None else [Activation(activation)]


def linear_from_torch(linear: Any, activation: str | None) -> list[Module]:
    """A Layer with the Linear's weights, its activation the one that follows (linear if none)."""
    if linear.bias is None:
        raise ValueError("Linear without bias has no MLP counterpart")
    layer = Layer(linear.in_features, linear.out_features, activation=activation or "linear", rng=0)
    weight, bias = linear.weight.detach().to(dtype=_torch().float64).tolist(), _floats(linear.bias)
    for n, row, b in zip(layer.neurons, weight, bias):
        _set(n.w, row)
        n.b.data = b
    return [layer]


def conv2d_from_torch(conv: Any, activation: str | None) -> list[Module]:
    """A Conv2d with the same sizes, weight and bias (and an Activation after it, if one follows)."""
    if conv.groups != 1 or _pair(conv.dilation) != (1, 1) or conv.padding_mode != "zeros":
        raise ValueError(f"Conv2d with groups={conv.groups}, dilation={conv.dilation}, padding_mode="
                         f"{conv.padding_mode!r}: micrograd's Conv2d has groups 1, dilation 1 and zero padding")
    if isinstance(conv.padding, str) or conv.bias is None:
        raise ValueError(f"Conv2d with padding={conv.padding!r}, bias={conv.bias is not None}: micrograd's "
                         f"Conv2d takes padding as numbers and has a bias")
    out = Conv2d(conv.in_channels, conv.out_channels, _pair(conv.kernel_size), _pair(conv.stride),
                 _pair(conv.padding), rng=0)  # (weights overwritten; a seed leaves the global generator alone)
    _set(out.weight, _floats(conv.weight))
    _set(out.bias, _floats(conv.bias))
    return [out] + _then(activation)


def pool_from_torch(pool: Any, activation: str | None) -> list[Module]:
    """A MaxPool2d or AvgPool2d with the same window and stride (no padding, floor mode)."""
    name = type(pool).__name__
    odd = {"padding": _pair(pool.padding) != (0, 0), "ceil_mode": pool.ceil_mode,
           "dilation": name == "MaxPool2d" and _pair(pool.dilation) != (1, 1),
           "return_indices": name == "MaxPool2d" and pool.return_indices,
           "divisor_override": name == "AvgPool2d" and pool.divisor_override is not None}
    if any(odd.values()):
        raise ValueError(f"{name} with {', '.join(k for k, v in odd.items() if v)}: micrograd's {name} has "
                         f"a window and a stride only")
    module = {"MaxPool2d": MaxPool2d, "AvgPool2d": AvgPool2d}[name]
    return [module(_pair(pool.kernel_size), _pair(pool.stride))] + _then(activation)


def flatten_from_torch(flatten: Any, activation: str | None) -> list[Module]:
    """Flatten of every dimension but the batch's (torch's default)."""
    if (flatten.start_dim, flatten.end_dim) != (1, -1):
        raise ValueError(f"Flatten(start_dim={flatten.start_dim}, end_dim={flatten.end_dim}): micrograd's "
                         f"Flatten lays out a whole sample (torch's Flatten(1, -1))")
    return [Flatten()] + _then(activation)


def unflatten_from_torch(unflatten: Any, activation: str | None) -> list[Module]:
    """Unflatten of a flat row into channels x height x width (torch's Unflatten(1, (C, H, W)))."""
    size = tuple(unflatten.unflattened_size)
    if unflatten.dim not in (1, -1) or len(size) != 3 or not all(isinstance(n, int) and n > 0 for n in size):
        raise ValueError(f"Unflatten(dim={unflatten.dim}, unflattened_size={size}): micrograd's Unflatten "
                         f"folds a flat row into channels x height x width (torch's Unflatten(1, (C, H, W)))")
    return [Unflatten(*size)] + _then(activation)


#: torch.nn class name -> its converter: ``convert(module, activation)`` returns micrograd modules.
FROM_TORCH: dict[str, Callable[[Any, str | None], list[Module]]] = {
    "Linear": linear_from_torch,
    "Conv2d": conv2d_from_torch,
    "MaxPool2d": pool_from_torch,
    "AvgPool2d": pool_from_torch,
    "Flatten": flatten_from_torch,
    "Unflatten": unflatten_from_torch,
    "LayerNorm": lambda norm, activation: [layer_norm_from_torch(norm)] + _then(activation),
    "BatchNorm1d": lambda norm, activation: [batch_norm_from_torch(norm)] + _then(activation),
}


def _steps(torch: Any, sequential: Any) -> list[tuple[int, Any, str | None]]:
    """(index, module, name of the activation after it or None) for every module with a converter."""
    by_class = {v: k for k, v in TORCH_ACTIVATIONS.items()}
    steps: list[tuple[int, Any, str | None]] = []
    for i, module in enumerate(sequential):
        name = type(module).__name__
        if name in by_class and steps and steps[-1][2] is None:
            if name == "LeakyReLU" and module.negative_slope != 0.01:
                raise ValueError(f"layer {i}: LeakyReLU slope {module.negative_slope} (micrograd's is 0.01)")
            steps[-1] = (steps[-1][0], steps[-1][1], by_class[name])
        elif name in FROM_TORCH and isinstance(module, getattr(torch.nn, name)):
            steps.append((i, module, None))
        else:
            raise ValueError(f"layer {i}: cannot convert {name} (expected {', '.join(FROM_TORCH)}, each "
                             f"optionally followed by one of {sorted(by_class)})")
    return steps


def from_torch(sequential: Any) -> MLP | Sequential:
    """An MLP for Linear layers (each optionally followed by one activation), else a Sequential."""
    torch = _torch()
    _check_sequential(sequential, "from_torch converts")
    steps = _steps(torch, sequential)
    if not steps:
        raise ValueError("the Sequential has no Linear layer")
    modules: list[Module] = []
    for k, (i, module, activation) in enumerate(steps):
        before = steps[k - 1][1] if k else None
        if isinstance(module, torch.nn.Linear) and isinstance(before, torch.nn.Linear) \
                and module.in_features != before.out_features:
            raise ValueError(f"layer {i}: {module.in_features} inputs after a layer of {before.out_features} outputs")
        try:
            modules += FROM_TORCH[type(module).__name__](module, activation)
        except ValueError as exc:
            raise ValueError(f"layer {i}: {exc}") from None
    if all(isinstance(m, torch.nn.Linear) for _, m, _ in steps):
        return _mlp(steps, modules)  # type: ignore[arg-type]
    return Sequential(*modules)


def _mlp(steps: list[tuple[int, Any, str | None]], layers: list[Layer]) -> MLP:
    """The MLP of Linear layers, as micrograd builds it, holding the converted layers."""
    mlp = MLP(steps[0][1].in_features, [m.out_features for _, m, _ in steps],
              activation=[a or "linear" for _, _, a in steps], rng=0)  # (a seed leaves the global generator alone)
    for mine, theirs in zip(mlp.layers, layers):
        for n, m in zip(mine.neurons, theirs.neurons):
            _set(n.w, [w.data for w in m.w])
            n.b.data = m.b.data
    return mlp


# --- gradients ----------------------------------------------------------------------------------

def torch_gradients(sequential: Any) -> list[float]:
    """The ``.grad`` of a Sequential's parameters in the order of ``from_torch(sequential).parameters()``.

    A Linear layer's per output neuron: its weights, then its bias; a Conv2d's weight (row by
    row) then its bias; layer after layer. With ``net = to_torch(model)`` and a backward pass on
    each side, ``torch_gradients(net)`` lines up with ``[p.grad for p in model.parameters()]``. A
    parameter without a gradient (no backward pass reached it) counts as 0.
    """
    torch = _torch()
    _check_sequential(sequential, "torch_gradients reads")
    layers = [m for m in sequential if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    if not layers:
        raise ValueError("the Sequential has no Linear layer (nor a Conv2d)")
    grads: list[float] = []
    for i, layer in enumerate(layers):
        if layer.bias is None:
            raise ValueError(f"{type(layer).__name__} layer {i}: no bias, so no MLP parameter order to follow")
        weight, bias = [torch.zeros_like(p) if p.grad is None else p.grad for p in (layer.weight, layer.bias)]
        if isinstance(layer, torch.nn.Linear):
            grads += _floats(torch.cat([weight, bias[:, None]], dim=1))
        else:
            grads += _floats(weight) + _floats(bias)
    return grads


def layer_norm_to_torch(norm: LayerNorm) -> Any:
    """``torch.nn.LayerNorm(n, eps, elementwise_affine)`` (float64) with the same weight and bias."""
    torch = _torch()
    if not isinstance(norm, LayerNorm):
        raise TypeError(f"layer_norm_to_torch converts a LayerNorm, got {type(norm).__name__}")
    out = torch.nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=norm.elementwise_affine,
                             dtype=torch.float64)
    if norm.elementwise_affine:
        _copy(out.weight, [w.data for w in norm.weight])
        _copy(out.bias, [b.data for b in norm.bias])
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
        _set(norm.weight + norm.bias, _floats(module.weight) + _floats(module.bias))
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
        _copy(out.weight, [w.data for w in norm.weight])
        _copy(out.bias, [b.data for b in norm.bias])
    if norm.track_running_stats:
        _copy(out.running_mean, list(norm.running_mean or ()))
        _copy(out.running_var, list(norm.running_var or ()))
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
        _set(norm.weight + norm.bias, _floats(module.weight) + _floats(module.bias))
    if tracked:
        norm.running_mean = _floats(module.running_mean)
        norm.running_var = _floats(module.running_var)
        norm.num_batches_tracked = int(module.num_batches_tracked.item())
    norm.train(module.training)
    return norm
