import importlib.resources

import pytest
import torch

from machmeter.workloads.esm import (
    AMINO_ACIDS,
    ESM2_LAYOUTS,
    ESM2_VOCAB,
    build_esm_model,
    count_parameters,
    esm_config,
    esm_tokenizer,
    forward_flops,
    model_flops_per_token,
    protein_batch,
    random_protein_sequences,
    supported_attn_implementations,
)

# Published architecture: (layers, hidden, heads, intermediate).
PUBLISHED_LAYOUT = {
    "t6_8M": (6, 320, 20, 1280),
    "t12_35M": (12, 480, 20, 1920),
    "t30_150M": (30, 640, 20, 2560),
    "t33_650M": (33, 1280, 20, 5120),
    "t36_3B": (36, 2560, 40, 10240),
}

# Exact parameter counts of the released fair-esm checkpoints
# (sum of numel over model.parameters(), tied decoder counted once).
PUBLISHED_COUNTS = {
    "t6_8M": 7_512_474,
    "t12_35M": 33_501_394,
    "t30_150M": 148_140_154,
    "t33_650M": 651_043_254,
    "t36_3B": 2_839_005_634,
}


@pytest.fixture(scope="module")
def tokenizer():
    return esm_tokenizer()


@pytest.fixture(scope="module")
def t6_fp32_sdpa():
    return build_esm_model("t6_8M", attn_implementation="sdpa", seed=0)


def test_layouts_match_published_architecture():
    assert set(ESM2_LAYOUTS) == set(PUBLISHED_LAYOUT)
    for name, (layers, hidden, heads, inter) in PUBLISHED_LAYOUT.items():
        lay = ESM2_LAYOUTS[name]
        assert (lay.num_layers, lay.hidden_size, lay.num_heads, lay.intermediate_size) == (
            layers,
            hidden,
            heads,
            inter,
        )
        cfg = esm_config(name)
        assert cfg.num_hidden_layers == layers and cfg.hidden_size == hidden
        assert cfg.num_attention_heads == heads and cfg.intermediate_size == inter
        assert cfg.vocab_size == 33 and cfg.max_position_embeddings == 1026
        assert cfg.position_embedding_type == "rotary" and cfg.token_dropout is True
        assert cfg.layer_norm_eps == 1e-5 and cfg.emb_layer_norm_before is False
        assert cfg.mask_token_id == 32 and cfg.pad_token_id == 1 and cfg.hidden_act == "gelu"


@pytest.mark.parametrize("name", sorted(PUBLISHED_LAYOUT))
def test_parameter_counts_meta(name):
    from transformers import EsmForMaskedLM

    lay = ESM2_LAYOUTS[name]
    # What build_esm_model returns (EsmModel, no pooler), built weightless.
    encoder = build_esm_model(name, device="meta")
    assert next(encoder.parameters()).device.type == "meta"
    n_encoder = count_parameters(encoder)
    assert n_encoder == lay.encoder_parameters
    assert n_encoder == lay.published_parameters - lay.lm_head_parameters
    # The published checkpoint = encoder + contact head + masked-LM head (tied decoder).
    with torch.device("meta"):
        mlm = EsmForMaskedLM._from_config(esm_config(name))
    n_published = count_parameters(mlm)
    assert n_published == lay.published_parameters == PUBLISHED_COUNTS[name]
    # The bare encoder is within 1.5 % of the published count (LM head only missing).
    assert 0 < (n_published - n_encoder) / n_published < 0.015
    # non-embedding parameters: layers + final LayerNorm
    assert lay.non_embedding_parameters == sum(
        p.numel() for n, p in encoder.named_parameters() if n.startswith("encoder.")
    )


def test_t6_hub_count():
    # The hub lists facebook/esm2_t6_8M_UR50D at 7,840,794 parameters.
    assert ESM2_LAYOUTS["t6_8M"].hf_checkpoint_parameters == 7_840_794


def test_vocab_file_matches():
    text = importlib.resources.files("machmeter").joinpath("data/esm2_vocab.txt").read_text("utf-8")
    assert tuple(text.splitlines()) == ESM2_VOCAB
    assert len(ESM2_VOCAB) == 33


def test_tokenizer_ids(tokenizer):
    enc = tokenizer("MKTAYIAK")
    assert enc["input_ids"] == [0, 20, 15, 11, 5, 19, 12, 5, 15, 2]
    assert tokenizer.convert_ids_to_tokens(enc["input_ids"]) == (
        ["<cls>"] + list("MKTAYIAK") + ["<eos>"]
    )
    assert len(tokenizer) == 33
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.unk_token_id, tokenizer.mask_token_id) == (3, 32)
    for i, tok in enumerate(ESM2_VOCAB):
        assert tokenizer.convert_tokens_to_ids(tok) == i


def test_random_sequences():
    seqs = random_protein_sequences(5, 17, seed=3)
    assert len(seqs) == 5 and all(len(s) == 17 for s in seqs)
    assert set("".join(seqs)) <= set(AMINO_ACIDS)
    assert seqs == random_protein_sequences(5, 17, seed=3)
    assert seqs != random_protein_sequences(5, 17, seed=4)
    assert len(set("".join(random_protein_sequences(20, 100)))) == 20


@pytest.mark.parametrize("batch,seq_len", [(8, 64), (4, 128), (1, 3), (3, 1026)])
def test_protein_batch(tokenizer, batch, seq_len):
    b = protein_batch(tokenizer, batch, seq_len, "cpu", seed=1)
    assert set(b) == {"input_ids", "attention_mask"}
    ids, mask = b["input_ids"], b["attention_mask"]
    assert ids.shape == (batch, seq_len) and mask.shape == (batch, seq_len)
    assert ids.dtype == torch.long and ids.device.type == "cpu"
    assert bool((mask == 1).all())
    assert bool((ids[:, 0] == 0).all()) and bool((ids[:, -1] == 2).all())
    inner = ids[:, 1:-1]
    aa_ids = torch.tensor([tokenizer.convert_tokens_to_ids(a) for a in AMINO_ACIDS])
    assert bool(torch.isin(inner, aa_ids).all())
    assert torch.equal(ids, protein_batch(tokenizer, batch, seq_len, "cpu", seed=1)["input_ids"])


def test_protein_batch_too_short(tokenizer):
    with pytest.raises(ValueError):
        protein_batch(tokenizer, 2, 2, "cpu")


def test_flops():
    lay = ESM2_LAYOUTS["t6_8M"]
    s = 128
    expect = 2 * lay.non_embedding_parameters + 4 * 6 * s * 320
    assert model_flops_per_token("t6_8M", s) == expect
    assert forward_flops("t6_8M", 4, s) == 4 * s * expect
    assert forward_flops(lay, 4, s) == forward_flops("t6_8M", 4, s)
    # 650M: ~1.3 GFLOP/token of weights at short sequence length
    assert 1.29e9 < model_flops_per_token("t33_650M", 1) < 1.31e9


def test_build_t6_properties(t6_fp32_sdpa):
    m = t6_fp32_sdpa
    assert not m.training
    assert m.pooler is None
    assert m.config._attn_implementation == "sdpa"
    assert all(not p.requires_grad for p in m.parameters())
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert count_parameters(m) == ESM2_LAYOUTS["t6_8M"].encoder_parameters
    # initialised at the model's own scale, not left empty
    w = m.encoder.layer[0].attention.self.query.weight
    assert 0.015 < float(w.std()) < 0.025
    assert bool((m.encoder.layer[0].attention.LayerNorm.weight == 1).all())
    assert bool((m.encoder.layer[0].attention.self.query.bias == 0).all())
    # deterministic for a seed; different seeds differ
    again = build_esm_model("t6_8M", seed=0)
    other = build_esm_model("t6_8M", seed=1)
    assert torch.equal(w, again.encoder.layer[0].attention.self.query.weight)
    assert not torch.equal(w, other.encoder.layer[0].attention.self.query.weight)


def test_build_does_not_touch_global_rng():
    torch.manual_seed(123)
    expect = torch.rand(3)
    torch.manual_seed(123)
    build_esm_model("t6_8M", seed=7)
    assert torch.equal(torch.rand(3), expect)


def test_unknown_layout():
    with pytest.raises(KeyError):
        build_esm_model("t99_1T", device="meta")


def test_attn_implementations_declared():
    impls = supported_attn_implementations()
    assert "eager" in impls and "sdpa" in impls


@torch.no_grad()
def test_forward_t6_fp32(t6_fp32_sdpa, tokenizer):
    b = protein_batch(tokenizer, 2, 32, "cpu")
    out = t6_fp32_sdpa(**b).last_hidden_state
    assert out.shape == (2, 32, 320)
    assert out.dtype == torch.float32
    assert bool(torch.isfinite(out).all())


@torch.no_grad()
def test_eager_matches_sdpa(t6_fp32_sdpa, tokenizer):
    eager = build_esm_model("t6_8M", attn_implementation="eager", seed=0)
    assert eager.config._attn_implementation == "eager"
    for (n1, p1), (n2, p2) in zip(eager.named_parameters(), t6_fp32_sdpa.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)
    b = protein_batch(tokenizer, 2, 32, "cpu")
    ref = eager(**b).last_hidden_state
    out = t6_fp32_sdpa(**b).last_hidden_state
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    # with padding: the valid positions must agree too
    mask = b["attention_mask"].clone()
    mask[1, 20:] = 0
    ids = b["input_ids"].clone()
    ids[1, 20:] = tokenizer.pad_token_id
    ref = eager(input_ids=ids, attention_mask=mask).last_hidden_state
    out = t6_fp32_sdpa(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    torch.testing.assert_close(out[valid], ref[valid], atol=1e-4, rtol=1e-4)


@torch.no_grad()
def test_forward_t6_bf16_cpu(tokenizer):
    m = build_esm_model("t6_8M", dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in m.parameters())
    b = protein_batch(tokenizer, 2, 32, "cpu")
    out = m(**b).last_hidden_state
    assert out.shape == (2, 32, 320) and out.dtype == torch.bfloat16
    assert bool(torch.isfinite(out.float()).all())


# ---------------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@torch.no_grad()
def test_forward_t6_cuda(tokenizer, dtype):
    m = build_esm_model("t6_8M", dtype=dtype, device="cuda", attn_implementation="sdpa")
    p = next(m.parameters())
    assert p.device.type == "cuda" and p.dtype == dtype
    b = protein_batch(tokenizer, 8, 64, "cuda")
    out = m(**b).last_hidden_state
    torch.cuda.synchronize()
    assert out.shape == (8, 64, 320) and out.dtype == dtype and out.device.type == "cuda"
    assert bool(torch.isfinite(out.float()).all())


@pytest.mark.gpu
@torch.no_grad()
def test_cuda_fp32_matches_cpu(t6_fp32_sdpa, tokenizer):
    # same weights: build on CPU, copy to the GPU (CPU and CUDA RNG draws differ)
    gpu = build_esm_model("t6_8M", attn_implementation="sdpa", seed=0).to("cuda")
    b = protein_batch(tokenizer, 4, 64, "cpu")
    ref = t6_fp32_sdpa(**b).last_hidden_state
    out = gpu(**{k: v.to("cuda") for k, v in b.items()}).last_hidden_state.cpu()
    # loose: CUDA matmuls may use TF32
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=2e-2)


@pytest.mark.gpu
def test_build_on_cuda_directly():
    m = build_esm_model("t12_35M", dtype=torch.bfloat16, device="cuda")
    assert all(p.device.type == "cuda" for p in m.parameters())
    assert all(b.device.type == "cuda" for b in m.buffers())
    assert count_parameters(m) == ESM2_LAYOUTS["t12_35M"].encoder_parameters
