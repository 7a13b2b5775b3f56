"""micrograd.traced: a traced Value's number is the engine's only while tracing, its float after."""

import numpy as np
import pytest

import micrograd
from micrograd import TracingError, Value
from micrograd.traced import TracedNumber


def test_outside_tracing_a_traced_number_is_its_float():
    t = TracedNumber(TracedNumber(2.5))  # (wrapping twice keeps one float)
    assert t.value == 2.5 and t + 1 == 3.5 and 1 - t == -1.5 and float(t) == 2.5 and t > 2
    assert repr(t) == "2.5" and f"{t:.2f}" == "2.50" and Value(t).data == 2.5


def test_values_kept_from_a_trace_hold_plain_floats_and_printing_is_allowed():
    kept, printed = [], []

    def fn(x):
        y = x * 2
        kept.append(y)
        printed.append(f"{y} {y.data}")  # printing shows the traced sample
        return y
    assert micrograd.compile(fn, params=[])(np.array([1.5, 4.0])).tolist() == [3.0, 8.0]
    assert all(type(v.data) is float for v in kept) and printed[0] == "Value(data=3.0, grad=0.0) 3.0"


def test_a_number_kept_from_one_trace_is_refused_in_the_next():
    saved = []
    micrograd.compile(lambda x: saved.append(x.data) or x, params=[])(np.array([1.0]))
    with pytest.raises(TracingError, match=r"test_traced\.py:\d+ .*\(\*\)"):
        micrograd.compile(lambda x: x * saved[0], params=[])(np.array([1.0]))
