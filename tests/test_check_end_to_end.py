"""The real asv on a temporary repository with an injected slowdown and an injected accuracy drop:
``machmeter check`` must flag both, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .asv_project import commit_module, create_project, record_machine_and_run_asv

pytestmark = pytest.mark.e2e

BENCHMARKS = '''\
import tinyproj
from machmeter.suites import declare, synchronized_timer


class Model:
    timer = staticmethod(synchronized_timer)

    def time_step(self):
        tinyproj.step()

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=0.005)
    def track_force_mae(self):
        return tinyproj.FORCE_MAE

    @declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=0.01)
    def track_similarity(self):
        return tinyproj.SIMILARITY

    @declare(kind="memory", unit="bytes")
    def track_parameters_bytes(self):
        return tinyproj.PARAMETER_BYTES

    @declare(kind="throughput", unit="steps/s")
    def track_counted_steps_per_second(self):
        return tinyproj.STEPS_PER_SECOND
'''


def _module(step_seconds, force_mae, similarity):
    return textwrap.dedent(f"""\
        import time

        FORCE_MAE = {force_mae}
        SIMILARITY = {similarity}
        PARAMETER_BYTES = 4_000_000
        STEPS_PER_SECOND = 250.0


        def step():
            time.sleep({step_seconds})
        """)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    repo = tmp_path_factory.mktemp("checked")
    home = tmp_path_factory.mktemp("home")
    create_project(repo, "bench_model", BENCHMARKS)
    base = commit_module(repo, _module(0.004, 0.010, 0.999), "baseline")
    # 2x slower, 3x worse forces
    head = commit_module(repo, _module(0.008, 0.030, 0.999), "faster kernels (not really)")
    env, _ = record_machine_and_run_asv(repo, home, "box", timeout=600)
    return {"repo": repo, "env": env, "base": base, "head": head}


def _check(project, *args):
    return subprocess.run([sys.executable, "-m", "machmeter", "check", *args], cwd=project["repo"],
                          env=project["env"], capture_output=True, text=True, timeout=300)


def test_pull_request_check_flags_the_slowdown_and_the_accuracy_drop_only(project):
    out = _check(project, "--base", "main~1", "--head", "main", "--format", "json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    flagged = {(c["benchmark"], c["kind"]) for c in report["regressions"]}
    assert flagged == {("bench_model.Model.time_step", "time"), ("bench_model.Model.track_force_mae", "accuracy")}
    assert report["improvements"] == [] and report["failures"] == []
    step = next(c for c in report["regressions"] if c["kind"] == "time")
    assert step["commit"] == project["head"] and step["commit_range"] == [project["base"], project["head"]]
    assert step["change"] > 0.5 and step["params"] == {} and step["machine"] == "box"
    # one run a side and no history: within-run samples are no evidence about runs, but a 2x slowdown is
    # beyond what two runs of unchanged code can differ by (the kind's prior)
    assert step["method"] == "prior" and step["confidence"] >= 0.95
    assert report["machines"]["box"]["torch"]  # the fingerprint travels with the verdict


def test_text_and_markdown_name_the_regressions(project):
    text = _check(project, "--base", "main~1", "--head", "main")
    assert text.returncode == 1
    assert text.stdout.startswith("FAIL: 2 regression(s)")
    assert "bench_model.Model.time_step" in text.stdout
    markdown = _check(project, "--base", "main~1", "--head", "main", "--format", "markdown")
    assert "### Accuracy drops" in markdown.stdout and "track_force_mae" in markdown.stdout


def test_acknowledged_changes_do_not_fail_the_check(project):
    triage = project["repo"] / "machmeter-triage.toml"
    triage.write_text(textwrap.dedent(f"""\
        [[acknowledged]]
        benchmark = "bench_model.Model.time_step"
        commit = "{project['head'][:10]}"
        reason = "slower but exact"

        [[acknowledged]]
        benchmark = "bench_model.Model.track_force_mae"
        commit = "{project['head'][:10]}"
        machine = "box"
        reason = "new training set"
        """))
    try:
        out = _check(project, "--base", "main~1", "--head", "main", "--format", "json")
        assert out.returncode == 0, out.stdout + out.stderr
        report = json.loads(out.stdout)
        assert report["regressions"] == []
        assert {c["acknowledged"] for c in report["acknowledged"]} == {"slower but exact", "new training set"}
    finally:
        triage.unlink()


def test_unknown_revision_is_a_one_line_error(project):
    out = _check(project, "--base", "no-such-branch", "--head", "main")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "unknown revision 'no-such-branch'" in out.stderr
