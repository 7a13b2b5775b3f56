"""__main__: the demos. The moons demo runs through fit with micrograd's numbers; the spiral trains."""

import io
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from micrograd import Value
from micrograd.__main__ import main, moons_demo, spiral_demo
from micrograd.data import make_moons
from micrograd.nn import MLP

ROOT = Path(__file__).resolve().parents[1]


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


# --- errors: one line on stderr, exit code 2, nothing written ------------------------------------

def run(argv, capsys):
    """(exit code, stdout, stderr) of ``python -m micrograd argv``, run in this process."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["draw", "x*2", "--values", "x=1", "-o", "/nonexistent/dir/x.svg"],
     "draw: error: cannot write /nonexistent/dir/x.svg: No such file or directory"),
    (["draw", "x*2", "--values", "x=1", "-o", "x.txt"], "cannot write 'x.txt': the file name must end in one of .svg"),
    (["draw", "x*2", "--values", "x=1", "-o", "."], "cannot write '.': the file name must end in"),
    (["draw", "x*2", "--values", "x=1", "-o", ""], "cannot write '': the file name must end in"),  # not '.'
    (["draw", "a +", "-o", "x.dot"], "draw: error: not an expression: 'a +'"),
    (["draw", "9" * 400, "-o", "x.dot"], "draw: error: integer 999999999999…999 (400 digits) is too large"),
    (["draw", "not " * 2400 + "a", "-o", "x.dot"], "draw: error: not allowed in an expression: 'not not"),
    (["draw", "lambda: " * 1000 + "1", "-o", "x.dot"], "draw: error: not allowed in an expression: 'lambda:"),
    (["draw", "a", "-o", "x.dot"], "draw: error: unknown name 'a': give its value, e.g. --values a=1.5"),
    (["draw", "a", "--values", "a=1e400", "-o", "x.dot"],  # was drawn as inf
     "draw: error: --values a=1e400: the number is beyond the float range"),
    (["draw", "a", "--values", "a=" + "9" * 400, "-o", "x.dot"], "--values a=999999999999…999: the number is beyond"),
    (["draw", "a", "--values", "a=0x10", "-o", "x.dot"], "draw: error: --values takes name=number pairs, got 'a=0x10'"),
    (["draw", "--neuron", "--seed", "-1", "-o", "x.dot"], "draw: error: --seed must be in [0, 2**32), got -1"),
    (["draw", "x*2", "--values", "x=1", "y=2", "-o", "x.dot"],
     "draw: error: --values y=2: the expression has no variable 'y'"),
    (["draw", "x*2", "--values", "x=1", "x=2", "-o", "x.dot"], "draw: error: --values: 'x' is given twice"),
    (["draw", "x"], "draw: error: the following arguments are required: -o/--output"),
    (["demo", "--steps", "-5"], "demo: error: --steps must be at least 1, got -5"),
    (["demo", "--steps", "many"], "demo: error: argument --steps: invalid int value: 'many'"),
    (["train"], "micrograd: error: argument command: invalid choice: 'train'"),
])
def test_every_error_is_one_line_with_exit_code_2_and_nothing_written(argv, message, capsys, tmp_path,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("python -m micrograd") and message in err
    assert err.rstrip().endswith("--help)")  # points at the help of the command that failed
    assert list(tmp_path.iterdir()) == []


def test_a_newcomer_at_the_terminal_gets_help_and_one_line_errors(tmp_path):
    def cli(*argv):
        return subprocess.run([sys.executable, "-m", "micrograd", *argv], capture_output=True, text=True,
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})

    helped = cli("draw", "--help")
    assert helped.returncode == 0 and "--values" in helped.stdout and helped.stderr == ""
    failed = cli("draw", "x*2", "--values", "x=1", "-o", "/nonexistent/dir/x.svg")
    assert failed.returncode == 2 and failed.stdout == "" and "Traceback" not in failed.stderr
    assert failed.stderr == ("python -m micrograd draw: error: cannot write /nonexistent/dir/x.svg: "
                             "No such file or directory (see python -m micrograd draw --help)\n")


@pytest.mark.parametrize("expression, values, nodes", [("2", [], "1 node"), ("x*2", ["x=1"], "3 nodes")])
def test_draw_says_how_many_nodes_it_wrote(expression, values, nodes, capsys, tmp_path):
    path = tmp_path / "graph.dot"
    code, out, err = run(["draw", expression, "--values", *values, "-o", str(path)], capsys)
    assert code == 0 and err == "" and out == f"wrote {path} ({nodes}: {expression!r})\n"


WITHOUT_GRAPHVIZ = ("import sys; sys.modules['graphviz'] = None; "  # the core install: no graphviz package
                    "from micrograd.__main__ import main; sys.exit(main(sys.argv[1:]))")


def test_dot_text_needs_no_graphviz_package_and_other_formats_name_the_extra(tmp_path, capsys):
    def cli(*argv):
        return subprocess.run([sys.executable, "-c", WITHOUT_GRAPHVIZ, *argv], capture_output=True,
                              text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})

    wrote = cli("draw", "x*2", "--values", "x=1", "-o", "x.dot")
    assert wrote.returncode == 0 and wrote.stderr == "" and wrote.stdout == "wrote x.dot (3 nodes: 'x*2')\n"
    reference = tmp_path / "reference.dot"
    assert main(["draw", "x*2", "--values", "x=1", "-o", str(reference)]) == 0  # with graphviz
    assert (tmp_path / "x.dot").read_text() == reference.read_text()
    refused = cli("draw", "x*2", "--values", "x=1", "-o", "x.svg")
    assert refused.returncode == 2 and refused.stdout == "" and not (tmp_path / "x.svg").exists()
    assert refused.stderr == ('python -m micrograd draw: error: drawing graphs needs the graphviz Python '
                              'package: pip install "micrograd[viz]" (see python -m micrograd draw --help)\n')


def test_a_picture_that_cannot_be_written_leaves_no_partial_file(tmp_path, capsys):
    taken = tmp_path / "taken.dot"
    taken.mkdir()  # a directory where the file should go: the rename fails after the data is written
    code, out, err = run(["draw", "x*2", "--values", "x=1", "-o", str(taken)], capsys)
    assert code == 2 and out == "" and err.startswith(f"python -m micrograd draw: error: cannot write {taken}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.dot"] and list(taken.iterdir()) == []


def test_ctrl_c_while_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(src, dst):
        raise KeyboardInterrupt  # Ctrl-C between writing the data and moving it into place

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["draw", "x*2", "--values", "x=1", "-o", str(tmp_path / "x.dot")])
    assert list(tmp_path.iterdir()) == []
