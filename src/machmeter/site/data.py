"""The site's page data, prepared in Python from the loaded history and the verdicts of the check.

Nothing here writes files or renders HTML: ``prepare_site`` turns a ``History`` (every series, commits in
order), the commits' metadata and the check's verdicts (``machmeter.detect.engine.check_history``, the
same engine as ``machmeter check --history``) into plain records that the templates and the JSON writers
of ``build.py`` read. Every name that ends up in a file name is an id made here (a hash of the series key
or of the benchmark name), never text from the results.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from dataclasses import dataclass, field, replace

from machmeter.config import MachmeterConfig
from machmeter.detect.compare import Policy
from machmeter.detect.engine import (IMPROVEMENT, REGRESSION, Change, history_reports, is_noisy,
                                     regression_still_open, series_policy)
from machmeter.detect.noise import run_to_run_noise
from machmeter.kinds import KINDS, THRESHOLD_ROUNDING, worse_by
from machmeter.fingerprint import GPU_FIELDS, HOST_FIELDS
from machmeter.history import History
from machmeter.report.units import format_value
from machmeter.results import benchmark_info
from machmeter.series import Series, is_measured, series_label
from machmeter.targets import Target, target_for
from machmeter.triage import Acknowledgement

STATUSES = ("regressed", "acknowledged", "improved", "steady")

# The run-state series of machmeter.suites.run_state.GpuRunStateSuite (kind "state"), by method name.
THROTTLED, OTHER_PROCESSES = "track_gpu_throttled", "track_gpu_other_processes"
RUN_STATE_DETAILS = (("track_gpu_sm_clock", "SM clock"), ("track_gpu_temperature", "temperature"),
                     ("track_gpu_power", "power"))

SPARK_POINTS = 120  # points of a sparkline (bucket medians of the history)


def short_id(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def series_id(series: Series) -> str:
    """A file-name-safe id of a series key, stable from one build to the next."""
    key = series.key
    return short_id(repr((key.benchmark, key.params, key.machine, key.env_name, key.version)))


def commit_url(show_commit_url: str | None) -> str | None:
    """asv's ``show_commit_url`` when it is a web address (asv appends the hash to it), else None."""
    if show_commit_url and show_commit_url.startswith(("https://", "http://")):
        return show_commit_url
    return None


@dataclass
class Commits:
    """Every commit with results, in series order: the branch's history first (``branch_length``),
    then the commits off it (pull requests). ``subjects``/``authors`` are None without a repository."""

    hashes: list[str]
    dates: list[int]                 # ms since the epoch (git's committer date, else asv's)
    subjects: list[str | None]
    authors: list[str | None]
    branch_length: int
    from_repository: bool

    def index(self) -> dict[str, int]:
        return {commit: i for i, commit in enumerate(self.hashes)}


@dataclass
class ChangeMark:
    """One change point of a series, where the chart and the tables show it."""

    change: Change
    at: int                           # commit index (Commits) of the first commit at the new level
    since: int                        # commit index of the last commit at the old level
    open: bool                        # still there at the end of the history (regressions)

    @property
    def state(self) -> str:
        if self.change.acknowledged is not None:
            return "acknowledged"
        return self.change.direction


@dataclass
class ShiftMark:
    """An environment shift on a series' chart: where, how much this series moved, and why it is the
    runner's."""

    at: int
    since: int
    change: float
    evidence: list[str]


@dataclass
class SiteSeries:
    id: str
    index: int                        # position in the site's series index (data/series.json)
    series: Series                    # every commit with a result, off-branch ones last
    history: Series | None            # the branch's history (what is charted and checked); None if empty
    benchmark_id: str
    label: str
    params_label: str
    status: str
    latest: float | None              # last measured value of the history
    latest_at: int | None             # its commit index
    last_failed: bool                 # the history's last run failed
    marks: list[ChangeMark] = field(default_factory=list)
    # environment shifts this series moved in (machmeter.detect.shifts): charted, never a regression
    shifts: list[ShiftMark] = field(default_factory=list)
    target: Target | None = None      # its absolute target (machmeter.targets): a line on the chart
    positions: array = field(default_factory=lambda: array("l"), repr=False)  # commit index of each commit
    current: bool = True              # the newest version of its benchmark, parameters, machine, environment
    policy: Policy | None = None      # the check's (series_policy), with the series' noise where it has one

    @property
    def key(self):
        return self.series.key

    @property
    def meaning(self):
        return self.series.meaning

    @property
    def latest_text(self) -> str:
        return "" if self.latest is None else format_value(self.latest, self.meaning.unit)

    @property
    def last_change(self) -> ChangeMark | None:
        return self.marks[-1] if self.marks else None

    @property
    def set_aside(self) -> str | None:
        """Why the overview hides this series until asked (None: it is shown): "retired" when a newer
        version of its benchmark, parameters, machine and environment exists, "no value" when none of its
        runs on the branch measured anything (every one failed or was skipped)."""
        if not self.current:
            return "retired"
        if self.latest is None:
            return "no value"
        return None


@dataclass
class BenchmarkPage:
    id: str
    name: str
    kind: str
    unit: str
    higher_is_better: bool
    direction_source: str
    param_names: list[str]
    param_values: list[list[str]]     # per parameter, the values that have series, in asv's order
    machines: list[str]
    series: list[SiteSeries]
    statuses: dict[str, int]

    @property
    def status(self) -> str:
        return next((s for s in STATUSES if self.statuses.get(s)), "steady")

    @property
    def marks(self) -> list[tuple[SiteSeries, ChangeMark]]:
        """Every change point of the benchmark's series, newest first."""
        return sorted(((s, m) for s in self.series for m in s.marks), key=lambda item: (-item[1].at, item[0].index))


@dataclass
class FlaggedRun:
    at: int
    throttled: bool
    other_processes: int
    details: list[tuple[str, str]]    # (what, formatted value) of the other run-state series


@dataclass
class MachinePage:
    anchor: str
    name: str
    gpu: str
    fingerprint: list[tuple[str, str]]
    host: list[tuple[str, str]]
    other: list[tuple[str, str]]
    series_count: int
    commit_count: int
    first_date: int | None
    last_date: int | None
    flagged: list[FlaggedRun]
    has_run_state: bool


@dataclass
class SiteData:
    project: str
    commits: Commits
    series: list[SiteSeries]                        # in overview order
    benchmarks: list[BenchmarkPage]
    machines: list[MachinePage]
    commit_url: str | None
    warnings: list[str]
    summary: dict[str, int]
    flagged_at: dict[str, set[int]]                 # machine -> commit indices of throttled/shared runs
    exponents: list[int] = field(default_factory=list)  # per series: its values are written as n * 10**e
    # the suites' profiled window (machmeter.site.profiles): per benchmark page id, its counter pages,
    # time splits and traces; and the time splits to write, by (suite, params, machine, environment)
    profiles: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)

    def overview_rows(self) -> list[SiteSeries]:
        """The overview's rows (every series with a history on the branch), what is wrong now first: by
        status (regressed, acknowledged, improved, steady), then the newest last change first (a series
        that never changed after those that did), then by name; the series set aside (``set_aside``) come
        last, for the page to hide behind its toggle."""
        rank = {status: i for i, status in enumerate(STATUSES)}

        def order(entry: SiteSeries):
            mark = entry.last_change
            return (entry.set_aside is not None, rank[entry.status], mark is None,
                    -self.commits.dates[mark.at] if mark else 0, -mark.at if mark else 0, entry.index)
        return sorted((s for s in self.series if s.history is not None), key=order)

    def open_regressions(self) -> list[tuple[SiteSeries, ChangeMark]]:
        """Open regressions, unacknowledged first, largest first."""
        found = [(s, m) for s in self.series if s.current for m in s.marks
                 if m.open and m.change.direction == REGRESSION]
        found.sort(key=lambda item: (item[1].change.acknowledged is not None, -abs(item[1].change.change),
                                     item[0].label, item[0].key.machine))
        return found

    def recent_improvements(self) -> list[tuple[SiteSeries, ChangeMark]]:
        found = [(s, s.marks[-1]) for s in self.series if s.current and s.status == "improved"]
        found.sort(key=lambda item: (-item[1].at, -abs(item[1].change.change)))
        return found

    def regressions_by_date(self) -> list[tuple[SiteSeries, ChangeMark]]:
        """Every regression of the history, newest first (the feed)."""
        found = [(s, m) for s in self.series for m in s.marks if m.change.direction == REGRESSION]
        found.sort(key=lambda item: (-self.commits.dates[item[1].at], -abs(item[1].change.change), item[0].id))
        return found


# ---------------------------------------------------------------------------------------------------
# commits


def collect_commits(history: History, info: dict[str, tuple[str, str, int]]) -> Commits:
    hashes = list(history.commits)
    known = [info.get(c) for c in hashes]
    return Commits(
        hashes=hashes,
        dates=[k[2] if k else int(history.dates.get(c) or 0) for c, k in zip(hashes, known)],
        subjects=[k[0] if k else None for k in known],
        authors=[k[1] if k else None for k in known],
        branch_length=history.branch_length,
        from_repository=bool(info),
    )


# ---------------------------------------------------------------------------------------------------
# verdicts


def mark_changes(changes: list[Change], position: dict[str, int], higher_is_better: bool) -> list[ChangeMark]:
    """The change points of one series in commit order, each regression marked open unless the level
    at the end of the history has come back at least half way to where it was before it."""
    ordered = sorted(changes, key=lambda c: position[c.commit])
    marks = []
    final = ordered[-1].after if ordered else None
    for change in ordered:
        marks.append(ChangeMark(change, position[change.commit], position[change.commit_range[0]],
                                open=change.direction == REGRESSION
                                and regression_still_open(change, final, higher_is_better)))
    return marks


def series_status(marks: list[ChangeMark], higher_is_better: bool) -> str:
    """regressed (an open regression nobody acknowledged), acknowledged (open regressions, all
    acknowledged), improved (the last change is an improvement that is not just the fix of an earlier
    regression: the level ends better than it started), or steady."""
    open_regressions = [m for m in marks if m.open]
    if any(m.change.acknowledged is None for m in open_regressions):
        return "regressed"
    if open_regressions:
        return "acknowledged"
    if marks and marks[-1].change.direction == IMPROVEMENT:
        first, last = marks[0].change, marks[-1].change
        if worse_by(first.before, last.after, higher_is_better) <= -abs(last.change) / 2:
            return "improved"
    return "steady"


def _latest(values: list) -> tuple[float | None, int | None]:
    for i in range(len(values) - 1, -1, -1):
        if is_measured(values[i]):
            return values[i], i
    return None, None


def _history_part(series: Series, position: dict[str, int], branch_length: int) -> Series | None:
    """The series' values on the branch (commits off it come last in every series)."""
    commits = series.commits
    cut = len(commits)
    while cut and position[commits[cut - 1]] >= branch_length:
        cut -= 1
    if cut == len(commits):
        return series
    if cut == 0:
        return None
    return Series(series.key, series.meaning, commits[:cut], series.values[:cut],
                  stats=None if series.stats is None else series.stats[:cut])


def compare_policy(policy: Policy) -> dict:
    """What the compare page judges a series by, as data for its script (which re-derives nothing):
    the rule of the kind (``machmeter.kinds``: "threshold", "tolerance", or None: never judged), the
    direction, the check's threshold (None where infinite), its tolerances and the noise floor. The
    threshold and the floor are sent as the limits the check applies (``kinds.meets_threshold``: equal
    to three significant digits meets them), so that the page's "at least" is the check's."""
    met = 1.0 - THRESHOLD_ROUNDING
    return {
        "judged_by": KINDS[policy.kind].judged_by,
        "higher_is_better": policy.higher_is_better,
        "threshold": policy.threshold * met if math.isfinite(policy.threshold) else None,
        "tolerance_abs": policy.tolerance_abs,
        "tolerance_rel": policy.tolerance_rel,
        "noise_floor": (policy.noise.floor * met if policy.noise is not None and math.isfinite(policy.noise.floor)
                        else None),
    }


# ---------------------------------------------------------------------------------------------------
# pages


def _format_field(value, unit: str | None) -> str:
    if value is None or value == "":
        return ""
    if unit in ("bytes", "ram"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        if unit == "ram" and number < 1e9:
            number *= 1024  # asv wrote kB before it wrote bytes; no benchmark machine has under 1 GB
        return format_value(number, "bytes")
    if unit:
        return f"{value} {unit}"
    return str(value)


def _machine_page(name: str, info: dict, series: list[SiteSeries], commits: Commits,
                  flagged: list[FlaggedRun], has_run_state: bool) -> MachinePage:
    info = info if isinstance(info, dict) else {}
    fingerprint = [(label, _format_field(info.get(key), unit)) for key, label, unit in GPU_FIELDS
                   if info.get(key) not in (None, "")]
    host = [(label, _format_field(info.get(key), unit)) for key, label, unit in HOST_FIELDS
            if info.get(key) not in (None, "")]
    shown = {key for key, _, _ in GPU_FIELDS + HOST_FIELDS} | {"machine", "version"}
    other = [(str(key), str(value)) for key, value in sorted(info.items(), key=lambda kv: str(kv[0]))
             if key not in shown and not isinstance(value, (dict, list))]
    ran = set().union(*(s.positions[:len(s.history.commits)] for s in series if s.history))
    first, last = (min(ran), max(ran)) if ran else (None, None)
    return MachinePage(
        anchor="m-" + short_id(name), name=name,
        gpu="no GPU" if str(info.get("gpu") or "").lower() == "none" else str(info.get("gpu") or ""),
        fingerprint=fingerprint,
        host=host, other=other, series_count=len(series), commit_count=len(ran),
        first_date=None if first is None else commits.dates[first],
        last_date=None if last is None else commits.dates[last],
        flagged=flagged, has_run_state=has_run_state,
    )


def _flagged_runs(series: list[Series], position: dict[str, int]) -> tuple[dict[str, list[FlaggedRun]], set[str]]:
    """Runs recorded while the GPU was throttled or shared, per machine, from the run-state series."""
    by_machine: dict[str, dict[str, dict[int, float]]] = {}
    units: dict[tuple[str, str], str] = {}
    for item in series:
        if item.meaning.kind != "state":
            continue
        method = item.key.benchmark.rsplit(".", 1)[-1]
        units[(item.key.machine, method)] = item.meaning.unit
        values = by_machine.setdefault(item.key.machine, {}).setdefault(method, {})
        for commit, value in zip(item.commits, item.values):
            if is_measured(value):
                values[position[commit]] = value
    runs: dict[str, list[FlaggedRun]] = {}
    for machine, methods in by_machine.items():
        throttled, others = methods.get(THROTTLED, {}), methods.get(OTHER_PROCESSES, {})
        flagged = []
        for at in sorted(set(throttled) | set(others)):
            is_throttled, count = throttled.get(at, 0) >= 0.5, int(others.get(at, 0))
            if not is_throttled and count <= 0:
                continue
            details = []
            for method, label in RUN_STATE_DETAILS:
                if at in methods.get(method, {}):
                    details.append((label, format_value(methods[method][at], units[(machine, method)])))
            flagged.append(FlaggedRun(at, is_throttled, count, details))
        runs[machine] = flagged
    return runs, set(by_machine)


def _nan_row_medians(rows):
    """``np.nanmedian(rows, axis=1)`` of finite values and NaN, computed as numpy does for rows of fewer
    than 600 (the NaN sorted last, as a masked array would, and the middle two values' mean), without the
    masked arrays that made up most of a sparkline's time."""
    import numpy as np

    missing = np.isnan(rows)
    filled = np.where(missing, np.inf, rows)
    ordered = np.take_along_axis(rows, filled.argsort(axis=1), axis=1)
    counts = rows.shape[1] - missing.sum(axis=1)
    every = np.arange(rows.shape[0])
    middle = np.stack([ordered[every, np.where(counts % 2 == 1, counts // 2, counts // 2 - 1)],
                       ordered[every, counts // 2]], axis=1)
    return middle.sum(axis=1) / 2.0  # a sum, as numpy's (-0.0 and -0.0 make 0.0)


def spark_values(values: list, points: int = SPARK_POINTS) -> list[float]:
    """The history of a series shrunk to at most ``points`` values: medians of equal runs of measured
    values (a spike does not show, a step does), 4 significant digits."""
    import numpy as np

    measured = np.array(values, dtype=float)  # None -> NaN
    measured = measured[np.isfinite(measured)]
    if len(measured) > points:
        size = -(-len(measured) // points)
        runs = -(-len(measured) // size)
        padded = np.full(size * runs, np.nan)
        padded[len(padded) - len(measured):] = measured  # the newest values fill the last run in full
        measured = _nan_row_medians(padded.reshape(runs, size))  # the first run alone is padded
    return [float(f"{v:.4g}") for v in measured.tolist()]  # at most SPARK_POINTS values


def prepare_site(project_name: str, history: History, config: MachmeterConfig,
                 acknowledgements: list[Acknowledgement], commit_info: dict[str, tuple[str, str, int]] | None = None,
                 show_commit_url: str | None = None, traces=None) -> SiteData:
    """Every page's data: statuses and change points from ``check_history`` per series, the pages of
    benchmarks and machines, the run-state flags; with ``traces`` (a callable of the site's Commits
    that returns the profiler traces beside the results and warnings, machmeter.site.profiles), where
    each suite's call time goes and its traces."""
    from machmeter.site.profiles import suite_profiles

    commits = collect_commits(history, commit_info or {})
    position = commits.index()
    site_series: list[SiteSeries] = []
    used_ids: set[str] = set()
    statuses = dict.fromkeys(STATUSES, 0)
    checked = skipped = 0
    branches = [_history_part(item, position, commits.branch_length) for item in history.series]
    # the change points of every series at once (on all cores), one report per series
    checked_branches = [branch for branch in branches if branch is not None]
    branch_commits = history.commits[:commits.branch_length]
    reports = dict(zip(map(id, checked_branches), history_reports(checked_branches, config, acknowledgements,
                                                                   history.runs, branch_commits)))
    for item, branch in zip(history.series, branches):
        sid = series_id(item)
        while sid in used_ids:  # never two files for one id
            sid = short_id(sid)
        used_ids.add(sid)
        marks: list[ChangeMark] = []
        shifts: list[ShiftMark] = []
        if branch is not None:
            report = reports[id(branch)]
            shifts = [ShiftMark(position[shift.commit], position[shift.commit_range[0]], change.change, shift.evidence)
                      for shift in report.environment_shifts for change in shift.changes
                      if (change.benchmark, tuple(change.params.items()), change.env_name)
                      == (item.key.benchmark, item.key.params, item.key.env_name)]
            checked += report.series_checked
            skipped += report.skipped
            marks = mark_changes(report.regressions + report.improvements + report.acknowledged, position,
                                 item.meaning.higher_is_better)
        status = series_status(marks, item.meaning.higher_is_better)
        latest, latest_at = _latest(branch.values) if branch is not None else (None, None)
        policy = series_policy(item, config)
        if branch is not None and is_noisy(item):
            # the check's noise floor, learnt from the newest runs of the branch (base and head may be
            # among them here: the page does not know them in advance)
            noise = run_to_run_noise(branch.values)
            if noise is not None:
                policy = replace(policy, noise=noise)
        entry = SiteSeries(
            id=sid, index=len(site_series), series=item, history=branch, benchmark_id=short_id(item.key.benchmark),
            label=series_label(item.key.benchmark, item.key.params_dict),
            params_label=", ".join(f"{k}={v}" for k, v in item.key.params),
            status=status, latest=latest,
            latest_at=None if latest_at is None else position[branch.commits[latest_at]],
            last_failed=branch is not None and bool(branch.values) and branch.values[-1] is None,
            marks=marks, shifts=shifts, policy=policy,
            target=target_for(item.key.benchmark, item.key.params_dict, item.key.machine,
                              history.machines.get(item.key.machine) or {}, config.targets, item.meaning.target),
            positions=array("l", map(position.__getitem__, item.commits)),
        )
        site_series.append(entry)
    _mark_current(site_series, history)
    for entry in site_series:
        if entry.current:
            statuses[entry.status] += 1
    site_series.sort(key=lambda s: (s.key.benchmark, s.key.params, s.key.machine, s.key.env_name, str(s.key.version)))
    for index, entry in enumerate(site_series):
        entry.index = index

    benchmarks = _benchmark_pages(site_series, history)
    flagged, with_state = _flagged_runs(history.series, position)
    by_machine: dict[str, list[SiteSeries]] = {}
    for entry in site_series:
        by_machine.setdefault(entry.key.machine, []).append(entry)
    machine_names = sorted(set(history.machines) | set(by_machine))
    machines = [_machine_page(name, history.machines.get(name, {}), by_machine.get(name, []), commits,
                              flagged.get(name, []), name in with_state) for name in machine_names]
    summary = {"series": len(site_series), "benchmarks": len(benchmarks), "machines": len(machines),
               "commits": commits.branch_length, "commits_off_branch": len(commits.hashes) - commits.branch_length,
               "checked": checked, "skipped": skipped, **statuses,
               "superseded": sum(1 for s in site_series if s.history is not None and not s.current),
               "open_regressions": sum(1 for s in site_series if s.current for m in s.marks
                                       if m.open and m.change.acknowledged is None)}
    warnings = list(history.warnings)
    links, trace_warnings = traces(commits) if traces else ([], [])
    profiles, splits = suite_profiles(benchmarks, site_series, links)
    return SiteData(project=project_name, commits=commits, series=site_series, benchmarks=benchmarks,
                    machines=machines, commit_url=commit_url(show_commit_url), warnings=warnings + trace_warnings,
                    summary=summary,
                    flagged_at={m: {run.at for run in runs} for m, runs in flagged.items()},
                    profiles=profiles, splits=splits)


def _mark_current(site_series: list[SiteSeries], history: History) -> None:
    """A benchmark whose code changed (asv's version) starts a new series: of the series of one
    benchmark, parameter combination, machine and environment only the one measured last is current.
    A benchmark removed from the suite (no longer in benchmarks.json) has no current series."""
    newest: dict[tuple, SiteSeries] = {}
    for entry in site_series:
        entry.current = False
        info = history.benchmarks.get(entry.key.benchmark)
        if entry.history is None or (info is not None and info.removed):
            continue
        key = entry.key
        group = (key.benchmark, key.params, key.machine, key.env_name)
        last = entry.positions[len(entry.history.commits) - 1]
        best = newest.get(group)
        if best is None or last > best.positions[len(best.history.commits) - 1]:
            newest[group] = entry
    for entry in newest.values():
        entry.current = True


def _benchmark_pages(site_series: list[SiteSeries], history: History) -> list[BenchmarkPage]:
    grouped: dict[str, list[SiteSeries]] = {}
    for entry in site_series:
        grouped.setdefault(entry.key.benchmark, []).append(entry)
    pages = []
    for name in sorted(grouped):
        members = grouped[name]
        meaning = members[0].meaning
        names: list[str] = []
        for entry in members:
            for param, _ in entry.key.params:
                if param not in names:
                    names.append(param)
        info = benchmark_info(history.benchmarks, name)
        values: list[list[str]] = []
        for param in names:
            present = {dict(entry.key.params).get(param) for entry in members} - {None}
            declared = []
            if info is not None and param in info.param_names:
                declared = [v for v in info.params[info.param_names.index(param)] if v in present]
            values.append(declared + sorted(present - set(declared)))
        counts: dict[str, int] = {}
        for entry in members:
            if entry.current:
                counts[entry.status] = counts.get(entry.status, 0) + 1
        pages.append(BenchmarkPage(
            id=members[0].benchmark_id, name=name, kind=meaning.kind, unit=meaning.unit,
            higher_is_better=meaning.higher_is_better, direction_source=meaning.source, param_names=names,
            param_values=values, machines=sorted({entry.key.machine for entry in members}), series=members,
            statuses=counts,
        ))
    return pages
