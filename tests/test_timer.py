import json
import logging
import math
import time

import numpy as np
import pytest
import torch

from machmeter.instruments import Measurement, synchronize, time_callable
from machmeter.instruments import timer

FIXED = [0.012, 0.010, 0.011, 0.015, 0.010, 0.030, 0.013, 0.009, 0.011, 0.012]


def _measurement(samples):
    return Measurement(samples=list(samples), method="perf_counter", device="cpu", warmup_calls=3, label="x")


def test_statistics_match_numpy():
    m = _measurement(FIXED)
    a = np.array(FIXED)
    assert m.n == len(FIXED)
    assert m.mean == pytest.approx(a.mean())
    assert m.median == pytest.approx(np.median(a))
    assert m.min == a.min() and m.max == a.max()
    assert m.stdev == pytest.approx(a.std(ddof=1))
    assert m.cv == pytest.approx(a.std(ddof=1) / a.mean())
    assert m.iqr == pytest.approx(np.percentile(a, 75) - np.percentile(a, 25))
    for q, value in ((90, m.p90), (95, m.p95), (99, m.p99)):
        assert value == pytest.approx(np.percentile(a, q))
    assert m.percentile(10) == pytest.approx(np.percentile(a, 10))
    assert set(m.summary()) == {"n", "mean", "median", "min", "max", "stdev", "cv", "iqr", "p90", "p95", "p99"}
    assert m.summary()["p95"] == m.p95


def test_statistics_of_tiny_sample_sets():
    single = _measurement([0.5])
    assert single.stdev == 0.0 and single.cv == 0.0 and single.median == 0.5
    empty = _measurement([])
    assert empty.n == 0 and empty.stdev == 0.0 and math.isnan(empty.mean) and math.isnan(empty.p99)


def test_round_trip_through_json():
    m = _measurement(FIXED)
    m.metadata["torch_version"] = "x"
    restored = Measurement.from_dict(json.loads(json.dumps(m.to_dict())))
    assert restored == m
    assert restored.samples == FIXED
    assert Measurement.from_dict({**m.to_dict(), "future_field": 1}) == m


def test_sleep_has_plausible_median():
    m = time_callable(lambda: time.sleep(0.002), target_time=0.05, label="sleep")
    assert m.method == "perf_counter" and m.device == "cpu" and m.label == "sleep"
    assert 0.002 <= m.median < 0.02
    assert m.metadata["torch_version"] == torch.__version__
    assert m.metadata["total_calls"] == m.warmup_calls + m.n


def test_min_repeats_honoured_when_target_time_is_reached_at_once():
    m = time_callable(lambda: None, warmup_calls=0, min_repeats=25, target_time=0.0)
    assert m.n == 25 and m.warmup_calls == 0


def test_max_repeats_caps_measurement():
    m = time_callable(lambda: None, min_repeats=3, max_repeats=7, target_time=60.0)
    assert m.n == 7


def test_target_time_bounds_measurement():
    m = time_callable(lambda: time.sleep(0.001), min_repeats=1, target_time=0.05)
    assert sum(m.samples) >= 0.05
    assert m.n < 60  # stopped soon after reaching target_time, far below max_repeats


def test_warmup_calls_run_before_measurement():
    calls = []

    def slow_first_calls():
        calls.append(None)
        if len(calls) <= 4:
            time.sleep(0.02)

    m = time_callable(slow_first_calls, warmup_calls=4, min_repeats=10, target_time=0.0)
    assert m.warmup_calls == 4
    assert len(calls) == 4 + m.n == m.metadata["total_calls"]
    assert m.max < 0.01  # none of the slow warm-up calls was measured


def test_warmup_time_extends_warmup():
    m = time_callable(lambda: time.sleep(0.005), warmup_calls=1, warmup_time=0.05, min_repeats=2, target_time=0.0)
    assert m.metadata["warmup_seconds"] >= 0.05
    assert m.warmup_calls >= 5


def test_invalid_repeat_bounds_rejected():
    with pytest.raises(ValueError):
        time_callable(lambda: None, min_repeats=10, max_repeats=5)


def test_synchronize_is_noop_on_cpu():
    synchronize()
    synchronize("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA fallback")
def test_cuda_request_without_cuda_falls_back_to_cpu(caplog):
    with caplog.at_level(logging.WARNING, logger="machmeter"):
        m = time_callable(lambda: time.sleep(0.001), device="cuda", target_time=0.01)
    assert m.method == "perf_counter" and m.device == "cpu" and m.n >= 10
    assert m.metadata["requested_device"] == "cuda"
    assert sum("is_available() is False" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.gpu
def test_cuda_events_time_gpu_work():
    m = time_callable(lambda: torch.cuda._sleep(1_000_000), device="cuda", min_repeats=20, target_time=0.05)
    assert m.method == "cuda_events" and m.device.startswith("cuda:")
    samples = np.array(m.samples)
    assert np.all(np.isfinite(samples)) and np.all(samples > 0)
    assert m.median > 1e-4  # 1M cycles at a few GHz at most: the events enclose the GPU work


@pytest.mark.gpu
def test_event_pool_is_reused_across_calls():
    x = torch.zeros(1, device="cuda")
    first = time_callable(lambda: x.add_(1), device="cuda", min_repeats=500, max_repeats=500, target_time=0.0)
    pool_size = len(timer._EVENT_POOLS[torch.cuda.current_device()])
    second = time_callable(lambda: x.add_(1), device="cuda", min_repeats=500, max_repeats=500, target_time=0.0)
    assert len(timer._EVENT_POOLS[torch.cuda.current_device()]) == pool_size
    for m in (first, second):
        samples = np.array(m.samples)
        assert m.n == 500 and np.all(np.isfinite(samples)) and np.all(samples > 0)


@pytest.mark.gpu
def test_event_pool_grows_mid_loop_without_losing_calls():
    x = torch.zeros(1, device="cuda")
    device = torch.device("cuda", torch.cuda.current_device())
    timer._EVENT_POOLS.pop(device.index, None)
    samples, extra = timer._time_cuda_events(
        lambda: x.add_(1), device, expected_calls=4, min_repeats=50, max_repeats=50, target_time=0.0
    )
    assert len(samples) == 50 and extra["event_chains"] > 1
    assert all(s > 0 and math.isfinite(s) for s in samples)


@pytest.mark.gpu
def test_sync_each_call_measures_end_to_end_latency():
    m = time_callable(lambda: torch.cuda._sleep(100_000), device="cuda", sync_each_call=True, target_time=0.02)
    assert m.method == "cuda_sync_wallclock"
    assert all(s > 0 and math.isfinite(s) for s in m.samples)
