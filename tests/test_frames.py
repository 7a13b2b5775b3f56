"""frames: the backward pass step by step agrees with backward(), and leaves .grad alone."""

from __future__ import annotations

import math

from hypothesis import given

from micrograd import Value
from micrograd.frames import backward_steps, forward_steps
from micrograd.testing import expressions


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
