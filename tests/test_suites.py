"""machmeter's asv base classes, driven directly (the end-to-end test drives them through asv)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from machmeter.suites import EmbeddingSuite, GpuRunStateSuite, MeasuredSuite, declaration_of
from machmeter.suites.embedding import parse_shape


class Flaky(MeasuredSuite):
    params = (["ok", "oom", "broken", "skip"],)
    param_names = ["case"]

    def measure(self, case):
        if case == "oom":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        if case == "broken":
            raise ValueError("bad neighbour list")
        if case == "skip":
            raise NotImplementedError("needs an H100")
        return {"value": 3.0, "missing": None, "missing__unavailable": "no NVML"}


def test_one_measurement_pass_with_skips_oom_and_failures():
    suite = Flaky()
    measured = suite.setup_cache()
    suite.setup(measured, "ok")
    assert suite.metric("value") == 3.0
    assert math.isnan(suite.metric("missing"))  # asv's "skipped", not a failure
    with pytest.raises(NotImplementedError, match="out of memory at {'case': 'oom'}"):
        Flaky().setup(measured, "oom")
    with pytest.raises(NotImplementedError, match="needs an H100"):
        Flaky().setup(measured, "skip")
    with pytest.raises(RuntimeError, match="bad neighbour list"):
        Flaky().setup(measured, "broken")


class TinyEncoder(EmbeddingSuite):
    params = (["tiny"], ["2x16", "64x64"], ["float32"])
    device = "cpu"
    latency_target_time = 0.05
    cpu_max_tokens = 512

    def make_model(self, model, device, dtype):
        class Encoder(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(32, 16)
                self.mix = torch.nn.Linear(16, 16)

            def forward(self, input_ids, attention_mask):
                return self.mix(self.embed(input_ids)) * attention_mask[..., None]

        return Encoder().to(device=device, dtype=dtype).eval()

    def make_batch(self, model, batch_size, sequence_length, device):
        ids = torch.randint(0, 32, (batch_size, sequence_length), device=device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def test_embedding_suite_measures_and_reports_units():
    suite = TinyEncoder()
    measured = suite.setup_cache()
    suite.setup(measured, "tiny", "2x16", "float32")
    # rates and the median latency go to asv as per-call samples (asv's timing protocol): asv stores
    # their median, confidence interval and quartiles, so a check can test a change on them
    sequences = suite.track_sequences_per_second(measured, "tiny", "2x16", "float32")
    tokens = suite.track_tokens_per_second(measured, "tiny", "2x16", "float32")
    latency = suite.track_latency_p50(measured, "tiny", "2x16", "float32")
    for distribution in (sequences, tokens, latency):
        assert distribution["number"] == 1 and len(distribution["samples"]) >= suite.latency_min_calls
    assert all(s > 0 for s in sequences["samples"])
    assert tokens["samples"] == pytest.approx([16 * s for s in sequences["samples"]])
    assert sequences["samples"] == pytest.approx([2e3 / ms for ms in latency["samples"]])
    p95 = suite.track_latency_p95(measured, "tiny", "2x16", "float32")
    assert p95 >= sorted(latency["samples"])[len(latency["samples"]) // 2] * 0.999
    assert suite.track_peak_memory_host(measured, "tiny", "2x16", "float32") > 0
    # the torch CUDA allocator is not used on CPU: skipped (NaN), not failed
    assert math.isnan(suite.track_peak_memory_torch(measured, "tiny", "2x16", "float32"))
    suite.time_forward(measured, "tiny", "2x16", "float32")
    with pytest.raises(NotImplementedError, match="cpu_max_tokens"):
        TinyEncoder().setup(measured, "tiny", "64x64", "float32")
    assert declaration_of(TinyEncoder.track_tokens_per_second) == {
        "metric_kind": "throughput", "higher_is_better": True, "unit": "tokens/s"}


def test_parse_shape():
    assert parse_shape("32x256") == (32, 256)


def test_suites_import_without_torch():
    """asv imports every benchmark module at discovery and for each skipped combination: keep it light."""
    code = "import sys, machmeter.suites; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_asv_discovers_the_repository_suites_but_not_the_imported_base_classes():
    import pathlib

    from asv_runner.discovery import disc_benchmarks, update_sys_path

    root = str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks")
    update_sys_path(root)
    names = {benchmark.name for benchmark in disc_benchmarks(root)}
    assert "md_lennard_jones.LennardJonesArgon.time_md_step" in names
    assert "embeddings_esm.ESM2Encoder.track_tokens_per_second" in names
    assert "gpu_run_state.GpuRunState.track_gpu_sm_clock" in names
    bases = ("MDSuite", "EmbeddingSuite", "GpuRunStateSuite", "MeasuredSuite")
    assert not [name for name in names if name.split(".")[1] in bases]


def test_each_suite_class_has_its_own_asv_setup_cache():
    """asv keys setup caches by the function's module and line: an inherited one would be shared."""
    from asv_runner.benchmarks._base import get_setup_cache_key

    class First(Flaky):
        pass

    class Second(Flaky):
        pass

    keys = {get_setup_cache_key(cls.setup_cache) for cls in (Flaky, First, Second)}
    assert len(keys) == 3
    assert First().setup_cache().keys() == Flaky().setup_cache().keys()


class RunState(GpuRunStateSuite):
    device_index = 0


def test_run_state_without_nvml_is_an_asv_skip(monkeypatch):
    import machmeter.instruments as instruments

    monkeypatch.setattr(instruments, "collect_run_state", lambda index=0: None)
    with pytest.raises(NotImplementedError, match="NVML"):
        RunState().setup()


@pytest.mark.gpu
def test_run_state_is_sampled_under_load():
    suite = RunState()
    suite.setup()
    assert suite.track_gpu_sm_clock() > 0
    assert suite.track_gpu_power() > 0
    assert suite.track_gpu_throttled() == int(bool(set(suite.state.throttle_reasons)
                                                   - {"gpu_idle", "applications_clocks_setting", "sync_boost"}))
