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
    mean_squared_error,
    precision,
    predicted_class,
    r2_score,
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
    (lambda: recall([0, 1, 2], [0, 1, 1], average="binary"), r"needs two classes .* got \[0, 1, 2\]"),
    (lambda: f1_score([0, 1], [0, 1], average="binary", labels=[0, 1]), "give pos_label, not labels"),
    (lambda: r2_score([1.0, 2.0], [1.0]), "2 values but y_pred has 1"),
    (lambda: r2_score([], []), "no samples"),
    (lambda: r2_score([[1.0]], [[1.0]]), "1-d arrays, one value per sample"),
    (lambda: mean_squared_error([1.0, float("nan")], [1.0, 2.0]), "finite numbers"),
    (lambda: mean_squared_error(["a"], [1.0]), "arrays of numbers"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


binary_pairs = st.integers(1, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n), st.lists(st.integers(0, 1), min_size=n, max_size=n)))


@given(binary_pairs, st.sampled_from([0, 1]))
def test_binary_scores_equal_scikit_learn(pair, pos_label):
    """average='binary': the positive class's score, also when it never occurs (then 0)."""
    metrics = pytest.importorskip("sklearn.metrics")
    t, p = pair
    for ours, theirs in [(precision, metrics.precision_score), (recall, metrics.recall_score),
                         (f1_score, metrics.f1_score)]:
        expected = theirs(t, p, average="binary", pos_label=pos_label, zero_division=0)
        assert ours(t, p, average="binary", pos_label=pos_label) == pytest.approx(expected, abs=1e-12)


def test_a_worked_binary_example():
    t, p = [1, 1, 1, 0, 0], [1, 0, 1, 1, 0]  # 2 true positives, 1 false positive, 1 false negative
    assert precision(t, p, average="binary") == 2 / 3 and recall(t, p, average="binary") == 2 / 3
    assert precision(t, p, average="binary", pos_label=0) == 0.5 and f1_score(t, p, average="binary") == 2 / 3
    assert precision([0, 0], [0, 0], average="binary") == 0.0  # no positive predicted: 0, as zero_division=0


finite = st.floats(-1e6, 1e6)
value_pairs = st.integers(1, 30).flatmap(lambda n: st.tuples(
    st.lists(finite, min_size=n, max_size=n), st.lists(finite, min_size=n, max_size=n)))


@given(value_pairs)
def test_regression_metrics_equal_scikit_learn(pair):
    metrics = pytest.importorskip("sklearn.metrics")
    t, p = pair
    # both sum the same squares in numpy; the relative tolerance covers a different summation order
    assert mean_squared_error(t, p) == pytest.approx(metrics.mean_squared_error(t, p), rel=1e-12, abs=1e-300)
    if len(t) > 1:  # scikit-learn warns and returns nan for a single sample
        # 1 - a ratio of sums: the ratio agrees to rounding, 1e-9 leaves room for near-cancelling totals
        assert r2_score(t, p) == pytest.approx(metrics.r2_score(t, p), rel=1e-9, abs=1e-9)


def test_r2_of_the_mean_is_zero_and_of_exact_predictions_one():
    t = [1.0, 2.0, 4.0, 9.0]
    assert r2_score(t, [4.0] * 4) == 0.0 and r2_score(t, t) == 1.0
    assert r2_score(t, [2.0, 2.0, 4.0, 9.0]) == 1.0 - 1.0 / 38.0  # residual 1, total 9 + 4 + 0 + 25 = 38
    assert mean_squared_error(t, [2.0, 2.0, 4.0, 11.0]) == (1.0 + 4.0) / 4
    assert r2_score([3.0, 3.0], [3.0, 3.0]) == 1.0 and r2_score([3.0, 3.0], [3.0, 4.0]) == 0.0  # constant truth
