"""The machine fingerprint: what ``machmeter machine`` adds to asv's machine file (and asv then stores
with every run, in each result file's ``params``), how to show it, and how two runs' fingerprints differ.
"""

from __future__ import annotations

# The GPU fingerprint ``machmeter machine`` writes into asv's machine file
# (machmeter.instruments.gpu.MachineInfo.asv_fields), in reading order, with how to show each.
GPU_FIELDS = (
    ("gpu", "GPU", None), ("gpu_count", "GPUs", None), ("gpu_driver", "driver", None), ("cuda", "CUDA", None),
    ("torch", "torch", None), ("gpu_memory", "memory", "bytes"), ("gpu_sm_clock_max", "max SM clock", "MHz"),
    ("gpu_mem_clock_max", "max memory clock", "MHz"), ("gpu_power_limit", "power limit", "W"),
    ("gpu_compute_capability", "compute capability", None), ("gpu_persistence", "persistence mode", None),
    ("gpu_ecc", "ECC", None), ("gpu_mig", "MIG", None), ("gpu_uuid", "UUID", None),
)
HOST_FIELDS = (("os", "OS", None), ("arch", "architecture", None), ("cpu", "CPU", None),
               ("num_cpu", "CPUs", None), ("ram", "RAM", "ram"))


def fingerprint_differences(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """(label, before, after) of each fingerprint field that both runs recorded and that differs."""
    differences = []
    for key, label, _ in GPU_FIELDS + HOST_FIELDS:
        old, new = before.get(key), after.get(key)
        if old not in (None, "") and new not in (None, "") and str(old) != str(new):
            differences.append((label, str(old), str(new)))
    return differences
