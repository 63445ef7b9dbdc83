"""Series: one benchmark × parameter combination × machine × environment × benchmark version, ordered by
commit, with what its numbers mean (unit, direction, kind, tolerances) resolved once.

Commit order comes from the git repository named in asv.conf.json (first-parent history of the
configured branch) when it is there, and from the commit dates asv stored in the results when it is not
(results are often published without their repository).
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from dataclasses import dataclass, field

from machmeter.config import MachmeterConfig
from machmeter.kinds import declared_kind, default_higher_is_better, kind_for_unit
from machmeter.results import (BenchmarkInfo, ResultPoint, ResultSet, ResultsFolder, RunRecord, benchmark_info,
                               read_result_file)
from machmeter.targets import Target, declared_target



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
    warning: str | None = None  # why the kind judged is not the one stored (kinds.declared_kind)
    target: Target | None = None  # the declared absolute target (machmeter.targets); config rules may override


@dataclass
class Series:
    key: SeriesKey
    meaning: Meaning
    commits: list[str]                       # oldest first
    values: list[float | None]               # None where the benchmark failed, NaN where it was skipped
    points: list[ResultPoint] | None = None  # with samples and intervals; absent on the history fast path
    stats: "SeriesStats | None" = None       # asv's CI and quartiles per value: read_history(stats=True)


def default_meaning(info: BenchmarkInfo | None) -> tuple[str, bool, str]:
    """(unit, higher_is_better, kind) from asv's benchmark type and unit alone.

    Time and memory benchmarks are lower-is-better; a ``track_`` is judged by its unit (rates such as
    'steps/s' are higher-is-better) and otherwise keeps asv's own convention, lower is better.
    """
    if info is None:  # not even a name asv's rules read (results.benchmark_info): no unit to show
        return "", False, "count"
    if info.type == "time":
        return info.unit, False, "time"
    if info.type in ("memory", "peakmemory"):
        return info.unit, False, "memory"
    unit = info.unit  # "" for a removed track_ (results.benchmark_info): no unit rather than a placeholder
    kind = kind_for_unit(unit)
    return unit, default_higher_is_better(kind), kind


def resolve_meaning(benchmark: str, info: BenchmarkInfo | None, config: MachmeterConfig) -> Meaning:
    """Declared attributes first, then the project's config patterns, then the default by type and unit."""
    unit, higher, kind = default_meaning(info)
    source = "default"
    threshold = tolerance_abs = tolerance_rel = warning = target = None
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
        stored_kind, warning = declared_kind(info.metric_kind, benchmark)
        kind = stored_kind or kind
        # the project's config may tighten or loosen declared tolerances: it is the later word
        threshold = threshold if threshold is not None else declared.get("regression_threshold")
        tolerance_abs = tolerance_abs if tolerance_abs is not None else declared.get("tolerance_abs")
        tolerance_rel = tolerance_rel if tolerance_rel is not None else declared.get("tolerance_rel")
        target = declared_target(declared, benchmark)
    return Meaning(unit, higher, kind, source, threshold, tolerance_abs, tolerance_rel, warning, target)


def meaning_warnings(series_list: list[Series]) -> list[str]:
    """The warnings of the series' meanings (a stored kind that is not known), once each."""
    return list(dict.fromkeys(s.meaning.warning for s in series_list if s.meaning.warning is not None))


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
            meanings[key.benchmark] = resolve_meaning(key.benchmark, benchmark_info(results.benchmarks, key.benchmark), config)
        points.sort(key=lambda p: rank[p.commit])
        series.append(Series(key, meanings[key.benchmark], [p.commit for p in points], [p.value for p in points],
                             points))
    return _sorted(series)


def _sorted(series: list[Series]) -> list[Series]:
    return sorted(series, key=lambda s: (s.key.machine, s.key.benchmark, s.key.params, s.key.env_name,
                                         str(s.key.version)))


@dataclass
class SeriesStats:
    """asv's statistics of each value of a series (``read_history(stats=True)``), aligned with
    ``Series.values``: the 99% confidence interval (``stats_ci_99_a/b``) and the quartiles
    (``stats_q_25/75``); NaN where asv stored none (failed, skipped, track_ benchmarks, old results)."""

    ci_99_low: array
    ci_99_high: array
    q_25: array
    q_75: array

    def __getitem__(self, index: slice) -> "SeriesStats":
        return SeriesStats(self.ci_99_low[index], self.ci_99_high[index], self.q_25[index], self.q_75[index])


@dataclass
class History:
    """What ``read_history`` read: the series, and every commit in the order they were put in."""

    series: list[Series]
    benchmarks: dict[str, BenchmarkInfo]
    machines: dict[str, dict]
    warnings: list[str]
    commits: list[str]        # every commit kept, in series order (oldest first)
    dates: dict[str, int]     # commit -> the date asv recorded (ms since the epoch; 0 where it had none)
    branch_length: int        # commits[:branch_length] are the branch's history, the rest are off it
    # (machine, env_name, commit) -> the run's fingerprint and start time (environment shifts)
    runs: dict[tuple[str, str, str], RunRecord] = field(default_factory=dict)


_STAT_KEYS = ("stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75")
_NAN = float("nan")


def _row_stats(row: dict, count: int) -> array | None:
    """asv's statistics of one result row as one array: the ``count`` values of each of _STAT_KEYS in
    turn (NaN where asv wrote null or nothing); None when the row has none (a track_ benchmark)."""
    columns = [row.get(key) for key in _STAT_KEYS]
    if not any(isinstance(column, list) for column in columns):
        return None
    out = array("d")
    for column in columns:
        if not isinstance(column, list):
            out.extend(array("d", [_NAN]) * count)
            continue
        column = column[:count]
        try:  # a number for every value, or null where asv had none (failed, skipped)
            part = array("d", [_NAN if v is None else v for v in column] if None in column else column)
        except TypeError:  # anything else in the file: no statistic
            part = array("d", [float(v) if isinstance(v, (int, float)) else _NAN for v in column])
        out.extend(part)
        if len(part) < count:
            out.extend(array("d", [_NAN]) * (count - len(part)))
    return out


@dataclass(slots=True)
class _Block:
    """The rows of one benchmark, parameter set, machine, environment and version, as read: one row of
    values (and of statistics) per result file; spread into series once every file is read."""

    combinations: tuple
    commits: list
    rows: list
    stats: list | None


def _read_blocks(folder: ResultsFolder, files: list, config: MachmeterConfig, stats: bool):
    """The rows of ``files`` as read, grouped in blocks (no per-value work while reading), with the
    commits' dates and the warnings of the files skipped."""
    blocks: dict[tuple, _Block] = {}
    dates: dict[str, int] = {}
    runs: dict[tuple[str, str, str], RunRecord] = {}
    ignored: dict[str, bool] = {}
    parameter_sets: dict[int, tuple] = {}  # the loader shares one tuple per parameter set: key it once
    share = ResultsFolder(folder.path, folder.benchmarks, folder.machines, files, [])
    for parsed in share.read(read_result_file):
        dates.setdefault(parsed.commit, parsed.date or 0)
        commit, machine_name, env_name = parsed.commit, parsed.machine, parsed.env_name
        runs[(machine_name, env_name, commit)] = parsed.run
        for name, combinations, values, version, row in parsed.rows:
            if ignored.setdefault(name, config.ignored(name)):
                continue
            cached = parameter_sets.get(id(combinations))
            if cached is None or cached[0] is not combinations:
                cached = parameter_sets[id(combinations)] = (combinations,
                                                             tuple(tuple(p.items()) for p in combinations))
            key = (name, cached[1], machine_name, env_name, version)
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = _Block(combinations, [], [], [] if stats else None)
            block.commits.append(commit)
            block.rows.append(values)
            if stats:
                block.stats.append(_row_stats(row, len(combinations)))
    return blocks, dates, runs, share.warnings


def load_history(results_dir: str, git_order: list[str] | None, config: MachmeterConfig,
                 machine: str | None = None):
    """Every series' values in commit order, read straight from the result files.

    The fast path of ``check --history``: a history of 2,000 commits x 900 series holds 1.8 million
    values, and one ResultPoint object each would cost more than reading the files. Returns
    (series, benchmarks, machines, warnings); commits off the branch are left out when git_order is given.
    """
    history = read_history(results_dir, git_order, config, machine)
    return history.series, history.benchmarks, history.machines, history.warnings


def read_history(results_dir: str, git_order: list[str] | None, config: MachmeterConfig,
                 machine: str | None = None, *, stats: bool = False, branch_only: bool = True) -> History:
    """``load_history`` with more: ``stats`` also carries asv's confidence intervals and quartiles
    (``Series.stats``), ``branch_only=False`` keeps the commits off the branch (pull requests), after
    the branch's own in every series."""
    folder = ResultsFolder.open(results_dir, machine=machine)
    # the files are read on all cores, each worker a contiguous share of them; the blocks of the
    # shares are then joined (the rows of one block from two shares are one block)
    from machmeter.parallel import forked_map, worker_count

    shares = worker_count() if len(folder.files) >= 500 else 1
    size = -(-len(folder.files) // shares) if folder.files else 1
    parts = forked_map(lambda files: _read_blocks(folder, files, config, stats),
                       [folder.files[i:i + size] for i in range(0, len(folder.files), size)])
    blocks: dict[tuple, _Block] = {}
    dates: dict[str, int] = {}
    runs: dict[tuple[str, str, str], RunRecord] = {}
    for part_blocks, part_dates, part_runs, part_warnings in parts:
        runs.update(part_runs)
        for key, block in part_blocks.items():
            joined = blocks.get(key)
            if joined is None:
                blocks[key] = block
                continue
            joined.commits += block.commits
            joined.rows += block.rows
            if joined.stats is not None:
                joined.stats += block.stats
        for commit, date in part_dates.items():
            dates.setdefault(commit, date)
        folder.warnings += part_warnings
    # the branch's first-parent history: commits off it (pull requests) are not part of the history
    order = order_commits(dates, git_order, branch_only=branch_only)
    on_branch = set(git_order or ())
    branch_length = sum(1 for c in order if c in on_branch) if on_branch else len(order)
    rank = {c: i for i, c in enumerate(order)}
    keys_of: dict[int, list[SeriesKey]] = {}
    sources: dict[SeriesKey, int] = defaultdict(int)  # equal params of two parameter sets make one series
    for (name, _, machine_name, env_name, version), block in blocks.items():
        keys = keys_of[id(block)] = [SeriesKey(name, tuple(params.items()), machine_name, env_name, version)
                                     for params in block.combinations]
        for key in keys:
            sources[key] += 1
    meanings: dict[str, Meaning] = {}

    def meaning(benchmark: str) -> Meaning:
        if benchmark not in meanings:
            meanings[benchmark] = resolve_meaning(benchmark, benchmark_info(folder.benchmarks, benchmark), config)
        return meanings[benchmark]

    series = []
    shared: dict[SeriesKey, list] = defaultdict(list)  # (rank, values, stats) of keys with several sources
    while blocks:
        _, block = blocks.popitem()  # each block's rows are freed once its series are made
        ranks = [rank.get(c, -1) for c in block.commits]
        kept = sorted((i for i, r in enumerate(ranks) if r >= 0), key=ranks.__getitem__)
        if not kept:
            continue
        commits = [block.commits[i] for i in kept]
        # one transposition per block: every series of the block at once
        columns = list(zip(*[block.rows[i] for i in kept]))
        bands = None
        if block.stats is not None and any(block.stats[i] is not None for i in kept):
            count = len(block.combinations)
            missing = array("d", [_NAN]) * (len(_STAT_KEYS) * count)
            bands = list(zip(*[block.stats[i] if block.stats[i] is not None else missing for i in kept]))
        for index, key in enumerate(keys_of[id(block)]):
            stats_of = None if bands is None else SeriesStats(
                *(array("d", bands[band * count + index]) for band in range(len(_STAT_KEYS))))
            if sources[key] > 1:
                shared[key].append(([ranks[i] for i in kept], commits, columns[index], stats_of))
                continue
            series.append(Series(key, meaning(key.benchmark), list(commits), list(columns[index]), stats=stats_of))
    for key, pieces in shared.items():
        merged = sorted((r, n, i) for n, piece in enumerate(pieces) for i, r in enumerate(piece[0]))
        item = Series(key, meaning(key.benchmark), [pieces[n][1][i] for _, n, i in merged],
                      [pieces[n][2][i] for _, n, i in merged])
        if any(piece[3] is not None for piece in pieces):
            item.stats = SeriesStats(*(array("d", [_NAN if pieces[n][3] is None else getattr(pieces[n][3], band)[i]
                                                   for _, n, i in merged])
                                       for band in ("ci_99_low", "ci_99_high", "q_25", "q_75")))
        series.append(item)
    series = _sorted(series)
    return History(series, folder.benchmarks, folder.machines, folder.warnings + meaning_warnings(series),
                   order, {c: dates[c] for c in order}, branch_length, runs)


def is_measured(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
