"""The site's teacher/student view: speedup against accuracy cost per student, the Pareto front marked,
drawn in a real headless Chromium from asv results of a teacher/student suite."""

from __future__ import annotations

import json

from machmeter.site import build_site
from machmeter.site.students import StudentPoint, mark_front

from .test_site_browser import PHONE, Page, browser, served  # noqa: F401

SUITE = "md_students.Students"
# student -> (speedup, force MAE): "<b>fast</b>" and "float32" are the front, "slow_and_worse" is beaten
STUDENTS = {"'teacher'": (None, 1e-7), "'float32'": (1.4, 2e-6), "'<b>fast</b>'": (3.0, 5e-4),
            "'slow_and_worse'": (1.2, 8e-4)}


def test_the_front_keeps_the_students_nothing_beats():
    points = [StudentPoint(name, speedup, cost, "", "") for name, speedup, cost in
              (("a", 2.0, 0.01), ("b", 3.0, 0.02), ("c", 1.5, 0.03), ("d", 3.0, 0.05), ("e", 2.0, 0.01))]
    mark_front(points)
    # a and e tie (neither beats the other), d is as fast as b but worse, c is beaten by a
    assert [p.front for p in points] == [True, True, False, False, True]


def _results(tmp_path):
    results = tmp_path / "results"
    (results / "gpu").mkdir(parents=True)
    names = list(STUDENTS)
    benchmarks = {f"{SUITE}.track_speedup": ("x", "throughput"), f"{SUITE}.track_force_mae": ("eV/Å", "accuracy")}
    (results / "benchmarks.json").write_text(json.dumps({**{name: {
        "name": name, "type": "track", "unit": unit, "param_names": ["student"], "params": [names], "version": "1",
        "metric_kind": kind, "higher_is_better": kind == "throughput"} for name, (unit, kind) in benchmarks.items()},
        "version": 2}))
    (results / "gpu" / "machine.json").write_text(json.dumps({"machine": "gpu", "version": 1}))
    for i, commit in enumerate(("a" * 40, "b" * 40)):
        speedups = [float("nan") if s is None else s * (1 + 0.01 * i) for s, _ in STUDENTS.values()]
        maes = [mae for _, mae in STUDENTS.values()]
        (results / "gpu" / f"{commit[:8]}-env.json").write_text(json.dumps({
            "commit_hash": commit, "env_name": "env", "date": 1_700_000_000_000 + i * 100_000, "params": {"machine": "gpu"},
            "result_columns": ["result", "params", "version"], "version": 2,
            "results": {f"{SUITE}.track_speedup": [speedups, [names], "1"],
                        f"{SUITE}.track_force_mae": [maes, [names], "1"]}}))
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": ".",
                                                        "results_dir": "results", "branches": ["main"]}))
    return tmp_path / "asv.conf.json"


def test_students_page_draws_speedup_against_cost_with_the_front(browser, tmp_path):  # noqa: F811
    out = tmp_path / "site"
    build_site(str(_results(tmp_path)), str(out))
    html = (out / "students.html").read_text()
    assert "<b>fast</b>" not in html and "&lt;b&gt;fast&lt;/b&gt;" in html
    with served(out) as url:
        for width in (1300, PHONE):
            view = Page(browser, url + "students.html", width=width)
            page = view.page
            rows = page.eval_on_selector_all("section.students tbody tr", "rows => rows.map(r => [r.cells[0].textContent, r.dataset.front])")
            assert sorted(rows) == [["<b>fast</b>", "yes"], ["float32", "yes"], ["slow_and_worse", "no"]]
            # the newest commit's speedups, in speedup order, the front as its own line
            drawn = page.evaluate("window.machmeterStudents.map(u => u.data.map(s => Array.from(s)))")
            assert len(drawn) == 1
            speedup, cost, front = drawn[0]
            assert [round(s, 3) for s in speedup] == [1.212, 1.414, 3.03]
            assert cost == [8e-4, 2e-6, 5e-4] and front == [None, 2e-6, 5e-4]
            assert page.evaluate("document.querySelector('#students-0 canvas') !== null")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"sideways scroll at {width} px"
            assert not view.errors, view.errors
            view.context.close()
