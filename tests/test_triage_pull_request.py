"""A pull request's regression can be acknowledged from inside the pull request: the triage entry names
the commit that made the change, and committing the entry makes a new head the entry cannot name."""

import subprocess

from machmeter.repository import commits_between
from machmeter.triage import Acknowledgement, acknowledgement_for, acknowledgements_for_pull_request


def _commit(repo, message):
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", message], check=True)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def _repository(tmp_path):
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.email", "t@localhost"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.name", "t"], check=True)
    return [_commit(tmp_path, f"commit {i}") for i in range(4)]


def test_an_entry_naming_a_commit_of_the_pull_request_acknowledges_its_head(tmp_path):
    base, slower, triaged, head = _repository(tmp_path)
    entry = Acknowledgement("bench.Model.time_step", slower[:9], "exact neighbour list")
    applied = acknowledgements_for_pull_request([entry], commits_between(str(tmp_path), base, head), head)
    assert acknowledgement_for(applied, "bench.Model.time_step", {}, "box", head).reason == "exact neighbour list"
    assert acknowledgement_for(applied, "bench.Model.time_other", {}, "box", head) is None


def test_an_entry_naming_a_commit_outside_the_pull_request_does_not(tmp_path):
    base, slower, triaged, head = _repository(tmp_path)
    entry = Acknowledgement("bench.Model.time_step", base[:9], "older change")
    applied = acknowledgements_for_pull_request([entry], commits_between(str(tmp_path), slower, head), head)
    assert acknowledgement_for(applied, "bench.Model.time_step", {}, "box", head) is None
