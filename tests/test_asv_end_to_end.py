"""The real asv, with machmeter's host environment, on a temporary git repository with two commits."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

from machmeter.results import load_results

from .asv_project import commit_module, create_project, record_machine_and_run_asv

pytestmark = pytest.mark.e2e

BENCHMARKS = '''\
import time

import tinyproj
from machmeter.suites import MeasuredSuite, declare, synchronized_timer
from machmeter.suites.base import build_before_timing, require_device


class Work:
    timer = staticmethod(synchronized_timer)

    def time_work(self):
        tinyproj.work()

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=0.01)
    def track_force_error(self):
        return tinyproj.FORCE_ERROR


class Throughput(MeasuredSuite):
    params = (["cpu", "cuda"],)
    param_names = ["device"]

    def measure(self, device):
        from machmeter.instruments import time_callable

        require_device(device)
        measurement = time_callable(tinyproj.work, device=device, min_repeats=5, target_time=0.05)
        return {"per_second": 1.0 / measurement.median,
                "per_second__samples": [1.0 / s for s in measurement.samples]}

    @declare(kind="throughput", unit="calls/s")
    def track_calls_per_second(self, measured, device):
        return self.metric("per_second")

    @declare(kind="throughput", unit="calls/s")
    def track_calls_per_second_distribution(self, measured, device):
        return self.metric_distribution("per_second")

    def build(self, device):
        require_device(device)
        time.sleep(0.5)  # a slow model build: must never land in a timed sample
        return tinyproj.work

    def time_live_work(self, measured, device):
        self.live(self.build)()

    time_live_work.setup = build_before_timing("build")
'''


def _module(sleep_s: float, force_error: float) -> str:
    return textwrap.dedent(f"""\
        import time

        FORCE_ERROR = {force_error}


        def work():
            time.sleep({sleep_s})
        """)


@pytest.fixture(scope="module")
def asv_run(tmp_path_factory):
    repo = tmp_path_factory.mktemp("project")
    home = tmp_path_factory.mktemp("home")
    create_project(repo, "bench_tiny", BENCHMARKS)
    first = commit_module(repo, _module(0.002, 0.010), "fast and accurate")
    second = commit_module(repo, _module(0.006, 0.050), "slower and less accurate")

    _, stdout = record_machine_and_run_asv(repo, home, "testbox", "--show-stderr", "--quick", timeout=600)
    return {"repo": repo, "home": home, "commits": (first, second), "stdout": stdout}


def test_benchmarks_json_carries_declarations(asv_run):
    benchmarks = json.loads((asv_run["repo"] / ".asv/results/benchmarks.json").read_text())
    accuracy = benchmarks["bench_tiny.Work.track_force_error"]
    assert accuracy["higher_is_better"] is False
    assert accuracy["metric_kind"] == "accuracy"
    assert accuracy["unit"] == "eV/Å"
    assert accuracy["tolerance_abs"] == 0.01
    throughput = benchmarks["bench_tiny.Throughput.track_calls_per_second"]
    assert throughput["higher_is_better"] is True
    assert throughput["unit"] == "calls/s"
    assert benchmarks["bench_tiny.Work.time_work"]["unit"] == "seconds"


def test_each_commit_ran_its_own_code(asv_run):
    results = load_results(str(asv_run["repo"] / ".asv/results"))
    assert results.warnings == []
    first, second = asv_run["commits"]
    by_key = {(p.benchmark, p.commit, tuple(p.params.values())): p for p in results.points}

    error_before = by_key[("bench_tiny.Work.track_force_error", first, ())].value
    error_after = by_key[("bench_tiny.Work.track_force_error", second, ())].value
    assert (error_before, error_after) == (0.010, 0.050)

    time_before = by_key[("bench_tiny.Work.time_work", first, ())].value
    time_after = by_key[("bench_tiny.Work.time_work", second, ())].value
    assert 0.002 <= time_before < time_after
    assert time_after >= 0.006

    cpu = by_key[("bench_tiny.Throughput.track_calls_per_second", second, ("'cpu'",))]
    cuda = by_key[("bench_tiny.Throughput.track_calls_per_second", second, ("'cuda'",))]
    assert 0 < cpu.value <= 1 / 0.006
    if not _cuda_available():
        assert cuda.skipped  # CUDA absent: asv's skip (NaN), not a failure


def test_live_workload_is_built_before_timing_even_with_quick(asv_run):
    results = load_results(str(asv_run["repo"] / ".asv/results"))
    timed = {p.commit: p.value for p in results.points
             if p.benchmark == "bench_tiny.Throughput.time_live_work" and p.params == {"device": "'cpu'"}}
    first, second = asv_run["commits"]
    # one sample, no warm-up (--quick): the 0.5 s build would dominate it if it were timed
    assert 0.002 <= timed[first] < 0.25
    assert 0.006 <= timed[second] < 0.25


def test_track_distributions_reach_asv_with_statistics(asv_run):
    results = load_results(str(asv_run["repo"] / ".asv/results"))
    (point,) = [p for p in results.points if p.benchmark == "bench_tiny.Throughput.track_calls_per_second_distribution"
                and p.commit == asv_run["commits"][1] and p.params == {"device": "'cpu'"}]
    assert len(point.samples) >= 5 and all(s > 0 for s in point.samples)  # --record-samples kept them
    assert point.value == pytest.approx(sorted(point.samples)[len(point.samples) // 2], rel=0.05)  # asv: median
    assert point.quartiles is not None


def test_machine_fingerprint_reaches_every_result(asv_run):
    machine_dir = asv_run["repo"] / ".asv/results/testbox"
    machine = json.loads((machine_dir / "machine.json").read_text())
    for key in ("gpu", "gpu_driver", "cuda", "torch", "gpu_power_limit"):
        assert key in machine
    result_files = [p for p in machine_dir.iterdir() if p.name != "machine.json"]
    assert len(result_files) == 2
    for path in result_files:
        params = json.loads(path.read_text())["params"]
        assert params["machine"] == "testbox"
        assert params["torch"] == machine["torch"] != ""
        assert params["gpu"] == machine["gpu"]
        assert "-host-py" in path.name


def test_timing_samples_are_stored(asv_run):
    results = load_results(str(asv_run["repo"] / ".asv/results"))
    timed = [p for p in results.points if p.benchmark == "bench_tiny.Work.time_work"]
    assert timed and all(p.samples and all(s > 0 and math.isfinite(s) for s in p.samples) for p in timed)


def _cuda_available():
    import torch

    return torch.cuda.is_available()


def test_asv_continuous_runs_in_the_host_environment(asv_run):
    """What pull requests run: both commits built offline into the host environment and compared."""
    run = subprocess.run([sys.executable, "-m", "asv", "continuous", "--machine", "testbox", "--quick",
                          "-b", "time_work", "main~1", "main"],
                         cwd=asv_run["repo"], env={**os.environ, "HOME": str(asv_run["home"])},
                         capture_output=True, text=True, timeout=600)
    assert "PERFORMANCE DECREASED" in run.stdout, run.stdout + run.stderr
    assert run.returncode == 1  # asv's own verdict on the 3x slower commit
    check = subprocess.run([sys.executable, "-m", "machmeter", "check", "--base", "main~1", "--head", "main",
                            "--format", "json"], cwd=asv_run["repo"], capture_output=True, text=True, timeout=300)
    assert check.returncode == 1, check.stderr
    flagged = {c["benchmark"] for c in json.loads(check.stdout)["regressions"]}
    assert {"bench_tiny.Work.time_work", "bench_tiny.Work.track_force_error"} <= flagged
