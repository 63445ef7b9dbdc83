"""``machmeter run-pr`` end to end: real asv, a temporary repository, runs whose level flips between two
states from process to process (as GPU runs do) — identical code must pass, a real slowdown must fail
after its confirmation rounds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.asv_project import commit_module, create_project, git

# Each asv process of this benchmark lands in one of two states, alternating from process to process
# (a counter file outside the repository): two runs of identical code differ by 25%, while the samples of
# one run are tight. A test on within-run samples calls every such difference certain.
BENCHMARKS = '''\
import os
import time

import tinyproj
from machmeter.suites import declare

_STATE = None


def _state():
    global _STATE
    if _STATE is None:
        path = os.environ["TINYPROJ_COUNTER"]
        count = int(open(path).read() or 0) if os.path.exists(path) else 0
        with open(path, "w") as stream:
            stream.write(str(count + 1))
        _STATE = 1.25 if count % 2 else 1.0
    return _STATE


class Model:
    # parameterized: asv matches --bench patterns against "name(param)" (the confirmation rounds' selection)
    params = [1]
    param_names = ["scale"]
    rounds = 1
    repeat = 7
    number = 1
    warmup_time = 0

    def setup(self, scale):
        self.level = _state()
        if os.environ.get("MACHMETER_TRACE_DIR"):  # run-pr's confirmation runs: a suite's profiled window
            import torch
            from machmeter.instruments.counters import profile_counters, window_name

            x = torch.ones(4)
            profile_counters(lambda: x + 1, calls=2, trace_name=window_name("bench_model.Model", [("scale", scale)]))

    def time_step(self, scale):
        time.sleep(tinyproj.STEP_SECONDS * self.level * scale)
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = tmp_path_factory.mktemp("runpr")
    home = tmp_path_factory.mktemp("home")
    create_project(repo, "bench_model", BENCHMARKS)
    base = commit_module(repo, "STEP_SECONDS = 0.004\n", "baseline")
    same = commit_module(repo, "STEP_SECONDS = 0.004\n# a refactor\n", "refactor, same speed")
    slow = commit_module(repo, "STEP_SECONDS = 0.008\n", "slower")
    env = {"HOME": str(home), "TINYPROJ_COUNTER": str(home / "counter")}
    return {"repo": repo, "env": env, "base": base, "same": same, "slow": slow}


def _run_pr(project, base, head, *args):
    import os

    return subprocess.run([sys.executable, "-m", "machmeter", "run-pr", "--machine", "box", "--base", base,
                           "--head", head, "--format", "json", *args], cwd=project["repo"],
                          env={**os.environ, **project["env"]}, capture_output=True, text=True, timeout=900)


def _runs_archived(project, commit):
    folder = project["repo"] / ".asv" / "results" / "box"
    archives = list(folder.glob(f"{commit[:8]}-*.runs.jsonl"))
    return sum(1 for line in archives[0].read_text().splitlines() if line.strip()) if archives else 0


def test_identical_code_passes_although_runs_flip_between_two_levels(project):
    out = _run_pr(project, project["base"], project["same"], "--rounds", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["regressions"] == [] and report["failures"] == []
    assert _runs_archived(project, project["base"]) == 3 and _runs_archived(project, project["same"]) == 3
    assert "6 asv runs" in out.stderr
    # asv's own view of one run a side, judged on its samples alone, would call the 25% flip certain
    points = {}
    for path in (project["repo"] / ".asv" / "results" / "box").glob("*.json"):
        if path.name != "machine.json":
            data = json.loads(path.read_text())
            points[data["commit_hash"]] = data["results"]["bench_model.Model.time_step"][0][0]
    assert len(points) == 2


def test_a_real_slowdown_fails_after_confirmation(project):
    out = _run_pr(project, project["base"], project["slow"], "--rounds", "2", "--confirm-rounds", "1")
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)
    [step] = report["regressions"]
    assert step["benchmark"] == "bench_model.Model.time_step" and step["method"] == "runs-t"
    assert step["change"] > 0.4 and step["confidence"] >= 0.95
    assert "confirmation of 1 flagged benchmark(s): 2 asv runs" in out.stderr
    # the head's archive holds this test's two runs and the confirmation's one (the base's also the first
    # test's three): a confirmation that selected nothing would archive nothing
    assert _runs_archived(project, project["slow"]) == 3
    assert _runs_archived(project, project["base"]) == 6
    # the confirmation runs kept their profiled window's trace beside the results, and the report links it
    traces = {side: f".asv/traces/box/{project[side][:8]}/bench_model.Model_scale=1.trace.json"
              for side in ("base", "slow")}
    assert step["traces"] == {"base": traces["base"], "head": traces["slow"]}
    for path in traces.values():
        assert "traceEvents" in json.loads((project["repo"] / path).read_text())
    import os

    markdown = subprocess.run([sys.executable, "-m", "machmeter", "check", "--base", project["base"], "--head",
                               project["slow"], "--format", "markdown"], cwd=project["repo"],
                              env={**os.environ, **project["env"]}, capture_output=True, text=True, timeout=300)
    assert markdown.returncode == 1, markdown.stderr
    assert "### Profiler traces" in markdown.stdout
    assert f"base {traces['base']}, head {traces['slow']}" in markdown.stdout


def test_check_reads_the_archived_runs(project):
    import os

    out = subprocess.run([sys.executable, "-m", "machmeter", "check", "--base", project["base"], "--head",
                          project["same"], "--format", "json"], cwd=project["repo"],
                         env={**os.environ, **project["env"]}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["regressions"] == []
    assert git(project["repo"], "rev-parse", "HEAD") == project["slow"]


def test_the_confirmation_pattern_selects_each_combination_of_its_benchmark_and_no_other():
    from asv.benchmarks import Benchmarks

    from machmeter.asv_run import bench_pattern

    class Conf:
        benchmark_dir = "benchmarks"

    def benchmark(name, params):
        return {"name": name, "params": params, "param_names": ["n"] * len(params)}

    found = [benchmark("suite.MD.time_step", [["64", "512"], ["'float32'"]]),
             benchmark("suite.MD.time_step_latency", [["64"]]), benchmark("suite.plain", [])]
    selected = Benchmarks(Conf(), found, regex=[bench_pattern("suite.MD.time_step")])
    assert list(selected) == ["suite.MD.time_step"]
    assert selected.benchmark_selection["suite.MD.time_step"] == [0, 1]
    assert list(Benchmarks(Conf(), found, regex=[bench_pattern("suite.plain")])) == ["suite.plain"]
