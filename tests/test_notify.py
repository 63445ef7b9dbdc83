"""machmeter notify against the fake GitHub of test_github.py: one issue per regression range of the
history check, opened, left alone, updated, reopened and closed night after night; only the token's own
issues; mentions neutralised; a dry run changes nothing."""

from __future__ import annotations

import json

import pytest

from machmeter.cli import main
from machmeter.detect.engine import Change, CheckReport
from machmeter.report.verdicts import to_json
from machmeter.site.data import short_id

from .test_github import BOT, TOKEN, FakeGitHub

SITE = "https://octo.github.io/repo"
A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def _regression(benchmark, params, machine, since, commit, change=0.25):
    return Change(benchmark=benchmark, params=params, machine=machine, env_name="env", commit=commit,
                  commit_range=(since, commit), before=1.0, after=1.0 + change, change=change, direction="regression",
                  kind="time", unit="seconds", higher_is_better=False, confidence=None, method="change-point")


def _report(tmp_path, name, machine, regressions):
    report = CheckReport(mode="history", regressions=regressions, series_checked=10,
                         machines={machine: {"machine": machine, "gpu": "NVIDIA H100"}})
    path = tmp_path / f"{name}.json"
    path.write_text(to_json(report))
    return str(path)


@pytest.fixture
def github(monkeypatch):
    with FakeGitHub() as fake:
        for variable in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_API_URL"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", "octo/repo")
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        yield fake


def _notify(*reports, extra=()):
    return main(["notify", *[arg for report in reports for arg in ("--report", report)], "--site-url", SITE,
                 "--config", "/nonexistent/asv.conf.json", *extra])


def test_one_issue_per_range_updated_reopened_and_closed_night_after_night(github, tmp_path, capsys):
    slow = "suite.Encoder.time_forward"
    night1 = _report(tmp_path, "h100-1", "h100", [
        _regression(slow, {"size": "64"}, "h100", A, B), _regression(slow, {"size": "512"}, "h100", A, B, 0.4),
        _regression("suite.Md.time_step", {}, "h100", C, D)])
    assert _notify(night1) == 0
    issues = sorted(github.issues.values(), key=lambda i: i["number"])
    assert len(issues) == 2 and all(i["user"]["login"] == BOT and i["state"] == "open" for i in issues)
    first = issues[0]
    assert first["title"] == f"Regression: {slow} on h100, {A[:8]}..{B[:8]} (+40.0%)"
    body = first["body"]
    assert body.startswith("<!-- machmeter-regression:") and "size=64" in body and "size=512" in body
    assert f"{SITE}/benchmarks/{short_id(slow)}.html" in body and f"compare.html?base={A}&head={B}" in body
    assert f"asv find {A[:12]}..{B[:12]}" in body
    # the same report again: nothing to change
    posts = len(github.calls("POST")) + len(github.calls("PATCH"))
    assert _notify(night1) == 0
    assert len(github.calls("POST")) + len(github.calls("PATCH")) == posts
    # the next night: the encoder's range is fixed, the MD one got worse, the other machine's report is absent
    other = github.add_issue("Regression on a100", "<!-- machmeter-regression:" + short_id("machine:a100")
                             + "-" + "0" * 16 + " -->\nbody", login=BOT)
    night2 = _report(tmp_path, "h100-2", "h100", [_regression("suite.Md.time_step", {}, "h100", C, D, 0.5)])
    assert _notify(night2) == 0
    assert first["state"] == "closed" and first["state_reason"] == "completed"
    assert any(c["issue"] == first["number"] and "no longer" in c["body"] for c in github.comments)
    assert "+50.0%" in issues[1]["title"] and issues[1]["state"] == "open"
    assert other["state"] == "open"  # no a100 report tonight: its issue stays
    # the encoder regresses again in the same range: its issue reopens, no second one
    assert _notify(night1) == 0
    assert first["state"] == "open" and len(github.issues) == 3
    out = capsys.readouterr().out
    assert "reopen" in out and "machmeter notify: 2 regression range(s)" in out


def test_only_its_own_issues_and_no_mentions(github, tmp_path):
    report = _report(tmp_path, "r", "h100", [_regression("suite.@octocat.time_x", {"who": "@everyone #1"}, "h100", A, B)])
    assert _notify(report) == 0
    (mine,) = github.issues.values()
    # someone quotes the marker in an issue of their own: never edited, never closed
    github.add_issue("copy", mine["body"], login="mallory")
    empty = _report(tmp_path, "empty", "h100", [])
    assert _notify(empty) == 0
    assert mine["state"] == "closed"
    assert [i["state"] for i in github.issues.values() if i["user"]["login"] == "mallory"] == ["open"]
    assert "@octocat" not in mine["body"] and "@everyone" not in mine["body"] and "#1" not in mine["body"]
    assert ("GET", "/repos/octo/repo/issues", {"per_page": "100", "state": "all", "creator": BOT}) in github.requests


def test_a_creation_that_github_stored_before_failing_is_not_repeated(github, tmp_path):
    report = _report(tmp_path, "r", "h100", [_regression("suite.S.time_x", {}, "h100", A, B)])
    github.fail("POST", r"/issues$", 502, apply=True)
    assert _notify(report) == 0
    assert len(github.issues) == 1


def test_dry_run_changes_nothing(github, tmp_path, capsys, monkeypatch):
    report = _report(tmp_path, "r", "h100", [_regression("suite.S.time_x", {}, "h100", A, B)])
    assert _notify(report, extra=["--dry-run"]) == 0
    assert not github.issues and not github.calls("POST") and not github.calls("PATCH")
    out = capsys.readouterr().out
    assert "would create: Regression: suite.S.time_x on h100" in out and "dry run: nothing changed" in out
    monkeypatch.delenv("GITHUB_TOKEN")  # no token: every issue would be opened, GitHub is not asked
    assert _notify(report, extra=["--dry-run"]) == 0 and "would create" in capsys.readouterr().out


def test_bad_input_is_one_line(github, tmp_path, capsys, monkeypatch):
    pull_request = CheckReport(mode="revisions", base=A, head=B)
    path = tmp_path / "pr.json"
    path.write_text(to_json(pull_request))
    assert _notify(str(path)) == 2
    assert "notify reads the report of `machmeter check --history`" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(json.dumps({"mode": "history"}))
    assert _notify(str(tmp_path / "bad.json")) == 2
    monkeypatch.delenv("GITHUB_TOKEN")
    assert _notify(_report(tmp_path, "r", "h100", [])) == 2
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_a_regression_fixed_later_in_the_history_closes_its_issue(github, tmp_path):
    slow = "suite.Md.time_step"
    assert _notify(_report(tmp_path, "night1", "h100", [_regression(slow, {}, "h100", A, B)])) == 0
    (issue,) = github.issues.values()
    fixed = _regression(slow, {}, "h100", A, B)
    fixed.still_open = False  # the check saw an improvement back to the old level after it
    assert _notify(_report(tmp_path, "night2", "h100", [fixed])) == 0
    assert issue["state"] == "closed"
