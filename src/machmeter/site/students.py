"""The site's teacher/student view: what each student of a suite gains in speed against what it costs in
accuracy, at the newest commit of each machine, with the Pareto front marked.

A teacher/student suite (``TeacherStudentSuite``, ``EmbeddingTeacherStudentSuite``) has one parameter
whose values are the teacher and its students, a ``track_speedup`` series per student, and accuracy
series against the teacher. The cost drawn is the first of ``COST_SERIES`` the suite records (each lower
is better). A student is on the front when no other student of its view is at least as fast and at
least as accurate, and better in one of the two: the students worth keeping.

Prepared here from the site's data; ``build.py`` writes the page and ``static/students.js`` draws it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from machmeter.report.units import format_value
from machmeter.series import series_label, suite_of

SPEEDUP = "track_speedup"
TEACHER_VALUE = "'teacher'"  # asv's text of machmeter.suites.students.TEACHER as a parameter value
# (series, what the axis says), the first one a suite records is its cost
COST_SERIES = (("track_probe_accuracy_drop", "probe accuracy drop"), ("track_force_mae", "force MAE"),
               ("track_force_rmse", "force RMSE"), ("track_energy_error_per_atom", "energy error per atom"))


@dataclass
class StudentPoint:
    student: str            # the parameter's value, unquoted
    speedup: float
    cost: float
    speedup_text: str
    cost_text: str
    front: bool = False


@dataclass
class StudentsView:
    id: str                 # the chart's element id
    title: str              # suite (other parameters)
    machine: str
    cost_label: str
    cost_unit: str
    points: list[StudentPoint] = field(default_factory=list)

    def chart_data(self) -> dict:
        """What students.js draws: the points by speedup (uPlot wants x ascending), the front's."""
        ordered = sorted(self.points, key=lambda p: p.speedup)
        return {"id": self.id, "cost_label": self.cost_label, "cost_unit": self.cost_unit,
                "speedup": [p.speedup for p in ordered], "cost": [p.cost for p in ordered],
                "front": [p.cost if p.front else None for p in ordered], "students": [p.student for p in ordered]}


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"" else value


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def mark_front(points: list[StudentPoint]) -> None:
    """Each point's ``front``: no other point is at least as fast and as cheap, and better in one."""
    for p in points:
        p.front = not any(q is not p and q.speedup >= p.speedup and q.cost <= p.cost
                          and (q.speedup > p.speedup or q.cost < p.cost) for q in points)


def students_views(series_list) -> list[StudentsView]:
    """One view per teacher/student suite x machine x environment x other parameters that has a student
    with both a speedup and a cost at its newest measured commit. ``series_list``: the site's series
    (``SiteSeries``: its ``latest`` value and ``current`` version are used)."""
    latest = {}
    for entry in series_list:
        if entry.current and entry.history is not None:
            latest[(entry.key.benchmark, entry.key.params, entry.key.machine, entry.key.env_name)] = entry
    # the teacher's own rows name each suite's student parameter (a student's row has no 'teacher' value)
    student_parameters: dict[tuple[str, str], set[str]] = {}
    for benchmark, params, machine, _ in latest:
        for name, value in params:
            if value == TEACHER_VALUE:
                student_parameters.setdefault((suite_of(benchmark), machine), set()).add(name)
    groups: dict[tuple, dict] = {}
    for (benchmark, params, machine, env), entry in latest.items():
        if not benchmark.endswith("." + SPEEDUP):
            continue
        names = student_parameters.get((suite_of(benchmark), machine), set())
        student_at = next((i for i, (name, _) in enumerate(params) if name in names), None)
        if student_at is None:
            continue
        others = tuple(item for i, item in enumerate(params) if i != student_at)
        groups.setdefault((suite_of(benchmark), machine, env, others), {})[params[student_at]] = (params, entry)
    views = []
    for (suite, machine, env, others), students in sorted(groups.items(), key=lambda item: str(item[0])):
        cost_name = next((name for name, _ in COST_SERIES if any(
            (f"{suite}.{name}", params, machine, env) in latest for params, _ in students.values())), None)
        if cost_name is None:
            continue
        cost_label = dict(COST_SERIES)[cost_name]
        points, unit = [], ""
        for (student_param, student), (params, speedup_entry) in sorted(students.items()):
            cost_entry = latest.get((f"{suite}.{cost_name}", params, machine, env))
            speedup, cost = _finite(speedup_entry.latest), _finite(cost_entry.latest) if cost_entry else None
            if student == TEACHER_VALUE or speedup is None or cost is None:
                continue
            unit = cost_entry.meaning.unit
            points.append(StudentPoint(_unquoted(student), speedup, cost, f"{speedup:.3g}x",
                                       format_value(cost, unit)))
        if not points:
            continue
        mark_front(points)
        title = series_label(suite, dict(others)) if others else suite
        views.append(StudentsView(id=f"students-{len(views)}", title=title, machine=machine,
                                  cost_label=cost_label, cost_unit=unit, points=points))
    return views
