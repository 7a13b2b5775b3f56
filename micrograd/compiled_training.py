"""Compiled training with the numbers in arrays: the tape reads the parameters from a float64
vector, writes their gradients into another, and the optimiser's rule updates the vector in place.

No Value is read or written per step; the Values get their numbers back when :meth:`Training.sync`
is called, and when the ``with`` block ends (normally, on an exception or on Ctrl-C): inside the
block, ``p.data`` holds the number from the block's start or the last sync.

>>> import numpy as np
>>> from micrograd import Value, compile
>>> from micrograd.optim import SGD
>>> w = Value(0.0)
>>> f = compile(lambda x, y: (w * x - y) ** 2, params=[w])
>>> opt = SGD([w], lr=0.1)
>>> with training(f, opt) as run:
...     for _ in range(50):
...         loss = run.step(np.array([1.0, 2.0]), np.array([2.0, 4.0]))
>>> round(w.data, 6), opt.steps
(2.0, 50)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .optim import Optimizer
from .tape import Compiled

__all__ = ["Training", "training"]


class Training:
    """The parameters of ``compiled`` (which are ``optimizer``'s, in order) as arrays: ``data``
    and ``grad``. ``backward`` fills ``grad``, ``update`` applies the rule, ``step`` does both."""

    def __init__(self, compiled: Compiled, optimizer: Optimizer) -> None:
        if not isinstance(compiled, Compiled):
            raise TypeError(f"training needs a micrograd.compile function, got {type(compiled).__name__}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"training needs an optimiser, got {type(optimizer).__name__}")
        if len(compiled.params) != len(optimizer.params) or any(
                a is not b for a, b in zip(compiled.params, optimizer.params)):
            raise ValueError("the optimiser's parameters must be the compiled function's params, in the "
                             "same order (compile(fn, params=optimizer.params))")
        self.compiled, self.optimizer = compiled, optimizer
        n = len(optimizer.params)
        self.data = np.fromiter([p.data for p in optimizer.params], np.float64, n)
        self.grad = np.fromiter([p.grad for p in optimizer.params], np.float64, n)
        self.outputs: np.ndarray | None = None  # the last backward's extra outputs, (batch, k - 1)

    def backward(self, *arrays: Any) -> float:
        """The batch mean of the loss at ``data``; d(mean)/d(p) into ``grad`` (a fresh gradient,
        as zero_grad then backward). A function returning a list: its first item is the loss."""
        loss, self.outputs = self.compiled.backward_arrays(self.data, self.grad, *arrays)
        return loss

    def update(self) -> None:
        """The optimiser's rule on ``data`` and ``grad`` (at ``optimizer.lr`` now)."""
        self.optimizer.update(self.data, self.grad)

    def step(self, *arrays: Any) -> float:
        """backward, then update: one training step on a batch; returns the batch's mean loss."""
        loss = self.backward(*arrays)
        self.update()
        return loss

    def sync(self) -> None:
        """Write ``data`` and ``grad`` into the Values' ``.data`` and ``.grad``."""
        for p, x, g in zip(self.optimizer.params, self.data.tolist(), self.grad.tolist()):
            p.data, p.grad = x, g

    def __enter__(self) -> Training:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sync()


def training(compiled: Compiled, optimizer: Optimizer) -> Training:
    """Train ``compiled``'s parameters with ``optimizer`` in arrays: ``with training(f, opt) as run:
    run.step(X, y)``; the Values get the numbers back at the end of the block."""
    return Training(compiled, optimizer)
