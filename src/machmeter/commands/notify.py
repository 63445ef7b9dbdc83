"""``machmeter notify``: the nightly's regressions on the default branch as GitHub issues, one per
regression range, kept in step with ``machmeter check --history --format json`` (``--report``, one per
machine; what a workflow job downloads from the validate job: data only, validated on reading). Opens
an issue for a new range, updates or reopens its issue while it stays, closes it when it goes
(machmeter.regression_issues). Exit status: 0 done (or printed with --dry-run), 2 bad input or a failed
GitHub call.
"""

from __future__ import annotations

import os
import sys

from machmeter.errors import MachmeterError


def add_arguments(parser):
    from machmeter.commands.check import add_site_url_argument
    from machmeter.commands.comment import add_github_arguments

    parser.add_argument("--report", metavar="FILE", action="append", required=True,
                        help="the JSON of `machmeter check --history --format json` (repeatable: one per machine; "
                             "only the given machines' issues are closed)")
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    add_site_url_argument(parser)
    add_github_arguments(parser, "issues opened")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what it would do (against GitHub's issues when GITHUB_TOKEN is set) and do nothing")


def run(args) -> int:
    from machmeter.commands.comment import _config_if_present, _read_report
    from machmeter.config import site_url_from
    from machmeter.github import DEFAULT_API_URL, GitHub
    from machmeter.regression_issues import apply, plan, regression_issues

    reports = [_read_report(path) for path in args.report]
    site_url = site_url_from(args.site_url, _config_if_present(args.config))
    wanted = regression_issues(reports, site_url)
    machines = {m for report in reports for m in report.machines} | {issue.machine for issue in wanted}
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token.strip():
        if not args.dry_run:
            raise MachmeterError("GITHUB_TOKEN is not set (a token that may write issues); "
                                 "--dry-run prints what it would do instead")
        client, existing, author = None, [], None  # nothing to compare with: every issue would be opened
    else:
        repository = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise MachmeterError("no repository: pass --repo OWNER/NAME (GitHub Actions sets GITHUB_REPOSITORY)")
        client = GitHub(repository, token, args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL)
        author = args.author or client.own_login()
        existing = list(client.issues(author))
    actions = plan(existing, wanted, machines)
    if args.dry_run:
        bodies = {issue.key: issue.body for issue in wanted}
        for action in actions:
            where = f" #{action.number}" if action.number is not None else ""
            print(f"would {action.action}{where}: {action.title}")
            if action.action in ("create", "update", "reopen"):
                sys.stdout.write("".join(f"    {line}\n" for line in bodies[action.key].splitlines()))
        print(f"machmeter notify: {len(wanted)} regression range(s), dry run: nothing changed")
        return 0
    counts: dict[str, int] = {}
    for action, issue in apply(client, actions, author):
        counts[action.action] = counts.get(action.action, 0) + 1
        if action.action != "unchanged":
            where = (issue or {}).get("html_url") or f"#{action.number}"
            print(f"machmeter notify: {action.action} {where}: {action.title}")
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "no issue to open or close"
    print(f"machmeter notify: {len(wanted)} regression range(s): {summary}")
    return 0
