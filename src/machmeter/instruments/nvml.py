"""The one place that talks to NVML: process-wide initialisation, device handles, safe calls.

Everything here degrades to ``None`` instead of raising, so instruments keep working on
machines without an NVIDIA driver (CI runners, laptops, containers without NVML mounted).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

try:
    import pynvml
except ImportError:  # nvidia-ml-py is a dependency, but a broken install must not break timing
    pynvml = None

log = logging.getLogger("machmeter")

_lock = threading.Lock()
_initialised: bool | None = None  # None: not tried yet in this process
_handles: dict[int, Any] = {}
_unresolvable_devices: set[int] = set()


def _nvml_errors() -> tuple[type[BaseException], ...]:
    if pynvml is None:
        return ()
    # The unversioned wrappers raise NVMLLibraryMismatchError (not an NVMLError) when the
    # driver's NVML lacks the function, which for us is just another unsupported query.
    return (pynvml.NVMLError, getattr(pynvml, "NVMLLibraryMismatchError", pynvml.NVMLError))


def _warn_unavailable(reason: str) -> None:
    log.warning(
        "machmeter: NVML unavailable (%s): GPU memory, energy and fingerprint fall back to CPU-only data",
        reason,
    )


def nvml_available() -> bool:
    """Initialise NVML once per process; True when it can be queried."""
    global _initialised
    with _lock:
        if _initialised is None:
            if pynvml is None:
                _initialised = False
                _warn_unavailable("pynvml not importable")
            else:
                try:
                    pynvml.nvmlInit()
                    _initialised = True
                except Exception as exc:  # NVMLError, or OSError from a broken libnvidia-ml
                    _initialised = False
                    _warn_unavailable(str(exc) or type(exc).__name__)
        return _initialised


def _handle_for_cuda_index(device_index: int) -> Any:
    # Callers speak CUDA device indices; NVML enumerates every GPU on the host. Under
    # CUDA_VISIBLE_DEVICES (SLURM, shared nodes) "cuda:0" can be physical GPU 3, and measuring
    # the wrong GPU's memory or power would be silently wrong.
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    entries = [e.strip() for e in visible.split(",")] if visible else []
    if device_index < len(entries):
        entry = entries[device_index]
        if entry.isdigit():
            return pynvml.nvmlDeviceGetHandleByIndex(int(entry))
        if entry.startswith(("GPU-", "MIG-")):
            return pynvml.nvmlDeviceGetHandleByUUID(entry)
    return pynvml.nvmlDeviceGetHandleByIndex(device_index)


def nvml_handle(device_index: int = 0) -> Any:
    """NVML handle of CUDA device ``device_index``, or None when NVML cannot answer. Never raises."""
    if not nvml_available():
        return None
    with _lock:
        if device_index in _handles:
            return _handles[device_index]
        try:
            handle = _handle_for_cuda_index(device_index)
        except _nvml_errors() as exc:
            if device_index not in _unresolvable_devices:
                _unresolvable_devices.add(device_index)
                log.warning("machmeter: no NVML handle for CUDA device %d (%s)", device_index, exc)
            return None
        _handles[device_index] = handle
        return handle


def nvml_call(fn: Callable[..., Any], *args: Any, default: Any = None) -> Any:
    """``fn(*args)``, or ``default`` when NVML reports an error (e.g. ECC on a consumer GPU)."""
    try:
        return fn(*args)
    except _nvml_errors():
        return default


def reset_for_tests() -> None:
    """Forget the process-wide NVML state so the next call re-initialises (and may warn again)."""
    global _initialised
    with _lock:
        _initialised = None
        _handles.clear()
        _unresolvable_devices.clear()
