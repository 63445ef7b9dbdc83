"""Peak memory of a code region (torch allocator, NVML device usage, host RSS) and leak checks."""

from __future__ import annotations

import ctypes
import functools
import gc
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import psutil
import torch
from scipy import stats

from .nvml import nvml_call, nvml_handle, pynvml
from .timer import DeviceLike, _as_device, call_repeatedly, synchronize

_QUANTITIES = ("torch_allocated_bytes", "torch_reserved_bytes", "nvml_device_used_bytes", "host_rss_bytes")


@dataclass
class MemoryPeak:
    torch_allocated_bytes: int | None  # CUDA caching-allocator peaks; None on CPU
    torch_reserved_bytes: int | None
    nvml_device_used_bytes: int | None  # whole-device usage (all processes); None without NVML
    host_rss_bytes: int
    baseline: dict[str, int | None] = field(default_factory=dict)  # same quantities at region start
    nvml_samples: int = 0
    host_rss_method: str = ""  # "vmhwm" (exact kernel high-water mark) or "psutil_sampling"

    @property
    def deltas(self) -> dict[str, int | None]:
        def delta(name: str) -> int | None:
            peak, start = getattr(self, name), self.baseline.get(name)
            return None if peak is None or start is None else peak - start

        return {name: delta(name) for name in _QUANTITIES}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "deltas": self.deltas}


_VMHWM = re.compile(r"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def _read_vmhwm() -> int | None:
    try:
        with open("/proc/self/status") as status:
            match = _VMHWM.search(status.read())
    except OSError:
        return None
    return int(match.group(1)) * 1024 if match else None


def _reset_vmhwm() -> bool:
    # "5" resets only the peak-RSS counter to the current RSS (Linux >= 4.0); the other
    # clear_refs values would disturb page-reference bits, which we leave alone.
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _read_vmhwm() is not None


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (OSError, AttributeError):
        return None


def _release_free_heap() -> None:
    # Freed heap memory stays resident, and reusing it does not raise RSS: without handing it back
    # to the OS first, a region's allocations (or a leak) can be invisible to RSS-based measures.
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


# Regions currently open: an inner region resets VmHWM, so it first hands the peak so far to the
# outer ones, which keeps nested track_memory blocks correct.
_open_vmhwm_regions: list["track_memory"] = []


class track_memory:
    """Context manager recording peak memory inside the block; read ``.result`` afterwards.

    ``device=None`` means CPU (host RSS only). For CUDA devices the torch peak counters are reset
    at entry (process-wide side effect of ``torch.cuda.reset_peak_memory_stats``) and a
    background thread samples NVML device usage every ``nvml_interval_s`` seconds; without
    VmHWM (non-Linux, restricted /proc) the same thread samples host RSS at that interval.
    """

    def __init__(self, device: DeviceLike = None, nvml_interval_s: float = 0.005):
        self.device = _as_device(device)
        self.nvml_interval_s = nvml_interval_s
        self._result: MemoryPeak | None = None
        self._process = psutil.Process()
        self._torch_cuda = self.device.type == "cuda" and torch.cuda.is_available()
        self._nvml = nvml_handle(self.device.index or 0) if self.device.type == "cuda" else None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._carried_rss_peak = 0
        self._nvml_peak: int | None = None
        self._nvml_count = 0
        self._use_vmhwm = False
        self._rss_peak = 0
        self._baseline: dict[str, int | None] = {}

    @property
    def result(self) -> MemoryPeak:
        if self._result is None:
            raise RuntimeError("track_memory.result is available once the with-block has exited")
        return self._result

    def _nvml_used(self) -> int | None:
        info = nvml_call(pynvml.nvmlDeviceGetMemoryInfo, self._nvml)
        return None if info is None else int(info.used)

    def _sample(self) -> None:
        if self._nvml is not None:
            used = self._nvml_used()
            if used is not None:
                self._nvml_peak = max(self._nvml_peak or 0, used)
                self._nvml_count += 1
        if not self._use_vmhwm:
            self._rss_peak = max(self._rss_peak, self._process.memory_info().rss)

    def _sample_until_stopped(self) -> None:
        while not self._stop.wait(self.nvml_interval_s):
            self._sample()

    def __enter__(self) -> "track_memory":
        synchronize(self.device)
        baseline: dict[str, int | None] = dict.fromkeys(_QUANTITIES)
        if self._torch_cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
            baseline["torch_allocated_bytes"] = torch.cuda.memory_allocated(self.device)
            baseline["torch_reserved_bytes"] = torch.cuda.memory_reserved(self.device)
        if self._nvml is not None:
            baseline["nvml_device_used_bytes"] = self._nvml_used()

        for outer in _open_vmhwm_regions:
            outer._carried_rss_peak = max(outer._carried_rss_peak, _read_vmhwm() or 0)
        _release_free_heap()
        self._use_vmhwm = _reset_vmhwm()
        baseline["host_rss_bytes"] = self._rss_peak = self._process.memory_info().rss
        if self._use_vmhwm:
            _open_vmhwm_regions.append(self)
        self._baseline = baseline

        if self._nvml is not None or not self._use_vmhwm:
            self._sample()
            self._thread = threading.Thread(target=self._sample_until_stopped, name="machmeter-memory", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        try:
            synchronize(self.device)
        finally:  # a CUDA error must not leave the sampler polling, nor the region registered
            if self._thread is not None:
                self._stop.set()
                self._thread.join()
            if self._use_vmhwm and exc_info[0] is not None:
                _open_vmhwm_regions.remove(self)
        if exc_info[0] is not None:
            return
        if self._thread is not None:
            self._sample()  # the region's final state, after the GPU has finished
        torch_allocated = torch_reserved = None
        if self._torch_cuda:
            torch_allocated = torch.cuda.max_memory_allocated(self.device)
            torch_reserved = torch.cuda.max_memory_reserved(self.device)
        if self._use_vmhwm:
            _open_vmhwm_regions.remove(self)
            rss_peak = max(_read_vmhwm() or 0, self._carried_rss_peak, self._rss_peak)
        else:
            rss_peak = self._rss_peak
        self._result = MemoryPeak(
            torch_allocated_bytes=torch_allocated,
            torch_reserved_bytes=torch_reserved,
            nvml_device_used_bytes=self._nvml_peak,
            host_rss_bytes=rss_peak,
            baseline=self._baseline,
            nvml_samples=self._nvml_count,
            host_rss_method="vmhwm" if self._use_vmhwm else "psutil_sampling",
        )


DEFAULT_LEAK_THRESHOLDS = {
    # Allocator bytes are exact, and torch rounds blocks to 512 B, so a leaked tensor per call
    # shows up well above this; RSS moves in 4 KiB pages with allocator noise on top.
    "torch_allocated_bytes": 256.0,
    "host_rss_bytes": 4096.0,
}


@dataclass
class LeakReport:
    slope_bytes_per_call: float
    intercept: float
    rvalue: float
    samples: list[int]  # the quantity after each measured call
    quantity: str  # "torch_allocated_bytes" (CUDA) or "host_rss_bytes" (CPU)
    calls: int

    def leaking(self, threshold_bytes_per_call: float | None = None) -> bool:
        """True when memory grows faster than the threshold (default per quantity)."""
        if threshold_bytes_per_call is None:
            threshold_bytes_per_call = DEFAULT_LEAK_THRESHOLDS[self.quantity]
        return self.slope_bytes_per_call > threshold_bytes_per_call


def leak_check(
    fn: Callable[[], Any], *, calls: int = 200, device: DeviceLike = None, warmup_calls: int = 5
) -> LeakReport:
    """Call ``fn`` ``calls`` times and fit memory growth per call (least squares)."""
    if calls < 2:
        raise ValueError("leak_check needs at least 2 calls to fit a slope")
    device = _as_device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        quantity = "torch_allocated_bytes"
        read: Callable[[], int] = lambda: torch.cuda.memory_allocated(device)
    else:
        quantity = "host_rss_bytes"
        process = psutil.Process()
        read = lambda: process.memory_info().rss
    call_repeatedly(fn, warmup_calls, 0.0, device)
    if quantity == "host_rss_bytes":
        gc.collect()
        _release_free_heap()
    samples = []
    for _ in range(calls):
        fn()
        samples.append(int(read()))
    fit = stats.linregress(np.arange(calls), np.asarray(samples, dtype=float))
    return LeakReport(
        slope_bytes_per_call=float(fit.slope),
        intercept=float(fit.intercept),
        rvalue=0.0 if np.isnan(fit.rvalue) else float(fit.rvalue),
        samples=samples,
        quantity=quantity,
        calls=calls,
    )
