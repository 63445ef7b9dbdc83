"""The kinds table: the one source of direction, threshold, rule and noise for declare, config, compare and site."""

from __future__ import annotations

import dataclasses

import pytest

from machmeter import kinds
from machmeter.config import _parse
from machmeter.detect.compare import Observation, compare, policy_for
from machmeter.errors import MachmeterError
from machmeter.site.data import compare_policy
from machmeter.suites.declare import declare


def test_worse_beyond_tolerance_and_relative_change():
    assert kinds.worse(1.0, 2.0, False) and not kinds.worse(1.0, 2.0, True)
    assert kinds.worse_by(2.0, 1.0, True) == pytest.approx(0.5)
    assert kinds.relative_change(0.0, -1.0) == float("-inf") and kinds.relative_change(0.0, 0.0) == 0.0
    assert not kinds.beyond_tolerance(1.0, 1.005, None, 0.01) and kinds.beyond_tolerance(1.0, 1.02, None, 0.01)
    assert not kinds.beyond_tolerance(1.0, 1.02, 0.05, 0.01) and kinds.beyond_tolerance(1.0, 1.02, None, None)


def test_unknown_stored_kind_is_judged_as_time_with_a_warning_naming_the_benchmark():
    assert kinds.declared_kind(None, "b") == (None, None)
    assert kinds.declared_kind("memory", "b") == ("memory", None)
    for value in ("tiem", 3):
        kind, warning = kinds.declared_kind(value, "suite.track_x")
        assert kind == "time" and warning.startswith("benchmarks.json: benchmark 'suite.track_x'")
        assert repr(value) in warning


@pytest.mark.parametrize("table", [{"thresholds": {"tiem": 0.1}},
                                   {"benchmarks": [{"pattern": "*", "kind": "tiem"}]},
                                   {"benchmarks": [{"pattern": "*", "kind": ["time"]}]}])
def test_config_names_the_file_and_the_unknown_kind(table):
    with pytest.raises(MachmeterError, match=r"^machmeter.toml: .*unknown kind"):
        _parse(table, "machmeter.toml", ".")


def test_a_kind_added_to_the_table_flows_to_declare_config_compare_and_site(monkeypatch):
    latency = kinds.Kind("queue", False, 0.2, kinds.BY_THRESHOLD, True, units=frozenset({"jobs"}))
    monkeypatch.setitem(kinds.KINDS, "queue", latency)
    monkeypatch.setattr(kinds, "_TABLE", kinds._TABLE + (latency,))
    assert declare(kind="queue")(lambda: None).higher_is_better is False
    assert _parse({"thresholds": {"queue": 0.3}}, "machmeter.toml", ".").thresholds == {"queue": 0.3}
    assert kinds.kind_for_unit("jobs") == "queue"
    policy = policy_for("queue", None)
    assert policy.threshold == 0.2
    assert compare(Observation(1.0), Observation(1.1), policy).verdict == "unchanged"
    assert compare(Observation(1.0), Observation(1.3), policy).verdict == "regression"
    # the page gets the limit the check applies: the threshold to three significant digits
    assert compare_policy(policy) == {"judged_by": "threshold", "higher_is_better": False,
                                      "threshold": pytest.approx(0.2 * (1 - kinds.THRESHOLD_ROUNDING)),
                                      "tolerance_abs": None, "tolerance_rel": None, "noise_floor": None}
    assert dataclasses.replace(latency).noisy


def test_a_change_equal_to_the_threshold_to_three_digits_meets_it():
    from machmeter.kinds import meets_threshold

    # a 2 % step measured through floats: 1.02e9 / 1e9 - 1 is 0.020000000000000018, 0.98 - 1 is -0.02000000000000002
    assert meets_threshold(1.02e9 / 1e9 - 1, 0.02) and meets_threshold(0.019999999999, 0.02)
    assert meets_threshold(-0.01999, 0.02) and not meets_threshold(0.0199, 0.02)
    assert meets_threshold(0.0, 0.0) and not meets_threshold(0.049, 0.05)
