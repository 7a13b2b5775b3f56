"""train: fit trains, reports progress, returns a history and stops cleanly on Ctrl-C."""

import io
import math
import os
import signal
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from micrograd import TracingError
from micrograd.data import make_blobs, make_moons
from micrograd.losses import binary_cross_entropy_with_logits, cross_entropy, hinge, l2_penalty, log_softmax, mse
from micrograd.nn import MLP
from micrograd import optim
from micrograd.optim import SGD, Adam
from micrograd.schedules import LinearDecay
from micrograd.train import ProgressBar, fit


def moons(n=30):
    X, y = make_moons(n, noise=0.1, random_state=0)
    return X, y * 2 - 1


def weights(model):
    return [p.data for p in model.parameters()]


def test_fit_trains_and_returns_a_history():
    X, y = moons()
    model = MLP(2, [8, 1], rng=0)
    out = io.StringIO()
    history = fit(model, X, y, hinge, SGD(model, lr=0.5), epochs=20, penalty=lambda: l2_penalty(model, 1e-4),
                  schedule=LinearDecay(0.5, 0.05, 20), out=out)
    assert len(history.loss) == len(history.accuracy) == len(history.lr) == 20 and history.steps == 20
    assert history.loss[-1] < history.loss[0] / 2 and history.accuracy[-1] >= 0.8
    assert history.lr[0] == 0.5 and history.lr[-1] == pytest.approx(0.5 - 0.45 * 19 / 20)
    assert not history.interrupted and history.seconds > 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("step  20/20 [" + "#" * 30 + "] loss ")
    assert lines[-1].endswith(f"accuracy {history.accuracy[-1]:.0%}")


def test_minibatches_shuffle_with_the_seed_and_cover_every_row():
    X, y = moons(25)
    runs = []
    for _ in range(2):
        model = MLP(2, [4, 1], rng=0)
        history = fit(model, X, y, hinge, SGD(model, lr=0.1), epochs=3, batch_size=10, seed=5, progress=False)
        runs.append(weights(model))
        assert history.steps == 9  # ceil(25 / 10) batches per epoch
    assert runs[0] == runs[1]
    other = MLP(2, [4, 1], rng=0)
    fit(other, X, y, hinge, SGD(other, lr=0.1), epochs=3, batch_size=10, seed=6, progress=False)
    assert weights(other) != runs[0]  # another seed, another order of the rows: they are shuffled
    seen = []
    fit(MLP(2, [1], rng=0), X, y, lambda out, t: (seen.append(t), mse(out, t))[1],
        SGD(MLP(2, [1], rng=0), lr=0.0), epochs=1, batch_size=7, progress=False)
    assert sorted(seen) == sorted(y.tolist())


def test_fit_with_several_outputs_counts_argmax_accuracy():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    y = np.array([0, 1, 2])
    model = MLP(2, [8, 3], rng=1)
    history = fit(model, X, y, cross_entropy, Adam(model, lr=0.05), epochs=60, progress=False)
    assert history.accuracy[-1] == 1.0 and history.loss[-1] < 0.1
    # one-hot rows (cross_entropy's class probabilities): the same training, the same accuracy
    model = MLP(2, [8, 3], rng=1)
    onehot = fit(model, X, np.eye(3)[y], cross_entropy, Adam(model, lr=0.05), epochs=60, progress=False)
    assert onehot.accuracy == history.accuracy and onehot.loss == pytest.approx(history.loss, rel=1e-9)
    assert fit(model, X, np.eye(3)[[1, 2, 0]], cross_entropy, Adam(model, lr=0.0), epochs=1,
               progress=False).accuracy == [0.0]  # every row now labelled with another class


def test_a_column_of_targets_and_a_one_score_list_count_as_single_values():
    X, y = moons()
    model = MLP(2, [8, 1], rng=0)
    history = fit(model, X, y, hinge, SGD(model, lr=0.5), epochs=15, progress=False)
    column = MLP(2, [8, 1], rng=0)
    as_list = fit(lambda x: [column(x)], X, y.reshape(-1, 1), lambda o, t: hinge(o[0], t[0]),
                  SGD(column, lr=0.5), epochs=15, progress=False)
    assert as_list.accuracy == history.accuracy and as_list.loss == history.loss
    assert history.accuracy[-1] > 0.8


@pytest.mark.parametrize("where", ["loss", "callback"])
def test_keyboard_interrupt_stops_cleanly_keeping_the_weights(where):
    X, y = moons()
    model = MLP(2, [4, 1], rng=0)
    calls = {"loss": 0}
    snapshot = {}

    def loss(out, t):
        calls["loss"] += 1
        if where == "loss" and calls["loss"] == 3 * len(X) + 5:  # in the fourth step
            snapshot["weights"] = weights(model)
            raise KeyboardInterrupt
        return hinge(out, t)

    def callback(epoch, history):
        if where == "callback" and epoch == 2:
            snapshot["weights"] = weights(model)
            raise KeyboardInterrupt

    out = io.StringIO()
    history = fit(model, X, y, loss, SGD(model, lr=0.1), epochs=10, callbacks=[callback], out=out)
    assert history.interrupted and history.steps == 3 and len(history.loss) == 3
    assert weights(model) == snapshot["weights"] != weights(MLP(2, [4, 1], rng=0))  # trained, and kept
    assert "interrupted after 3 steps: keeping the weights" in out.getvalue()


def test_ctrl_c_during_the_step_waits_for_the_step_to_finish():
    X, y = moons()
    model = MLP(2, [4, 1], rng=0)

    class Interrupted(SGD):
        def step(self):
            for i, p in enumerate(self.params):
                if self.steps == 1 and i == 3:
                    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the update
                p.data -= self.lr * p.grad
            self.steps += 1

    reference = MLP(2, [4, 1], rng=0)
    fit(reference, X, y, hinge, SGD(reference, lr=0.1), epochs=2, progress=False)
    history = fit(model, X, y, hinge, Interrupted(model, lr=0.1), epochs=10, progress=False)
    assert history.interrupted and history.steps == 2 and len(history.loss) == 1
    assert weights(model) == weights(reference)  # the second update was completed, not cut short
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("total,lines", [(5, 5), (15, 10), (20, 10), (105, 10)])
def test_progress_bar_in_a_log_writes_a_line_per_tenth_of_the_run(total, lines):
    out = io.StringIO()
    bar = ProgressBar(total, out)
    for k in range(1, total + 1):
        bar.update(k, loss=1.0)
    written = out.getvalue().splitlines()
    assert len(written) == lines and written[-1].startswith(f"step {total:3d}/{total} ")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_in_a_terminal_is_tqdms_with_the_running_loss_and_accuracy():
    pytest.importorskip("tqdm", reason='the progress extra: pip install -e ".[progress]"')
    out = Terminal()
    bar = ProgressBar(4, out, width=8)
    for k in range(1, 5):
        bar.update(k, loss=1.0 / k, accuracy=k / 4)
    bar.close()
    last = out.getvalue().split("\r")[-1]  # tqdm redraws its line in place
    assert last.startswith("step: 100%|") and " 4/4 [" in last
    assert last.endswith(", loss=0.2500, accuracy=100%]\n")


WITHOUT_TQDM = """
import io, sys
sys.modules["tqdm"] = None  # the core install: no progress extra
from micrograd.losses import mse
from micrograd.nn import MLP
from micrograd.optim import SGD
from micrograd.train import fit

class Terminal(io.StringIO):
    def isatty(self):
        return True

for run in range(2):
    model, out = MLP(1, [2, 1], rng=0), Terminal()
    history = fit(model, [[0.0], [1.0]], [0.0, 1.0], mse, SGD(model, lr=0.1), epochs=20, out=out)
    print(len(history.loss), repr(out.getvalue().splitlines()[-1]))
"""


def test_without_tqdm_a_terminal_gets_plain_lines_and_a_one_time_hint():
    done = subprocess.run([sys.executable, "-c", WITHOUT_TQDM], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr
    runs = done.stdout.splitlines()
    assert len(runs) == 2 and all(line.startswith("20 'step  20/20 [" + "#" * 30 + "] loss ") for line in runs)
    assert done.stderr.count('pip install "micrograd[progress]"') == 1  # two fits, one hint


@pytest.mark.parametrize("kwargs,match", [
    ({"X": [[0.0]], "y": [1.0, 2.0]}, "1 rows but y has 2"),
    ({"X": [], "y": []}, "X has no rows"),
    ({"X": [0.0, 1.0]}, r"2-d.*shape \(2,\).*reshape"),  # one feature per sample, but not as rows
    ({"X": [[0.0], [1.0, 2.0]]}, "2-d table of numbers"),
    ({"X": [["a"], ["b"]]}, "2-d table of numbers"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"y": None}, "y must be the targets, one per row of X; got NoneType"),  # was "len() of unsized object"
    ({"y": 1.0}, "y must be the targets, one per row of X; got float"),
    ({"y": ["a", "b"]}, "y must be numbers"),
    ({"X": [[0.0], [math.nan]]}, r"X must be finite: row 1 holds nan"),
    ({"X": [[0.0], [10 ** 400]]}, "X must be a 2-d table of numbers .* too large"),
    ({"y": [0.0, -math.inf]}, r"y must be finite: target 1 holds -inf"),
    ({"y": [Fraction(10 ** 400), 1]}, "y must be numbers .* too large"),
    ({"model": None}, "model must be callable"),
    ({"loss": "mse"}, "loss must be a function"),
    ({"optimizer": "sgd"}, "optimizer must be an optimiser of micrograd.optim"),
])
def test_bad_arguments_are_named_and_leave_the_model_as_it_was(kwargs, match):
    model = MLP(1, [1], rng=0)
    start = weights(model)
    args = {"model": model, "X": [[0.0], [1.0]], "y": [0.0, 1.0], "loss": mse, "optimizer": SGD(model, lr=0.1),
            "epochs": 1, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        fit(args.pop("model"), args.pop("X"), args.pop("y"), args.pop("loss"), args.pop("optimizer"),
            progress=False, **args)
    assert weights(model) == start


def test_targets_of_any_number_type_train_as_floats():
    model = MLP(1, [1], rng=0)
    history = fit(model, [[Fraction(1, 2)], [Decimal("1")]], [Fraction(1, 4), Decimal("0.5")], mse,
                  SGD(model, lr=0.1), epochs=2, progress=False)
    assert history.steps == 2 and all(math.isfinite(x) for x in history.loss)



# --- fit(..., compiled=True): the same loop through micrograd.compile ------------------------------

def scalar_and_compiled(make_model, X, y, loss, make_optimizer, penalty=None, **kwargs):
    """(weights, history, progress text) of a scalar fit and of a compiled fit, each from a fresh
    model; ``penalty(model)`` makes the penalty of that model."""
    runs = []
    for compiled in (False, True):
        model = make_model()
        out = io.StringIO()
        history = fit(model, X, y, loss, make_optimizer(model), out=out, compiled=compiled,
                      penalty=None if penalty is None else lambda m=model: penalty(m), **kwargs)
        runs.append((np.array(weights(model)), history, out.getvalue()))
    return runs


def assert_same_training(runs, start):
    (w0, h0, out0), (w1, h1, out1) = runs
    assert np.abs(w1 - w0).max() <= 1e-10 * np.abs(w0).max()
    assert np.abs(w0 - np.array(weights(start))).max() > 0.1  # it did train
    assert h1.loss == pytest.approx(h0.loss, rel=1e-10, abs=1e-12)
    assert h1.accuracy == h0.accuracy and h1.lr == h0.lr and h1.steps == h0.steps
    assert out1 == out0  # the same progress lines (the losses agree to the digits shown)


def test_compiled_fit_matches_scalar_fit_on_moons_with_hinge_l2_and_sgd():
    X, y = moons()
    runs = scalar_and_compiled(lambda: MLP(2, [8, 1], rng=0), X, y, hinge,
                               lambda m: SGD(m, lr=0.5, momentum=0.5), penalty=lambda m: l2_penalty(m, 1e-2),
                               epochs=15, schedule=LinearDecay(0.5, 0.05, 15))
    assert_same_training(runs, MLP(2, [8, 1], rng=0))
    history, progress = runs[0][1], runs[0][2]
    assert history.accuracy[-1] >= 0.8 and history.loss[-1] < history.loss[0] / 2
    assert len(progress.splitlines()) == 10 and progress.splitlines()[-1].startswith("step  15/15 [")


def three_classes(n=45):
    X, y = make_blobs(n, centers=3, cluster_std=1.0, random_state=0)
    return X / 5, y


@pytest.mark.parametrize("labels", ["indices", "one-hot"])
def test_compiled_fit_matches_scalar_fit_on_three_classes_with_adam_and_minibatches(labels):
    X, y = three_classes()
    targets = y if labels == "indices" else np.eye(3)[y]  # class indices become one-hot rows
    runs = scalar_and_compiled(lambda: MLP(2, [8, 3], rng=1), X, targets, cross_entropy,
                               lambda m: Adam(m, lr=0.05), epochs=8, batch_size=10)  # last batch: 5 rows
    assert_same_training(runs, MLP(2, [8, 3], rng=1))
    assert runs[0][1].steps == 8 * 5 and runs[0][1].accuracy[-1] >= 0.8


EVERY_OPTIMISER = [
    ("SGD", {"lr": 0.3, "momentum": 0.9, "dampening": 0.5, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.3, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
]


@pytest.mark.parametrize("penalty", [None, "l1", "l2"])
@pytest.mark.parametrize("name,kwargs", EVERY_OPTIMISER, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EVERY_OPTIMISER)])
def test_compiled_fit_matches_scalar_fit_with_every_optimiser(name, kwargs, penalty):
    """The same rule on arrays as on the scalar Values, with a schedule and an L1 or L2 penalty:
    equal to 1e-10 (the tape's sums are ordered differently from the scalar engine's)."""
    from micrograd.losses import l1_penalty
    X, y = three_classes()
    make_penalty = {None: None, "l1": lambda m: l1_penalty(m, 1e-3), "l2": lambda m: l2_penalty(m, 1e-2)}[penalty]
    runs = scalar_and_compiled(lambda: MLP(2, [8, 3], rng=1), X, y, cross_entropy,
                               lambda m: getattr(optim, name)(m, **kwargs), penalty=make_penalty,
                               epochs=6, batch_size=10, schedule=LinearDecay(kwargs["lr"], kwargs["lr"] / 10, 30))
    assert_same_training(runs, MLP(2, [8, 3], rng=1))


def test_a_hand_written_loop_trains_in_arrays_as_the_scalar_loop_does():
    """micrograd.training: the compiled function's parameters in arrays, the optimiser's rule on
    them; the Values get the numbers at the end of the block (and on sync), not before."""
    import micrograd
    from micrograd.optim import RMSprop
    X, y = three_classes()
    T = np.eye(3)[y]
    scalar_model, model = MLP(2, [8, 3], rng=1), MLP(2, [8, 3], rng=1)
    start = weights(model)
    scalar_opt, opt = RMSprop(scalar_model, lr=0.01, centered=True), RMSprop(model, lr=0.01, centered=True)
    for _ in range(20):
        scalar_opt.zero_grad()
        total = sum(cross_entropy(scalar_model(list(x)), int(t)) for x, t in zip(X, y)) * (1.0 / len(X))
        total.backward()
        scalar_opt.step()
    f = micrograd.compile(lambda x, t: cross_entropy(model(x), t), params=model.parameters())
    with micrograd.training(f, opt) as run:
        for _ in range(20):
            loss = run.step(X, T)
        assert weights(model) == start  # the numbers are in run.data until the block ends
    assert loss == pytest.approx(total.data, rel=1e-10)
    assert np.abs(np.array(weights(model)) - weights(scalar_model)).max() <= 1e-10
    assert [p.grad for p in model.parameters()] == pytest.approx([p.grad for p in scalar_model.parameters()],
                                                                 rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="same order"):
        micrograd.training(f, SGD(model.parameters()[::-1], lr=0.1))


def test_compiled_fit_callbacks_see_the_numbers_in_the_values():
    X, y = three_classes()
    model = MLP(2, [8, 3], rng=1)
    seen = []
    fit(model, X, y, cross_entropy, Adam(model, lr=0.05), epochs=3, batch_size=15, progress=False,
        compiled=True, callbacks=[lambda epoch, history: seen.append(weights(model))])
    assert len({tuple(w) for w in seen}) == 3 and seen[-1] == weights(model)


def test_compiled_fit_keeps_frozen_parameters_and_single_output_columns():
    X, y = moons()
    # only the last layer is trained: the first is read at every call, as the scalar path reads it
    runs = scalar_and_compiled(lambda: MLP(2, [8, 1], rng=0), X, y, hinge,
                               lambda m: SGD(m.layers[-1].parameters(), lr=0.5), epochs=10)
    assert_same_training(runs, MLP(2, [8, 1], rng=0))
    assert np.array_equal(runs[1][0][:24], np.array(weights(MLP(2, [8, 1], rng=0)))[:24])  # frozen
    # a column of targets and a model returning [score]: lists of one Value each, as in the scalar path
    model = MLP(2, [8, 1], rng=0)
    column = fit(lambda x: [model(x)], X, y.reshape(-1, 1), lambda o, t: hinge(o[0], t[0]),
                 SGD(model, lr=0.5), epochs=10, progress=False, compiled=True)
    reference = MLP(2, [8, 1], rng=0)
    plain = fit(reference, X, y, hinge, SGD(reference, lr=0.5), epochs=10, progress=False)
    assert column.accuracy == plain.accuracy and column.loss == pytest.approx(plain.loss, rel=1e-10)


def test_compiled_fit_stops_cleanly_on_ctrl_c():
    X, y = three_classes()
    model = MLP(2, [8, 3], rng=1)
    snapshot = {}

    def callback(epoch, history):
        if epoch == 2:
            snapshot["weights"] = weights(model)
            raise KeyboardInterrupt

    out = io.StringIO()
    history = fit(model, X, y, cross_entropy, Adam(model, lr=0.05), epochs=10, batch_size=15,
                  callbacks=[callback], out=out, compiled=True)
    assert history.interrupted and history.steps == 9 and len(history.loss) == 3
    assert weights(model) == snapshot["weights"]
    assert "interrupted after 9 steps: keeping the weights" in out.getvalue()


def test_compiled_fit_surfaces_what_the_tape_refuses():
    X, y = moons()
    model = MLP(2, [4, 1], rng=0)
    start = weights(model)

    def branching_hinge(score, t):
        return max(0, 1 - t * score)

    # a Python comparison: one branch for every sample; the message names the line
    with pytest.raises(TracingError, match=r"test_train.py:\d+ `return max\(0, 1 - t \* score\)` \(comparison"):
        fit(model, X, y, branching_hinge, SGD(model, lr=0.1), epochs=2, compiled=True)
    assert weights(model) == start  # refused before the first step


@pytest.mark.parametrize("y,loss,error,match", [
    ([0, 1, 3], cross_entropy, ValueError, r"class targets must be in 0\.\.2 .* 3 outputs, got 0\.\.3"),
    ([0, -1, 2], cross_entropy, ValueError, r"in 0\.\.2 .* got -1\.\.2"),
    (["a", "b", "c"], cross_entropy, ValueError, r"y must be numbers, one target .* could not convert string"),
    ([0, 1, 2], lambda o, t: -log_softmax(o)[t], TypeError,  # indexes by the label: gets a one-hot row
     r"fit\(compiled=True\): the loss gets each target as a Value .*one-hot.*list indices must be"),
])
def test_compiled_fit_names_bad_targets(y, loss, error, match):
    model = MLP(2, [4, 3], rng=0)
    with pytest.raises(error, match=match):
        fit(model, [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], y, loss, Adam(model), progress=False, compiled=True)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("labels, loss, match", [
    ("0/1", hinge, r"hinge: targets must be -1 or \+1, got 0 .*pass y \* 2 - 1"),
    ("-1/+1", binary_cross_entropy_with_logits, r"targets must be in \[0, 1\], got -1 .*pass \(y \+ 1\) / 2"),
])
def test_targets_of_the_wrong_label_convention_are_named_before_training(labels, loss, match, compiled):
    X, y = make_moons(30, noise=0.1, random_state=0)  # labels 0/1
    y = y if labels == "0/1" else y * 2 - 1
    model = MLP(2, [4, 1], rng=0)
    start = weights(model)
    with pytest.raises(ValueError, match=match):
        fit(model, X, y, loss, SGD(model, lr=0.1), epochs=2, progress=False, compiled=compiled)
    assert weights(model) == start


def validation_loss_by_hand(model, X, y, loss, penalty=None):
    """mean(loss(model(x), t)) (+ penalty) over the rows, in the scalar engine, at the weights now."""
    losses = [loss(model(list(row)), t) for row, t in zip(X.tolist(), np.asarray(y).tolist())]
    total = sum(losses) * (1.0 / len(losses))
    return (total + penalty()).data if penalty is not None else total.data


@pytest.mark.parametrize("compiled", [False, True])
def test_validation_data_is_scored_after_every_epoch_at_the_weights_reached(compiled):
    X, y = moons(40)
    X_train, y_train, X_val, y_val = X[:30], y[:30], X[30:], y[30:]
    model = MLP(2, [6, 1], rng=0)
    seen = []  # (val_loss by hand at the end of each epoch, as a callback sees the weights)
    history = fit(model, X_train, y_train, hinge, SGD(model, lr=0.2), epochs=6, batch_size=8,
                  penalty=lambda: l2_penalty(model, 1e-3), validation_data=(X_val, y_val), compiled=compiled,
                  callbacks=[lambda e, h: seen.append(validation_loss_by_hand(
                      model, X_val, y_val, hinge, lambda: l2_penalty(model, 1e-3)))], progress=False)
    assert len(history.val_loss) == len(history.val_accuracy) == 6
    # compiled: the tape sums in another order than the scalar engine, so equal to rounding, 1e-12
    assert history.val_loss == pytest.approx(seen, rel=1e-12) and history.val_loss[-1] < history.val_loss[0]
    scores = [model(list(row)).data for row in X_val.tolist()]
    assert history.val_accuracy[-1] == np.mean([(s > 0) == (t > 0.5) for s, t in zip(scores, y_val)])


@pytest.mark.parametrize("compiled", [False, True])
def test_validation_data_changes_nothing_in_training(compiled):
    X, y = three_classes()
    runs = []
    for validation in (None, (X[:9], y[:9])):
        model = MLP(2, [8, 3], rng=1)
        history = fit(model, X, y, cross_entropy, Adam(model, lr=0.05), epochs=4, batch_size=10,
                      validation_data=validation, compiled=compiled, progress=False)
        runs.append((weights(model), history.loss, history.accuracy))
    assert runs[0] == runs[1]


def test_compiled_and_scalar_validation_agree_for_class_indices_and_a_regression():
    X, y = three_classes()
    for make, targets, loss in [(lambda: MLP(2, [8, 3], rng=1), y, cross_entropy),
                                (lambda: MLP(2, [8, 1], rng=1), X[:, 0] * 3.0 - X[:, 1], mse)]:
        histories = []
        for compiled in (False, True):
            model = make()
            histories.append(fit(model, X[9:], targets[9:], loss, Adam(model, lr=0.05), epochs=5, batch_size=10,
                                 validation_data=(X[:9], targets[:9]), compiled=compiled, progress=False))
        scalar, tape = histories
        # the tape sums in another order than the scalar engine: equal to 1e-10 after 5 epochs of Adam
        assert tape.val_loss == pytest.approx(scalar.val_loss, rel=1e-10) and tape.val_accuracy == scalar.val_accuracy


def test_a_module_is_scored_in_eval_mode_and_put_back_in_its_own_mode():
    from micrograd.nn import Dropout, Layer, Sequential
    X, y = moons(20)
    model = Sequential(Layer(2, 8, rng=0), Dropout(0.5, rng=0), Layer(8, 1, nonlin=False, rng=0))
    inner = model.layers[1]
    inner_modes = []
    history = fit(model, X, y, hinge, SGD(model, lr=0.1), epochs=2, validation_data=(X, y),
                  callbacks=[lambda e, h: inner_modes.append(inner.training)], progress=False)
    assert inner_modes == [True, True] and model.training
    model.eval()  # the score without Dropout: what the history holds
    assert history.val_loss[-1] == validation_loss_by_hand(model, X, y, hinge)


@pytest.mark.parametrize("validation,error,match", [
    ((np.zeros((2, 2)),), TypeError, r"validation_data must be a pair \(X_val, y_val\)"),
    (np.zeros((2, 2)), TypeError, "validation_data must be a pair"),
    ((np.zeros((2, 3)), [0, 1]), ValueError, "validation_data: rows of 3 features, but X has 2"),
    ((np.zeros((2, 2)), [0, 1, 1]), ValueError, "validation_data: X has 2 rows but y has 3 targets"),
    ((np.zeros((2, 2)), [0, math.nan]), ValueError, "validation_data: y must be finite"),
])
def test_bad_validation_data_is_named_before_training(validation, error, match):
    X, y = moons(10)
    model = MLP(2, [4, 1], rng=0)
    start = weights(model)
    with pytest.raises(error, match=match):
        fit(model, X, y, hinge, SGD(model, lr=0.1), validation_data=validation, progress=False)
    assert weights(model) == start


@pytest.mark.parametrize("compiled", [False, True])
def test_a_regression_reports_no_accuracy(compiled):
    X = np.linspace(-1.0, 1.0, 12).reshape(-1, 1)
    y = 150.0 + 40.0 * X[:, 0]  # float targets, no labels: 'accuracy' would be the share of outputs > 0
    model = MLP(1, [4, 1], rng=0)
    out = io.StringIO()
    history = fit(model, X, y, mse, SGD(model, lr=0.01), epochs=3, validation_data=(X, y), out=out,
                  compiled=compiled)
    assert history.accuracy == [] and history.val_accuracy == [] and len(history.val_loss) == 3
    assert "accuracy" not in out.getvalue() and "loss" in out.getvalue()


@pytest.mark.parametrize("compiled", [False, True])
def test_a_regression_of_several_outputs_reports_no_accuracy(compiled):
    X = np.linspace(-1.0, 1.0, 12).reshape(-1, 1)
    Y = np.column_stack([150.0 + 40.0 * X[:, 0], -3.0 * X[:, 0]])  # rows that are no class probabilities
    model = MLP(1, [4, 2], rng=0)

    def loss(out, t):
        return mse(out, t)
    history = fit(model, X, Y, loss, SGD(model, lr=0.001), epochs=2, validation_data=(X, Y), progress=False,
                  compiled=compiled)
    assert history.accuracy == [] and history.val_accuracy == [] and len(history.val_loss) == 2
    # while rows of class probabilities (one-hot) and class indices still count one
    labels = (X[:, 0] > 0).astype(int)
    for y in (labels, np.eye(2)[labels]):
        classifier = MLP(1, [4, 2], rng=0)
        history = fit(classifier, X, y, cross_entropy, SGD(classifier, lr=0.01), epochs=1, progress=False,
                      compiled=compiled)
        assert len(history.accuracy) == 1


@pytest.mark.parametrize("compiled", [False, True])
def test_validation_targets_that_are_no_labels_get_no_accuracy(compiled):
    X = np.linspace(-1.0, 1.0, 12).reshape(-1, 1)
    labels = (X[:, 0] > 0).astype(float)  # 0/1: the training rows count an accuracy
    model = MLP(1, [4, 1], rng=0)
    history = fit(model, X, labels, mse, SGD(model, lr=0.01), epochs=2, progress=False, compiled=compiled,
                  validation_data=(X, 150.0 + 40.0 * X[:, 0]))  # a regression's targets: no accuracy
    assert len(history.accuracy) == 2 and len(history.val_loss) == 2
    assert history.val_accuracy == []
