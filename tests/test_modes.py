"""micrograd.modes: grad mode, anomaly mode and tracing, each per-thread state read by one function."""

import threading

from micrograd import Value, modes
from micrograd.modes import detect_anomaly, is_anomaly_enabled, is_grad_enabled, no_grad, tracer, tracing


def test_blocks_nest_restore_and_count():
    assert is_grad_enabled() and not is_anomaly_enabled() and tracer() is None
    opened = modes.open_blocks
    with no_grad(), detect_anomaly():
        with no_grad():
            assert not is_grad_enabled() and modes.open_blocks == opened + 3
        assert not is_grad_enabled() and is_anomaly_enabled()
    assert is_grad_enabled() and not is_anomaly_enabled() and modes.open_blocks == opened


def test_tracing_records_a_graph_inside_no_grad_and_nests():
    seen = []

    def outer(v, what):
        seen.append(("outer", what))

    def inner(v, what):
        seen.append(("inner", what))
    made, made_inner = [], []
    opened = modes.open_blocks
    with no_grad(), tracing(outer, made):
        y = Value(2.0) * 3
        assert len(y._prev) == 2 and tracer() is outer and made == [y] and modes.open_blocks == opened + 2
        assert type(y.data).__name__ == "TracedNumber" and y.data.value == 6.0
        with tracing(inner, made_inner):
            bool(y)
        bool(y)
        assert not (y < 0)  # (the hook sees the Value, then the comparison of its number)
    assert tracer() is None and is_grad_enabled() and modes.open_blocks == opened and made_inner == []
    assert seen == [("inner", "bool()"), ("outer", "bool()"), ("outer", "<"), ("outer", "<")]


def test_modes_are_per_thread():
    seen = {}

    def worker():
        seen["grad"], seen["anomaly"] = is_grad_enabled(), is_anomaly_enabled()
        seen["prev"] = (Value(1.0) * 2)._prev
    with no_grad(), detect_anomaly():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["grad"] and not seen["anomaly"] and len(seen["prev"]) == 2

