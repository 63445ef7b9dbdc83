import logging
import os
from types import SimpleNamespace

import pynvml
import pytest
import torch

from machmeter.instruments import (
    MachineInfo,
    RunState,
    collect_machine_info,
    collect_run_state,
    decode_throttle_reasons,
    measure_energy,
    nvml_call,
    nvml_handle,
    reset_for_tests,
    track_memory,
)

ASV_MACHINE_KEYS = {"machine", "os", "arch", "cpu", "num_cpu", "ram", "version"}


def _raise(code):
    def query(*args):
        raise pynvml.NVMLError(code)

    return query


@pytest.fixture
def fresh_nvml():
    reset_for_tests()
    yield
    reset_for_tests()


@pytest.fixture
def no_nvml(fresh_nvml, monkeypatch):
    monkeypatch.setattr(pynvml, "nvmlInit", _raise(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))


@pytest.fixture
def fake_nvml(fresh_nvml, monkeypatch):
    """A fake H100 behind pynvml; returns the list of physical indices/UUIDs asked for."""
    handles_requested = []

    def by_index(index):
        handles_requested.append(index)
        return f"handle{index}"

    def by_uuid(uuid):
        handles_requested.append(uuid)
        return f"handle-{uuid}"

    fakes = {
        "nvmlInit": lambda: None,
        "nvmlDeviceGetCount": lambda: 8,
        "nvmlDeviceGetHandleByIndex": by_index,
        "nvmlDeviceGetHandleByUUID": by_uuid,
        "nvmlSystemGetDriverVersion": lambda: "580.159.04",
        "nvmlDeviceGetName": lambda h: "NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetUUID": lambda h: "GPU-1234",
        "nvmlDeviceGetMemoryInfo": lambda h: SimpleNamespace(total=85_520_809_984, used=1 << 20),
        "nvmlDeviceGetMaxClockInfo": lambda h, clock: {pynvml.NVML_CLOCK_SM: 1980, pynvml.NVML_CLOCK_MEM: 2619}[clock],
        "nvmlDeviceGetEnforcedPowerLimit": lambda h: 700_000,
        "nvmlDeviceGetPersistenceMode": lambda h: 1,
        "nvmlDeviceGetEccMode": _raise(pynvml.NVML_ERROR_NOT_SUPPORTED),
        "nvmlDeviceGetMigMode": lambda h: [0, 1],
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetClockInfo": lambda h, clock: {pynvml.NVML_CLOCK_SM: 1755, pynvml.NVML_CLOCK_MEM: 2619}[clock],
        "nvmlDeviceGetTemperature": lambda h, sensor: 41,
        "nvmlDeviceGetPowerUsage": lambda h: 123_456,
        "nvmlDeviceGetCurrentClocksEventReasons": _raise(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND),
        "nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: pynvml.nvmlClocksThrottleReasonSwPowerCap,
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [
            SimpleNamespace(pid=os.getpid(), usedGpuMemory=1 << 30),
            SimpleNamespace(pid=4242, usedGpuMemory=2 << 30),
            SimpleNamespace(pid=4343, usedGpuMemory=None),
        ],
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(pynvml, name, fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return handles_requested


def test_without_nvml_everything_degrades_with_one_warning(no_nvml, caplog):
    with caplog.at_level(logging.INFO, logger="machmeter"):
        assert nvml_handle() is None
        assert nvml_handle(1) is None
        info = collect_machine_info()
        assert collect_run_state() is None
        assert measure_energy(lambda: None, calls=1) is None
        with track_memory(device="cuda") as mem:
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "NVML" in r.getMessage()]
    assert warnings == [
        "machmeter: NVML unavailable (NVML Shared Library Not Found): "
        "GPU memory, energy and fingerprint fall back to CPU-only data"
    ]
    assert info.torch_version == torch.__version__
    if not torch.cuda.is_available():
        assert info.gpu_name == "none" and info.gpu_count == 0 and info.driver_version is None
    assert mem.result.host_rss_bytes > 0 and mem.result.nvml_device_used_bytes is None


def test_without_pynvml_module(fresh_nvml, monkeypatch, caplog):
    from machmeter.instruments import nvml

    monkeypatch.setattr(nvml, "pynvml", None)
    with caplog.at_level(logging.WARNING, logger="machmeter"):
        assert nvml_handle() is None
    assert "pynvml not importable" in caplog.text


def test_nvml_call_turns_nvml_errors_into_default():
    assert nvml_call(_raise(pynvml.NVML_ERROR_NOT_SUPPORTED), "h") is None
    assert nvml_call(_raise(pynvml.NVML_ERROR_NOT_SUPPORTED), default=-1) == -1

    def mismatch():
        raise pynvml.NVMLLibraryMismatchError("old driver")

    assert nvml_call(mismatch, default="n/a") == "n/a"
    assert nvml_call(lambda a, b: a + b, 1, 2) == 3
    with pytest.raises(ZeroDivisionError):  # only NVML errors are swallowed
        nvml_call(lambda: 1 / 0)


def test_machine_info_from_nvml(fake_nvml):
    info = collect_machine_info()
    assert info == MachineInfo(
        gpu_name="NVIDIA H100 80GB HBM3",
        gpu_uuid="GPU-1234",
        gpu_count=8,
        driver_version="580.159.04",
        cuda_version=torch.version.cuda,
        torch_version=torch.__version__,
        gpu_memory_total_bytes=85_520_809_984,
        sm_clock_max_mhz=1980,
        mem_clock_max_mhz=2619,
        power_limit_w=700.0,
        persistence_mode="enabled",
        ecc_mode=None,  # unsupported query: only this field is lost
        mig_mode="disabled",  # current mode, not the pending one
        compute_capability="9.0",
    )
    fields = info.asv_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert not fields.keys() & ASV_MACHINE_KEYS
    assert fields["gpu"] == "NVIDIA H100 80GB HBM3"
    assert fields["gpu_power_limit"] == "700" and fields["gpu_ecc"] == "" and fields["gpu_count"] == "8"
    assert fields["gpu_compute_capability"] == "9.0" and fields["torch"] == torch.__version__


def test_machine_info_without_gpu_has_string_fields(no_nvml):
    fields = collect_machine_info().asv_fields()
    assert all(isinstance(v, str) for v in fields.values())
    assert not fields.keys() & ASV_MACHINE_KEYS


def test_cuda_visible_devices_maps_to_physical_gpu(fake_nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert nvml_handle(0) == "handle3" and nvml_handle(1) == "handle5"
    reset_for_tests()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-abcd")
    assert nvml_handle(0) == "handle-GPU-abcd"
    assert fake_nvml == [3, 5, "GPU-abcd"]
    assert nvml_handle(0) == "handle-GPU-abcd" and len(fake_nvml) == 3  # cached


def test_run_state_from_nvml(fake_nvml):
    state = collect_run_state()
    assert state.sm_clock_mhz == 1755 and state.mem_clock_mhz == 2619
    assert state.temperature_c == 41 and state.power_w == pytest.approx(123.456)
    assert state.throttle_reasons == ["sw_power_cap"]  # via the older throttle-reasons query
    assert state.throttled and state.shared
    assert state.other_processes == [
        {"pid": 4242, "used_memory_bytes": 2 << 30},
        {"pid": 4343, "used_memory_bytes": None},
    ]
    assert RunState.from_dict(state.to_dict()) == state


def test_run_state_prefers_clocks_event_reasons(fake_nvml, monkeypatch):
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", lambda h: 0x1)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", lambda h: [])
    state = collect_run_state()
    assert state.throttle_reasons == ["gpu_idle"]
    assert not state.throttled and not state.shared


def test_run_state_fields_survive_unsupported_queries(fake_nvml, monkeypatch):
    unsupported = _raise(pynvml.NVML_ERROR_NOT_SUPPORTED)
    for name in (
        "nvmlDeviceGetTemperature",
        "nvmlDeviceGetCurrentClocksThrottleReasons",
        "nvmlDeviceGetComputeRunningProcesses",
        "nvmlDeviceGetComputeRunningProcesses_v2",
    ):
        monkeypatch.setattr(pynvml, name, unsupported)
    state = collect_run_state()
    assert state.temperature_c is None and state.throttle_reasons == [] and state.other_processes == []
    assert state.sm_clock_mhz == 1755


@pytest.mark.parametrize(
    "mask, names",
    [
        (0, []),
        (0x1, ["gpu_idle"]),
        (0x4 | 0x40, ["sw_power_cap", "hw_thermal_slowdown"]),
        (0x2 | 0x10 | 0x100, ["applications_clocks_setting", "sync_boost", "display_clock_setting"]),
        (0x8 | 0x20 | 0x80, ["hw_slowdown", "sw_thermal_slowdown", "hw_power_brake_slowdown"]),
        (0x1 | 0x10000, ["gpu_idle", "unknown_0x10000"]),
    ],
)
def test_decode_throttle_reasons(mask, names):
    assert decode_throttle_reasons(mask) == names


@pytest.mark.parametrize(
    "reasons, throttled",
    [
        ([], False),
        (["gpu_idle", "applications_clocks_setting", "sync_boost"], False),
        (["gpu_idle", "sw_power_cap"], True),
        (["hw_thermal_slowdown"], True),
    ],
)
def test_throttled_ignores_benign_reasons(reasons, throttled):
    state = RunState(timestamp=0.0, sm_clock_mhz=None, mem_clock_mhz=None, temperature_c=None, power_w=None,
                     throttle_reasons=reasons)  # fmt: skip
    assert state.throttled is throttled and not state.shared


@pytest.mark.gpu
def test_machine_info_on_gpu(fresh_nvml):
    info = collect_machine_info()
    assert info.gpu_name not in ("", "none", "unknown")
    assert info.driver_version and info.gpu_count >= 1
    assert info.gpu_memory_total_bytes > 0 and info.compute_capability
    fields = info.asv_fields()
    assert all(isinstance(v, str) for v in fields.values()) and fields["gpu"] == info.gpu_name


@pytest.mark.gpu
def test_run_state_on_gpu(fresh_nvml):
    state = collect_run_state()
    assert state is not None
    assert state.sm_clock_mhz is not None and state.sm_clock_mhz > 0
    assert state.mem_clock_mhz is not None and state.mem_clock_mhz > 0
    assert isinstance(state.throttle_reasons, list)
    assert RunState.from_dict(state.to_dict()) == state
