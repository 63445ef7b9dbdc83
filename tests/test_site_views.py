"""The site's scaling and parity views: the data preparation (numeric parameters, error bars from asv's
CI of the samples, the per-atom error distribution and figures) and both pages drawn in a real
headless Chromium from asv results, at a desktop and a phone width."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from machmeter.parity import error_distribution
from machmeter.report.units import format_value
from machmeter.site import build_site
from machmeter.site.parity import (common_grid, figure_text, matching_layout, packaged_layouts, parity_views,
                                   student_row)
from machmeter.site.scaling import error_bar, numeric_parameters, numeric_value, scaling_views

from .test_site_browser import PHONE, Page, browser, served  # noqa: F401

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


def atom_errors(commit: int, student: int) -> list[float]:
    rng = np.random.default_rng(100 * commit + student)
    scale = (1e-6, 1e-4, 3e-2)[student] * (2.0 if commit == len(COMMITS) - 1 else 1.0)
    return (scale * rng.lognormal(0.0, 0.7, LJ_ATOMS)).tolist()


def figures(commit: int, student: int) -> dict[str, float]:
    return {"track_force_mae": 0.6 * atom_errors(commit, student)[0], "track_force_rmse": 0.8 * atom_errors(commit, student)[1],
            "track_force_r2": 1 - 1e-7 * (student + 1), "track_force_pearson": 0.99 - 0.01 * student}


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
    tracked = {"track_force_mae": 0.01, "track_force_rmse": 0.02, "track_force_r2": 1 - 2e-5, "track_force_pearson": 0.75}
    row = student_row("s", b.tolist(), tracked, "eV/Å")
    assert row["atoms"] == 150 and row["zeros"] == 3
    assert row["p50"] == pytest.approx(np.median(b)) and row["p95"] == pytest.approx(np.quantile(b, 0.95))
    assert row["max"] == b.max() and row["max_text"] == format_value(b.max(), "eV/Å")
    assert row["figures"] == {"MAE": 0.01, "RMSE": 0.02, "R²": 1 - 2e-5, "Pearson r": 0.75}
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


# ---------------------------------------------------------------------------------------------------
# the pages in a browser


COLUMNS = ["result", "params", "version", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75",
           "stats_number", "stats_repeat", "samples"]


def _results(tmp_path):
    results = tmp_path / "results"
    (results / "gpu").mkdir(parents=True)
    info = {SCALING: ("time", "seconds", ["n_atoms", "device"], [SIZES, DEVICES])}
    for method in ["track_force_error_p50", *figures(0, 0)]:
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
        errors = [atom_errors(c, s) for s in range(3)]
        rows[f"{SUITE}.track_force_error_p50"] = [[float(np.median(e)) for e in errors], [STUDENTS], "1",
                                                  None, None, None, None, None, None, errors]
        for method in figures(0, 0):
            rows[f"{SUITE}.{method}"] = [[figures(c, s)[method] for s in range(3)], [STUDENTS], "1"]
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


def test_parity_page_draws_the_error_distribution_per_student(browser, site):  # noqa: F811
    newest = len(COMMITS) - 1
    with served(site) as url:
        for width in (1300, PHONE):
            view = Page(browser, url + "parity.html", width=width)
            page = view.page
            assert "not a parity scatter" in page.inner_text("p.lead")
            state = "window.machmeterParity[0]"
            students = page.evaluate(f"{state}.commit.rows.map(r => r.student)")
            assert students == ["teacher", "<i>bf16</i>", "float32"]  # the teacher first, then by stored value
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
            assert table[1][5] == format_value(figures(newest, 2)["track_force_mae"], "eV/Å")
            assert table[1][7] == "1 − 3e-07"
            structures = page.eval_on_selector_all(".parity-structures tbody tr", "rows => rows.map(r => r.cells[1].textContent)")
            assert structures[:5] == ["argon-32-rattled", "argon-32-compressed", "argon-slab111-12", "argon-cluster-55",
                                      "argon-benzene-shape-12"]
            _no_sideways_scroll(page, width)
            # the first commit: its errors (half the newest's), its lines
            options = page.eval_on_selector_all("select.parity-commit option", "os => os.map(o => o.textContent)")
            assert options[0].startswith(COMMITS[-1][:8]) and options[-1].startswith(COMMITS[0][:8])
            page.select_option("select.parity-commit", str(len(options) - 1))
            drawn = page.evaluate(f"{state}.plot.data.map(s => Array.from(s))")
            expected, _ = np.histogram(atom_errors(0, 2), bins=np.array(drawn[0]))
            assert drawn[2][:-1] == expected.tolist()
            assert page.evaluate("document.querySelector('section.parity canvas') !== null")
            _no_sideways_scroll(page, width)
            view.close()
