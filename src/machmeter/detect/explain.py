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
KERNEL_TIME = "track_gpu_kernel_time_per_call"
# measured only where CUDA and CUPTI are: aten ops alone cannot tell host from GPU
GPU_COUNTERS = (KERNEL_TIME, "track_kernels_per_call")
# the suites' declared threshold of GPU kernel time (it moves by about 0.2% between processes)
KERNEL_TIME_THRESHOLD = 0.01


def _measured(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def explain(wall_change: float, base: dict[str, float], head: dict[str, float],
            base_kernels: list[dict] | None = None, head_kernels: list[dict] | None = None,
            kernel_time_threshold: float = KERNEL_TIME_THRESHOLD, changed: set[str] | None = None) -> str:
    """``base``/``head``: counter benchmark name -> value; kernels: ``{"name", "count", "total_us"}``.

    GPU kernel time has a small noise of its own and moved only beyond ``kernel_time_threshold``
    (relative). ``changed``: the counts the comparison judged to have moved (on their runs where they
    have several: a count per call can depend on where the profiled window fell); without it, counts
    are exact and any difference moved them."""
    both = [n for n in COUNTER_BENCHMARKS if _measured(base.get(n)) and _measured(head.get(n))]
    parts, moved = [f"wall {wall_change * 100:+.0f}%"], []
    for name in both:
        before, after = base[name], head[name]
        relative = (after - before) / abs(before) if before else (math.inf if after else 0.0)
        if name == KERNEL_TIME:
            # its noise between processes (0.2-0.6 %) is far below its threshold: the values decide
            if abs(relative) < kernel_time_threshold:
                continue
        elif changed is not None and name not in changed:
            continue
        elif changed is None and before == after:
            continue
        moved.append(name)
        parts.append(f"{COUNTER_BENCHMARKS[name]} {relative * 100:+.0f}%" if name == KERNEL_TIME
                     else f"{COUNTER_BENCHMARKS[name]} {before:g} -> {after:g}")
    text = ", ".join(parts)
    if not both:
        return text + ": no counters to explain it"
    on_gpu = any(n in both for n in GPU_COUNTERS)
    if not moved:
        return text + (", counters unchanged: host side or noise" if on_gpu
                       else ", aten ops unchanged (no GPU counters): the same operators, slower or noisy")
    if not any(n in moved for n in GPU_COUNTERS):  # aten ops alone moved
        ops = "track_aten_ops_per_call"
        more = "more" if head[ops] > base[ops] else "fewer"
        return text + (f": GPU work unchanged, {more} operators dispatched on the host" if on_gpu
                       else f": {more} operators dispatched")
    # the direction of the GPU's work: its time where that moved, else the number of kernels
    by = KERNEL_TIME if KERNEL_TIME in moved else "track_kernels_per_call"
    text += ": the GPU does " + ("more" if head[by] > base[by] else "less") + " work"
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
