"""Measurement instruments usable by any code: timing, memory, energy, GPU fingerprint and state."""

# Loaded on first use (PEP 562): ``machmeter machine`` needs only the GPU fingerprint (gpu, nvml), which
# works without torch, while timing, memory and energy import torch; the light core has none.
_EXPORTS = {
    "energy": ("EnergyReport", "measure_energy"),
    "gpu": ("MachineInfo", "RunState", "collect_machine_info", "collect_run_state", "decode_throttle_reasons"),
    "memory": ("LeakReport", "MemoryPeak", "leak_check", "track_memory"),
    "nvml": ("nvml_available", "nvml_call", "nvml_handle", "reset_for_tests"),
    "timer": ("Measurement", "synchronize", "time_callable", "time_phases"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    import importlib

    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "time_phases",
    "track_memory",
]
