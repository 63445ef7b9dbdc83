"""machmeter.repository, every question machmeter asks git, on a temporary repository: first-parent
order, revisions, a pull request's commits, commit subjects; "nothing known" without a repository; and
names beginning with '-' refused before git could read them as options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from machmeter.errors import MachmeterError
from machmeter.repository import (commit_hash, commit_info, commit_order, commits_between, is_commit_hash,
                                  last_commits)

from .asv_project import git

NOT_REPOSITORIES = [None, "https://example.invalid/r"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """main: first, second, merge of topic (one commit), fourth; the hashes by name."""
    path = tmp_path_factory.mktemp("repo")
    git(path, "init", "-q", "-b", "main")
    hashes = {}

    def commit(name):
        git(path, "commit", "-q", "--allow-empty", "-m", name)
        hashes[name] = git(path, "rev-parse", "HEAD")

    commit("first")
    commit("<script>alert(1)</script>")
    git(path, "checkout", "-q", "-b", "topic")
    commit("topic")
    git(path, "checkout", "-q", "main")
    git(path, "merge", "-q", "--no-ff", "-m", "merge", "topic")
    hashes["merge"] = git(path, "rev-parse", "HEAD")
    commit("fourth")
    return str(path), hashes


def _main(hashes):
    return [hashes[n] for n in ("first", "<script>alert(1)</script>", "merge", "fourth")]


def test_commit_order_is_the_first_parent_history_oldest_first(repo):
    path, hashes = repo
    assert commit_order(path, ["main"]) == _main(hashes)
    assert commit_order(path, []) == _main(hashes)  # HEAD
    # the first configured branch that exists
    assert commit_order(path, ["no-such-branch", "topic"])[-1] == hashes["topic"]
    assert commit_order(path, ["no-such-branch"]) is None


def test_without_a_local_repository_nothing_is_known(repo, tmp_path):
    path, hashes = repo
    for where in [*NOT_REPOSITORIES, str(tmp_path / "missing"), str(tmp_path)]:
        assert commit_order(where, ["main"]) is None
        assert commit_hash(where, "main") is None
        assert commits_between(where, hashes["first"], hashes["fourth"]) == []
        assert commit_info(where, [hashes["first"]]) == {}
        with pytest.raises(MachmeterError, match="not a git repository"):
            last_commits(where, 2)


def test_a_revision_resolves_to_its_full_hash(repo):
    path, hashes = repo
    assert commit_hash(path, "main") == hashes["fourth"]
    assert commit_hash(path, "main~1") == hashes["merge"]
    assert commit_hash(path, hashes["topic"][:9]) == hashes["topic"]
    with pytest.raises(MachmeterError) as error:
        commit_hash(path, "no-such-branch")
    assert str(error.value) == f"{path}: unknown revision 'no-such-branch'"


def test_a_pull_requests_commits_exclude_the_base_and_include_the_head(repo):
    path, hashes = repo
    assert set(commits_between(path, hashes["first"], hashes["fourth"])) == {
        hashes["<script>alert(1)</script>"], hashes["topic"], hashes["merge"], hashes["fourth"]}
    assert commits_between(path, hashes["fourth"], hashes["fourth"]) == []
    assert commits_between(path, "0" * 40, hashes["fourth"]) == []  # git cannot tell


def test_the_last_commits_oldest_first(repo):
    path, hashes = repo
    assert last_commits(path, 2) == [hashes["merge"], hashes["fourth"]]
    assert last_commits(path, 100) == _main(hashes)


def test_commit_subjects_authors_and_dates_in_one_git_call(repo):
    path, hashes = repo
    names = list(hashes.values())
    info = commit_info(path, names + ["0" * 40, "not a hash", "--all"])
    assert sorted(info) == sorted(names)
    assert info[hashes["<script>alert(1)</script>"]][0] == "<script>alert(1)</script>"
    assert all(author == "t" and milliseconds > 1e12 for _, author, milliseconds in info.values())
    assert commit_info(path, []) == {}


@pytest.mark.parametrize("call, name, what", [
    (lambda path: commit_order(path, ["--output=/tmp/owned"]), "--output=/tmp/owned", "branch"),
    (lambda path: commit_order(path, ["no-such-branch", "-p"]), "-p", "branch"),
    (lambda path: commit_hash(path, "--all"), "--all", "revision"),
    (lambda path: commits_between(path, "--all", "main"), "--all", "revision"),
    (lambda path: commits_between(path, "main", "-x"), "-x", "revision"),
])
def test_a_name_beginning_with_a_dash_is_refused_naming_it(repo, call, name, what):
    path, _ = repo
    with pytest.raises(MachmeterError) as error:
        call(path)
    assert str(error.value) == f"{what} {name!r} starts with '-': git would read it as an option; refusing it"


def test_is_commit_hash():
    assert is_commit_hash("a" * 7) and is_commit_hash("0123456789abcdef" * 4)
    assert not any(is_commit_hash(name) for name in ("a" * 6, "A" * 40, "main", "../x", "-abcdef0", "a" * 65))


def test_importing_it_does_not_import_git():
    code = "import sys, machmeter.repository; assert 'git' not in sys.modules, 'git imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
