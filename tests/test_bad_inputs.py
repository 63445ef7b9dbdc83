"""Bad inputs: an internal error has its own exit status; the results reader refuses what it cannot use."""

from __future__ import annotations

import json
import os

import pytest

from machmeter import cli
from machmeter.errors import ResultsError
from machmeter.results import MAX_JSON_DEPTH, read_json_file, read_result_file


def test_an_internal_error_is_one_line_and_exit_3(monkeypatch, capsys):
    def broken(args):
        raise ZeroDivisionError("boom")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), broken))
    assert cli.main(["check", "--history"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ["machmeter check: internal error: ZeroDivisionError: boom "
                                "(run with --debug or MACHMETER_DEBUG=1 for the traceback)"]


def _with_run(parser, run):
    parser.set_defaults(run=run)
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(run=run)
    return parser


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    with pytest.raises(ResultsError, match="not a regular file"):
        read_json_file(str(fifo))


def test_a_symlink_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "x.json"
    link.symlink_to("/dev/zero")
    with pytest.raises(ResultsError, match="not a regular file"):
        read_json_file(str(link))


def test_deep_nesting_is_refused_without_recursion_error(tmp_path):
    deep = tmp_path / "x.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ResultsError, match=f"more than {MAX_JSON_DEPTH} levels"):
        read_json_file(str(deep))


def _result_file(tmp_path, **overrides):
    data = {"version": 2, "commit_hash": "a" * 40, "env_name": "e", "date": 1, "params": {"machine": "m"},
            "result_columns": ["result", "params", "samples"], "results": {"b": [[1.0], [["'x'"]], [[1.0, 2.0]]]}}
    data.update(overrides)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("overrides, problem", [
    ({"commit_hash": ["a"]}, "commit_hash must be a string"),
    ({"commit_hash": 5}, "commit_hash must be a string"),
    ({"env_name": {"a": 1}}, "env_name must be a string"),
    ({"results": {"b": [[1.0], [[1, None]]]}}, "params must be lists of strings"),
    ({"results": {"b": [[1.0], [["'x'"], ["1"]], [["a", 2.0]]]}}, "samples must be"),
    ({"results": {"b": [[1.0], [["'x'"]], [[[1.0], 2.0]]]}}, "samples must be"),
    ({"results": {"b": [[1.0], [[str(i) for i in range(10)]] * 10]}}, "parameter combinations"),
    ({"results": {"b": [[1.0, 2.0], [["1", "2", "3"]]]}}, "the row holds 2 results"),
])
def test_a_result_file_of_the_wrong_types_is_refused_by_name(tmp_path, overrides, problem):
    path = _result_file(tmp_path, **overrides)
    with pytest.raises(ResultsError, match=problem) as caught:
        read_result_file(path, {})
    assert caught.value.path == path


def test_a_valid_result_file_is_read(tmp_path):
    parsed = read_result_file(_result_file(tmp_path), {})
    assert parsed.commit == "a" * 40 and parsed.rows[0][2] == [1.0]


def test_site_refuses_a_site_url_that_is_not_http_in_one_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": ".",
                                                        "results_dir": "results", "branches": ["main"]}))
    status = cli.main(["site", "--config", str(tmp_path / "asv.conf.json"), "--output", str(tmp_path / "out"),
                       "--site-url", "javascript:alert(1)//"])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        "machmeter site: error: --site-url: 'javascript:alert(1)//' is not an http(s) URL"]
    assert not (tmp_path / "out").exists()


def _history_project(root, values, unit="seconds", kind="time"):
    """An asv project of one benchmark with ``values`` at commits a..., b..., c..., (by date; no repository)."""
    results = root / "results" / "m"
    results.mkdir(parents=True)
    (root / "results" / "benchmarks.json").write_text(json.dumps({"s.time_x": {
        "name": "s.time_x", "type": kind, "unit": unit, "param_names": [], "params": [], "version": "v1"},
        "version": 2}))
    (results / "machine.json").write_text(json.dumps({"machine": "m", "version": 1}))
    commits = [letter * 40 for letter in "abcdefgh"[:len(values)]]
    for at, (commit, value) in enumerate(zip(commits, values)):
        (results / f"{commit[:8]}-env.json").write_text(json.dumps({
            "commit_hash": commit, "env_name": "env", "date": 1_700_000_000_000 + at * 1000,
            "params": {"machine": "m"}, "result_columns": ["result", "params", "version"],
            "results": {"s.time_x": [[value], [], "v1"]}, "version": 2}))
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                    "results_dir": "results", "branches": ["main"]}))
    return str(root / "asv.conf.json"), commits


@pytest.mark.parametrize("head", [float("nan"), float("inf")])
@pytest.mark.parametrize("mode", ["revisions", "history"])
def test_a_value_that_turns_non_finite_at_head_fails_the_check(tmp_path, capsys, head, mode):
    config, commits = _history_project(tmp_path, [1.0e-3, 1.01e-3, 0.99e-3, head])
    where = ["--history"] if mode == "history" else ["--base", commits[-2], "--head", commits[-1]]
    status = cli.main(["check", "--config", config, "--format", "json", *where])
    report = json.loads(capsys.readouterr().out)
    assert status == 1 and report["summary"]["failed"] and report["summary"]["skipped"] == 0
    assert [(f["commit"], f["reason"]) for f in report["failures"]] == [
        (commits[-1], f"value became non-finite ({head}) at head: it fails the check.")]


def test_a_series_non_finite_throughout_or_only_earlier_is_no_failure(tmp_path, capsys):
    config, commits = _history_project(tmp_path, [1.0e-3, float("nan"), 1.0e-3, 1.0e-3])
    assert cli.main(["check", "--config", config, "--format", "json", "--history"]) == 0
    assert json.loads(capsys.readouterr().out)["failures"] == []


@pytest.mark.parametrize("verb", [["check", "--history"], ["site"]])
def test_a_branch_that_looks_like_an_option_never_reaches_git(tmp_path, capsys, monkeypatch, verb):
    from .asv_project import git

    config, _ = _history_project(tmp_path, [1.0, 2.0])
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c")
    conf = json.loads((tmp_path / "asv.conf.json").read_text())
    conf.update(repo=".", branches=["--output=stolen.txt"])
    (tmp_path / "asv.conf.json").write_text(json.dumps(conf))
    monkeypatch.chdir(tmp_path)
    status = cli.main([*verb, "--config", config])
    assert status == 2 and capsys.readouterr().err.splitlines() == [
        f"machmeter {verb[0]}: error: {config}: branch '--output=stolen.txt' starts with '-': git would read it "
        f"as an option; refusing it"]
    assert not (tmp_path / "stolen.txt").exists()


def test_a_revision_that_looks_like_an_option_is_refused(tmp_path, capsys):
    config, commits = _history_project(tmp_path, [1.0, 2.0])
    assert cli.main(["check", "--config", config, "--base=--output=x", "--head", commits[-1]]) == 2
    assert "revision '--output=x' starts with '-'" in capsys.readouterr().err
