"""Backpropagation step by step: the backward (or forward) pass as a list of frames, one per rule.

A frame records one step of the pass as ``backward()`` runs it: the node whose rule runs, what it
sends to each child (``a.grad += out.grad * b.data = 1 * -3``) and every gradient known after it.
The numbers are computed on a side table, in ``backward()``'s own order and with its own rules, so
the last frame's gradients are exactly the ``.grad`` that ``root.backward()`` leaves (from zero),
and the graph's ``.grad`` fields are never changed. (Hooks added with ``register_hook`` are not
run: the frames show the rules alone.)

How a node's local gradients are obtained is :func:`_contributions` (the engine's own code);
the rule lines' wording, :func:`_local_text` (by op, never by symbol text); everything else reads
``_prev``, ``data``, ``label`` and the symbol ``node._op``. :func:`group_steps` gathers steps into one frame each (a whole neuron's, when
a picture draws module calls as boxes).

:class:`Slides` holds the pictures of the frames (``micrograd.viz.backward_frames`` draws them):
an animated GIF (:meth:`Slides.save_gif`, needs Pillow), a self-contained HTML page with
Prev/Next and a slider (:meth:`Slides.to_html`), and a slider in Jupyter (ipywidgets if installed,
else the HTML page).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ops
from .backward import closure_gradients, local_gradients
from .engine import Value, topological_order

__all__ = ["Frame", "Group", "Slides", "backward_steps", "forward_steps", "group_steps", "node_names",
           "short_number"]

INSTALL_PILLOW = ('an animated GIF needs Pillow, which comes with matplotlib: pip install "micrograd[plot]" '
                  '(or "micrograd[notebooks]")')


@dataclass(frozen=True, eq=False)
class Frame:
    """One step of a pass: ``node``'s rule ran on ``children``; ``known`` is every number known after it."""

    node: Value                        # the node whose rule runs (the first backward frame: the root)
    children: tuple[Value, ...]        # its arguments, in order (empty for the first frame)
    rule: tuple[str, ...]              # the rule with its numbers, one line per child
    known: dict[Value, float]          # grads (backward) or data (forward) known so far
    amounts: tuple[float, ...] = ()    # backward: what each child received


@dataclass(frozen=True, eq=False)
class Group:
    """Rules shown as one frame (a whole neuron's backward): its steps and what they sent out, summed."""

    key: Any                           # what the steps have in common (a module call)
    steps: tuple[Frame, ...]           # in the order they ran
    known: dict[Value, float]          # every grad known after the group
    sent: dict[Value, float]           # what the group's steps sent to nodes made outside it, summed


# --- the one place that knows how an op's rule is called ---------------------------------------

def _contributions(node: Value, g: float) -> list[tuple[Value, float]]:
    """d(root)/d(child) += g * d(node)/d(child), for each child of ``node`` in order: (child, amount).

    Exactly what ``backward()`` adds (the op's float rule, IEEE special values as the engine).
    A hand-built node with its own ``_backward`` closure runs it on a copy of the grads, restored.
    """
    op = node.op
    children = node._prev
    if op.closure is not None or op.rule is None or op.arity != len(children):
        # a hand-built node: its closure, run on its own, as backward() runs it (none: no gradient)
        found = dict(zip(*closure_gradients(node, g))) if op.closure is not None else {}
        seen: set[Value] = set()  # a child given twice: its whole amount on its first position
        amounts = []
        for child in children:
            amounts.append((child, 0.0 if child in seen else float(found.get(child, 0.0))))
            seen.add(child)
        return amounts
    out = local_gradients(node, g)
    return list(zip(children, (out,) if len(children) == 1 else out))


# --- names and numbers as the rule lines show them ----------------------------------------------

def node_names(order: Sequence[Value], given: dict[Value, str] | None = None) -> dict[Value, str]:
    """A name per node: ``given[v]``, else its label, else #1, #2, ... in ``order``."""
    given = given or {}
    names: dict[Value, str] = {}
    unnamed = 0
    for v in order:
        name = given.get(v) or v.label
        if not name:
            unnamed += 1
            name = f"#{unnamed}"
        names[v] = name
    return names


def short_number(x: float) -> str:
    """A number short enough for a rule line or a picture: 4 significant digits, integers without
    '.0', and 0 for -0.0 too (a picture has no use for its sign)."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    return "0" if x == 0 else f"{x:.4g}"


# readable local derivatives of table ops, by the op itself (a user's op printed "tanh" is not
# ops.tanh): (out, child, other) -> text; others read ∂out/∂child
_LOCAL_TEXT = {
    ops.add: lambda out, child, other: "1",
    ops.mul: lambda out, child, other: f"{other}.data",
    ops.tanh: lambda out, child, other: f"(1 - {out}.data²)",
    ops.exp: lambda out, child, other: f"{out}.data",
    ops.log: lambda out, child, other: f"(1 / {child}.data)",
    ops.relu: lambda out, child, other: f"({out}.data > 0)",
    ops.sigmoid: lambda out, child, other: f"{out}.data * (1 - {out}.data)",
}


def _local_text(op: ops.Op) -> Any:
    """The readable local derivative of ``op``, or None (x ** 2 is the one family member with one)."""
    if op.family is ops.powc and op.param == 2.0:
        return lambda out, child, other: f"2 * {child}.data"
    return _LOCAL_TEXT.get(op)


def _backward_line(node: Value, i: int, g: float, amount: float, local: float,
                   names: dict[Value, str]) -> str:
    """``child.grad += node.grad * local = g * local = amount`` for the ``i``-th child."""
    prev = node._prev
    out, name = names[node], names[prev[i]]
    other = names[prev[1 - i]] if len(prev) == 2 else ""
    text = _local_text(node.op)
    local_text = text(out, name, other) if text else f"∂{out}/∂{name}"
    return f"{name}.grad += {out}.grad * {local_text} = {short_number(g)} * {short_number(local)} = {short_number(amount)}"


# --- the passes -------------------------------------------------------------------------------

def backward_steps(root: Value, gradient: float = 1.0, names: dict[Value, str] | None = None) -> list[Frame]:
    """The backward pass from ``root``: a first frame ``root.grad = 1``, then one per node with children.

    ``names``: what the rule lines call each node (default :func:`node_names`).

    Nodes run in ``backward()``'s order (the topological order, reversed); a frame's ``known`` holds
    the grads accumulated so far, so the last one equals ``.grad`` after ``root.backward()`` from zero.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps steps through a Value's graph, got {type(root).__name__}")
    order = topological_order(root)
    names = node_names(order) if names is None else names
    grads: dict[Value, float] = {root: float(gradient)}
    frames = [Frame(root, (), (f"{names[root]}.grad = {short_number(float(gradient))}",), dict(grads))]
    for node in reversed(order):
        children = node._prev
        if not children:
            continue
        g = grads[node]
        amounts = _contributions(node, g)
        locals_ = _contributions(node, 1.0)
        lines = []
        for i, ((child, amount), (_, local)) in enumerate(zip(amounts, locals_)):
            grads[child] = grads.get(child, 0.0) + amount  # as backward(): 0.0 + first amount
            lines.append(_backward_line(node, i, g, amount, local, names))
        frames.append(Frame(node, children, tuple(lines), dict(grads), tuple(a for _, a in amounts)))
    return frames


def group_steps(steps: Sequence[Frame], key: Any) -> list[Group]:
    """Backward ``steps`` gathered by ``key(node)`` (None: a group of its own), ordered by first step.

    ``known`` after each group adds the group's amounts in order; the last group's is the last
    step's table itself, so it is ``backward()``'s exactly even where groups' steps interleaved.
    """
    keys = [key(step.node) for step in steps]
    members: dict[Any, list[int]] = {}
    for k, group in enumerate(keys):
        members.setdefault(group if group is not None else ("step", k), []).append(k)
    groups: list[Group] = []
    known: dict[Value, float] = {}
    for group, indices in members.items():
        sent: dict[Value, float] = {}
        inside = {steps[k].node for k in indices}
        for k in indices:
            step = steps[k]
            if not step.children:  # the first step: the root's own grad
                known.update(step.known)
            for child, amount in zip(step.children, step.amounts):
                known[child] = known.get(child, 0.0) + amount
                if child not in inside:
                    sent[child] = sent.get(child, 0.0) + amount
        groups.append(Group(group, tuple(steps[k] for k in indices), dict(known), sent))
    if groups:
        last = groups[-1]
        groups[-1] = Group(last.key, last.steps, dict(steps[-1].known), last.sent)
    return groups


def forward_steps(root: Value, names: dict[Value, str] | None = None) -> list[Frame]:
    """The forward pass to ``root``: a first frame with the leaves' data, then one per node made by an op."""
    if not isinstance(root, Value):
        raise TypeError(f"forward_steps steps through a Value's graph, got {type(root).__name__}")
    order = topological_order(root)
    names = node_names(order) if names is None else names
    known = {v: v.data for v in order if not v._prev}
    leaves = ", ".join(f"{names[v]} = {short_number(v.data)}" for v in order if not v._prev)
    frames = [Frame(order[0], (), (f"inputs: {leaves}",), dict(known))]
    for node in order:
        children = node._prev
        if not children:
            continue
        known[node] = node.data
        frames.append(Frame(node, children, (_forward_line(node, names),), dict(known)))
    return frames


def _forward_line(node: Value, names: dict[Value, str]) -> str:
    """``n = a + b = 1 + 2 = 3`` (infix for + and *, else symbol(args))."""
    symbol = str(node._op)
    args = node._prev
    if len(args) == 2 and symbol in ("+", "*"):
        formula = f" {symbol} ".join(names[a] for a in args)
        numbers = f" {symbol} ".join(short_number(a.data) for a in args)
    else:
        formula = f"{symbol}({', '.join(names[a] for a in args)})"
        numbers = f"{symbol}({', '.join(short_number(a.data) for a in args)})"
    return f"{names[node]} = {formula} = {numbers} = {short_number(node.data)}"


# --- the pictures of the frames: GIF, HTML, Jupyter -----------------------------------------

class Slides(list):  # type: ignore[type-arg]
    """The pictures of a pass, one per frame (graphviz Digraphs, or anything with ``.pipe``)."""

    def svgs(self) -> list[str]:
        """Each frame as an SVG string (needs Graphviz's ``dot``)."""
        return [p.pipe(format="svg", encoding="utf-8") for p in self]

    def sources(self) -> list[str]:
        """Each frame's DOT source."""
        return [p.source for p in self]

    def save_gif(self, path: str | Path, seconds: float = 1.5) -> Path:
        """Write :meth:`gif` to ``path``."""
        path = Path(path)
        path.write_bytes(self.gif(seconds))
        return path

    def gif(self, seconds: float = 1.5) -> bytes:
        """An animated GIF of the frames, ``seconds`` per frame (needs Pillow and ``dot``)."""
        try:
            from PIL import Image
        except ImportError as exc:
            raise ImportError(INSTALL_PILLOW) from exc
        images = [Image.open(io.BytesIO(p.pipe(format="png"))).convert("RGB") for p in self]
        width = max(im.width for im in images)
        height = max(im.height for im in images)
        pages = []
        for im in images:  # one size for every page, the picture at the top left on white
            page = Image.new("RGB", (width, height), "white")
            page.paste(im, (0, 0))
            pages.append(page.convert("P", palette=Image.Palette.ADAPTIVE))
        data = io.BytesIO()
        pages[0].save(data, format="GIF", save_all=True, append_images=pages[1:],
                      duration=int(seconds * 1000), loop=0, disposal=1)
        return data.getvalue()

    def to_html(self, title: str = "backpropagation, step by step") -> str:
        """A self-contained HTML page: every frame's SVG inline, Prev/Next buttons and a slider.

        Without JavaScript the page shows every frame, one under the other.
        """
        svgs = [svg[svg.find("<svg"):] for svg in self.svgs()]  # inline: without the XML prolog
        # Without JavaScript (an untrusted notebook, a static page) every frame shows, one after
        # another; the script hides all but one and shows the controls.
        slides = "\n".join(f'<div class="frame">{svg}</div>' for svg in svgs)
        n = len(self)
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>.mg-frames svg {{ max-width: 100%; height: auto; }}</style></head>
<body style="font-family:Helvetica,sans-serif">
<div class="mg-frames">
<div class="controls" style="display:none">
<button class="prev">Prev</button> <button class="next">Next</button>
<input class="slider" type="range" min="0" max="{n - 1}" value="0" style="width:20em">
<span class="count">1 / {n}</span>
</div>
{slides}
</div>
<script>
for (const box of document.querySelectorAll(".mg-frames")) {{
  const frames = box.querySelectorAll(".frame"), slider = box.querySelector(".slider");
  const show = k => {{
    k = Math.max(0, Math.min(frames.length - 1, k));
    frames.forEach((f, i) => f.style.display = i === k ? "block" : "none");
    slider.value = k; box.querySelector(".count").textContent = (k + 1) + " / " + frames.length;
  }};
  box.querySelector(".prev").onclick = () => show(+slider.value - 1);
  box.querySelector(".next").onclick = () => show(+slider.value + 1);
  slider.oninput = () => show(+slider.value);
  box.querySelector(".controls").style.display = "block";
  show(+slider.value);
}}
</script>
</body></html>
"""

    def _ipython_display_(self) -> None:
        """In Jupyter: a slider over the frames (ipywidgets), else the HTML page with its own slider."""
        from IPython.display import HTML, SVG, display
        try:
            import ipywidgets
        except ImportError:
            display(HTML(self.to_html()))
            return
        svgs = self.svgs()
        out = ipywidgets.Output()
        slider = ipywidgets.IntSlider(value=0, min=0, max=len(svgs) - 1, description="frame")

        def show(k: int) -> None:
            out.clear_output(wait=True)
            with out:
                display(SVG(svgs[k]))

        slider.observe(lambda change: show(change["new"]), names="value")
        show(0)
        display(ipywidgets.VBox([slider, out]))
