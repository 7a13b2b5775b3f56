"""provenance: which module call made which Values, recorded weakly and without cycles."""

import gc
import os
import random
import subprocess
import sys
import weakref
from pathlib import Path

from micrograd import Value, provenance
from micrograd.conv import Conv2d, MaxPool2d
from micrograd.nn import MLP, Layer

ROOT = Path(__file__).resolve().parent.parent

IMPORT_SCRIPT = """
import random
from micrograd import Value, provenance
from micrograd.conv import Conv2d, MaxPool2d
from micrograd.nn import MLP, Layer

def observe():
    random.seed(0)
    model, layer = MLP(2, [3, 1]), Layer(2, 2)
    out, outs = model([Value(1.0), Value(2.0)]), layer([0.5, 1.5])
    return ([out.data] + [o.data for o in outs],
            [(type(r.module).__name__, len(r.inputs), len(r.outputs)) for r in provenance.records(out)],
            [(type(r.module).__name__, len(r.inputs), len(r.outputs)) for r in provenance.records(outs[0])])

before = observe()
import micrograd.viz
after = observe()
print(before == after)
print(before)
"""


def test_importing_viz_changes_nothing_in_nn_or_provenance():
    done = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr
    same, seen = done.stdout.splitlines()
    assert same == "True", done.stdout
    # recorded before micrograd.viz is imported: the MLP's two layers and itself, the Layer
    assert "[('Layer', 2, 3), ('Layer', 3, 1), ('MLP', 2, 1)], [('Layer', 2, 2)]" in seen


def test_layer_and_mlp_calls_are_recorded_innermost_first():
    random.seed(0)
    model = MLP(2, [3, 1])
    x = [Value(1.0), Value(-2.0)]
    out = model(x)
    first, inner, outer = provenance.records(out)  # the MLP stores its layers' calls with its own
    assert first.module is model.layers[0] and inner.module is model.layers[1] and outer.module is model
    assert outer.inputs == tuple(x) and outer.outputs == (out,) and inner.outputs == (out,)
    assert first.seq < inner.seq < outer.seq
    hidden = inner.inputs
    assert len(hidden) == 3 and all(isinstance(h, Value) for h in hidden)
    assert first.outputs == hidden and first.inputs == tuple(x)
    assert provenance.records(hidden[0]) == []  # one store per outermost call, under its output
    assert provenance.records(x[0]) == []


def test_an_mlp_with_a_layer_of_its_own_kind_records_each_call():
    class Doubling(Layer):
        def __call__(self, x):
            out = super().__call__(x)
            return [o * 2 for o in out] if isinstance(out, list) else out * 2

    random.seed(0)
    model = MLP(2, [3, 1])
    model.layers[1] = Doubling(3, 1)
    x = [Value(1.0), Value(-2.0)]
    out = model(x)
    (outer,) = provenance.records(out)
    assert outer.module is model and outer.inputs == tuple(x) and outer.outputs == (out,)
    hidden = [r for v in out.nodes() for r in provenance.records(v) if r.module is not model]
    assert sorted(type(r.module).__name__ for r in hidden) == ["Doubling", "Layer"]


def test_a_layer_called_on_its_own_is_recorded_and_a_module_may_return_its_input():
    layer = Layer(2, 3)
    x = [Value(1.0), Value(2.0)]
    outs = layer(x)
    (rec,) = provenance.records(outs[0])
    assert rec.module is layer and rec.inputs == tuple(x) and rec.outputs == tuple(outs)
    identity = object()
    provenance.record(identity, x, x)  # the output is an input: stored without a reference to it
    assert provenance.records(x[0])[-1].inputs == tuple(x)
    twice = object()
    provenance.record(twice, 2.0, [x[1], x[1]])  # the key twice among the outputs
    assert provenance.records(x[1])[-1].outputs == (x[1], x[1])


def test_plain_number_inputs_and_odd_outputs():
    layer = Layer(2, 2)
    outs = layer([0.5, 1.5])
    (rec,) = provenance.records(outs[0])
    assert rec.inputs == (0.5, 1.5) and rec.outputs == tuple(outs)
    provenance.record(layer, 3.0, [])  # nothing to key on: ignored, and no error
    provenance.record(layer, 3.0, [1.0, 2.0])
    v = Value(1.0)
    provenance.record(layer, 3.0, v)  # one Value, one number: kept as 1-tuples
    (rec,) = provenance.records(v)
    assert rec.module is layer and rec.inputs == (3.0,) and rec.outputs == (v,)


def test_records_keep_nothing_alive_and_make_no_cycles():
    random.seed(0)
    model = MLP(2, [4, 4, 1])
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # what is freed below is freed by reference counting alone
    try:
        x = [Value(1.0), Value(2.0)]
        out = model(x)
        hidden = provenance.records(out)[1].inputs  # the second layer's outputs
        watch = [weakref.ref(out), weakref.ref(hidden[0]), weakref.ref(model)]
        keep = hidden[1]  # holding one sibling must not keep the call's first output alive
        del out, hidden
        assert [w() for w in watch[:2]] == [None, None]
        del keep, model  # the record held the model: it went with the graph
        assert watch[2]() is None
        assert provenance.records(x[0]) == []
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()


def test_a_model_computing_with_other_numbers_records_nothing():
    model = MLP(1, [1])  # linear; its weights swapped for plain floats, as testing's torch scalars do
    neuron = model.layers[0].neurons[0]
    neuron.w, neuron.b = [2.0], 1.0
    assert model([3.0]) == 7.0  # no Value made, none to key a record on: nothing stored, no error


def test_an_image_call_is_recorded_flat_with_its_shapes():
    conv = Conv2d(2, 3, 2, rng=0)
    image = [[[Value(float(c + i - j)) for j in range(4)] for i in range(3)] for c in range(2)]
    out = conv(image)
    (rec,) = provenance.records(out[0][0][0])
    assert rec.module is conv and rec.shape == (3, 2, 3) and rec.input_shape == (2, 3, 4)
    assert rec.inputs == tuple(v for c in image for r in c for v in r)
    assert rec.outputs == tuple(v for c in out for r in c for v in r)  # channel by channel, row by row
    pooled = MaxPool2d(2)(out)
    (rec,) = provenance.records(pooled[0][0][0])
    assert rec.shape == (3, 1, 1) and rec.inputs == tuple(v for c in out for r in c for v in r)
    assert provenance.records(out[0][0][1]) == []  # stored under the first output only


def test_image_calls_that_return_no_new_value_first_record_nothing():
    """A window of one (pooling) returns its input; a window all padding (Conv2d) the bias itself:
    neither may key a record, which would then live as long as the input or the model."""
    x = [[[Value(1.0), Value(2.0)]]]
    assert MaxPool2d(1)(x)[0][0][0] is x[0][0][0]
    assert provenance.records(x[0][0][0]) == []
    conv = Conv2d(1, 1, 1, padding=1, rng=0)
    out = conv(x)
    assert out[0][0][0] is conv.bias[0] and provenance.records(conv.bias[0]) == []


def test_image_records_keep_nothing_alive_and_make_no_cycles():
    conv = Conv2d(1, 2, 2, rng=0)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        x = [[[Value(float(i * j)) for j in range(3)] for i in range(3)]]
        out = conv(x)
        watch = [weakref.ref(out[0][0][0]), weakref.ref(out[1][1][1]), weakref.ref(conv)]
        keep = out[1][0][0]  # holding a sibling must not keep the call's first output alive
        del out
        assert [w() for w in watch[:2]] == [None, None]
        del keep, conv
        assert watch[2]() is None
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
