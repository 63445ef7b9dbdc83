"""machmeter.detect.runs: base vs head with the run as the unit; the prior when nothing can be
estimated, Student's t on the runs' spread (and the history's), Benjamini-Hochberg across a comparison."""

from __future__ import annotations

import math

import pytest
from scipy.stats import t

from machmeter.detect.noise import NOISE_MULTIPLIERS, RunToRunNoise
from machmeter.detect.runs import PRIOR_Z, adjust_p_values, history_degrees_of_freedom, prior_floor, run_evidence
from machmeter.kinds import KINDS


def test_one_run_a_side_and_no_history_leaves_the_prior_to_judge():
    evidence = run_evidence([1.0], [1.2], "time")
    assert evidence.method == "prior" and evidence.p_value is None and evidence.sigma is None
    assert evidence.degrees_of_freedom == 0.0 and evidence.standard_error is None
    assert evidence.change == pytest.approx(0.2) and "time prior" in evidence.basis


def test_the_prior_floor_follows_the_kinds_prior():
    assert prior_floor("time") == pytest.approx(PRIOR_Z * math.sqrt(2) * KINDS["time"].prior_sigma)
    assert prior_floor("memory") < prior_floor("time")  # the allocator's peak repeats
    assert prior_floor("accuracy") is None and prior_floor("no-such-kind") is None


def test_the_levels_are_the_medians_of_the_runs():
    evidence = run_evidence([1.0, 1.1, 5.0], [2.0, 2.1, 2.2], "time")
    assert (evidence.before, evidence.after, evidence.runs) == (1.1, 2.1, (3, 3))


def test_a_shift_far_beyond_the_runs_spread_is_significant_and_noise_is_not():
    shifted = run_evidence([1.00, 1.01, 0.99, 1.00], [1.20, 1.21, 1.19, 1.20], "time")
    noise = run_evidence([1.00, 1.10, 0.90, 1.05], [1.02, 0.95, 1.08, 0.97], "time")
    assert shifted.method == "runs-t" and shifted.degrees_of_freedom == 6 and shifted.p_value < 1e-6
    assert noise.p_value > 0.5 and shifted.basis == "4+4 runs"


def test_identical_runs_are_exact():
    assert run_evidence([2.0, 2.0], [2.0, 2.0], "memory").p_value == 1.0
    assert run_evidence([2.0, 2.0], [2.5, 2.5], "memory").p_value == 0.0


def test_the_history_adds_its_noise_and_degrees_of_freedom():
    noise = RunToRunNoise(sigma=0.01, runs=30)
    alone = run_evidence([1.0], [1.05], "time", noise)
    assert alone.method == "runs-t" and alone.basis == "30 earlier runs"
    assert alone.degrees_of_freedom == pytest.approx(history_degrees_of_freedom(30))
    assert alone.sigma == pytest.approx(0.01) and alone.p_value < 0.01
    # a noisier history makes the same change less certain
    assert run_evidence([1.0], [1.05], "time", RunToRunNoise(sigma=0.05, runs=30)).p_value > alone.p_value


@pytest.mark.parametrize("runs", [4, 10, 30, 100])
def test_history_degrees_of_freedom_reproduce_the_calibrated_multipliers(runs):
    multiplier = NOISE_MULTIPLIERS[min(runs - 1, max(NOISE_MULTIPLIERS))]
    assert t.ppf(0.995, history_degrees_of_freedom(runs)) * math.sqrt(2) == pytest.approx(multiplier, rel=1e-6)


def test_benjamini_hochberg_in_input_order():
    assert adjust_p_values([]) == []
    # ranked 0.01, 0.03, 0.04, 0.5 -> p * 4 / rank = 0.04, 0.06, 0.053, 0.5; each the minimum of those above it
    assert adjust_p_values([0.04, 0.01, 0.03, 0.5]) == pytest.approx([0.04 * 4 / 3, 0.04, 0.04 * 4 / 3, 0.5])
    assert adjust_p_values([0.9, 0.9, 0.9]) == pytest.approx([0.9, 0.9, 0.9])
    assert max(adjust_p_values([0.6, 0.8, 0.99])) <= 1.0


def _power(runs: int, change: float, sigma: float, confidence: float, trials: int = 4000) -> float:
    """How often runs of relative noise ``sigma`` a side find a true ``change`` at ``confidence``."""
    import numpy as np

    generator = np.random.default_rng(7)
    found = 0
    for _ in range(trials):
        before = 1.0 + sigma * generator.standard_normal(runs)
        after = (1.0 + change) * (1.0 + sigma * generator.standard_normal(runs))
        found += run_evidence(list(before), list(after), "time").p_value <= 1.0 - confidence
    return found / trials


def test_what_the_runs_resolve_is_found_four_times_in_five():
    import numpy as np

    generator = np.random.default_rng(3)
    evidence = run_evidence(list(1.0 + 0.06 * generator.standard_normal(3)),
                            list(1.0 + 0.06 * generator.standard_normal(3)), "time")
    reach = evidence.detectable(0.95)
    # about t quantiles at the runs' degrees of freedom times the standard error of the difference
    assert reach == pytest.approx((t.ppf(0.975, 4) + t.ppf(0.8, 4)) * evidence.standard_error, rel=0.1)
    # a change of that size, under noise of the runs' own estimate, is found at about the stated power
    assert 0.7 < _power(3, reach, evidence.sigma, 0.95) < 0.9
    assert _power(3, reach / 3, evidence.sigma, 0.95) < 0.4  # and a smaller one is not


def test_more_runs_resolve_smaller_changes_and_the_prior_alone_resolves_none():
    two = run_evidence([1.0, 1.1], [1.0, 1.1], "time").detectable(0.95)
    eight = run_evidence([1.0, 1.1] * 4, [1.0, 1.1] * 4, "time").detectable(0.95)
    assert eight < two / 4  # the standard error halves and the t quantiles shrink from 2 to 14 df
    assert run_evidence([1.0], [1.2], "time").detectable(0.95) is None
    assert run_evidence([1.0], [1.2], "time").runs_needed(0.2, 0.95) is None


@pytest.mark.parametrize("sigma, change", [(0.10, 0.10), (0.10, 0.05)])
def test_the_runs_needed_find_the_change_at_about_the_stated_power(sigma, change):
    evidence = run_evidence([1.0 - sigma, 1.0, 1.0 + sigma], [1.0 - sigma, 1.0, 1.0 + sigma], "time")
    needed = evidence.runs_needed(change, 0.95)
    # 2 (z_0.975 + z_0.8)^2 (sigma / change)^2 with the runs' own sigma: 5% at 10% noise takes ~60 a side
    assert needed == math.ceil(2 * (1.959964 + 0.841621) ** 2 * (evidence.sigma / change) ** 2)
    assert 0.7 < _power(needed, change, evidence.sigma, 0.95, trials=1500) < 0.9
