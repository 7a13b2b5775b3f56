"""metrics: accuracy, confusion matrix, precision, recall and F1 equal scikit-learn's."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value
from micrograd.metrics import (
    accuracy,
    confusion_matrix,
    f1_score,
    precision,
    predicted_class,
    recall,
)

label_pairs = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 3), min_size=n, max_size=n), st.lists(st.integers(0, 3), min_size=n, max_size=n)))


@pytest.mark.filterwarnings("ignore:A single label:UserWarning")
@given(label_pairs)
def test_metrics_equal_scikit_learn(pair):
    metrics = pytest.importorskip("sklearn.metrics")
    t, p = pair
    assert accuracy(t, p) == metrics.accuracy_score(t, p)
    assert np.array_equal(confusion_matrix(t, p), metrics.confusion_matrix(t, p))
    for ours, theirs in [(precision, metrics.precision_score), (recall, metrics.recall_score),
                         (f1_score, metrics.f1_score)]:
        assert ours(t, p) == pytest.approx(theirs(t, p, average="macro", zero_division=0), abs=1e-12)
        np.testing.assert_allclose(ours(t, p, average=None), theirs(t, p, average=None, zero_division=0),
                                   atol=1e-12)


def test_a_worked_example():
    t, p = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    assert confusion_matrix(t, p).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert accuracy(t, p) == 0.6
    np.testing.assert_allclose(precision(t, p, average=None), [0.5, 2 / 3, 0.0])
    np.testing.assert_allclose(recall(t, p, average=None), [0.5, 1.0, 0.0])
    assert f1_score(t, p) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert confusion_matrix(t, p, labels=[2, 1]).tolist() == [[0, 0], [0, 2]]


def test_predicted_class_reads_model_outputs():
    assert predicted_class([Value(0.1), Value(2.0), Value(-1.0)]) == 1
    assert predicted_class(Value(0.3)) == 1 and predicted_class(Value(-0.3)) == 0
    assert predicted_class([Value(0.3)]) == 1 and predicted_class([Value(-0.3)]) == 0  # one score in a list


@pytest.mark.parametrize("call,match", [
    (lambda: accuracy([0, 1], [0]), "2 labels but y_pred has 1"),
    (lambda: accuracy([], []), "no labels"),
    (lambda: accuracy([[0]], [[0]]), "1-d"),
    (lambda: precision([0], [0], average="micro"), "average"),
    (lambda: precision([0, 1], [0, 1], labels=[]), "labels must be a non-empty"),
    (lambda: confusion_matrix([0, 1], [0, 1], labels=[[0, 1]]), "labels must be a non-empty 1-d"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
