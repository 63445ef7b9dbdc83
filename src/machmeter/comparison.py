"""A pull request's comparison: two revisions of an asv project, resolved, loaded and judged.

The one implementation behind ``machmeter check --base/--head`` and ``machmeter comment``, so that the
comment on a pull request says exactly what the check says.
"""

from __future__ import annotations

import itertools
import json
import os

from machmeter.config import MachmeterConfig, load_config
from machmeter.detect.engine import CheckReport, apply_targets, check_revisions, run_to_run_noises
from machmeter.detect.noise import NOISE_WINDOW
from machmeter.errors import MachmeterError
from machmeter.fingerprint import fingerprint_differences
from machmeter.instruments.counters import (KERNELS_SUFFIX, TRACE_DIR_ENV, TRACE_SUFFIX, results_trace_folder,
                                           window_name, window_stem)
from machmeter.project import AsvProject
from machmeter.results import load_results, parameter_value, result_commit_prefixes_by_machine
from machmeter.repository import commit_hash, commit_order, commits_between, refuse_option
from machmeter.series import Series, build_series, suite_of
from machmeter.triage import acknowledgements_for_pull_request, load_triage


def resolve_revision(revision: str, repo_path: str | None, named_prefixes: set[str], results_dir: str) -> str:
    """The commit a revision names: a full hash through git when the repository is there, else the
    revision matched against the hash prefixes that name result files (reading none of them)."""
    full = commit_hash(repo_path, refuse_option(revision))
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


def recent_history(project: AsvProject, prefixes_by_machine: dict[str, set[str]], base: str, exclude: set[str],
                   config: MachmeterConfig, machine: str | None = None) -> list[Series] | None:
    """The series of each machine's newest :data:`NOISE_WINDOW` runs of the branch (the nightly runs a
    pull request is judged against), ``exclude`` left out; None without a repository. The branch is the
    configured one, else its remote-tracking twin (a pull-request job checks out a detached head and often
    has no local branch), else the base's first-parent ancestry."""
    candidates = [*project.branches, *(f"origin/{branch}" for branch in project.branches), base]
    ancestry = commit_order(project.repo, candidates)
    if not ancestry:
        return None
    commits: set[str] = set()
    for name, prefixes in prefixes_by_machine.items():
        if machine is not None and name != machine:
            continue
        lengths = {len(prefix) for prefix in prefixes}
        measured = (c for c in reversed(ancestry)
                    if c not in exclude and any(c[:n] in prefixes for n in lengths))
        commits.update(itertools.islice(measured, NOISE_WINDOW))
    if not commits:
        return []
    order = [c for c in ancestry if c in commits]
    return build_series(load_results(project.results_dir, order), order, config, machine)


def _fingerprint_warnings(results, base: str, head: str, machine: str | None) -> list[str]:
    """One warning per machine whose base and head runs were made on other hardware or software: part
    of any difference between them is the machines' (pyperf shows the same wherever runs are compared)."""
    warnings = []
    for name in sorted({m for m, _ in results.runs if machine is None or m == machine}):
        before, after = results.runs.get((name, base)), results.runs.get((name, head))
        if before is None or after is None:
            continue
        differences = fingerprint_differences(before, after)
        if differences:
            changed = "; ".join(f"{label} {old} -> {new}" for label, old, new in differences)
            warnings.append(f"{name}: base and head ran on different machines or software ({changed}): "
                            "part of every difference between them is the machines'")
    return warnings


def _top_kernels(table) -> list[dict]:
    """The ``top_kernels`` of a table as instruments.counters writes them; ValueError if it is none."""
    kernels = table.get("top_kernels") if isinstance(table, dict) else None
    if not isinstance(kernels, list) or not all(
            isinstance(k, dict) and isinstance(k.get("name"), str)
            and all(isinstance(k.get(n), (int, float)) and not isinstance(k.get(n), bool) for n in ("count", "total_us"))
            for k in kernels):
        raise ValueError("no top_kernels list of name, count and total_us")
    return kernels


class TraceFolder:
    """The top-kernel tables that runs with MACHMETER_TRACE_DIR left, ``<dir>/<first 8 of commit>/
    <window stem>.kernels.json`` (instruments.counters.trace_paths), read when a change asks for one.
    The suite's module path in a window's name is Python's (``benchmarks.md.MD``), asv's name drops the
    benchmark folder (``md.MD``): a table is found by the end of its name. One that is missing or cannot
    be used is skipped with a warning naming it."""

    def __init__(self, path: str, implicit: bool = False):
        self.path = path
        # run-pr's folder beside the results, read without being asked for: a commit it has no traces
        # of (nothing was flagged there) is no news
        self.implicit = implicit
        self.warnings: list[str] = []
        self._listings: dict[str, list[str] | None] = {}
        self._tables: dict[str, list[dict] | None] = {}

    def _warn(self, warning: str) -> None:
        if warning not in self.warnings:  # asked once per change: the same table serves several
            self.warnings.append(warning)

    def _listing(self, folder: str) -> list[str] | None:
        if folder not in self._listings:
            try:
                self._listings[folder] = sorted(os.listdir(folder))
            except OSError as error:
                self._listings[folder] = None
                if not self.implicit:
                    self._warn(f"{folder}: no traces there ({error.strerror or error}): kernels not named")
        return self._listings[folder]

    def _file(self, commit: str, suite: str, params: dict[str, str], suffix: str) -> str | None:
        """The path of ``suite``'s window at ``params`` (asv's names) in ``commit``'s run with ``suffix``,
        None if there is none."""
        folder = os.path.join(self.path, commit[:8])
        names = self._listing(folder)
        if names is None:
            return None
        window = window_name(suite, ((name, parameter_value(value)) for name, value in params.items()))
        wanted = window_stem(window) + suffix
        found = [name for name in names if name == wanted or name.endswith("." + wanted)]
        if not found:
            # a trace is a link when there is one, never a warning; run-pr's folder holds only the
            # suites it confirmed, so a table missing there is no news either
            if suffix == KERNELS_SUFFIX and not self.implicit:
                self._warn(f"{os.path.join(folder, '*' + wanted)}: no top-kernels table of {window}: kernels not named")
            return None
        return os.path.join(folder, found[0])

    def trace(self, commit: str, suite: str, params: dict[str, str]) -> str | None:
        """The Chrome trace of ``suite`` at ``params`` in ``commit``'s run, None if there is none."""
        return self._file(commit, suite, params, TRACE_SUFFIX)

    def kernels(self, commit: str, suite: str, params: dict[str, str]) -> list[dict] | None:
        """The top kernels of ``suite`` at ``params`` (asv's names) in ``commit``'s run, None if none."""
        path = self._file(commit, suite, params, KERNELS_SUFFIX)
        if path is None:
            return None
        if path not in self._tables:
            try:
                with open(path, encoding="utf-8") as stream:
                    self._tables[path] = _top_kernels(json.load(stream))
            except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                self._tables[path] = None
                self._warn(f"{path}: not a top-kernels table ({error}): skipped")
        return self._tables[path]


def compare_revisions(project: AsvProject, base: str, head: str, machine: str | None = None,
                      config: MachmeterConfig | None = None, traces: str | None = None) -> CheckReport:
    """Every series of the two revisions compared, triage applied; the report carries the machines'
    fingerprints and the warnings of files that were skipped (the caller shows them). ``traces``
    (default: $MACHMETER_TRACE_DIR, so that check, comment and run-pr say the same): a folder of
    top-kernel tables, which let explanations name kernels."""
    config = config if config is not None else load_config(project.root)
    acknowledgements = load_triage(config.triage_path)
    results_dir = project.results_dir
    # a pull request needs two commits: read only their files, whatever the history's length
    if not os.path.isdir(results_dir):
        raise MachmeterError(f"{results_dir}: results folder not found (run asv first)")
    # the folder is listed once: the revisions resolve against it, and the history window comes from it
    prefixes_by_machine = result_commit_prefixes_by_machine(results_dir)
    named = set().union(*prefixes_by_machine.values())
    revisions = [resolve_revision(r, project.repo, named, results_dir) for r in (base, head)]
    results = load_results(results_dir, revisions)
    if not results.points:
        raise MachmeterError(f"{results_dir}: no results to check")
    if machine and machine not in results.machines:
        raise MachmeterError(f"{results_dir}: no results for machine {machine!r} "
                             f"(machines: {', '.join(sorted(results.machines)) or 'none'})")
    present = {p.commit for p in results.points}
    base_hash, head_hash = (_full_hash(r, present, results_dir) for r in revisions)
    acknowledgements = acknowledgements_for_pull_request(
        acknowledgements, commits_between(project.repo, base_hash, head_hash), head_hash)
    history = recent_history(project, prefixes_by_machine, base_hash, {base_hash, head_hash}, config, machine)
    series = build_series(results, [base_hash, head_hash], config, machine)
    folder = _trace_folder(traces, results_dir, [machine] if machine else sorted(results.machines))
    report = check_revisions(series, base_hash, head_hash, config, acknowledgements, run_to_run_noises(history or []),
                             None if history is not None else "no local repository to order earlier runs by",
                             folder.kernels if folder else None)
    report.machines = {name: info for name, info in results.machines.items() if machine is None or name == machine}
    apply_targets(report, series, config, report.machines, lambda _: head_hash)
    if folder:
        attach_traces(report, folder, base_hash, head_hash, project.root)
    report.warnings = (list(results.warnings) + report.warnings + _fingerprint_warnings(results, base_hash, head_hash, machine)
                       + (folder.warnings if folder else []))
    return report


def _trace_folder(traces: str | None, results_dir: str, machines: list[str]) -> TraceFolder | None:
    """The traces asked for (``--traces``, else $MACHMETER_TRACE_DIR), else those run-pr keeps beside the
    results of the one machine compared (its confirmation runs of flagged benchmarks)."""
    traces = traces if traces is not None else os.environ.get(TRACE_DIR_ENV)
    if traces:
        return TraceFolder(traces)
    if len(machines) == 1 and os.path.isdir(results_trace_folder(results_dir, machines[0])):
        return TraceFolder(results_trace_folder(results_dir, machines[0]), implicit=True)
    return None


def attach_traces(report: CheckReport, folder: TraceFolder, base: str, head: str, root: str) -> None:
    """Give every reported change the profiler traces of its suite class and parameters at base and head
    that ``folder`` holds (paths relative to the project's root where they are inside it: so they read
    the same in a pull request's artifact)."""
    for change in (*report.regressions, *report.improvements, *report.acknowledged, *report.inconclusive):
        suite = suite_of(change.benchmark)
        found = {side: folder.trace(commit, suite, change.params) for side, commit in (("base", base), ("head", head))}
        found = {side: _shown_path(path, root) for side, path in found.items() if path}
        change.traces = found or None


def _shown_path(path: str, root: str) -> str:
    path, root = os.path.abspath(path), os.path.abspath(root)
    if os.path.commonpath([path, root]) != root:
        return path
    return os.path.relpath(path, root).replace(os.sep, "/")
