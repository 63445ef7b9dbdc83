import time
from types import SimpleNamespace

import numpy as np
import pynvml
import pytest
import torch

from machmeter.instruments import leak_check, track_memory
from machmeter.instruments import memory

MB = 1_000_000


def _touch_50mb():
    block = np.ones(50 * MB // 8)  # np.ones writes every page, so all of it becomes resident
    time.sleep(0.03)  # long enough for a sampling thread to see it
    return float(block[-1])


def test_host_allocation_raises_peak_rss():
    with track_memory() as mem:
        _touch_50mb()
    peak = mem.result
    assert peak.deltas["host_rss_bytes"] >= 45 * MB
    assert peak.host_rss_bytes >= peak.baseline["host_rss_bytes"] + 45 * MB
    assert peak.torch_allocated_bytes is None and peak.torch_reserved_bytes is None
    assert peak.deltas["torch_allocated_bytes"] is None
    assert peak.nvml_device_used_bytes is None and peak.nvml_samples == 0


def test_rss_sampling_fallback_when_vmhwm_cannot_be_reset(monkeypatch):
    monkeypatch.setattr(memory, "_reset_vmhwm", lambda: False)
    with track_memory(nvml_interval_s=0.002) as mem:
        _touch_50mb()
    assert mem.result.host_rss_method == "psutil_sampling"
    assert mem.result.deltas["host_rss_bytes"] >= 45 * MB


def test_nested_regions_keep_the_outer_peak():
    with track_memory() as outer:
        _touch_50mb()  # freed before the inner region resets the kernel's high-water mark
        with track_memory() as inner:
            pass
    assert outer.result.deltas["host_rss_bytes"] >= 45 * MB
    assert inner.result.deltas["host_rss_bytes"] < 45 * MB


def test_result_before_exit_is_an_error():
    with track_memory() as mem:
        with pytest.raises(RuntimeError):
            mem.result


def test_nvml_sampler_records_device_usage(monkeypatch):
    readings = iter(range(1_000, 1_000_000_000, 1_000))
    monkeypatch.setattr(memory, "nvml_handle", lambda index: "handle")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lambda handle: SimpleNamespace(used=next(readings)))
    with track_memory(device="cuda", nvml_interval_s=0.001) as mem:
        time.sleep(0.03)
    peak = mem.result
    assert peak.nvml_samples >= 3
    assert peak.nvml_device_used_bytes > peak.baseline["nvml_device_used_bytes"]
    assert peak.deltas["nvml_device_used_bytes"] == peak.nvml_device_used_bytes - 1_000


def test_leak_check_detects_growth_per_call():
    kept = []
    report = leak_check(lambda: kept.append(bytearray(1 << 20)), calls=100)
    assert report.quantity == "host_rss_bytes" and report.calls == 100 and len(report.samples) == 100
    assert report.slope_bytes_per_call == pytest.approx(1 << 20, rel=0.2)
    assert report.rvalue > 0.9
    assert report.leaking()


def test_leak_check_reports_no_growth_for_clean_function():
    report = leak_check(lambda: bytearray(1 << 20), calls=100)
    assert abs(report.slope_bytes_per_call) < 4096
    assert not report.leaking()
    assert report.leaking(threshold_bytes_per_call=-1e9)


@pytest.mark.gpu
def test_torch_peak_sees_known_cuda_allocation():
    size = 256 * 1024 * 1024
    with track_memory(device="cuda") as mem:
        block = torch.empty(size, dtype=torch.uint8, device="cuda")
        del block
    peak = mem.result
    assert peak.torch_allocated_bytes >= size
    assert peak.deltas["torch_allocated_bytes"] >= size
    assert peak.torch_reserved_bytes >= size


@pytest.mark.gpu
def test_nvml_sampler_sees_device_usage():
    torch.cuda.empty_cache()
    size = 1024**3
    with track_memory(device="cuda", nvml_interval_s=0.002) as mem:
        block = torch.ones(size, dtype=torch.uint8, device="cuda")
        torch.cuda.synchronize()
        time.sleep(0.05)
        del block
        torch.cuda.empty_cache()
    peak = mem.result
    assert peak.nvml_samples > 0 and peak.nvml_device_used_bytes > 0
    assert peak.deltas["nvml_device_used_bytes"] >= size // 2


@pytest.mark.gpu
def test_leak_check_on_cuda_allocator():
    kept = []
    report = leak_check(lambda: kept.append(torch.empty(1 << 20, dtype=torch.uint8, device="cuda")), device="cuda", calls=50)
    assert report.quantity == "torch_allocated_bytes"
    assert report.slope_bytes_per_call == pytest.approx(1 << 20, rel=0.01)
    assert report.leaking()


CHUNK = 64 * 1024  # below glibc's smallest mmap threshold, so served from the brk heap


def _leave_resident_free_heap():
    # Free 100 MB of heap chunks, each pinned between live blocks so glibc cannot return it at
    # the top of the heap: it stays resident and new allocations reuse it without growing RSS.
    blocks = []
    for _ in range(1600):
        blocks += [bytearray(CHUNK), bytearray(1024)]
    del blocks[::2]
    return blocks


def test_leak_check_sees_leak_into_previously_freed_heap():
    pins = _leave_resident_free_heap()
    kept = []
    report = leak_check(lambda: kept.extend(bytearray(CHUNK) for _ in range(16)), calls=100)
    assert report.slope_bytes_per_call == pytest.approx(1 << 20, rel=0.2)
    del pins


def test_track_memory_sees_allocations_into_previously_freed_heap():
    pins = _leave_resident_free_heap()
    with track_memory() as mem:
        held = [bytearray(CHUNK) for _ in range(800)]  # 52 MB
    assert mem.result.deltas["host_rss_bytes"] >= 45 * MB
    del pins, held
