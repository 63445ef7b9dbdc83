"""What the site shows of the suites' profiled window (:mod:`machmeter.instruments.counters`).

- **Where a call's time goes**, commit by commit: the GPU kernel time of a call against the rest of its
  timed wall time (host work, launches, and the gaps where the GPU waits), from two series every suite
  stores, ``track_gpu_kernel_time_per_call`` and ``track_gpu_busy_fraction`` (kernel time / wall).
- **The counters of a suite**: links from each of its benchmark pages to the pages of its counter series.
- **Profiler traces**: the Chrome traces (and top-kernels tables) that runs left beside the results,
  ``traces/<machine>/<first 8 of commit>/`` beside the results folder (run-pr's confirmation runs, or any run with
  ``MACHMETER_TRACE_DIR`` pointed there), listed on the pages of their suite and copied into the site.

Prepared here from the site's data and the traces folders; ``build.py`` writes the files and the
templates lay them out. File names in the site are made here (ids and checked names), never taken as they
come from the results.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field

from machmeter.detect.explain import KERNEL_TIME
from machmeter.instruments.counters import KERNELS_SUFFIX, TRACE_SUFFIX, results_trace_folder
from machmeter.series import suite_of

BUSY_FRACTION = "track_gpu_busy_fraction"
# a suite's counter series, as its pages link them
COUNTER_SERIES = (("track_aten_ops_per_call", "aten ops per call"), ("track_kernels_per_call", "kernels per call"),
                  (KERNEL_TIME, "GPU kernel time per call"), (BUSY_FRACTION, "GPU busy fraction"))
TRACE_COMMITS = 20                 # per machine, the newest commits whose traces the site carries
TRACE_SIZE_LIMIT = 64 * 2**20      # a trace larger than this stays out of the site (with a warning)
_COMMIT_FOLDER = re.compile(r"[0-9a-f]{8}")
_FILE_NAME = re.compile(r"[0-9A-Za-z._=,+-]{1,200}")


@dataclass
class TimeSplit:
    """One series' history of where a call's time goes, in microseconds per call."""

    id: str                 # the kernel-time series' id: data/split/<id>.json
    positions: list[int]    # commit index of each point
    gpu_us: list[float]     # summed GPU kernel time
    host_us: list[float]    # the rest of the timed wall time


@dataclass
class TraceLink:
    machine: str
    commit: str             # full hash
    at: int                 # its commit index on the site
    suite: str              # as the window names it (Python's module path: benchmarks.md.MD)
    params: str             # the window's parameters, as text
    source: str             # the .trace.json on disk
    kernels_source: str     # its top-kernels table
    href: str = ""          # where build.py puts it in the site (relative to the site's root)
    kernels_href: str = ""


@dataclass
class SuiteProfiles:
    """Per benchmark page: its counter pages, its series' time splits, its suite's traces."""

    counter_pages: list[tuple[str, str]] = field(default_factory=list)   # (label, page id)
    split_of: dict[str, str] = field(default_factory=dict)               # series id -> split id
    traces: list[TraceLink] = field(default_factory=list)                # newest first


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def time_splits(site_series) -> dict[tuple, TimeSplit]:
    """(suite, params, machine, environment) -> its TimeSplit, for every current kernel-time series
    whose busy fraction was stored beside it."""
    kernel, busy = {}, {}
    for entry in site_series:
        if entry.history is None or not entry.current:
            continue
        suite, method = suite_of(entry.key.benchmark), entry.key.benchmark.rpartition(".")[2]
        key = (suite, entry.key.params, entry.key.machine, entry.key.env_name)
        if method == KERNEL_TIME:
            kernel[key] = entry
        elif method == BUSY_FRACTION:
            busy[key] = entry
    splits = {}
    for key, entry in kernel.items():
        if key not in busy:
            continue
        fractions = dict(zip(busy[key].history.commits, busy[key].history.values))
        positions, gpu, host = [], [], []
        # the history's commits are the first of the series' (entry.positions lists them all)
        for at, commit, kernel_us in zip(entry.positions, entry.history.commits, entry.history.values):
            fraction = fractions.get(commit)
            if not (_finite(kernel_us) and _finite(fraction)) or fraction <= 0:
                continue
            positions.append(int(at))
            gpu.append(round(float(kernel_us), 3))
            host.append(round(max(0.0, kernel_us / fraction - kernel_us), 3))
        if positions:
            splits[key] = TimeSplit(entry.id, positions, gpu, host)
    return splits


def _window(name: str) -> tuple[str, str]:
    """``benchmarks.md.MD(n_atoms=64,device=cuda)`` -> (``benchmarks.md.MD``, ``n_atoms=64, device=cuda``)."""
    suite, _, params = name.partition("(")
    return suite, params[:-1].replace(",", ", ") if params.endswith(")") else params


def collect_traces(results_dir: str, machines, commits, newest: int = TRACE_COMMITS) -> tuple[list[TraceLink], list[str]]:
    """The traces beside each machine's results whose commit is on the site, the ``newest`` commits of
    each machine; (links, warnings about what was left out)."""
    at_of = {}
    for at, commit in enumerate(commits.hashes):
        at_of.setdefault(commit[:8], (at, commit))
    links, warnings = [], []
    for machine in sorted(machines):
        folder = results_trace_folder(results_dir, machine)
        try:
            names = sorted(name for name in os.listdir(folder) if _COMMIT_FOLDER.fullmatch(name) and name in at_of
                           and _is_plain(os.path.join(folder, name), stat.S_ISDIR))
        except OSError:
            continue  # no traces for this machine: the usual case
        names.sort(key=lambda name: at_of[name][0], reverse=True)
        for name in names[:newest]:
            at, commit = at_of[name]
            commit_folder = os.path.join(folder, name)
            try:
                tables = sorted(os.listdir(commit_folder))
            except OSError as error:
                warnings.append(f"{commit_folder}: cannot be listed ({error.strerror or error}): its traces are left out")
                continue
            for table in tables:
                if not (table.endswith(KERNELS_SUFFIX) and _FILE_NAME.fullmatch(table)):
                    continue
                link = _trace_link(machine, commit, at, commit_folder, table[:-len(KERNELS_SUFFIX)], warnings)
                if link is not None:
                    links.append(link)
    return links, warnings


def _is_plain(path: str, kind=stat.S_ISREG) -> bool:
    """Whether ``path`` is itself a regular file (or, with ``stat.S_ISDIR``, a folder), not a link to one:
    what the site copies is what the runs wrote, never a file a link points at (``/etc/...``), a FIFO
    that blocks the build or a device that never ends."""
    try:
        return kind(os.lstat(path).st_mode)
    except OSError:
        return False


def _trace_link(machine: str, commit: str, at: int, folder: str, stem: str, warnings: list[str]) -> TraceLink | None:
    from machmeter.errors import MachmeterError
    from machmeter.results import read_json_file

    trace, kernels = os.path.join(folder, stem + TRACE_SUFFIX), os.path.join(folder, stem + KERNELS_SUFFIX)
    if not (_is_plain(trace) and _is_plain(kernels)):
        warnings.append(f"{kernels}: its table or trace is not a regular file (a link?): left out")
        return None
    try:
        window = read_json_file(kernels)
    except MachmeterError as error:
        warnings.append(f"{error}: its trace is left out")
        return None
    window = window.get("name") if isinstance(window, dict) else None
    if not isinstance(window, str) or not window:
        warnings.append(f"{kernels}: names no profiled window: its trace is left out")
        return None
    size = os.lstat(trace).st_size
    if size > TRACE_SIZE_LIMIT:
        warnings.append(f"{trace}: {size / 2**20:.0f} MiB, more than the site carries "
                        f"({TRACE_SIZE_LIMIT // 2**20} MiB): left out")
        return None
    suite, params = _window(window)
    return TraceLink(machine, commit, at, suite, params, trace, kernels)


def _same_suite(window_suite: str, suite: str) -> bool:
    # the window's name carries Python's module path (benchmarks.md.MD), asv's drops the benchmarks folder
    return window_suite == suite or window_suite.endswith("." + suite)


def suite_profiles(pages, site_series, traces: list[TraceLink]) -> tuple[dict[str, SuiteProfiles], dict[tuple, TimeSplit]]:
    """Each benchmark page's SuiteProfiles (by page id), and the time splits to write."""
    splits = time_splits(site_series)
    page_of = {page.name: page.id for page in pages}
    profiles = {}
    for page in pages:
        suite = suite_of(page.name)
        if not suite:
            continue
        entry = SuiteProfiles()
        entry.counter_pages = [(label, page_of[f"{suite}.{method}"]) for method, label in COUNTER_SERIES
                               if f"{suite}.{method}" in page_of]
        for series in page.series:
            split = splits.get((suite, series.key.params, series.key.machine, series.key.env_name))
            if split is not None:
                entry.split_of[series.id] = split.id
        entry.traces = sorted((t for t in traces if _same_suite(t.suite, suite)), key=lambda t: (-t.at, t.machine, t.params))
        if entry.counter_pages or entry.split_of or entry.traces:
            profiles[page.id] = entry
    return profiles, splits
