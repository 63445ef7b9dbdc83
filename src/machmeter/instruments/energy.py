"""GPU energy of repeated calls, from NVML's energy counter or integrated power samples.

NVML refreshes both the energy counter and the power reading only every few tens of
milliseconds, so a region shorter than ~100 ms is dominated by that granularity: choose
``calls`` so that the measured region lasts at least ~100 ms (longer is better).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from scipy.integrate import trapezoid

from .nvml import nvml_call, nvml_handle, pynvml
from .timer import call_repeatedly

log = logging.getLogger("machmeter")

MIN_RELIABLE_DURATION_S = 0.1


@dataclass
class EnergyReport:
    joules_total: float
    joules_per_call: float
    average_power_w: float
    duration_s: float
    calls: int
    method: str  # "nvml_total_energy" or "nvml_power_sampling"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _PowerSampler:
    """Background thread reading NVML power (mW) every ``interval_s`` seconds."""

    def __init__(self, handle: Any, interval_s: float):
        self._handle = handle
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.times: list[float] = []
        self.watts: list[float] = []
        self._thread = threading.Thread(target=self._run, name="machmeter-power", daemon=True)

    def sample(self) -> None:
        milliwatts = nvml_call(pynvml.nvmlDeviceGetPowerUsage, self._handle)
        if milliwatts is not None:
            self.times.append(time.perf_counter())
            self.watts.append(milliwatts / 1000.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def measure_energy(
    fn: Callable[[], Any],
    *,
    calls: int = 10,
    device_index: int = 0,
    warmup_calls: int = 1,
    power_interval_s: float = 0.01,
    min_duration_s: float = 0.5,
) -> EnergyReport | None:
    """GPU energy spent per call of ``fn`` on CUDA device ``device_index``.

    Calls ``fn`` at least ``calls`` times and for at least ``min_duration_s`` seconds: NVML's
    counter advances in coarse steps, so a short region (a 60 ms one read 0 J on an H200) says
    nothing. Uses the total-energy counter (Volta and newer) when the GPU has one, else integrates
    power samples taken every ``power_interval_s``. Returns None without NVML.
    """
    if calls < 1:
        raise ValueError("measure_energy needs at least one call")
    handle = nvml_handle(device_index)
    if handle is None:
        log.info("machmeter: energy not measured: no NVML handle for GPU %d", device_index)
        return None
    device = torch.device("cuda", device_index)

    call_repeatedly(fn, warmup_calls, 0.0, device)

    start_mj = nvml_call(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle)
    if start_mj is not None:
        done, duration = call_repeatedly(fn, calls, min_duration_s, device)
        end_mj = nvml_call(pynvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        if end_mj is not None:
            return _report((end_mj - start_mj) / 1000.0, duration, done, "nvml_total_energy")

    sampler = _PowerSampler(handle, power_interval_s)
    sampler.start()
    try:
        done, duration = call_repeatedly(fn, calls, min_duration_s, device)
    finally:  # an out-of-memory in fn must not leave the sampler polling NVML for the rest of the run
        sampler.stop()
    sampled_span = sampler.times[-1] - sampler.times[0] if len(sampler.times) >= 2 else 0.0
    if sampled_span <= 0:
        log.info("machmeter: energy not measured: GPU %d reports neither energy nor power", device_index)
        return None
    # The sampler brackets the region slightly; scale its mean power to the region's duration.
    average_power_w = float(trapezoid(sampler.watts, sampler.times)) / sampled_span
    return _report(average_power_w * duration, duration, done, "nvml_power_sampling")


def _report(joules: float, duration: float, calls: int, method: str) -> EnergyReport:
    if duration < MIN_RELIABLE_DURATION_S:
        log.warning(
            "machmeter: energy region lasted %.1f ms, below NVML's ~100 ms update granularity: use more calls",
            duration * 1e3,
        )
    return EnergyReport(
        joules_total=joules,
        joules_per_call=joules / calls,
        average_power_w=joules / duration if duration > 0 else float("nan"),
        duration_s=duration,
        calls=calls,
        method=method,
    )
