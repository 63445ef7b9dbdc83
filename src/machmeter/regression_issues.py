"""``machmeter notify``'s work: one GitHub issue per open regression range of the history check.

A regression range is one benchmark on one machine regressing between two commits (every parameter
combination that regressed there: one issue, not sixteen). Its issue carries a hidden marker
``<!-- machmeter-regression:<key> -->`` (the key: hashes of the machine and of the benchmark and range,
hex only) that finds it again on the next night: updated while the regression is in the check's report,
reopened should it come back, closed once the report no longer holds it (fixed and no longer a change
point, or acknowledged in the triage file). Only issues the token's own account opened are machmeter's:
anyone may quote the marker.

Closing is per machine: an issue is closed only when a report of its machine was given, so a night on
which one runner failed does not close that runner's issues.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from machmeter.detect.engine import Change, CheckReport
from machmeter.errors import MachmeterError
from machmeter.report.verdicts import _fingerprint, _markdown_table, _where, compare_url, markdown_escape
from machmeter.site.data import short_id

MARKER_PREFIX = "<!-- machmeter-regression:"
_MARKER = re.compile(r"<!-- machmeter-regression:([0-9a-f]{16})-([0-9a-f]{16}) -->")
TITLE_LIMIT = 256  # GitHub's longest issue title
_ROW_CAP = 100     # parameter combinations listed in one issue; the site has every one


@dataclass
class RegressionIssue:
    key: str
    machine: str
    title: str
    body: str


@dataclass
class Action:
    action: str                 # "create", "update", "reopen", "close" or "unchanged"
    title: str
    key: str
    number: int | None = None   # the existing issue's
    body: str | None = None


def machine_key(machine: str) -> str:
    return short_id("machine:" + machine)


def _key(machine: str, benchmark: str, commit_range: tuple[str, str]) -> str:
    return f"{machine_key(machine)}-{short_id(repr((benchmark, tuple(commit_range))))}"


def regression_issues(reports: list[CheckReport], site_url: str | None = None) -> list[RegressionIssue]:
    """The issues the reports call for: one per benchmark, machine and commit range with an
    unacknowledged regression, in the reports' order."""
    grouped: dict[str, list[Change]] = {}
    machines: dict[str, dict] = {}
    for report in reports:
        if report.mode != "history":
            raise MachmeterError(f"a {report.mode} report: notify reads the report of `machmeter check --history`")
        machines.update(report.machines)
        # a regression fixed later in the history (its series back at least half way) needs no issue:
        # its issue is closed (still_open is None in reports of a machmeter before it was said)
        for change in (c for c in report.regressions if c.still_open is not False):
            grouped.setdefault(_key(change.machine, change.benchmark, change.commit_range), []).append(change)
    return [_issue(key, changes, machines, site_url) for key, changes in grouped.items()]


def _issue(key: str, changes: list[Change], machines: dict, site_url: str | None) -> RegressionIssue:
    first = changes[0]
    since, commit = first.commit_range
    worst = max(changes, key=lambda c: abs(c.change))
    # a title is plain text on GitHub (no markdown, no mentions): only kept to one line and its limit
    title = " ".join(f"Regression: {first.benchmark} on {first.machine}, {_where(first)} "
                     f"({worst.change * 100:+.1f}%)".split())
    if len(title) > TITLE_LIMIT:
        title = title[:TITLE_LIMIT - 1] + "…"
    lines = [f"{MARKER_PREFIX}{key} -->",
             f"**machmeter nightly**: `{markdown_escape(first.benchmark)}` regressed on "
             f"{markdown_escape(first.machine)} between `{since[:12]}` and `{commit[:12]}` "
             f"({len(changes)} parameter combination(s), worst {worst.change * 100:+.1f}%).", ""]
    if site_url:
        base = site_url.rstrip("/")
        lines += [f"Charts: [{markdown_escape(first.benchmark)}]({base}/benchmarks/{short_id(first.benchmark)}.html)"
                  f" · [every series at the two commits]({compare_url(base, since, commit)})", ""]
    lines += _markdown_table(changes, machines, _ROW_CAP, "see the site or `machmeter check --history`")
    if first.machine in machines:
        lines += ["", f"Machine: {_fingerprint(first.machine, machines[first.machine])}"]
    lines += ["", f"Bisect: `asv find {since[:12]}..{commit[:12]} {markdown_escape(first.benchmark)}` on that "
                  "machine. This issue is updated every night while the regression is in `machmeter check "
                  "--history`, and closed when it is not (fixed, or acknowledged in the triage file)."]
    return RegressionIssue(key, first.machine, title, "\n".join(lines) + "\n")


def _marker_of(issue: dict) -> tuple[str, str] | None:
    """(key, machine key) of an issue machmeter opened, from its body's first line."""
    body = str(issue.get("body") or "")
    found = _MARKER.match(body)
    return (f"{found[1]}-{found[2]}", found[1]) if found else None


def plan(existing: list[dict], wanted: list[RegressionIssue], machines: set[str]) -> list[Action]:
    """What to do on GitHub: ``existing`` are the issues machmeter's account opened (any state),
    ``machines`` the machines the reports checked (only their issues may be closed)."""
    by_key: dict[str, dict] = {}
    for issue in existing:
        marker = _marker_of(issue)
        if marker is None or not isinstance(issue.get("number"), int):
            continue
        known = by_key.get(marker[0])
        # an open issue wins over a closed one; among equals, the oldest (the one people watch)
        if known is None or (known.get("state") != "open" and issue.get("state") == "open"):
            by_key[marker[0]] = issue
    actions = []
    for item in wanted:
        issue = by_key.pop(item.key, None)
        if issue is None:
            actions.append(Action("create", item.title, item.key, body=item.body))
        elif issue.get("state") != "open":
            actions.append(Action("reopen", item.title, item.key, issue["number"], item.body))
        elif issue.get("title") != item.title or issue.get("body") != item.body:
            actions.append(Action("update", item.title, item.key, issue["number"], item.body))
        else:
            actions.append(Action("unchanged", item.title, item.key, issue["number"]))
    scope = {machine_key(m) for m in machines}
    for key, issue in by_key.items():
        if issue.get("state") == "open" and key.split("-", 1)[0] in scope:
            actions.append(Action("close", str(issue.get("title") or ""), key, issue["number"]))
    return actions


def apply(client, actions: list[Action], author: str) -> list[tuple[Action, dict | None]]:
    """Carry ``actions`` out through ``client`` (machmeter.github.GitHub); a creation happens at most
    once (machmeter.github.create_once)."""
    from machmeter.github import create_once

    done = []
    for action in actions:
        if action.action == "create":
            def find(key=action.key):
                return next((i for i in client.issues(author) if (_marker_of(i) or ("",))[0] == key), None)

            def update(found, action=action):
                return "updated", client.update_issue(found["number"], title=action.title, body=action.body,
                                                      state="open")

            _, issue = create_once(client, find, update, lambda a=action: client.create_issue(a.title, a.body),
                                   "the issue")
        elif action.action in ("update", "reopen"):
            issue = client.update_issue(action.number, title=action.title, body=action.body, state="open")
        elif action.action == "close":
            client.create_comment(action.number, "machmeter: this regression is no longer in the nightly "
                                                 "`machmeter check --history` (fixed, or acknowledged): closing.")
            issue = client.update_issue(action.number, state="closed", state_reason="completed")
        else:
            issue = None
        done.append((action, issue))
    return done
