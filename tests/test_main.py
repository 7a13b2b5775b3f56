"""__main__: the demos. The moons demo runs through fit with micrograd's numbers; the spiral trains."""

import io
import math
import random

import numpy as np
import pytest

from micrograd import Value
from micrograd.__main__ import main, moons_demo, spiral_demo
from micrograd.data import make_moons
from micrograd.nn import MLP


def test_moons_demo_through_fit_is_the_hand_written_loop_bit_for_bit(capsys):
    steps = 4
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1, random_state=1337)
    y = y * 2 - 1
    model = MLP(2, [16, 16, 1])
    for k in range(steps):  # karpathy's loop
        scores = [model(list(map(Value, row))) for row in X]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
        model.zero_grad()
        total.backward()
        for p in model.parameters():
            p.data -= (1.0 - 0.9 * k / steps) * p.grad
    loss, accuracy = moons_demo(steps=steps)
    assert loss == total.data
    assert accuracy == np.mean([(yi > 0) == (si.data > 0) for yi, si in zip(y, scores)])
    assert "final loss" in capsys.readouterr().out


def test_spiral_trains_with_cross_entropy_and_adam_to_the_stated_accuracy(capsys):
    loss, accuracy = spiral_demo(compiled=True)  # fit's compiled path: the scalar numbers to 1e-10
    # the README's figure, "89% training accuracy in 120 steps" (80 of 90 points; loss 0.345)
    assert f"{accuracy:.0%}" == "89%" and loss < 0.4
    out = capsys.readouterr().out
    assert "spiral demo: MLP 2-12-12-3" in out and "step 120/120" in out


def test_demo_command_takes_the_data_set(capsys):
    assert main(["demo", "spiral", "--steps", "1"]) == 0
    assert "step   1/1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["demo", "mnist"])


@pytest.mark.parametrize("seed", ["-1", str(2 ** 32)])
def test_a_seed_numpy_cannot_take_is_a_usage_error(seed, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--seed", seed, "--steps", "1"])
    assert "--seed must be in [0, 2**32)" in capsys.readouterr().err


class CtrlCAtFirstProgress(io.StringIO):
    """A log that raises KeyboardInterrupt (Ctrl-C) once, when the first progress line is written."""

    interrupted = False

    def write(self, text: str) -> int:
        if text.startswith("step") and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        return super().write(text)


def test_a_demo_stopped_before_its_first_epoch_reports_without_a_traceback():
    out = CtrlCAtFirstProgress()
    loss, accuracy = moons_demo(steps=1, out=out)  # Ctrl-C during the first step
    assert out.interrupted and math.isnan(loss) and math.isnan(accuracy)
    assert "stopped before the first epoch ended" in out.getvalue()
