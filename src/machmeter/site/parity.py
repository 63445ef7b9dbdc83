"""The site's parity view of the teacher/student force-field suites: each student's force components
against its teacher's (a parity scatter), and how far they are from them, atom by atom.

What the results hold decides what is drawn. ``TeacherStudentSuite`` (``machmeter.suites.students``)
stores, per row (a student against the teacher; the teacher's own row against its reference data):

* every atom's force error norm ``|F_student - F_teacher|`` (eV/Å) as the samples of
  ``track_force_error_p50``: the page draws their distribution (``machmeter.parity.error_distribution``:
  a log-spaced histogram, the quantiles, and the quantiles per structure where the structures are
  known) beside the figures the suite tracks over the force components (MAE, RMSE, R², Pearson's r,
  and the median signed error);
* every force component's signed difference ``F_student - F_teacher`` as the samples of
  ``track_force_component_error`` (atom-major, x, y, z). Where the structures are a packaged force
  reference's, the components are rebuilt exactly (``machmeter.parity.rebuild_components``): the
  teacher's = the reference's + the teacher row's samples, a student's = the teacher's + its samples,
  and the page draws the **parity scatter**: a point per component, x the teacher's (for the teacher's
  own points: the reference's), y the student's, one colour per student, and the line y = x.

No scatter is drawn, and the page says why, where it would be wrong or cannot be made: results without
the signed components (older ones), no teacher row at that commit (a suite without a reference, or a
teacher skipped), no packaged reference with as many atoms as the teacher's components (or several),
or components rebuilt from the packaged reference that do not reproduce the tracked R² of a row (the
results were compared on other structures or another version of the reference data). A student whose
components do not match the teacher's in number is left out of the scatter with a note.

The structures are those of a packaged force reference (``machmeter/data/reference/forces_<name>.json``,
the set a suite with a ``reference`` compares on) when exactly one of them holds as many atoms as there
are errors; otherwise the page gives no per-structure figures and no scatter.

Prepared here from the site's data and the samples in the result files (read for the offered commits
only); ``build.py`` writes the page and, with :func:`write_scatter_data`, each commit's scatter
components (``data/parity/<view>-<commit index>.json``, fetched when that commit is shown), and
``static/parity.js`` draws it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from machmeter.parity import (HISTOGRAM_BINS_PER_DECADE, coefficient_of_determination, error_distribution,
                              rebuild_components, reference_components, reference_layout)
from machmeter.report.units import format_value
from machmeter.results import ResultsFolder, parameter_value, read_result_file, result_points
from machmeter.series import is_measured, suite_of
from machmeter.site.scaling import commit_label
from machmeter.site.students import TEACHER_VALUE

TEACHER_NAME = parameter_value(TEACHER_VALUE)  # the teacher row's name on the page

ERRORS = "track_force_error_p50"          # its samples: every atom's error
COMPONENTS = "track_force_component_error"  # its samples: every component's signed error
# (series, what the table calls it): the figures the suite tracks, shown beside the distribution
# (the largest error is the samples' own maximum, as track_force_max_error is)
FIGURES = (("track_force_mae", "MAE"), ("track_force_rmse", "RMSE"), ("track_force_r2", "R²"),
           ("track_force_pearson", "Pearson r"), (COMPONENTS, "median ΔF"))
OFFERED_COMMITS = 12                      # the newest commits with errors offered per view
MAX_SCATTER_COMPONENTS = 6000             # per student; beyond it, one component in k is drawn
# a rebuilt R² is the tracked one where 1 - R² agrees to this (relative, absolute): float64 rounding of
# the same sums differs by ~1e-15; other structures or another reference move it by far more
R2_AGREEMENT = (1e-6, 1e-13)

NO_COMPONENTS = ("these results store no signed force components at this commit (the samples of "
                 "track_force_component_error, which results from before it lack): no parity scatter can "
                 "be drawn, only the error distribution below")
NO_TEACHER = ("no teacher row at this commit (the suite names no reference data, or the teacher was skipped): "
              "the students' components are rebuilt from the teacher's, and the teacher's from the reference "
              "data and its own signed errors, so no parity scatter is drawn")
TEACHER_NO_COMPONENTS = ("the teacher row stores no signed force components at this commit (results from "
                         "before track_force_component_error, or a non-finite force): no parity scatter is drawn")


@dataclass
class ParityView:
    id: str
    suite: str
    title: str
    machine: str
    unit: str
    parameter: str                                     # the student parameter
    students: list[tuple[str, str]]                    # (stored value, shown name), the teacher first
    commits: list[dict] = field(default_factory=list)  # newest first: {"at", "label", "x", "counts", "rows", "scatter"}
    layout_source: str | None = None                   # the reference whose structures the errors follow
    scatter_data: dict[int, dict] = field(default_factory=dict)  # commit index -> its scatter's components

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


def packaged_references() -> dict[str, dict]:
    """reference name -> ``{"layout": its structures' (label, atoms), "components": every force component,
    flattened as the signed errors are}``, of every packaged forces_<name>.json."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "reference")
    references = {}
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return references
    for name in names:
        if name.startswith("forces_") and name.endswith(".json"):
            try:
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    document = json.load(stream)
                references[name[len("forces_"):-len(".json")]] = {
                    "layout": reference_layout(document), "components": reference_components(document)}
            except (OSError, ValueError):
                continue
    return references


def packaged_layouts() -> dict[str, list[tuple[str, int]]]:
    """reference name -> its structures' (label, atoms), of every packaged forces_<name>.json."""
    return {name: reference["layout"] for name, reference in packaged_references().items()}


def matching_layout(atoms: int, layouts: dict) -> tuple[str | None, list | None]:
    """The one packaged reference whose structures hold ``atoms`` atoms in all, else (None, None)."""
    found = [(name, layout) for name, layout in layouts.items() if sum(n for _, n in layout) == atoms]
    return found[0] if len(found) == 1 else (None, None)


def _r2_disagrees(rebuilt: float | None, tracked) -> bool:
    if rebuilt is None or not isinstance(tracked, (int, float)) or not math.isfinite(tracked):
        return False  # nothing to compare with
    relative, absolute = R2_AGREEMENT
    return abs((1 - rebuilt) - (1 - tracked)) > relative * abs(1 - tracked) + absolute


def parity_scatter(teacher, students, references: dict[str, dict]) -> tuple[dict, dict | None]:
    """One commit's parity scatter: (what the page data says of it, its components or None).

    ``teacher``: (its signed component errors or None, its tracked R²), None where the commit has no
    teacher row; ``students``: (shown name, signed errors or None, tracked R²) in the page's order;
    ``references``: :func:`packaged_references`. The first is ``{"reason"}`` where no scatter is drawn,
    else ``{"source", "atoms", "components", "stride", "series": [{"student", "against"}], "notes"}``
    (``against``: what x is, "reference" for the teacher's own points, "teacher" for a student's), and
    the second ``{"x": {"reference", "teacher"}, "y": [one list per series]}``."""
    if (teacher is None or teacher[0] is None) and not any(errors for _, errors, _ in students):
        return {"reason": NO_COMPONENTS}, None
    if teacher is None:
        return {"reason": NO_TEACHER}, None
    teacher_errors, teacher_r2 = teacher
    if not teacher_errors:
        return {"reason": TEACHER_NO_COMPONENTS}, None
    if len(teacher_errors) % 3:
        return {"reason": f"the teacher's {len(teacher_errors)} signed components are not whole atoms' (x, y, z): "
                          "no parity scatter is drawn"}, None
    atoms = len(teacher_errors) // 3
    holding = [name for name, reference in references.items() if sum(n for _, n in reference["layout"]) == atoms]
    if len(holding) != 1:
        which = "no packaged force reference holds" if not holding else \
            f"{len(holding)} packaged force references ({', '.join(f'forces_{n}.json' for n in holding)}) hold"
        return {"reason": f"{which} {atoms} atoms, the teacher row's: the teacher's components cannot be rebuilt "
                          "from the reference data, so no parity scatter is drawn"}, None
    source = f"forces_{holding[0]}.json"
    reference = references[holding[0]]["components"]
    notes, drawn = [], {}
    for name, errors, r2 in students:
        if not errors:
            notes.append(f"{name}: no signed components stored at this commit, not drawn")
        elif len(errors) != len(teacher_errors):
            notes.append(f"{name}: {len(errors)} signed components, the teacher's {len(teacher_errors)} "
                         "(compared on other structures): not drawn")
        else:
            drawn[name] = (errors, r2)
    rebuilt = rebuild_components(reference, teacher_errors, {name: e for name, (e, _) in drawn.items()})
    checks = [("the teacher", rebuilt["reference"], rebuilt["teacher"], teacher_r2)]
    checks += [(name, rebuilt["teacher"], rebuilt["students"][name], r2) for name, (_, r2) in drawn.items()]
    for name, x, y, tracked in checks:
        again = coefficient_of_determination(x, y)
        if _r2_disagrees(again, tracked):
            return {"reason": f"rebuilt from {source}, {name}'s components give R² = 1 − {1 - again:.6g}, but the "
                              f"results hold 1 − {1 - tracked:.6g}: the results were compared on other structures "
                              "or another version of the reference data, so no parity scatter is drawn"}, None
    stride = max(1, math.ceil(len(reference) / MAX_SCATTER_COMPONENTS))
    if stride > 1:
        notes.append(f"one component in {stride} of the {len(reference)} drawn")
    series = [{"student": TEACHER_NAME, "against": "reference"}]
    series += [{"student": name, "against": "teacher"} for name in drawn]
    data = {"x": {"reference": rebuilt["reference"][::stride].tolist(), "teacher": rebuilt["teacher"][::stride].tolist()},
            "y": [rebuilt["teacher"][::stride].tolist()] + [rebuilt["students"][n][::stride].tolist() for n in drawn]}
    return {"source": source, "atoms": atoms, "components": len(reference), "stride": stride, "series": series,
            "notes": notes}, data


def write_scatter_data(views: list[ParityView], folder: str) -> int:
    """Each commit's scatter components into ``folder``/data/parity/<view id>-<commit index>.json (the
    file its page data names); returns the number of files."""
    written = 0
    for view in views:
        for at, data in view.scatter_data.items():
            os.makedirs(os.path.join(folder, "data", "parity"), exist_ok=True)
            with open(os.path.join(folder, scatter_file(view.id, at)), "w", encoding="utf-8") as stream:
                json.dump(data, stream, separators=(",", ":"), allow_nan=False)
            written += 1
    return written


def scatter_file(view_id: str, at: int) -> str:
    return f"data/parity/{view_id}-{at}.json"


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
            wanted.setdefault(commits.hashes[at], set()).update((f"{suite}.{ERRORS}", f"{suite}.{COMPONENTS}"))
    samples = read_samples(results_dir, wanted, machine, warnings)
    references = packaged_references()
    layouts = {name: reference["layout"] for name, reference in references.items()}
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
            rows, histograms, teacher, scattered = [], [], None, []
            for (_, value), (params, entry, _) in ordered:
                errors = samples.get((commits.hashes[at], entry.key.benchmark, params, machine_name, env))
                components = samples.get((commits.hashes[at], f"{suite}.{COMPONENTS}", params, machine_name, env))
                r2 = values.get((f"{suite}.track_force_r2", params, machine_name, env), {}).get(at)
                if value == TEACHER_VALUE and (errors or components):
                    teacher = (components, r2)
                if not errors:
                    continue
                if value != TEACHER_VALUE:
                    scattered.append((parameter_value(value), components, r2))
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
            scatter, data = parity_scatter(teacher, scattered, references)
            if data is not None:
                scatter["file"] = scatter_file(view.id, at)
                view.scatter_data[at] = data
            view.commits.append({"at": at, "label": commit_label(commits, at), "x": edges, "counts": counts,
                                 "rows": rows, "scatter": scatter})
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
