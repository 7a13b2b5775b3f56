"""viz: pictures rendered by the real ``dot`` program, checked node by node in the SVG."""

from __future__ import annotations

import os
import pickle
import random
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

from micrograd import Value, ops, viz
from micrograd.__main__ import main
from micrograd.conv import Conv2d, Flatten, MaxPool2d
from micrograd.data import make_moons
from micrograd.nn import MLP, Layer, Neuron
from micrograd.testing import expressions
from micrograd.viz import GRAD_COLOURS, NEGATIVE_GRAD_COLOURS, ZERO_COLOUR, draw_dot

graphviz = pytest.importorskip("graphviz")
ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot program is not installed (apt-get install graphviz)")


class Drawing:
    """A rendered SVG, read back: its nodes and edges by name, and their texts and colours."""

    def __init__(self, picture: object) -> None:
        self.svg = picture.pipe(format="svg", encoding="utf-8")  # type: ignore[attr-defined]
        tree = ET.fromstring(self.svg)
        self.nodes: dict[str, ET.Element] = {}
        self.edges: list[tuple[str, ET.Element]] = []  # (a list: x * x draws two edges)
        self.clusters: list[str] = []
        for g in tree.iter(f"{SVG}g"):
            title = g.findtext(f"{SVG}title")
            kind = g.get("class")
            if kind == "node":
                self.nodes[title] = g
            elif kind == "edge":
                self.edges.append((title.replace("&#45;&gt;", "->"), g))
            elif kind == "cluster":
                self.clusters.append(" ".join(t.text or "" for t in g.iter(f"{SVG}text")))

    def text(self, name: str) -> list[str]:
        return [t.text or "" for t in self.nodes[name].iter(f"{SVG}text")]

    def shape(self, name: str) -> ET.Element:
        node = self.nodes[name]
        return next(e for e in node if e.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"))

    def named(self, label: str) -> str:
        """The name of the value node whose first field is ``label``."""
        return next(n for n in self.nodes if self.text(n)[:1] == [label])

    def values(self) -> list[str]:
        return [n for n in self.nodes if n.startswith("n") and not n.endswith("op")]


def karpathy_example() -> Value:
    """The expression of micrograd's trace_graph notebook, with labels."""
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    L.backward()
    return L


def small_mlp() -> tuple[MLP, Value]:
    random.seed(1337)
    model = MLP(2, [3, 3, 1])
    out = model([Value(0.5, label="x1"), Value(-1.0, label="x2")])
    out.backward()
    return model, out  # type: ignore[return-value]


def moons_loss(samples: int = 100, sizes: tuple[int, ...] = (16, 16, 1)) -> Value:
    """The moons demo's loss graph (hinge + L2), after backward."""
    random.seed(1337)
    X, y = make_moons(n_samples=samples, noise=0.1, random_state=1337)
    y = y * 2 - 1
    model = MLP(2, list(sizes))
    scores = [model(list(map(Value, row))) for row in X]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    total.backward()
    return total


def small_conv_net() -> tuple[Conv2d, Layer, Value]:
    """Conv2d(1, 2, 2) on a 3x3 image, flattened into a linear neuron: 2 channels x 2x2 positions."""
    conv, head = Conv2d(1, 2, 2, rng=0), Layer(8, 1, nonlin=False, rng=1)
    image = [[[Value(0.5 * (3 * i + j) - 2, label=f"x{i}{j}") for j in range(3)] for i in range(3)]]
    out = head(Flatten()(conv(image)))
    assert isinstance(out, Value)
    out.backward()
    return conv, head, out


def cluster_blocks(source: str) -> dict[str, str]:
    """Each cluster's label -> the lines written inside it (clusters inside it included)."""
    blocks = {}
    for block in source.split("subgraph cluster_")[1:]:
        label = block.split('label="', 1)[1].split('"', 1)[0]
        blocks[label] = block
    return blocks


# --- what is drawn -------------------------------------------------------------------------

@needs_dot
def test_karpathy_call_draws_values_ops_and_labels():
    L = karpathy_example()
    picture = draw_dot(L)
    assert isinstance(picture, graphviz.Digraph) and picture.format == "svg"
    drawing = Drawing(picture)
    assert len(drawing.values()) == 7
    assert sorted(n for n in drawing.nodes if n.endswith("op")) == ["n4op", "n5op", "n6op"]
    assert "legend" in drawing.nodes
    assert len(drawing.edges) == 3 + 6  # op -> value, and each argument -> op
    a = drawing.named("a")
    assert drawing.text(a) == ["a", "data 2", "grad 6"]
    assert drawing.text(drawing.named("L")) == ["L", "data -8", "grad 1"]
    assert sorted(drawing.text(n)[0] for n in drawing.nodes if n.endswith("op")) == ["*", "*", "+"]
    # the notebook's other forms: format and rankdir
    png = draw_dot(L, format="png", rankdir="TB")
    assert png.format == "png" and "rankdir=TB" in png.source
    assert png.pipe()[:8] == b"\x89PNG\r\n\x1a\n"
    assert draw_dot(L, format="pdf").pipe()[:5] == b"%PDF-"
    assert "image/svg+xml" in picture._repr_mimebundle_()  # what Jupyter displays


@needs_dot
def test_roles_have_their_own_borders():
    x = Value(3.0, label="x")
    w = Value(-0.5, label="w")
    y = (x * w + 2.0).tanh()
    y.label = "y"
    y.backward()
    drawing = Drawing(draw_dot(y, params=[w]))
    assert drawing.shape(drawing.named("x")).get("stroke") == viz.ROLE_COLOUR["input"]
    assert drawing.shape(drawing.named("w")).get("stroke") == viz.ROLE_COLOUR["parameter"]
    assert drawing.shape(drawing.named("w")).tag == f"{SVG}path"  # rounded corners
    out = drawing.shape(drawing.named("y"))
    assert out.get("stroke") == "#000000" and out.get("stroke-width") == "3.5"
    constant = next(n for n in drawing.values() if drawing.text(n)[0] == "data 2")
    shape = drawing.shape(constant)
    assert shape.get("stroke") == viz.ROLE_COLOUR["constant"] and shape.get("stroke-dasharray")
    # without params=, w is an input like x
    plain = Drawing(draw_dot(y))
    assert plain.shape(plain.named("w")).get("stroke") == viz.ROLE_COLOUR["input"]


def test_constants_are_leaves_with_an_op_of_their_own():
    x = Value(3.0)
    y = 2 * x + x ** Value(2.0)
    const = y._a._b  # the 2, lifted by the engine
    assert const.op is ops.CONSTANT and const._op == "" and not const._prev
    assert x.op is ops.LEAF and y._b._b.op is ops.LEAF  # Values users make are not constants
    assert ops.LEAF != ops.CONSTANT
    copy = pickle.loads(pickle.dumps(y))
    assert copy._a._b.op is ops.CONSTANT and copy._b._b.op is ops.LEAF
    roles = sorted((line.split("data ")[1].split(" |")[0], line.split(' color="')[1][:7])
                   for line in draw_dot(y).source.splitlines() if "shape=record" in line)  # (data, border)
    colour = viz.ROLE_COLOUR
    assert roles == sorted([("2", colour["constant"]), ("2", colour["input"]), ("3", colour["input"]),
                            ("9", colour["value"]), ("6", colour["value"]), ("15", colour["output"])])


@needs_dot
def test_gradient_colours_follow_abs_grad_on_a_log_scale():
    L = karpathy_example()  # |grad|: a 6, b 4, f 4, c 2, e 2, d 2, L 1
    drawing = Drawing(draw_dot(L))
    fill = {label: drawing.shape(drawing.named(label)).get("fill") for label in "abcdefL"}
    assert fill["a"] == GRAD_COLOURS[-1]  # +6
    assert fill["L"] == GRAD_COLOURS[0]  # +1
    # the sign picks the scale, |grad| the shade: b -4 and f +4 alike but blue and orange
    assert NEGATIVE_GRAD_COLOURS.index(fill["b"]) == GRAD_COLOURS.index(fill["f"])
    assert fill["c"] == fill["d"] == fill["e"] and fill["c"] in NEGATIVE_GRAD_COLOURS  # -2
    order = [GRAD_COLOURS.index(fill["L"]), NEGATIVE_GRAD_COLOURS.index(fill["c"]),
             GRAD_COLOURS.index(fill["f"]), GRAD_COLOURS.index(fill["a"])]
    assert order == sorted(order) and len(set(order)) == 4
    fresh = Value(1.0, label="u") * Value(2.0, label="v")
    drawing = Drawing(draw_dot(fresh))  # before backward: every grad is 0
    assert {drawing.shape(n).get("fill") for n in drawing.values()} == {ZERO_COLOUR}
    assert "call backward()" in " ".join(drawing.text("legend"))


def test_gradient_colours_read_int_and_value_grads_too():
    """A grad set karpathy-style (an int) or made by backward(create_graph=True) (a Value) is
    coloured like the same float: the scale is not built from float grads alone."""
    def fills(L):
        source = draw_dot(L).source
        return [line.split('fillcolor="')[1][:7] for line in source.splitlines() if "shape=record" in line]

    want = fills(karpathy_example())
    assert len(set(want)) == 5  # |grad| 1, 2, 4, 6 and the sign: -4 and +4 differ
    ints = karpathy_example()
    for v in ints.nodes():
        v.grad = int(v.grad)
    assert fills(ints) == want
    values = karpathy_example()
    for v in values.nodes():
        v.grad = 0.0
    values.backward(create_graph=True)
    assert all(isinstance(v.grad, Value) for v in values.nodes()) and fills(values) == want


@needs_dot
def test_dead_relu_is_marked():
    x = Value(-1.5, label="x")
    dead = (x * 2.0).relu()
    live = (x * -2.0).relu()
    out = dead + live
    out.backward()
    drawing = Drawing(draw_dot(out))
    marked = [n for n in drawing.values() if "dead" in drawing.text(n)]
    assert len(marked) == 1
    assert drawing.text(marked[0])[:2] == ["data 0", "grad 1"]
    assert drawing.shape(marked[0]).get("stroke") == viz.ROLE_COLOUR["dead"]
    assert drawing.shape(marked[0]).get("stroke-dasharray")  # dotted


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5))


def test_no_gradient_fill_can_be_taken_for_the_dead_border():
    """The strongest fill once was a red like the dead ReLU's border. Now the dead border is a dark
    grey and the fills are light oranges and blues: every fill is far from it in RGB (more than 150
    of the 441 between black and white, about the distance from mid grey to white) and is clearly
    coloured or white, where the border is grey (channels within 30 of each other)."""
    dead = rgb(viz.ROLE_COLOUR["dead"])
    assert max(dead) - min(dead) <= 30
    fills = [*GRAD_COLOURS, *NEGATIVE_GRAD_COLOURS, viz.NONFINITE_COLOUR, ZERO_COLOUR]
    for fill in fills:
        distance = sum((a - b) ** 2 for a, b in zip(rgb(fill), dead)) ** 0.5
        assert distance > 150, fill
    assert not set(GRAD_COLOURS) & set(NEGATIVE_GRAD_COLOURS)
    for scale in (GRAD_COLOURS, NEGATIVE_GRAD_COLOURS):  # light to strong: the sum of channels falls
        assert [sum(rgb(c)) for c in scale] == sorted((sum(rgb(c)) for c in scale), reverse=True)


@needs_dot
def test_edges_into_non_commutative_ops_carry_positions():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    out = a ** b + a * b
    drawing = Drawing(draw_dot(out))
    labelled = [(t, [x.text for x in g.iter(f"{SVG}text")]) for t, g in drawing.edges]
    pow_op = next(n for n in drawing.nodes if n.endswith("op") and drawing.text(n) == ["**"])
    assert sorted(lab for t, lab in labelled if t.endswith("->" + pow_op)) == [["0"], ["1"]]
    mul_op = next(n for n in drawing.nodes if n.endswith("op") and drawing.text(n) == ["*"])
    assert [lab for t, lab in labelled if t.endswith("->" + mul_op)] == [[], []]
    # a hand-built node with three children (karpathy-style) shows all three, numbered
    c = Value(1.0, label="c")
    custom = Value(6.0, (a, b, c), "f3")
    drawing = Drawing(draw_dot(custom))
    into = [[x.text for x in g.iter(f"{SVG}text")] for t, g in drawing.edges if t.endswith("op")]
    assert sorted(into) == [["0"], ["1"], ["2"]]


@needs_dot
def test_labels_with_record_syntax_are_escaped():
    nasty = 'a{b}|<c> "q" \\ end'
    v = Value(1.0, label=nasty) * 2
    drawing = Drawing(draw_dot(v))
    assert nasty in [t for n in drawing.values() for t in drawing.text(n)]

    # the title too: dot reads backslashes in it as escapes (\n, \G the graph's name, ...)
    title = 'C:\\new\\G "q" {a|b} \\'
    drawing = Drawing(draw_dot(v, title=title + "\nsecond line"))
    heading = [t.text for t in ET.fromstring(drawing.svg).find(f"{SVG}g").findall(f"{SVG}text")]
    assert heading == [title, "second line"]


@needs_dot
def test_mlp_clusters_per_call_layer_and_neuron():
    model, out = small_mlp()
    picture = draw_dot(out, max_nodes=None)
    drawing = Drawing(picture)
    assert len(drawing.clusters) == 1 + 3 + 7
    assert sum(c.startswith("MLP 2-3-3-1") for c in drawing.clusters) == 1
    assert sum(c.startswith("layer 2 of 3") for c in drawing.clusters) == 1
    assert sum(c.startswith("neuron") for c in drawing.clusters) == 7
    nodes = out.nodes()
    assert len(drawing.values()) == len(nodes)
    # every parameter is drawn, as a parameter, inside its neuron's cluster
    params = [n for n in drawing.values() if drawing.shape(n).get("stroke") == viz.ROLE_COLOUR["parameter"]]
    assert len(params) == len(model.parameters()) == 25
    blocks = [b.split("\t}\n")[0] for b in picture.source.split("subgraph cluster_")[1:]]
    neuron_blocks = [b for b in blocks if b.lstrip("0123456789 {\n\t").startswith("label=\"neuron")]
    assert len(neuron_blocks) == 7
    assert sum(block.count('color="#1c5fb4"') for block in neuron_blocks) == 25
    # unlabelled parameters are named as in their neuron: w.0, w.1, ..., b
    assert picture.source.count("{ w.0 |") == picture.source.count("{ b |") == 7


@needs_dot
def test_collapse_draws_each_call_as_one_box():
    _, out = small_mlp()
    drawing = Drawing(draw_dot(out, collapse="neuron"))
    boxes = [n for n in drawing.nodes if drawing.shape(n).tag == f"{SVG}polygon"
             and any("inside" in t for t in drawing.text(n))]
    assert len(boxes) == 7
    assert len(drawing.values()) == 7 + 7 + 2  # boxes, neuron outputs, inputs
    # 2 inputs -> 3 boxes, 3 outputs -> 3 boxes, 3 outputs -> 1 box, and each box -> its output
    assert len(drawing.edges) == 6 + 9 + 3 + 7
    layer = Drawing(draw_dot(out, collapse="layer"))
    assert len(layer.values()) == 3 + 7 + 2 and len(layer.edges) == 2 + 3 + 3 + 7
    assert any("layer 2 of 3 · 3 neurons" in t for n in layer.nodes for t in layer.text(n))
    model = Drawing(draw_dot(out, collapse="model"))
    assert len(model.values()) == 1 + 1 + 2 and len(model.edges) == 3
    assert any("25 parameters inside" in t for n in model.nodes for t in model.text(n))


def test_collapse_without_module_calls_draws_everything_and_says_why():
    x = Value(2.0, label="x")
    y = (x * 3.0).tanh()
    full = draw_dot(y).source
    for level in viz.COLLAPSE_LEVELS:
        source = draw_dot(y, collapse=level).source
        assert f"collapse={level!r}: no {level} call recorded" in source
        assert source.count("shape=record") == full.count("shape=record") == 4
    _, out = small_mlp()
    assert "call recorded" not in draw_dot(out, collapse="layer").source


@needs_dot
def test_node_budget_collapses_by_itself_and_says_so():
    total = moons_loss(samples=8, sizes=(4, 4, 1))
    full = len(total.nodes())
    drawing = Drawing(draw_dot(total, max_nodes=80))
    assert len(drawing.nodes) - 1 <= 80 + 2 < full  # (the legend is not counted)
    title = " ".join(t.text or "" for t in ET.fromstring(drawing.svg).find(f"{SVG}g").findall(f"{SVG}text"))
    assert "max_nodes=80" in title and f"{full:,} values" in title


@needs_dot
def test_a_long_sum_over_the_budget_is_drawn_as_one_node():
    xs = [Value(float(i), label=f"x{i}") for i in range(300)]
    total = sum(xs)  # 0 + x0 + x1 + ...: 601 values and 300 ops
    total.backward()
    drawing = Drawing(draw_dot(total, max_nodes=400))
    assert len(drawing.values()) == 300 + 1 + 1  # the inputs, the 0 of sum(), the sum
    assert [drawing.text(n) for n in drawing.nodes if n.endswith("op")] == [["+ of 301"]]
    assert len(drawing.edges) == 301 + 1
    assert not any("⋯" in t for n in drawing.nodes for t in drawing.text(n))
    assert "drawn as one node" in drawing.svg


@needs_dot
def test_moons_demo_loss_graph_draws_within_the_budget():
    total = moons_loss()
    assert len(total.nodes()) == 65818
    picture = draw_dot(total)
    drawing = Drawing(picture)
    assert len(drawing.nodes) - 1 <= 400 + 2
    assert "65,818 values" in picture.source and "100 model calls drawn as boxes" in picture.source
    texts = [t for n in drawing.nodes for t in drawing.text(n)]
    # the two sums drawn as one node each (0 + 100 hinge terms; 0 + 337 squares), 3 terms shown
    assert "+ of 101" in texts and "+ of 338" in texts
    assert "⋯ 98 more" in texts and "⋯ 335 more" in texts
    assert sum(t == "MLP 2-16-16-1" for t in texts) == 2  # (the first term shown is the 0 of sum())


def test_deep_chain_needs_no_recursion():
    x = Value(0.5)
    for _ in range(20_000):  # 20x Python's default recursion limit
        x = x * 1.0001
    picture = draw_dot(x, max_nodes=50)
    assert picture.source.count("shape=record") <= 50 and "40,001 values" in picture.source


@given(expressions())
def test_one_node_per_value_and_one_per_op(program):
    leaves = [Value(v, label=f"x{i}") for i, v in enumerate(program.point)]
    out = program.values(leaves)[-1]
    out.backward()
    nodes = out.nodes()
    ops = [v for v in nodes if v._prev]
    source = draw_dot(out, max_nodes=None, legend=False).source
    names = [line.split(" [", 1)[0].strip() for line in source.splitlines()
             if " [label=" in line and "->" not in line]
    assert sorted(names) == sorted([f"n{i}" for i in range(len(nodes))] + [f"n{i}op" for i, v in
                                                                             enumerate(nodes) if v._prev])
    assert source.count(" -> ") == sum(len(v._prev) + 1 for v in ops)


@needs_dot
@given(expressions(max_steps=6))
def test_rendered_svg_has_one_node_per_value_and_op(program):
    leaves = [Value(v) for v in program.point]
    out = program.values(leaves)[-1]
    out.backward()
    nodes = out.nodes()
    drawing = Drawing(draw_dot(out, max_nodes=None, legend=False))
    assert len(drawing.values()) == len(nodes)
    assert len(drawing.nodes) == len(nodes) + sum(1 for v in nodes if v._prev)
    assert len(drawing.edges) == sum(len(v._prev) + 1 for v in nodes if v._prev)


# --- the same graph, the same DOT --------------------------------------------------------

DETERMINISM_SCRIPT = """
import random
from micrograd import Value
from micrograd.nn import MLP
from micrograd.viz import draw_dot
random.seed(0)
model = MLP(2, [3, 1])
a = Value(2.0, label="a")
out = model([a, a * a]) + model([a, 1.5])
out.backward()
print(draw_dot(out).source)
print(draw_dot(out, collapse="neuron").source)
"""


def test_dot_source_is_identical_across_runs():
    runs = [subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed},
                           check=True).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] and "cluster_" in runs[0]
    L1, L2 = karpathy_example(), karpathy_example()
    assert draw_dot(L1).source == draw_dot(L2).source


@pytest.mark.parametrize("kwargs", [{}, {"rankdir": "TB", "legend": False},
                                    {"collapse": "neuron", "title": 'a "quoted" \\ title\non two lines'}])
def test_dot_source_is_draw_dots_source_without_the_graphviz_package(kwargs, monkeypatch):
    random.seed(0)
    model = MLP(2, [3, 1])
    out = model([Value(2.0, label="a"), Value(-1.0, label="b")])
    out.backward()
    expected = draw_dot(out, **kwargs).source
    monkeypatch.setitem(sys.modules, "graphviz", None)  # (an import would now fail)
    assert viz.dot_source(out, **kwargs) == expected


# --- errors --------------------------------------------------------------------------------

def test_without_dot_building_works_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot program
    picture = draw_dot(karpathy_example())
    assert "digraph" in picture.source
    with pytest.raises(viz.GraphvizMissing) as err:
        picture.pipe(format="svg")
    assert "apt-get install graphviz" in str(err.value) and "brew install graphviz" in str(err.value)
    assert isinstance(err.value, graphviz.ExecutableNotFound)
    with pytest.raises(viz.GraphvizMissing):
        picture.render(tmp_path / "out")


def test_without_graphviz_package_draw_dot_names_the_extra(monkeypatch):
    draw_dot(Value(1.0))  # once with graphviz: a later call must still find it missing
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r'pip install "micrograd\[viz\]"'):
        draw_dot(Value(1.0))
    code = "import sys; sys.modules['graphviz'] = None; import micrograd, micrograd.viz, micrograd.nn; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="Value"):
        draw_dot(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="collapse"):
        draw_dot(Value(1.0), collapse="neurons")
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(Value(1.0), rankdir="up")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_dot(Value(1.0), max_nodes=0)


# --- python -m micrograd draw ------------------------------------------------------------

@needs_dot
def test_draw_command_writes_an_expression(tmp_path, capsys):
    path = tmp_path / "out.svg"
    assert main(["draw", "a*b + c", "--values", "a=2", "b=-3", "c=10", "-o", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    root = ET.fromstring(path.read_text())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"a", "b", "c", "data 4", "grad 1"} <= set(texts)
    dot_path = tmp_path / "out.dot"
    assert main(["draw", "tanh(x) * x.relu()", "--values", "x=0.5", "-o", str(dot_path)]) == 0
    ops_drawn = sorted(line.split("label=", 1)[1].split(" ", 1)[0]
                       for line in dot_path.read_text().splitlines() if "op [label=" in line)
    assert ops_drawn == ['"*"', '"ReLU"', '"tanh"']


@needs_dot
def test_draw_command_writes_the_demo_neuron(tmp_path):
    path = tmp_path / "neuron.png"
    assert main(["draw", "--neuron", "-o", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["draw", "__import__('os')", "-o", "x.svg"], "unknown function"),
    (["draw", "a", "-o", "x.svg"], "unknown name 'a'"),
    (["draw", "a", "--values", "a", "-o", "x.svg"], "name=number"),
    (["draw", "a", "--values", "a=2", "-o", "x.txt"], "must end in"),
    (["draw", "-o", "x.svg"], "give an expression"),
])
def test_draw_command_rejects_bad_input(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err  # (one line: test_main)
    assert list(tmp_path.iterdir()) == []


def test_an_mlp_called_on_a_numpy_row_is_titled_with_its_input_count():
    model = MLP(2, [8, 8, 1], rng=0)
    source = draw_dot(model(np.array([0.5, -1.0])), collapse="neuron").source
    assert 'label="MLP 2-8-8-1"' in source and "MLP 1-" not in source


def test_negative_zero_is_drawn_as_0_and_the_graph_is_named():
    source = draw_dot(Value(-0.0) * 1.0, legend=False).source
    assert "data -0" not in source and "data 0" in source
    assert source.startswith("digraph micrograd {")  # an SVG's <title>, where graphviz writes %3


def test_a_picture_pickles_and_its_class_is_named_plainly():
    picture = draw_dot(Value(2.0) * 3.0)
    copy = pickle.loads(pickle.dumps(picture))
    assert copy.source == picture.source and type(copy) is type(picture)
    assert type(picture).__qualname__ == "Picture" and "<locals>" not in repr(type(picture))


def test_a_neuron_called_on_its_own_draws_its_weights_and_bias_as_parameters():
    neuron = Neuron(2, rng=0)
    source = draw_dot(neuron([Value(1.0), Value(-2.0)]), legend=False).source
    borders = [line.split(' color="')[1][:7] for line in source.splitlines() if "shape=record" in line]
    assert borders.count(viz.ROLE_COLOUR["parameter"]) == 3  # w.0, w.1 and b, without params=


@needs_dot
def test_an_mlp_called_on_a_numpy_row_draws_its_inputs_once_each():
    """model(X[0]) lifts each element of the row once per first-layer neuron: the picture draws
    one input per element (green, named x[i], its data the row's), feeding every neuron, with the
    grad that input would get as a Value (the sum over its copies)."""
    X, _ = make_moons(n_samples=4, noise=0.1, random_state=0)
    model = MLP(2, [3, 3, 1], rng=0)
    out = model(X[0])
    out.backward()
    drawing = Drawing(draw_dot(out))
    as_values = [Value(float(x)) for x in X[0]]
    model(as_values).backward()  # the same model on Values: the grads the inputs should show
    for i, x in enumerate(as_values):
        node = drawing.named(f"x[{i}]")
        assert drawing.text(node)[1:] == [f"data {x.data:.4g}", f"grad {x.grad:.4g}"]
        assert drawing.shape(node).get("stroke") == viz.ROLE_COLOUR["input"]
        assert sum(1 for edge, _ in drawing.edges if edge.startswith(node + "->")) == 3  # 3 neurons
    constants = [n for n in drawing.values() if drawing.shape(n).get("stroke") == viz.ROLE_COLOUR["constant"]]
    assert constants == []
    # two calls (a batch): each row's inputs apart, named by call
    rows = [model(row) for row in X[:2]]
    source = draw_dot(rows[0] + rows[1], legend=False).source
    assert all(f"x{k}[{i}]" in source for k in (1, 2) for i in (0, 1))


@needs_dot
def test_control_characters_in_labels_are_drawn_as_their_pictures_and_dot_takes_the_text():
    x = Value(1.0, label="a\x00b")  # NUL made DOT that dot refused
    y = x * 2
    y.label = "tab\there\x7f"
    source = viz.dot_source(y)
    assert "\x00" not in source and "a␀b" in source and "tab␉here␡" in source
    svg = draw_dot(y).pipe(format="svg").decode()
    assert "a␀b" in svg


@needs_dot
def test_a_conv_net_draws_one_cluster_per_kernel_position_inside_one_per_channel():
    conv, head, out = small_conv_net()
    picture = draw_dot(out, max_nodes=None)
    drawing = Drawing(picture)
    positions = [f"conv ch{o} ({y},{x})" for o in range(2) for y in range(2) for x in range(2)]
    assert sum(c.startswith(repr(conv)) for c in drawing.clusters) == 1
    assert sum(c.split(" (")[0] == "conv ch0" for c in drawing.clusters) == 1 + 4  # the channel, its positions
    assert all(sum(c.startswith(p) for c in drawing.clusters) == 1 for p in positions)
    assert len(drawing.clusters) == 1 + 2 + 8 + 2  # and the head's layer and neuron
    assert len(drawing.values()) == len(out.nodes())
    params = [n for n in drawing.values() if drawing.shape(n).get("stroke") == viz.ROLE_COLOUR["parameter"]]
    assert len(params) == len(conv.parameters()) + len(head.parameters()) == 10 + 9
    # a channel's kernel weights and bias, shared by its positions, sit in the channel's cluster
    blocks = cluster_blocks(picture.source)
    for o in range(2):
        names = [f"weight.{4 * o + k}" for k in range(4)] + [f"bias.{o}"]
        channel = blocks[f"conv ch{o}"].split("subgraph cluster_")[0]  # before its positions
        assert all(f"{{ {name} |" in channel for name in names)
        for p in positions:
            assert not any(f"{{ {name} |" in blocks[p] for name in names)
    # each position's cluster holds its own neuron: 4 products and 4 sums (b + w*x + ...)
    for p in positions:
        assert blocks[p].count('label="*"') == 4 and blocks[p].count('label="+"') == 4


@needs_dot
def test_a_collapsed_conv_net_draws_one_box_per_position_or_per_channel():
    conv, _, out = small_conv_net()
    boxes = {}
    for level in ("neuron", "layer", "model"):
        drawing = Drawing(draw_dot(out, collapse=level))
        boxes[level] = [" ".join(drawing.text(n)) for n in drawing.nodes
                        if any("inside" in t for t in drawing.text(n))]
    conv_boxes = sorted(" ".join(b.split(" ")[:3]) for b in boxes["neuron"] if b.startswith("conv"))
    assert conv_boxes == [f"conv ch{o} ({y},{x})" for o in range(2) for y in range(2) for x in range(2)]
    assert len(boxes["neuron"]) == 8 + 1  # and the head's neuron
    conv_boxes = sorted(b for b in boxes["layer"] if b.startswith("conv"))
    assert conv_boxes == [f"conv ch{o} 28 nodes + 5 parameters inside" for o in range(2)]  # 4 x (4 * and 4 +), less 4 outputs
    assert len(boxes["layer"]) == 2 + 1
    assert sum(b.startswith(repr(conv)) for b in boxes["model"]) == 1 and len(boxes["model"]) == 2


@needs_dot
def test_pooling_draws_a_cluster_per_window():
    conv = Conv2d(1, 1, 2, rng=0)
    image = [[[Value(float((i * 5 + j * 3) % 7)) for j in range(5)] for i in range(5)]]
    pooled = MaxPool2d(2)(conv(image))
    out = pooled[0][0][0] + pooled[0][0][1] + pooled[0][1][0] + pooled[0][1][1]
    out.backward()
    drawing = Drawing(draw_dot(out, max_nodes=None))
    assert sum(c.startswith("max pool ch0 (") for c in drawing.clusters) == 4
    assert sum(c.startswith("conv ch0 (") for c in drawing.clusters) == 16


@needs_dot
def test_a_conv_net_called_on_an_array_draws_each_pixel_once():
    """conv(array) lifts each pixel once per kernel weight that reads it: the picture draws one
    input per pixel, named x[channel,row,column], with the grad it would get as a Value."""
    conv, head = Conv2d(2, 2, 2, padding=1, rng=0), Layer(32, 1, nonlin=False, rng=1)
    image = np.arange(18.0).reshape(2, 3, 3) / 8 - 1
    out = head(Flatten()(conv(image)))
    out.backward()
    drawing = Drawing(draw_dot(out, max_nodes=None))
    as_values = [[[Value(v) for v in row] for row in channel] for channel in image.tolist()]
    head(Flatten()(conv(as_values))).backward()  # the same net on Values: the grads to show
    for c, channel in enumerate(as_values):
        for i, row in enumerate(channel):
            for j, x in enumerate(row):
                node = drawing.named(f"x[{c},{i},{j}]")
                assert drawing.text(node)[1:] == [f"data {x.data:.4g}", f"grad {x.grad:.4g}"]
                assert drawing.shape(node).get("stroke") == viz.ROLE_COLOUR["input"]
    constants = [n for n in drawing.values() if drawing.shape(n).get("stroke") == viz.ROLE_COLOUR["constant"]]
    assert constants == []
