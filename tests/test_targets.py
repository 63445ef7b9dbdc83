"""Absolute targets (machmeter.targets): declared or configured, judged at the head in both modes,
reported in every format and refused in one line when malformed."""

from __future__ import annotations

import json

import pytest

from machmeter.config import MachmeterConfig, _parse
from machmeter.detect.engine import CheckReport, apply_targets, check_history
from machmeter.errors import MachmeterError
from machmeter.report.formats import render
from machmeter.report.verdicts import report_from_json, schema
from machmeter.series import Meaning, Series, SeriesKey
from machmeter.suites.declare import declare, declaration_of
from machmeter.targets import Target, declared_target, judge_target, parse_target_rules, target_for

COMMITS = [f"{i:040x}" for i in range(1, 11)]
SPEEDUP = Meaning("x", True, "throughput", "declared")


def _series(values, benchmark="suite.Students.track_speedup", params=(("student", "'float32'"),),
            machine="gpu-a100", meaning=SPEEDUP):
    return Series(SeriesKey(benchmark, params, machine, "env", None), meaning, COMMITS[:len(values)], list(values))


def _config(*rules):
    return MachmeterConfig(targets=parse_target_rules(list(rules), "machmeter.toml"))


def test_margins_are_relative_to_the_nearest_bound():
    assert judge_target(5.5, Target(5.0, 10.0, "declared")) == (True, pytest.approx(0.1))
    assert judge_target(4.0, Target(5.0, None, "declared")) == (False, pytest.approx(-0.2))
    assert judge_target(2.5, Target(None, 2.0, "declared")) == (False, pytest.approx(-0.25))


def test_configured_rules_match_params_with_or_without_quotes_machine_and_gpu_and_win_over_the_declaration():
    rules = parse_target_rules([
        {"pattern": "*.track_speedup", "params": {"student": "float32"}, "gpu": "*A100*", "min": 5.0},
        {"pattern": "*.track_speedup", "min": 2.0},
    ], "machmeter.toml")
    declared = Target(1.0, None, "declared")
    a100 = {"gpu": "NVIDIA A100-SXM4-80GB"}
    assert target_for("s.C.track_speedup", {"student": "'float32'"}, "m", a100, rules, declared).minimum == 5.0
    assert target_for("s.C.track_speedup", {"student": "'float32'"}, "m", {"gpu": "H100"}, rules, declared).minimum == 2.0
    assert target_for("s.C.track_other", {}, "m", a100, rules, declared) is declared


@pytest.mark.parametrize("entry, message", [
    ({"min": 1}, "targets[0]: needs a 'pattern' string"),
    ({"pattern": "*"}, "targets[0]: needs min, max or both"),
    ({"pattern": "*", "min": 3, "max": 1}, "targets[0]: min 3 is above max 1"),
    ({"pattern": "*", "min": "fast"}, "targets[0]: min must be a finite number, not 'fast'"),
    ({"pattern": "*", "max": 1, "speed": 2}, "targets[0]: unknown field(s) speed"),
])
def test_a_malformed_target_is_one_line_naming_the_file_and_entry(entry, message):
    with pytest.raises(MachmeterError) as error:
        _parse({"targets": [entry]}, "pyproject.toml [tool.machmeter]", ".")
    assert str(error.value) == f"pyproject.toml [tool.machmeter]: {message}"


def test_declare_stores_the_target_where_asv_copies_it_and_refuses_an_empty_range():
    @declare(kind="throughput", unit="x", target_min=5.0, target_max=10.0)
    def track_speedup():
        pass

    assert declaration_of(track_speedup)["target_min"] == 5.0
    assert declared_target(declaration_of(track_speedup), "b") == Target(5.0, 10.0, "declared")
    with pytest.raises(ValueError, match="target_min 3 is above target_max 1"):
        declare(kind="time", target_min=3, target_max=1)


def test_history_fails_a_head_on_the_wrong_side_of_its_target_however_steady_the_history():
    steady_but_slow = _series([1.5] * 10)  # never changed: no regression, yet the goal is 5x
    report = check_history([steady_but_slow], _config({"pattern": "*.track_speedup", "min": 5.0}), [])
    assert not report.regressions and report.failed
    (failure,) = report.failures
    assert failure["commit"] == COMMITS[9] and "1.5 x misses its target (at least 5 x, machmeter.toml) by 70.0%" \
        == failure["reason"]
    (verdict,) = report.targets
    assert not verdict.met and verdict.margin == pytest.approx(-0.7)


def test_a_met_target_is_reported_and_does_not_fail():
    meaning = Meaning("x", True, "throughput", "declared", target=Target(5.0, None, "declared"))
    report = check_history([_series([7.0] * 10, meaning=meaning)], MachmeterConfig(), [])
    assert not report.failed and report.targets[0].met and report.targets[0].source == "declared"


def test_pull_request_mode_judges_the_head_commit():
    report = CheckReport(mode="revisions", base=COMMITS[0], head=COMMITS[1])
    apply_targets(report, [_series([9.0, 4.0])], _config({"pattern": "*", "min": 5.0}), {}, lambda _: COMMITS[1])
    assert report.failed and report.failures[0]["commit"] == COMMITS[1]


def test_targets_in_every_format_and_read_back_from_json():
    import jsonschema

    report = check_history([_series([1.5] * 10), _series([9.0] * 10, params=(("student", "'bf16'"),))],
                           _config({"pattern": "*", "min": 5.0}), [])
    text = render(report, "json")
    jsonschema.validate(json.loads(text), schema())
    back = report_from_json(text, "report.json")
    assert [t.met for t in back.targets] == [t.met for t in report.targets]
    markdown = render(report, "markdown")
    assert "### Targets" in markdown and "| 1.5 | ≥ 5 | -70.0% | ❌ |" in markdown
    # the validation report's verdict per gate, and what to do about a miss
    assert "**Gates: 1 met, 1 missed: FAILED**" in markdown
    next_steps = next(line for line in markdown.splitlines() if line.startswith("Next steps:"))
    assert next_steps.endswith("edit it where it is declared (machmeter.toml).")
    met_only = check_history([_series([9.0] * 10)], _config({"pattern": "*", "min": 5.0}), [])
    passed = render(met_only, "markdown")
    assert "**Gates: 1 met, 0 missed: PASSED**" in passed and "Next steps:" not in passed
    assert "MISS  suite.Students.track_speedup (student='float32')" in render(report, "text")
