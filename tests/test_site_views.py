"""The site's scaling and parity views: the data preparation (numeric parameters, error bars from asv's
CI of the samples, the per-atom error distribution and figures) and both pages drawn in a real
headless Chromium from asv results, at a desktop and a phone width."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from machmeter.parity import error_distribution, reference_components
from machmeter.report.units import format_value
from machmeter.site import build_site
from machmeter.site.parity import (NO_COMPONENTS, NO_TEACHER, TEACHER_NO_COMPONENTS, common_grid, figure_text,
                                   matching_layout, packaged_layouts, packaged_references, parity_scatter,
                                   parity_views, student_row)
from machmeter.site.scaling import error_bar, numeric_parameters, numeric_value, scaling_views

from .test_site_browser import PHONE, Page, browser, served, wait_until  # noqa: F401

SCALING = "md.Scale<b>x</b>.time_step"
EVIL = "'<script>alert(1)</script>'"
SIZES = ["64", "512", "4096"]
DEVICES = ["'cpu'", EVIL]
COMMITS = [f"{i:x}" * 40 for i in range(1, 13)]  # 111..., 222..., ... ccc...
STEP = 6  # the scaling benchmark is 30% slower from this commit on
SUITE = "md_students.Students"
STUDENTS = ["'teacher'", "'float32'", "'<i>bf16</i>'"]
LJ_ATOMS = 143  # forces_lj_argon.json's five structures


def seconds(commit: int, size: int, device: int) -> float:
    """The synthetic time: linear in the size, 30% slower from STEP on, device 1 twice as slow, a little
    noise (no two commits alike)."""
    return 1e-6 * float(SIZES[size]) * (1 + device) * (1.3 if commit >= STEP else 1.0) * (1 + 0.002 * commit)


def _packaged_reference() -> np.ndarray:
    from importlib.resources import files

    return reference_components(json.loads(files("machmeter").joinpath("data/reference/forces_lj_argon.json").read_text("utf-8")))


REFERENCE = _packaged_reference()  # forces_lj_argon.json's 429 force components, atom-major
NO_COMPONENTS_COMMIT = 0  # results from before track_force_component_error: no signed components at all
NO_TEACHER_COMMIT = 1     # the teacher row skipped at this commit


def component_errors(commit: int, student: int) -> list[float]:
    """The signed errors (the teacher's against the reference, a student's against the teacher), bf16's
    twice as large at the newest commit."""
    rng = np.random.default_rng(100 * commit + student)
    scale = (1e-6, 1e-4, 3e-2)[student] * (2.0 if commit == len(COMMITS) - 1 else 1.0)
    return (scale * rng.normal(0.0, 1.0, 3 * LJ_ATOMS)).tolist()


def atom_errors(commit: int, student: int) -> list[float]:
    return np.linalg.norm(np.reshape(component_errors(commit, student), (-1, 3)), axis=1).tolist()


def components(commit: int, student: int) -> np.ndarray:
    """What each row's force components are, rebuilt here by hand: the teacher's from the reference, a
    student's from the teacher's."""
    teacher = REFERENCE + np.array(component_errors(commit, 0))
    return teacher if student == 0 else teacher + np.array(component_errors(commit, student))


def figures(commit: int, student: int) -> dict[str, float]:
    """The figures the suite tracks, as it computes them (suites.students.force_parity for R² and r)."""
    from machmeter.suites.students import force_parity

    errors = np.array(component_errors(commit, student))
    against = REFERENCE if student == 0 else components(commit, 0)
    parity = force_parity(against, components(commit, student))
    return {"track_force_mae": float(np.mean(np.abs(errors))), "track_force_rmse": float(np.sqrt(np.mean(errors**2))),
            "track_force_r2": parity["force_r2"], "track_force_pearson": parity["force_pearson"],
            "track_force_component_error": float(np.median(errors))}


# ---------------------------------------------------------------------------------------------------
# data preparation


def test_numeric_parameters_are_those_whose_every_value_is_a_number_with_three_distinct():
    names = ["n_atoms", "device", "batch", "mixed", "two", "quoted", "flags", "repeated"]
    values = [["64", "512", "4096"], ["'cpu'", "'cuda'", "'mps'"], ["1", "2.5", "1e3"], ["1", "2", "'x'"],
              ["4", "16"], ["'8'", "'16'", "'32'"], ["True", "False", "None"], ["2", "2.0", "2"]]
    assert numeric_parameters(names, values) == ["n_atoms", "batch", "quoted"]
    assert numeric_value("1e3") == 1000.0 and numeric_value("'float32'") is None
    assert numeric_value("float('nan')") is None and numeric_value("'inf'") is None


def test_error_bars_are_asvs_ci_and_none_without_a_finite_one():
    assert error_bar(2.0, 1.5, 2.5) == (1.5, 2.5)
    assert error_bar(2.0, float("nan"), 2.5) == (None, None)      # asv stored none
    assert error_bar(2.0, -math.inf, math.inf) == (None, None)    # too few samples
    assert error_bar(2.0, 2.1, 2.5) == (None, None)               # not an interval of this value
    assert error_bar(None, 1.0, 2.0) == (None, None)


def test_the_per_atom_figures_are_numpys_and_the_histograms_share_one_grid():
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(-9, 1, 200), rng.lognormal(-3, 0.5, 150)
    b[:3] = 0.0  # exact zeros: counted apart, never on the log axis
    tracked = {"track_force_mae": 0.01, "track_force_rmse": 0.02, "track_force_r2": 1 - 2e-5, "track_force_pearson": 0.75,
               "track_force_component_error": -3e-4}
    row = student_row("s", b.tolist(), tracked, "eV/Å")
    assert row["atoms"] == 150 and row["zeros"] == 3
    assert row["p50"] == pytest.approx(np.median(b)) and row["p95"] == pytest.approx(np.quantile(b, 0.95))
    assert row["max"] == b.max() and row["max_text"] == format_value(b.max(), "eV/Å")
    assert row["figures"] == {"MAE": 0.01, "RMSE": 0.02, "R²": 1 - 2e-5, "Pearson r": 0.75, "median ΔF": -3e-4}
    assert row["figure_texts"]["median ΔF"] == format_value(-3e-4, "eV/Å")
    assert row["figure_texts"]["R²"] == "1 − 2e-05" and row["figure_texts"]["Pearson r"] == "0.75"
    first, second = error_distribution(a)["histogram"], row["histogram"]
    edges, counts = common_grid([first, second])
    assert edges[0] == pytest.approx(first["edges"][0]) and edges[-1] == pytest.approx(second["edges"][-1])
    for values, line in ((a, counts[0]), (b[b > 0], counts[1])):
        expected, _ = np.histogram(values, bins=np.array(edges))
        assert line[:-1] == expected.tolist() and line[-1] == line[-2]  # a step line's last value repeated
    assert sum(counts[1][:-1]) == 147


def test_per_structure_quantiles_follow_the_packaged_reference_with_that_many_atoms():
    layouts = packaged_layouts()
    name, layout = matching_layout(LJ_ATOMS, layouts)
    assert name == "lj_argon" and [n for _, n in layout] == [32, 32, 12, 55, 12]
    assert matching_layout(LJ_ATOMS + 1, layouts) == (None, None)
    errors = np.arange(1, LJ_ATOMS + 1, dtype=float) * 1e-4
    row = student_row("s", errors.tolist(), {}, "eV/Å", layout)
    cluster = row["structures"][3]
    assert cluster["label"] == "argon-cluster-55" and cluster["max"] == pytest.approx(errors[32 + 32 + 12 + 54])
    assert cluster["p50"] == pytest.approx(np.median(errors[76:131]))
    assert figure_text(None, "eV/Å", "track_force_mae") == ""


def r2(commit: int, student: int) -> float:
    return figures(commit, student)["track_force_r2"]


def test_the_scatter_rebuilds_the_exact_components_from_the_reference_and_the_signed_errors():
    references = packaged_references()
    assert references["lj_argon"]["components"].tolist() == REFERENCE.tolist()
    teacher = (component_errors(3, 0), r2(3, 0))
    students = [("<i>bf16</i>", component_errors(3, 2), r2(3, 2)), ("float32", component_errors(3, 1), r2(3, 1))]
    scatter, data = parity_scatter(teacher, students, references)
    assert scatter == {"source": "forces_lj_argon.json", "atoms": LJ_ATOMS, "components": 3 * LJ_ATOMS, "stride": 1,
                       "series": [{"student": "teacher", "against": "reference"}, {"student": "<i>bf16</i>", "against": "teacher"},
                                  {"student": "float32", "against": "teacher"}], "notes": []}
    # exact: the reference's components, the teacher's = reference + its errors, a student's = teacher + its
    assert data["x"]["reference"] == REFERENCE.tolist()
    assert data["x"]["teacher"] == data["y"][0] == components(3, 0).tolist()
    assert data["y"][1] == components(3, 2).tolist() and data["y"][2] == components(3, 1).tolist()
    # without tracked R² (older results, or undefined) nothing is checked and the scatter is drawn
    assert parity_scatter((teacher[0], None), [(n, e, None) for n, e, _ in students], references)[1] == data


def test_no_scatter_without_a_teacher_row_or_signed_components():
    references = packaged_references()
    students = [("float32", component_errors(3, 1), r2(3, 1))]
    assert parity_scatter(None, students, references) == ({"reason": NO_TEACHER}, None)
    assert parity_scatter((None, r2(3, 0)), students, references) == ({"reason": TEACHER_NO_COMPONENTS}, None)
    # results from before the signed components: none anywhere
    assert parity_scatter((None, None), [("float32", None, r2(3, 1))], references) == ({"reason": NO_COMPONENTS}, None)
    assert parity_scatter(None, [("float32", None, None)], references) == ({"reason": NO_COMPONENTS}, None)
    # the teacher alone is drawn against its reference; a student without components is a note
    scatter, data = parity_scatter((component_errors(3, 0), r2(3, 0)), [("float32", None, None)], references)
    assert [s["student"] for s in scatter["series"]] == ["teacher"] and len(data["y"]) == 1
    assert scatter["notes"] == ["float32: no signed components stored at this commit, not drawn"]


def test_no_scatter_where_the_layout_does_not_match_the_reference():
    references = packaged_references()
    teacher = component_errors(3, 0)
    # one atom more than forces_lj_argon.json holds: no packaged reference has it
    (scatter, data) = parity_scatter((teacher + [0.0, 0.0, 0.0], None), [], references)
    assert data is None and scatter["reason"].startswith(f"no packaged force reference holds {LJ_ATOMS + 1} atoms")
    scatter, data = parity_scatter((teacher[:-1], None), [], references)
    assert data is None and "428 signed components are not whole atoms'" in scatter["reason"]
    # two references with that many atoms: which one is not known
    twice = {"a": references["lj_argon"], "b": references["lj_argon"]}
    scatter, data = parity_scatter((teacher, None), [], twice)
    assert data is None and "2 packaged force references (forces_a.json, forces_b.json) hold 143 atoms" in scatter["reason"]
    # a student compared on other structures is left out, with a note; the others are drawn
    students = [("short", component_errors(3, 2)[:-3], None), ("float32", component_errors(3, 1), r2(3, 1))]
    scatter, data = parity_scatter((teacher, r2(3, 0)), students, references)
    assert [s["student"] for s in scatter["series"]] == ["teacher", "float32"]
    assert data["y"][1] == components(3, 1).tolist()
    assert scatter["notes"] == ["short: 426 signed components, the teacher's 429 (compared on other structures): not drawn"]
    # the same number of atoms but other structures (or another version of the reference): the rebuilt
    # components do not give the R² the results hold, and no wrong scatter is drawn
    other = {"lj_argon": {**references["lj_argon"], "components": 1.1 * REFERENCE}}  # its forces 10% larger
    bf16 = ("<i>bf16</i>", component_errors(3, 2), r2(3, 2))
    scatter, data = parity_scatter((teacher, r2(3, 0)), [bf16], other)
    assert data is None and scatter["reason"].startswith("rebuilt from forces_lj_argon.json, the teacher's components give R²")
    assert "other structures or another version of the reference data" in scatter["reason"]
    scatter, data = parity_scatter((teacher, None), [bf16], other)  # the students' R² tells it too
    assert data is None and "<i>bf16</i>'s components give R² = 1 − " in scatter["reason"]
    scatter, data = parity_scatter((teacher, r2(3, 0) - 1e-6), [bf16], references)  # an R² that is not the teacher's
    assert data is None and "the teacher's components give R²" in scatter["reason"]


def test_large_layouts_draw_every_kth_component():
    from machmeter.site import parity

    references = packaged_references()
    original, parity.MAX_SCATTER_COMPONENTS = parity.MAX_SCATTER_COMPONENTS, 100
    try:
        scatter, data = parity_scatter((component_errors(3, 0), None), [], references)
    finally:
        parity.MAX_SCATTER_COMPONENTS = original
    assert scatter["stride"] == 5 and scatter["notes"] == ["one component in 5 of the 429 drawn"]
    assert data["x"]["reference"] == REFERENCE[::5].tolist()


# ---------------------------------------------------------------------------------------------------
# the pages in a browser


COLUMNS = ["result", "params", "version", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
           "stats_number", "stats_repeat", "samples"]


def _results(tmp_path):
    results = tmp_path / "results"
    (results / "gpu").mkdir(parents=True)
    info = {SCALING: ("time", "seconds", ["n_atoms", "device"], [SIZES, DEVICES])}
    for method in ["track_force_error_p50", "track_force_component_error", *figures(0, 0)]:
        info[f"{SUITE}.{method}"] = ("track", "eV/Å", ["student"], [STUDENTS])
    (results / "benchmarks.json").write_text(json.dumps({**{name: {
        "name": name, "type": kind, "unit": unit, "param_names": names, "params": params, "version": "1"}
        for name, (kind, unit, names, params) in info.items()}, "version": 2}))
    (results / "gpu" / "machine.json").write_text(json.dumps({"machine": "gpu", "version": 1}))
    for c, commit in enumerate(COMMITS):
        values = [seconds(c, s, d) for s in range(3) for d in range(2)]
        rows = {SCALING: [values, [SIZES, DEVICES], "1", [v * 0.95 for v in values], [v * 1.05 for v in values],
                          None, None, None, None, None]}
        if c == STEP - 1:  # the last commit before the step's CI of the largest size on the cpu: asv's too-few-samples bounds
            rows[SCALING][3][4], rows[SCALING][4][4] = float("-inf"), float("inf")
        measured = [s for s in range(3) if not (s == 0 and c == NO_TEACHER_COMMIT)]  # asv: null where skipped
        errors = [atom_errors(c, s) if s in measured else None for s in range(3)]
        rows[f"{SUITE}.track_force_error_p50"] = [[float(np.median(e)) if e else None for e in errors], [STUDENTS], "1",
                                                  None, None, None, None, None, None, errors]
        for method in figures(0, 0):
            rows[f"{SUITE}.{method}"] = [[figures(c, s)[method] if s in measured else None for s in range(3)],
                                         [STUDENTS], "1"]
        signed = [component_errors(c, s) if s in measured else None for s in range(3)]
        rows[f"{SUITE}.track_force_component_error"] = [
            [float(np.median(e)) if e else None for e in signed], [STUDENTS], "1", None, None, None, None, None, None, signed]
        if c == NO_COMPONENTS_COMMIT:
            del rows[f"{SUITE}.track_force_component_error"]
        (results / "gpu" / f"{commit[:8]}-env.json").write_text(json.dumps({
            "commit_hash": commit, "env_name": "env", "date": 1_700_000_000_000 + c * 100_000, "params": {"machine": "gpu"},
            "result_columns": COLUMNS, "version": 2, "results": rows}))
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": ".",
                                                        "results_dir": "results", "branches": ["main"]}))
    return tmp_path / "asv.conf.json"


def _site_data(tmp_path):
    from machmeter.config import MachmeterConfig
    from machmeter.history import read_history
    from machmeter.site.data import prepare_site

    _results(tmp_path)
    config = MachmeterConfig()
    history = read_history(str(tmp_path / "results"), None, config, stats=True, branch_only=False)
    return prepare_site("p", history, config, [], {}), str(tmp_path / "results")


def test_the_scaling_view_holds_each_commits_values_and_cis_per_size(tmp_path):
    data, _ = _site_data(tmp_path)
    (view,) = scaling_views(data.benchmarks, data.commits)
    assert (view.benchmark, view.parameter, view.machine) == (SCALING, "n_atoms", "gpu")
    assert view.sizes == [64.0, 512.0, 4096.0] and view.size_texts == SIZES
    assert view.held == [("device", ["cpu", "<script>alert(1)</script>"])]
    # the first commit, the base of the step (the last at the old level) and the newest
    assert view.defaults == [0, STEP - 1, len(COMMITS) - 1]
    assert [c["at"] for c in view.commits] == list(range(len(COMMITS)))
    slow = view.groups[1]
    assert slow["held"] == ["<script>alert(1)</script>"]
    line = slow["lines"][str(STEP)]
    assert line["y"] == pytest.approx([seconds(STEP, s, 1) for s in range(3)])
    assert line["lo"] == pytest.approx([0.95 * seconds(STEP, s, 1) for s in range(3)])
    assert line["hi"] == pytest.approx([1.05 * seconds(STEP, s, 1) for s in range(3)])
    cpu = view.groups[view.default_group]["lines"][str(STEP - 1)]
    assert cpu["lo"][2] is None and cpu["hi"][2] is None and cpu["lo"][1] is not None  # asv's infinite bounds
    assert view.log_x and view.log_y


def test_the_parity_view_reads_every_atoms_error_from_the_result_files(tmp_path):
    data, results = _site_data(tmp_path)
    (view,) = parity_views(data.series, data.commits, results)
    assert view.students == [("'teacher'", "teacher"), ("'<i>bf16</i>'", "<i>bf16</i>"), ("'float32'", "float32")]
    assert [c["at"] for c in view.commits] == list(range(len(COMMITS)))[::-1]  # newest first
    assert view.layout_source == "forces_lj_argon.json"
    newest = view.commits[0]
    for row, student in zip(newest["rows"], (0, 2, 1)):
        errors = np.array(atom_errors(len(COMMITS) - 1, student))
        assert row["p95"] == pytest.approx(np.quantile(errors, 0.95)) and row["max"] == errors.max()
        assert row["figures"]["MAE"] == figures(len(COMMITS) - 1, student)["track_force_mae"]
        expected, _ = np.histogram(errors, bins=np.array(newest["x"]))
        assert newest["counts"][newest["rows"].index(row)][:-1] == expected.tolist()
    # the scatter of each commit: its components in a file of their own, fetched when it is shown
    newest_at = len(COMMITS) - 1
    assert newest["scatter"]["file"] == f"data/parity/{view.id}-{newest_at}.json"
    assert [s["student"] for s in newest["scatter"]["series"]] == ["teacher", "<i>bf16</i>", "float32"]
    assert view.scatter_data[newest_at]["y"][1] == components(newest_at, 2).tolist()
    reasons = {c["at"]: c["scatter"].get("reason") for c in view.commits}
    assert reasons[NO_TEACHER_COMMIT] == NO_TEACHER and reasons[NO_COMPONENTS_COMMIT] == NO_COMPONENTS
    assert set(view.scatter_data) == set(range(len(COMMITS))) - {NO_TEACHER_COMMIT, NO_COMPONENTS_COMMIT}
    assert [r["student"] for r in view.commits[-2]["rows"]] == ["<i>bf16</i>", "float32"]  # no teacher row there


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("views")
    out = tmp_path / "site"
    build_site(str(_results(tmp_path)), str(out))
    return out


def test_pages_escape_every_name_and_are_linked_from_the_navigation(site):
    for name in ("scaling.html", "parity.html"):
        html = (site / name).read_text()
        assert "<script>alert(1)" not in html and "<b>x</b>" not in html and "<i>bf16</i>" not in html
        assert '<a href="scaling.html"' in html and '<a href="parity.html"' in html
    assert "md.Scale&lt;b&gt;x&lt;/b&gt;.time_step against n_atoms on gpu" in (site / "scaling.html").read_text()
    assert '<a href="scaling.html"' in (site / "index.html").read_text()


def test_pages_without_data_are_not_linked(tmp_path):
    project = _results(tmp_path)
    benchmarks = tmp_path / "results" / "benchmarks.json"
    info = json.loads(benchmarks.read_text())
    info[SCALING]["params"][0] = ["64", "512", "'big'"]  # no longer numeric throughout
    benchmarks.write_text(json.dumps(info))
    for path in (tmp_path / "results" / "gpu").glob("*-env.json"):
        data = json.loads(path.read_text())
        data["results"][SCALING][1][0] = ["64", "512", "'big'"]
        del data["results"][f"{SUITE}.track_force_error_p50"][9]  # no samples
        path.write_text(json.dumps(data))
    out = tmp_path / "site"
    build_site(str(project), str(out))
    index = (out / "index.html").read_text()
    assert 'href="scaling.html"' not in index and 'href="parity.html"' not in index
    assert "No benchmark in these results has a numeric parameter" in (out / "scaling.html").read_text()
    assert "No per-atom force errors in these results" in (out / "parity.html").read_text()


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"sideways scroll at {width} px"


def test_scaling_page_draws_value_against_size_per_commit_with_error_bars(browser, site):  # noqa: F811
    with served(site) as url:
        for width in (1300, PHONE):
            view = Page(browser, url + "scaling.html", width=width)
            page = view.page
            drawn = page.evaluate("window.machmeterScaling.plot.data.map(s => Array.from(s))")
            # x: the sizes; one line per default commit: the first, the base of the newest change
            # (the last commit at the old level), the newest
            defaults = (0, STEP - 1, len(COMMITS) - 1)
            assert drawn[0] == [64, 512, 4096]
            assert page.evaluate("window.machmeterScaling.lines.map(l => l.at)") == list(defaults)
            for line, commit in zip(drawn[1:], defaults):
                assert line == pytest.approx([seconds(commit, s, 0) for s in range(3)])
            bars = page.evaluate("window.machmeterScaling.lines.map(l => [l.lo, l.hi])")
            assert bars[0] == [pytest.approx([0.95 * seconds(0, s, 0) for s in range(3)]),
                               pytest.approx([1.05 * seconds(0, s, 0) for s in range(3)])]
            assert bars[1][0][2] is None and bars[1][1][2] is None  # infinite bounds: no bar
            table = page.eval_on_selector_all("#scaling-table tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
            assert table[0] == ["n_atoms"] + [COMMITS[c][:8] for c in defaults]
            assert table[3][0] == "4096" and table[3][3].startswith(format_value(seconds(defaults[2], 2, 0), "seconds"))
            assert "99% CI" in table[3][1] and "99% CI" not in table[3][2]
            # the held parameter's value with a script in it is text in a select
            options = page.eval_on_selector_all("#scaling-held select option", "os => os.map(o => o.textContent)")
            assert options == ["cpu", "<script>alert(1)</script>"]
            assert page.evaluate("document.querySelector('#scaling-chart canvas') !== null")
            _no_sideways_scroll(page, width)
            # another device: twice the times; one commit chosen: one line
            page.select_option("#scaling-held select", "1")
            assert page.evaluate("window.machmeterScaling.plot.data[1][2]") == pytest.approx(seconds(0, 2, 1))
            page.select_option("#scaling-commits", [str(2)])
            drawn = page.evaluate("window.machmeterScaling.plot.data.map(s => Array.from(s))")
            assert len(drawn) == 2 and drawn[1] == pytest.approx([seconds(2, s, 1) for s in range(3)])
            assert page.evaluate("document.querySelectorAll('#scaling-table thead th').length") == 2
            _no_sideways_scroll(page, width)
            view.close()


SCATTER = "window.machmeterParity[0].scatter"


def _series_drawn(page, series: int, x: float, y: float) -> bool:
    """Whether series ``series`` of the scatter is drawn at (x, y) on its canvas: the pixels there
    change when that series alone is hidden."""
    return page.evaluate("""async ([i, x, y]) => {
      const u = window.machmeterParity[0].scatter;
      const px = Math.round(u.valToPos(x, "x", true)), py = Math.round(u.valToPos(y, "y", true));
      const frame = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
      const read = () => Array.from(u.ctx.getImageData(px - 1, py - 1, 3, 3).data);
      await frame();
      const shown = read();
      u.setSeries(i, { show: false });
      await frame();
      const hidden = read();
      u.setSeries(i, { show: true });
      await frame();
      return shown.some((v, n) => v !== hidden[n]);
    }""", [series, x, y])


def check_scatter(page, commit: int, width: int) -> None:
    """The parity scatter of ``commit`` as drawn: the line y = x, then the teacher's components against
    the reference's and each student's against the teacher's (rebuilt by hand here), every point on the
    canvas, the figures beside it."""
    data = page.evaluate(f"{SCATTER}.data.map((s) => s && s.map((a) => Array.from(a)))")
    labels = page.evaluate(f"{SCATTER}.series.map((s) => s.label)")
    assert labels[1:] == ["y = x", "teacher", "<i>bf16</i>", "float32"]
    assert page.evaluate(f"{SCATTER}.mode") == 2 and data[0] is None
    lo, hi = page.evaluate(f"[{SCATTER}.scales.x.min, {SCATTER}.scales.x.max]")
    assert page.evaluate(f"[{SCATTER}.scales.y.min, {SCATTER}.scales.y.max]") == [lo, hi]  # parity: one scale
    assert data[1] == [[lo, hi], [lo, hi]]  # the line y = x across the plot
    expected = [(REFERENCE, components(commit, 0)), (components(commit, 0), components(commit, 2)),
                (components(commit, 0), components(commit, 1))]
    for (xs, ys), (x, y) in zip(data[2:], expected):
        assert len(xs) == len(ys) == 3 * LJ_ATOMS
        assert xs == x.tolist() and ys == y.tolist()  # exact: the file's doubles read back as written
        assert lo < min(min(xs), min(ys)) and max(max(xs), max(ys)) < hi
    # drawn: the pixels at a point of each series (the largest student component's) change when that
    # series alone is hidden; the line's in the corner no component reaches
    for series, (xs, ys) in enumerate(data[2:], start=2):
        k = int(np.argmax(np.abs(ys)))
        assert _series_drawn(page, series, xs[k], ys[k]), f"series {labels[series]} not drawn at {width} px"
    corner = lo + 0.01 * (hi - lo)
    assert _series_drawn(page, 1, corner, corner), f"no line y = x at {width} px"
    assert not page.evaluate("document.querySelector('section.parity .parity-scatter').hidden")
    assert page.is_hidden("p.parity-why")
    legend = page.eval_on_selector_all(".parity-scatter .legend-text", "es => es.map((e) => e.textContent)")
    f = {s: figures(commit, s) for s in range(3)}
    assert legend == ["y = x"] + [
        f"{name}: MAE {format_value(f[s]['track_force_mae'], 'eV/Å')}, RMSE {format_value(f[s]['track_force_rmse'], 'eV/Å')}, "
        f"R² {figure_text(f[s]['track_force_r2'], 'eV/Å', 'track_force_r2')}"
        for name, s in (("teacher against forces_lj_argon.json", 0), ("<i>bf16</i>", 2), ("float32", 1))]
    assert page.inner_text("p.parity-notes") == "429 components of 143 atoms (the structures of forces_lj_argon.json)."
    box = page.evaluate("(() => { const r = document.querySelector('.parity-scatter canvas').getBoundingClientRect();"
                        " return [r.left, r.right]; })()")
    assert 0 <= box[0] and box[1] <= width  # the whole square on the screen


def _choose_commit(page, commit: int) -> None:
    at = len(COMMITS) - 1 - commit  # the select offers the newest first
    page.select_option("select.parity-commit", str(at))
    wait_until(page, f"window.machmeterParity[0].scatterAt === {at}", timeout=10_000)


def test_parity_page_draws_the_scatter_and_the_error_distribution_per_student(browser, site):  # noqa: F811
    newest = len(COMMITS) - 1
    with served(site) as url:
        for width in (1300, PHONE):
            view = Page(browser, url + "parity.html", width=width)
            page = view.page
            assert "The parity scatter" in page.inner_text("p.lead")
            state = "window.machmeterParity[0]"
            students = page.evaluate(f"{state}.commit.rows.map(r => r.student)")
            assert students == ["teacher", "<i>bf16</i>", "float32"]  # the teacher first, then by stored value
            check_scatter(page, newest, width)
            drawn = page.evaluate(f"{state}.plot.data.map(s => Array.from(s))")
            edges = np.array(drawn[0])
            for line, student in zip(drawn[1:], (0, 2, 1)):
                expected, _ = np.histogram(atom_errors(newest, student), bins=edges)
                assert line[:-1] == expected.tolist()
            table = page.eval_on_selector_all("section.parity table.parity-figures tbody tr",
                                              "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
            errors = np.array(atom_errors(newest, 2))
            assert table[1][:5] == ["<i>bf16</i>", str(LJ_ATOMS), format_value(float(np.median(errors)), "eV/Å"),
                                    format_value(float(np.quantile(errors, 0.95)), "eV/Å"), format_value(errors.max(), "eV/Å")]
            tracked = figures(newest, 2)
            assert table[1][5:] == [format_value(tracked["track_force_mae"], "eV/Å"), format_value(tracked["track_force_rmse"], "eV/Å"),
                                    figure_text(tracked["track_force_r2"], "eV/Å", "track_force_r2"),
                                    figure_text(tracked["track_force_pearson"], "eV/Å", "track_force_pearson"),
                                    format_value(tracked["track_force_component_error"], "eV/Å")]
            assert table[2][7] == figure_text(figures(newest, 1)["track_force_r2"], "eV/Å", "track_force_r2")
            structures = page.eval_on_selector_all(".parity-structures tbody tr", "rows => rows.map(r => r.cells[1].textContent)")
            assert structures[:5] == ["argon-32-rattled", "argon-32-compressed", "argon-slab111-12", "argon-cluster-55",
                                      "argon-benzene-shape-12"]
            _no_sideways_scroll(page, width)
            # another commit: its own scatter, fetched
            _choose_commit(page, 5)
            check_scatter(page, 5, width)
            # the teacher skipped: no scatter, and why; the distribution of the students is still drawn
            _choose_commit(page, NO_TEACHER_COMMIT)
            assert page.evaluate(f"{state}.scatter") is None and page.is_hidden(".parity-scatter")
            assert page.inner_text("p.parity-why") == f"No parity scatter at this commit: {NO_TEACHER}."
            assert page.evaluate(f"{state}.plot.series.length") == 3  # the two students' lines
            # the first commit: results from before the signed components; its errors, its lines
            options = page.eval_on_selector_all("select.parity-commit option", "os => os.map(o => o.textContent)")
            assert options[0].startswith(COMMITS[-1][:8]) and options[-1].startswith(COMMITS[0][:8])
            _choose_commit(page, NO_COMPONENTS_COMMIT)
            assert page.inner_text("p.parity-why") == f"No parity scatter at this commit: {NO_COMPONENTS}."
            drawn = page.evaluate(f"{state}.plot.data.map(s => Array.from(s))")
            expected, _ = np.histogram(atom_errors(0, 2), bins=np.array(drawn[0]))
            assert drawn[2][:-1] == expected.tolist()
            assert page.evaluate("document.querySelector('section.parity canvas') !== null")
            _no_sideways_scroll(page, width)
            # and back to the newest
            _choose_commit(page, newest)
            check_scatter(page, newest, width)
            view.close()


@pytest.mark.parametrize("broken", ["components", "points", "line"])
def test_the_scatter_checks_fail_on_a_broken_scatter(browser, site, tmp_path, broken):  # noqa: F811
    """check_scatter is no formality: a wrong component in the data, points or the line y = x not drawn
    each fail it."""
    import shutil

    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    if broken == "components":
        path = next((copy / "data" / "parity").glob(f"*-{len(COMMITS) - 1}.json"))
        data = json.loads(path.read_text())
        data["y"][2][7] += 1e-3  # float32's eighth component
        path.write_text(json.dumps(data))
    else:
        script = copy / "static" / "parity.js"
        text = script.read_text()
        what = {"points": "paths: uPlot.paths.points()", "line": "paths: uPlot.paths.linear()"}[broken]
        assert what in text
        script.write_text(text.replace(what, "paths: () => null"))
    with served(copy) as url:
        view = Page(browser, url + "parity.html", width=1300)
        expected = {"components": r"^assert \(\[", "points": "series teacher not drawn", "line": "no line y = x"}[broken]
        with pytest.raises(AssertionError, match=expected):
            check_scatter(view.page, len(COMMITS) - 1, 1300)
        view.close()
