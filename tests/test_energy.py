import logging
import time

import pynvml
import pytest
import torch

from machmeter.instruments import EnergyReport, measure_energy, reset_for_tests
from machmeter.instruments import energy


def _unsupported(*args):
    raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)


@pytest.fixture
def fake_gpu(monkeypatch):
    """An NVML device handle without a GPU: only the queries each test patches answer."""
    monkeypatch.setattr(energy, "nvml_handle", lambda index: "handle")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", _unsupported)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerUsage", _unsupported)
    return monkeypatch


def _sleep_10ms():
    time.sleep(0.01)


def test_total_energy_counter_delta(fake_gpu):
    # A 100 W device: the counter (millijoules) grows by 100 mJ per millisecond.
    fake_gpu.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", lambda h: int(time.perf_counter() * 100_000))
    report = measure_energy(_sleep_10ms, calls=12, min_duration_s=0)
    assert isinstance(report, EnergyReport)
    assert report.method == "nvml_total_energy" and report.calls == 12
    assert report.duration_s >= 0.12
    assert report.average_power_w == pytest.approx(100, rel=0.05)
    assert report.joules_total == pytest.approx(100 * report.duration_s, rel=0.05)
    assert report.joules_per_call == pytest.approx(report.joules_total / 12)


def test_power_sampling_when_energy_counter_is_unsupported(fake_gpu):
    fake_gpu.setattr(pynvml, "nvmlDeviceGetPowerUsage", lambda h: 250_000)  # milliwatts
    report = measure_energy(_sleep_10ms, calls=12, power_interval_s=0.002, min_duration_s=0)
    assert report.method == "nvml_power_sampling"
    assert report.average_power_w == pytest.approx(250)
    assert report.joules_total == pytest.approx(250 * report.duration_s)
    assert report.to_dict()["calls"] == 12


def test_region_lasts_at_least_min_duration(fake_gpu):
    # NVML's counter steps coarsely: a region of a few fast calls would read 0 J
    fake_gpu.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", lambda h: int(time.perf_counter() * 100_000))
    report = measure_energy(_sleep_10ms, calls=3, min_duration_s=0.15)
    assert report.duration_s >= 0.15 and report.calls >= 12
    assert report.joules_per_call == pytest.approx(report.joules_total / report.calls)


def test_none_when_device_reports_neither_energy_nor_power(fake_gpu):
    assert measure_energy(_sleep_10ms, calls=2) is None


def test_short_region_warns_about_counter_granularity(fake_gpu, caplog):
    fake_gpu.setattr(pynvml, "nvmlDeviceGetTotalEnergyConsumption", lambda h: int(time.perf_counter() * 100_000))
    with caplog.at_level(logging.WARNING, logger="machmeter"):
        measure_energy(lambda: None, calls=3, min_duration_s=0)
    assert any("granularity" in r.getMessage() for r in caplog.records)


def test_none_without_nvml(monkeypatch):
    reset_for_tests()
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: _raise_library_not_found())
    try:
        assert measure_energy(_sleep_10ms, calls=2) is None
    finally:
        reset_for_tests()


def _raise_library_not_found():
    raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)


def test_rejects_zero_calls(fake_gpu):
    with pytest.raises(ValueError):
        measure_energy(_sleep_10ms, calls=0)


@pytest.mark.gpu
def test_matmul_loop_uses_energy():
    a = torch.randn(4096, 4096, device="cuda")
    for _ in range(3):  # cuBLAS initialisation must not inflate the calibration below
        a @ a
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
    per_call = (time.perf_counter() - start) / 20
    calls = max(20, int(0.2 / per_call))  # a ~200 ms region, above the counter's granularity
    report = measure_energy(lambda: a @ a, calls=calls)
    assert report is not None and report.method in ("nvml_total_energy", "nvml_power_sampling")
    assert report.joules_total > 0 and report.average_power_w > 0
    assert report.duration_s > 0.1
