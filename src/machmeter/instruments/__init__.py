"""Measurement instruments usable by any code: timing, memory, energy, GPU fingerprint and state."""

from .energy import EnergyReport, measure_energy
from .gpu import (
    MachineInfo,
    RunState,
    collect_machine_info,
    collect_run_state,
    decode_throttle_reasons,
)
from .memory import LeakReport, MemoryPeak, leak_check, track_memory
from .nvml import nvml_available, nvml_call, nvml_handle, reset_for_tests
from .timer import Measurement, synchronize, time_callable

__all__ = [
    "EnergyReport",
    "LeakReport",
    "MachineInfo",
    "Measurement",
    "MemoryPeak",
    "RunState",
    "collect_machine_info",
    "collect_run_state",
    "decode_throttle_reasons",
    "leak_check",
    "measure_energy",
    "nvml_available",
    "nvml_call",
    "nvml_handle",
    "reset_for_tests",
    "synchronize",
    "time_callable",
    "track_memory",
]
