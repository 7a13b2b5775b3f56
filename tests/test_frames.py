"""frames: the backward pass step by step agrees with backward(), and leaves .grad alone."""

from __future__ import annotations

import importlib.util
import math
import random
import re
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, ops, viz
from micrograd.__main__ import main
from micrograd.frames import backward_steps, forward_steps, group_steps
from micrograd.nn import MLP
from micrograd.testing import expressions
from micrograd.viz import backward_frames, draw_dot


def neuron() -> Value:
    """karpathy's neuron, with the lecture's labels."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1w1x2w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def same(a: float, b: float) -> bool:
    """Equal as floats, bit for bit (nan equal to nan, 0.0 not equal to -0.0)."""
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))


@given(expressions())
def test_the_last_frame_is_backward_exactly(program) -> None:  # type: ignore[no-untyped-def]
    inputs = [Value(x) for x in program.point]
    out = program.values(inputs)[-1]
    frames = backward_steps(out)
    assert all(v.grad == 0.0 for v in out.nodes())  # the frames left .grad alone
    out.backward()
    last = frames[-1].known
    for v in out.nodes():
        assert same(last[v], v.grad), (v, last[v], v.grad)
    # one frame for the root, then one per node made by an op
    assert len(frames) == 1 + sum(1 for v in out.nodes() if v._prev)


@given(expressions())
def test_frames_leave_existing_grads_alone(program) -> None:  # type: ignore[no-untyped-def]
    inputs = [Value(x) for x in program.point]
    out = program.values(inputs)[-1]
    out.backward()
    before = [v.grad for v in out.nodes()]
    frames = backward_steps(out)
    assert [v.grad for v in out.nodes()] == before  # not doubled, not reset
    forward_steps(out)
    assert [v.grad for v in out.nodes()] == before
    assert len(frames[-1].known) == len(before)


def test_the_neurons_frames_read_like_the_lecture() -> None:
    o = neuron()
    frames = backward_steps(o)
    rules = [line for frame in frames for line in frame.rule]
    assert rules == [
        "o.grad = 1",
        "n.grad += o.grad * (1 - o.data²) = 1 * 0.5 = 0.5",
        "x1w1x2w2.grad += n.grad * 1 = 0.5 * 1 = 0.5",
        "b.grad += n.grad * 1 = 0.5 * 1 = 0.5",
        "x1w1.grad += x1w1x2w2.grad * 1 = 0.5 * 1 = 0.5",
        "x2w2.grad += x1w1x2w2.grad * 1 = 0.5 * 1 = 0.5",
        "x1.grad += x1w1.grad * w1.data = 0.5 * -3 = -1.5",
        "w1.grad += x1w1.grad * x1.data = 0.5 * 2 = 1",
        "x2.grad += x2w2.grad * w2.data = 0.5 * 1 = 0.5",
        "w2.grad += x2w2.grad * x2.data = 0.5 * 0 = 0",
    ]
    # each frame knows the grads of the nodes reached so far, and only those
    assert [len(f.known) for f in frames] == [1, 2, 4, 6, 8, 10]
    assert frames[1].node.label == "o" and [c.label for c in frames[2].children] == ["x1w1x2w2", "b"]


def test_forward_frames_fill_in_data_in_topological_order() -> None:
    o = neuron()
    frames = forward_steps(o)
    assert frames[0].rule[0].startswith("inputs: ")
    assert len(frames[0].known) == 5
    assert frames[-1].rule == ("o = tanh(n) = tanh(0.8814) = 0.7071",)
    assert frames[-1].known[o] == o.data
    assert "x1w1 = x1 * w1 = 2 * -3 = -6" in [f.rule[0] for f in frames]


def test_a_value_used_twice_gets_both_amounts() -> None:
    a = Value(3.0, label="a")
    b = a * a
    b.label = "b"
    frames = backward_steps(b)
    assert frames[-1].rule == ("a.grad += b.grad * a.data = 1 * 3 = 3",) * 2
    assert frames[-1].known[a] == 6.0


def test_a_hand_built_node_runs_its_own_closure_on_a_copy() -> None:
    a, b = Value(2.0, label="a"), Value(5.0, label="b")
    out = Value(a.data * b.data, (a, b), "mul")
    out.label = "out"

    def rule() -> None:
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = rule
    a.grad = 7.0  # left as it is
    frames = backward_steps(out)
    assert a.grad == 7.0 and b.grad == 0.0 and out.grad == 0.0
    assert frames[-1].known[a] == 5.0 and frames[-1].known[b] == 2.0
    assert frames[-1].rule[0] == "a.grad += out.grad * ∂out/∂a = 1 * 5 = 5"


# --- the pictures -----------------------------------------------------------------------------

needs_graphviz = pytest.mark.skipif(importlib.util.find_spec("graphviz") is None,
                                    reason='the pictures need the graphviz package: pip install "micrograd[viz]"')
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed (apt-get install graphviz)")
RECORD = re.compile(r'\[label="(\{ [^"]* \})"')


def records(source: str) -> list[str]:
    return RECORD.findall(source)


@needs_graphviz
def test_one_picture_per_frame_and_the_last_one_is_draw_dot_after_backward() -> None:
    o = neuron()
    slides = backward_frames(o)
    assert len(slides) == len(backward_steps(o)) == 6
    assert all(v.grad == 0.0 for v in o.nodes())
    first, last = slides.sources()[0], slides.sources()[-1]
    assert "{ o | data 0.7071 | grad 1 }" in first
    assert "{ w1 | data -3 | grad ? }" in first  # not known yet: blank
    assert "step 1 of 6" in first and "o.grad = 1" in first
    o.backward()
    assert records(last) == records(draw_dot(o).source)  # the same boxes, the same numbers
    assert "w1.grad += x1w1.grad * x1.data = 0.5 * 2 = 1" in slides.sources()[4]


@needs_graphviz
def test_the_frame_highlights_the_node_whose_rule_runs_and_its_children() -> None:
    o = neuron()
    source = backward_frames(o).sources()[4]  # x1w1's rule
    lines = {line.split("[label=")[0].strip(): line for line in source.splitlines() if "[label=" in line}
    by_name = {RECORD.search(line).group(1).split(" | ")[0][2:]: line  # type: ignore[union-attr]
               for line in lines.values() if RECORD.search(line)}
    assert viz.FOCUS_STYLE in by_name["x1w1"]
    assert viz.CHILD_STYLE in by_name["x1"] and viz.CHILD_STYLE in by_name["w1"]
    assert viz.FOCUS_STYLE not in by_name["n"] and viz.CHILD_STYLE not in by_name["n"]


@needs_graphviz
def test_forward_frames_fill_in_data() -> None:
    o = neuron()
    sources = backward_frames(o, forward=True).sources()
    assert len(sources) == 6
    assert "{ o | data ? | grad  }" in sources[0] and "{ x1 | data 2 | grad  }" in sources[0]
    assert "{ o | data 0.7071 | grad  }" in sources[-1]


@needs_graphviz
def test_unlabelled_nodes_are_named_in_the_picture_as_in_the_rules() -> None:
    a = Value(3.0, label="a")
    b = (a * a).exp()
    sources = backward_frames(b).sources()
    assert "{ #1 | data 9 |" in sources[0] and "#1.grad += #2.grad * #2.data" in sources[1]
    assert "a.grad += #1.grad * a.data = 8103 * 3 = 2.431e+04" in sources[2]


def test_zero_reads_0_not_minus_0() -> None:
    a, b = Value(-0.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    assert backward_steps(c)[-1].known[b] == -0.0  # the number is kept; only its text drops the sign
    assert backward_steps(c)[1].rule[1] == "b.grad += c.grad * a.data = 1 * 0 = 0"


@needs_graphviz
@needs_dot
def test_svgs_and_a_self_contained_html_page() -> None:
    slides = backward_frames(neuron())
    svgs = slides.svgs()
    assert len(svgs) == 6 and all(s.lstrip().startswith(("<?xml", "<svg", "<!--")) for s in svgs)
    page = slides.to_html()
    assert page.count("<svg") == 6 and page.count('class="frame"') == 6
    assert "Prev" in page and "Next" in page and 'type="range"' in page
    assert "<script src" not in page and "<link" not in page  # no network
    assert '<div class="controls" style="display:none">' in page  # without JavaScript: every frame


@needs_graphviz
@needs_dot
def test_an_animated_gif(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    path = backward_frames(neuron()).save_gif(tmp_path / "backprop.gif")
    with image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 6


@needs_graphviz
def test_a_gif_without_pillow_says_which_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=re.escape('pip install "micrograd[plot]"')):
        backward_frames(neuron()).save_gif(tmp_path / "x.gif")


@needs_graphviz
@needs_dot
@pytest.mark.parametrize("widgets", [True, False])
def test_jupyter_shows_a_slider_or_every_frame(widgets: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    display_module = pytest.importorskip("IPython.display")
    if widgets:
        pytest.importorskip("ipywidgets")
    else:
        monkeypatch.setitem(sys.modules, "ipywidgets", None)
    shown: list[object] = []
    monkeypatch.setattr(display_module, "display", lambda *objs: shown.extend(objs))
    backward_frames(neuron())._ipython_display_()
    if widgets:
        assert type(shown[-1]).__name__ == "VBox"
    else:
        assert shown[0].data.count("<svg") == 6  # type: ignore[attr-defined]


@needs_graphviz
@needs_dot
def test_the_command_line_writes_the_frames_as_a_gif_or_a_page(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    image = pytest.importorskip("PIL.Image")
    args = ["draw", "tanh(x1*w1 + x2*w2 + b)", "--values", "x1=2", "x2=0", "w1=-3", "w2=1", "b=6.88", "--frames"]
    assert main([*args, "-o", str(tmp_path / "bp.gif")]) == 0
    with image.open(tmp_path / "bp.gif") as gif:
        assert gif.n_frames == 6
    assert main([*args, "-o", str(tmp_path / "bp.html")]) == 0
    assert (tmp_path / "bp.html").read_text().count("<svg") == 6
    with pytest.raises(SystemExit) as exit_:
        main([*args, "-o", str(tmp_path / "bp.svg")])
    assert exit_.value.code == 2 and ".gif, .html with --frames" in capsys.readouterr().err
    assert not (tmp_path / "bp.svg").exists()


# --- a model drawn collapsed: one frame per neuron ------------------------------------------

@given(expressions(), st.integers(1, 4))
def test_grouped_steps_end_on_backward_exactly(program, groups: int) -> None:  # type: ignore[no-untyped-def]
    inputs = [Value(x) for x in program.point]
    nodes = program.values(inputs)
    out = nodes[-1]
    position = {v: i for i, v in enumerate(out.nodes())}
    grouped = group_steps(backward_steps(out), lambda v: position[v] % groups)  # interleaved groups
    out.backward()
    assert len(grouped) <= groups and sum(len(g.steps) for g in grouped) == len(backward_steps(out))
    for v in out.nodes():
        assert same(grouped[-1].known[v], v.grad)


def small_mlp_loss() -> Value:
    random.seed(0)
    model = MLP(2, [3, 1])
    y = model([Value(1.0, label="x1"), Value(-2.0, label="x2")])
    loss = (y - 1.0) ** 2
    loss.label = "loss"
    return loss


@needs_graphviz
def test_a_collapsed_mlp_steps_whole_neurons() -> None:
    loss = small_mlp_loss()
    slides = backward_frames(loss, collapse="neuron")
    # loss's **2, the +, then the output neuron and the three hidden ones: one frame each
    assert len(slides) == 1 + 2 + 4
    sources = slides.sources()
    assert "neuron 0 · LinearNeuron(3) in layer 2 of 2: its 6 rules at once" in sources[3]
    assert "b.grad += -2.671" in sources[3]
    assert sources[3].count(viz.FOCUS_STYLE) == 2  # the box and its output
    assert all(v.grad == 0.0 for v in loss.nodes())
    loss.backward()
    unnamed = [re.sub(r"^\{ #\d+ \| ", "{ ", r) for r in records(sources[-1])]  # draw_dot names none
    assert unnamed == records(draw_dot(loss, collapse="neuron").source)


@needs_graphviz
def test_a_layer_box_counts_its_parameters_whose_names_repeat() -> None:
    loss = small_mlp_loss()
    sources = backward_frames(loss, collapse="layer").sources()
    assert len(sources) == 1 + 2 + 2
    assert "layer 1 of 2 · 3 neurons in MLP 2-3-1: its 15 rules at once" in sources[-1]
    assert "x1.grad += " in sources[-1] and "and the grads of its 9 parameters" in sources[-1]


@needs_graphviz
def test_collapse_is_checked() -> None:
    with pytest.raises(ValueError, match="collapse must be"):
        backward_frames(neuron(), collapse="neurons")
    with pytest.raises(ValueError, match="forward=True"):
        backward_frames(neuron(), forward=True, collapse="neuron")
    with pytest.raises(ValueError, match=r"6 frames, one per node, is more than max_frames=5: collapse="):
        backward_frames(neuron(), max_frames=5)


def test_a_rule_line_words_a_table_op_by_the_op_not_by_its_symbol():
    twice = ops.Op("tanh", "twice_printed_tanh_test", 1, lambda xp, a: 2.0 * a, lambda xp, g, out, a: 2.0 * g)
    x = Value(0.5, label="x")
    y = x.apply(twice)
    y.label = "y"
    (line,) = backward_steps(y)[-1].rule
    assert line == "x.grad += y.grad * ∂y/∂x = 1 * 2 = 2"  # not tanh's "(1 - y.data²)"
    z = x.tanh()
    z.label = "z"
    assert "(1 - z.data²)" in backward_steps(z)[-1].rule[0]


def test_a_collapsed_frame_counts_a_boxs_parameters_apart_from_the_inputs_it_sends_grads_to():
    """A layer called on a numpy row sends grads to its 8 parameters and to its 3 inputs: the
    frame's text counts each (it said '11 parameters'); a conv channel has 4 weights and a bias
    (it said 21)."""
    import numpy as np
    from micrograd.nn import Conv2d

    def counts(root):
        text = "\n".join(backward_frames(root, collapse="layer").sources())
        return sorted(set(re.findall(r"grads of its ([^\\\"<]*)", text)))

    model = MLP(3, [2, 1], rng=0)
    assert counts(model(np.array([1.0, 2.0, 3.0]))) == ["8 parameters and of 3 inputs"]
    conv = Conv2d(1, 2, 2, rng=0)
    maps = conv(np.arange(9.0).reshape(1, 3, 3))
    # (each use of a pixel is a node of its own, and some are drawn: the input counts vary per channel)
    assert {c.split(" and ")[0] for c in counts(sum(v for ch in maps for row in ch for v in row))} == {
        "5 parameters"}
