"""machmeter.report.units: values scaled to the unit a person reads, failed and skipped said in words."""

from __future__ import annotations

import pytest

from machmeter.report.units import format_value


@pytest.mark.parametrize("value, unit, text", [
    (1.5, "seconds", "1.5 s"), (0.00123, "seconds", "1.23 ms"), (2.5e-6, "seconds", "2.5 µs"),
    (3e-9, "seconds", "3 ns"), (1e-12, "seconds", "0.001 ns"), (0.0, "seconds", "0 ns"), (-0.002, "seconds", "-2 ms"),
    (2.5 * 2**30, "bytes", "2.5 GiB"), (3 * 2**40, "bytes", "3 TiB"), (1536, "bytes", "1.5 KiB"), (512, "bytes", "512 B"),
    (1234.5678, "steps/s", "1235 steps/s"), (0.5, "", "0.5"), (float("inf"), "seconds", "inf s"),
])
def test_values_with_their_units(value, unit, text):
    assert format_value(value, unit) == text


def test_failed_and_skipped_are_words():
    assert format_value(None, "seconds") == "failed"
    assert format_value(float("nan"), "bytes") == "skipped"
