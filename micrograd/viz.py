"""Pictures of computation graphs: ``draw_dot(root)`` returns a ``graphviz.Digraph``.

The picture shows each Value as a record (its label if it has one, its data, its grad) and each
op as a small ellipse feeding it, labelled from the op table (so a new primitive needs no edit
here). Edges into an op whose arguments do not commute carry the argument's position.

- Roles have styles of their own: inputs (green border), parameters (blue, rounded), constants
  the engine lifted from plain numbers (grey, dashed) and the output (thick border). The fill
  is the grad: orange for positive, blue for negative, stronger for larger |grad| on a log scale,
  with a legend; a node that is 0 and passes no gradient back (a dead ReLU) is marked "dead" with
  a dark dotted border (no red anywhere: a strong fill never reads as "dead").
- Values made inside ``nn`` module calls are grouped into clusters per call: MLP, layer, neuron;
  a ``Conv2d`` (or pooling) call per output channel and, inside it, per kernel position.
  ``collapse="neuron"`` (a neuron, a kernel position), ``"layer"`` (a layer, an output channel)
  or ``"model"`` draws each such call as one box (with its inputs and outputs); past ``max_nodes`` drawn nodes the picture collapses by itself, coarser
  and coarser, and as a last resort shows only the nodes nearest the output. It says so in its
  title.
- ``backward_frames(root)`` draws the backward pass step by step, one picture per rule applied
  (the node whose rule runs and its arguments highlighted, the rule with its numbers above, the
  grads known so far filled in); ``forward=True`` the forward pass. See ``micrograd.frames``.
- Traversal is iterative and the DOT source is deterministic: nodes are numbered in traversal
  order, so the same graph gives the same source byte for byte.

Requires the ``graphviz`` Python package (``pip install "micrograd[viz]"``), imported only when a
picture is drawn; rendering needs Graphviz's ``dot`` program as well. ``dot_source(root)``, the
DOT text alone, needs neither.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import provenance
from .backward import local_gradients
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .engine import Value, topological_order
from .frames import Slides, backward_steps, forward_steps, group_steps, node_names, short_number
from .nn import Layer, Neuron
from .ops import CONSTANT

__all__ = ["COLLAPSE_LEVELS", "GraphvizMissing", "Slides", "backward_frames", "dot_source", "draw_dot"]

GRAPH_NAME = "micrograd"  # the DOT graph's name: an SVG's <title> (graphviz's default reads %3)
INSTALL_PACKAGE = 'drawing graphs needs the graphviz Python package: pip install "micrograd[viz]"'
INSTALL_DOT = ("rendering needs Graphviz's `dot` program, which is not on PATH. Install Graphviz: "
               "apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS), or see "
               "https://graphviz.org/download/. The DOT text is available without it: picture.source")

#: collapse levels, finest first; past ``max_nodes`` the picture tries them in this order
COLLAPSE_LEVELS = ("neuron", "layer", "model")

# Border colours and styles by role; the fill is the gradient colour.
ROLE_COLOUR = {"input": "#2b8a3e", "parameter": "#1c5fb4", "constant": "#868e96",
               "output": "#000000", "dead": "#343a40", "value": "#495057"}
ROLE_STYLE = {role: f'color="{ROLE_COLOUR[role]}" {style}'.strip() for role, style in {
    "input": "penwidth=2",
    "parameter": 'penwidth=2 style="filled,rounded"',
    "constant": 'style="filled,dashed" fontcolor="#495057"',
    "output": "penwidth=3.5",
    "value": "",
    "dead": 'penwidth=2.5 style="filled,dotted"',
}.items()}
# |grad| on a log scale, light to strong, orange for grad > 0 and blue for grad < 0 (a diverging
# scale with white at 0); all readable under black text, none of them near the dead border's grey.
GRAD_COLOURS = ("#fff4e6", "#ffd8a8", "#ffc078", "#ffa94d", "#ff922b")
NEGATIVE_GRAD_COLOURS = ("#e7f5ff", "#a5d8ff", "#74c0fc", "#4dabf7", "#339af0")
ZERO_COLOUR = "#ffffff"
NONFINITE_COLOUR = "#e599f7"
BOX_COLOUR = "#e9ecef"


class GraphvizMissing(RuntimeError):
    """Graphviz's ``dot`` program is not installed (the error raised is graphviz's too)."""


# --- graphviz, imported lazily ---------------------------------------------------------------

def _graphviz() -> Any:
    """The graphviz module, or an ImportError that says which extra to install."""
    try:
        import graphviz  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(INSTALL_PACKAGE) from exc
    return graphviz


@functools.cache  # one class per graphviz module: pictures drawn one after another share it
def _picture(graphviz: Any) -> Any:
    """graphviz.Digraph, with rendering errors that say how to install the ``dot`` program."""

    class DotMissing(GraphvizMissing, graphviz.ExecutableNotFound):  # type: ignore[misc, name-defined]
        """Graphviz's ``dot`` program is not installed (or not on PATH)."""

        def __init__(self) -> None:
            RuntimeError.__init__(self, INSTALL_DOT)

    class Picture(graphviz.Digraph):  # type: ignore[misc, name-defined]
        """A graphviz.Digraph of a computation graph (displays inline in Jupyter)."""

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise DotMissing() from exc

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as exc:
                raise DotMissing() from exc

        def __reduce__(self) -> Any:  # (a class made here cannot be found by name when unpickling)
            return (_unpickle_picture, (self.name, self.format, dict(self.graph_attr), dict(self.node_attr),
                                        dict(self.edge_attr), list(self.body)))

    for cls in (DotMissing, Picture):  # tracebacks name them as micrograd.viz.Picture, not _picture.<locals>
        cls.__qualname__ = cls.__name__
    return Picture


def _unpickle_picture(name: str, format: str, graph_attr: dict[str, str], node_attr: dict[str, str],
                      edge_attr: dict[str, str], body: list[str]) -> Any:
    """A pickled picture, drawn again from its parts."""
    picture = _picture(_graphviz())(name=name, format=format, graph_attr=graph_attr, node_attr=node_attr,
                                    edge_attr=edge_attr)
    picture.body.extend(body)
    return picture


# --- module calls, from the provenance records -----------------------------------------------

@dataclass(eq=False)
class _Call:
    """One module call found in the graph, and the nodes it made."""

    module: Any
    kind: str                      # "neuron", "layer" or "model"
    inputs: tuple[Any, ...]
    outputs: tuple[Value, ...]     # those in the drawn graph
    rank: tuple[int, float]        # sorts an enclosing call before the calls inside it
    index: int = 0                 # position among the neurons of its layer
    region: list[Value] = field(default_factory=list)  # the non-leaf nodes it made
    parent: _Call | None = None
    depth: int = 0
    number: int = 0                # numbered in traversal order, for names that never vary
    title: str = ""                # an image call's channel or position: "conv ch0 (1,2)"
    # a convolution's position reading plain numbers: kernel weight -> (input index, (c, row, column))
    slots: dict[Value, tuple[int, tuple[int, int, int]]] = field(default_factory=dict)


def _kind(module: Any) -> str:
    if isinstance(module, Neuron):
        return "neuron"
    return "layer" if isinstance(module, Layer) else "model"


def _image_name(module: Any) -> str:
    """How an image call's clusters are titled: "conv", "max pool", ... (else the class name)."""
    names = {Conv2d: "conv", MaxPool2d: "max pool", AvgPool2d: "avg pool"}
    return names.get(type(module), type(module).__name__)


def _image_calls(rec: provenance.Record, index: dict[Value, int]) -> list[_Call]:
    """An image call split per output channel ("layer") and per position in it ("neuron")."""
    channels, height, width = rec.shape
    name = _image_name(rec.module)
    numbers = isinstance(rec.module, Conv2d) and not all(isinstance(x, Value) for x in rec.inputs)
    calls: list[_Call] = []
    for o in range(channels):
        start = o * height * width
        outs = rec.outputs[start:start + height * width]
        drawn = tuple(v for v in outs if v in index)
        if not drawn:
            continue
        calls.append(_Call(rec.module, "layer", rec.inputs, drawn, (1, -rec.seq), o, title=f"{name} ch{o}"))
        for k, v in enumerate(outs):
            if v in index:
                call = _Call(rec.module, "neuron", rec.inputs, (v,), (2, -rec.seq), k,
                             title=f"{name} ch{o} ({k // width},{k % width})")
                if numbers:
                    call.slots = _window_slots(rec.module, rec.input_shape, o, k // width, k % width)
                calls.append(call)
    return calls


def _window_slots(conv: Conv2d, shape: tuple[int, ...], o: int, y: int, x: int) -> dict[
        Value, tuple[int, tuple[int, int, int]]]:
    """Which input each kernel weight of output channel ``o`` reads at position (y, x)."""
    channels, height, width = shape
    (kh, kw), (sh, sw), (ph, pw) = conv.kernel_size, conv.stride, conv.padding
    top, left = y * sh - ph, x * sw - pw
    fan_in = channels * kh * kw
    slots = {}
    for k, w in enumerate(conv.weight[o * fan_in:(o + 1) * fan_in]):
        c, rest = divmod(k, kh * kw)
        row, col = top + rest // kw, left + rest % kw
        if 0 <= row < height and 0 <= col < width:
            slots[w] = ((c * height + row) * width + col, (c, row, col))
    return slots


def _find_calls(order: list[Value], index: dict[Value, int]) -> list[_Call]:
    """The recorded module calls whose outputs are in the graph, neurons split out of layers (and
    an image call's output channels and positions out of it)."""
    calls: list[_Call] = []
    for v in order:
        for rec in provenance.records(v):
            outs = tuple(o for o in rec.outputs if o in index)
            call = _Call(rec.module, _kind(rec.module), rec.inputs, outs, (0, -rec.seq))
            calls.append(call)
            if rec.shape:
                call.title = repr(rec.module)
                calls.extend(_image_calls(rec, index))
                continue
            neurons = getattr(rec.module, "neurons", None)
            if isinstance(rec.module, Layer) and neurons and len(neurons) == len(rec.outputs):
                for i, o in enumerate(rec.outputs):
                    if o in index:
                        calls.append(_Call(neurons[i], "neuron", rec.inputs, (o,), (1, -rec.seq), i))
    stops: dict[int, set[int]] = {}  # the inputs of a call, shared by the calls split out of it
    for call in calls:  # what each call made: back from its outputs to its inputs
        stop = stops.get(id(call.inputs))
        if stop is None:
            stop = stops[id(call.inputs)] = {id(x) for x in call.inputs if isinstance(x, Value)}
        seen: set[Value] = set()
        stack = [o for o in call.outputs if id(o) not in stop]
        while stack:
            v = stack.pop()
            if v in seen or v._a is None:
                continue
            seen.add(v)
            call.region.append(v)
            stack.extend(c for c in v._prev if id(c) not in stop and c not in seen)
        call.region.sort(key=index.__getitem__)
    calls = [c for c in calls if c.region]
    # Regions nest (a neuron's inside its layer's, inside its MLP's): bigger first, so each call
    # finds its parent as the current owner of its output.
    owner: dict[Value, _Call] = {}
    for call in sorted(calls, key=lambda c: (-len(c.region), c.rank)):
        call.parent = owner.get(call.outputs[0])
        call.depth = 0 if call.parent is None else call.parent.depth + 1
        for v in call.region:
            owner[v] = call
    first = {id(c): index[c.region[0]] for c in calls}
    calls.sort(key=lambda c: (first[id(c)], c.depth))
    for number, call in enumerate(calls):
        call.number = number
    return calls


def _leaf_names(calls: list[_Call]) -> dict[Value, str]:
    """Names for the parameters of the neurons (w.0, w.1, ..., b), unless they have labels, and
    for the inputs lifted from plain numbers (x[0], x[1], ...)."""
    names: dict[Value, str] = _input_names(_input_copies(calls))
    for call in calls:
        if call.kind != "neuron":
            continue
        module = call.module
        named = getattr(module, "named_parameters", None)
        if callable(named):
            for name, p in named():
                names.setdefault(p, str(name))
            continue
        for i, w in enumerate(getattr(module, "w", ())):
            names.setdefault(w, f"w{i}")
        b = getattr(module, "b", None)
        if isinstance(b, Value):
            names.setdefault(b, "b")
    return names


Slot = tuple[int, int | tuple[int, int, int]]  # an input: (id of its call's inputs, its index)


def _input_copies(calls: list[_Call]) -> dict[Value, Slot]:
    """The constants a neuron lifted from plain-number inputs (a row of a data set): copy -> input.

    ``w[i] * x[i]`` with ``x[i]`` a plain number lifts it to a new constant at every use, one per
    neuron of the first layer. Each such copy (the constant multiplied by the neuron's ``w[i]``,
    equal to ``x[i]``) is mapped to (the call's inputs, i): the calls of one layer share them.
    A convolution's position does the same for a plain-number image (its ``slots``).
    """
    copies: dict[Value, Slot] = {}
    for call in calls:
        slots = call.slots or _neuron_slots(call)
        if not slots:
            continue
        for v in call.region:
            if len(v._prev) != 2:
                continue
            w, c = v._prev
            slot = slots.get(w)
            if slot is not None and c.op is CONSTANT and _same_number(c.data, call.inputs[slot[0]]):
                copies[c] = (id(call.inputs), slot[1])
    return copies


def _neuron_slots(call: _Call) -> dict[Value, tuple[int, int]]:
    """Which plain-number input each weight of a neuron call reads: w[i] -> (i, i)."""
    weights = getattr(call.module, "w", None) if call.kind == "neuron" else None
    if not isinstance(weights, list) or len(weights) != len(call.inputs):
        return {}
    return {w: (i, i) for i, w in enumerate(weights) if not isinstance(call.inputs[i], Value)}


def _same_number(data: float, x: Any) -> bool:
    """``data`` is the constant lifted from ``x`` (nan included)."""
    try:
        y = float(x)
    except (TypeError, ValueError):
        return False
    return data == y or (math.isnan(data) and math.isnan(y))


def _input_names(copies: dict[Value, Slot]) -> dict[Value, str]:
    """x[0], x[1], ... for the inputs of one call (x[0,1,2] for an image's channel, row and column);
    x1[0], x2[0], ... when several calls read some."""
    calls: dict[int, int] = {}
    for key, _ in copies.values():
        calls.setdefault(key, len(calls) + 1)
    names = {}
    for c, (key, i) in copies.items():
        index = i if isinstance(i, int) else ",".join(map(str, i))
        names[c] = f"x[{index}]" if len(calls) == 1 else f"x{calls[key]}[{index}]"
    return names


def _common(a: _Call | None, b: _Call | None) -> _Call | None:
    """The innermost call enclosing both (None: the top level)."""
    while a is not None and b is not None and a is not b:
        if a.depth >= b.depth:
            a = a.parent
        else:
            b = b.parent
    return a if a is b else None


# --- the scene: what is drawn, before any DOT is written -------------------------------------

@dataclass(eq=False)
class _Unit:
    """One thing drawn: a Value (with its op node), a collapsed call, or a hidden part."""

    kind: str                              # "value", "box" or "more"
    value: Value | None = None
    call: _Call | None = None
    children: list[tuple[_Unit, int | None]] = field(default_factory=list)  # (unit, position)
    via_op: bool = False                   # a value drawn with its op node
    cluster: _Call | None = None           # the cluster it sits in
    hidden: int = 0                        # a box: the nodes inside it; '⋯ N more': N
    folds: int = 0                         # links of a chain folded into this node
    nargs: int = 0                         # a folded chain: its number of arguments
    params: int = 0                        # a box: the parameters inside it
    name: str = ""
    copies: tuple[Value, ...] = ()         # an input lifted at every use: all its constants

    @property
    def size(self) -> int:
        return 2 if self.via_op else 1


def _roles(order: list[Value], root: Value, params: set[Value], inputs: Iterable[Value] = ()) -> dict[Value, str]:
    """Each node's role; ``inputs``: constants that are copies of a module call's input."""
    lifted = set(inputs)
    roles: dict[Value, str] = {}
    for v in order:
        if v._a is None:
            if v in params:
                roles[v] = "parameter"
            elif v.op is CONSTANT and v not in lifted:
                roles[v] = "constant"
            else:
                roles[v] = "input"
        elif _dead(v):
            roles[v] = "dead"
        else:
            roles[v] = "value"
    roles[root] = "output"
    return roles


def _dead(v: Value) -> bool:
    """0 and passes no gradient back whatever comes in: a dead ReLU (or a saturated sigmoid)."""
    op = v.op
    if v.data != 0.0 or op.arity != 1 or v._a is None:
        return False
    try:
        return bool(local_gradients(v, 1.0) == 0.0)  # (the rule as backward() runs it, IEEE included)
    except TypeError:  # no rule (a hand-built node): not judged
        return False


def _scene(root: Value, order: list[Value], index: dict[Value, int], calls: list[_Call],
           roles: dict[Value, str], collapse: str | None,
           copies: dict[Value, Slot] | None = None) -> list[_Unit]:
    """The units drawn when calls of level ``collapse`` (or none) are drawn as boxes.

    ``copies``: constants lifted from one input (see :func:`_input_copies`), drawn as one node.
    """
    copies = copies or {}
    first_copy: dict[Slot, _Unit] = {}  # an input -> the unit drawn for all its copies
    owner: dict[Value, _Call] = {}
    for call in sorted(calls, key=lambda c: c.depth):
        for v in call.region:
            owner[v] = call
    # leaves sit with the calls that use them: a neuron's weights inside it if only it uses them
    leaf_owner: dict[Value, _Call | None] = {}
    for v in order:
        if v._a is None:
            continue
        o = owner.get(v)
        for c in v._prev:
            if c._a is None:
                leaf_owner[c] = _common(leaf_owner[c], o) if c in leaf_owner else o
    for leaf, o in leaf_owner.items():
        if roles[leaf] == "input":  # an input read by one call sits at the edge of its outermost box
            while o is not None and o.parent is not None:
                o = o.parent
        if o is not None:
            owner[leaf] = o

    def boxed(call: _Call) -> bool:
        if collapse == "model":
            return call.parent is None
        return call.kind == collapse

    box_of: dict[int, _Call | None] = {}  # call -> the outermost enclosing call drawn as a box
    for call in sorted(calls, key=lambda c: c.depth):
        outer = box_of[id(call.parent)] if call.parent is not None else None
        box_of[id(call)] = outer if outer is not None else (call if boxed(call) else None)

    def cluster(call: _Call | None) -> _Call | None:
        box = box_of[id(call)] if call is not None else None
        return call if box is None else box.parent

    drawn: list[_Unit] = []  # in traversal order
    unit_of: list[_Unit] = []  # per node of ``order``: the unit that shows it
    boxes: dict[int, _Unit] = {}
    linked: set[tuple[int, int]] = set()  # (box, unit) pairs already joined by an edge

    def box_unit(box: _Call) -> _Unit:  # the one box drawn for a call, made when first met
        unit = boxes.get(id(box))
        if unit is None:
            unit = boxes[id(box)] = _Unit("box", call=box, cluster=box.parent)
            drawn.append(unit)
        return unit

    for v in order:
        maker = owner.get(v)
        box = box_of[id(maker)] if maker is not None else None
        if box is not None and v is not root and roles[v] != "input" and v not in box.outputs:  # hidden
            unit = box_unit(box)
            unit_of.append(unit)
            unit.hidden += 1
            if v._a is not None:
                for c in v._prev:
                    cu = unit_of[index[c]]
                    if cu is not unit and roles[c] != "parameter" and (id(unit), id(cu)) not in linked:
                        linked.add((id(unit), id(cu)))
                        unit.children.append((cu, None))
            elif roles[v] == "parameter":
                unit.params += 1
            continue
        slot = copies.get(v)
        if slot is not None and slot in first_copy:  # another use of an input already drawn
            unit = first_copy[slot]
            unit.copies += (v,)
            unit_of.append(unit)
            continue
        unit = _Unit("value", value=v, cluster=cluster(maker))
        if slot is not None:
            first_copy[slot] = unit
            unit.copies = (v,)
        if box is not None and v._a is not None:  # an output of a box: drawn, fed by the box
            unit.children.append((box_unit(box), None))
        elif v._a is not None:
            unit.via_op = True
            prev = v._prev
            label = len(prev) > 1 and not v.op.commutative
            unit.children.extend((unit_of[index[c]], i if label else None) for i, c in enumerate(prev))
        unit_of.append(unit)
        drawn.append(unit)
    # Keep only what the output depends on (a parameter feeding only boxes is not drawn).
    top = unit_of[index[root]]
    needed = {id(top)}
    stack = [top]
    while stack:
        for child, _ in stack.pop().children:
            if id(child) not in needed:
                needed.add(id(child))
                stack.append(child)
    return [u for u in drawn if id(u) in needed and u is not top] + [top]


FAN_IN = 8      # past this many arguments, a cut picture shows only the first ones of a node
FAN_SHOWN = 3  # ... this many


def _fold_chains(units: list[_Unit], root: _Unit) -> list[_Unit]:
    """Draw a chain of one commutative op (a sum built with sum(), a product) as one node.

    A link is folded into the node it feeds when that node is its only reader and it has no
    label; its arguments become the node's. The op node then says how many arguments it has.
    """
    readers: dict[int, int] = {}
    for unit in units:
        for child, _ in unit.children:
            readers[id(child)] = readers.get(id(child), 0) + 1
    folded: set[int] = set()
    for unit in units:  # children before parents: a link is folded before its reader looks at it
        v = unit.value
        if not unit.via_op or v is None or not v.op.commutative:
            continue
        links = [child for child, _ in unit.children
                 if child.via_op and child.value is not None and child.value.op is v.op
                 and readers[id(child)] == 1 and not child.value.label and child is not root]
        if not links:
            continue
        # The longest folded list is extended in place, not copied: a chain folds in linear time.
        base = max(links, key=lambda link: len(link.children))
        merged = base.children
        for child, pos in unit.children:
            if child is base:
                continue
            if any(child is link for link in links):
                merged.extend(child.children)
            else:
                merged.append((child, pos))
        for link in links:
            unit.folds += link.folds + 1
            folded.add(id(link))
        unit.children = merged
        unit.nargs = len(merged)
    return [u for u in units if id(u) not in folded]


def _truncate(units: list[_Unit], max_nodes: int) -> tuple[list[_Unit], int]:
    """Keep the units nearest the output (breadth first) within the budget.

    What is cut shows as one '⋯' node per cut unit; a node with more than FAN_IN arguments
    keeps its first FAN_SHOWN and one '⋯ N more' node for the rest. Returns the units drawn
    and how many units were cut.
    """
    root = units[-1]
    keep: dict[int, _Unit] = {id(root): root}
    stubs: dict[int, _Unit] = {}  # cut unit -> its '⋯' node
    shown: dict[int, list[tuple[_Unit, int | None]]] = {}  # kept unit -> its drawn arguments
    queue = [root]
    budget = 0
    head = 0
    while head < len(queue):
        unit = queue[head]
        head += 1
        budget += unit.size
        args = unit.children
        rest: list[tuple[_Unit, int | None]] = []
        if len(args) > FAN_IN:
            args, rest = args[:FAN_SHOWN], args[FAN_SHOWN:]
        drawn = []
        for child, pos in args:
            if id(child) in keep:
                drawn.append((child, pos))
            elif budget + len(queue) - head + child.size <= max_nodes:
                keep[id(child)] = child
                queue.append(child)
                drawn.append((child, pos))
            else:
                stub = stubs.get(id(child))
                if stub is None:
                    stub = stubs[id(child)] = _Unit("more", value=child.value, call=child.call)
                    budget += 1
                drawn.append((stub, pos))
        if rest:
            more = _Unit("more", hidden=len(rest))
            stubs[id(more)] = more
            budget += 1
            drawn.append((more, None))
        shown[id(unit)] = drawn
    for unit in queue:
        unit.children = shown[id(unit)]
    kept = [u for u in units if id(u) in keep]
    return list(stubs.values()) + kept, len(units) - len(kept)


def _drawn_size(units: list[_Unit]) -> int:
    return sum(u.size for u in units)


# --- DOT text ---------------------------------------------------------------------------------

#: Control characters (which dot refuses, NUL above all) are drawn as their Unicode pictures: "␀".
_CONTROL_PICTURES = {**{code: 0x2400 + code for code in range(32) if code != 10}, 0x7F: 0x2421}


def _quote(text: str) -> str:
    text = text.translate(_CONTROL_PICTURES)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _record_text(text: str) -> str:
    """Text for a field of a record label, escaped for the record syntax and the DOT string."""
    text = text.replace("\n", " ").translate(_CONTROL_PICTURES)
    return "".join("\\" + ch if ch in '{}|<>\\"' else ch for ch in text)


def _grad_scale(values: Iterable[Any]) -> list[float]:
    """Bin edges (upper bounds) of |grad| on a log scale over the drawn values' grads."""
    # (a grad may be an int, karpathy-style, or a Value after backward(create_graph=True))
    grads = [float(g) for g in values]
    mags = [abs(g) for g in grads if math.isfinite(g) and g]
    if not mags:
        return []
    lo, hi = min(mags), max(mags)
    n = len(GRAD_COLOURS)
    if hi <= lo * 1.0001:
        return [hi]
    step = (math.log10(hi) - math.log10(lo)) / n
    return [10 ** (math.log10(lo) + step * (k + 1)) for k in range(n - 1)] + [hi]


def _fill(grad: Any, edges: list[float]) -> str:
    g = float(grad)
    if not math.isfinite(g):
        return NONFINITE_COLOUR
    if g == 0.0 or not edges:
        return ZERO_COLOUR
    mag = abs(g)
    colours = GRAD_COLOURS if g > 0 else NEGATIVE_GRAD_COLOURS
    for k, edge in enumerate(edges):
        if mag <= edge * (1 + 1e-12):
            return colours[k if len(edges) > 1 else len(colours) - 1]
    return colours[-1]


def _call_title(call: _Call) -> str:
    module = call.module
    if call.title:
        return call.title
    if call.kind == "neuron":
        return f"neuron {call.index} · {module!r}"
    if call.kind == "layer":
        n = len(getattr(module, "neurons", ()))
        where = ""
        layers = getattr(call.parent.module, "layers", None) if call.parent is not None else None
        if layers is not None:
            where = next((f" {i + 1} of {len(layers)}" for i, m in enumerate(layers) if m is module), "")
        return f"layer{where} · {n} neuron{'s' if n != 1 else ''}"
    layers = getattr(module, "layers", None)
    if layers is not None:
        sizes = [len(call.inputs)] + [len(getattr(layer, "neurons", ())) for layer in layers]
        return f"{type(module).__name__} {'-'.join(map(str, sizes))}"
    return type(module).__name__


def _legend(edges: list[float], any_nonfinite: bool, positions: bool) -> str:
    """One small table: the roles' borders, then the grad colours (grad < 0, then grad > 0)."""
    roles = "".join(f'<td color="{ROLE_COLOUR[r]}">{r}</td>'
                    for r in ("input", "parameter", "constant", "output", "dead"))
    if edges:
        lows = [0.0] + edges[:-1]
        cells = {sign: "".join(f'<td bgcolor="{_fill(sign * hi, edges)}">{(sign * lo) or 0.0:.2g} to {sign * hi:.2g}</td>'
                               for lo, hi in zip(lows, edges)) for sign in (-1, 1)}
        end = f'<td rowspan="2" bgcolor="{NONFINITE_COLOUR}">inf/nan</td>' if any_nonfinite else ""
        grads = (f'<td>grad &lt; 0</td>{cells[-1]}<td rowspan="2" bgcolor="{ZERO_COLOUR}">0</td>{end}</tr>'
                 f'<tr><td>grad &gt; 0</td>{cells[1]}')
    else:
        grads = '<td colspan="5">all grads 0: call backward() to colour them</td>'
    note = '<tr><td colspan="9" border="0">numbers on edges: argument positions</td></tr>' if positions else ""
    inner = '<table border="0" cellborder="1" cellspacing="1" cellpadding="2">'
    return (f'\tlegend [label=<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
            f'<tr><td>{inner}<tr>{roles}</tr></table></td></tr>'
            f'<tr><td>{inner}<tr>{grads}</tr>{note}</table></td></tr></table>> shape=plaintext fontsize=8]\n')


@dataclass(frozen=True)
class _FrameView:
    """What a frame of a pass shows instead of the graph's own numbers."""

    known: dict[Value, float]      # the numbers known so far (the others are drawn blank)
    field: str                     # "grad" (backward) or "data" (forward)
    focus: frozenset[Value]        # the node whose rule runs
    children: frozenset[Value]     # its arguments
    scale: list[float]             # the |grad| colour scale of the whole pass (its last frame)
    boxes: frozenset[int] = frozenset()  # collapsed calls whose rules run (ids of their _Call)


FOCUS_STYLE = 'color="#d6336c" penwidth=4'     # the node whose rule runs
CHILD_STYLE = 'color="#f08c00" penwidth=3'     # its arguments, which receive
BLANK = "?"


def _fields(v: Value, view: _FrameView | None, edges: list[float],
            copies: tuple[Value, ...] = ()) -> tuple[str, str, str, str]:
    """data text, grad text, fill colour and extra style of a value's record.

    ``copies``: the constants drawn as this one input; its grad is the sum of theirs.
    """
    copies = copies or (v,)
    if view is None:
        grad = sum(float(c.grad) for c in copies)
        return short_number(v.data), short_number(grad), _fill(grad, edges), ""
    style = FOCUS_STYLE if any(c in view.focus for c in copies) else (
        CHILD_STYLE if any(c in view.children for c in copies) else "")
    knowns = [view.known[c] for c in copies if c in view.known]
    known = None if not knowns else knowns[0] if view.field == "data" else sum(knowns)
    if view.field == "data":
        return (short_number(known) if known is not None else BLANK), "", ZERO_COLOUR, style  # no grads yet
    if known is None:
        return short_number(v.data), BLANK, ZERO_COLOUR, style
    return short_number(v.data), short_number(known), _fill(known, edges), style


def _dot_lines(units: list[_Unit], clusters: list[_Call], roles: dict[Value, str],
               names: dict[Value, str], rankdir: str, legend: bool,
               view: _FrameView | None = None) -> list[str]:
    """The body of the DOT source: clusters, nodes, edges, legend (``view``: a frame's numbers)."""
    for i, unit in enumerate(units):
        unit.name = f"n{i}"
    drawn_values = [u.value for u in units if u.kind == "value" and u.value is not None]
    edges = _grad_scale(sum(float(c.grad) for c in u.copies) if u.copies else u.value.grad
                        for u in units if u.kind == "value" and u.value is not None) if view is None else view.scale
    brace = ("{ ", " }") if rankdir in ("LR", "RL") else ("", "")
    node_lines: dict[int | None, list[str]] = {}
    edge_lines: list[str] = []
    for unit in units:
        lines = node_lines.setdefault(id(unit.cluster) if unit.cluster is not None else None, [])
        if unit.kind == "value":
            v = unit.value
            assert v is not None
            role = roles[v]
            name = v.label or names.get(v, "")
            fields = [_record_text(name)] if name else []
            data, grad, fill, extra = _fields(v, view, edges, unit.copies)
            fields += [f"data {_record_text(data)}", f"grad {_record_text(grad)}"]
            if role == "dead":
                fields.append("dead")
            label = brace[0] + " | ".join(fields) + brace[1]
            lines.append(f'\t{unit.name} [label="{label}" shape=record style=filled '
                         f'fillcolor="{fill}" {ROLE_STYLE[role]} {extra}]\n')
            if unit.via_op:
                op = v.op
                symbol = str(op) or op.name
                if unit.folds:
                    symbol = f"{symbol} of {unit.nargs}"
                lit = f' style=filled fillcolor="#fcc2d7" {FOCUS_STYLE}' if view and v in view.focus else ""
                lines.append(f"\t{unit.name}op [label={_quote(symbol)} shape=ellipse fontsize=9 "
                             f"height=0.3 margin=0.02{lit}]\n")
                edge_lines.append(f"\t{unit.name}op -> {unit.name}\n")
            target = unit.name + "op" if unit.via_op else unit.name
        elif unit.kind == "box":
            call = unit.call
            assert call is not None
            text = (f"{_call_title(call)}\n{unit.hidden - unit.params:,} nodes"
                    + (f" + {unit.params} parameters" if unit.params else "") + " inside")
            lit_box = f" {FOCUS_STYLE}" if view is not None and id(call) in view.boxes else ""
            lines.append(f'\t{unit.name} [label={_quote(text)} shape=box3d style=filled '
                         f'fillcolor="{BOX_COLOUR}" fontsize=9{lit_box}]\n')
            target = unit.name
        else:
            if unit.call is not None:
                what = _call_title(unit.call)
            elif unit.value is not None:
                what = unit.value._op or roles[unit.value]
            else:
                what = f"{unit.hidden:,} more"
            lines.append(f'\t{unit.name} [label={_quote("⋯ " + what)} shape=note fontsize=8 '
                         f'color="#adb5bd" fontcolor="#868e96"]\n')
            target = unit.name
        lit = view is not None and (unit.value in view.focus if unit.kind == "value" else
                                    unit.call is not None and id(unit.call) in view.boxes)
        for child, pos in unit.children:
            attrs = ([f"label={pos} fontsize=8"] if pos is not None else []) + (
                ['color="#d6336c" penwidth=2.5'] if lit else [])
            attr = f" [{' '.join(attrs)}]" if attrs else ""
            edge_lines.append(f"\t{child.name} -> {target}{attr}\n")
    body: list[str] = []
    # clusters nest: write them depth first, with an explicit stack
    kids: dict[int | None, list[_Call]] = {}
    in_clusters = {id(c) for c in clusters}
    for call in clusters:
        parent = call.parent
        while parent is not None and id(parent) not in in_clusters:
            parent = parent.parent
        kids.setdefault(id(parent) if parent is not None else None, []).append(call)
    body.extend(node_lines.get(None, []))
    stack: list[Any] = list(reversed(kids.get(None, [])))
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            body.append(item)
            continue
        call = item
        style = {"model": 'style="rounded" color="#495057"', "layer": 'style="rounded,filled" '
                 'fillcolor="#f8f9fa" color="#adb5bd"', "neuron": 'style="dashed" color="#adb5bd"'}
        body.append(f"\tsubgraph cluster_{call.number} {{\n\t\tlabel={_quote(_call_title(call))} "
                    f"{style[call.kind]} fontsize=9\n")
        body.extend(node_lines.get(id(call), []))
        stack.append("\t}\n")
        stack.extend(sorted(kids.get(id(call), []), key=lambda c: -c.index))  # neuron 0 first
    body.extend(edge_lines)
    if legend:
        positions = any(pos is not None for u in units for _, pos in u.children)
        grads = [v.grad for v in drawn_values] if view is None else list(view.known.values())
        body.append(_legend(edges, any(not math.isfinite(float(g)) for g in grads), positions))
    return body


# --- the entry point --------------------------------------------------------------------------

def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR", *,
             params: Iterable[Value] | None = None, collapse: str | None = None,
             max_nodes: int | None = 400, legend: bool = True, title: str | None = None) -> Any:
    """A picture of the graph that computes ``root``: a ``graphviz.Digraph``.

    Display it in Jupyter, or ``.render()`` / ``.pipe()`` it to svg, png or pdf (``format``).

    ``rankdir``: "LR" (left to right, as micrograd) or "TB". ``params``: Values to show as
    parameters besides those of recorded module calls. ``collapse``: None, "neuron", "layer" or
    "model": draw each such module call as one box. ``max_nodes``: the budget of drawn nodes;
    past it the picture collapses by itself (None: no limit). ``legend``: draw the legend.
    ``title``: a line above the picture.
    """
    picture_class = _picture(_graphviz())  # (imported at every call: a missing package is named)
    graph_attr, lines = _graph_parts(root, rankdir, params, collapse, max_nodes, legend, title)
    dot = picture_class(name=GRAPH_NAME, format=format, graph_attr=graph_attr, node_attr=NODE_ATTR, edge_attr=EDGE_ATTR)
    dot.body.extend(lines)
    return dot


def dot_source(root: Value, rankdir: str = "LR", *, params: Iterable[Value] | None = None,
               collapse: str | None = None, max_nodes: int | None = 400, legend: bool = True,
               title: str | None = None) -> str:
    """``draw_dot(root, ...).source``, the DOT text, made without the graphviz package."""
    graph_attr, lines = _graph_parts(root, rankdir, params, collapse, max_nodes, legend, title)
    head = [f"\t{kind} [{' '.join(f'{k}={_dot_id(v)}' for k, v in sorted(attr.items()))}]\n"
            for kind, attr in (("graph", graph_attr), ("node", NODE_ATTR), ("edge", EDGE_ATTR))]
    return f"digraph {GRAPH_NAME} {{\n" + "".join(head + lines) + "}\n"


NODE_ATTR = {"fontname": "Helvetica", "fontsize": "10"}
EDGE_ATTR = {"arrowsize": "0.6", "color": "#495057", "fontname": "Helvetica"}


def _dot_id(text: str) -> str:
    """An attribute value as graphviz writes it: bare if a DOT identifier or number, else quoted."""
    keyword = text.lower() in ("node", "edge", "graph", "digraph", "subgraph", "strict")
    if not keyword and re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)", text):
        return text
    return '"' + text.replace('"', '\\"') + '"'  # (backslashes come doubled: see _graph_attr)


def _check_picture_args(what: str, root: Any, rankdir: str, collapse: str | None) -> None:
    """Name the argument a picture function cannot take, before any work."""
    if not isinstance(root, Value):
        raise TypeError(f"{what} draws a Value's graph, got {type(root).__name__}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if collapse is not None and collapse not in COLLAPSE_LEVELS:
        raise ValueError(f"collapse must be None or one of {COLLAPSE_LEVELS}, got {collapse!r}")


def _graph_parts(root: Value, rankdir: str, params: Iterable[Value] | None, collapse: str | None,
                 max_nodes: int | None, legend: bool, title: str | None) -> tuple[dict[str, str], list[str]]:
    """The graph attributes and the body lines of the DOT source of ``root``'s picture."""
    _check_picture_args("draw_dot", root, rankdir, collapse)
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes}")
    units, clusters, roles, notes, names = _layout(root, params=params, collapse=collapse, max_nodes=max_nodes)
    lines = _dot_lines(units, clusters, roles, names, rankdir, legend)
    heading = [title] if title else []
    return _graph_attr(rankdir, heading + notes), lines


def _graph_attr(rankdir: str, heading: list[str], justify: str = "n") -> dict[str, str]:
    """The graph's attributes: ``heading`` above it (lines centred, or left-justified: ``justify="l"``)."""
    graph_attr = {"rankdir": rankdir, "fontname": "Helvetica", "nodesep": "0.15", "ranksep": "0.3"}
    if heading:
        # (graphviz quotes the text but leaves backslashes to dot, which reads \N, \G, \l as escapes)
        heading = [line.replace("\\", "\\\\") for text in heading for line in text.splitlines()]
        end = "\\l" if justify == "l" else ""
        graph_attr.update(label=f"\\{justify}".join(heading) + end, labelloc="t", fontsize="11")
    return graph_attr


def _frame_picture(picture_class: Any, lines: list[str], rankdir: str, format: str, heading: list[str]) -> Any:
    """One frame's picture: ``lines`` under its left-justified ``heading``."""
    dot = picture_class(name=GRAPH_NAME, format=format, graph_attr=_graph_attr(rankdir, heading, "l"), node_attr=NODE_ATTR,
                        edge_attr=EDGE_ATTR)
    dot.body.extend(lines)
    return dot


def backward_frames(root: Value, forward: bool = False, *, params: Iterable[Value] | None = None,
                    collapse: str | None = None, rankdir: str = "LR", format: str = "svg",
                    legend: bool = True, max_frames: int | None = 200) -> Slides:
    """The backward pass from ``root`` as pictures, one per rule applied: a :class:`Slides` list.

    Each picture highlights the node whose rule runs (red) and its arguments (orange), shows the
    grads known so far (the rest '?') and writes the rule with its numbers above. The last one's
    grads equal ``.grad`` after ``root.backward()``; the graph's ``.grad`` is not changed.
    ``forward=True``: the forward pass instead, filling in data in topological order.
    ``collapse="neuron"`` (or "layer", "model"): each such module call is one box, as in
    :func:`draw_dot`, and one frame runs all its rules (backward only). ``max_frames``: past it,
    an error says how many frames it would be (each is a whole picture) instead of drawing them.
    Show it in Jupyter (a slider), ``.save_gif(path)``, ``.to_html()``, or ``.sources()``.
    """
    picture_class = _picture(_graphviz())
    _check_picture_args("backward_frames", root, rankdir, collapse)
    if collapse is not None and forward:
        raise ValueError("collapse steps whole module calls through the backward pass; forward=True "
                         "draws every node, without collapse")
    units, clusters, roles, _, param_names = _layout(root, params=params, collapse=collapse, max_nodes=None)
    order = topological_order(root)
    # parameters named per neuron (w0, w1, b) even inside boxes; #1, #2, ... for what is drawn first
    drawn = [u.value for u in units if u.kind == "value" and u.value is not None]
    in_picture = set(drawn)
    names = node_names(drawn + [v for v in order if v not in in_picture],
                       {v: v.label or param_names.get(v, "") for v in order})
    if forward:
        steps, what = forward_steps(root, names), "forward pass"
    else:
        steps, what = backward_steps(root, names=names), "backward pass"
    scale = _grad_scale(steps[-1].known.values()) if not forward else []
    if max_frames is not None and len(steps) > max_frames and collapse is None:
        raise ValueError(f"{len(steps):,} frames, one per node, is more than max_frames={max_frames}: "
                         "collapse=\"neuron\" steps a model's neurons whole, or pass max_frames=None")
    if collapse is not None:
        return _collapsed_frames(picture_class, steps, units, clusters, roles, names, rankdir, format,
                                 legend, scale, max_frames)
    slides = Slides()
    for k, step in enumerate(steps):
        # (the first forward frame only lists the inputs; the first backward one gives the root its grad)
        focus = frozenset() if forward and k == 0 else frozenset((step.node,))
        view = _FrameView(step.known, "data" if forward else "grad", focus, frozenset(step.children), scale)
        # unlabelled nodes get their #k names drawn, so the rule lines can be read off the picture
        lines = _dot_lines(units, clusters, roles, names, rankdir, legend and not forward, view)
        heading = [f"{what}, step {k + 1} of {len(steps)}", *step.rule]
        slides.append(_frame_picture(picture_class, lines, rankdir, format, heading))
    return slides


def _collapsed_frames(picture_class: Any, steps: list[Any], units: list[_Unit], clusters: list[_Call],
                      roles: dict[Value, str], names: dict[Value, str], rankdir: str, format: str,
                      legend: bool, scale: list[float], max_frames: int | None) -> Slides:
    """The backward frames when module calls are boxes: one frame per box runs all its rules."""
    box_of: dict[Value, _Unit] = {}
    drawn: set[Value] = set()
    for unit in units:
        if unit.kind == "box" and unit.call is not None:
            for v in unit.call.region:
                box_of[v] = unit
        elif unit.kind == "value" and unit.value is not None:
            drawn.add(unit.value)
    groups = group_steps(steps, lambda v: id(box_of[v]) if v in box_of else None)
    if max_frames is not None and len(groups) > max_frames:
        raise ValueError(f"{len(groups):,} frames is more than max_frames={max_frames}: a coarser collapse "
                         "(\"layer\", \"model\") has fewer, or pass max_frames=None")
    slides = Slides()
    for k, group in enumerate(groups):
        box = box_of.get(group.steps[0].node)
        if box is None or box.call is None:  # a node drawn as itself: its rule, as without collapse
            step = group.steps[0]
            view = _FrameView(group.known, "grad", frozenset((step.node,)), frozenset(step.children), scale)
            rule = list(step.rule)
        else:
            ran = {s.node for s in group.steps}
            view = _FrameView(group.known, "grad", frozenset(ran & drawn), frozenset(group.sent), scale,
                              frozenset((id(box.call),)))
            rule = [f"{_box_title(box.call)}: its {len(group.steps)} rules at once",
                    *_sent_lines(group.sent, drawn, names, _parameter_ids(box.call.module))]
        lines = _dot_lines(units, clusters, roles, names, rankdir, legend, view)
        heading = [f"backward pass, step {k + 1} of {len(groups)}", *rule]
        slides.append(_frame_picture(picture_class, lines, rankdir, format, heading))
    return slides


def _box_title(call: _Call) -> str:
    """``neuron 1 · ReLUNeuron(4) in layer 2 of 3``: a call, and the one it sits in."""
    parent = call.parent
    return _call_title(call) + (f" in {_call_title(parent).split(' · ')[0]}" if parent is not None else "")


def _parameter_ids(module: Any) -> frozenset[int]:
    """The ids of a called module's parameters (none for a call that is not a Module's)."""
    return frozenset(map(id, module.parameters())) if hasattr(module, "parameters") else frozenset()


def _sent_lines(sent: dict[Value, float], drawn: set[Value], names: dict[Value, str],
                own: frozenset[int] = frozenset(), width: int = 100) -> list[str]:
    """``a.grad += 0.5, b.grad += -1`` for what a box sent out, wrapped to ``width`` characters.

    The drawn receivers first; the rest by name, or counted if names repeat (a layer's neurons
    each have a w.0): the box's own parameters (ids in ``own``) apart from its inputs.
    """
    shown = [(v, a) for v, a in sent.items() if v in drawn]
    hidden = [(v, a) for v, a in sent.items() if v not in drawn]
    items = [f"{names[v]}.grad += {short_number(a)}" for v, a in shown]
    if len({names[v] for v, _ in hidden}) == len(hidden):
        items += [f"{names[v]}.grad += {short_number(a)}" for v, a in hidden]
    elif hidden:
        n_own = sum(id(v) in own for v, _ in hidden)
        parts = ([f"{n_own} parameters"] if n_own else []) + (
            [f"{len(hidden) - n_own} inputs"] if len(hidden) > n_own else [])
        items.append("and the grads of its " + " and of ".join(parts))
    lines: list[str] = []
    line = ""
    for item in items:
        if line and len(line) + len(item) + 2 > width:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {item}" if line else item
    return lines + ([line] if line else [])


def _layout(root: Value, params: Iterable[Value] | None = None, collapse: str | None = None,
           max_nodes: int | None = 400) -> tuple[list[_Unit], list[_Call], dict[Value, str], list[str],
                                                 dict[Value, str]]:
    """What the picture of ``root`` shows (no graphviz needed): units, clusters, roles, notes and
    the names of leaves (parameters, inputs) that have no label."""
    order = topological_order(root)
    index = {v: i for i, v in enumerate(order)}
    calls = _find_calls(order, index)
    param_set: set[Value] = set(params) if params is not None else set()
    modules: dict[int, Any] = {}
    for call in calls:
        modules.setdefault(id(call.module), call.module)
    for module in modules.values():
        param_set.update(module.parameters())
    copies = _input_copies(calls)
    roles = _roles(order, root, param_set, copies)
    n_ops = sum(1 for v in order if v._a is not None)
    notes: list[str] = []
    levels: Sequence[str | None] = [collapse]
    if collapse is None and max_nodes is not None and len(order) + n_ops > max_nodes:
        levels = COLLAPSE_LEVELS  # the whole graph is over the budget: try each level in turn
    units: list[_Unit] = []
    level: str | None = None
    for k, candidate in enumerate(levels):
        boxed = [c for c in calls if (c.parent is None if candidate == "model" else c.kind == candidate)]
        if candidate is not None and not boxed:
            continue
        last = k == len(levels) - 1
        if not last and max_nodes is not None and 2 * len(boxed) > max_nodes:
            continue  # each box and its output at least: cannot fit, skip building it
        level = candidate
        units = _scene(root, order, index, calls, roles, level, copies)
        if max_nodes is None or _drawn_size(units) <= max_nodes:
            break
    if not units:  # no module calls to collapse
        units = _scene(root, order, index, calls, roles, None, copies)
    if level is not None:
        boxes = sum(1 for u in units if u.kind == "box")
        how = "" if collapse else f", to stay within max_nodes={max_nodes}"
        notes.append(f"{len(order):,} values, {n_ops:,} ops; {boxes:,} {level} calls drawn as boxes"
                     f" (collapse={level!r}{how})")
    elif collapse is not None:  # asked for, but the graph holds no such call: say why it is not
        notes.append(f"collapse={collapse!r}: no {collapse} call recorded in this graph (only Layer, MLP, "
                     "Conv2d and pooling calls are recorded)")
    if max_nodes is not None and _drawn_size(units) > max_nodes:
        if not notes:
            notes.append(f"{len(order):,} values, {n_ops:,} ops")
        units = _fold_chains(units, units[-1])
        if any(u.folds for u in units):
            notes.append("chains of one op (sums, products) drawn as one node")
        if _drawn_size(units) > max_nodes:
            total = len(units)
            units, cut = _truncate(units, max_nodes)
            notes.append(f"showing the {total - cut:,} of {total:,} parts nearest the output; "
                         f"⋯ marks what is cut (max_nodes={max_nodes})")
    drawn_calls = {id(u.cluster): u.cluster for u in units if u.cluster is not None}
    # a cluster is drawn if something sits in it or in a cluster inside it
    for call in list(drawn_calls.values()):
        parent = call.parent if call is not None else None
        while parent is not None:
            drawn_calls.setdefault(id(parent), parent)
            parent = parent.parent
    clusters = [c for c in calls if id(c) in drawn_calls]
    return units, clusters, roles, notes, _leaf_names(calls)
