"""Per-call timing of a callable on CPU or CUDA, keeping every raw sample."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

import numpy as np
import torch

log = logging.getLogger("machmeter")

DeviceLike = str | torch.device | None


@dataclass
class Measurement:
    samples: list[float]  # seconds per call, raw: summaries are derived, never stored instead
    method: str  # "cuda_events", "cuda_sync_wallclock" or "perf_counter"
    device: str
    warmup_calls: int
    label: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def _array(self) -> np.ndarray:
        return np.asarray(self.samples, dtype=float)

    def _stat(self, reduce: Callable[[np.ndarray], Any]) -> float:
        return float(reduce(self._array)) if self.samples else math.nan

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def mean(self) -> float:
        return self._stat(np.mean)

    @property
    def median(self) -> float:
        return self._stat(np.median)

    @property
    def min(self) -> float:
        return self._stat(np.min)

    @property
    def max(self) -> float:
        return self._stat(np.max)

    @property
    def stdev(self) -> float:
        return float(np.std(self._array, ddof=1)) if self.n >= 2 else 0.0

    @property
    def cv(self) -> float:
        mean = self.mean
        return self.stdev / mean if mean else math.nan

    def percentile(self, q: float) -> float:
        return self._stat(lambda a: np.percentile(a, q))

    @property
    def iqr(self) -> float:
        return self._stat(lambda a: np.subtract(*np.percentile(a, [75, 25])))

    @property
    def p90(self) -> float:
        return self.percentile(90)

    @property
    def p95(self) -> float:
        return self.percentile(95)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    def summary(self) -> dict[str, float]:
        names = ("n", "mean", "median", "min", "max", "stdev", "cv", "iqr", "p90", "p95", "p99")
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Measurement":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _as_device(device: DeviceLike) -> torch.device:
    if device is None:
        return torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def synchronize(device: DeviceLike = None) -> None:
    """Wait for queued GPU work on ``device``; no-op on CPU or where CUDA is unavailable."""
    device = _as_device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)


# Reused across calls and time_callable invocations: constructing and first-recording a CUDA
# event costs several µs of host time, which would show up in every sample of launch-bound work.
# Not re-entrant: a timed function must not itself call time_callable on the same device.
_EVENT_POOLS: dict[int, list[torch.cuda.Event]] = {}


def call_repeatedly(fn: Callable[[], Any], min_calls: int, min_seconds: float, device: DeviceLike = None) -> tuple[int, float]:
    """Call ``fn`` at least ``min_calls`` times and for at least ``min_seconds`` (host clock), then wait
    for the device; returns (calls made, seconds elapsed including the wait)."""
    start = time.perf_counter()
    calls = 0
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    synchronize(device)
    return calls, time.perf_counter() - start


def _event_pool(device: torch.device, size: int, stream: torch.cuda.Stream) -> list[torch.cuda.Event]:
    pool = _EVENT_POOLS.setdefault(device.index, [])
    if len(pool) < size:
        new = [torch.cuda.Event(enable_timing=True) for _ in range(size - len(pool))]
        # torch creates the underlying cudaEvent lazily at first record; do it now, outside timing.
        for event in new:
            event.record(stream)
        pool.extend(new)
    return pool


def _time_cuda_events(
    fn: Callable[[], Any],
    device: torch.device,
    *,
    expected_calls: int,
    min_repeats: int,
    max_repeats: int,
    target_time: float,
) -> tuple[list[float], dict[str, Any]]:
    # One event at each call boundary, no synchronisation in the loop: the interval between
    # consecutive boundaries is the steady-state per-call period that a real MD/inference loop
    # experiences, launch overhead included, without a per-call sync or second event distorting it.
    # The stop decision uses the host clock because reading event times would need a sync.
    with torch.cuda.device(device):
        stream = torch.cuda.current_stream(device)
        pool = _event_pool(device, expected_calls + 1, stream)
        chains: list[tuple[int, int]] = []  # [first, last] pool positions of each unbroken chain
        used = 0
        calls = 0
        start = time.perf_counter()
        pool[used].record(stream)
        chain_start = used
        used += 1
        while True:
            if used == len(pool):
                # Growing mid-loop costs host time, so end this chain and start a new one after
                # growing: the growth interval is never reported as a sample.
                chains.append((chain_start, used - 1))
                _event_pool(device, min(2 * len(pool), len(pool) + max_repeats - calls + 1), stream)
                pool[used].record(stream)
                chain_start = used
                used += 1
            fn()
            pool[used].record(stream)
            used += 1
            calls += 1
            if calls >= max_repeats or (calls >= min_repeats and time.perf_counter() - start >= target_time):
                break
        chains.append((chain_start, used - 1))
        torch.cuda.synchronize(device)
    samples = [
        pool[i].elapsed_time(pool[i + 1]) * 1e-3 for first, last in chains for i in range(first, last)
    ]
    return samples, {"event_chains": len(chains), "event_pool_size": len(pool)}


def _time_host(
    fn: Callable[[], Any],
    device: torch.device,
    *,
    min_repeats: int,
    max_repeats: int,
    target_time: float,
) -> list[float]:
    sync_cuda = device.type == "cuda"
    samples: list[float] = []
    measured = 0.0
    while len(samples) < max_repeats and (len(samples) < min_repeats or measured < target_time):
        t0 = time.perf_counter_ns()
        fn()
        if sync_cuda:
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter_ns() - t0) * 1e-9
        samples.append(seconds)
        measured += seconds
    return samples


def _timing_device(device: DeviceLike, metadata: dict[str, Any], caller: str) -> torch.device:
    """The device to time on: a CUDA request without CUDA times on the CPU (noted in ``metadata``)."""
    requested = _as_device(device)
    if requested.type == "cuda" and not torch.cuda.is_available():
        log.warning(
            "machmeter: %s requested but torch.cuda.is_available() is False: timing on CPU with perf_counter",
            requested,
        )
        metadata["requested_device"] = str(requested)
        return torch.device("cpu")
    if requested.type not in ("cpu", "cuda"):
        raise ValueError(f"{caller} supports cpu and cuda devices, not {requested}")
    return requested


def time_callable(
    fn: Callable[[], Any],
    *,
    device: DeviceLike = None,
    warmup_calls: int = 3,
    warmup_time: float = 0.0,
    min_repeats: int = 10,
    max_repeats: int = 10_000,
    target_time: float = 0.5,
    sync_each_call: bool = False,
    label: str = "",
) -> Measurement:
    """Time ``fn()`` repeatedly after warming it up; one raw sample (seconds) per call.

    Measures until ``target_time`` seconds have passed and at least ``min_repeats`` calls were
    made, never more than ``max_repeats``. On CUDA the default is pooled events at call
    boundaries (method "cuda_events"); ``sync_each_call=True`` instead gives end-to-end latency
    including a host synchronisation (method "cuda_sync_wallclock").
    """
    if not 1 <= min_repeats <= max_repeats:
        raise ValueError(f"need 1 <= min_repeats <= max_repeats, got {min_repeats}, {max_repeats}")
    metadata: dict[str, Any] = {"torch_version": torch.__version__}
    device = _timing_device(device, metadata, "time_callable")

    warmups, warmup_seconds = call_repeatedly(fn, warmup_calls, warmup_time, device)
    metadata["warmup_seconds"] = warmup_seconds

    if device.type == "cuda" and not sync_each_call:
        method = "cuda_events"
        # Size the event pool from the warm-up's host rate so it rarely has to grow mid-loop.
        per_call = warmup_seconds / warmups if warmups else 0.0
        estimate = int(1.5 * target_time / per_call) + 1 if per_call > 0 else 1024
        samples, extra = _time_cuda_events(
            fn,
            device,
            expected_calls=min(max(estimate, min_repeats), max_repeats),
            min_repeats=min_repeats,
            max_repeats=max_repeats,
            target_time=target_time,
        )
        metadata.update(extra)
    else:
        method = "cuda_sync_wallclock" if device.type == "cuda" else "perf_counter"
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        samples = _time_host(
            fn, device, min_repeats=min_repeats, max_repeats=max_repeats, target_time=target_time
        )

    metadata["measured_calls"] = len(samples)
    metadata["total_calls"] = warmups + len(samples)
    return Measurement(
        samples=samples,
        method=method,
        device=str(device),
        warmup_calls=warmups,
        label=label,
        metadata=metadata,
    )


def time_phases(
    phases: dict[str, Callable[[], Any]],
    *,
    device: DeviceLike = None,
    warmup_calls: int = 3,
    min_repeats: int = 10,
    max_repeats: int = 10_000,
    target_time: float = 0.5,
) -> dict[str, Measurement]:
    """Time the phases of a repeated unit of work separately: one raw sample per phase per repetition.

    Each repetition calls the phases in their order (a training step: forward, backward, optimiser
    step), each between two device synchronisations read with the host clock, so a phase's sample is
    its dispatch and its device work to completion, and none of its queued work is charged to the next
    phase. The synchronisations also remove the overlap a loop has between one phase's kernels and the
    next one's launches: on a GPU the phases add up to at least the unit's period in a loop, which
    :func:`time_callable` of the whole unit measures. Repeats until ``target_time`` seconds of phases
    and at least ``min_repeats`` repetitions, never more than ``max_repeats``.
    """
    if not phases:
        raise ValueError("time_phases needs at least one phase")
    if not 1 <= min_repeats <= max_repeats:
        raise ValueError(f"need 1 <= min_repeats <= max_repeats, got {min_repeats}, {max_repeats}")
    metadata: dict[str, Any] = {"torch_version": torch.__version__}
    device = _timing_device(device, metadata, "time_phases")
    calls = list(phases.values())

    def repetition() -> None:
        for call in calls:
            call()

    warmups, warmup_seconds = call_repeatedly(repetition, warmup_calls, 0.0, device)
    metadata["warmup_seconds"] = warmup_seconds
    sync_cuda = device.type == "cuda"
    samples: dict[str, list[float]] = {name: [] for name in phases}
    repetitions = 0
    measured = 0.0
    while repetitions < max_repeats and (repetitions < min_repeats or measured < target_time):
        for name, call in phases.items():
            t0 = time.perf_counter_ns()
            call()
            if sync_cuda:
                torch.cuda.synchronize(device)
            seconds = (time.perf_counter_ns() - t0) * 1e-9
            samples[name].append(seconds)
            measured += seconds
        repetitions += 1
    metadata["measured_calls"] = repetitions
    method = "cuda_sync_wallclock" if device.type == "cuda" else "perf_counter"
    return {
        name: Measurement(samples=phase_samples, method=method, device=str(device), warmup_calls=warmups,
                          label=name, metadata=dict(metadata))
        for name, phase_samples in samples.items()
    }
