"""The check report's JSON against its versioned schema (report/check-report.schema.json): what
``machmeter check --format json`` really writes validates, the schema pins the version the writer and
the reader use, and it ships as package data."""

from __future__ import annotations

import json
import os

import jsonschema
import pytest

from machmeter.cli import main
from machmeter.report.verdicts import SCHEMA_RESOURCE, SCHEMA_VERSION, schema, to_json
from scripts.synthetic_history import write_asv_results

from .test_comment_render import known_report

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def validator():
    document = schema()
    jsonschema.Draft202012Validator.check_schema(document)
    return jsonschema.Draft202012Validator(document)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("schema")
    write_asv_results(str(root / "results"), n_commits=40, n_series=12, n_machines=1, seed=3)
    (root / "asv.conf.json").write_text(json.dumps({"version": 1, "project": "p", "repo": "https://example.invalid/p",
                                                    "results_dir": "results", "branches": ["main"]}))
    commits = sorted(n.split("-")[0] for n in os.listdir(root / "results" / "gpu-runner-0") if n != "machine.json")
    return str(root / "asv.conf.json"), commits


def _check_json(argv, capsys) -> dict:
    status = main(["check", *argv, "--format", "json"])
    out = capsys.readouterr().out
    assert status in (0, 1)
    return json.loads(out)


def _errors(validator, report) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(report)]


def test_the_checks_history_report_validates(validator, project, capsys):
    config, _ = project
    report = _check_json(["--history", "--config", config], capsys)
    assert report["regressions"] or report["improvements"], "the synthetic history should hold changes"
    assert _errors(validator, report) == []


def test_the_checks_comparison_report_validates(validator, project, capsys):
    config, commits = project
    report = _check_json(["--config", config, "--base", commits[0], "--head", commits[-1]], capsys)
    assert report["mode"] == "revisions" and report["warnings"]
    assert _errors(validator, report) == []


def test_every_group_of_a_full_report_validates(validator):
    report = json.loads(to_json(known_report()))
    assert all(report[group] for group in ("regressions", "improvements", "acknowledged", "failures", "machines"))
    assert _errors(validator, report) == []


def test_an_explained_report_validates_and_an_explanation_is_text(validator):
    from .test_comment_render import _explained_report

    report = json.loads(to_json(_explained_report()))
    assert _errors(validator, report) == []
    report["regressions"][0]["explanation"] = 3
    assert [error.split(":")[0] for error in _errors(validator, report)] == ["regressions/0/explanation"]


def test_the_schema_pins_the_version_the_writer_and_reader_use():
    assert schema()["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
    assert json.loads(to_json(known_report()))["schema_version"] == SCHEMA_VERSION


@pytest.mark.parametrize("change, path", [
    (lambda r: r.pop("schema_version"), ""),
    (lambda r: r.update(schema_version=2), "schema_version"),
    (lambda r: r["regressions"][0].update(before="1 ms"), "regressions/0/before"),
    (lambda r: r["regressions"][0].update(commit_range=[r["base"]]), "regressions/0/commit_range"),
    (lambda r: r["summary"].update(unchanged=-1), "summary/unchanged"),
    (lambda r: r["machines"]["h100-runner"].update(gpu={"nested": 1}), "machines/h100-runner/gpu"),
    (lambda r: r.update(environment_shifts=["driver 550 -> 560"]), "environment_shifts/0"),
])
def test_the_schema_rejects_what_the_reader_would(validator, change, path):
    report = json.loads(to_json(known_report()))
    change(report)
    assert [error.split(":")[0] for error in _errors(validator, report)] == [path]


def test_fields_added_later_are_allowed(validator):
    # another machmeter may add a field without a new version, at the top or inside a record
    report = json.loads(to_json(known_report()))
    report["something_new"] = {"any": "thing"}
    report["regressions"][0]["explanation"] = "wall +6%, counters unchanged" if report["regressions"] else None
    assert _errors(validator, report) == []


def test_the_schema_ships_in_the_wheel():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as stream:
        package_data = tomllib.load(stream)["tool"]["setuptools"]["package-data"]["machmeter"]
    directory, name = os.path.split(SCHEMA_RESOURCE)
    assert any(pattern in (SCHEMA_RESOURCE, f"{directory}/*", f"{directory}/*.schema.json") for pattern in package_data)
    assert os.path.isfile(os.path.join(ROOT, "src", "machmeter", SCHEMA_RESOURCE)) and name.endswith(".json")


def test_a_report_with_traces_validates_and_a_trace_is_a_base_or_head_path(validator):
    from .test_comment_render import _traced_report

    report = json.loads(to_json(_traced_report()))
    assert _errors(validator, report) == []
    report["regressions"][0]["traces"] = {"middle": "x.trace.json"}
    assert [error.split(":")[0] for error in _errors(validator, report)] == ["regressions/0/traces"]
