"""``machmeter check``: what got slower, hungrier or less accurate — for a pull request (--base/--head)
or over the whole history (--history). Exit status: 0 no unacknowledged regression, 1 regressions (or
benchmarks failing at head), 2 bad input or usage."""

from __future__ import annotations

import os
import sys

from machmeter.errors import MachmeterError


def add_arguments(parser):
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--history", action="store_true", help="change points over every series' whole history")
    mode.add_argument("--base", metavar="REV", help="base revision of a comparison (with --head)")
    parser.add_argument("--head", metavar="REV", help="head revision of a comparison (with --base)")
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--machine", help="only this asv machine")
    parser.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of standard output")


def resolve_revision(revision: str, repo_path: str | None, named_prefixes: set[str], results_dir: str) -> str:
    """The commit a revision names: a full hash through git when the repository is there, else the
    revision matched against the hash prefixes that name result files (reading none of them)."""
    if repo_path and "://" not in repo_path:
        import git

        try:
            full = git.Repo(repo_path).commit(revision).hexsha
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            full = None
        except (git.BadName, ValueError, git.GitCommandError):
            raise MachmeterError(f"{repo_path}: unknown revision {revision!r}") from None
        if full is not None:
            if not any(full.startswith(prefix) for prefix in named_prefixes):
                raise MachmeterError(f"{results_dir}: no results for revision {revision!r} ({full[:8]})")
            return full
    matches = [p for p in named_prefixes if p.startswith(revision) or revision.startswith(p)]
    if not matches:
        raise MachmeterError(f"{results_dir}: no results for revision {revision!r} (and no repository to resolve it)")
    if len(matches) > 1:
        raise MachmeterError(f"{results_dir}: revision {revision!r} is ambiguous ({len(matches)} commits)")
    return revision if len(revision) > len(matches[0]) else matches[0]


def _full_hash(revision: str, commits: set[str], results_dir: str) -> str:
    found = [c for c in commits if c.startswith(revision)]
    if len(found) != 1:
        raise MachmeterError(f"{results_dir}: no results for revision {revision!r}" if not found
                             else f"{results_dir}: revision {revision!r} is ambiguous ({len(found)} commits)")
    return found[0]


def _load(results_dir: str, machine: str | None, commits=None):
    from machmeter.results import load_results

    results = load_results(results_dir, commits)
    for warning in results.warnings:
        print(f"machmeter check: warning: {warning}", file=sys.stderr)
    if not results.points:
        raise MachmeterError(f"{results_dir}: no results to check")
    if machine and machine not in results.machines:
        raise MachmeterError(f"{results_dir}: no results for machine {machine!r} "
                             f"(machines: {', '.join(sorted(results.machines)) or 'none'})")
    return results


def run(args) -> int:
    from machmeter.config import load_config
    from machmeter.detect.engine import check_history, check_revisions
    from machmeter.fileio import write_text_atomic
    from machmeter.project import load_project
    from machmeter.report.verdicts import RENDERERS
    from machmeter.results import result_commit_prefixes
    from machmeter.series import build_series, git_commit_order, load_history
    from machmeter.triage import load_triage

    if args.base is not None and args.head is None:
        raise MachmeterError("--base needs --head")
    if args.history and args.head is not None:
        raise MachmeterError("--head goes with --base, not with --history")
    project = load_project(args.config)
    config = load_config(project.root)
    acknowledgements = load_triage(config.triage_path)
    if args.history:
        # the branch's history (commits of pull requests are not part of it), or every commit by date
        series, _, machines, warnings = load_history(project.results_dir,
                                                     git_commit_order(project.repo, project.branches),
                                                     config, args.machine)
        for warning in warnings:
            print(f"machmeter check: warning: {warning}", file=sys.stderr)
        if args.machine and args.machine not in machines:
            raise MachmeterError(f"{project.results_dir}: no results for machine {args.machine!r}")
        if not series:
            raise MachmeterError(f"{project.results_dir}: no results to check")
        report = check_history(series, config, acknowledgements)
    else:
        # a pull request needs two commits: read only their files, whatever the history's length
        if not os.path.isdir(project.results_dir):
            raise MachmeterError(f"{project.results_dir}: results folder not found (run asv first)")
        named = result_commit_prefixes(project.results_dir)
        revisions = [resolve_revision(r, project.repo, named, project.results_dir) for r in (args.base, args.head)]
        results = _load(project.results_dir, args.machine, commits=revisions)
        present = {p.commit for p in results.points}
        base, head = (_full_hash(r, present, project.results_dir) for r in revisions)
        report = check_revisions(build_series(results, [base, head], config, args.machine), base, head, config,
                                 acknowledgements)
        machines, warnings = results.machines, results.warnings
    report.machines = {name: info for name, info in machines.items() if args.machine is None or name == args.machine}
    report.warnings = list(warnings)

    rendered = RENDERERS[args.format](report)
    if args.output:
        write_text_atomic(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    return 1 if report.failed else 0
