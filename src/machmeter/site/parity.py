"""The site's parity view of the teacher/student force-field suites: how far each student's forces are
from its teacher's, atom by atom.

What the results hold decides what is drawn. ``TeacherStudentSuite`` (``machmeter.suites.students``)
stores every atom's force error norm ``|F_student - F_teacher|`` (eV/Å; the teacher's own row: against
its reference data) as the samples of ``track_force_error_p50``, not the force components: a parity
scatter (student component against teacher component) cannot be drawn from them, and is not. The page
draws the per-atom error distribution instead (``machmeter.parity.error_distribution``: a log-spaced
histogram, the quantiles, and the quantiles per structure where the structures are known) beside the
figures the suite tracks over the force components (MAE, RMSE, R², Pearson's r).

The structures are those of a packaged force reference (``machmeter/data/reference/forces_<name>.json``,
the set a suite with a ``reference`` compares on) when exactly one of them holds as many atoms as there
are errors; otherwise the page gives no per-structure figures.

Prepared here from the site's data and the samples in the result files (read for the offered commits
only); ``build.py`` writes the page and ``static/parity.js`` draws it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from machmeter.parity import HISTOGRAM_BINS_PER_DECADE, error_distribution, reference_layout
from machmeter.report.units import format_value
from machmeter.results import ResultsFolder, parameter_value, read_result_file, result_points
from machmeter.series import is_measured, suite_of
from machmeter.site.scaling import commit_label
from machmeter.site.students import TEACHER_VALUE

ERRORS = "track_force_error_p50"          # its samples: every atom's error
# (series, what the table calls it): the figures the suite tracks, shown beside the distribution
# (the largest error is the samples' own maximum, as track_force_max_error is)
FIGURES = (("track_force_mae", "MAE"), ("track_force_rmse", "RMSE"), ("track_force_r2", "R²"),
           ("track_force_pearson", "Pearson r"))
OFFERED_COMMITS = 12                      # the newest commits with errors offered per view


@dataclass
class ParityView:
    id: str
    suite: str
    title: str
    machine: str
    unit: str
    parameter: str                                     # the student parameter
    students: list[tuple[str, str]]                    # (stored value, shown name), the teacher first
    commits: list[dict] = field(default_factory=list)  # newest first: {"at", "label", "x", "counts", "rows"}
    layout_source: str | None = None                   # the reference whose structures the errors follow

    def chart_data(self) -> dict:
        return {"id": self.id, "title": self.title, "unit": self.unit,
                "students": [name for _, name in self.students], "commits": self.commits}


def figure_text(value, unit: str, name: str) -> str:
    """A tracked figure as the table shows it: R² and r near 1 as ``1 − x`` (what moves when a student
    gets worse: 0.9999999 reads as 1 in four digits)."""
    if value is None:
        return ""
    if name in ("track_force_r2", "track_force_pearson"):
        if math.isfinite(value) and 0 < 1 - value < 1e-3:
            return f"1 − {1 - value:.3g}"
        return f"{value:.6g}" if math.isfinite(value) else format_value(value, "")
    return format_value(value, unit)


def common_grid(histograms: list[dict], bins_per_decade: int = HISTOGRAM_BINS_PER_DECADE) -> tuple[list, list]:
    """The histograms of ``error_distribution`` (each over its own decades) on one grid of log-spaced
    edges: (edges, counts per histogram with the last repeated: a step line's values); ([], []) if
    none has a positive error. Every histogram's edges are powers 10**(k / bins_per_decade)."""
    first = [round(math.log10(h["edges"][0]) * bins_per_decade) for h in histograms if h["edges"]]
    if not first:
        return [], [[] for _ in histograms]
    low = min(first)
    high = max(round(math.log10(h["edges"][-1]) * bins_per_decade) for h in histograms if h["edges"])
    edges = [10.0 ** (k / bins_per_decade) for k in range(low, high + 1)]
    counts = []
    for h in histograms:
        row = [0] * (len(edges) - 1)
        if h["edges"]:
            start = round(math.log10(h["edges"][0]) * bins_per_decade) - low
            row[start:start + len(h["counts"])] = h["counts"]
        counts.append(row + row[-1:])
    return edges, counts


def packaged_layouts() -> dict[str, list[tuple[str, int]]]:
    """reference name -> its structures' (label, atoms), of every packaged forces_<name>.json."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "reference")
    layouts = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return layouts
    for name in names:
        if name.startswith("forces_") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    layouts[name[len("forces_"):-len(".json")]] = reference_layout(json.load(stream))
            except (OSError, ValueError):
                continue
    return layouts


def matching_layout(atoms: int, layouts: dict) -> tuple[str | None, list | None]:
    """The one packaged reference whose structures hold ``atoms`` atoms in all, else (None, None)."""
    found = [(name, layout) for name, layout in layouts.items() if sum(n for _, n in layout) == atoms]
    return found[0] if len(found) == 1 else (None, None)


def student_row(name: str, samples, figures: dict[str, float | None], unit: str, layout=None) -> dict:
    """One student's row at one commit: the distribution of its per-atom errors and its tracked figures."""
    distribution = error_distribution(samples, layout)
    return {
        "student": name, "atoms": distribution["atoms"], "zeros": distribution["histogram"]["zeros"],
        "p50": distribution["p50"], "p95": distribution["p95"], "max": distribution["max"],
        "p50_text": format_value(distribution["p50"], unit), "p95_text": format_value(distribution["p95"], unit),
        "max_text": format_value(distribution["max"], unit),
        "figures": {label: figures.get(series) for series, label in FIGURES},
        "figure_texts": {label: figure_text(figures.get(series), unit, series) for series, label in FIGURES},
        "structures": [{**s, "p50_text": format_value(s["p50"], unit), "p95_text": format_value(s["p95"], unit),
                        "max_text": format_value(s["max"], unit)} for s in distribution["structures"]],
        "histogram": distribution["histogram"],
    }


def _student_parameter(params: tuple) -> int:
    return next((i for i, (_, value) in enumerate(params) if value == TEACHER_VALUE), 0)


def parity_views(series_list, commits, results_dir: str, machine: str | None = None,
                 warnings: list[str] | None = None) -> list[ParityView]:
    """One view per suite with ``track_force_error_p50`` x machine x environment x other parameters;
    ``series_list``: the site's series, ``commits``: its ``Commits``. The errors are read from the
    result files of the newest ``OFFERED_COMMITS`` commits that have them."""
    values: dict[tuple, dict[int, float]] = {}
    groups: dict[tuple, dict] = {}
    for entry in series_list:
        key = entry.key
        if not entry.current or entry.history is None:
            continue
        method = key.benchmark.rsplit(".", 1)[-1]
        if method != ERRORS and method not in dict(FIGURES):
            continue
        measured = {entry.positions[i]: v for i, v in enumerate(entry.history.values)
                    if entry.positions[i] < commits.branch_length and is_measured(v)}
        values[(key.benchmark, key.params, key.machine, key.env_name)] = measured
        if method == ERRORS and key.params:
            at = _student_parameter(key.params)
            others = tuple(item for i, item in enumerate(key.params) if i != at)
            group = groups.setdefault((suite_of(key.benchmark), key.machine, key.env_name, others), {})
            group[key.params[at]] = (key.params, entry, sorted(measured, reverse=True))
    if not groups:
        return []
    wanted = {}
    for (suite, machine_name, env, _), students in groups.items():
        offered = sorted({at for *_, ats in students.values() for at in ats}, reverse=True)[:OFFERED_COMMITS]
        for at in offered:
            wanted.setdefault(commits.hashes[at], set()).add(f"{suite}.{ERRORS}")
    samples = read_samples(results_dir, wanted, machine, warnings)
    layouts = packaged_layouts()
    views = []
    for (suite, machine_name, env, others), students in sorted(groups.items(), key=lambda item: str(item[0])):
        ordered = sorted(students.items(), key=lambda item: (item[0][1] != TEACHER_VALUE, item[0][1]))
        first_entry = ordered[0][1][1]
        unit = first_entry.meaning.unit
        title = suite + (f" ({', '.join(f'{k}={parameter_value(v)}' for k, v in others)})" if others else "")
        if env and len({k[2] for k in groups if k[:2] == (suite, machine_name)}) > 1:
            title += f" [{env}]"
        view = ParityView(id=f"parity-{len(views)}", suite=suite, title=title, machine=machine_name, unit=unit,
                          parameter=ordered[0][0][0],
                          students=[(value, parameter_value(value)) for (_, value), _ in ordered])
        offered = sorted({at for *_, ats in students.values() for at in ats}, reverse=True)[:OFFERED_COMMITS]
        for at in offered:
            rows, histograms = [], []
            for (_, value), (params, entry, _) in ordered:
                errors = samples.get((commits.hashes[at], entry.key.benchmark, params, machine_name, env))
                if not errors:
                    continue
                layout_name, layout = matching_layout(len(errors), layouts)
                if layout_name:
                    view.layout_source = view.layout_source or f"forces_{layout_name}.json"
                figures = {series: values.get((f"{suite}.{series}", params, machine_name, env), {}).get(at)
                           for series, _ in FIGURES}
                rows.append(student_row(parameter_value(value), errors, figures, unit, layout))
                histograms.append(rows[-1].pop("histogram"))
            if not rows:
                continue
            edges, counts = common_grid(histograms)
            view.commits.append({"at": at, "label": commit_label(commits, at), "x": edges, "counts": counts,
                                 "rows": rows})
        if view.commits:
            views.append(view)
    return views


def read_samples(results_dir: str, wanted: dict[str, set[str]], machine: str | None = None,
                 warnings: list[str] | None = None) -> dict[tuple, list[float]]:
    """(commit, benchmark, params, machine, environment) -> the samples asv stored, for the benchmarks
    ``wanted`` of each commit (commit -> benchmark names), read from those commits' result files only."""
    found: dict[tuple, list[float]] = {}
    folder = ResultsFolder.open(results_dir, commits=list(wanted), machine=machine)
    for parsed in folder.read(read_result_file):
        names = wanted.get(parsed.commit)
        if not names:
            continue
        parsed.rows = [row for row in parsed.rows if row[0] in names]
        for point in result_points(parsed):
            if point.samples:
                key = (point.commit, point.benchmark, tuple(point.params.items()), point.machine, point.env_name)
                found[key] = [float(v) for v in point.samples]
    if warnings is not None:
        warnings += [w for w in folder.warnings if w not in warnings]
    return found
