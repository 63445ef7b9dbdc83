"""``machmeter demo`` on a scratch project: the main job runs the real asv on the last commits, prints
what it measured and the check of the newest commit, and ends with the rendered site."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from machmeter.commands.demo import add_sample_history
from machmeter.project import load_project

from .asv_project import commit_module, create_project

BENCHMARKS = '''\
import tinyproj


def time_step():
    tinyproj.step()


def track_widgets():
    return tinyproj.WIDGETS
'''


def _module(widgets):
    return f"import time\n\nWIDGETS = {widgets}\n\n\ndef step():\n    time.sleep(0.001)\n"


@pytest.mark.e2e
def test_demo_runs_asv_checks_the_newest_commit_and_renders_the_site(tmp_path):
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    create_project(repo, "bench_tiny", BENCHMARKS)
    commit_module(repo, _module(10), "ten widgets")
    head = commit_module(repo, _module(11), "eleven widgets")
    out = subprocess.run([sys.executable, "-m", "machmeter", "demo", "--commits", "2", "--machine", "box", "--quick"],
                         cwd=repo, env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "bench_tiny.track_widgets" in out.stdout            # the measured table
    assert f"--head {head[:8]}" in out.stdout                   # the check of the newest commit
    # the two compared commits ran twice each, every run kept in its run archive: the check rests on runs
    archives = sorted((repo / ".asv" / "results" / "box").glob("*.runs.jsonl"))
    assert len(archives) == 2
    assert [len(a.read_text().splitlines()) for a in archives] == [2, 2]
    index = repo / ".asv" / "html" / "index.html"
    assert f"Site: {index}" in out.stdout and "machmeter serve --no-build" in out.stdout
    assert "bench_tiny.track_widgets" in index.read_text()


def test_sample_history_is_added_only_for_machines_without_results(tmp_path):
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": ".",
                                                        "results_dir": "results", "html_dir": "html"}))
    sample = tmp_path / "docs" / "sample-results"
    for machine in ("gpu-h200", "box"):
        (sample / machine).mkdir(parents=True)
        (sample / machine / "machine.json").write_text(json.dumps({"machine": machine, "version": 1}))
    (sample / "not-a-machine").mkdir()
    (tmp_path / "results" / "box").mkdir(parents=True)
    (tmp_path / "results" / "box" / "machine.json").write_text("{}")
    project = load_project(str(tmp_path / "asv.conf.json"))
    assert add_sample_history(project, str(sample)) == ["gpu-h200"]
    assert (tmp_path / "results" / "gpu-h200" / "machine.json").is_file()
    assert (tmp_path / "results" / "box" / "machine.json").read_text() == "{}"  # this machine's own, untouched
    assert add_sample_history(project, str(tmp_path / "missing")) == []
