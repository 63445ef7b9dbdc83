"""machmeter.report.measured: the demo's table of what was measured, one row per series and one column
per commit, skipped series counted rather than shown."""

from __future__ import annotations

from machmeter.report.measured import measured_table
from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet

A, B = "a" * 40, "b" * 40


def info(name, unit, higher=None):
    return BenchmarkInfo(name, "track", unit, (), (), None, higher, None)


def point(benchmark, commit, value, machine="box", params=None):
    return ResultPoint(benchmark, params or {}, machine, "host", commit, 0, value)


def results(points):
    return ResultSet(benchmarks={"md.time_step": info("md.time_step", "seconds", False),
                                 "md.track_rate": info("md.track_rate", "steps/s", True)},
                     machines={}, points=points, warnings=[])


def test_a_row_per_series_a_column_per_commit():
    table = measured_table(results([
        point("md.time_step", A, 0.002, params={"n": "64"}), point("md.time_step", B, 0.0021, params={"n": "64"}),
        point("md.track_rate", B, 500.0), point("unknown.bench", A, None),
    ]), [A, B])
    lines = table.splitlines()
    assert lines[0].split() == ["series", "better", "machine", A[:8], B[:8]]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["md.time_step(n=64)", "↓", "box", "2", "ms", "2.1", "ms"]
    assert lines[3].split() == ["md.track_rate", "↑", "box", "-", "500", "steps/s"]
    assert lines[4].split() == ["unknown.bench", "box", "failed", "-"]  # no declared direction: blank
    assert lines[-1] == "3 series measured, 0 skipped on this machine (e.g. CUDA absent)"


def test_skipped_series_are_counted_and_other_machines_and_commits_left_out():
    table = measured_table(results([
        point("md.time_step", A, float("nan")), point("md.track_rate", A, 1.0, machine="other"),
        point("md.track_rate", "c" * 40, 2.0),
    ]), [A], machine="box")
    assert table.splitlines()[-1] == "0 series measured, 1 skipped on this machine (e.g. CUDA absent)"
    assert "md.track_rate" not in table
