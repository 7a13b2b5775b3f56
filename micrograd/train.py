"""``fit``: the training loop, with a progress bar, a history, and a clean stop on Ctrl-C; each step
runs in the scalar engine, or through :func:`micrograd.compile` with ``compiled=True``.

>>> from micrograd.nn import MLP
>>> from micrograd.losses import mse
>>> from micrograd.optim import SGD
>>> model = MLP(1, [4, 1], rng=0)
>>> history = fit(model, [[0.0], [1.0]], [0.0, 2.0], mse, SGD(model, lr=0.1), epochs=20, progress=False)
>>> history.loss[-1] < history.loss[0]
True
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TextIO

import numpy as np

from . import tape
from .compiled_training import Training
from .engine import Value, no_grad
from .metrics import predicted_class
from .module import Module
from .optim import Optimizer
from .schedules import Schedule

def _tqdm() -> tuple[Any, Any, Any]:
    """(tqdm.auto's, tqdm.notebook's and the terminal's bar classes), or Nones without the progress
    extra. Imported when a bar is made, not with micrograd (tqdm.notebook loads IPython: ~0.1 s)."""
    try:
        from tqdm.auto import tqdm as auto_tqdm  # Jupyter's widget in a notebook, else the text bar
        from tqdm.notebook import tqdm as notebook_tqdm
        from tqdm.std import tqdm as terminal_tqdm
    except ImportError:
        return None, None, None
    return auto_tqdm, notebook_tqdm, terminal_tqdm


INSTALL_TQDM = ('fit draws its progress bar with tqdm: pip install "micrograd[progress]" '
                "(until then, a line per tenth of the run)")

__all__ = ["History", "ProgressBar", "fit"]


class ProgressBar:
    """fit's progress, step ``done`` of ``total`` with the running loss and accuracy.

    Where someone watches, a tqdm bar: ``tqdm.auto`` picks Jupyter's widget in a notebook (writing
    to the notebook's stdout), and a terminal (``out.isatty()``) gets tqdm's text bar. In a log (a
    file, a pipe, a captured stream) every tenth of the run gets a plain line of its own:
    ``step  40/100 [############                  ] loss 0.1234 accuracy 97%``. Without tqdm (the
    ``progress`` extra) a terminal gets those lines too, and a one-time hint says how to install it.
    """

    def __init__(self, total: int, out: TextIO | None = None, width: int = 30, label: str = "step") -> None:
        self.total, self.width, self.label = total, width, label
        self.out = sys.stdout if out is None else out
        self.marks = {-(-k * total // 10) for k in range(1, 11)}  # ceil(k total / 10): the tenths
        self.bar: Any = None
        auto_tqdm, notebook_tqdm, terminal_tqdm = _tqdm()
        # tqdm.auto chose Jupyter's widget: fit's default stream is the notebook's
        notebook = auto_tqdm is not None and issubclass(auto_tqdm, notebook_tqdm) and self.out is sys.stdout
        terminal = hasattr(self.out, "isatty") and self.out.isatty()
        if notebook:
            self.bar = auto_tqdm(total=total, desc=label)
        elif terminal and terminal_tqdm is not None:
            self.bar = terminal_tqdm(total=total, desc=label, file=self.out, dynamic_ncols=True)
        elif terminal:
            warnings.warn(INSTALL_TQDM, stacklevel=2)  # shown once per place (fit's line): a hint, not a nag

    def update(self, done: int, **metrics: float) -> None:
        """Show ``done`` steps of ``total`` and the metrics (a name ending in accuracy shows as %)."""
        shown = {k: f"{v:.0%}" if k.endswith("accuracy") else f"{v:.4f}" for k, v in metrics.items()}
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(done - self.bar.n)
        elif done in self.marks:
            bar = "#" * (self.width * done // self.total)
            digits = len(str(self.total))
            print(f"{self.label} {done:{max(3, digits)}d}/{self.total} [{bar:<{self.width}}] "
                  + " ".join(f"{k} {v}" for k, v in shown.items()), file=self.out, flush=True)

    def close(self) -> None:
        """Finish the bar (its last state stays on screen)."""
        if self.bar is not None:
            self.bar.close()


@dataclass
class History:
    """Per epoch: mean training loss, training accuracy and the last learning rate used; with
    ``validation_data``, the loss and accuracy on it at the end of the epoch. A regression (targets
    that are no labels or classes: see :func:`fit`) has no accuracy: its lists stay empty."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)      # on validation_data, after each epoch
    val_accuracy: list[float] = field(default_factory=list)  # (empty without validation_data)
    steps: int = 0              # optimiser steps taken
    interrupted: bool = False   # stopped early by Ctrl-C (KeyboardInterrupt)
    seconds: float = 0.0        # wall time of the whole run


@contextlib.contextmanager
def _interrupt_after() -> Iterator[None]:
    """Hold a Ctrl-C that arrives inside the block until the block is done, then raise it.

    Wraps the optimiser step, so a stop never leaves the weights half-updated.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[Any] = []
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _single(x: Any) -> Any:
    return x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else x


def _is_correct(output: Any, target: Any) -> bool:
    """Several outputs: argmax == target class (an index, or argmax of class probabilities, as
    ``cross_entropy`` takes either); one output: (score > 0) == (target > 0.5). A one-element list
    (a column of y, a model returning [score]) is one value."""
    output, target = _single(output), _single(target)
    if isinstance(output, (list, tuple)):
        return predicted_class(output) == (predicted_class(target) if isinstance(target, (list, tuple))
                                           else int(target))
    return predicted_class(output) == int(float(target) > 0.5)


def _rows(X: Any) -> np.ndarray:
    """X as a float64 array, one row per sample; a clear error for anything but a non-empty 2-d
    table of finite numbers (any number type, each its nearest float)."""
    try:
        array = np.asarray(X, dtype=np.float64)
    except OverflowError as exc:  # 10**400, Fraction(10**400)
        raise ValueError(f"X must be a 2-d table of numbers within the float range: a number is too large ({exc})") from None
    except (TypeError, ValueError) as exc:  # ragged rows, strings
        raise ValueError(f"X must be a 2-d table of numbers, one row per sample: {exc}") from None
    if len(array) == 0:
        raise ValueError("X has no rows: nothing to train on")
    if array.ndim != 2:
        raise ValueError(f"X must be 2-d, one row of features per sample, got shape {array.shape}"
                         + (" (one feature per sample: X.reshape(-1, 1))" if array.ndim == 1 else ""))
    _check_finite(array, "X", "row")
    return array


def _targets(y: Any, rows: int) -> np.ndarray:
    """y as an array of numbers (ints kept: class indices), one target or row of targets per row of X."""
    if not hasattr(y, "__len__") or isinstance(y, (str, bytes)):
        raise TypeError(f"y must be the targets, one per row of X; got {type(y).__name__}")
    T = np.asarray(y)
    if T.dtype.kind not in "biuf":  # Fraction, Decimal (object arrays); strings
        try:
            T = np.asarray(y, dtype=np.float64)
        except OverflowError as exc:
            raise ValueError(f"y must be numbers within the float range: a target is too large ({exc})") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numbers, one target (or row of targets) per row of X: {exc}") from None
    if T.ndim == 0 or len(T) != rows:
        raise ValueError(f"X has {rows} rows but y has {len(T) if T.ndim else 0} targets")
    _check_finite(T, "y", "target")
    return T


def _validation(data: Any, features: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``validation_data`` as (rows, targets) arrays checked as X and y are, or None."""
    if data is None:
        return None
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"validation_data must be a pair (X_val, y_val), got {type(data).__name__}")
    try:
        X_val = _rows(data[0])
        y_val = _targets(data[1], len(X_val))
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"validation_data: {exc}") from None
    if X_val.shape[1] != features:
        raise ValueError(f"validation_data: rows of {X_val.shape[1]} features, but X has {features}")
    return X_val, y_val


def _check_finite(array: np.ndarray, name: str, what: str) -> None:
    """Refuse nan and inf in training data: one would turn every weight into nan."""
    bad = ~np.isfinite(array)  # ints and bools: all finite
    if bad.any():
        where = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be finite: {what} {where[0]} holds {float(array[tuple(where)])!r}")


class _Runner(NamedTuple):
    """How fit runs a step: gradients, then the optimiser's update, and when the Values are written."""

    gradients: Callable[[np.ndarray], tuple[float, int | None]]  # a batch's rows -> (loss, correct or None)
    update: Callable[[], None]                            # the optimiser's step
    sync: Callable[[], None]                              # the Values get every number (callbacks, end)
    evaluate: Callable[[np.ndarray, np.ndarray], tuple[float, int | None]]  # other rows, targets -> the same


def _nothing() -> None:
    """The scalar path's sync: its numbers are in the Values already."""


def _scalar_step(model: Callable[[Any], Any], X: np.ndarray, y: Any, loss: Callable[[Any, Any], Any],
                 optimizer: Optimizer, penalty: Callable[[], Value] | None) -> _Runner:
    """A step in the scalar engine: a graph per sample, ``mean(loss) + penalty()``, backward."""
    rows, targets = X.tolist(), list(np.asarray(y).tolist())
    Y = np.asarray(y)
    # does an accuracy mean something, for one output / several: which, the first forward pass says
    labelled = {False: _are_labels(Y, several=False), True: _are_labels(Y, several=True)}
    counts = False

    def step(idx: np.ndarray) -> tuple[float, int | None]:
        nonlocal counts
        # Inputs as fresh leaves, each shared by every neuron that reads it (a float would become
        # a new constant leaf at every use: 16x the input nodes in a 16-wide layer). All made
        # before the forward passes: allocations between them would wake the cycle collector
        # once per sample.
        inputs = [[Value(v) for v in rows[i]] for i in idx]
        # a Module takes the batch whole (Module.batch): a BatchNorm1d inside normalises over it
        outputs = model.batch(inputs) if isinstance(model, Module) else [model(x) for x in inputs]
        per_sample = [loss(o, targets[i]) for o, i in zip(outputs, idx)]
        batch_loss: Value = sum(per_sample) * (1.0 / len(per_sample))
        if penalty is not None:
            batch_loss = batch_loss + penalty()
        counts = labelled[isinstance(_single(outputs[0]), (list, tuple))]
        correct = sum(_is_correct(o, targets[i]) for o, i in zip(outputs, idx)) if counts else None
        optimizer.zero_grad()
        batch_loss.backward()
        return batch_loss.data, correct

    def evaluate(X_other: np.ndarray, y_other: np.ndarray) -> tuple[float, int | None]:
        """Mean loss (+ penalty) and correct count on other rows, no graph kept, Dropout off."""
        with no_grad(), _evaluation_mode(model):
            outputs = [model([Value(v) for v in row]) for row in X_other.tolist()]
            targets_other = list(y_other.tolist())
            per_sample = [loss(o, t) for o, t in zip(outputs, targets_other)]
            total: Value = sum(per_sample) * (1.0 / len(per_sample))
            if penalty is not None:
                total = total + penalty()
        several = isinstance(_single(outputs[0]), (list, tuple))
        if not (counts and _are_labels(np.asarray(y_other), several)):  # both kinds of targets
            return total.data, None
        return total.data, sum(_is_correct(o, t) for o, t in zip(outputs, targets_other))

    return _Runner(step, optimizer.step, _nothing, evaluate)


@contextlib.contextmanager
def _evaluation_mode(model: Callable[[Any], Any]) -> Iterator[None]:
    """A Module (and every module in it) in ``eval()`` mode inside the block (Dropout off), each
    back in its own mode after; any other callable as it is."""
    if not isinstance(model, Module):
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _check_targets_as_numbers(loss: Callable[[Any, Any], Any], T: np.ndarray, k: tuple[int, ...]) -> None:
    """Show ``loss`` the smallest and the largest target as plain numbers, with a stand-in output
    (0 for one output, ``k`` zeros for several), so a loss that refuses a label convention (hinge
    and 0/1) says so before training, as in the scalar path: a traced loss sees every target as a
    Value and cannot check it. Only its ValueError stops here; anything else is left to the trace,
    which names the line."""
    output: Any = Value(0.0) if not k else [Value(0.0) for _ in range(k[0])]
    for t in sorted({T.min().item(), T.max().item()}):
        try:
            loss(output, t)
        except ValueError:
            raise
        except Exception:  # noqa: BLE001
            return


def _compiled_step(model: Callable[[Any], Any], X: np.ndarray, y: Any, loss: Callable[[Any, Any], Any],
                   optimizer: Optimizer, penalty: Callable[[], Value] | None) -> _Runner:
    """A step through :func:`micrograd.compile`: ``loss(model(x), t) + penalty()`` traced once
    for one sample and replayed over each batch with numpy, the parameters and the optimiser's
    state in arrays (:class:`micrograd.Training`); the traced function also returns the model's
    outputs, which count accuracy. Integer class targets for a model with k > 1 outputs become
    one-hot rows (a traced loss cannot index by a per-sample Value)."""
    params = optimizer.params
    forward = tape.compile(lambda x: model(x), params=params)
    T = np.asarray(y)
    if T.dtype.kind not in "biuf" or T.ndim not in (1, 2):
        raise ValueError(f"fit(compiled=True) needs y as numbers, one per sample or one row per sample; "
                         f"got dtype {T.dtype} and shape {T.shape}")
    k = forward(X[:1]).shape[1:]  # traces the model: (k,) for k outputs, () for one Value
    T = _traced_targets(T, k)
    if T.ndim == 1:
        _check_targets_as_numbers(loss, T, k)

    def per_sample(x: list[Value], t: Any) -> list[Value]:
        output = model(x)
        out = loss(output, t)
        out = out if penalty is None else out + penalty()  # parameter-only: computed once a call
        return [out, *(output if isinstance(output, (list, tuple)) else [output])]  # loss first

    f = tape.compile(per_sample, params=params)
    try:
        f.tape(X, T)  # trace now: a loss that cannot take a traced target fails before training
    except tape.TracingError:
        raise  # its own message names the line
    except TypeError as exc:
        raise TypeError(f"fit(compiled=True): the loss gets each target as a Value (a list of Values for "
                        f"a row; class indices become one-hot rows) and must accept it: {exc}") from exc
    run = Training(f, optimizer)

    counts = _are_labels(T, bool(k and k[0] > 1))  # labels or classes: an accuracy

    def step(idx: np.ndarray) -> tuple[float, int | None]:
        Tb = T[idx]
        batch_loss = run.backward(X[idx], Tb)
        return batch_loss, _count_correct(run.outputs, Tb) if counts else None  # type: ignore[arg-type]

    def evaluate(X_other: np.ndarray, y_other: np.ndarray) -> tuple[float, int | None]:
        """Loss and correct count on other rows, at the weights in the Values (fit syncs first)."""
        T_other = _traced_targets(np.asarray(y_other), k)
        with np.errstate(all="ignore"):
            out = f(X_other, T_other)  # (rows, 1 + outputs): the loss (+ penalty) first
        counted = counts and _are_labels(T_other, bool(k and k[0] > 1))  # both kinds of targets
        return float(np.mean(out[:, 0])), _count_correct(out[:, 1:], T_other) if counted else None

    return _Runner(step, run.update, run.sync, evaluate)


def _traced_targets(T: np.ndarray, k: tuple[int, ...]) -> np.ndarray:
    """Targets as the traced loss takes them: integer classes of a model with ``k = (n,)`` outputs,
    n > 1, become one-hot rows (class i -> row i of the identity); others are kept."""
    if T.ndim == 1 and T.dtype.kind in "iu" and k and k[0] > 1:
        if T.min() < 0 or T.max() >= k[0]:
            raise ValueError(f"class targets must be in 0..{k[0] - 1} for a model with {k[0]} outputs, "
                             f"got {T.min()}..{T.max()}")
        return np.eye(k[0])[T]  # class i -> one-hot row: cross_entropy takes class probabilities
    return T


def _are_labels(T: np.ndarray, several: bool) -> bool:
    """Whether an accuracy means something for these targets: with one output, labels its sign can
    be right or wrong about (every one 0 or 1, or every one -1 or +1, a column of them too); with
    several, class indices (whole numbers >= 0) or rows of class probabilities (each >= 0, summing
    to 1: one-hot or soft). Anything else is a regression: no accuracy."""
    if T.ndim == 2 and T.shape[1] > 1:
        with np.errstate(all="ignore"):
            return bool(np.all(T >= 0) and np.allclose(T.sum(axis=1), 1.0, rtol=0.0, atol=1e-9))
    values = set(np.unique(T).tolist())
    if several:
        return all(isinstance(v, (int, float)) and v >= 0 and float(v).is_integer() for v in values)
    return values <= {0.0, 1.0} or values <= {-1.0, 1.0}


def _count_correct(outputs: np.ndarray, targets: np.ndarray) -> int:
    """How many rows ``_is_correct`` counts, on arrays: argmax of several outputs against the
    class (argmax of a target row), one output's sign against target > 0.5."""
    if outputs.shape[1] == 1:
        if targets.ndim == 2 and targets.shape[1] != 1:
            return sum(_is_correct(o, t) for o, t in zip(outputs.tolist(), targets.tolist()))
        return int(np.count_nonzero((outputs[:, 0] > 0) == (targets.reshape(len(targets)) > 0.5)))
    predicted = np.argmax(outputs, axis=1)
    wanted = np.argmax(targets, axis=1) if targets.ndim == 2 else targets.astype(int)
    return int(np.count_nonzero(predicted == wanted))


def _score_validation(runner: _Runner, validation: tuple[np.ndarray, np.ndarray], history: History) -> None:
    """Append the validation rows' mean loss (and accuracy, where one is counted) at the weights
    reached to ``history``: compiled, the Values get those weights first."""
    with _interrupt_after():
        runner.sync()
    val_loss, val_correct = runner.evaluate(*validation)
    history.val_loss.append(val_loss)
    if val_correct is not None:
        history.val_accuracy.append(val_correct / len(validation[0]))


def fit(model: Callable[[Any], Any], X: Any, y: Any, loss: Callable[[Any, Any], Any], optimizer: Optimizer,
        epochs: int = 10, batch_size: int | None = None, *, penalty: Callable[[], Value] | None = None,
        schedule: Schedule | Callable[[int], float] | None = None, shuffle: bool = True, seed: int | None = 0,
        callbacks: Sequence[Callable[[int, History], None]] = (), progress: bool = True,
        out: TextIO | None = None, compiled: bool = False,
        validation_data: tuple[Any, Any] | None = None) -> History:
    """Train ``model`` on rows ``X`` with targets ``y``; returns the :class:`History`.

    Each step takes a batch (all rows when ``batch_size`` is None, the rows shuffled each epoch
    with ``seed`` when ``shuffle``), computes ``mean(loss(model(x), t)) + penalty()``, then
    ``zero_grad``, ``backward`` and ``optimizer.step()``; ``schedule(step)``, if given, sets the
    learning rate before each step. Accuracy counts ``argmax(output) == t`` for several outputs
    (``argmax(t)`` for a row of class probabilities, such as one-hot labels) and
    ``(output > 0) == (t > 0.5)`` for one (labels 0/1 or -1/+1). Other targets (one output with
    other numbers, several outputs with targets that are neither class indices nor rows of class
    probabilities) are a regression: no accuracy is counted, shown or kept (``history.accuracy``
    stays empty).

    ``compiled=True`` runs the same steps through :func:`micrograd.compile`: ``loss(model(x), t)
    + penalty()`` is traced once for one sample (the penalty, parameter-only, is computed once per
    batch) and replayed over each batch with numpy, with the same weights, losses and history as
    the scalar engine up to rounding. The parameters and the optimiser's state live in numpy
    arrays meanwhile (the optimiser's rule updates them there); the Values get them back before
    each callback and when fit returns. Accuracy counts the model outputs that the traced loss
    computed, before the step, as the scalar path counts it. The loss gets each target as a Value (a
    row of ``y``: a list of Values), so integer class labels with a model of several outputs
    become one-hot rows, which ``cross_entropy`` takes as class probabilities; other targets are
    passed as they are. Python control flow on a traced Value, any use of its ``.data``, and
    ``Dropout`` or ``BatchNorm1d`` in training mode raise :class:`micrograd.TracingError` before
    the first step. The scalar path calls a Module on each batch whole (``model.batch(rows)``, per
    sample unless a module such as ``BatchNorm1d`` looks across the batch), any other function
    once per row.

    ``validation_data=(X_val, y_val)``, rows the model does not train on (a test split), is scored
    after every epoch at the weights reached: ``history.val_loss`` gets ``mean(loss(model(x), t))
    + penalty()`` over all its rows, the quantity the training loss averages over the epoch's
    batches, and ``history.val_accuracy`` its accuracy, counted as above. A :class:`Module` is
    scored in ``eval()`` mode (Dropout off) and put back in its own mode after; no gradient is
    computed and no weight changes.

    ``callbacks`` are called as ``callback(epoch, history)`` after each epoch. Ctrl-C (or a
    KeyboardInterrupt raised by a loss or a callback) stops training cleanly: the weights keep
    every completed step, and the history says ``interrupted``.
    """
    if not callable(model):
        raise TypeError(f"model must be callable (a Module, or a function of one row), got {type(model).__name__}")
    if not callable(loss):
        raise TypeError(f"loss must be a function loss(output, target), got {type(loss).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an optimiser of micrograd.optim (SGD, Adam, ...), "
                        f"got {type(optimizer).__name__}")
    X = _rows(X)
    y = _targets(y, len(X))
    validation = _validation(validation_data, X.shape[1])
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    size = len(X) if batch_size is None else batch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    start = time.perf_counter()
    runner = (_compiled_step if compiled else _scalar_step)(model, X, y, loss, optimizer, penalty)
    batches = -(-len(X) // size)
    order_rng = np.random.RandomState(seed)
    bar = ProgressBar(epochs * batches, out) if progress else None
    history = History()
    try:
        for epoch in range(epochs):
            order = (order_rng.permutation(len(X)) if shuffle and batch_size is not None
                     else np.arange(len(X)))
            total_loss = correct = 0.0
            counted = False  # an accuracy means something for these targets and outputs
            for b in range(batches):
                idx = order[b * size:(b + 1) * size]
                batch_loss, batch_correct = runner.gradients(idx)
                counted = batch_correct is not None
                correct += batch_correct or 0
                if schedule is not None:
                    optimizer.lr = schedule(history.steps)
                with _interrupt_after():
                    runner.update()
                    history.steps += 1
                total_loss += batch_loss * (len(idx) / len(X))  # (one batch: its loss exactly)
                if bar is not None:
                    shown = {"accuracy": correct / min((b + 1) * size, len(X))} if counted else {}
                    bar.update(history.steps, loss=batch_loss, **shown)
            history.loss.append(total_loss)
            if counted:
                history.accuracy.append(correct / len(X))
            history.lr.append(optimizer.lr)
            if validation is not None:
                _score_validation(runner, validation, history)
            if callbacks:
                with _interrupt_after():
                    runner.sync()  # a callback sees every number in the Values
            for callback in callbacks:
                callback(epoch, history)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        with _interrupt_after():
            runner.sync()  # at the end, on Ctrl-C or an error: the last completed step
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    if history.interrupted and progress:
        print(f"interrupted after {history.steps} steps: keeping the weights trained so far",
              file=bar.out if bar is not None else sys.stdout, flush=True)
    return history
