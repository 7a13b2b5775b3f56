"""losses: each equals torch.nn.functional in value and gradient (float64), on drawn data."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd import Value, losses
from micrograd.testing import close

finite = st.floats(-5, 5, allow_nan=False)


def vectors(n_min=1, n_max=6, elements=finite):
    return st.integers(n_min, n_max).flatmap(
        lambda n: st.tuples(st.lists(elements, min_size=n, max_size=n), st.lists(elements, min_size=n, max_size=n)))


@pytest.fixture(scope="module")
def F(torch):
    """torch.nn.functional, the reference for every loss."""
    return torch.nn.functional


def check(torch, ours_fn, torch_fn, xs, *, rtol=1e-12):
    """ours_fn(list of Values) -> Value and torch_fn(tensor) -> tensor: same value and gradient."""
    vs = [Value(x) for x in xs]
    out = ours_fn(vs)
    out.backward()
    t = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    ref = torch_fn(t)
    ref.backward()
    assert close(out.data, ref.item(), rtol=rtol), (xs, out.data, ref.item())
    for v, g in zip(vs, t.grad.tolist()):
        assert close(v.grad, g, rtol=1e-10, atol=1e-14), (xs, v.grad, g)


def tensor(torch, xs):
    return torch.tensor(xs, dtype=torch.float64)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(data=vectors())
def test_mse_and_mae_match_torch(torch, F, data, reduction):
    pred, target = data
    check(torch, lambda v: losses.mse(v, target, reduction),
          lambda t: F.mse_loss(t, tensor(torch, target), reduction=reduction), pred)
    pairs = [(p, t) for p, t in zip(pred, target) if abs(p - t) > 1e-9] or [(1.0, 0.0)]  # |x|: kink at 0
    pred, target = [p for p, _ in pairs], [t for _, t in pairs]
    check(torch, lambda v: losses.mae(v, target, reduction),
          lambda t: F.l1_loss(t, tensor(torch, target), reduction=reduction), pred)


@given(data=st.lists(st.tuples(finite, st.sampled_from([-1.0, 1.0])), min_size=1, max_size=8))
def test_hinge_is_the_demos_max_margin_loss(torch, F, data):
    scores, ys = [s for s, _ in data], [y for _, y in data]
    if any(abs(1 - y * s) < 1e-9 for s, y in data):  # relu's kink
        return
    check(torch, lambda v: losses.hinge(v, ys), lambda t: F.relu(1 - tensor(torch, ys) * t).mean(), scores)


@given(data=st.lists(st.tuples(st.floats(0.01, 0.99), st.floats(0, 1)), min_size=1, max_size=6))
def test_binary_cross_entropy_on_probabilities_matches_torch(torch, F, data):
    ps, ys = [p for p, _ in data], [y for _, y in data]
    check(torch, lambda v: losses.binary_cross_entropy(v, ys),
          lambda t: F.binary_cross_entropy(t, tensor(torch, ys)), ps, rtol=1e-11)


def test_binary_cross_entropy_clamps_logs_at_minus_100_as_torch(torch, F):
    for p, y in [(0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0), (0.0, 0.5)]:
        ours = losses.binary_cross_entropy(Value(p), y).data
        ref = F.binary_cross_entropy(tensor(torch, p), tensor(torch, y)).item()
        assert ours == pytest.approx(ref, abs=1e-12), (p, y)


@given(data=st.lists(st.tuples(st.floats(-50, 50), st.floats(0, 1)), min_size=1, max_size=6))
def test_binary_cross_entropy_with_logits_matches_torch(torch, F, data):
    xs, ys = [x for x, _ in data], [y for _, y in data]
    check(torch, lambda v: losses.binary_cross_entropy_with_logits(v, ys),
          lambda t: F.binary_cross_entropy_with_logits(t, tensor(torch, ys)), xs)


@pytest.mark.parametrize("x", [1000.0, -1000.0])
@pytest.mark.parametrize("y", [0.0, 1.0])
def test_binary_cross_entropy_with_logits_is_stable_at_1000(torch, F, x, y):
    check(torch, lambda v: losses.binary_cross_entropy_with_logits(v, y),
          lambda t: F.binary_cross_entropy_with_logits(t, tensor(torch, [y])), [x])


logits = st.lists(st.floats(-30, 30), min_size=1, max_size=6)


@given(xs=logits, data=st.data())
def test_softmax_log_softmax_and_cross_entropy_match_torch(torch, F, xs, data):
    i = data.draw(st.integers(0, len(xs) - 1))
    check(torch, lambda v: losses.softmax(v)[i] * 1.0, lambda t: F.softmax(t, 0)[i], xs)
    check(torch, lambda v: losses.log_softmax(v)[i] * 1.0, lambda t: F.log_softmax(t, 0)[i], xs)
    check(torch, lambda v: losses.logsumexp(v) * 1.0, lambda t: torch.logsumexp(t, 0), xs)
    check(torch, lambda v: losses.cross_entropy(v, i), lambda t: F.cross_entropy(t[None], torch.tensor([i])), xs)


@pytest.mark.parametrize("xs", [[1000.0, 0.0, -2.0], [0.0, 1000.0], [-1000.0, 1000.0, 999.0], [1000.0]])
def test_cross_entropy_is_finite_for_a_logit_of_1000(torch, F, xs):
    for i in range(len(xs)):
        check(torch, lambda v, i=i: losses.cross_entropy(v, i),
              lambda t, i=i: F.cross_entropy(t[None], torch.tensor([i])), xs)
        assert all(math.isfinite(p.data) for p in losses.softmax(xs))


@given(data=vectors(2, 6), onehot=st.booleans())
def test_cross_entropy_with_class_probabilities_matches_torch(torch, F, data, onehot):
    xs, raw = data
    weights = [math.exp(r) for r in raw]
    probs = [float(i == 0) for i in range(len(xs))] if onehot else [w / sum(weights) for w in weights]
    check(torch, lambda v: losses.cross_entropy(v, probs),
          lambda t: F.cross_entropy(t[None], tensor(torch, [probs])), xs)
    check(torch, lambda v: losses.cross_entropy(v, [Value(p) for p in probs]),
          lambda t: F.cross_entropy(t[None], tensor(torch, [probs])), xs)
    if onehot:  # a one-hot target is the class index
        assert close(losses.cross_entropy(xs, probs).data, losses.cross_entropy(xs, 0).data, rtol=1e-15)


def test_cross_entropy_names_a_target_of_the_wrong_length():
    with pytest.raises(ValueError, match="3 class scores but 2 target probabilities"):
        losses.cross_entropy([1.0, 2.0, 3.0], [0.0, 1.0])


@given(ps=st.lists(st.floats(-3, 3).filter(lambda x: abs(x) > 1e-6), min_size=1, max_size=8))
def test_penalties_match_torch(torch, ps):
    check(torch, lambda v: losses.l2_penalty(v, 1e-4), lambda t: 1e-4 * (t * t).sum(), ps)
    check(torch, lambda v: losses.l1_penalty(v, 0.3), lambda t: 0.3 * t.abs().sum(), ps)


def test_reduction_none_gives_one_loss_per_sample_and_scalars_work():
    per_sample = losses.mse([Value(1.0), Value(3.0)], [0.0, 1.0], reduction="none")
    assert [v.data for v in per_sample] == [1.0, 4.0]
    assert losses.mse(Value(3.0), 1.0).data == 4.0
    assert losses.mse([Value(3.0), 2.0], 1.0).data == 2.5  # a scalar target for every prediction


def test_losses_use_value_operations_only():
    # No comparison and no float() on Values: every loss is a graph down to its inputs.
    x = [Value(0.3), Value(-1.2), Value(2.0)]
    for out in [losses.cross_entropy(x, 1), losses.binary_cross_entropy_with_logits(x, [0, 1, 1]),
                losses.binary_cross_entropy([v.sigmoid() for v in x], [0, 1, 1]), losses.hinge(x, [1, -1, 1])]:
        assert all(v in out.nodes() for v in x)


@pytest.mark.parametrize("call,error,match", [
    (lambda: losses.mse([Value(1.0)], [1.0, 2.0]), ValueError, "1 predictions but 2 targets"),
    (lambda: losses.mse([], []), ValueError, "no predictions"),
    (lambda: losses.mse([Value(1.0)], ["a"]), TypeError, "numbers"),
    (lambda: losses.mse(Value(1.0), 1.0, reduction="avg"), ValueError, "reduction"),
    (lambda: losses.cross_entropy([Value(1.0)], 1), IndexError, "out of range"),
    (lambda: losses.cross_entropy([Value(1.0)], 0.5), TypeError, "class index"),
    (lambda: losses.cross_entropy([], 0), ValueError, "non-empty"),
    (lambda: losses.l2_penalty([]), ValueError, "no parameters"),
    (lambda: losses.mse(None, 1.0), TypeError, "mse: predictions must be a Value, a number or a sequence of them, "
                                               "got NoneType"),
    (lambda: losses.hinge([Value(1.0)], None), TypeError, "hinge: targets must be .* got NoneType"),
    (lambda: losses.mse([Value(1.0)], [10 ** 400]), ValueError, "mse: target must be within the float range"),
    (lambda: losses.mae(Decimal("1e400"), 1.0), ValueError, "mae: prediction must be within the float range"),
    (lambda: losses.mse([[Value(1.0)]], [[1.0]]), TypeError, "numbers, got list"),
    (lambda: losses.cross_entropy([Value(1.0), Value(2.0)], Fraction(1)), TypeError, "class index"),
    (lambda: losses.cross_entropy(None, 0), TypeError, "cross_entropy: expects a non-empty list of class scores"),
    (lambda: losses.l2_penalty(None), TypeError, "l2_penalty: params must be Values or a Module, got NoneType"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_fractions_and_decimals_are_numbers_here_too():
    assert losses.mse(Fraction(1, 2), Decimal("1.5")).data == 1.0
    assert losses.hinge([Value(0.5)], [Fraction(-1)]).data == 1.5
    assert losses.binary_cross_entropy(Value(0.5), Decimal("0.5")).data == -math.log(0.5)


@pytest.mark.parametrize("loss, targets, message", [
    (losses.hinge, [1, 0, 1], r"hinge: targets must be -1 or \+1, got 0 .*pass y \* 2 - 1"),
    (losses.hinge, 2.0, r"hinge: targets must be -1 or \+1, got 2.0"),
    (losses.binary_cross_entropy, [1, -1, 1], r"binary_cross_entropy: targets must be in \[0, 1\], got -1 "
                                              r".*pass \(y \+ 1\) / 2"),
    (losses.binary_cross_entropy_with_logits, [0, 1, math.nan], r"_with_logits: targets must be in \[0, 1\], got nan"),
])
def test_a_target_of_another_label_convention_is_named_with_the_fix(loss, targets, message):
    probabilities = [Value(0.2), Value(0.5), Value(0.9)]
    with pytest.raises(ValueError, match=message):
        loss(probabilities, targets)
    assert losses.hinge(probabilities, [Value(0.0)] * 3).data == 1.0  # a Value target is not read
