"""Verdicts that explain (machmeter.detect.explain wired into machmeter.detect.engine.check_revisions):
a pull request's wall-time change paired with the counter series of the same suite class, params and
machine, from hand-built series."""

from __future__ import annotations

import math
import re

from machmeter.config import MachmeterConfig
from machmeter.detect.engine import check_revisions
from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet
from machmeter.series import build_series

BASE, HEAD = "a" * 40, "b" * 40
PARAMS = {"n_atoms": "64", "device": "'cuda'"}
SUITE = "benchmarks.MD"


def _info(name, type_, unit, metric_kind=None, **attributes):
    return BenchmarkInfo(name=name, type=type_, unit=unit, param_names=tuple(PARAMS), params=(), version=None,
                         higher_is_better=None, metric_kind=metric_kind, attributes=attributes)


INFOS = {info.name: info for info in (
    _info(f"{SUITE}.time_md_step", "time", "seconds"),
    _info(f"{SUITE}.track_steps_per_second", "track", "steps/s", "throughput"),
    _info(f"{SUITE}.track_kernels_per_call", "track", "kernels", "count"),
    _info(f"{SUITE}.track_aten_ops_per_call", "track", "ops", "count"),
    _info(f"{SUITE}.track_gpu_kernel_time_per_call", "track", "us", "time", regression_threshold=0.01),
)}


def _point(method, commit, value, runs=None, params=PARAMS):
    return ResultPoint(f"{SUITE}.{method}", params, "h200", "host-py3.11", commit, 0, value, runs=runs)


def _report(base: dict, head: dict, wall=(2.90e-3, 3.10e-3)):
    """A wall-time regression (three runs a side, far beyond their spread) and the given counters."""
    spread = (1.0, 1.003, 0.997)
    points = [_point("time_md_step", commit, level, runs=[level * s for s in spread])
              for commit, level in ((BASE, wall[0]), (HEAD, wall[1]))]
    # a list is that counter's value in each run (machmeter run-pr's archive), its median asv's value
    for commit, values in ((BASE, base), (HEAD, head)):
        points += [_point(method, commit, sorted(value)[len(value) // 2], runs=list(value)) if isinstance(value, list)
                   else _point(method, commit, value) for method, value in values.items()]
    series = build_series(ResultSet(INFOS, {}, points, []), [BASE, HEAD], MachmeterConfig())
    return check_revisions(series, BASE, HEAD, MachmeterConfig(), [])


def _wall(report):
    [change] = [c for c in report.regressions + report.inconclusive if c.benchmark.endswith("time_md_step")]
    return change


def test_a_wall_time_regression_with_one_more_kernel_says_the_gpu_does_more_work():
    report = _report({"track_kernels_per_call": 134.0, "track_gpu_kernel_time_per_call": 100.0},
                     {"track_kernels_per_call": 135.0, "track_gpu_kernel_time_per_call": 217.0})
    wall = _wall(report)
    assert wall in report.regressions
    assert wall.explanation == "wall +7%, GPU kernel time +117%, kernels 134 -> 135: the GPU does more work"
    # the counters are changes of their own (a count compared exactly), not explained by themselves
    counters = {c.benchmark.rpartition(".")[2]: c for c in report.regressions if c is not wall}
    assert counters["track_kernels_per_call"].kind == "count"
    assert all(c.explanation is None for c in counters.values())


def test_unchanged_counters_on_a_gpu_point_at_the_host_and_keep_the_verdict():
    counters = {"track_kernels_per_call": 134.0, "track_gpu_kernel_time_per_call": 212.7,
                "track_aten_ops_per_call": 57.0}
    # GPU kernel time within its own 1% threshold (0.2% between processes) is unchanged
    report = _report(counters, {**counters, "track_gpu_kernel_time_per_call": 213.1})
    wall = _wall(report)
    assert wall in report.regressions and report.failed
    assert wall.explanation == "wall +7%, counters unchanged: host side or noise"
    assert [c.benchmark for c in report.regressions] == [wall.benchmark]


def test_a_wall_time_change_without_counter_series_says_so():
    report = _report({}, {})
    assert _wall(report).explanation == "wall +7%: no counters to explain it"


def test_counters_of_other_params_or_skipped_ones_do_not_explain():
    nan = {"track_kernels_per_call": math.nan, "track_gpu_kernel_time_per_call": math.nan}
    assert _wall(_report(nan, nan)).explanation == "wall +7%: no counters to explain it"
    other = {**PARAMS, "n_atoms": "512"}
    points = [_point("time_md_step", c, v, runs=[v, v * 1.003, v * 0.997]) for c, v in ((BASE, 1.0), (HEAD, 1.1))]
    points += [_point("track_kernels_per_call", c, v, params=other) for c, v in ((BASE, 1.0), (HEAD, 2.0))]
    series = build_series(ResultSet(INFOS, {}, points, []), [BASE, HEAD], MachmeterConfig())
    report = check_revisions(series, BASE, HEAD, MachmeterConfig(), [])
    assert _wall(report).explanation == "wall +10%: no counters to explain it"


def test_a_throughput_drop_is_explained_as_its_wall_time_and_on_a_cpu_aten_ops_only():
    spread = (1.0, 1.003, 0.997)
    points = [_point("track_steps_per_second", c, v, runs=[v * s for s in spread])
              for c, v in ((BASE, 1000.0), (HEAD, 800.0))]
    points += [_point("track_aten_ops_per_call", c, v) for c, v in ((BASE, 57.0), (HEAD, 60.0))]
    points += [_point("track_kernels_per_call", c, math.nan) for c in (BASE, HEAD)]
    series = build_series(ResultSet(INFOS, {}, points, []), [BASE, HEAD], MachmeterConfig())
    report = check_revisions(series, BASE, HEAD, MachmeterConfig(), [])
    [rate] = [c for c in report.regressions if c.kind == "throughput"]
    assert rate.explanation == "wall +25%, aten ops 57 -> 60: more operators dispatched"


def test_a_count_that_varies_between_runs_is_judged_on_its_runs_and_explains_only_when_it_moved():
    """On an H200 an MD step's kernels per call came out 135.6 in one run and 135.3 in the next (the
    profiled window catches a neighbour-list rebuild or not): identical code must not read as a change,
    and one extra kernel per call must."""
    from machmeter.detect.explain import explain

    base_runs, same_runs, one_more = [135.6, 135.3, 135.6], [135.3, 135.3, 135.6], [136.4, 136.6, 136.3]
    same = _report({"track_kernels_per_call": base_runs}, {"track_kernels_per_call": same_runs})
    assert not [c for c in same.regressions + same.improvements if c.benchmark.endswith("track_kernels_per_call")]
    slower = _report({"track_kernels_per_call": base_runs}, {"track_kernels_per_call": one_more})
    [kernels] = [c for c in slower.regressions if c.benchmark.endswith("track_kernels_per_call")]
    assert kernels.method == "runs-t" and kernels.confidence >= 0.95
    # the explanation follows the verdict, not the two numbers
    text = explain(0.1, {"track_kernels_per_call": 135.6}, {"track_kernels_per_call": 135.3}, changed=set())
    assert text.endswith("counters unchanged: host side or noise")
    # a count every run agrees on stays exact: one kernel more is a fact
    exact = _report({"track_kernels_per_call": [134.0, 134.0]}, {"track_kernels_per_call": [135.0, 135.0]})
    [fact] = [c for c in exact.regressions if c.benchmark.endswith("track_kernels_per_call")]
    assert fact.method != "runs-t"


def test_an_inconclusive_change_says_what_its_runs_resolve_and_how_many_would_settle_it():
    spread = (0.85, 1.0, 1.15)  # 15% run-to-run noise: a 5% move is noise to three runs a side
    points = [_point("time_md_step", commit, level, runs=[level * s for s in spread])
              for commit, level in ((BASE, 3.0e-3), (HEAD, 3.15e-3))]
    series = build_series(ResultSet(INFOS, {}, points, []), [BASE, HEAD], MachmeterConfig())
    report = check_revisions(series, BASE, HEAD, MachmeterConfig(), [])
    [change] = report.inconclusive
    assert not report.regressions and 0.3 < change.detectable < 0.6
    assert f"these runs resolve about {change.detectable:.0%}" in change.reason
    needed = re.search(r"about (\d+) runs a side would resolve 5%", change.reason)
    assert needed and 130 < int(needed[1]) < 170  # 2 (1.96 + 0.84)^2 (0.15 / 0.05)^2 = 142
    [warning] = [w for w in report.warnings if "inconclusive" in w]
    assert f"these runs resolve changes of about {change.detectable:.0%} and more" in warning
    assert change.to_dict()["detectable"] == change.detectable
