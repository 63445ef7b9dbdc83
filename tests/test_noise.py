"""Run-to-run noise: its estimate, its calibration, and the floor it sets under a pull request's verdict."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from machmeter.cli import main
from machmeter.detect.compare import Observation, compare, policy_for
from machmeter.detect.noise import (MIN_NOISE_RUNS, NOISE_ALPHA, NOISE_MULTIPLIERS, NOISE_WINDOW, RunToRunNoise,
                                    run_to_run_noise)
from scripts.check_speed import make_repository
from tests.asv_project import git


def test_too_few_runs_or_a_zero_level_give_no_estimate():
    assert run_to_run_noise([1.0, 1.1, 0.9]) is None
    # failed (None) and skipped (NaN) runs do not count
    assert run_to_run_noise([1.0, None, 1.1, math.nan, 0.9]) is None
    assert run_to_run_noise([0.0, 0.0, 0.0, 0.0]) is None
    assert run_to_run_noise([1.0, 1.1, 0.9, 1.0]) is not None


def test_sigma_of_a_known_noise_and_robust_to_a_step():
    rng = np.random.default_rng(3)
    values = 10.0 * (1 + 0.03 * rng.standard_normal(NOISE_WINDOW))
    noise = run_to_run_noise(values)
    assert noise.runs == NOISE_WINDOW
    assert 0.02 < noise.sigma < 0.045
    # a real 30 % step half-way changes one difference: the estimate barely moves
    stepped = np.concatenate([values[:15], 1.3 * values[15:]])
    assert run_to_run_noise(stepped).sigma < 1.3 * noise.sigma
    # only the newest NOISE_WINDOW runs count: very noisy old runs are forgotten
    old = 10.0 * (1 + 0.5 * rng.standard_normal(40))
    assert run_to_run_noise(list(old) + list(values)).sigma == pytest.approx(noise.sigma)


@pytest.mark.parametrize("runs", [MIN_NOISE_RUNS, 8, 15, NOISE_WINDOW])
def test_the_multipliers_let_about_one_unchanged_series_in_a_hundred_through(runs):
    # A/A: `runs` earlier runs and two more of the same code; normal noise. The table promises that
    # |a - b| passes the floor with probability NOISE_ALPHA.
    rng = np.random.default_rng(runs)
    trials = 40_000
    history = 1.0 + 0.02 * rng.standard_normal((trials, runs))
    pair = 1.0 + 0.02 * rng.standard_normal((trials, 2))
    sigma = np.median(np.abs(np.diff(history, axis=1)), axis=1) / np.median(history, axis=1) / (0.6745 * math.sqrt(2))
    floor = NOISE_MULTIPLIERS[runs - 1] * sigma
    passed = np.mean(np.abs(pair[:, 1] - pair[:, 0]) / pair[:, 0] >= floor)
    assert 0.5 * NOISE_ALPHA < passed < 1.6 * NOISE_ALPHA
    assert RunToRunNoise(sigma=0.02, runs=runs).floor == pytest.approx(NOISE_MULTIPLIERS[runs - 1] * 0.02)


def _tight(value, n=40, spread=0.002, seed=0):
    samples = value * (1 + spread * np.random.default_rng(seed).standard_normal(n))
    return Observation(value=float(np.median(samples)), samples=samples.tolist())


def test_a_significant_change_inside_the_noise_floor_is_unchanged_and_says_why():
    before, after = _tight(2.3), _tight(2.3 * 1.10, seed=1)  # +10 %, p ~ 0 within the run
    policy = policy_for("time", False)
    assert compare(before, after, policy).verdict == "regression"
    verdict = compare(before, after, replace(policy, noise=RunToRunNoise(sigma=0.04, runs=20)))
    assert verdict.verdict == "unchanged" and verdict.significant
    # 20 runs: 19 differences, multiplier 4.7
    assert "run-to-run noise floor 18.8%" in verdict.reason and "20 earlier runs" in verdict.reason
    quiet = replace(policy, noise=RunToRunNoise(sigma=0.005, runs=20))
    assert compare(before, after, quiet).verdict == "regression"  # a floor under the threshold changes nothing


def test_a_students_accuracy_is_judged_beyond_its_run_to_run_noise_too():
    # SevenNet's TF32 energy error per atom over seven H200 runs of unchanged code (docs/sample-results)
    history = [7.72e-05, 7.32e-05, 6.49e-05, 6.62e-05, 9.43e-05, 7.96e-05]
    policy = policy_for("accuracy", False, tolerance_abs=1e-5, tolerance_rel=0.5)
    before, after = Observation(6.64e-05), Observation(1.079e-04)  # +62.6 %: beyond the 50 % tolerance
    assert compare(before, after, policy).verdict == "regression"
    verdict = compare(before, after, replace(policy, noise=run_to_run_noise(history)))
    assert verdict.verdict == "unchanged" and "run-to-run noise floor" in verdict.reason
    # a deterministic error (the same number every run) keeps its declared tolerance
    steady = replace(policy, noise=run_to_run_noise([1e-3] * 6))
    assert steady.noise.floor == 0 and compare(Observation(1e-3), Observation(2e-3), steady).verdict == "regression"


# --------------------------------------------------------------------------------------------------
# machmeter check --base/--head on asv result files of a real git repository


def _write_results(results_dir, machine, commits_values, fingerprints=None):
    """asv result files (through asv's own Results) of one time benchmark, 40 samples a run; each run
    with its fingerprint (``fingerprints[commit]``, merged into asv's params)."""
    from asv.results import Results
    from asv.runner import BenchmarkResult

    benchmark = {"name": "bench.time_step", "type": "time", "unit": "seconds", "param_names": [], "params": [],
                 "version": "1", "timeout": 60}
    (results_dir / machine).mkdir(parents=True, exist_ok=True)
    (results_dir / "benchmarks.json").write_text(json.dumps({"bench.time_step": benchmark, "version": 2}))
    (results_dir / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    for index, (commit, (value, seed)) in enumerate(commits_values):
        samples = (value * (1 + 0.002 * np.random.default_rng(seed).standard_normal(40))).tolist()
        params = {"machine": machine, "python": "3.12", **(fingerprints or {}).get(commit, {})}
        result = Results(params, {}, commit, 1_700_000_000_000 + index * 60_000,
                         "3.12", "host-py3.12", {})
        result.add_result(benchmark, BenchmarkResult(result=[float(np.median(samples))], samples=[samples],
                                                     number=[1], errcode=0, stderr="", profile=None),
                          record_samples=True)
        result.save(str(results_dir))


def _project(root, n_commits: int) -> list[str]:
    """An asv project in ``root``: a repository of ``n_commits`` empty commits on main (their hashes,
    oldest first) and an asv.conf.json whose results go to ``root/results``."""
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "repo",
                                                    "results_dir": "results", "branches": ["main"]}))
    return make_repository(str(root / "repo"), n_commits)


@pytest.fixture
def noisy_history(tmp_path):
    """Twelve commits of unchanged code whose runs differ by ~4 % (a launch-bound GPU step), each
    run's own samples 0.2 % apart; the last two commits are a pull request's base and head, 10 % apart."""
    commits = _project(tmp_path, 12)
    levels = 2.3e-3 * (1 + 0.04 * np.random.default_rng(11).standard_normal(10))
    values = [(float(v), i) for i, v in enumerate(levels)] + [(2.3e-3, 100), (2.3e-3 * 1.10, 101)]
    _write_results(tmp_path / "results", "gpu-a", list(zip(commits, values)))
    return tmp_path, commits


def _check(root, base, head, capsys):
    status = main(["check", "--config", str(root / "asv.conf.json"), "--base", base, "--head", head,
                   "--format", "json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


def test_pull_request_check_judges_against_the_nightly_noise(noisy_history, capsys):
    root, commits = noisy_history
    status, report, err = _check(root, commits[-2], commits[-1], capsys)
    assert status == 0 and report["regressions"] == [], report
    assert "noise estimate" not in err  # the history gave this series its noise estimate


def test_without_earlier_runs_a_change_inside_the_prior_is_inconclusive(noisy_history, capsys):
    root, commits = noisy_history
    for commit in commits[:-2]:  # the nightly results were not restored on this runner
        for path in (root / "results" / "gpu-a").glob(f"{commit[:8]}-*.json"):
            path.unlink()
    status, report, err = _check(root, commits[-2], commits[-1], capsys)
    # +10% between two single runs with tight samples: a within-run test calls it certain; two processes
    # of unchanged code differ by that much on a GPU, so it is inconclusive and never a FAIL
    assert status == 0 and report["regressions"] == []
    assert [c["change"] for c in report["inconclusive"]] == [pytest.approx(0.10, abs=0.01)]
    assert "1 of 1 measured series have one run a side and no run-to-run noise estimate (fewer than 4 earlier runs" in err
    assert any("no run-to-run noise estimate" in w for w in report["warnings"])


def test_runs_on_other_hardware_are_named_in_a_warning(noisy_history, capsys):
    root, commits = noisy_history
    base, head = commits[-2:]
    fingerprints = {base: {"gpu": "NVIDIA H200", "gpu_uuid": "GPU-aaaa", "gpu_driver": "580.1"},
                    head: {"gpu": "NVIDIA H200", "gpu_uuid": "GPU-bbbb", "gpu_driver": "580.1"}}
    values = [(2.3e-3, 100), (2.3e-3, 101)]
    _write_results(root / "results", "gpu-a", [(base, values[0]), (head, values[1])], fingerprints)
    _, report, err = _check(root, base, head, capsys)
    warning = "gpu-a: base and head ran on different machines or software (UUID GPU-aaaa -> GPU-bbbb)"
    assert warning in err and any(w.startswith(warning) for w in report["warnings"])
    assert "driver" not in err  # the same on both sides


def test_a_detached_head_without_a_local_branch_still_finds_the_nightly_runs(noisy_history, capsys):
    # what actions/checkout leaves in a pull-request job: the head detached, main only as origin/main
    root, commits = noisy_history
    repo = root / "repo"
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    git(repo, "branch", "-D", "main")
    status, report, err = _check(root, commits[-2], commits[-1], capsys)
    assert status == 0 and report["regressions"] == [] and "noise estimate" not in err
    # no remote-tracking branch either: the base's own first-parent ancestry holds the nightly runs
    git(repo, "update-ref", "-d", "refs/remotes/origin/main")
    status, report, err = _check(root, commits[-2], commits[-1], capsys)
    assert status == 0 and report["regressions"] == [] and "noise estimate" not in err


def test_a_sparse_machine_gets_its_own_newest_runs_and_only_the_checked_machine_is_warned_about(tmp_path, capsys):
    commits = _project(tmp_path, 44)
    rng = np.random.default_rng(5)
    busy = [(c, (2.3e-3 * (1 + 0.04 * rng.standard_normal()), i)) for i, c in enumerate(commits[:-2])]
    # the second machine ran the first ten nights only: further back than the busy one's newest 30 runs
    sparse = [(c, (2.3e-3 * (1 + 0.04 * rng.standard_normal()), i)) for i, c in enumerate(commits[:10])]
    pull_request = [(commits[-2], (2.3e-3, 100)), (commits[-1], (2.3e-3 * 1.10, 101))]
    other_cards = {commits[-2]: {"gpu_uuid": "GPU-1"}, commits[-1]: {"gpu_uuid": "GPU-2"}}
    _write_results(tmp_path / "results", "busy", busy + pull_request, other_cards)
    _write_results(tmp_path / "results", "sparse", sparse + pull_request)
    status, report, err = _check(tmp_path, commits[-2], commits[-1], capsys)
    assert status == 0 and "noise estimate" not in err, err
    assert "busy: base and head ran on different machines" in err
    main(["check", "--config", str(tmp_path / "asv.conf.json"), "--base", commits[-2], "--head", commits[-1],
          "--machine", "sparse"])
    assert "different machines" not in capsys.readouterr().err


def test_series_skipped_at_base_or_head_need_no_noise_estimate():
    from machmeter.config import MachmeterConfig
    from machmeter.detect.engine import check_revisions, run_to_run_noises
    from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet
    from machmeter.series import build_series

    commits = [f"c{i}" for i in range(12)]
    rng = np.random.default_rng(2)
    points = [ResultPoint("b.time_measured", {}, "m", "e", c, i, float(1 + 0.02 * rng.standard_normal()))
              for i, c in enumerate(commits)]
    points += [ResultPoint("b.time_skipped", {}, "m", "e", c, i, math.nan) for i, c in enumerate(commits)]
    timings = {name: BenchmarkInfo(name=name, type="time", unit="seconds", param_names=(), params=(), version=None,
                                   higher_is_better=None, metric_kind=None, attributes={})
               for name in ("b.time_measured", "b.time_skipped")}
    series = build_series(ResultSet(timings, {}, points, []), commits, MachmeterConfig())
    assert {s.meaning.kind for s in series} == {"time"}
    history = build_series(ResultSet(timings, {}, [p for p in points if p.commit not in commits[-2:]], []),
                           commits[:-2], MachmeterConfig())
    report = check_revisions(series, commits[-2], commits[-1], MachmeterConfig(), [], run_to_run_noises(history))
    assert report.skipped == 1 and report.warnings == []
