"""The site's scaling view: a benchmark's value against one of its numeric parameters (n_atoms, batch,
sequence length, replicas...), one line per commit, with asv's 99% confidence interval as error bars.

A parameter is numeric when every value it has parses as a finite number (asv stores each as its repr:
``512``, ``1e-3``, also ``'64'``) and it takes at least ``MIN_SIZES`` distinct values. One view per
benchmark x numeric parameter x machine; the other parameters (and the asv environment, where there are
several) are held at one value each, chosen on the page. The error bars are ``stats_ci_99_a``/``_b``,
which asv derives from the samples it records (``--record-samples``: a time benchmark's repeats, a
machmeter ``metric_distribution``'s per-call samples) and which ``read_history(stats=True)`` carries as
``Series.stats``; a value without a finite interval has no bar.

Prepared here from the site's data; ``build.py`` writes the page and ``static/scaling.js`` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from machmeter.report.units import format_value
from machmeter.results import parameter_value
from machmeter.series import is_measured

MIN_SIZES = 3          # distinct numeric values a parameter needs to be a size worth a scaling chart
OFFERED_COMMITS = 24   # the newest commits offered per view (with the first and the newest change's base)
ENVIRONMENT = "environment"


def numeric_value(stored: str) -> float | None:
    """The number a stored parameter value is (asv's repr, quoted or not), or None."""
    value = parameter_value(stored)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def numeric_parameters(param_names: list[str], param_values: list[list[str]]) -> list[str]:
    """The parameters all of whose values are numbers, with at least ``MIN_SIZES`` distinct ones."""
    found = []
    for name, values in zip(param_names, param_values):
        numbers = [numeric_value(v) for v in values]
        if numbers and None not in numbers and len(set(numbers)) >= MIN_SIZES:
            found.append(name)
    return found


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def error_bar(value: float | None, low: float, high: float) -> tuple[float | None, float | None]:
    """asv's 99% CI of one value as (low, high), None where it stored none or an infinite bound (too
    few samples) or one that does not hold the value."""
    low, high = _finite(low), _finite(high)
    if value is None or low is None or high is None or not low <= value <= high:
        return None, None
    return low, high


@dataclass
class ScalingView:
    id: str
    benchmark: str
    benchmark_id: str
    parameter: str                  # the size on the x axis
    machine: str
    unit: str
    held: list[tuple[str, list[str]]]       # the other parameters (and environment): their values
    sizes: list[float]                      # x, ascending
    size_texts: list[str]
    commits: list[dict]                     # offered: {"at", "label"}, oldest first
    defaults: list[int]                     # commit indices drawn first
    groups: list[dict] = field(default_factory=list)  # per held combination: its lines per commit
    default_group: int = 0
    log_x: bool = False
    log_y: bool = False

    @property
    def title(self) -> str:
        return f"{self.benchmark} against {self.parameter} on {self.machine}"

    def chart_data(self) -> dict:
        return {"id": self.id, "benchmark": self.benchmark, "parameter": self.parameter, "machine": self.machine,
                "unit": self.unit, "held": [{"name": name, "values": values} for name, values in self.held],
                "sizes": self.sizes, "size_texts": self.size_texts, "commits": self.commits,
                "defaults": self.defaults, "groups": self.groups, "default_group": self.default_group,
                "log_x": self.log_x, "log_y": self.log_y}


def commit_label(commits, at: int) -> str:
    """A commit as a select offers it: short hash, date, subject."""
    subject = commits.subjects[at]
    text = commits.hashes[at][:8]
    if commits.dates[at]:
        import datetime
        text += " " + datetime.datetime.fromtimestamp(commits.dates[at] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")
    return f"{text} {subject}" if subject else text


def _measured_at(entry, branch_length: int):
    """(commit indices, indices in the series' history) of the measured (finite) values of a series on
    the branch; found for the whole history at once, while the points are made only at the commits a
    view offers."""
    import numpy as np

    values = np.array(entry.history.values, dtype=float)  # None -> NaN
    positions = np.array(entry.positions[:len(values)], dtype=np.int64)
    kept = np.isfinite(values) & (positions < branch_length)
    return positions[kept], np.flatnonzero(kept)


def _point(entry, index: int) -> tuple[float, float | None, float | None]:
    """(value, CI low, CI high) of one measured value of a series' history."""
    history = entry.history
    value, stats = history.values[index], history.stats
    low, high = (None, None) if stats is None else error_bar(value, stats.ci_99_low[index], stats.ci_99_high[index])
    return value, low, high


def _offered(measured: set[int], bases: list[int]) -> tuple[list[int], list[int]]:
    """The commits offered (the newest OFFERED_COMMITS measured, the first, the newest change's base)
    and those drawn first: the newest, the first and that base."""
    ordered = sorted(measured)
    newest, first = ordered[-1], ordered[0]
    base = max((b for b in bases if b in measured), default=None)
    defaults = sorted({newest, first} | ({base} if base is not None else set()))
    return sorted(set(ordered[-OFFERED_COMMITS:]) | set(defaults)), defaults


def _log_scale(values) -> bool:
    values = [v for v in values if v is not None]
    return bool(values) and min(values) > 0 and max(values) / min(values) >= 10


def scaling_views(benchmarks, commits) -> list[ScalingView]:
    """One view per benchmark page (``data.BenchmarkPage``) x numeric parameter x machine that has
    values at ``MIN_SIZES`` sizes; its current series with a history on the branch are used."""
    views = []
    # a series is in a view per numeric parameter, a commit in many views: each worked out once
    measured: dict[int, tuple] = {}
    labels: dict[int, str] = {}

    def measured_at(entry):
        if id(entry) not in measured:
            measured[id(entry)] = _measured_at(entry, commits.branch_length)
        return measured[id(entry)]

    def label(at: int) -> str:
        if at not in labels:
            labels[at] = commit_label(commits, at)
        return labels[at]

    for page in benchmarks:
        for parameter in numeric_parameters(page.param_names, page.param_values):
            for machine in page.machines:
                view = _view(page, parameter, machine, commits, f"scaling-{len(views)}", measured_at, label)
                if view is not None:
                    views.append(view)
    return views


def _view(page, parameter: str, machine: str, commits, view_id: str, measured_at_of, label) -> ScalingView | None:
    members = [s for s in page.series if s.current and s.history is not None and s.key.machine == machine]
    envs = sorted({s.key.env_name for s in members})
    others = [name for name in page.param_names if name != parameter]
    held_names = others + ([ENVIRONMENT] if len(envs) > 1 else [])
    import numpy as np

    groups: dict[tuple, dict[float, tuple]] = {}  # held values -> size -> (series, _measured_at)
    texts: dict[float, str] = {}
    bases: list[int] = []
    for entry in members:
        params = entry.key.params_dict
        size = numeric_value(params.get(parameter, ""))
        if size is None:
            continue
        measured_at = measured_at_of(entry)
        if not measured_at[0].size:
            continue
        texts.setdefault(size, parameter_value(params[parameter]))
        held = tuple(params.get(name, "") for name in others) + ((entry.key.env_name,) if len(envs) > 1 else ())
        groups.setdefault(held, {})[size] = (entry, measured_at)
        bases += [mark.since for mark in entry.marks]
    sizes = sorted(texts)
    if len(sizes) < MIN_SIZES:
        return None
    measured = set(np.concatenate([at for by_size in groups.values() for _, (at, _) in by_size.values()]).tolist())
    offered, defaults = _offered(measured, bases)
    for by_size in groups.values():  # each series' commit index -> history index, at the offered commits only
        for size, (entry, (at, index)) in by_size.items():
            wanted = np.isin(at, offered)
            by_size[size] = (entry, dict(zip(at[wanted].tolist(), index[wanted].tolist())))
    # the held values in asv's order of the parameter's values (the benchmark page's), environments by name
    declared = [page.param_values[page.param_names.index(name)] for name in others] + ([envs] if len(envs) > 1 else [])
    held_values = [[v for v in order if any(held[i] == v for held in groups)] for i, order in enumerate(declared)]
    rank = [{v: n for n, v in enumerate(values)} for values in held_values]
    view = ScalingView(id=view_id, benchmark=page.name, benchmark_id=page.id, parameter=parameter, machine=machine,
                       unit=page.unit, held=list(zip(held_names, held_values)), sizes=sizes,
                       size_texts=[texts[s] for s in sizes],
                       commits=[{"at": at, "label": label(at)} for at in offered], defaults=defaults)
    newest = defaults[-1]
    best = (-1, None)
    values = []

    def point_at(by_size: dict, size: float, at: int):
        entry, measured_at = by_size.get(size, (None, {}))
        index = measured_at.get(at)
        return None if index is None else _point(entry, index)

    for held, by_size in sorted(groups.items(), key=lambda item: [rank[i][v] for i, v in enumerate(item[0])]):
        lines = {}
        for at in offered:
            line = [point_at(by_size, size, at) for size in sizes]
            if not any(line):
                continue
            lines[str(at)] = {
                "y": [p[0] if p else None for p in line], "lo": [p[1] if p else None for p in line],
                "hi": [p[2] if p else None for p in line],
                "text": [format_value(p[0], page.unit) if p else "" for p in line],
                "ci": [f"{format_value(p[1], page.unit)} – {format_value(p[2], page.unit)}" if p and p[1] is not None
                       else "" for p in line],
            }
            values += [p[0] for p in line if p]
        drawn = sum(1 for v in lines.get(str(newest), {}).get("y", []) if v is not None)
        if drawn > best[0]:
            best = (drawn, len(view.groups))
        view.groups.append({"held": [parameter_value(v) if i < len(others) else v for i, v in enumerate(held)],
                            "lines": lines})
    view.held = [(name, [parameter_value(v) if i < len(others) else v for v in values_])
                 for i, (name, values_) in enumerate(view.held)]
    view.default_group = best[1] or 0
    view.log_x = _log_scale(sizes)
    view.log_y = _log_scale(values)
    return view
