"""``machmeter comment`` end to end: asv results (or the check's JSON from an artifact) in, ONE comment on
the pull request of a local GitHub API server out; failures are one line, and the token is never shown."""

from __future__ import annotations

import json
import os

import pytest

from machmeter import __version__
from machmeter.cli import main
from machmeter.report.verdicts import MARKER, to_json
from scripts.synthetic_history import write_asv_results

from .test_comment_render import known_report
from .test_github import BOT, TOKEN, FakeGitHub

SITE = "https://octo.github.io/repo"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("commented")
    write_asv_results(str(root / "results"), n_commits=12, n_series=16, n_machines=1, seed=11)
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                                    "results_dir": "results", "branches": ["main"]}))
    names = sorted(os.listdir(root / "results" / "gpu-runner-0"))
    commits = [n.split("-")[0] for n in names if n != "machine.json"]
    return {"config": str(root / "asv.conf.json"), "base": commits[0], "head": commits[-1], "root": root}


@pytest.fixture
def github(monkeypatch):
    with FakeGitHub() as fake:
        fake.add_pull(7, "a" * 40)
        for variable in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_API_URL"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", "octo/repo")
        sleeps = []
        monkeypatch.setattr("machmeter.github.time.sleep", sleeps.append)
        fake.sleeps = sleeps
        yield fake


def _run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return status, captured.out, captured.err


def _compare(project):
    return ["--config", project["config"], "--base", project["base"], "--head", project["head"]]


def _post(project, github, *extra):
    return ["comment", *_compare(project), "--api-url", github.url, "--pr", "7", *extra]


def test_dry_run_prints_exactly_what_check_prints_as_markdown(project, capsys):
    status, check_out, _ = _run(["check", *_compare(project), "--format", "markdown", "--site-url", SITE], capsys)
    assert status in (0, 1)
    status, comment_out, _ = _run(["comment", *_compare(project), "--site-url", SITE, "--dry-run"], capsys)
    assert status == 0 and comment_out == check_out
    assert comment_out.startswith(MARKER) and f"{SITE}/compare.html?base=" in comment_out
    assert "<sub>gpu-runner-0: NVIDIA H100" in comment_out


def test_the_configured_site_url_is_linked(project, tmp_path, capsys):
    config = tmp_path / "asv.conf.json"
    config.write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                  "results_dir": str(project["root"] / "results"), "branches": ["main"]}))
    (tmp_path / "machmeter.toml").write_text(f'site_url = "{SITE}/"\n')
    status, out, _ = _run(["comment", "--config", str(config), "--base", project["base"], "--head", project["head"],
                           "--dry-run"], capsys)
    assert status == 0 and f"]({SITE}/compare.html?base=" in out


def test_one_comment_is_created_then_edited_in_place(project, github, capsys):
    status, out, _ = _run(_post(project, github), capsys)
    assert status == 0
    assert out == f"machmeter comment: created https://github.com/octo/repo/pull/7#issuecomment-1001 " \
                  f"({len(github.on(7)[0]['body']):,} characters)\n"
    github.add_comment(7, "a reviewer's remark")
    assert _run(_post(project, github), capsys)[1].startswith("machmeter comment: unchanged ")
    assert _run(_post(project, github, "--site-url", SITE), capsys)[1].startswith("machmeter comment: updated ")
    comments = github.on(7)
    assert len(comments) == 2 and comments[0]["user"]["login"] == BOT and SITE in comments[0]["body"]
    assert len(github.calls("POST")) == 1 and len(github.calls("PATCH")) == 1


def _event(tmp_path, monkeypatch, head_sha, pull_requests):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"workflow_run": {
        "id": 42, "event": "pull_request", "head_sha": head_sha, "head_branch": "feature",
        "head_repository": {"owner": {"login": "octo"}},
        "pull_requests": [{"number": n, "head": {"sha": head_sha}} for n in pull_requests]}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_run")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))


def test_workflow_run_job_posts_the_artifacts_report_to_the_events_pull_request(tmp_path, github, monkeypatch, capsys):
    report = known_report()
    artifact = tmp_path / "verdicts.json"
    artifact.write_text(to_json(report))
    _event(tmp_path, monkeypatch, report.head, [7])
    status, out, err = _run(["comment", "--report", str(artifact), "--expect-head", report.head, "--author", BOT,
                             "--api-url", github.url, "--config", str(tmp_path / "absent.json")], capsys)
    assert status == 0, err
    assert "created" in out and "### Accuracy drops" in github.on(7)[0]["body"]


def test_a_report_about_another_commit_is_refused(tmp_path, github, monkeypatch, capsys):
    artifact = tmp_path / "verdicts.json"
    artifact.write_text(to_json(known_report()))
    _event(tmp_path, monkeypatch, "9" * 40, [7])
    status, out, err = _run(["comment", "--report", str(artifact), "--expect-head", "9" * 40,
                             "--api-url", github.url], capsys)
    assert status == 2 and out == "" and github.requests == []
    assert err == f"machmeter comment: error: {artifact}: head 22222222bbbb is not the expected commit '999999999999'\n"


def test_a_pr_number_the_event_does_not_name_is_refused(tmp_path, github, monkeypatch, capsys):
    artifact = tmp_path / "verdicts.json"
    artifact.write_text(to_json(known_report()))
    _event(tmp_path, monkeypatch, known_report().head, [7])
    status, _, err = _run(["comment", "--report", str(artifact), "--pr", "8", "--api-url", github.url], capsys)
    assert status == 2 and "--pr 8: the workflow run benchmarked pull request #7" in err
    assert github.calls("POST") == []


def test_a_long_report_is_shortened_and_accepted_by_github(tmp_path, github, capsys):
    report = known_report()
    base = report.regressions[0]
    report.regressions = [type(base)(**{**base.__dict__, "benchmark": f"suite.Module.time_kernel_{i:05d}"})
                          for i in range(4000)]
    artifact = tmp_path / "verdicts.json"
    artifact.write_text(to_json(report))
    status, _, err = _run(["comment", "--report", str(artifact), "--api-url", github.url, "--pr", "7",
                           "--details-url", "https://github.com/octo/repo/actions/runs/42"], capsys)
    assert status == 0, err
    body = github.on(7)[0]["body"]
    assert len(body) <= 65_536 and "more not shown: [the full report](https://github.com/octo/repo/actions/runs/42)" in body


def test_a_server_error_is_retried(project, github, capsys):
    github.fail("GET", r"/comments$", 503)
    github.fail("POST", r"/comments$", 429, headers={"Retry-After": "2"})
    status, out, _ = _run(_post(project, github), capsys)
    assert status == 0 and "created" in out and github.sleeps == [1.0, 2.0]


@pytest.mark.parametrize("status, message", [
    (401, "401 Unauthorized: the token is missing, expired or revoked"),
    (403, "403 Forbidden: the token may not do this"),
    (404, "404 Not Found: no such repository or pull request"),
    (422, "422 Unprocessable Entity: GitHub rejected the request"),
])
def test_github_refusals_are_one_line_exit_2(project, github, capsys, status, message):
    github.fail("GET", r"/comments$", status, {"message": f"no, {TOKEN}"})
    code, out, err = _run(_post(project, github), capsys)
    assert code == 2 and out == ""
    assert len(_errors(err)) == 1 and message in err and "no, ***" in err


def test_a_wrong_token_and_an_unknown_pull_request(project, github, monkeypatch, capsys):
    code, _, err = _run(["comment", *_compare(project), "--api-url", github.url, "--pr", "99"], capsys)
    assert code == 2 and "POST /repos/octo/repo/issues/99/comments: GitHub answered 404" in err
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_revoked")
    code, _, err = _run(_post(project, github), capsys)
    assert code == 2 and "401 Unauthorized" in err and "Bad credentials" in err


@pytest.mark.parametrize("environment, argv, message", [
    ({"GITHUB_TOKEN": ""}, [], "GITHUB_TOKEN is not set"),
    ({"GITHUB_REPOSITORY": ""}, [], "no repository: pass --repo OWNER/NAME"),
    ({}, ["--repo", "not-a-repo"], "repository 'not-a-repo' is not OWNER/NAME"),
    ({}, ["--site-url", "javascript:alert(1)"], "--site-url: 'javascript:alert(1)' is not an http(s) URL"),
])
def test_bad_set_up_is_one_line_exit_2(project, github, monkeypatch, capsys, environment, argv, message):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, out, err = _run([*_post(project, github), *argv], capsys)
    assert code == 2 and out == "" and len(_errors(err)) == 1 and message in err
    assert github.requests == []


def test_no_pull_request_without_an_event_or_pr(project, github, capsys):
    code, _, err = _run(["comment", *_compare(project), "--api-url", github.url], capsys)
    assert code == 2 and "no pull request: pass --pr" in err


def test_a_report_that_is_not_one(tmp_path, capsys):
    artifact = tmp_path / "verdicts.json"
    artifact.write_text('{"schema_version": 1, "mode": "revisions", "base": "abc", "head": null}')
    code, _, err = _run(["comment", "--report", str(artifact), "--dry-run"], capsys)
    assert code == 2 and err == f"machmeter comment: error: {artifact}: base is not a commit hash\n"
    code, _, err = _run(["comment", "--report", str(tmp_path / "missing.json"), "--dry-run"], capsys)
    assert code == 2 and "missing.json: cannot be read: No such file or directory" in err


def test_a_report_of_an_unknown_schema_version_is_refused_in_one_line(tmp_path, capsys):
    artifact = tmp_path / "verdicts.json"
    artifact.write_text(to_json(known_report()).replace('"schema_version": 1', '"schema_version": 2'))
    code, out, err = _run(["comment", "--report", str(artifact), "--dry-run"], capsys)
    assert code == 2 and out == ""
    assert err == (f"machmeter comment: error: {artifact}: schema_version 2: this machmeter {__version__} reads "
                   "check reports of schema_version 1 only (write the report with the same machmeter version)\n")


def test_github_unreachable_is_one_line(project, github, capsys):
    url = github.url
    github.__exit__()
    code, _, err = _run(["comment", *_compare(project), "--api-url", url, "--pr", "7"], capsys)
    assert code == 2 and _errors(err)[0].startswith("machmeter comment: error: GET /user: no answer")
    assert len(_errors(err)) == 1
    assert len(github.sleeps) == 4


def test_a_configured_site_url_that_is_not_one_names_the_file(project, tmp_path, capsys):
    config = tmp_path / "asv.conf.json"
    config.write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                  "results_dir": str(project["root"] / "results"), "branches": ["main"]}))
    (tmp_path / "machmeter.toml").write_text('site_url = "octo.github.io/repo"\n')
    code, _, err = _run(["comment", "--config", str(config), "--base", project["base"], "--head", project["head"],
                         "--dry-run"], capsys)
    assert code == 2 and err == f"machmeter comment: error: {tmp_path / 'machmeter.toml'}: site_url: 'octo.github.io/repo' is not an http(s) URL\n"


def _errors(err: str) -> list[str]:
    """stderr without the check's warnings (these synthetic results have no repository to learn the
    run-to-run noise from, and the comment says so)."""
    return [line for line in err.splitlines() if not line.startswith("machmeter comment: warning:")]
