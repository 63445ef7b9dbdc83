"""Series: one benchmark × parameter combination × machine × environment × benchmark version, ordered by
commit, with what its numbers mean (unit, direction, kind, tolerances) resolved once.

``build_series`` makes them from a ResultSet (a few commits, every point with its samples);
``machmeter.history`` reads a whole results folder into series without one object per value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from machmeter.config import MachmeterConfig
from machmeter.kinds import declared_kind, default_higher_is_better, kind_for_unit
from machmeter.results import BenchmarkInfo, ResultPoint, ResultSet, benchmark_info
from machmeter.targets import Target, declared_target


def suite_of(benchmark: str) -> str:
    """``md.MD.time_md_step`` -> ``md.MD``: a suite's series share its class, its counters and its
    profiled window (and with it the window's trace)."""
    return benchmark.rpartition(".")[0]


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
    # asv's CI and quartiles per value: history.SeriesStats, from read_history(stats=True); named, not
    # imported, since history builds on this module
    stats: "SeriesStats | None" = None


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
    return sort_series(series)


def sort_series(series: list[Series]) -> list[Series]:
    """The order series are reported in, whichever way they were read."""
    return sorted(series, key=lambda s: (s.key.machine, s.key.benchmark, s.key.params, s.key.env_name,
                                         str(s.key.version)))


def is_measured(value: float | None) -> bool:
    return value is not None and not math.isnan(value)
