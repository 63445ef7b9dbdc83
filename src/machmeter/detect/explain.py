"""Verdicts that explain: a wall-time change paired with the same benchmark's noise-free counters.

Pure: given a change and the base/head values of the counter series of the same suite class, params
and machine (and, where stored, each side's top kernels), one sentence that says whether the GPU did
more work or the change lies on the host side (or in noise).
"""

from __future__ import annotations

import math

# counter series of a suite (machmeter.suites), by the benchmark method's name
COUNTER_BENCHMARKS = {
    "track_gpu_kernel_time_per_call": "GPU kernel time",
    "track_kernels_per_call": "kernels",
    "track_aten_ops_per_call": "aten ops",
}


def _measured(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def explain(wall_change: float, base: dict[str, float], head: dict[str, float],
            base_kernels: list[dict] | None = None, head_kernels: list[dict] | None = None) -> str:
    """``base``/``head``: counter benchmark name -> value; kernels: ``{"name", "count", "total_us"}``."""
    parts, moved = [f"wall {wall_change * 100:+.0f}%"], False
    for name, label in COUNTER_BENCHMARKS.items():
        before, after = base.get(name), head.get(name)
        if not (_measured(before) and _measured(after)) or before == after:
            continue
        moved = True
        if name == "track_gpu_kernel_time_per_call":
            parts.append(f"{label} {(after - before) / abs(before) * 100 if before else math.inf:+.0f}%")
        else:
            parts.append(f"{label} {before:g} -> {after:g}")
    if not any(_measured(base.get(n)) and _measured(head.get(n)) for n in COUNTER_BENCHMARKS):
        return ", ".join(parts) + ": no counters to explain it"
    if not moved:
        return ", ".join(parts) + ", counters unchanged: host side or noise"
    text = ", ".join(parts) + ": the GPU does " + (
        "more" if head.get("track_gpu_kernel_time_per_call", 0) >= base.get("track_gpu_kernel_time_per_call", 0)
        else "less") + " work"
    kernels = kernel_differences(base_kernels or [], head_kernels or [])
    return text + (f" ({kernels})" if kernels else "")


def kernel_differences(base: list[dict], head: list[dict], most: int = 3) -> str:
    """Kernels that appeared, disappeared or grew most between two top-kernel tables."""
    before = {k["name"]: k for k in base}
    after = {k["name"]: k for k in head}
    notes = [f"new kernel: {n}" for n in after if n not in before][:most]
    notes += [f"gone: {n}" for n in before if n not in after][:most]
    grown = sorted(((after[n]["total_us"] - before[n]["total_us"], n) for n in after if n in before), reverse=True)
    notes += [f"grew: {n} +{d:.1f} us" for d, n in grown[:most] if d > 0]
    return "; ".join(notes)
