import math

import numpy as np
import pytest

from machmeter.kinds import KINDS
from machmeter.detect.compare import (
    Comparison,
    Observation,
    Policy,
    compare,
    policy_for,
)

TIME = policy_for("time", False)
THROUGHPUT = policy_for("throughput", True)


def noisy(center, rel_noise, n, seed):
    rng = np.random.default_rng(seed)
    samples = center * (1.0 + rel_noise * rng.standard_normal(n))
    return Observation(value=float(np.median(samples)), samples=samples.tolist())


def single(value):
    return Observation(value=value)


# --- direction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy, before, after, verdict",
    [
        (TIME, 1.0, 1.2, "regression"),  # slower
        (TIME, 1.0, 0.8, "improvement"),  # faster
        (THROUGHPUT, 100.0, 80.0, "regression"),  # fewer steps/s
        (THROUGHPUT, 100.0, 120.0, "improvement"),
    ],
)
def test_direction_aware_with_samples(policy, before, after, verdict):
    c = compare(noisy(before, 0.005, 20, 1), noisy(after, 0.005, 20, 2), policy)
    assert c.verdict == verdict
    assert c.significant and c.method == "mann-whitney"
    assert c.p_value is not None and c.p_value < 0.01
    assert c.ratio == pytest.approx(c.after / c.before)
    assert c.change == pytest.approx((c.after - c.before) / c.before)


def test_direction_flips_with_higher_is_better():
    up = compare(single(1.0), single(1.5), policy_for("count", True))
    down = compare(single(1.0), single(1.5), policy_for("count", False))
    assert (up.verdict, down.verdict) == ("improvement", "regression")


# --- significance and threshold ------------------------------------------------------------------


def test_small_real_slowdown_significant_flagged_only_above_threshold():
    before = noisy(10.0, 0.003, 50, 11)
    after = noisy(10.3, 0.003, 50, 12)  # a real 3 % slowdown under 0.3 % noise
    strict = compare(before, after, policy_for("time", False, threshold=0.02))
    assert strict.verdict == "regression" and strict.significant
    assert strict.method == "mann-whitney" and strict.p_value < 1e-10
    assert strict.change == pytest.approx(0.03, abs=0.003)

    lenient = compare(before, after, policy_for("time", False, threshold=0.05))
    assert lenient.verdict == "unchanged"
    assert lenient.significant  # real, but too small to matter
    assert "below" in lenient.reason


def test_thousands_of_samples_a_side_are_compared_by_rank_test():
    # an MD trajectory's per-step samples: C(n+m, n) is far beyond a float
    before = noisy(10.0, 0.01, 2000, 21)
    after = noisy(11.0, 0.01, 2000, 22)
    result = compare(before, after, TIME)
    assert result.verdict == "regression" and result.method == "mann-whitney" and result.significant


def test_difference_within_noise_is_not_significant():
    before = noisy(10.0, 0.03, 10, 21)
    after = noisy(10.3, 0.03, 10, 22)  # 3 % apart under 3 % noise, 10 samples
    c = compare(before, after, policy_for("time", False, threshold=0.0))
    assert c.method == "mann-whitney"
    assert not c.significant and c.p_value >= 0.01
    assert c.verdict == "unchanged"
    assert "not significant" in c.reason


def test_identical_samples_are_unchanged():
    obs = Observation(5.0, samples=[5.0] * 8)
    c = compare(obs, Observation(5.0, samples=[5.0] * 8), TIME)
    assert c.verdict == "unchanged" and not c.significant


def test_few_samples_use_the_bootstrap_deterministically():
    before = Observation(1.0, samples=[0.99, 1.0, 1.01])
    after = Observation(1.2, samples=[1.19, 1.2, 1.21])
    first = compare(before, after, TIME)
    assert first.method == "bootstrap-median"
    assert first.verdict == "regression" and first.significant
    assert compare(before, after, TIME) == first  # fixed seed

    overlapping = compare(Observation(1.0, samples=[0.8, 1.0, 1.3]),
                          Observation(1.1, samples=[0.85, 1.1, 1.35]), TIME)
    assert overlapping.method == "bootstrap-median"
    assert overlapping.verdict == "unchanged" and not overlapping.significant


def test_non_finite_samples_are_dropped():
    before = Observation(1.0, samples=[1.0, math.nan, 1.001, 0.999, 1.0, 1.002, 0.998])
    after = Observation(1.2, samples=[1.2, 1.201, math.inf, 1.199, 1.2, 1.202, 1.198])
    c = compare(before, after, TIME)
    assert c.method == "mann-whitney" and c.verdict == "regression"


# --- confidence intervals and single values ------------------------------------------------------


def test_ci_overlap_path():
    separate = compare(Observation(1.0, ci_99=(0.98, 1.02)), Observation(1.1, ci_99=(1.08, 1.12)), TIME)
    assert separate.method == "ci-overlap"
    assert separate.verdict == "regression" and separate.significant and separate.p_value is None

    overlapping = compare(Observation(1.0, ci_99=(0.9, 1.1)), Observation(1.1, ci_99=(1.0, 1.2)), TIME)
    assert overlapping.method == "ci-overlap"
    assert overlapping.verdict == "unchanged" and not overlapping.significant
    assert "overlap" in overlapping.reason


def test_infinite_ci_counts_as_absent():
    c = compare(Observation(1.0, ci_99=(-math.inf, math.inf)), Observation(1.1, ci_99=(1.0, 1.2)), TIME)
    assert c.method == "threshold"
    assert c.verdict == "regression"


def test_threshold_only_path():
    flagged = compare(single(1.0), single(1.06), TIME)
    assert flagged.method == "threshold" and flagged.verdict == "regression" and flagged.significant
    assert "threshold alone" in flagged.reason

    small = compare(single(1.0), single(1.04), TIME)
    assert small.method == "threshold" and small.verdict == "unchanged" and not small.significant
    assert "threshold alone" in small.reason


def test_one_sided_samples_fall_back():
    # samples on one side only, no CI: nothing to test against, so the threshold decides
    c = compare(noisy(1.0, 0.01, 20, 3), single(1.2), TIME)
    assert c.method == "threshold" and c.verdict == "regression"


# --- accuracy ------------------------------------------------------------------------------------


def test_accuracy_tolerance_higher_is_better():
    policy = policy_for("accuracy", True, tolerance_abs=0.005)
    drop = compare(single(0.95), single(0.93), policy)  # similarity fell by 0.02
    assert drop.method == "tolerance" and drop.verdict == "regression" and drop.significant
    within = compare(single(0.95), single(0.947), policy)
    assert within.method == "tolerance" and within.verdict == "unchanged" and not within.significant
    rise = compare(single(0.95), single(0.97), policy)
    assert rise.verdict == "improvement"


def test_accuracy_ignores_timing_noise_statistics():
    # a tiny but perfectly separated change in an accuracy metric is within tolerance
    before = noisy(0.9, 1e-5, 50, 5)
    after = noisy(0.8995, 1e-5, 50, 6)
    c = compare(before, after, policy_for("accuracy", True))
    assert c.method == "tolerance" and c.verdict == "unchanged"


def test_accuracy_default_tolerance_and_lower_is_better():
    policy = policy_for("accuracy", False)  # an error: lower is better
    assert policy.tolerance_rel == KINDS["accuracy"].tolerance_rel == 0.01
    assert compare(single(1.0), single(1.02), policy).verdict == "regression"
    assert compare(single(1.0), single(1.005), policy).verdict == "unchanged"
    bare = Policy(higher_is_better=False, kind="accuracy", threshold=0.0)  # no tolerance at all
    assert compare(single(1.0), single(1.02), bare).verdict == "regression"
    assert compare(single(1.0), single(1.005), bare).verdict == "unchanged"


def test_accuracy_both_tolerances_must_be_exceeded():
    policy = policy_for("accuracy", False, tolerance_abs=1e-3, tolerance_rel=0.01)
    assert compare(single(1.0), single(1.005), policy).verdict == "unchanged"  # 0.005 < 1 % of 1.0
    assert compare(single(0.01), single(0.0105), policy).verdict == "unchanged"  # 5e-4 < 1e-3 abs
    assert compare(single(0.01), single(0.0125), policy).verdict == "regression"


# --- lifecycle -----------------------------------------------------------------------------------


def test_failed_at_head():
    c = compare(single(1.0), single(None), TIME)
    assert c.verdict == "failed" and c.significant and c.after is None
    assert "newly failing" in c.reason
    already = compare(single(None), single(None), TIME)
    assert already.verdict == "failed" and not already.significant
    assert compare(None, single(None), TIME).verdict == "failed"


def test_skipped_new_removed():
    assert compare(single(1.0), single(math.nan), TIME).verdict == "failed"  # turned non-finite: broken
    assert compare(single(math.nan), single(math.inf), TIME).verdict == "skipped"
    assert compare(single(math.nan), single(1.0), TIME).verdict == "skipped"
    assert compare(None, None, TIME).verdict == "skipped"
    new = compare(None, single(1.0), TIME)
    assert new.verdict == "new" and new.after == 1.0 and new.before is None
    fixed = compare(single(None), single(1.0), TIME)
    assert fixed.verdict == "new" and "fixed" in fixed.reason
    assert compare(single(1.0), None, TIME).verdict == "removed"


# --- zero and negative baselines -----------------------------------------------------------------


def test_zero_baseline_does_not_divide_by_zero():
    count = policy_for("count", False)
    grew = compare(single(0.0), single(3.0), count)
    assert grew.verdict == "regression" and grew.ratio is None and grew.change == math.inf
    same = compare(single(0.0), single(0.0), count)
    assert same.verdict == "unchanged" and same.change == 0.0 and same.ratio is None
    # an absolute floor silences tiny changes around zero
    floored = compare(single(0.0), single(3.0), policy_for("memory", False, tolerance_abs=1024))
    assert floored.verdict == "unchanged"
    with_samples = compare(Observation(0.0, samples=[0.0] * 6), Observation(1.0, samples=[1.0] * 6), count)
    assert with_samples.method == "mann-whitney" and with_samples.verdict == "regression"


def test_negative_baseline_keeps_direction():
    c = compare(single(-2.0), single(-1.0), policy_for("count", True))  # rose from -2 to -1
    assert c.change == pytest.approx(0.5) and c.ratio is None
    assert c.verdict == "improvement"


# --- state and policies --------------------------------------------------------------------------


def test_state_never_regresses():
    for policy in (policy_for("state", False), policy_for("state", True, threshold=0.0)):
        c = compare(noisy(1980.0, 0.001, 20, 7), noisy(1200.0, 0.001, 20, 8), policy)
        assert c.verdict == "unchanged" and not c.significant
        assert "never" in c.reason


DEFAULT_THRESHOLDS = {name: kind.threshold for name, kind in KINDS.items()}


def test_policy_for_defaults():
    assert DEFAULT_THRESHOLDS["time"] == 0.05
    assert DEFAULT_THRESHOLDS["throughput"] == 0.05
    assert DEFAULT_THRESHOLDS["memory"] == 0.02
    assert DEFAULT_THRESHOLDS["energy"] == 0.05
    assert DEFAULT_THRESHOLDS["count"] == 0.0
    assert math.isinf(DEFAULT_THRESHOLDS["state"])
    for kind, threshold in DEFAULT_THRESHOLDS.items():
        policy = policy_for(kind, False)
        assert policy.kind == kind and policy.threshold == threshold and policy.alpha == 0.01
    assert policy_for("time", False, threshold=0.1).threshold == 0.1
    assert policy_for(None, False).kind == "time"
    assert policy_for("throughput", None).higher_is_better is True
    assert policy_for("time", None).higher_is_better is False
    accuracy = policy_for("accuracy", True, tolerance_abs=1e-3)
    assert accuracy.tolerance_abs == 1e-3 and accuracy.tolerance_rel is None
    assert policy_for("time", False).tolerance_rel is None
    with pytest.raises(ValueError):
        policy_for("latency", False)
    with pytest.raises(ValueError):
        policy_for("time", False, threshold=-0.1)
    with pytest.raises(ValueError):
        Policy(higher_is_better=False, kind="time", threshold=0.05, alpha=1.5)


def test_comparison_is_a_plain_value():
    c = compare(single(1.0), single(1.1), TIME)
    assert isinstance(c, Comparison)
    assert isinstance(c.reason, str) and c.reason.endswith(".")
