"""The ESM-2 benchmarks (benchmarks/embeddings_esm.py) and the embedding suites' FLOP, MFU and
accuracy machinery, at small sizes on the CPU; the CUDA paths are GPU-marked."""

from __future__ import annotations

import pytest
import torch

import machmeter.suites.embedding as embedding
from benchmarks import embeddings_esm, embeddings_minilm
from machmeter.instruments.timer import Measurement
from machmeter.suites import declaration_of
from machmeter.suites.embedding import EmbeddingSuite, embedding_reference, flop_metrics
from machmeter.workloads.esm import build_esm_model, embed_proteins, esm_tokenizer, forward_flops


def quick(cls, **params):
    """The benchmark class with a short measurement, for tests."""
    return type(f"Quick{cls.__name__}", (cls,), {"latency_target_time": 0.02, "latency_min_calls": 3,
                                                  "warmup_calls": 1, **params})


def test_small_batch_measures_throughput_accuracy_and_matmul_peak_on_cpu():
    suite_class = quick(embeddings_esm.ESM2EncoderSmallBatch, params=(["t6_8M/sdpa"], ["2x16"], ["float32"]),
                        matmul_target_time=0.01)
    suite = suite_class()
    measured = suite.setup_cache()
    params = ("t6_8M/sdpa", "2x16", "float32")
    suite.setup(measured, *params)
    metrics = suite.metrics
    flops = forward_flops("t6_8M", 2, 16)
    latency_s = [ms / 1e3 for ms in metrics["latency_ms_p50__samples"]]
    # every TFLOP/s sample is the counted FLOPs over that call's time
    assert metrics["model_tflops__samples"] == pytest.approx([flops / s / 1e12 for s in latency_s])
    assert len(latency_s) >= 3 and all(t > 0 for t in metrics["model_tflops__samples"])
    assert all(t > 0 for t in suite.track_matmul_peak_tflops(measured, *params)["samples"])
    # float32 on the CPU against the float32 CPU reference of the same weights: the same numbers
    assert suite.track_cosine_to_reference_min(measured, *params) > 1 - 1e-9
    # no datasheet peak for a CPU: recorded with the reason; this class does not offer MFU to asv
    assert metrics["mfu_percent"] is None and "CPU" in metrics["mfu_percent__unavailable"]
    assert suite.track_mfu is None and suite.track_model_tflops is None and suite_class.track_energy_per_batch is None


def test_a_suite_offers_asv_only_the_benchmarks_it_names():
    offered = {name for name in dir(embeddings_esm.ESM2Encoder)
               if name.startswith(("time_", "track_")) and callable(getattr(embeddings_esm.ESM2Encoder, name))}
    assert offered == set(embeddings_esm.ESM2Encoder.benchmarks)
    assert embeddings_esm.ESM2Encoder.time_forward is None
    # a subclass naming a benchmark that its parent left out gets it back
    Again = type("Again", (embeddings_esm.ESM2Encoder,), {"benchmarks": ("time_forward", "track_latency_p95")})
    assert callable(Again.time_forward) and callable(Again.track_latency_p95) and Again.track_mfu is None
    with pytest.raises(TypeError, match="track_typo"):
        type("Typo", (embeddings_esm.ESM2Encoder,), {"benchmarks": ("track_typo",)})


def test_gpu_only_combinations_skip_on_cpu_with_the_reason():
    measured = quick(embeddings_esm.ESM2Encoder,
                     params=(["t6_8M/sdpa", "t33_650M/eager"], ["8x512"], ["bfloat16"]))().setup_cache()
    assert "cpu_max_tokens" in measured["'t6_8M/sdpa'|'8x512'|'bfloat16'"]["skip"]
    assert "runs on GPUs only" in measured["'t33_650M/eager'|'8x512'|'bfloat16'"]["skip"]
    graphed = quick(embeddings_esm.ESM2EncoderSmallBatch,
                    params=(["t6_8M/sdpa+cudagraph"], ["2x16"], ["float32"]))().setup_cache()
    assert graphed["'t6_8M/sdpa+cudagraph'|'2x16'|'float32'"]["skip"] == "CUDA graphs need a CUDA GPU"


def test_graph_variants_are_offered_for_the_launch_bound_layouts():
    assert "t6_8M/sdpa+cudagraph" in embeddings_esm.ESM2EncoderSmallBatch.params[0]
    assert {"t6_8M/sdpa+cudagraph", "t12_35M/sdpa+cudagraph"} <= set(embeddings_esm.ESM2Encoder.params[0])
    from machmeter.workloads.cuda_graphs import CudaGraphModule

    assert embeddings_esm._split("sdpa+cudagraph") == ("sdpa", True)
    assert embeddings_esm._split("eager") == ("eager", False)
    with pytest.raises(ValueError, match="CUDA tensors only"):
        CudaGraphModule(torch.nn.Identity())(x=torch.zeros(2))


def test_a_module_that_says_its_allocator_peak_means_nothing_gets_the_reason_not_a_number():
    class Declared(embeddings_esm.ESM2EncoderSmallBatch):
        def make_model(self, model, device, dtype):
            module = super().make_model(model, device, dtype)
            module.allocator_peak_unavailable = "replays allocate nothing"
            return module

    suite = quick(Declared, params=(["t6_8M/sdpa"], ["2x16"], ["float32"]))()
    metrics = suite.setup_cache()["'t6_8M/sdpa'|'2x16'|'float32'"]["metrics"]
    assert metrics["peak_torch_allocated_bytes"] is None
    assert metrics["peak_torch_allocated_bytes__unavailable"] == "replays allocate nothing"
    from machmeter.workloads.cuda_graphs import CudaGraphModule

    assert "allocates nothing" in CudaGraphModule.allocator_peak_unavailable


def test_an_older_machmeter_without_cuda_graphs_skips_only_the_graph_variants(monkeypatch):
    # asv runs the newest benchmarks/ against older commits' machmeter
    monkeypatch.setitem(__import__("sys").modules, "machmeter.workloads.cuda_graphs", None)
    module = torch.nn.Identity()
    assert embeddings_esm._maybe_graphed(module, False) is module
    with pytest.raises(NotImplementedError, match="no CUDA-graph module"):
        embeddings_esm._maybe_graphed(module, True)


def test_esm_3b_is_bf16_only_and_can_be_left_to_a_nightly_run(monkeypatch):
    suite_class = quick(embeddings_esm.ESM2Encoder, params=(["t36_3B/sdpa"], ["8x512"], ["float32", "bfloat16"]))
    measured = suite_class().setup_cache()
    assert measured["'t36_3B/sdpa'|'8x512'|'float32'"] == {"skip": "t36_3B is measured in bfloat16 only"}
    monkeypatch.setenv("MACHMETER_ESM_3B", "0")
    measured = suite_class().setup_cache()
    assert measured["'t36_3B/sdpa'|'8x512'|'bfloat16'"] == {"skip": "MACHMETER_ESM_3B=0"}


def test_mfu_arithmetic_against_a_tabled_gpu(monkeypatch):
    monkeypatch.setattr(embedding, "gpu_name", lambda device: "NVIDIA H100 80GB HBM3")
    flops = forward_flops("t33_650M", 8, 512)
    latency = Measurement(samples=[0.025, 0.030], method="cuda_events", device="cuda:0", warmup_calls=0)
    metrics = flop_metrics(flops, latency, "cuda", "bfloat16", "unused")
    assert metrics["mfu_percent"] == pytest.approx(100 * flops / 0.0275 / 989.4e12)
    assert metrics["mfu_percent__samples"] == pytest.approx([100 * flops / 0.025 / 989.4e12,
                                                            100 * flops / 0.030 / 989.4e12])
    assert metrics["peak_precision"] == "bfloat16" and metrics["peak_tflops"] == pytest.approx(989.4)
    # float32 products without TF32 run on the CUDA cores: divided by that (much lower) peak
    fp32 = flop_metrics(flops, latency, "cuda", "float32", "unused")
    assert fp32["peak_precision"] == "float32" and fp32["peak_tflops"] == pytest.approx(66.9)


def test_mfu_on_an_untabled_gpu_is_skipped_with_the_name(monkeypatch):
    monkeypatch.setattr(embedding, "gpu_name", lambda device: "NVIDIA GeForce RTX 4090")
    latency = Measurement(samples=[0.01], method="cuda_events", device="cuda:0", warmup_calls=0)
    metrics = flop_metrics(10**12, latency, "cuda", "bfloat16", "unused")
    assert metrics["model_tflops"] == pytest.approx(100.0)
    assert metrics["mfu_percent"] is None and "RTX 4090" in metrics["mfu_percent__unavailable"]
    none = flop_metrics(None, latency, "cuda", "bfloat16", "no FLOP count")
    assert none["model_tflops"] is None and none["mfu_percent__unavailable"] == "no FLOP count"


def test_reference_data_is_what_the_seeded_model_computes_now():
    entry = embedding_reference("embeddings_esm")["models"]["t6_8M"]
    model = build_esm_model("t6_8M", seed=entry["identity"]["seed"])
    embeddings = embed_proteins(model, esm_tokenizer(), entry["inputs"]).double()
    reference = torch.tensor(entry["embeddings"], dtype=torch.float64)
    assert embeddings.shape == reference.shape == (6, 320)
    torch.testing.assert_close(embeddings, reference, atol=1e-5, rtol=1e-4)
    assert entry["float32_vs_float64"]["embedding_max_abs_difference"] < 1e-4


def accuracy_pass(suite_class=embeddings_esm.ESM2EncoderSmallBatch, **attributes):
    """The small-batch class's measurement of t6 in both attentions and dtypes."""
    suite_class = quick(suite_class, params=(["t6_8M/sdpa", "t6_8M/eager"], ["2x16"], ["float32", "bfloat16"]),
                        **attributes)
    suite_class.track_matmul_peak_tflops = None  # not what these tests are about
    return suite_class().setup_cache()


def test_accuracy_of_each_dtype_and_attention_against_the_reference():
    measured = accuracy_pass()
    for attention in ("sdpa", "eager"):
        fp32 = measured[f"'t6_8M/{attention}'|'2x16'|'float32'"]["metrics"]
        bf16 = measured[f"'t6_8M/{attention}'|'2x16'|'bfloat16'"]["metrics"]
        assert fp32["cosine_min"] > 1 - 1e-9
        # bf16 is measurably lossy, and not by much
        assert 0.999 < bf16["cosine_min"] <= bf16["cosine_mean"] < 1 - 1e-7
        assert bf16["pair_similarity_error_max"] is None  # the proteins come without pairs


def test_accuracy_catches_a_broken_attention_mask():
    class MaskIgnored(embeddings_esm.ESM2EncoderSmallBatch):
        def embed(self, model, module, inputs):
            from machmeter.workloads.encoders import mean_pool

            encoded = esm_tokenizer()(inputs, padding=True, return_tensors="pt")
            with torch.inference_mode():  # padding attended to: the bug an attention kernel can bring
                hidden = module(input_ids=encoded["input_ids"]).last_hidden_state
            return mean_pool(hidden, encoded["attention_mask"])

    fp32 = accuracy_pass(MaskIgnored)["'t6_8M/sdpa'|'2x16'|'float32'"]["metrics"]
    assert fp32["cosine_min"] < 0.999


def test_other_weights_skip_the_accuracy_instead_of_reporting_a_change(monkeypatch):
    import machmeter.workloads.esm as esm

    monkeypatch.setattr(esm, "weight_sums", lambda model: {"sum": 1.0, "sum_of_squares": 2.0})
    metrics = accuracy_pass()["'t6_8M/sdpa'|'2x16'|'float32'"]["metrics"]
    assert metrics["cosine_min"] is None
    assert "regenerate with scripts/make_embedding_reference.py" in metrics["cosine_min__unavailable"]
    assert metrics["tokens_per_second"] > 0  # throughput is still measured


def test_accuracy_metrics_declare_direction_and_tolerance():
    cls = embeddings_esm.ESM2EncoderSmallBatch
    assert declaration_of(cls.track_cosine_to_reference_min) == {
        "metric_kind": "accuracy", "higher_is_better": True, "unit": "cosine", "tolerance_abs": 1e-3}
    assert declaration_of(EmbeddingSuite.track_pair_similarity_error_max)["higher_is_better"] is False
    assert declaration_of(embeddings_esm.ESM2Encoder.track_mfu) == {
        "metric_kind": "throughput", "higher_is_better": True, "unit": "%"}


def test_asv_discovers_the_embedding_benchmarks_but_not_the_imported_bases():
    import pathlib

    from asv_runner.discovery import disc_benchmarks, update_sys_path

    root = str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks")
    update_sys_path(root)
    names = {benchmark.name for benchmark in disc_benchmarks(root)}
    embedding_names = {name for name in names if name.startswith(("embeddings_esm.", "embeddings_minilm."))}
    expected = {f"embeddings_esm.{cls.__name__}.{b}" for cls in (embeddings_esm.ESM2Encoder,
                                                                 embeddings_esm.ESM2EncoderSmallBatch)
                for b in cls.benchmarks}
    expected |= {f"embeddings_minilm.MiniLMEncoder.{b}" for b in embeddings_minilm.MiniLMEncoder.benchmarks}
    assert embedding_names == expected


# ---------------------------------------------------------------------- GPU


@pytest.mark.gpu
def test_mfu_of_t6_and_t33_on_the_gpu_is_of_the_anchors_order():
    """Anchors (H200, bf16, SDPA, 8x512): t6 2.7 % (launch-bound), t33 22 %."""
    suite_class = quick(embeddings_esm.ESM2Encoder, params=(["t6_8M/sdpa", "t33_650M/sdpa"], ["8x512"], ["bfloat16"]),
                        latency_target_time=0.3, latency_min_calls=10)
    measured = suite_class().setup_cache()
    t6 = measured["'t6_8M/sdpa'|'8x512'|'bfloat16'"]["metrics"]
    t33 = measured["'t33_650M/sdpa'|'8x512'|'bfloat16'"]["metrics"]
    if t33["mfu_percent"] is None:
        pytest.skip(t33["mfu_percent__unavailable"])
    assert 0.3 < t6["mfu_percent"] < 15
    assert 8 < t33["mfu_percent"] < 60
    assert t33["peak_torch_allocated_bytes"] > 1.3e9  # 650M bf16 weights
    assert t33["tokens_per_second"] > 5e4


@pytest.mark.gpu
def test_accuracy_on_the_gpu():
    measured = accuracy_pass(latency_target_time=0.05)
    for attention in ("sdpa", "eager"):
        fp32 = measured[f"'t6_8M/{attention}'|'2x16'|'float32'"]["metrics"]
        bf16 = measured[f"'t6_8M/{attention}'|'2x16'|'bfloat16'"]["metrics"]
        assert fp32["device"] == "cuda"
        assert fp32["cosine_min"] > 1 - 1e-6  # TF32 is off by default: float32 on the GPU is float32
        assert 0.999 < bf16["cosine_min"] < 1 - 1e-7


@pytest.mark.gpu
def test_matmul_peak_on_the_gpu_is_near_the_datasheet():
    suite_class = quick(embeddings_esm.ESM2EncoderSmallBatch, params=(["t6_8M/sdpa"], ["2x16"], ["bfloat16"]))
    metrics = suite_class().setup_cache()["'t6_8M/sdpa'|'2x16'|'bfloat16'"]["metrics"]
    from machmeter.instruments.peak_flops import lookup_peak
    from machmeter.suites.embedding import gpu_name

    datasheet = lookup_peak(gpu_name("cuda"), "bfloat16")
    if datasheet.flops is None:
        pytest.skip(datasheet.reason)
    assert 0.3 < metrics["matmul_peak_tflops"] * 1e12 / datasheet.flops < 1.05


@pytest.mark.gpu
def test_cuda_graph_replays_what_the_eager_model_computes_for_each_input():
    from machmeter.workloads.cuda_graphs import CudaGraphModule
    from machmeter.workloads.esm import protein_batch

    model = build_esm_model("t6_8M", device="cuda")
    graphed = CudaGraphModule(model)
    tokenizer = esm_tokenizer()
    with torch.inference_mode():
        for seed in (0, 1):  # the second batch replays the captured graph on new values
            batch = protein_batch(tokenizer, 2, 64, "cuda", seed=seed)
            eager = model(**batch).last_hidden_state.clone()
            replayed = graphed(**batch).last_hidden_state.clone()
            torch.testing.assert_close(replayed, eager, rtol=1e-4, atol=1e-4)
    assert len(graphed._captured) == 1
    # captured under inference_mode, replayed outside it: the static inputs take the copy
    torch.testing.assert_close(graphed(**batch).last_hidden_state.clone(), eager, rtol=1e-4, atol=1e-4)
    # the accuracy pass pads six real proteins: another signature, another graph, the same embeddings
    proteins = ["MKTAYIAKQR", "MSEQNNTEMTFQIQRIYTKDISFEAPNAPHVFQKDW", "GAVLIMFWP"]
    torch.testing.assert_close(embed_proteins(graphed, tokenizer, proteins).clone(),
                               embed_proteins(model, tokenizer, proteins), rtol=1e-4, atol=1e-4)
    assert len(graphed._captured) == 2


@pytest.mark.gpu
def test_cuda_graph_variant_measures_throughput_and_accuracy_on_the_gpu():
    suite_class = quick(embeddings_esm.ESM2EncoderSmallBatch,
                        params=(["t6_8M/sdpa", "t6_8M/sdpa+cudagraph"], ["2x128"], ["bfloat16"]),
                        latency_target_time=0.2, latency_min_calls=10)
    measured = suite_class().setup_cache()
    eager = measured["'t6_8M/sdpa'|'2x128'|'bfloat16'"]["metrics"]
    graphed = measured["'t6_8M/sdpa+cudagraph'|'2x128'|'bfloat16'"]["metrics"]
    assert graphed["device"] == "cuda" and graphed["tokens_per_second"] > 0
    assert graphed["cosine_min"] > 0.999  # bf16 from a graph: as close to the reference as bf16 eager
    print(f"t6_8M 2x128 bf16: eager {eager['latency_ms_p50']:.3f} ms, CUDA graph {graphed['latency_ms_p50']:.3f} ms "
          f"(x{eager['latency_ms_p50'] / graphed['latency_ms_p50']:.2f})")
