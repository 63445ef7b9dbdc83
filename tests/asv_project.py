"""A scratch asv project in a temporary git repository, for the end-to-end tests: package ``tinyproj``,
a benchmark module using machmeter, asv configured with machmeter's host environment."""

from __future__ import annotations

import json
import os
import subprocess

PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyproj"
version = "0.0.1"
"""

ASV_CONF = {
    "version": 1,
    "project": "tinyproj",
    "repo": ".",
    "branches": ["main"],
    "environment_type": "host",
    "plugins": [".machmeter.asv_environment"],
    "launch_method": "spawn",
    "benchmark_dir": "benchmarks",
    "env_dir": ".asv/env",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
}


def git(repo, *args) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout.strip()


def create_project(repo, benchmark_module: str, benchmarks_source: str) -> None:
    (repo / "tinyproj").mkdir()
    (repo / "benchmarks").mkdir()
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "asv.conf.json").write_text(json.dumps(ASV_CONF))
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / f"{benchmark_module}.py").write_text(benchmarks_source)
    (repo / ".gitignore").write_text(".asv/\n")
    git(repo, "init", "-q", "-b", "main")


def commit_module(repo, source: str, message: str) -> str:
    """Commit a new version of tinyproj; returns the commit's full hash."""
    (repo / "tinyproj" / "__init__.py").write_text(source)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def record_machine_and_run_asv(repo, home, machine: str, *asv_args: str, timeout: int = 900):
    """``machmeter machine`` then ``asv run --record-samples ... ALL`` in ``repo`` with HOME=``home`` (asv's
    machine file lives there); both must succeed. Returns (the environment used, asv's standard output)."""
    import sys

    env = {**os.environ, "HOME": str(home)}
    recorded = subprocess.run([sys.executable, "-m", "machmeter", "machine", "--machine", machine], cwd=repo,
                              env=env, capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stderr
    run = subprocess.run([sys.executable, "-m", "asv", "run", "--machine", machine, "--record-samples", *asv_args,
                          "ALL"], cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout + run.stderr
    return env, run.stdout
