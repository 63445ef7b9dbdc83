"""History mode on run-level noise: environment shifts (machmeter.detect.shifts), flips between two
states and the confidence gate (machmeter.detect.changepoints, machmeter.detect.engine.check_history)."""

from __future__ import annotations

import numpy as np

from machmeter.config import MachmeterConfig
from machmeter.detect.changepoints import find_change_points, flip_amplitude, flip_amplitude_between_steps
from machmeter.detect.engine import check_history
from machmeter.detect.shifts import run_differences
from machmeter.results import RunRecord
from machmeter.series import Meaning, Series, SeriesKey

N, AT = 60, 40  # commits, and where the environment (or the code) changes
COMMITS = [f"{i:040x}" for i in range(1, N + 1)]
HOUR = 3_600_000
FINGERPRINT = {"machine": "runner", "gpu": "NVIDIA H100", "gpu_driver": "550.54", "cuda": "12.4", "python": "3.11"}
TIME = Meaning("seconds", False, "time", "default")


def _series(name, machine="runner", env="host-py3.11", step=0.10, seed=0, at=AT):
    rng = np.random.default_rng(seed)
    values = 1e-3 * np.exp(0.005 * rng.standard_normal(N))
    values[at:] *= 1 + step
    return Series(SeriesKey(f"suite.{name}", (), machine, env, None), TIME, list(COMMITS), [float(v) for v in values])


def _runs(machine="runner", env="host-py3.11", changed=None, gap_days=0.0):
    """Hourly runs with FINGERPRINT; from AT on the fingerprint ``changed`` and the runs ``gap_days`` later."""
    runs = {}
    for i, commit in enumerate(COMMITS):
        params = dict(FINGERPRINT, **(changed or {})) if i >= AT else dict(FINGERPRINT)
        started = i * HOUR + (int(gap_days * 24 * HOUR) if i >= AT else 0)
        runs[(machine, env, commit)] = RunRecord(params, started)
    return runs


def _check(series, runs):
    return check_history(series, MachmeterConfig(), [], runs, COMMITS)


def test_a_driver_change_that_moves_every_series_is_one_shift_and_does_not_fail():
    series = [_series(f"b{i}", seed=i) for i in range(8)]
    report = _check(series, _runs(changed={"gpu_driver": "560.28"}))
    assert not report.regressions and not report.failed
    (shift,) = report.environment_shifts
    assert shift.series_count == 8 and shift.commit == COMMITS[AT] and shift.regressions == 8
    assert ("driver", "550.54", "560.28") in shift.fingerprint_difference
    assert "driver 550.54 -> 560.28" in shift.evidence[0]
    assert any("environment shift" in w for w in report.warnings)


def test_a_fingerprint_change_under_one_series_is_a_shift_too():
    report = _check([_series("only")], _runs(changed={"python": "3.12"}))
    assert not report.regressions and report.environment_shifts[0].fingerprint_difference == [("python", "3.11", "3.12")]


def test_a_commit_benchmarked_weeks_after_its_parent_is_a_shift():
    series = [_series(f"b{i}", seed=i) for i in range(6)]
    report = _check(series, _runs(gap_days=60))
    assert not report.regressions
    assert "60 days apart (usually 1.0 h)" in report.environment_shifts[0].evidence[0]


def test_many_series_moving_together_without_evidence_are_the_codes_and_fail():
    """A commit that slows a kernel every benchmark calls moves them all at once: same fingerprint and
    regular runs say nothing changed but the code, so it must fail."""
    series = [_series(f"b{i}", seed=i) for i in range(8)]
    report = _check(series, _runs())
    assert len(report.regressions) == 8 and report.failed and not report.environment_shifts
    assert "one of 8 series of runner that moved at this commit" in report.regressions[0].reason


def test_only_one_machine_moving_while_the_others_measured_the_same_commits_is_a_shift():
    moved = [_series(f"b{i}", machine="gpu-a", seed=i) for i in range(6)]
    still = [_series(f"b{i}", machine="gpu-b", seed=10 + i, step=0.0) for i in range(6)]
    runs = {**_runs(machine="gpu-a"), **_runs(machine="gpu-b")}
    report = _check(moved + still, runs)
    assert not report.regressions
    (shift,) = report.environment_shifts
    assert shift.machine == "gpu-a" and "6 of 6 of the same series in other environments" in shift.evidence[0]


def test_the_same_change_on_every_machine_is_the_codes_even_if_a_driver_changed():
    series = [_series(f"b{i}", machine=m, seed=i + 10 * k) for k, m in enumerate(("gpu-a", "gpu-b")) for i in range(6)]
    runs = {**_runs(machine="gpu-a", changed={"gpu_driver": "560.28"}), **_runs(machine="gpu-b")}
    report = _check(series, runs)
    assert len(report.regressions) == 12 and not report.environment_shifts


def test_run_differences_name_fingerprint_fields_and_other_parameters_but_not_the_machine_name():
    before = {"machine": "a", "gpu_driver": "550", "python": "3.11", "num_cpu": "8"}
    after = {"machine": "b", "gpu_driver": "560", "python": "3.12", "num_cpu": "8"}
    assert run_differences(before, after) == [("driver", "550", "560"), ("python", "3.11", "3.12")]


def _flipping(states, gap=0.03, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    levels = np.concatenate([np.full(length, 1.0 + gap * state) for state, length in states])
    return list(levels * np.exp(noise * rng.standard_normal(levels.size)))


def test_a_series_flipping_between_two_states_reports_no_change():
    values = _flipping([(0, 30), (1, 25), (0, 35), (1, 20), (0, 30), (1, 30)])
    assert flip_amplitude([0.0, 0.03, 0.0, 0.03, 0.0, 0.03]) > 0.02
    assert find_change_points(values, min_relative_change=0.02) == []


def test_a_regression_and_its_fix_are_two_changes_not_a_flip():
    values = _flipping([(0, 40), (1, 40), (0, 40)])
    points = find_change_points(values, min_relative_change=0.02)
    assert [p.index for p in points] == [40, 80] and points[0].relative_change > 0.025


def test_a_real_step_in_a_flipping_series_beyond_the_flips_is_still_found():
    quiet = _flipping([(0, 30), (1, 25), (0, 30), (1, 25)], seed=1)
    slow = [v * 1.15 for v in _flipping([(0, 25), (1, 30), (0, 25), (1, 30)], seed=2)]
    points = find_change_points(quiet + slow, min_relative_change=0.02)
    assert any(abs(p.index - 110) <= 1 and p.relative_change > 0.1 for p in points)


def test_flips_that_go_on_across_a_real_step_are_flips_and_the_step_is_found():
    before = _flipping([(0, 30), (1, 25), (0, 30)], seed=1)
    after = [v * 1.2 for v in _flipping([(1, 25), (0, 30), (1, 25)], seed=2)]
    # no swing repeats at the same levels: the step moved them all
    assert flip_amplitude([0.0, 0.03, 0.0, 0.2, 0.23, 0.2]) == 0.0
    assert abs(flip_amplitude_between_steps([0.0, 0.03, 0.0, 0.2, 0.23, 0.2]) - 0.03) < 1e-9
    points = find_change_points(before + after, min_relative_change=0.02)
    assert [(p.index, round(p.relative_change, 2)) for p in points] == [(85, 0.24)]


def test_a_regression_and_its_fix_beside_a_step_stay_changes():
    # one swing of 5 % before a big step, none after: nothing repeats, nothing is a flip
    assert flip_amplitude_between_steps([0.0, 0.05, 0.0, 0.2, 0.21]) == 0.0
    values = _flipping([(0, 40), (1, 40), (0, 40)], gap=0.05) + [1.2 * v for v in _flipping([(0, 40)], seed=4)]
    points = find_change_points(values, min_relative_change=0.02)
    assert [p.index for p in points] == [40, 80, 120]


def test_a_change_below_the_confidence_is_inconclusive_and_does_not_fail():
    # four runs against three: the most a rank test can say of them is 1 - 2/35 = 0.943
    values = [1.0] * 4 + [1.1] * 3
    rng = np.random.default_rng(3)
    values = [v * (1 + 0.002 * rng.standard_normal()) for v in values]
    series = Series(SeriesKey("suite.short", (), "runner", "env", None), TIME, COMMITS[:7], values)
    report = check_history([series], MachmeterConfig(), [])
    assert not report.regressions and not report.failed
    assert report.inconclusive and "below the 95% required" in report.inconclusive[0].reason


def test_a_regression_is_still_open_until_its_series_comes_back_half_way():
    rng = np.random.default_rng(5)
    fixed = [1.0] * 30 + [1.2] * 30 + [1.02] * 30      # regression, then fixed
    kept = [1.0] * 30 + [1.2] * 30 + [1.15] * 30       # regression, then a smaller improvement
    series = [Series(SeriesKey(f"suite.{name}", (), "runner", "env", None), TIME, [f"{i:040x}" for i in range(90)],
                     [v * (1 + 0.002 * rng.standard_normal()) for v in values]) for name, values in (("fixed", fixed), ("kept", kept))]
    report = check_history(series, MachmeterConfig(), [])
    state = {c.benchmark: c.still_open for c in report.regressions}
    assert state == {"suite.fixed": False, "suite.kept": True}
