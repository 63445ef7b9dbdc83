"""GPU fingerprint (static, for asv's machine file) and per-run GPU state (pyperf-style metadata).

Every NVML query goes through ``nvml_call`` so one unsupported query (ECC on a consumer card,
clocks on a MIG slice) leaves just that field None.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .nvml import nvml_available, nvml_call, nvml_handle, pynvml


def _enabled(state: Any) -> str | None:
    if state is None:
        return None
    return "enabled" if int(state) else "disabled"


def _current_mode(modes: Any) -> str | None:
    # ECC and MIG queries return [current, pending]; the pending mode applies only after a reset.
    return None if modes is None else _enabled(modes[0])


def _as_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass
class MachineInfo:
    gpu_name: str
    gpu_uuid: str | None
    gpu_count: int
    driver_version: str | None
    cuda_version: str | None  # the CUDA torch was built with
    torch_version: str | None  # None without torch (the light core)
    gpu_memory_total_bytes: int | None
    sm_clock_max_mhz: int | None
    mem_clock_max_mhz: int | None
    power_limit_w: float | None  # enforced limit
    persistence_mode: str | None  # "enabled" / "disabled"
    ecc_mode: str | None
    mig_mode: str | None
    compute_capability: str | None  # e.g. "9.0"

    def asv_fields(self) -> dict[str, str]:
        """Flat string values to merge into asv's machine file, never clashing with asv's own keys."""
        values = {
            "gpu": self.gpu_name,
            "gpu_uuid": self.gpu_uuid,
            "gpu_count": self.gpu_count,
            "gpu_driver": self.driver_version,
            "cuda": self.cuda_version,
            "torch": self.torch_version,
            "gpu_memory": self.gpu_memory_total_bytes,
            "gpu_sm_clock_max": self.sm_clock_max_mhz,
            "gpu_mem_clock_max": self.mem_clock_max_mhz,
            "gpu_power_limit": self.power_limit_w,
            "gpu_persistence": self.persistence_mode,
            "gpu_ecc": self.ecc_mode,
            "gpu_mig": self.mig_mode,
            "gpu_compute_capability": self.compute_capability,
        }
        return {key: _as_str(value) for key, value in values.items()}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _torch():
    """torch where it is installed, else None: the light core (``machmeter machine`` on a host without
    the suites) fingerprints the GPU through NVML alone, with no torch or CUDA version."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_fallback(info: MachineInfo, device_index: int) -> MachineInfo:
    torch = _torch()
    if torch is None or not torch.cuda.is_available():
        return info
    info.gpu_count = torch.cuda.device_count()
    # Without NVML only torch can describe the GPU, but querying it initialises CUDA, which
    # breaks a later fork (asv's forkserver); read it only where CUDA is already initialised.
    if not torch.cuda.is_initialized():
        info.gpu_name = "unknown"
        return info
    props = torch.cuda.get_device_properties(device_index)
    info.gpu_name = props.name
    info.gpu_memory_total_bytes = int(props.total_memory)
    info.compute_capability = f"{props.major}.{props.minor}"
    return info


def collect_machine_info(device_index: int = 0) -> MachineInfo:
    """Static fingerprint of the machine's GPU ``device_index`` (CUDA numbering); works without a GPU."""
    torch = _torch()
    info = MachineInfo(
        gpu_name="none", gpu_uuid=None, gpu_count=0, driver_version=None,
        cuda_version=None if torch is None else torch.version.cuda,
        torch_version=None if torch is None else torch.__version__,
        gpu_memory_total_bytes=None, sm_clock_max_mhz=None, mem_clock_max_mhz=None,
        power_limit_w=None, persistence_mode=None, ecc_mode=None, mig_mode=None,
        compute_capability=None,
    )  # fmt: skip
    if not nvml_available():
        return _torch_fallback(info, device_index)
    info.driver_version = nvml_call(pynvml.nvmlSystemGetDriverVersion)
    info.gpu_count = nvml_call(pynvml.nvmlDeviceGetCount, default=0)
    handle = nvml_handle(device_index)
    if handle is None:
        info.gpu_name = "unknown" if info.gpu_count else "none"
        return info
    info.gpu_name = nvml_call(pynvml.nvmlDeviceGetName, handle) or "unknown"
    info.gpu_uuid = nvml_call(pynvml.nvmlDeviceGetUUID, handle)
    memory = nvml_call(pynvml.nvmlDeviceGetMemoryInfo, handle)
    info.gpu_memory_total_bytes = None if memory is None else int(memory.total)
    info.sm_clock_max_mhz = nvml_call(pynvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_SM)
    info.mem_clock_max_mhz = nvml_call(pynvml.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_MEM)
    power_limit_mw = nvml_call(pynvml.nvmlDeviceGetEnforcedPowerLimit, handle)
    info.power_limit_w = None if power_limit_mw is None else power_limit_mw / 1000.0
    info.persistence_mode = _enabled(nvml_call(pynvml.nvmlDeviceGetPersistenceMode, handle))
    info.ecc_mode = _current_mode(nvml_call(pynvml.nvmlDeviceGetEccMode, handle))
    info.mig_mode = _current_mode(nvml_call(pynvml.nvmlDeviceGetMigMode, handle))
    capability = nvml_call(pynvml.nvmlDeviceGetCudaComputeCapability, handle)
    if capability is not None:
        info.compute_capability = f"{capability[0]}.{capability[1]}"
    return info


# Reason names, each with its pynvml constant suffix; new pynvml spells them ClocksEvent,
# older releases ClocksThrottle (same bit values).
_REASON_SUFFIXES = {
    "gpu_idle": "GpuIdle",
    "applications_clocks_setting": "ApplicationsClocksSetting",
    "sw_power_cap": "SwPowerCap",
    "hw_slowdown": "HwSlowdown",
    "sync_boost": "SyncBoost",
    "sw_thermal_slowdown": "SwThermalSlowdown",
    "hw_thermal_slowdown": "HwThermalSlowdown",
    "hw_power_brake_slowdown": "HwPowerBrakeSlowdown",
    "display_clock_setting": "DisplayClockSetting",
    "board_limit": "BoardLimit",
    "reliability": "Reliability",
}

# Clock limits that say nothing about the benchmark's conditions being degraded.
BENIGN_REASONS = frozenset({"gpu_idle", "applications_clocks_setting", "sync_boost"})


def _reason_bits() -> dict[str, int]:
    bits = {}
    for name, suffix in _REASON_SUFFIXES.items():
        value = getattr(pynvml, f"nvmlClocksEventReason{suffix}", None)
        if value is None:
            value = getattr(pynvml, f"nvmlClocksThrottleReason{suffix}", None)
        if value:
            bits[name] = int(value)
    return bits


def decode_throttle_reasons(mask: int) -> list[str]:
    """Names of the clock-limiting reasons set in an NVML clocks-event/throttle bitmask."""
    names = []
    for name, bit in _reason_bits().items():
        if mask & bit:
            names.append(name)
            mask &= ~bit
    if mask:
        names.append(f"unknown_{mask:#x}")
    return names


@dataclass
class RunState:
    timestamp: float  # unix seconds
    sm_clock_mhz: int | None
    mem_clock_mhz: int | None
    temperature_c: int | None
    power_w: float | None
    throttle_reasons: list[str] = field(default_factory=list)
    other_processes: list[dict] = field(default_factory=list)  # {"pid", "used_memory_bytes"}

    @property
    def throttled(self) -> bool:
        return any(reason not in BENIGN_REASONS for reason in self.throttle_reasons)

    @property
    def shared(self) -> bool:
        return bool(self.other_processes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunState":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _clock_reasons_mask(handle: Any) -> int | None:
    # The ClocksEvent query replaced ClocksThrottle in newer drivers; older ones lack it.
    event_reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    mask = nvml_call(event_reasons, handle) if event_reasons else None
    if mask is None:
        mask = nvml_call(pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, handle)
    return mask


def _other_compute_processes(handle: Any) -> list[dict]:
    # NVML reports host PIDs: inside a PID namespace (containers) our own process cannot be
    # recognised and shows up here too.
    processes = nvml_call(pynvml.nvmlDeviceGetComputeRunningProcesses, handle)
    if processes is None:
        processes = nvml_call(pynvml.nvmlDeviceGetComputeRunningProcesses_v2, handle, default=[])
    own_pid = os.getpid()
    return [
        {"pid": int(p.pid), "used_memory_bytes": None if p.usedGpuMemory is None else int(p.usedGpuMemory)}
        for p in processes
        if p.pid != own_pid
    ]


def collect_run_state(device_index: int = 0) -> RunState | None:
    """Clocks, temperature, power, clock limits and co-tenants of GPU ``device_index`` now; None without NVML."""
    handle = nvml_handle(device_index)
    if handle is None:
        return None
    power_mw = nvml_call(pynvml.nvmlDeviceGetPowerUsage, handle)
    mask = _clock_reasons_mask(handle)
    return RunState(
        timestamp=time.time(),
        sm_clock_mhz=nvml_call(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_SM),
        mem_clock_mhz=nvml_call(pynvml.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_MEM),
        temperature_c=nvml_call(pynvml.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU),
        power_w=None if power_mw is None else power_mw / 1000.0,
        throttle_reasons=[] if mask is None else decode_throttle_reasons(mask),
        other_processes=_other_compute_processes(handle),
    )
