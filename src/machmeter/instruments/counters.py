"""Noise-free counters of a call: what the GPU (and torch's dispatcher) was asked to do, per call.

Wall time on a shared GPU host moves between processes; the number of kernels a call launches, their
summed GPU time, the host-device synchronisations and copies, and the aten operators dispatched do not.
:func:`profile_counters` profiles a short window of calls with torch.profiler, after timing and never
inside it (the profiler slows the host side), and returns per-call means as :class:`Counters`.

What is counted, exactly:

- ``aten_ops``: CPU-side ``aten::`` operator events with no ``aten::`` ancestor, i.e. the operators
  the caller dispatched, not the ones an operator calls internally (``aten::linear`` counts once, its
  ``aten::addmm`` inside it does not). Deterministic on a CPU for code without data-dependent control
  flow, so CPU CI gets an exact counter.
- ``kernels``: GPU kernel activity records (CUPTI); ``kernel_us``: their summed duration.
- ``busy_fraction``: kernel time / wall time per call (the timed wall when the caller gives it, else
  the profiled window's, which the profiler's host overhead inflates).
- ``syncs``: CUDA runtime calls that block the host on the device (``cuda*Synchronize``, and
  ``cudaMemcpy`` without ``Async``, which synchronises too).
- ``h2d_copies``/``d2h_copies`` and their bytes: GPU memcpy activity records by direction.

``aten_ops`` and ``kernels`` are the median call's (each call of the window is a ``record_function``
range, ``CALL_RANGE``; an operator belongs to the call whose range holds its start, a kernel to the call
whose range holds its launch): a window that catches an occasional call doing more (an MD step that
rebuilds its neighbour list) would otherwise move the mean, 135.3 kernels a call in one process and 135.6
in the next on an H200, while every plain call launched the same kernels. Time, copies and syncs stay
means over the window (what the calls cost together).

Traces on demand: with ``MACHMETER_TRACE_DIR`` set, every profiled window named by its caller (the
suites name it by class and parameters) also leaves its Chrome trace and a top-kernels table there,
``<dir>/<commit>/<name>.trace.json`` and ``.kernels.json`` (``<commit>``: the first 8 digits of the
``ASV_COMMIT`` asv sets in its benchmark processes, else ``no-commit``). The window is the one counted
anyway, so the switch adds only the writing, still outside timing. ``machmeter run-pr`` sets it for the
runs that confirm a flagged benchmark, to :func:`results_trace_folder` (``traces/<machine>`` beside the
results folder, ``.asv/traces/<machine>`` for asv's default: outside it, since asv walks every folder
under its results and complains of each that has no machine.json).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

GPU_COUNTERS = ("kernels", "kernel_us", "busy_fraction", "syncs", "h2d_copies", "h2d_bytes",
                "d2h_copies", "d2h_bytes")
COUNTER_NAMES = ("aten_ops",) + GPU_COUNTERS
TOP_KERNELS = 10
TRACE_DIR_ENV = "MACHMETER_TRACE_DIR"
TRACE_SUFFIX = ".trace.json"
RESULTS_TRACE_FOLDER = "traces"


def results_trace_folder(results_dir: str, machine: str) -> str:
    """Where the traces of ``machine``'s runs live beside the results folder (run-pr's, the site's and
    check's default): ``<results>/../traces/<machine>``."""
    return os.path.join(os.path.dirname(os.path.abspath(results_dir)), RESULTS_TRACE_FOLDER, machine)


@dataclass
class KernelTotal:
    name: str
    count: float   # launches per call
    total_us: float  # GPU time per call


@dataclass
class Counters:
    """Per call over a profiled window of ``calls`` calls (``aten_ops`` and ``kernels``: the median
    call's; the others: means); None where unavailable (with the reason in ``unavailable``)."""

    calls: int
    aten_ops: float | None = None
    kernels: float | None = None
    kernel_us: float | None = None
    busy_fraction: float | None = None
    syncs: float | None = None
    h2d_copies: float | None = None
    h2d_bytes: float | None = None
    d2h_copies: float | None = None
    d2h_bytes: float | None = None
    top_kernels: list[KernelTotal] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


CALL_RANGE = "machmeter.counted_call"


def _median_call(per_call: list[int]) -> float:
    import statistics

    return float(statistics.median(per_call))


def _call_of(ranges: list[tuple[float, float]], ts: float) -> int | None:
    for index, (start, end) in enumerate(ranges):
        if start <= ts <= end:
            return index
    return None


def _top_level_aten_ops(events, calls: int) -> float:
    """The median call's top-level aten operators; all of them / calls where the calls were not marked
    or an operator ran outside every call's range. An operator belongs to the call whose range holds its
    start: by time, since autograd runs a CUDA backward on a thread of its own, outside the call's
    parent chain."""
    from torch.autograd import DeviceType

    ranges = sorted((event.time_range.start, event.time_range.end) for event in events
                    if event.name == CALL_RANGE and event.device_type == DeviceType.CPU)
    per_call, count, placed = [0] * len(ranges), 0, 0
    for event in events:
        if not event.name.startswith("aten::") or event.device_type != DeviceType.CPU:
            continue
        parent = event.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        if parent is None:
            count += 1
            call = _call_of(ranges, event.time_range.start)
            if call is not None:
                per_call[call] += 1
                placed += 1
    if len(ranges) != calls or placed != count:
        return count / calls
    return _median_call(per_call)


_LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx",
             "cudaLaunchCooperativeKernel", "cudaGraphLaunch", "cudaLaunchCooperativeKernelMultiDevice")


def _kernels_of_median_call(trace: dict, calls: int) -> float | None:
    """Kernels launched by the median call of the window, or None where the trace does not mark the
    calls or a kernel cannot be traced to one (each kernel belongs to the call whose range holds its
    launch, runtime or driver API, matched by correlation id)."""
    events = trace.get("traceEvents", [])
    ranges = sorted((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0.0))) for e in events
                    if e.get("cat") == "user_annotation" and e.get("name") == CALL_RANGE and "ts" in e)
    if len(ranges) != calls:
        return None
    launched_at = {}
    for e in events:
        correlation = (e.get("args") or {}).get("correlation")
        if (e.get("cat") in ("cuda_runtime", "cuda_driver") and e.get("name", "").startswith(_LAUNCHES)
                and "ts" in e and correlation is not None):
            launched_at[correlation] = float(e["ts"])
    per_call = [0] * calls
    for event in events:
        if event.get("cat") != "kernel":
            continue
        ts = launched_at.get((event.get("args") or {}).get("correlation"))
        call = None if ts is None else _call_of(ranges, ts)
        if call is None:
            return None  # a kernel this trace does not link to a call: the window's mean instead
        per_call[call] += 1
    return _median_call(per_call)


def _is_sync(name: str) -> bool:
    return name.endswith("Synchronize") or name in ("cudaMemcpy", "cudaMemcpy2D", "cudaMemcpy3D")


def gpu_activity(trace: dict, calls: int) -> dict[str, Any]:
    """Per-call GPU counters from a Chrome trace of torch.profiler (``export_chrome_trace``)."""
    kernels: dict[str, list[float]] = {}
    copies = {"h2d": [0, 0], "d2h": [0, 0]}
    syncs = 0
    for event in trace.get("traceEvents", []):
        category, name = event.get("cat", ""), event.get("name", "")
        if category == "kernel":
            kernels.setdefault(name, [0, 0.0])
            kernels[name][0] += 1
            kernels[name][1] += float(event.get("dur", 0.0))
        elif category == "gpu_memcpy":
            direction = "h2d" if "HtoD" in name else "d2h" if "DtoH" in name else None
            if direction:
                copies[direction][0] += 1
                copies[direction][1] += int((event.get("args") or {}).get("bytes", 0))
        elif category == "cuda_runtime" and _is_sync(name):
            syncs += 1
    ranked = sorted(kernels.items(), key=lambda item: -item[1][1])
    median_call = _kernels_of_median_call(trace, calls)
    return {
        "kernels": sum(c for c, _ in kernels.values()) / calls if median_call is None else median_call,
        "kernel_us": sum(t for _, t in kernels.values()) / calls,
        "syncs": syncs / calls,
        "h2d_copies": copies["h2d"][0] / calls, "h2d_bytes": copies["h2d"][1] / calls,
        "d2h_copies": copies["d2h"][0] / calls, "d2h_bytes": copies["d2h"][1] / calls,
        "top_kernels": [KernelTotal(n, c / calls, t / calls) for n, (c, t) in ranked[:TOP_KERNELS]],
    }


KERNELS_SUFFIX = ".kernels.json"


def window_name(suite: str, params) -> str:
    """How a suite names its profiled window (its top-kernels table's ``name``): the class path and the
    ``(name, value)`` params, ``bench.MD(n_atoms=64,device=cuda)``; ``machmeter check`` finds the table
    of a change by the same name."""
    params = list(params)
    return suite + ("(" + ",".join(f"{n}={v}" for n, v in params) + ")" if params else "")


def window_stem(name: str) -> str:
    """The file name (without suffix) of the window ``name``'s trace and table."""
    # names carry parameters (quotes, slashes, spaces): one flat, portable file name each
    return re.sub(r"[^0-9A-Za-z._=,+-]+", "_", name).strip("_.")[:180] or "unnamed"


def trace_paths(name: str) -> tuple[str, str] | None:
    """(Chrome trace, top-kernels table) of the window ``name`` where MACHMETER_TRACE_DIR asks for them."""
    folder = os.environ.get(TRACE_DIR_ENV)
    if not folder:
        return None
    commit = re.sub(r"[^0-9A-Za-z]", "", os.environ.get("ASV_COMMIT", ""))[:8] or "no-commit"
    base = os.path.join(folder, commit, window_stem(name))
    return base + TRACE_SUFFIX, base + KERNELS_SUFFIX


def profile_counters(fn: Callable[[], Any], *, device: str = "cpu", calls: int = 10,
                     wall_per_call_s: float | None = None, trace_path: str | None = None,
                     trace_name: str | None = None) -> Counters:
    """Profile ``calls`` calls of an already warmed-up ``fn`` and count what they did, per call.

    Call it after timing: the profiler's overhead must never reach timed samples. ``trace_path``
    also keeps the window's Chrome trace there; ``trace_name`` names the window for
    MACHMETER_TRACE_DIR (:func:`trace_paths`), which then gets its trace and top-kernels table.
    """
    paths = trace_paths(trace_name) if trace_name else None
    counters = _profile(fn, device, calls, wall_per_call_s, trace_path or (paths and paths[0]))
    if paths:
        values = {k: None if isinstance(v, float) and not math.isfinite(v) else v
                  for k, v in counters.to_dict().items()}  # strict JSON: a NaN is no number to readers
        table = {"name": trace_name, "device": str(device), "commit": os.environ.get("ASV_COMMIT"),
                 "trace": os.path.basename(paths[0]), **values}
        temporary = paths[1] + ".tmp"
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(table, stream, indent=1, allow_nan=False)
        os.replace(temporary, paths[1])
    return counters


def _profile(fn: Callable[[], Any], device: str, calls: int, wall_per_call_s: float | None,
             trace_path: str | None) -> Counters:
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    if calls < 1:
        raise ValueError(f"calls must be at least 1, got {calls}")
    on_cuda = str(device).startswith("cuda") and torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_cuda else [])
    if on_cuda:
        torch.cuda.synchronize()
    with profile(activities=activities) as profiler:
        start = time.perf_counter()
        for _ in range(calls):
            with record_function(CALL_RANGE):
                fn()
        if on_cuda:
            torch.cuda.synchronize()
        window_s = time.perf_counter() - start
    counters = Counters(calls=calls, aten_ops=_top_level_aten_ops(profiler.events(), calls))
    if not on_cuda:
        reason = f"no CUDA on {device}: GPU counters need a CUDA device"
        counters.unavailable = dict.fromkeys(GPU_COUNTERS, reason)
        print(f"machmeter counters: {reason}; aten ops counted only", file=sys.stderr)
        _export(profiler, trace_path)
        return counters
    handle, path = tempfile.mkstemp(suffix=".json")
    os.close(handle)
    try:
        profiler.export_chrome_trace(path)
        with open(path, encoding="utf-8") as stream:
            trace = json.load(stream)
        if trace_path:
            os.makedirs(os.path.dirname(os.path.abspath(trace_path)), exist_ok=True)
            os.replace(path, trace_path)
    finally:
        if os.path.exists(path):
            os.remove(path)
    activity = gpu_activity(trace, calls)
    if activity["kernels"] == 0 and activity["h2d_copies"] == 0 and activity["d2h_copies"] == 0:
        # CUPTI missing (or not permitted) records no GPU activity at all
        reason = "the profiler recorded no GPU activity (CUPTI unavailable or not permitted)"
        counters.unavailable = {name: reason for name in ("kernels", "kernel_us", "busy_fraction")}
        print(f"machmeter counters: {reason}", file=sys.stderr)
        counters.syncs = activity["syncs"]
        return counters
    top = activity.pop("top_kernels")
    for name, value in activity.items():
        setattr(counters, name, value)
    counters.top_kernels = top
    wall = wall_per_call_s if wall_per_call_s else window_s / calls
    counters.busy_fraction = min(1.0, counters.kernel_us * 1e-6 / wall) if wall > 0 else None
    return counters


def _export(profiler, trace_path: str | None) -> None:
    if not trace_path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(trace_path)), exist_ok=True)
    temporary = trace_path + ".tmp"
    profiler.export_chrome_trace(temporary)
    os.replace(temporary, trace_path)


def counter_metrics(counters: Counters) -> dict[str, float | None | str]:
    """A suite's metrics (``counter_<name>`` and ``counter_<name>__unavailable``) of the counters."""
    metrics: dict[str, Any] = {}
    for name in COUNTER_NAMES:
        value = getattr(counters, name)
        metrics[f"counter_{name}"] = None if value is None or (isinstance(value, float) and math.isnan(value)) else value
        if name in counters.unavailable:
            metrics[f"counter_{name}__unavailable"] = counters.unavailable[name]
    metrics["counter_top_kernels"] = [asdict(k) for k in counters.top_kernels]
    return metrics
