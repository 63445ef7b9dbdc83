"""Series: one benchmark × parameter combination × machine × environment × benchmark version, ordered by
commit, with what its numbers mean (unit, direction, kind, tolerances) resolved once.

Commit order comes from the git repository named in asv.conf.json (first-parent history of the
configured branch) when it is there, and from the commit dates asv stored in the results when it is not
(results are often published without their repository).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass

from machmeter.config import MachmeterConfig
from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet, ResultsFolder, read_result_file

_THROUGHPUT_UNIT_MARKERS = ("/s", "/day", "per second", "per_second", "throughput", "flop")
_TIME_UNITS = {"s", "sec", "seconds", "ms", "us", "µs", "ns", "milliseconds", "microseconds"}
_MEMORY_UNITS = {"bytes", "b", "kib", "mib", "gib", "kb", "mb", "gb"}
_ENERGY_UNITS = {"j", "joules", "kj", "wh", "w", "watts"}


def series_label(benchmark: str, params: dict[str, str]) -> str:
    """How a series is named to people: ``bench.Class.track_x(n_atoms=512, device='cuda')``."""
    if not params:
        return benchmark
    return f"{benchmark}({', '.join(f'{k}={v}' for k, v in params.items())})"


@dataclass(frozen=True)
class SeriesKey:
    benchmark: str
    params: tuple[tuple[str, str], ...]
    machine: str
    env_name: str
    version: str | None

    @property
    def params_dict(self) -> dict[str, str]:
        return dict(self.params)



@dataclass(frozen=True)
class Meaning:
    """What a series' numbers mean; ``source`` says where the direction came from."""

    unit: str
    higher_is_better: bool
    kind: str
    source: str  # "declared", "config" or "default"
    threshold: float | None = None
    tolerance_abs: float | None = None
    tolerance_rel: float | None = None


@dataclass
class Series:
    key: SeriesKey
    meaning: Meaning
    commits: list[str]                       # oldest first
    values: list[float | None]               # None where the benchmark failed, NaN where it was skipped
    points: list[ResultPoint] | None = None  # with samples and intervals; absent on the history fast path


def default_meaning(info: BenchmarkInfo | None) -> tuple[str, bool, str]:
    """(unit, higher_is_better, kind) from asv's benchmark type and unit alone.

    Time and memory benchmarks are lower-is-better; a ``track_`` is judged by its unit (rates such as
    'steps/s' are higher-is-better) and otherwise keeps asv's own convention, lower is better.
    """
    if info is None:
        return "unit", False, "count"
    if info.type == "time":
        return info.unit, False, "time"
    if info.type in ("memory", "peakmemory"):
        return info.unit, False, "memory"
    unit = info.unit or "unit"
    lowered = unit.lower()
    if any(marker in lowered for marker in _THROUGHPUT_UNIT_MARKERS):
        return unit, True, "throughput"
    if lowered in _TIME_UNITS:
        return unit, False, "time"
    if lowered in _MEMORY_UNITS:
        return unit, False, "memory"
    if lowered in _ENERGY_UNITS:
        return unit, False, "energy"
    return unit, False, "count"


def resolve_meaning(benchmark: str, info: BenchmarkInfo | None, config: MachmeterConfig) -> Meaning:
    """Declared attributes first, then the project's config patterns, then the default by type and unit."""
    unit, higher, kind = default_meaning(info)
    source = "default"
    threshold = tolerance_abs = tolerance_rel = None
    override = config.override_for(benchmark)
    if override is not None:
        unit = override.unit or unit
        kind = override.kind or kind
        if override.higher_is_better is not None:
            higher, source = override.higher_is_better, "config"
        threshold, tolerance_abs, tolerance_rel = override.threshold, override.tolerance_abs, override.tolerance_rel
    if info is not None:
        declared = info.attributes
        if info.higher_is_better is not None:
            higher, source = info.higher_is_better, "declared"
        kind = info.metric_kind or kind
        # the project's config may tighten or loosen declared tolerances: it is the later word
        threshold = threshold if threshold is not None else declared.get("regression_threshold")
        tolerance_abs = tolerance_abs if tolerance_abs is not None else declared.get("tolerance_abs")
        tolerance_rel = tolerance_rel if tolerance_rel is not None else declared.get("tolerance_rel")
    return Meaning(unit, higher, kind, source, threshold, tolerance_abs, tolerance_rel)


def git_commit_order(repo_path: str | None, branches) -> list[str] | None:
    """First-parent history of the first configured branch that exists, oldest first; None when
    there is no local repository to ask."""
    if not repo_path or "://" in repo_path or not os.path.isdir(repo_path):
        return None
    import git

    try:
        repo = git.Repo(repo_path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    for branch in list(branches) or ["HEAD"]:
        try:
            return [c.hexsha for c in repo.iter_commits(branch, first_parent=True)][::-1]
        except (git.GitCommandError, ValueError):
            continue
    return None


def order_commits(dates: dict[str, int], git_order: list[str] | None, branch_only: bool = False) -> list[str]:
    """The commits of ``dates`` (commit -> date asv recorded), oldest first: by the branch history where
    the commit is on it, then (commits off the branch, or no repository) by date; ``branch_only`` leaves
    the commits off a known branch out."""
    position = {commit: index for index, commit in enumerate(git_order or [])}
    on_branch = sorted((c for c in dates if c in position), key=position.__getitem__)
    if branch_only and git_order:
        return on_branch
    off_branch = sorted((c for c in dates if c not in position), key=lambda c: (dates[c], c))
    return on_branch + off_branch


def build_series(results: ResultSet, commit_order: list[str], config: MachmeterConfig,
                 machine: str | None = None) -> list[Series]:
    rank = {commit: index for index, commit in enumerate(commit_order)}
    grouped: dict[tuple, list[ResultPoint]] = defaultdict(list)
    ignored: dict[str, bool] = {}
    for point in results.points:
        if point.commit not in rank or (machine is not None and point.machine != machine):
            continue
        if ignored.setdefault(point.benchmark, config.ignored(point.benchmark)):
            continue
        # the loader shares one params dict per combination: its identity stands for its items
        grouped[(point.benchmark, id(point.params), point.machine, point.env_name, point.benchmark_version)].append(point)
    by_key: dict[SeriesKey, list[ResultPoint]] = defaultdict(list)
    for (benchmark, _, machine_name, env_name, version), points in grouped.items():
        # equal params held in two dicts (e.g. from two loads) still make one series
        by_key[SeriesKey(benchmark, tuple(points[0].params.items()), machine_name, env_name, version)] += points
    meanings: dict[str, Meaning] = {}
    series = []
    for key, points in by_key.items():
        if key.benchmark not in meanings:
            meanings[key.benchmark] = resolve_meaning(key.benchmark, results.benchmarks.get(key.benchmark), config)
        points.sort(key=lambda p: rank[p.commit])
        series.append(Series(key, meanings[key.benchmark], [p.commit for p in points], [p.value for p in points],
                             points))
    return _sorted(series)


def _sorted(series: list[Series]) -> list[Series]:
    return sorted(series, key=lambda s: (s.key.machine, s.key.benchmark, s.key.params, s.key.env_name,
                                         str(s.key.version)))


def load_history(results_dir: str, git_order: list[str] | None, config: MachmeterConfig,
                 machine: str | None = None):
    """Every series' values in commit order, read straight from the result files.

    The fast path of ``check --history``: a history of 2,000 commits x 900 series holds 1.8 million
    values, and one ResultPoint object each would cost more than reading the files. Returns
    (series, benchmarks, machines, warnings); commits off the branch are left out when git_order is given.
    """
    folder = ResultsFolder.open(results_dir, machine=machine)
    # spread each file into its series as it is read (holding every parsed file would double the
    # memory), then put each series in commit order
    columns: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    params_of: dict[int, dict] = {}  # the loader shares one params dict per combination
    dates: dict[str, int] = {}
    ignored: dict[str, bool] = {}
    for parsed in folder.read(read_result_file):
        dates.setdefault(parsed.commit, parsed.date or 0)
        for name, combinations, values, version, _ in parsed.rows:
            if ignored.setdefault(name, config.ignored(name)):
                continue
            for params, value in zip(combinations, values):
                params_of[id(params)] = params
                commits, series_values = columns[(name, id(params), parsed.machine, parsed.env_name, version)]
                commits.append(parsed.commit)
                series_values.append(value)
    # the branch's first-parent history: commits off it (pull requests) are not part of the history
    rank = {c: i for i, c in enumerate(order_commits(dates, git_order, branch_only=True))}
    merged: dict[SeriesKey, list] = defaultdict(list)  # equal params in two dicts still make one series
    for (name, params_id, machine_name, env_name, version), (commits, values) in columns.items():
        key = SeriesKey(name, tuple(params_of[params_id].items()), machine_name, env_name, version)
        merged[key] += [(rank[c], c, v) for c, v in zip(commits, values) if c in rank]
    meanings: dict[str, Meaning] = {}
    series = []
    for key, entries in merged.items():
        if not entries:
            continue
        if key.benchmark not in meanings:
            meanings[key.benchmark] = resolve_meaning(key.benchmark, folder.benchmarks.get(key.benchmark), config)
        entries.sort()
        series.append(Series(key, meanings[key.benchmark], [c for _, c, _ in entries], [v for _, _, v in entries]))
    return _sorted(series), folder.benchmarks, folder.machines, folder.warnings


def is_measured(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
