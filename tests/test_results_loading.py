"""Reading asv's result format version 2, its quirks, and bad input."""

from __future__ import annotations

import json
import math
import os
import shutil

import pytest

from machmeter.errors import ResultsError
from machmeter.results import load_result_file, load_results, parameter_value, row_intervals

EXTERNAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "external", "mjwarp-asv", "results")

BENCHMARKS = {
    "suite.Model.track_speed": {
        "name": "suite.Model.track_speed", "type": "track", "unit": "steps/s", "higher_is_better": True,
        "metric_kind": "throughput", "param_names": ["n", "device"], "params": [["64", "512"], ["'cpu'", "'cuda'"]],
        "version": "v1",
    },
    "suite.time_plain": {"name": "suite.time_plain", "type": "time", "unit": "seconds", "param_names": [],
                         "params": [], "version": "v2"},
    "version": 2,
}

COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
           "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]


def _result_file(results):
    return {"commit_hash": "a" * 40, "env_name": "host-py3.11", "date": 1700000000000,
            "params": {"machine": "box", "gpu": "NVIDIA H100"}, "python": "3.11", "requirements": {},
            "env_vars": {}, "result_columns": COLUMNS, "results": results, "durations": {}, "version": 2}


def _write_results(tmp_path, results_file_text):
    root = tmp_path / "results"
    (root / "box").mkdir(parents=True)
    (root / "benchmarks.json").write_text(json.dumps(BENCHMARKS))
    (root / "box" / "machine.json").write_text(json.dumps({"machine": "box", "gpu": "NVIDIA H100", "version": 1}))
    (root / "box" / ("a" * 8 + "-host-py3.11.json")).write_text(results_file_text)
    return root


def test_product_order_nan_null_and_dropped_trailing_columns(tmp_path):
    # asv writes bare NaN for skipped, null for failed, and drops trailing empty columns
    text = json.dumps(_result_file({
        "suite.Model.track_speed": [[10.0, float("nan"), None, 40.0],
                                    [["64", "512"], ["'cpu'", "'cuda'"]], "v1", 1, 2.0],
        "suite.time_plain": [[0.5], [], "v2", 1, 2.0, [0.4], [0.6], [0.45], [0.55], [3], [10], [[0.5, 0.49, 0.51]]],
    }))
    assert "NaN" in text
    root = _write_results(tmp_path, text)
    results = load_results(str(root))
    assert results.warnings == []
    speed = {tuple(p.params.values()): p for p in results.points if p.benchmark == "suite.Model.track_speed"}
    assert speed[("64", "'cpu'")].value == 10.0
    assert speed[("64", "'cuda'")].skipped
    assert speed[("512", "'cpu'")].failed
    assert speed[("512", "'cuda'")].value == 40.0
    assert speed[("64", "'cpu'")].ci_99 is None  # the column was dropped
    plain = [p for p in results.points if p.benchmark == "suite.time_plain"][0]
    assert plain.params == {}
    assert plain.ci_99 == (0.4, 0.6)
    assert plain.quartiles == (0.45, 0.55)
    assert plain.samples == [0.5, 0.49, 0.51]
    assert results.benchmarks["suite.Model.track_speed"].higher_is_better is True
    assert results.benchmarks["suite.time_plain"].higher_is_better is None
    assert results.machines["box"]["gpu"] == "NVIDIA H100"


@pytest.mark.parametrize("text, problem", [
    ('{"commit_hash": "aaaa", "resul', "not valid JSON"),
    (json.dumps({**_result_file({}), "results": []}), "results an object"),
    (json.dumps({**_result_file({}), "result_columns": None}), "result_columns must be a list"),
    (json.dumps(_result_file({"suite.time_plain": None})), "a result row must be a list"),
    (json.dumps(_result_file({"suite.Model.track_speed": [[1.0, 2.0], [1, 2]]})), "not an asv result file"),
    (json.dumps({**_result_file({}), "version": 1}), "format version 1"),
    (json.dumps({"version": 2}), "missing 'commit_hash'"),
])
def test_bad_result_file_is_skipped_with_a_warning_naming_it(tmp_path, text, problem):
    root = _write_results(tmp_path, text)
    good = root / "box" / ("b" * 8 + "-host-py3.11.json")
    good.write_text(json.dumps({**_result_file({"suite.time_plain": [[0.5]]}), "commit_hash": "b" * 40}))
    results = load_results(str(root))
    assert [p.commit for p in results.points] == ["b" * 40]
    assert len(results.warnings) == 1
    assert "aaaaaaaa-host-py3.11.json" in results.warnings[0] and problem in results.warnings[0]


def test_an_old_unparameterised_result_keeps_its_own_shape(tmp_path):
    # the benchmark has parameters today; the old file recorded it without any (explicit "params": [])
    root = _write_results(tmp_path, json.dumps(_result_file({"suite.Model.track_speed": [[7.0], [], "v0"]})))
    (point,) = load_results(str(root)).points
    assert point.params == {} and point.value == 7.0 and point.benchmark_version == "v0"


def test_benchmarks_json_of_the_wrong_shape_is_a_one_line_error(tmp_path):
    root = _write_results(tmp_path, json.dumps(_result_file({})))
    (root / "benchmarks.json").write_text(json.dumps({"b.track": {"params": [1, 2], "param_names": ["a", "b"]}}))
    with pytest.raises(ResultsError, match="benchmarks.json: benchmark 'b.track': params must be"):
        load_results(str(root))


def test_missing_benchmarks_json_and_folder_raise_one_line_errors(tmp_path):
    with pytest.raises(ResultsError, match="results folder not found"):
        load_results(str(tmp_path / "nowhere"))
    (tmp_path / "results").mkdir()
    with pytest.raises(ResultsError, match="benchmarks.json: file not found"):
        load_results(str(tmp_path / "results"))


@pytest.mark.skipif(not os.path.isdir(EXTERNAL), reason="shared external results not beside the checkout")
def test_real_public_history_loads(tmp_path):
    results = load_results(EXTERNAL)
    assert results.warnings == []
    assert list(results.machines) == ["adenzler-asv-runner"]
    commits = {p.commit for p in results.points}
    assert len(commits) == 76
    series = {(p.benchmark, tuple(p.params.items())) for p in results.points}
    assert len(series) == 280
    measured = [p.value for p in results.points if p.value is not None and not math.isnan(p.value)]
    raw_measured = 0
    for machine_dir in os.scandir(EXTERNAL):
        for entry in os.scandir(machine_dir.path) if machine_dir.is_dir() else ():
            if entry.name != "machine.json":
                for row in json.load(open(entry.path))["results"].values():
                    raw_measured += sum(1 for v in (row[0] or []) if v is not None and not math.isnan(v))
    assert len(measured) == raw_measured > 0


def test_reading_is_read_only(tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(EXTERNAL if os.path.isdir(EXTERNAL) else _write_results(tmp_path, json.dumps(_result_file({}))), root)
    before = {p: p.read_bytes() for p in root.rglob("*.json")}
    load_results(str(root))
    assert {p: p.read_bytes() for p in root.rglob("*.json")} == before


def test_single_file_reader_uses_the_machine_in_the_file(tmp_path):
    root = _write_results(tmp_path, json.dumps(_result_file({"suite.time_plain": [[0.25]]})))
    from machmeter.results import load_benchmarks

    path = str(root / "box" / ("a" * 8 + "-host-py3.11.json"))
    points = load_result_file(path, load_benchmarks(str(root)))
    assert [(p.machine, p.value, p.env_name) for p in points] == [("box", 0.25, "host-py3.11")]


def test_row_intervals_pad_what_asv_left_out():
    # asv writes null for a failed value and drops a column it has nothing for (here the quartiles)
    row = {"stats_ci_99_a": [1.0, None], "stats_ci_99_b": [2.0]}
    bands = list(row_intervals(row, 2))
    assert bands[:3] == [1.0, bands[1], 2.0] and math.isnan(bands[1])
    assert all(math.isnan(v) for v in bands[3:]) and len(bands) == 8
    assert row_intervals({"result": [1.0]}, 1) is None  # a track_ benchmark: no statistics at all


def test_a_parameter_as_the_benchmark_saw_it():
    # asv stores repr(value); the suites name their profiled windows by the value itself
    assert [parameter_value(v) for v in ("'cuda'", "64", "None", "<object at 0x1>")] == ["cuda", "64", "None",
                                                                                        "<object at 0x1>"]
