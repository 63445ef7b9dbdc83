"""``machmeter check``: what got slower, hungrier or less accurate — for a pull request (--base/--head)
or over the whole history (--history). Exit status: 0 no unacknowledged regression, 1 regressions (or
benchmarks failing at head), 2 bad input or usage."""

from __future__ import annotations

import dataclasses
import os
import sys

from machmeter.errors import MachmeterError

# the renderers of machmeter.report.formats.RENDERERS, named here so that building the command line
# imports no renderer (check and run-pr take the same)
FORMATS = ("text", "json", "markdown", "junit", "csv", "github")


def add_arguments(parser):
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--history", action="store_true", help="change points over every series' whole history")
    mode.add_argument("--base", metavar="REV", help="base revision of a comparison (with --head)")
    parser.add_argument("--head", metavar="REV", help="head revision of a comparison (with --base)")
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--machine", help="only this asv machine")
    parser.add_argument("--results", metavar="DIR",
                        help="asv results folder (default: results_dir of the asv configuration), e.g. one "
                             "restored from an artifact")
    parser.add_argument("--traces", metavar="DIR",
                        help="with --base/--head: the folder MACHMETER_TRACE_DIR gave the runs (default: "
                             "$MACHMETER_TRACE_DIR); explanations then name the kernels that appeared, "
                             "disappeared or grew")
    add_output_arguments(parser)


def add_output_arguments(parser):
    """--format, --output and --site-url: how check and run-pr write their report."""
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text; json (machines, machmeter comment); markdown (the pull-request comment); "
                             "junit (JUnit XML for test reporters); csv (one row per change); github "
                             "(::error/::warning annotations, and the Markdown report appended to "
                             "$GITHUB_STEP_SUMMARY when it is set)")
    parser.add_argument("--output", metavar="FILE", help="write the report here instead of standard output")
    add_site_url_argument(parser)


def add_site_url_argument(parser):
    parser.add_argument("--site-url", metavar="URL",
                        help="the published machmeter site: Markdown links to its compare page "
                             "(default: site_url of the machmeter configuration)")


def check_report_output(path: str | None, project) -> None:
    """Refuse ``--output`` inside the results folder before any work: a report written there would replace
    asv's own files (results/benchmarks.json) or be read back as results."""
    if not path:
        return
    target, results = os.path.realpath(path), os.path.realpath(project.results_dir)
    if target == results or target.startswith(results.rstrip(os.sep) + os.sep):
        raise MachmeterError(f"--output {path}: inside the results folder {project.results_dir}; "
                             f"write the report elsewhere")


def run(args) -> int:
    from machmeter.comparison import compare_revisions
    from machmeter.config import load_config
    from machmeter.detect.engine import check_history
    from machmeter.history import read_history
    from machmeter.project import load_project
    from machmeter.repository import commit_order
    from machmeter.triage import load_triage

    if args.base is not None and args.head is None:
        raise MachmeterError("--base needs --head")
    if args.history and args.head is not None:
        raise MachmeterError("--head goes with --base, not with --history")
    if args.history and args.traces is not None:
        raise MachmeterError("--traces goes with --base/--head, not with --history")
    project = load_project(args.config)
    if args.results:
        project = dataclasses.replace(project, results_dir=os.path.abspath(args.results))
    check_report_output(args.output, project)
    config = load_config(project.root)
    if args.history:
        acknowledgements = load_triage(config.triage_path)
        # the branch's history (commits of pull requests are not part of it), or every commit by date
        history = read_history(project.results_dir, commit_order(project.repo, project.branches),
                               config, args.machine)
        series, machines, warnings = history.series, history.machines, history.warnings
        for warning in warnings:
            print(f"machmeter check: warning: {warning}", file=sys.stderr)
        if args.machine and args.machine not in machines:
            raise MachmeterError(f"{project.results_dir}: no results for machine {args.machine!r}")
        if not series:
            raise MachmeterError(f"{project.results_dir}: no results to check")
        report = check_history(series, config, acknowledgements, history.runs, history.commits, history.machines)
        report.machines = {name: info for name, info in machines.items()
                           if args.machine is None or name == args.machine}
        report.warnings = list(warnings) + report.warnings
        for warning in report.warnings[len(warnings):]:
            print(f"machmeter check: warning: {warning}", file=sys.stderr)
    else:
        report = compare_revisions(project, args.base, args.head, args.machine, config, args.traces)
        for warning in report.warnings:
            print(f"machmeter check: warning: {warning}", file=sys.stderr)

    return emit(report, args, config)


def emit(report, args, config) -> int:
    """Render ``report`` as ``args.format`` to ``args.output`` (or standard output); the exit status."""
    from machmeter.config import site_url_from
    from machmeter.fileio import write_text_atomic
    from machmeter.report.formats import render

    site_url = site_url_from(args.site_url, config)
    rendered = render(report, args.format, site_url=site_url)
    if args.output:
        write_text_atomic(args.output, rendered)
    else:
        sys.stdout.write(rendered)
    if args.format == "github":
        append_step_summary(render(report, "markdown", site_url=site_url))
    return 1 if report.failed else 0


def append_step_summary(markdown: str) -> None:
    """Append ``markdown`` to the job summary (the file $GITHUB_STEP_SUMMARY names, set inside GitHub
    Actions only). A summary that cannot be written is a warning: the verdict and the exit status stand."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown if markdown.endswith("\n") else markdown + "\n")
    except OSError as error:
        print(f"machmeter: warning: could not append the report to $GITHUB_STEP_SUMMARY ({path}): "
              f"{error.strerror or error}", file=sys.stderr)
