"""provenance: which module call made which Values, recorded weakly and without cycles."""

import gc
import random
import weakref

import pytest

from micrograd import Value, provenance
from micrograd.nn import MLP, Layer


@pytest.fixture(autouse=True)
def recording(monkeypatch):
    monkeypatch.setattr(provenance, "enabled", True)


def test_nothing_is_recorded_until_recording_is_on(monkeypatch):
    monkeypatch.setattr(provenance, "enabled", False)
    out = MLP(2, [3, 1])([1.0, 2.0])
    assert provenance.records(out) == []


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


def test_a_layer_called_on_its_own_is_recorded_and_a_module_may_return_its_input():
    layer = Layer(2, 3)
    x = [Value(1.0), Value(2.0)]
    outs = layer(x)
    (rec,) = provenance.records(outs[0])
    assert rec.module is layer and rec.inputs == tuple(x) and rec.outputs == tuple(outs)
    identity = object()
    provenance.record(identity, x, x)  # the output is an input: stored without a reference to it
    assert provenance.records(x[0])[-1].inputs == tuple(x)


def test_plain_number_inputs_and_odd_outputs():
    layer = Layer(2, 2)
    outs = layer([0.5, 1.5])
    (rec,) = provenance.records(outs[0])
    assert rec.inputs == (0.5, 1.5) and rec.outputs == tuple(outs)
    gc.collect()
    before = len(provenance._store)
    provenance.record(layer, 3.0, [])  # nothing to key on: ignored
    provenance.record(layer, 3.0, [1.0, 2.0])
    assert len(provenance._store) == before
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
        before = len(provenance._store)
        out = model([Value(1.0), Value(2.0)])
        hidden = provenance.records(out)[1].inputs  # the second layer's outputs
        assert len(provenance._store) == before + 1  # one store for the whole MLP call
        watch = [weakref.ref(out), weakref.ref(hidden[0])]
        keep = hidden[1]  # holding one sibling must not keep the call's first output alive
        del out, hidden
        assert [w() for w in watch] == [None, None]
        del keep
        assert len(provenance._store) == before
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
