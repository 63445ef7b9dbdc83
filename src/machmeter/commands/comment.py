"""``machmeter comment``: the verdict of a pull request as ONE comment on it, edited on every run.

The body is ``machmeter check --format markdown`` of the same comparison: computed here from asv's
results (``--base/--head``), or read from the JSON that ``machmeter check --format json`` wrote
(``--report``, what a workflow_run job downloads from the benchmark run: data only, validated).
Exit status: 0 posted (or printed with --dry-run), 2 bad input or a failed GitHub call.
"""

from __future__ import annotations

import json
import os
import sys

from machmeter.errors import MachmeterError

_REPORT_LIMIT = 64 * 2**20  # a check report is kilobytes; an artifact is untrusted, so cap what is read


def add_github_arguments(parser, owned: str) -> None:
    """--repo, --api-url and --author, shared by the verbs that write to GitHub (comment, notify);
    ``owned`` names what they edit ("a comment", "issues")."""
    parser.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--api-url", metavar="URL",
                        help="GitHub REST API (default: $GITHUB_API_URL, else https://api.github.com)")
    parser.add_argument("--author", metavar="LOGIN",
                        help=f"only {owned} by this account is machmeter's (default: the token's own account, "
                             "from GET /user; github-actions[bot] for an Actions token)")


def add_arguments(parser):
    from machmeter.commands.check import add_site_url_argument

    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--base", metavar="REV", help="base revision of the comparison (with --head)")
    source.add_argument("--report", metavar="FILE",
                        help="the JSON of `machmeter check --format json` (e.g. from the benchmark run's artifact)")
    parser.add_argument("--head", metavar="REV", help="head revision of the comparison (with --base)")
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--machine", help="only this asv machine (with --base/--head)")
    add_site_url_argument(parser)
    parser.add_argument("--details-url", metavar="URL",
                        help="where the full report is (e.g. the workflow run), linked when the comment is shortened")
    parser.add_argument("--pr", type=int, metavar="N",
                        help="pull request number (default: from the GitHub Actions event)")
    add_github_arguments(parser, "a comment")
    parser.add_argument("--expect-head", metavar="SHA",
                        help="refuse a report whose head commit is not this one")
    parser.add_argument("--dry-run", action="store_true", help="print the comment instead of posting it")


def _read_report(path: str):
    from machmeter.report.verdicts import report_from_json

    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read(_REPORT_LIMIT + 1)
    except OSError as error:
        raise MachmeterError(f"{path}: cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise MachmeterError(f"{path}: not UTF-8 text") from None
    if len(text) > _REPORT_LIMIT:
        raise MachmeterError(f"{path}: larger than {_REPORT_LIMIT // 2**20} MiB: not a check report")
    return report_from_json(text, path)


def _config_if_present(config_path: str):
    """The machmeter configuration beside asv.conf.json, when there is one (a report needs none)."""
    from machmeter.config import load_config
    from machmeter.project import load_project

    if not os.path.isfile(config_path):
        return None
    return load_config(load_project(config_path).root)


def _event():
    """(name, payload, path) of the GitHub Actions event this job runs for, or (None, None, None)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None, None, None
    try:
        with open(path, encoding="utf-8") as stream:
            return os.environ.get("GITHUB_EVENT_NAME", ""), json.load(stream), path
    except (OSError, ValueError) as error:
        raise MachmeterError(f"{path}: the GitHub event cannot be read: {error}") from None


def _pull_request(args, client):
    from machmeter.github import pull_request_from_event

    name, event, path = _event()
    if args.pr is not None:
        if args.pr <= 0:
            raise MachmeterError(f"--pr {args.pr}: not a pull request number")
        if name == "workflow_run" and isinstance(event, dict):
            # a number from anywhere but the event must name the pull request that was benchmarked
            expected = pull_request_from_event(name, event, client, path)
            if expected.number != args.pr:
                raise MachmeterError(f"--pr {args.pr}: the workflow run benchmarked pull request #{expected.number}")
        return args.pr
    if event is None:
        raise MachmeterError("no pull request: pass --pr (or run in GitHub Actions, which names the event)")
    return pull_request_from_event(name, event, client, path).number


def run(args) -> int:
    from machmeter.config import http_url, site_url_from
    from machmeter.github import DEFAULT_API_URL, GitHub, upsert_comment
    from machmeter.report.verdicts import COMMIT_HASH, MARKER, to_markdown

    if args.base is not None and args.head is None:
        raise MachmeterError("--base needs --head")
    if args.report is not None and (args.head is not None or args.machine is not None):
        raise MachmeterError("--head and --machine go with --base, not with --report")
    details_url = (args.details_url or "").strip() or None
    if details_url:
        details_url = http_url(details_url, "--details-url")
    if args.report is not None:
        report = _read_report(args.report)
        config = _config_if_present(args.config)
    else:
        from machmeter.comparison import compare_revisions
        from machmeter.config import load_config
        from machmeter.project import load_project

        project = load_project(args.config)
        config = load_config(project.root)
        report = compare_revisions(project, args.base, args.head, args.machine, config)
        for warning in report.warnings:
            print(f"machmeter comment: warning: {warning}", file=sys.stderr)
    if args.expect_head is not None:
        expected = args.expect_head.strip().lower()
        if not COMMIT_HASH.fullmatch(expected) or not (report.head or "").startswith(expected):
            raise MachmeterError(f"{args.report or 'comparison'}: head {str(report.head)[:12]} is not the expected "
                                 f"commit {args.expect_head[:12]!r}")
    body = to_markdown(report, site_url=site_url_from(args.site_url, config), details_url=details_url)
    if args.dry_run:
        sys.stdout.write(body)
        return 0

    token = os.environ.get("GITHUB_TOKEN", "")
    if not token.strip():
        raise MachmeterError("GITHUB_TOKEN is not set (a token that may comment on pull requests); "
                             "--dry-run prints the comment instead")
    repository = args.repo or os.environ.get("GITHUB_REPOSITORY", "")
    if not repository:
        raise MachmeterError("no repository: pass --repo OWNER/NAME (GitHub Actions sets GITHUB_REPOSITORY)")
    client = GitHub(repository, token, args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL)
    number = _pull_request(args, client)
    action, comment = upsert_comment(client, number, body, MARKER, author=args.author)
    where = comment.get("html_url") or f"{repository}#{number}"
    print(f"machmeter comment: {action} {where} ({len(body):,} characters)")
    return 0
