"""The site's page data and files, without a browser: statuses from the check's change points, ids for
file names, the atomic swap of the output folder, untrusted text, CI bands and the compare data."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ElementTree

import pytest

from machmeter.cli import main
from machmeter.config import MachmeterConfig
from machmeter.detect.engine import Change, check_history, is_noisy, series_policy
from machmeter.detect.noise import run_to_run_noise
from machmeter.errors import MachmeterError
from machmeter.project import load_project
from machmeter.report.units import format_value
from machmeter.history import read_history
from machmeter.site import build_site
from machmeter.site.build import check_output_folder, revision_prefix_length
from machmeter.site.data import mark_changes, prepare_site, series_status, spark_values
from scripts.synthetic_history import write_asv_results

EXTERNAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "external", "mjwarp-asv")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _change(commit, since, before, after, direction, acknowledged=None):
    return Change(benchmark="b", params={}, machine="m", env_name="e", commit=commit, commit_range=(since, commit),
                  before=before, after=after, change=(after - before) / abs(before), direction=direction,
                  kind="time", unit="seconds", higher_is_better=False, confidence=0.99, method="change-point",
                  acknowledged=acknowledged)


POSITION = {f"c{i}": i for i in range(10)}


@pytest.mark.parametrize("changes, expected, open_flags", [
    ([], "steady", []),
    ([_change("c3", "c2", 1.0, 1.2, "regression")], "regressed", [True]),
    ([_change("c3", "c2", 1.0, 1.2, "regression", acknowledged="accepted")], "acknowledged", [True]),
    # a regression undone later is no longer open, and its fix is not an improvement of the series
    ([_change("c3", "c2", 1.0, 1.2, "regression"), _change("c7", "c6", 1.2, 1.0, "improvement")], "steady",
     [False, False]),
    # fixed only a quarter of the way: still open
    ([_change("c3", "c2", 1.0, 1.2, "regression"), _change("c7", "c6", 1.2, 1.15, "improvement")], "regressed",
     [True, False]),
    ([_change("c5", "c4", 1.0, 0.8, "improvement")], "improved", [False]),
])
def test_status_comes_from_the_change_points(changes, expected, open_flags):
    marks = mark_changes(changes, POSITION, higher_is_better=False)
    assert [m.open for m in marks] == open_flags
    assert [m.at for m in marks] == sorted(POSITION[c.commit] for c in changes)
    assert series_status(marks, higher_is_better=False) == expected


def test_direction_decides_what_is_open():
    # a throughput that went up and stayed up: an improvement, never open
    up = _change("c3", "c2", 100.0, 130.0, "improvement")
    marks = mark_changes([up], POSITION, higher_is_better=True)
    assert not marks[0].open and series_status(marks, higher_is_better=True) == "improved"


def test_sparkline_keeps_steps_and_drops_spikes():
    values = [1.0] * 500 + [2.0] * 500
    values[100] = 50.0  # one slow run
    values[700] = None  # a failure
    spark = spark_values(values, points=100)
    assert len(spark) <= 100 and max(spark) == 2.0 and spark[0] == 1.0 and spark[-1] == 2.0
    assert spark_values([None, float("nan"), 3.0]) == [3.0]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("site-synthetic")
    truth = write_asv_results(str(root / "results"), n_commits=80, n_series=60, n_machines=2, seed=11)
    (root / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "synthetic <b>project</b>", "repo": "https://example.invalid/p",
        "results_dir": "results", "html_dir": "html", "branches": ["main"],
        "show_commit_url": "https://example.invalid/p/commit/"}))
    return root, truth


def test_page_data_follows_the_checks_verdicts(synthetic):
    root, _ = synthetic
    project = load_project(str(root / "asv.conf.json"))
    config = MachmeterConfig()
    history = read_history(project.results_dir, None, config, stats=True, branch_only=False)
    data = prepare_site(project.project, history, config, [], {}, project.show_commit_url)
    assert len(data.series) == 120 and len({s.id for s in data.series}) == 120
    assert all(re.fullmatch(r"[0-9a-f]{16}", s.id) and re.fullmatch(r"[0-9a-f]{16}", s.benchmark_id)
               for s in data.series)
    # the same change points as machmeter check --history
    checked = read_history(project.results_dir, None, config)
    report = check_history(checked.series, config, [], checked.runs, checked.commits)
    expected = {(c.benchmark, tuple(c.params.items()), c.machine, c.commit, c.direction)
                for c in report.regressions + report.improvements}
    found = {(s.key.benchmark, s.key.params, s.key.machine, m.change.commit, m.change.direction)
             for s in data.series for m in s.marks}
    assert found == expected and found
    assert sum(data.summary[status] for status in ("regressed", "acknowledged", "improved", "steady")) == 120
    assert data.summary["regressed"] == sum(1 for s in data.series if s.status == "regressed") > 0
    assert data.commit_url == "https://example.invalid/p/commit/"
    # no repository: dates from the results, no subjects
    assert data.commits.from_repository is False and all(data.commits.dates) and not any(data.commits.subjects)
    timing = next(s for s in data.series if s.meaning.kind == "time")
    assert timing.history.stats is not None and timing.latest_text == format_value(timing.latest, "seconds")
    assert {m.name for m in data.machines} == {"gpu-runner-0", "gpu-runner-1"}
    assert dict(data.machines[0].fingerprint)["GPU"] == "NVIDIA H100 80GB HBM3"


def test_compare_thresholds_are_the_checks_or_the_series_noise_floor(synthetic):
    root, _ = synthetic
    project = load_project(str(root / "asv.conf.json"))
    config = MachmeterConfig()
    history = read_history(project.results_dir, None, config, branch_only=False)
    data = prepare_site(project.project, history, config, [], {}, project.show_commit_url)
    raised = 0
    for entry in data.series:
        check = series_policy(entry.series, config)
        noise = run_to_run_noise(entry.history.values) if is_noisy(entry.series) else None
        assert entry.policy.threshold == check.threshold and entry.policy.higher_is_better == check.higher_is_better
        assert (entry.policy.tolerance_abs, entry.policy.tolerance_rel) == (check.tolerance_abs, check.tolerance_rel)
        if noise is None:
            assert entry.policy.noise is None
        else:
            assert entry.policy.noise.floor == pytest.approx(noise.floor)
            raised += noise.floor > check.threshold
    assert raised > 0  # the synthetic timings are noisier than 5 % / 4.3 for some series


def test_history_carries_asv_intervals_behind_an_option(synthetic):
    root, _ = synthetic
    config = MachmeterConfig()
    plain = read_history(str(root / "results"), None, config)
    full = read_history(str(root / "results"), None, config, stats=True)
    assert all(s.stats is None for s in plain.series)
    timing = next(s for s in full.series if s.meaning.kind == "time")
    assert len(timing.stats.ci_99_low) == len(timing.values) == len(timing.stats.q_75)
    for value, low, high in zip(timing.values, timing.stats.ci_99_low, timing.stats.ci_99_high):
        if value is not None and value == value:
            assert low == pytest.approx(value * 0.99, rel=1e-4) and high == pytest.approx(value * 1.01, rel=1e-4)
        else:
            assert math.isnan(low) and math.isnan(high)
    accuracy = next(s for s in full.series if s.meaning.kind == "accuracy")
    assert accuracy.stats is None  # a track_: no statistics stored
    assert [s.commits for s in plain.series] == [s.commits for s in full.series]
    assert [[repr(v) for v in s.values] for s in plain.series] == [[repr(v) for v in s.values] for s in full.series]


def test_site_files_and_their_names(synthetic, tmp_path, capsys):
    root, _ = synthetic
    out = tmp_path / "site"
    status = main(["site", "--config", str(root / "asv.conf.json"), "--output", str(out)])
    assert status == 0 and "machmeter site:" in capsys.readouterr().out
    names = []
    for folder, _, files in os.walk(out):
        for name in files:
            path = os.path.join(folder, name)
            assert os.path.realpath(path).startswith(str(out) + os.sep)
            names.append(os.path.relpath(path, out))
    assert {"index.html", "regressions.html", "machines.html", "compare.html", "feed.xml",
            "static/uPlot.iife.min.js", "static/uPlot.min.css", "static/LICENSE.uPlot.txt", "data/commits.json", "data/series.json"} <= set(names)
    assert all(SAFE_NAME.fullmatch(part) for name in names for part in name.split(os.sep))
    series_index = json.loads((out / "data" / "series.json").read_text())
    assert len(series_index["id"]) == 120 and len(os.listdir(out / "data" / "series")) == 120
    assert len(os.listdir(out / "benchmarks")) == len(set(series_index["benchmark"]))
    commits = json.loads((out / "data" / "commits.json").read_text())
    assert len(commits["hash"]) == 80 and commits["branch_length"] == 80
    assert commits["rev_prefix"] == revision_prefix_length(80) == 1
    # the compare data: every series' value at a commit, aligned with the series index
    last = commits["hash"][-1]
    bucket = json.loads((out / "data" / "rev" / f"{last[:1]}.json").read_text())
    values = bucket[last]["v"]
    assert len(values) == 120 and bucket[last]["index"] == 79
    chart = json.loads((out / "data" / "series" / f"{series_index['id'][0]}.json").read_text())
    assert chart["x0"] == 0 and len(chart["y"]) == 80
    assert values[0] == chart["y"][-1] and series_index["e"][0] == chart["e"]
    # integers of 10**e, as the page decodes them, are the values to 8 significant digits
    project = load_project(str(root / "asv.conf.json"))
    history = read_history(project.results_dir, None, MachmeterConfig())
    first = next(s for s in history.series if s.key.benchmark == series_index["benchmark"][0]
                 and s.key.machine == series_index["machine"][0] and ", ".join(f"{k}={v}" for k, v in s.key.params)
                 == series_index["params"][0])
    e = chart["e"]
    decoded = [None if n is None else (n / 10 ** -e if e <= 0 else n * 10 ** e) for n in chart["y"]]
    for value, read in zip(first.values, decoded):
        if value is None or value != value:
            assert read is None
        else:
            assert read == pytest.approx(value, rel=1e-6)
    timing = next(i for i, kind in enumerate(series_index["kind"]) if kind == "time")
    chart = json.loads((out / "data" / "series" / f"{series_index['id'][timing]}.json").read_text())
    assert chart["band"] == "ci_99" and len(chart["lo"]) == len(chart["hi"]) == 80
    # the project's name is text everywhere, the feed is well-formed Atom
    index = (out / "index.html").read_text()
    assert "synthetic &lt;b&gt;project&lt;/b&gt;" in index and "<b>project</b>" not in index
    feed = ElementTree.parse(out / "feed.xml").getroot()
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findall("{http://www.w3.org/2005/Atom}entry")


def test_build_replaces_the_previous_site_only_when_done(synthetic, tmp_path, monkeypatch):
    root, _ = synthetic
    out = tmp_path / "site"
    first = build_site(str(root / "asv.conf.json"), str(out))
    assert first.pages == 7 + first.benchmarks and first.series == 120
    (out / "index.html").write_text("previous")
    from machmeter.site import build as build_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "write_site", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_site(str(root / "asv.conf.json"), str(out))
    assert (out / "index.html").read_text() == "previous"  # the previous site, intact
    assert sorted(os.listdir(tmp_path)) == ["site"]  # and nothing half-built left beside it
    monkeypatch.undo()
    build_site(str(root / "asv.conf.json"), str(out))
    assert (out / "index.html").read_text() != "previous"
    assert sorted(os.listdir(tmp_path)) == ["site"]


def test_output_that_is_not_a_site_is_refused(synthetic, tmp_path):
    root, _ = synthetic
    project = load_project(str(root / "asv.conf.json"))
    with pytest.raises(MachmeterError, match="would replace"):
        check_output_folder(str(root), project)  # the project itself
    with pytest.raises(MachmeterError, match="would replace"):
        check_output_folder(os.path.dirname(str(root)), project)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(MachmeterError, match="not a site"):
        build_site(str(root / "asv.conf.json"), str(precious))
    assert (precious / "notes.txt").read_text() == "keep me"
    asv_site = tmp_path / "asv-html"
    asv_site.mkdir()
    for name in ("index.html", "index.json", "asv.js"):
        (asv_site / name).write_text("")
    check_output_folder(str(asv_site), project)  # asv publish's own output may be replaced


def _write_result(folder, machine_dir, machine_name, commit, date, benchmark, value):
    os.makedirs(folder / machine_dir, exist_ok=True)
    (folder / machine_dir / "machine.json").write_text(json.dumps({"machine": machine_name, "version": 1,
                                                                 "gpu": "<i>GPU</i>"}))
    (folder / machine_dir / f"{abs(hash(commit)) % 10**8:08d}-env.json").write_text(json.dumps({
        "commit_hash": commit, "env_name": "env", "date": date, "params": {"machine": machine_name},
        "result_columns": ["result", "params", "version"], "results": {benchmark: [[value, value * 2],
                                                                                   [["'<b>a</b>'", "'../x'"]], "v1"]},
        "version": 2}))


def test_untrusted_names_never_become_paths_or_markup(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    benchmark = "suite.Evil<script>.track_x"
    (results / "benchmarks.json").write_text(json.dumps({benchmark: {
        "name": benchmark, "type": "track", "unit": "<u>unit</u>", "param_names": ["p<"],
        "params": [["'<b>a</b>'", "'../x'"]], "version": "v1"}, "version": 2}))
    odd_machine = "<img src=x onerror=alert(1)>"
    commits = [("a" * 40, 1_700_000_000_000), ("../../escape", 1_700_000_100_000), ("b" * 40, 1_700_000_200_000)]
    for i, (commit, date) in enumerate(commits):
        _write_result(results, odd_machine, "../../x", commit, date, benchmark, 1.0 + i)
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                        "results_dir": "results", "branches": ["main"],
                                                        "show_commit_url": "javascript:alert(1)//"}))
    out = tmp_path / "out" / "site"
    summary = build_site(str(tmp_path / "asv.conf.json"), str(out))
    assert summary.series == 2 and summary.machines == 1
    written = [os.path.relpath(os.path.join(folder, name), out) for folder, _, names in os.walk(out) for name in names]
    assert all(SAFE_NAME.fullmatch(part) for name in written for part in name.split(os.sep))
    assert sorted(os.listdir(tmp_path)) == ["asv.conf.json", "out", "results"]
    assert sorted(os.listdir(tmp_path / "out")) == ["site"]
    assert not any("escape" in name for name in written)  # a commit name that is no hash names no file
    pages = [(out / name).read_text() for name in written if name.endswith(".html")]
    for text in pages:
        assert "<script>.track" not in text and "<img src=x" not in text and "<b>a</b>" not in text
        assert "<i>GPU</i>" not in text and "javascript:" not in text
    assert any("&lt;img src=x onerror=alert(1)&gt;" in text for text in pages)
    # the page data embedded for the chart script cannot close its <script> element
    page = next(text for name, text in zip([n for n in written if n.endswith(".html")], pages)
                if name.startswith("benchmarks"))
    embedded = page.split('<script id="page-data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["series"][0]["machine"] == odd_machine


@pytest.mark.skipif(not os.path.isdir(EXTERNAL), reason="shared/external/mjwarp-asv is not there")
def test_public_mjwarp_history_renders(tmp_path):
    summary = build_site(os.path.join(EXTERNAL, "asv.conf.json"), str(tmp_path / "site"))
    assert summary.benchmarks == 10 and summary.machines == 1 and summary.commits == 76
    index = (tmp_path / "site" / "index.html").read_text()
    # the current version of every benchmark x parameter, the others behind the overview's toggle
    assert index.count("<tr data-status") - index.count("data-set-aside=") == 280
    assert "https://github.com/google-deepmind/mujoco_warp/commit/" in (tmp_path / "site" / "regressions.html").read_text()


def test_command_line_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "benchmarks.json").write_text('{"version": 2}')
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": ".",
                                                        "results_dir": "results", "html_dir": "html"}))
    assert main(["site", "--config", str(tmp_path / "asv.conf.json")]) == 2
    assert capsys.readouterr().err.strip().endswith("no results to publish")
    assert main(["serve", "--no-build", "--config", str(tmp_path / "asv.conf.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no site there" in err
    assert not (tmp_path / "html").exists()


def test_runs_on_a_throttled_or_shared_gpu_are_listed_and_marked(tmp_path):
    from machmeter.suites.run_state import GpuRunStateSuite
    from machmeter.site.data import OTHER_PROCESSES, RUN_STATE_DETAILS, THROTTLED

    assert all(hasattr(GpuRunStateSuite, name) for name in (THROTTLED, OTHER_PROCESSES)
               + tuple(method for method, _ in RUN_STATE_DETAILS))
    results = tmp_path / "results"
    (results / "h100").mkdir(parents=True)
    state = "run_state.GpuState."
    table = {"md.Step.time_step": ("time", "seconds", None), state + THROTTLED: ("track", "throttled (0/1)", "state"),
             state + OTHER_PROCESSES: ("track", "processes", "state"), state + "track_gpu_sm_clock": ("track", "MHz", "state")}
    (results / "benchmarks.json").write_text(json.dumps({**{name: {
        "name": name, "type": kind, "unit": unit, "param_names": [], "params": [], "version": "1",
        **({"metric_kind": metric} if metric else {})} for name, (kind, unit, metric) in table.items()}, "version": 2}))
    (results / "h100" / "machine.json").write_text(json.dumps({"machine": "h100", "gpu": "NVIDIA H100", "version": 1}))
    rows = [(0.010, 0, 0, 1980), (0.011, 1, 0, 1200), (0.010, 0, 2, 1980), (0.010, 0, 0, 1980)]
    commits = [f"{i:x}" * 40 for i in range(1, 5)]
    for commit, (step, throttled, others, clock) in zip(commits, rows):
        values = {"md.Step.time_step": step, state + THROTTLED: throttled, state + OTHER_PROCESSES: others,
                  state + "track_gpu_sm_clock": clock}
        (results / "h100" / f"{commit[:8]}-env.json").write_text(json.dumps({
            "commit_hash": commit, "env_name": "env", "date": 1_700_000_000_000 + int(commit[0], 16),
            "params": {}, "result_columns": ["result", "params", "version"],
            "results": {name: [value, [], "1"] for name, value in values.items()}, "version": 2}))
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                        "results_dir": "results", "branches": ["main"]}))
    out = tmp_path / "site"
    build_site(str(tmp_path / "asv.conf.json"), str(out))
    machines = (out / "machines.html").read_text()
    assert machines.count("throttled</span>") == 1 and "shared with 2 process(es)" in machines
    assert "SM clock 1200 MHz" in machines
    series = json.loads((out / "data" / "series.json").read_text())
    step = series["benchmark"].index("md.Step.time_step")
    chart = json.loads((out / "data" / "series" / f"{series['id'][step]}.json").read_text())
    assert chart["flags"] == [1, 2]


def test_triage_file_acknowledges_on_the_site(synthetic, tmp_path):
    import shutil

    root, _ = synthetic
    copy = tmp_path / "project"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("html"))
    project = load_project(str(copy / "asv.conf.json"))
    history = read_history(project.results_dir, None, MachmeterConfig(), stats=True, branch_only=False)
    data = prepare_site("p", history, MachmeterConfig(), [], {}, None)
    series, mark = data.open_regressions()[0]
    (copy / "machmeter-triage.toml").write_text(
        f'[[acknowledged]]\nbenchmark = "{series.key.benchmark}"\ncommit = "{mark.change.commit[:10]}"\n'
        f'machine = "{series.key.machine}"\nparams = {{ {", ".join(f"{k} = {v!r}" for k, v in series.key.params)} }}\n'
        f'reason = "<b>expected</b>: new kernel"\n')
    summary = build_site(str(copy / "asv.conf.json"), str(tmp_path / "site"))
    assert summary.open_regressions == data.summary["open_regressions"] - 1
    page = (tmp_path / "site" / "regressions.html").read_text()
    assert page.count('data-status="acknowledged"') == 1
    assert "&lt;b&gt;expected&lt;/b&gt;: new kernel" in page
    chart = json.loads((tmp_path / "site" / "data" / "series" / f"{series.id}.json").read_text())
    assert [c["ack"] for c in chart["changes"] if c["at"] == mark.at] == ["<b>expected</b>: new kernel"]


def test_serve_builds_and_serves_on_localhost(synthetic, tmp_path):
    import subprocess
    import sys
    import urllib.request

    root, _ = synthetic
    server = subprocess.Popen([sys.executable, "-m", "machmeter", "serve", "--config", str(root / "asv.conf.json"),
                               "--output", str(tmp_path / "site"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline(), server.stdout.readline()]
        assert lines[0].startswith("machmeter site: ") and "serving" in lines[1], lines
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[1]).group(0)
        with urllib.request.urlopen(url + "index.html", timeout=10) as response:
            assert b"synthetic &lt;b&gt;project&lt;/b&gt;" in response.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _small_project(root):
    results = root / "results"
    results.mkdir()
    (results / "benchmarks.json").write_text(json.dumps({"s.track_x": {
        "name": "s.track_x", "type": "track", "unit": "u", "param_names": ["p"], "params": [["'<b>a</b>'", "'../x'"]],
        "version": "v1"}, "version": 2}))
    for i, commit in enumerate(("a" * 40, "b" * 40)):
        _write_result(results, "m", "m", commit, 1_700_000_000_000 + i * 1000, "s.track_x", 1.0 + i)
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                    "results_dir": "results", "branches": ["main"]}))
    return root / "asv.conf.json"


def test_a_build_killed_with_sigkill_is_cleaned_up_by_the_next_one_but_a_running_one_is_not(tmp_path):
    import shutil
    import subprocess
    import sys
    import time

    from machmeter.site.build import STALE_AFTER, finish_building, start_building

    config = _small_project(tmp_path)
    out = tmp_path / "out" / "site"
    out.parent.mkdir()
    killed = subprocess.run([sys.executable, "-c", "import os, signal, sys\n"
                             "from machmeter.site.build import start_building\n"
                             "folder, _ = start_building(sys.argv[1])\n"
                             "open(os.path.join(folder, 'index.html'), 'w').write('half a site')\n"
                             "os.kill(os.getpid(), signal.SIGKILL)\n", str(out)])
    assert killed.returncode == -9
    (dead,) = [name for name in os.listdir(out.parent) if not name.endswith(".lock")]
    live, lock = start_building(str(out))  # a build running now: this process holds its lock
    young = out.parent / ".site.building-lockless1"  # no lock file, a minute old: perhaps just made
    old = out.parent / ".site.building-lockless2"  # no lock file, older than STALE_AFTER
    young.mkdir()
    old.mkdir()
    os.utime(old, (time.time() - STALE_AFTER - 60,) * 2)
    build_site(str(config), str(out))
    assert sorted(os.listdir(out.parent)) == sorted(["site", os.path.basename(live), os.path.basename(live) + ".lock",
                                                     young.name])
    assert dead not in os.listdir(out.parent) and ".machmeter-site" in os.listdir(out)
    finish_building(live, lock)
    shutil.rmtree(live)


def test_concurrent_builds_of_one_site_all_succeed_and_leave_one_site(tmp_path):
    import subprocess
    import sys

    config = _small_project(tmp_path)
    out = tmp_path / "out" / "site"
    builds = [subprocess.Popen([sys.executable, "-m", "machmeter", "site", "--config", str(config), "--output", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for build in builds:
        _, err = build.communicate(timeout=300)
        assert build.returncode == 0, err
    assert os.listdir(out.parent) == ["site"]
    assert (out / "index.html").is_file() and (out / ".machmeter-site").is_file()


def test_a_full_disk_while_building_is_one_line_and_keeps_the_previous_site(tmp_path, monkeypatch, capsys):
    import errno

    from machmeter.site import build as site_build

    config = _small_project(tmp_path)
    out = tmp_path / "site"
    build_site(str(config), str(out))
    before = (out / "index.html").read_text()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(site_build, "_dump", full)
    assert main(["site", "--config", str(config), "--output", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"machmeter site: error: {out}: the site cannot be written: No space left on device "
        f"(the previous site there is unchanged)"]
    assert (out / "index.html").read_text() == before and sorted(os.listdir(tmp_path)) == ["asv.conf.json", "results", "site"]


def test_overview_puts_what_is_wrong_now_first(synthetic):
    root, _ = synthetic
    project = load_project(str(root / "asv.conf.json"))
    config = MachmeterConfig()
    history = read_history(project.results_dir, None, config, stats=True, branch_only=False)
    data = prepare_site(project.project, history, config, [], {}, project.show_commit_url)
    rows = data.overview_rows()
    assert len(rows) == 120 and not any(s.set_aside for s in rows)
    statuses = [s.status for s in rows]
    order = ("regressed", "acknowledged", "improved", "steady")
    assert statuses == sorted(statuses, key=order.index) and {"regressed", "improved", "steady"} <= set(statuses)
    for status in order:  # within a status, the newest last change first; never-changed series last
        dates = [data.commits.dates[s.last_change.at] if s.last_change else -1 for s in rows if s.status == status]
        assert dates == sorted(dates, reverse=True)


def _results_file(folder, commit, date, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.json").write_text(json.dumps({"machine": "m", "version": 1}))
    (folder / f"{commit[:8]}-env.json").write_text(json.dumps({
        "commit_hash": commit, "env_name": "env", "date": date, "params": {"machine": "m"},
        "result_columns": ["result", "params", "version"], "results": rows, "version": 2}))


def write_retired_project(tmp_path):
    """A project whose history has retired series (a changed and two removed benchmarks) and a valueless
    one beside two current ones; returns its asv.conf.json (also the browser tests' toggle)."""
    results = tmp_path / "results"
    results.mkdir()
    sizes = [["64", "512"], ["'float32'"]]
    (results / "benchmarks.json").write_text(json.dumps({"version": 2, **{name: {
        "name": name, "type": type_, "unit": unit, "param_names": ["n_atoms", "dtype"], "params": sizes,
        "version": "v2"} for name, type_, unit in (
            ("md.Argon.time_step", "time", "seconds"), ("md.Argon.track_rate", "track", "steps/s"),
            ("md.Argon.track_broken", "track", "steps/s"), ("other.Thing.track_latency_p50", "track", "ms"))}}))
    # md.Argon.time_step changed code at c3 (v1 -> v2); md.Argon.track_latency_p50 and md.Argon.time_gone
    # were removed from the suite since c1 (asv rewrote benchmarks.json without them)
    for i in range(6):
        commit = f"{i:x}" * 40
        rows = {"md.Argon.time_step": [[1.0, 2.0], sizes, "v1" if i < 3 else "v2"],
                "md.Argon.track_rate": [[10.0, 20.0], sizes, "v2"],
                "md.Argon.track_broken": [[None, None], sizes, "v2"]}
        if i < 2:
            rows.update({"md.Argon.track_latency_p50": [[3.0, 4.0], sizes, "v0"],
                         "md.Argon.time_gone": [[5.0, 6.0], sizes, "v0"]})
        _results_file(results / "m", commit, 1_700_000_000_000 + i * 1000, rows)
    (tmp_path / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid",
                                                        "results_dir": "results", "branches": ["main"]}))
    return str(tmp_path / "asv.conf.json")


def test_retired_and_valueless_series_are_set_aside_with_real_units_and_parameter_names(tmp_path):
    write_retired_project(tmp_path)
    project = load_project(str(tmp_path / "asv.conf.json"))
    config = MachmeterConfig()
    history = read_history(project.results_dir, None, config, stats=True, branch_only=False)
    data = prepare_site(project.project, history, config, [], {}, None)
    rows = data.overview_rows()
    aside = {(s.key.benchmark, s.key.version): s.set_aside for s in rows}
    assert aside == {("md.Argon.time_step", "v2"): None, ("md.Argon.track_rate", "v2"): None,
                     ("md.Argon.time_step", "v1"): "retired", ("md.Argon.track_latency_p50", "v0"): "retired",
                     ("md.Argon.time_gone", "v0"): "retired", ("md.Argon.track_broken", "v2"): "no value"}
    assert [s.set_aside is not None for s in rows] == sorted(s.set_aside is not None for s in rows)  # aside: last
    # a removed benchmark: asv's unit for its prefix, or that of the same method elsewhere in the suite,
    # and the parameter names of its class (never the placeholders "unit", param1, param2)
    by_name = {s.key.benchmark: s for s in rows}
    assert by_name["md.Argon.time_gone"].meaning.unit == "seconds"
    assert by_name["md.Argon.track_latency_p50"].meaning.unit == "ms"
    assert all(s.params_label == "n_atoms=64, dtype='float32'" or s.params_label == "n_atoms=512, dtype='float32'"
               for s in rows)
    out = tmp_path / "site"
    build_site(str(tmp_path / "asv.conf.json"), str(out))
    index = (out / "index.html").read_text()
    assert index.count("<tr data-status") == len(rows) == 12
    assert index.count('data-set-aside="retired" hidden') == 6 and index.count('data-set-aside="no value" hidden') == 2
    assert 'id="show-set-aside"' in index and "param1" not in index and " unit" not in index
    assert index.index("md.Argon.track_rate") < index.index("md.Argon.time_gone")  # shown rows first
    series = json.loads((out / "data" / "series.json").read_text())
    assert "unit" not in series["unit"] and not any("param1" in p for p in series["params"])
