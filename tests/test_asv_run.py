"""machmeter.asv_run: the one ``asv run`` machmeter starts: exactly the commits given (through a hash
file, removed afterwards), samples recorded, the filters passed on, asv's exit status returned."""

from __future__ import annotations

import io
import os
import sys

import pytest

from machmeter import asv_run
from machmeter.project import AsvProject

PROJECT = AsvProject(config_path="/p/asv.conf.json", project="p", repo="/p", branches=("main",),
                     results_dir="/p/results", html_dir="/p/html", show_commit_url="")


@pytest.fixture
def started(monkeypatch):
    calls = []

    def call(command, cwd, env, stdout):
        hash_file = next(c for c in command if c.startswith("HASHFILE:"))[len("HASHFILE:"):]
        with open(hash_file) as stream:
            calls.append({"command": command, "cwd": cwd, "env": env, "hashes": stream.read().split(),
                          "hash_file": hash_file})
        return 3

    monkeypatch.setattr(asv_run.subprocess, "call", call)
    return calls


def test_exactly_the_commits_with_samples_and_the_filters(started, monkeypatch):
    monkeypatch.setattr(asv_run, "cuda_available", lambda: True)
    out = io.StringIO()
    status = asv_run.run_asv(PROJECT, ["a" * 40, "b" * 40], "box", bench=["^md\\.", "esm"], quick=True,
                             extra=["--interleave-rounds"], stream=out)
    assert status == 3  # asv's own exit status
    [run] = started
    command = run["command"]
    assert command[:3] == [sys.executable, "-m", "asv"] and command[3] == "run"
    assert command[command.index("--config") + 1] == "/p/asv.conf.json" and command[command.index("--machine") + 1] == "box"
    assert "--record-samples" in command and "--show-stderr" in command and "--launch-method" not in command
    assert command[-6:] == ["--bench", "^md\\.", "--bench", "esm", "--quick", "--interleave-rounds"]
    assert run["hashes"] == ["a" * 40, "b" * 40] and run["cwd"] == "/p"
    assert not os.path.exists(run["hash_file"])  # removed once asv is done
    assert out.getvalue().startswith("$ " + sys.executable)


def test_without_cuda_forkserver_and_one_thread(started, monkeypatch):
    monkeypatch.setattr(asv_run, "cuda_available", lambda: False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    out = io.StringIO()
    asv_run.run_asv(PROJECT, ["a" * 40], "box", stream=out)
    [run] = started
    assert run["command"][run["command"].index("--launch-method") + 1] == "forkserver"
    assert run["env"]["OMP_NUM_THREADS"] == "1" and out.getvalue().startswith("$ OMP_NUM_THREADS=1 ")


def test_a_thread_count_already_set_is_kept(started, monkeypatch):
    monkeypatch.setattr(asv_run, "cuda_available", lambda: False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    asv_run.run_asv(PROJECT, ["a" * 40], "box", stream=io.StringIO())
    assert started[0]["env"]["OMP_NUM_THREADS"] == "4"


def test_the_hash_file_is_removed_when_asv_cannot_start(monkeypatch):
    seen = []

    def fails(command, **_):
        seen.append(next(c for c in command if c.startswith("HASHFILE:"))[len("HASHFILE:"):])
        raise FileNotFoundError("no python")

    monkeypatch.setattr(asv_run.subprocess, "call", fails)
    with pytest.raises(FileNotFoundError):
        asv_run.run_asv(PROJECT, ["a" * 40], "box", stream=io.StringIO())
    assert seen and not os.path.exists(seen[0])
