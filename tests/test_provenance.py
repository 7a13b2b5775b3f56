"""provenance: which module call made which Values, recorded weakly and without cycles."""

import gc
import random
import weakref

from micrograd import Value, provenance
from micrograd.nn import MLP, Layer


def test_layer_and_mlp_calls_are_recorded_innermost_first():
    random.seed(0)
    model = MLP(2, [3, 1])
    x = [Value(1.0), Value(-2.0)]
    out = model(x)
    inner, outer = provenance.records(out)  # the last layer's output is the MLP's output
    assert inner.module is model.layers[1] and outer.module is model
    assert outer.inputs == tuple(x) and outer.outputs == (out,)
    assert inner.seq < outer.seq
    hidden = inner.inputs
    assert len(hidden) == 3 and all(isinstance(h, Value) for h in hidden)
    (first,) = provenance.records(hidden[0])
    assert first.module is model.layers[0] and first.outputs == hidden and first.inputs == tuple(x)
    assert provenance.records(hidden[1]) == []  # a call is keyed by its first output only
    assert provenance.records(x[0]) == []


def test_plain_number_inputs_and_odd_outputs():
    layer = Layer(2, 2)
    outs = layer([0.5, 1.5])
    (rec,) = provenance.records(outs[0])
    assert rec.inputs == (0.5, 1.5) and rec.outputs == tuple(outs)
    provenance.record(layer, 3.0, [])  # nothing to key on: ignored
    provenance.record(layer, 3.0, Value(1.0))
    provenance.record(layer, 3.0, [1.0, 2.0])


def test_records_keep_nothing_alive_and_make_no_cycles():
    random.seed(0)
    model = MLP(2, [4, 4, 1])
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # what is freed below is freed by reference counting alone
    try:
        before = len(provenance._store)
        out = model([Value(1.0), Value(2.0)])
        hidden = provenance.records(out)[0].inputs  # the second layer's outputs
        assert len(provenance._store) == before + 3  # the MLP shares its key with its last layer
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
