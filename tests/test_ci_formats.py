"""The formats CI reads (machmeter.report.ci_formats): JUnit XML parsed back with ElementTree, CSV with the
csv module, GitHub workflow commands escaped; and ``--format github`` appending the job summary."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import xml.etree.ElementTree as ElementTree

import pytest

from machmeter.commands.check import FORMATS, append_step_summary
from machmeter.detect.engine import CheckReport
from machmeter.detect.shifts import EnvironmentShift
from machmeter.report.ci_formats import CSV_COLUMNS, github_data, github_property, to_csv, to_github, to_junit
from machmeter.report.formats import RENDERERS, render
from tests.test_comment_render import BASE, HEAD, change, known_report


def _with_inconclusive_and_warnings() -> CheckReport:
    report = known_report()
    report.inconclusive = [change("md.LJ.time_step", {"n_atoms": "64"}, 1.0e-3, 1.04e-3, "time", "seconds",
                                  "regression", method="runs-t", confidence=0.9)]
    report.inconclusive[0].reason = "+4.0%, not significant at 99%; inconclusive"
    report.warnings = ["1 change(s) beyond their threshold are inconclusive\n(1 of them worse)"]
    report.environment_shifts = [EnvironmentShift(
        machine="h100-runner", env_names=["host-py3.12"], commit=HEAD, commit_range=(BASE, HEAD), series_count=12,
        series_total=20, regressions=12, improvements=0, median_change=0.08, evidence=["driver 550 -> 555"])]
    return report


def test_every_format_of_the_registry_is_a_choice_of_check_and_run_pr():
    assert set(FORMATS) == set(RENDERERS)
    report = _with_inconclusive_and_warnings()
    for fmt in FORMATS:
        assert render(report, fmt).endswith("\n"), fmt


def test_junit_has_a_failure_per_regression_and_failing_benchmark_and_skips_the_inconclusive():
    report = _with_inconclusive_and_warnings()
    root = ElementTree.fromstring(to_junit(report).encode())
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    failures = [case.find("failure") for case in cases if case.find("failure") is not None]
    skipped = [case.find("skipped") for case in cases if case.find("skipped") is not None]
    # 3 regressions + 1 failing benchmark + 1 inconclusive + 1 improvement + 1 acknowledged + the rest
    assert len(cases) == 8 and suite.get("tests") == root.get("tests") == "8"
    assert len(failures) == 4 and suite.get("failures") == root.get("failures") == "4"
    assert len(skipped) == 1 and suite.get("skipped") == "1"
    messages = [failure.get("message") for failure in failures]
    assert any("1.23 ms → 1.45 ms (+17.9%)" in m and "confidence 0.999" in m for m in messages), messages
    assert any("newly failing at head" in m for m in messages)
    assert "not significant" in skipped[0].get("message") and "+4.0%" in skipped[0].get("message")
    summary_case = cases[-1]
    assert summary_case.get("name") == "17 series unchanged, 2 skipped"
    assert "environment shift" in summary_case.find("system-out").text


def test_a_clean_report_is_one_passing_testcase():
    root = ElementTree.fromstring(to_junit(CheckReport(mode="revisions", base=BASE, head=HEAD, unchanged=5,
                                                       series_checked=5)).encode())
    (case,) = root.iter("testcase")
    assert root.get("failures") == "0" and list(case) == []


def test_junit_survives_names_xml_cannot_hold():
    report = known_report()
    report.regressions[0].benchmark = 'a<b>&"c"\x00\x1b]]>'
    report.regressions[0].reason = "line\nbreak </failure><injected/>"
    root = ElementTree.fromstring(to_junit(report).encode())
    assert root.find(".//injected") is None
    first = root.find(".//testcase")
    assert first.get("classname") == 'a<b>&"c"\ufffd\ufffd]]>' and "</failure>" in first.find("failure").text


def test_csv_has_one_row_per_change_with_the_numbers_unrounded():
    report = _with_inconclusive_and_warnings()
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert tuple(rows[0]) == CSV_COLUMNS
    statuses = [row["status"] for row in rows]
    assert statuses.count("regression") == 3 and statuses.count("inconclusive") == 1
    assert statuses.count("improvement") == 1 and statuses.count("acknowledged") == 1 and statuses.count("failing") == 1
    first = rows[0]
    assert first["benchmark"] == "md.LJ.time_step|fused" and json.loads(first["params"]) == {
        "n_atoms": "4096", "device": "'cuda'"}
    assert float(first["before"]) == 0.00123 and float(first["after"]) == 0.00145 and first["direction"] == "regression"
    assert float(first["change"]) == pytest.approx(0.22 / 1.23) and first["env"] == "host-py3.12"
    acknowledged = next(row for row in rows if row["status"] == "acknowledged")
    assert acknowledged["reason"] == "exact attention | accepted"


def test_csv_keeps_a_formula_looking_name_text_and_a_newline_inside_its_cell():
    report = known_report()
    report.regressions[0].benchmark = "=HYPERLINK(\"http://evil\")"
    report.regressions[0].reason = "two\nlines"
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert rows[0]["benchmark"].startswith("'=") and rows[0]["reason"] == "two\nlines"
    assert float(rows[0]["change"]) > 0  # numbers are never prefixed


def test_github_commands_per_regression_failure_inconclusive_shift_and_warning():
    lines = to_github(_with_inconclusive_and_warnings()).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 4 and len(warnings) == 3
    assert all(line.startswith("::") for line in lines[:-1]) and lines[-1].startswith("FAIL: 3 regression(s)")
    regression = errors[0]
    title, _, message = regression[len("::error title="):].partition("::")
    assert "%3A" in title and ":" not in title  # the title's own ':' is encoded
    assert "1.23 ms → 1.45 ms (+17.9%25)" in message
    assert any("(1 of them worse)" in w and "%0A" in w for w in warnings)  # a newline stays on its line
    assert any("environment shift on h100-runner" in w and "driver 550 -> 555" in w for w in warnings)


def test_a_name_cannot_forge_a_workflow_command():
    report = known_report()
    report.regressions[0].benchmark = "x\n::add-mask::secret\r\n::error::forged, 100%"
    lines = to_github(report).splitlines()
    assert not any(line.startswith(("::add-mask", "::error::forged")) for line in lines)
    assert github_data("a%b\r\nc") == "a%25b%0D%0Ac" and github_property("t: a, b") == "t%3A a%2C b"


def test_fields_added_to_a_change_do_not_break_the_renderers():
    extended = dataclasses.make_dataclass("ExtendedChange", [("added_later", str, "")],
                                          bases=(type(known_report().regressions[0]),))
    report = known_report()
    report.regressions = [extended(**dataclasses.asdict(c), added_later="why") for c in report.regressions]
    for fmt in ("junit", "csv", "github"):
        render(report, fmt)


def test_github_format_appends_the_markdown_report_to_the_job_summary(tmp_path, monkeypatch, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    append_step_summary("**machmeter** ✅ OK")
    assert summary.read_text() == "earlier step\n**machmeter** ✅ OK\n"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing" / "summary.md"))
    append_step_summary("x")  # unwritable: a warning, never an error
    assert "GITHUB_STEP_SUMMARY" in capsys.readouterr().err
