"""Numbers with their units, scaled for reading. The one place values are formatted for people."""

from __future__ import annotations

import math

_TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns"))
_BYTE_SCALES = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "failed"
    if math.isnan(value):
        return "skipped"
    if unit == "seconds":
        for scale, name in _TIME_SCALES:
            if abs(value) >= scale or scale == _TIME_SCALES[-1][0]:
                return f"{value / scale:.4g} {name}"
    if unit == "bytes":
        for scale, name in _BYTE_SCALES:
            if abs(value) >= scale:
                return f"{value / scale:.4g} {name}"
        return f"{value:.0f} B"
    return f"{value:.4g} {unit}".rstrip()
