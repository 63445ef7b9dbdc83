"""``machmeter run-pr``: measure a pull request's base and head several times, alternated, confirm what
looks like a regression, and print the verdict (as ``machmeter check --base --head`` on those runs).
Exit status: 0 no unacknowledged regression, 1 regressions (or benchmarks failing at head), 2 bad input."""

from __future__ import annotations

import sys

from machmeter.commands.check import add_output_arguments, check_report_output, emit


def add_arguments(parser):
    parser.add_argument("--base", required=True, metavar="REV", help="base revision (e.g. main)")
    parser.add_argument("--head", required=True, metavar="REV", help="head revision (e.g. HEAD)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="asv runs of each side, alternated base/head (default 3)")
    parser.add_argument("--confirm-rounds", type=int, default=2,
                        help="more rounds of only the flagged benchmarks before the verdict is final (default 2; 0: none)")
    parser.add_argument("--max-cost", type=float, default=3.0, metavar="X",
                        help="confirmation rounds after the first stop before the job would cost more than X times "
                             "one run a side (asv continuous' cost; default 3; 0: no cap)")
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--machine", help="asv machine name (default: the host's, from ~/.asv-machine.json)")
    parser.add_argument("--bench", action="append", default=[], help="only benchmarks matching this regex (repeatable)")
    parser.add_argument("--quick", action="store_true", help="asv --quick: one sample per benchmark and run")
    add_output_arguments(parser)


def run(args) -> int:
    from machmeter.commands.machine import update_machine_file
    from machmeter.config import load_config
    from machmeter.project import load_project
    from machmeter.pull_request_runs import run_pull_request

    project = load_project(args.config)
    check_report_output(args.output, project)  # before hours of measuring
    config = load_config(project.root)
    machine = update_machine_file(args.machine)["machine"]
    report, log = run_pull_request(project, args.base, args.head, machine, rounds=args.rounds,
                                   confirm_rounds=args.confirm_rounds, bench=args.bench, quick=args.quick,
                                   config=config, max_cost=args.max_cost or None)
    print(f"machmeter run-pr: {log.cost()}", file=sys.stderr)
    for warning in report.warnings:
        print(f"machmeter run-pr: warning: {warning}", file=sys.stderr)
    return emit(report, args, config)
