"""``machmeter demo``: the main job on an embedded default, on this machine.

Records the machine's fingerprint, runs the project's asv suite on the last few commits of the
current branch into the project's local results folder, and prints what it measured.
"""

from __future__ import annotations

import argparse
import os
import sys

from machmeter.errors import MachmeterError


def add_arguments(parser):
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--commits", type=int, default=3, help="how many of the last commits to benchmark (default 3)")
    parser.add_argument("--machine", help="asv machine name (default: the host name)")
    parser.add_argument("--bench", action="append", default=[], help="only benchmarks matching this regex (repeatable)")
    parser.add_argument("--quick", action="store_true", help="asv --quick: one sample per benchmark")
    parser.add_argument("--check-rounds", type=int, default=2,
                        help="runs of each of the newest two commits that the check compares (default 2; 1: the history's run only)")


def verdict_of_last_commit(project, commits: list[str], machine: str) -> str:
    """What ``machmeter check --base --head`` says of the newest commit against the one before it."""
    from machmeter.comparison import compare_revisions
    from machmeter.report.verdicts import to_text

    return to_text(compare_revisions(project, commits[-2], commits[-1], machine))


def add_sample_history(project, sample_dir: str) -> list[str]:
    """Copy the committed GPU sample history (asv results of other machines) into the results folder,
    machine by machine, where that machine has no results yet: the site then shows a real GPU history
    beside this machine's. Returns the machines added."""
    import shutil

    if not os.path.isdir(sample_dir):
        return []
    added = []
    for name in sorted(os.listdir(sample_dir)):
        source = os.path.join(sample_dir, name)
        target = os.path.join(project.results_dir, name)
        if os.path.isfile(os.path.join(source, "machine.json")) and not os.path.exists(target):
            shutil.copytree(source, target)
            added.append(name)
    return added


def run(args) -> int:
    from machmeter.asv_run import run_asv
    from machmeter.commands.machine import update_machine_file
    from machmeter.project import load_project
    from machmeter.report.measured import measured_table
    from machmeter.repository import last_commits
    from machmeter.results import load_results

    if args.commits < 1:
        raise MachmeterError("--commits must be at least 1")
    project = load_project(args.config)
    commits = last_commits(project.repo, args.commits)
    entry = update_machine_file(args.machine)
    machine = entry["machine"]
    print(f"machmeter demo: machine {machine!r} (GPU: {entry.get('gpu') or 'none'}), "
          f"{len(commits)} commit(s), results in {project.results_dir}", flush=True)
    status = run_asv(project, commits, machine, args.bench, args.quick)
    if status != 0:
        print(f"machmeter demo: asv run exited with status {status}; showing what was recorded", file=sys.stderr)
    results = load_results(project.results_dir, commits)
    for warning in results.warnings:
        print(f"machmeter demo: warning: {warning}", file=sys.stderr)
    print()
    print(measured_table(results, commits, machine=machine))
    if len(commits) >= 2 and args.check_rounds > 1:
        # one run a side cannot tell a change from how runs differ: measure the newest two commits again,
        # alternated (head first: the history ran base before head), each run kept in the run archive
        from machmeter.pull_request_runs import alternated, measure_round

        print(f"\nmachmeter demo: {args.check_rounds - 1} more run(s) of the newest two commits, alternated, "
              "so that the check rests on runs, not on one process's samples", flush=True)
        for number, commit in alternated(commits[-1], commits[-2], args.check_rounds - 1):
            measure_round(project, machine, commit, number + 1, args.bench, args.quick, (), run_asv)
    if len(commits) >= 2:
        print(f"\n$ machmeter check --base {commits[-2][:8]} --head {commits[-1][:8]} --machine {machine}")
        print(verdict_of_last_commit(project, commits, machine), end="")
    print(f"\nResults: {project.results_dir}")

    from machmeter.commands.site import build

    added = add_sample_history(project, os.path.join(project.root, "docs", "sample-results"))
    if added:
        print(f"machmeter demo: the site also shows the GPU sample history of {', '.join(added)} (docs/sample-results)")
    print("\n$ machmeter site")
    summary = build(argparse.Namespace(config=project.config_path, output=None, site_url=None, machine=None))
    print(f"Site: {os.path.join(summary.output_dir, 'index.html')}\n"
          f"Preview it: machmeter serve --no-build (http://127.0.0.1:8000/); publish the folder on GitHub Pages")
    return 0 if status == 0 else 1
