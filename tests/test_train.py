"""train: fit trains, reports progress, returns a history and stops cleanly on Ctrl-C."""

import io
import os
import signal

import numpy as np
import pytest

from micrograd.data import make_moons
from micrograd.losses import cross_entropy, hinge, l2_penalty, mse
from micrograd.nn import MLP
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


def test_progress_bar_redraws_one_line_in_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    bar = ProgressBar(4, out, width=8)
    for k in range(1, 5):
        bar.update(k, loss=1.0 / k, accuracy=k / 4)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("step   4/4 [########] loss 0.2500 accuracy 100%\n")


@pytest.mark.parametrize("kwargs,match", [
    ({"X": [[0.0]], "y": [1.0, 2.0]}, "1 rows but y has 2"),
    ({"X": [], "y": []}, "X has no rows"),
    ({"X": [0.0, 1.0]}, r"2-d.*shape \(2,\).*reshape"),  # one feature per sample, but not as rows
    ({"X": [[0.0], [1.0, 2.0]]}, "2-d table of numbers"),
    ({"X": [["a"], ["b"]]}, "2-d table of numbers"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_arguments_are_named(kwargs, match):
    model = MLP(1, [1], rng=0)
    args = {"X": [[0.0], [1.0]], "y": [0.0, 1.0], "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit(model, args.pop("X"), args.pop("y"), mse, SGD(model, lr=0.1), progress=False, **args)
