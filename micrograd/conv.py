"""Convolution and pooling, written with Values and nothing else.

A convolution is one neuron slid over the image: ``Conv2d`` keeps one weight per (input channel,
kernel row, kernel column) for each output channel and computes, at every position,
``b + sum w * x`` as the same plain loop as a :class:`~micrograd.nn.Neuron` (zero padding is
terms left out). Pooling reads windows: ``MaxPool2d`` is a left-to-right chain of
:meth:`Value.max <micrograd.engine.Value.max>` (a tie's gradient goes to the first maximum, as
PyTorch's), ``AvgPool2d`` their sum over the window size. ``Flatten`` lays channels x height x
width out as one list, in PyTorch's order; ``Unflatten`` folds such a list (a row of pixels, as
``fit`` and ``compile`` hand a model) back into channels x height x width.

Images are one sample of channels x height x width, as nested lists (of Values or numbers) or a
numpy array of that shape; the modules return nested lists of Values. Parameters are named as
PyTorch names them (``weight.k`` in the order of ``weight.flatten()``, then ``bias.k``).
"""

from __future__ import annotations

import math
from typing import Any

from . import provenance
from .engine import Value
from .module import Module, Rng, check_size, generator
from .scalars import describe, is_real

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "MaxPool2d", "Unflatten"]

Pair = int | tuple[int, int]
Image = list[list[list[Any]]]  # channels x height x width


def _pair(x: Any, what: str, smallest: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``smallest``, as a pair; else a ValueError naming ``what``."""
    pair = (x, x) if isinstance(x, int) and not isinstance(x, bool) else x
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and smallest <= n <= 10 ** 6 for n in pair)):
        raise ValueError(f"{what} must be an int or a pair of ints, each at least {smallest}, got {describe(x)}")
    return pair[0], pair[1]


def _image(x: Any, what: str, channels: int | None = None) -> Image:
    """``x`` as channels x height x width nested lists (rectangular, of Values or real numbers)."""
    expected = f"{what} takes one image: {channels or 'C'} channels x height x width, as nested lists or an array"
    if isinstance(x, Value) or is_real(x):
        raise ValueError(f"{expected}; got a single number")
    shape = getattr(x, "shape", None)
    if shape is not None and not isinstance(x, (list, tuple)):  # a numpy array (or alike)
        if len(shape) != 3:
            raise ValueError(f"{expected}; got an array of shape {tuple(shape)}")
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{expected}; got a {type(x).__name__}")
    if not x or not all(isinstance(c, (list, tuple)) and c for c in x):
        raise ValueError(f"{expected}; got {describe(x)}")
    if not isinstance(x[0][0], (list, tuple)):
        raise ValueError(f"{expected}; got nested lists of depth 2 (height x width?)")
    height, width = len(x[0]), len(x[0][0])
    for c in x:
        if len(c) != height or not all(isinstance(r, (list, tuple)) and len(r) == width for r in c):
            raise ValueError(f"{expected}; its channels are not all one height x width grid of numbers")
        for r in c:
            for v in r:
                if not isinstance(v, Value) and not is_real(v):
                    raise TypeError(f"{what}: an image holds Values or real numbers, got {type(v).__name__} "
                                    f"{describe(v)}")
    if width < 1:
        raise ValueError(f"{expected}; got rows of width 0")
    if channels is not None and len(x) != channels:
        raise ValueError(f"{expected}; got {len(x)} channels")
    return [list(c) for c in x]


def _out_size(size: int, kernel: int, stride: int, padding: int, what: str, axis: str) -> int:
    """floor((size + 2 padding - kernel) / stride) + 1, as torch; an error if the kernel does not fit."""
    if size + 2 * padding < kernel:
        raise ValueError(f"{what}: an input {axis} of {size} (padded by {padding} each side) is smaller "
                         f"than the kernel's {kernel}")
    return (size + 2 * padding - kernel) // stride + 1


class Conv2d(Module):
    """``out[o][y][x] = b[o] + sum over c, i, j of w[o, c, i, j] * in[c][y*sh - ph + i][x*sw - pw + j]``.

    Weights and biases are drawn as PyTorch's default: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = in_channels * kernel height * kernel width, from ``rng`` (a seed, a
    random.Random, or None for the global ``random`` module); weights first, in torch's order.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Pair, stride: Pair = 1,
                 padding: Pair = 0, *, rng: Rng = None) -> None:
        self.in_channels = check_size(in_channels, "in_channels")
        self.out_channels = check_size(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        kh, kw = self.kernel_size
        fan_in = check_size(in_channels * kh * kw, "in_channels x kernel height x kernel width")
        check_size(out_channels * fan_in, "the number of weights")
        draw, bound = generator(rng).uniform, 1.0 / math.sqrt(fan_in)
        self.weight = [Value(draw(-bound, bound)) for _ in range(out_channels * fan_in)]  # (o, c, i, j)
        self.bias = [Value(draw(-bound, bound)) for _ in range(out_channels)]

    def __call__(self, x: Any) -> Image:
        x = _image(x, "Conv2d", self.in_channels)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        height, width = len(x[0]), len(x[0][0])
        out_h = _out_size(height, kh, sh, ph, "Conv2d", "height")
        out_w = _out_size(width, kw, sw, pw, "Conv2d", "width")
        fan_in = self.in_channels * kh * kw
        out = []
        for o in range(self.out_channels):
            w, b = self.weight[o * fan_in:(o + 1) * fan_in], self.bias[o]
            out.append([[self._neuron(x, w, b, y * sh - ph, xx * sw - pw) for xx in range(out_w)]
                        for y in range(out_h)])
        if out[0][0][0] is not self.bias[0]:  # (a window all padding returns the bias itself: not new)
            provenance.record_image(self, x, out)  # which channel and position made each node, for pictures
        return out

    def _neuron(self, x: Image, w: list[Value], b: Value, top: int, left: int) -> Value:
        """b + sum w * x over the window at (top, left): the plain loop of Neuron, padding left out."""
        kh, kw = self.kernel_size
        height, width = len(x[0]), len(x[0][0])
        act = b
        for c, channel in enumerate(x):
            for i in range(kh):
                if 0 <= top + i < height:
                    row, k = channel[top + i], (c * kh + i) * kw
                    for j in range(kw):
                        if 0 <= left + j < width:
                            act = act + w[k + j] * row[left + j]
        return act

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


class _Pool2d(Module):
    """A window of ``kernel_size`` moved by ``stride`` (the kernel size by default, as torch)."""

    def __init__(self, kernel_size: Pair, stride: Pair | None = None) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)

    def __call__(self, x: Any) -> Image:
        name = type(self).__name__
        x = _image(x, name)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        out_h = _out_size(len(x[0]), kh, sh, 0, name, "height")
        out_w = _out_size(len(x[0][0]), kw, sw, 0, name, "width")
        out = [[[self._reduce([channel[y * sh + i][xx * sw + j] for i in range(kh) for j in range(kw)])
                 for xx in range(out_w)] for y in range(out_h)] for channel in x]
        if kh * kw > 1:  # (a window of one returns its input: not new)
            provenance.record_image(self, x, out)  # for pictures, as Conv2d
        return out

    def _reduce(self, window: list[Any]) -> Value:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """out = max over the window, scanned row by row: a tie's gradient goes to the first maximum,
    a nan wins (the last nan), as PyTorch's MaxPool2d."""

    def _reduce(self, window: list[Any]) -> Value:
        act = window[0] if isinstance(window[0], Value) else Value(window[0])
        for v in window[1:]:
            act = act.max(v)
        return act


class AvgPool2d(_Pool2d):
    """out = (sum of the window) / (kernel height x kernel width), as PyTorch's AvgPool2d."""

    def _reduce(self, window: list[Any]) -> Value:
        act = window[0] if isinstance(window[0], Value) else Value(window[0])
        for v in window[1:]:
            act = act + v
        return act / len(window)


class Flatten(Module):
    """Nested lists (or an array) of any depth as one flat list, row by row (PyTorch's order)."""

    def __call__(self, x: Any) -> list[Any]:
        if getattr(x, "shape", None) is not None and not isinstance(x, (list, tuple, Value)):
            return list(x.ravel().tolist())
        out: list[Any] = []
        stack = [iter(x if isinstance(x, (list, tuple)) else [x])]
        while stack:  # depth first, without recursion
            for item in stack[-1]:
                if isinstance(item, (list, tuple)):
                    stack.append(iter(item))
                    break
                out.append(item)
            else:
                stack.pop()
        return out

    def __repr__(self) -> str:
        return "Flatten()"


class Unflatten(Module):
    """A flat row of channels x height x width numbers as one image, ``out[c][i][j] = x[(c*H + i)*W + j]``.

    The inverse of :class:`Flatten` (PyTorch's ``nn.Unflatten(1, (C, H, W))`` on a batch): ``fit``
    and ``compile`` hand a model one flat row per sample, and ``Unflatten(1, 8, 8)`` makes of it
    the image a :class:`Conv2d` reads. The items are passed on as they are (Values or numbers).
    """

    def __init__(self, channels: int, height: int, width: int) -> None:
        self.channels = check_size(channels, "channels")
        self.height = check_size(height, "height")
        self.width = check_size(width, "width")
        check_size(channels * height * width, "channels x height x width")

    def __call__(self, x: Any) -> Image:
        c, h, w = self.channels, self.height, self.width
        shape = getattr(x, "shape", None)
        if shape is not None and not isinstance(x, (list, tuple, Value)):  # a numpy array (or alike)
            if len(shape) != 1:
                raise ValueError(f"Unflatten({c}, {h}, {w}) takes one flat row; got an array of shape {tuple(shape)}")
            x = x.tolist()
        if not isinstance(x, (list, tuple)):
            raise TypeError(f"Unflatten({c}, {h}, {w}) takes one flat row of {c * h * w} numbers; "
                            f"got a {type(x).__name__}")
        if len(x) != c * h * w:
            raise ValueError(f"Unflatten({c}, {h}, {w}) takes a row of {c} x {h} x {w} = {c * h * w} numbers; "
                             f"got {len(x)}")
        return [[list(x[(k * h + i) * w:(k * h + i + 1) * w]) for i in range(h)] for k in range(c)]

    def __repr__(self) -> str:
        return f"Unflatten({self.channels}, {self.height}, {self.width})"
