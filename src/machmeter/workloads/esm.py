"""ESM-2 protein language-model encoders as benchmark workloads.

The models are built offline from :class:`transformers.EsmConfig` at the
published ESM-2 layouts, with random weights (the values do not matter for
throughput; they are drawn at the model's own initialisation scale, normal with
std ``initializer_range`` = 0.02, so activations stay finite and free of
denormals). Nothing is downloaded: the tokenizer vocabulary ships as package
data (``machmeter/data/esm2_vocab.txt``).

Parameter counts
----------------
``EsmLayout.published_parameters`` is the exact parameter count of the
published ESM-2 checkpoint (``fair-esm`` / facebookresearch/esm ``.pt`` files,
i.e. ``sum(p.numel() for p in model.parameters())`` of the released model),
which equals ``transformers.EsmForMaskedLM(config)`` counted with the tied
decoder weight once. It consists of:

* token embeddings ``vocab_size x hidden``;
* ``num_layers`` transformer layers, each: Q, K, V, O projections with biases
  ``4 (h^2 + h)``, two LayerNorms ``4h``, FFN ``2 h i + i + h``;
* the final LayerNorm (``emb_layer_norm_after``) ``2h``;
* the contact-prediction head ``num_layers * num_heads + 1``;
* the masked-LM head: dense ``h^2 + h``, LayerNorm ``2h``, output bias
  ``vocab_size`` (its weight is tied to the token embeddings).

Rotary position embeddings have no parameters. :func:`build_esm_model` returns
the bare encoder, ``EsmModel(config, add_pooling_layer=False)``, which holds
everything above except the masked-LM head (``EsmLayout.encoder_parameters``,
0.2 %-1.4 % fewer than published). The Hugging Face hub copies of the
checkpoints additionally store an unused legacy absolute position-embedding
table of ``1026 x hidden`` (``EsmLayout.hf_checkpoint_parameters``; e.g.
7,840,794 for t6_8M, the figure the hub shows).

FLOPs
-----
:func:`model_flops_per_token` / :func:`forward_flops` use the standard
encoder estimate (Kaplan et al. 2020, as used for MFU)::

    flops_per_token = 2 * N_nonembedding + 4 * n_layers * seq_len * hidden

where ``N_nonembedding`` (``EsmLayout.non_embedding_parameters``) counts the
transformer layers plus the final LayerNorm (not the token embeddings, the
contact head or the LM head, none of which does matmul work in an encoder
forward), ``2 N`` is one multiply-add per weight per token, and
``4 L s h`` = ``2 * 2 * L * s * h`` is the attention score (``Q K^T``) and
attention-weighted value (``A V``) matmuls, each ``2 s h`` FLOPs per token per
layer. Softmax, LayerNorm, GELU, rotary and bias adds are not counted.
``forward_flops(layout, batch, seq_len) = batch * seq_len *
model_flops_per_token(layout, seq_len)``; a training step is conventionally 3x.
"""

from __future__ import annotations

import contextlib
import importlib.resources
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from machmeter.workloads.encoders import encoder_flops_per_token, encoder_layer_parameters, mean_pooled_output

__all__ = [
    "AMINO_ACIDS",
    "ESM2_LAYOUTS",
    "ESM2_VOCAB",
    "EsmLayout",
    "build_esm_model",
    "count_parameters",
    "embed_proteins",
    "esm_config",
    "esm_tokenizer",
    "forward_flops",
    "get_layout",
    "model_flops_per_token",
    "protein_batch",
    "random_protein_sequences",
    "supported_attn_implementations",
    "weight_sums",
]

#: The 20 standard amino acids (one-letter codes).
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"

#: ESM-2 vocabulary in the published order (token id == index).
ESM2_VOCAB: tuple[str, ...] = (
    "<cls>", "<pad>", "<eos>", "<unk>",
    "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N",
    "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-",
    "<null_1>", "<mask>",
)  # fmt: skip

_VOCAB_RESOURCE = "data/esm2_vocab.txt"

# Config values shared by all published ESM-2 checkpoints.
_COMMON_CONFIG = dict(
    vocab_size=33,
    max_position_embeddings=1026,
    position_embedding_type="rotary",
    token_dropout=True,
    layer_norm_eps=1e-5,
    emb_layer_norm_before=False,
    mask_token_id=32,
    pad_token_id=1,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    initializer_range=0.02,
)


@dataclass(frozen=True)
class EsmLayout:
    """One published ESM-2 architecture.

    ``published_parameters``: exact parameter count of the released checkpoint
    (encoder + contact head + masked-LM head with tied decoder; see the module
    docstring). The ``*_parameters`` properties are analytic counts that match
    what transformers builds for this layout exactly.
    """

    name: str
    hf_model_id: str
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    published_parameters: int
    vocab_size: int = 33
    max_position_embeddings: int = 1026

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def layer_parameters(self) -> int:
        """Parameters of one transformer layer (attention, FFN, 2 LayerNorms)."""
        return encoder_layer_parameters(self.hidden_size, self.intermediate_size)

    @property
    def non_embedding_parameters(self) -> int:
        """Transformer layers + final LayerNorm: the ``N`` of the FLOP estimate."""
        return self.num_layers * self.layer_parameters + 2 * self.hidden_size

    @property
    def encoder_parameters(self) -> int:
        """What :func:`build_esm_model` returns: ``EsmModel`` without pooler.

        Token embeddings + layers + final LayerNorm + contact head.
        """
        return (
            self.vocab_size * self.hidden_size
            + self.non_embedding_parameters
            + self.num_layers * self.num_heads
            + 1
        )

    @property
    def lm_head_parameters(self) -> int:
        """Masked-LM head without its (tied) decoder weight."""
        h = self.hidden_size
        return h * h + h + 2 * h + self.vocab_size

    @property
    def hf_checkpoint_parameters(self) -> int:
        """Count of the HF hub safetensors: published + unused absolute position table."""
        return self.published_parameters + self.max_position_embeddings * self.hidden_size

    def config(self, **overrides):
        """``transformers.EsmConfig`` for this layout (see :func:`esm_config`)."""
        return esm_config(self, **overrides)


ESM2_LAYOUTS: dict[str, EsmLayout] = {
    "t6_8M": EsmLayout("t6_8M", "facebook/esm2_t6_8M_UR50D", 6, 320, 20, 1280, 7_512_474),
    "t12_35M": EsmLayout("t12_35M", "facebook/esm2_t12_35M_UR50D", 12, 480, 20, 1920, 33_501_394),
    "t30_150M": EsmLayout("t30_150M", "facebook/esm2_t30_150M_UR50D", 30, 640, 20, 2560, 148_140_154),
    "t33_650M": EsmLayout("t33_650M", "facebook/esm2_t33_650M_UR50D", 33, 1280, 20, 5120, 651_043_254),
    "t36_3B": EsmLayout("t36_3B", "facebook/esm2_t36_3B_UR50D", 36, 2560, 40, 10240, 2_839_005_634),
}


def get_layout(layout: str | EsmLayout) -> EsmLayout:
    if isinstance(layout, EsmLayout):
        return layout
    try:
        return ESM2_LAYOUTS[layout]
    except KeyError:
        raise KeyError(f"unknown ESM-2 layout {layout!r}; known: {sorted(ESM2_LAYOUTS)}") from None


def esm_config(layout: str | EsmLayout, **overrides):
    """``transformers.EsmConfig`` for a published layout (``overrides`` win)."""
    from transformers import EsmConfig

    lay = get_layout(layout)
    kwargs = dict(_COMMON_CONFIG)
    kwargs.update(
        vocab_size=lay.vocab_size,
        max_position_embeddings=lay.max_position_embeddings,
        num_hidden_layers=lay.num_layers,
        hidden_size=lay.hidden_size,
        num_attention_heads=lay.num_heads,
        intermediate_size=lay.intermediate_size,
    )
    kwargs.update(overrides)
    return EsmConfig(**kwargs)


# --------------------------------------------------------------------- model


def supported_attn_implementations() -> tuple[str, ...]:
    """Attention implementations the installed transformers' ESM declares.

    Declared is not the same as usable: ``flash_attention_2`` also needs the
    ``flash-attn`` package, CUDA and fp16/bf16; ``flex_attention`` needs a torch
    with FlexAttention. ESM declares ``sdpa`` only from transformers ~4.56 (the
    attention-interface refactor); older 4.x have ``eager`` (+ FA2 from ~4.49).
    """
    from transformers import EsmModel

    impls = ["eager"]
    if getattr(EsmModel, "_supports_sdpa", False):
        impls.append("sdpa")
    if getattr(EsmModel, "_supports_flash_attn", False) or getattr(
        EsmModel, "_supports_flash_attn_2", False
    ):
        impls.append("flash_attention_2")
    if getattr(EsmModel, "_supports_flex_attn", False):
        impls.append("flex_attention")
    return tuple(impls)


def _dtype_kwarg() -> str:
    """transformers renamed ``torch_dtype`` to ``dtype`` in 4.56."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__).release >= (4, 56) else "torch_dtype"


@contextlib.contextmanager
def _skip_torch_default_init() -> Iterator[None]:
    """Skip torch's default ``reset_parameters`` of Linear/Embedding/LayerNorm.

    transformers re-initialises every one of these in ``post_init`` (normal with
    std ``initializer_range``, zero biases, unit LayerNorm weights), so torch's
    own kaiming-uniform pass is redundant work (~25 % of a CPU build of t33).
    Patches the classes for the duration of the block (not thread-safe).
    """
    classes = (torch.nn.Linear, torch.nn.Embedding, torch.nn.LayerNorm)
    saved = [(cls, cls.__dict__.get("reset_parameters")) for cls in classes]
    try:
        for cls in classes:
            cls.reset_parameters = lambda self: None
        yield
    finally:
        for cls, fn in saved:
            if fn is None:
                del cls.reset_parameters
            else:
                cls.reset_parameters = fn


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the RNG that initialises weights on ``device``; restore it afterwards."""
    cuda_devices = []
    if device.type == "cuda":
        cuda_devices = [device.index if device.index is not None else torch.cuda.current_device()]
    if device.type == "meta":  # nothing is drawn
        yield
        return
    with torch.random.fork_rng(devices=cuda_devices):
        torch.random.default_generator.manual_seed(seed)
        for idx in cuda_devices:
            with torch.cuda.device(idx):
                torch.cuda.manual_seed(seed)
        yield


def build_esm_model(
    layout: str | EsmLayout,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attn_implementation: str = "sdpa",
    seed: int = 0,
):
    """Random-weight ``transformers.EsmModel`` (no pooler) at a published layout.

    The model is constructed directly in ``dtype`` on ``device`` (``"meta"``
    gives a weightless model, e.g. for counting parameters), with torch's
    redundant default init skipped; weights come from transformers' own
    ``_init_weights`` under ``seed`` (the global RNG state is restored). Weights
    are deterministic per device type for a given seed, but CPU and CUDA draws
    differ: to compare devices, build on CPU and ``.to("cuda")``.

    Returned in eval mode with ``requires_grad`` off on all parameters.
    ``attn_implementation``: see :func:`supported_attn_implementations`.
    """
    from transformers import EsmModel

    lay = get_layout(layout)
    device = torch.device(device)
    known = {"eager", "sdpa", "flash_attention_2", "flex_attention"}
    if attn_implementation in known and attn_implementation not in supported_attn_implementations():
        import transformers

        raise ValueError(
            f"transformers {transformers.__version__} ESM does not support "
            f"attn_implementation={attn_implementation!r}; supported: "
            f"{supported_attn_implementations()}"
        )
    config = esm_config(lay)
    kwargs = {
        "add_pooling_layer": False,
        "attn_implementation": attn_implementation,
        _dtype_kwarg(): dtype,
    }
    with _seeded(seed, device), _skip_torch_default_init(), device:
        model = EsmModel._from_config(config, **kwargs)
    model.eval()
    model.requires_grad_(False)
    return model


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (shared/tied tensors counted once; works on meta)."""
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------- tokenizer


def esm_tokenizer():
    """``transformers.EsmTokenizer`` with the ESM-2 vocabulary from package data."""
    from transformers import EsmTokenizer

    resource = importlib.resources.files("machmeter").joinpath(_VOCAB_RESOURCE)
    with importlib.resources.as_file(resource) as path:
        return EsmTokenizer(vocab_file=str(path))


def random_protein_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    """``n`` random sequences of ``length`` residues over the 20 standard amino acids."""
    if n < 0 or length < 0:
        raise ValueError(f"n and length must be >= 0, got n={n}, length={length}")
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(AMINO_ACIDS.encode("ascii"), dtype=np.uint8)
    codes = letters[rng.integers(0, len(letters), size=(n, length))]
    return [row.tobytes().decode("ascii") for row in codes]


def protein_batch(
    tokenizer,
    batch_size: int,
    seq_len: int,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Tokenised random proteins: exactly ``seq_len`` tokens per row, no padding.

    ``seq_len`` includes the special tokens (``<cls>`` ... ``<eos>`` for ESM), so
    each protein has ``seq_len - 2`` residues. Returns ``input_ids`` and
    ``attention_mask`` (all ones), both ``(batch_size, seq_len)`` int64 on
    ``device``.
    """
    n_special = tokenizer.num_special_tokens_to_add(pair=False)
    if seq_len <= n_special:
        raise ValueError(f"seq_len must exceed the {n_special} special tokens, got {seq_len}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    seqs = random_protein_sequences(batch_size, seq_len - n_special, seed=seed)
    enc = tokenizer(seqs, add_special_tokens=True, padding=False, return_tensors="pt")
    input_ids = enc["input_ids"]
    if tuple(input_ids.shape) != (batch_size, seq_len):
        raise RuntimeError(
            f"tokenizer produced shape {tuple(input_ids.shape)}, expected {(batch_size, seq_len)}"
        )
    attention_mask = enc.get("attention_mask")
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": attention_mask.to(device),
    }


# --------------------------------------------------------------------- FLOPs


def model_flops_per_token(layout: str | EsmLayout, seq_len: int) -> int:
    """Forward FLOPs per token: ``2 N_nonembedding + 4 L seq_len hidden``."""
    lay = get_layout(layout)
    return encoder_flops_per_token(lay.non_embedding_parameters, lay.num_layers, lay.hidden_size, seq_len)


def forward_flops(layout: str | EsmLayout, batch: int, seq_len: int) -> int:
    """Forward FLOPs of one ``(batch, seq_len)`` encoder pass (see module docstring)."""
    return batch * seq_len * model_flops_per_token(layout, seq_len)


# ---------------------------------------------------------------- embeddings


@torch.inference_mode()
def embed_proteins(model, tokenizer, sequences: list[str]) -> torch.Tensor:
    """Per-protein embeddings ``(len(sequences), hidden)`` in the model's dtype and on its device.

    The proteins are padded to the longest one in a single batch, so the attention mask is exercised
    (a broken mask in an attention kernel shows in the shorter proteins' embeddings); the last hidden
    state is mean-pooled over the mask, special tokens included, as sentence embedders pool.
    """
    return mean_pooled_output(model, tokenizer(sequences, padding=True, return_tensors="pt"))


def weight_sums(model: torch.nn.Module) -> dict[str, float]:
    """Sum of all weights and of their squares, in float64: the identity of a random-weight model.

    The same layout and seed give the same sums only where torch's CPU generator and transformers'
    initialisation draw the same numbers; a reference computed with other draws does not apply.
    """
    total = squares = 0.0
    for parameter in model.parameters():
        flat = parameter.detach().reshape(-1).double()
        total += float(flat.sum())
        squares += float(torch.dot(flat, flat))
    return {"sum": total, "sum_of_squares": squares}
