"""Helpers shared by the BERT-style encoder workloads (ESM-2 in :mod:`machmeter.workloads.esm`, MiniLM in
:mod:`machmeter.workloads.minilm`): the parameter and FLOP counts of an encoder layer, and mean pooling
over the attention mask. They live here so that neither encoder module imports the other.
"""

from __future__ import annotations

import torch

__all__ = ["encoder_flops_per_token", "encoder_layer_parameters", "mean_pool", "mean_pooled_output"]


def encoder_layer_parameters(hidden_size: int, intermediate_size: int) -> int:
    """Parameters of one BERT-style encoder layer: Q, K, V, O projections with biases, two
    LayerNorms, and the two FFN projections with biases (ESM-2 and BERT/MiniLM alike)."""
    h, i = hidden_size, intermediate_size
    return 4 * (h * h + h) + 4 * h + (h * i + i) + (i * h + h)


def encoder_flops_per_token(non_embedding_parameters: int, num_layers: int, hidden_size: int, seq_len: int) -> int:
    """Forward FLOPs per token of a transformer encoder: ``2 N + 4 L seq_len hidden`` (module docstring)."""
    return 2 * non_embedding_parameters + 4 * num_layers * seq_len * hidden_size


def mean_pool(last_hidden_state: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token embeddings over the attention mask, in their own dtype, as
    sentence-transformers' ``Pooling(pooling_mode_mean_tokens=True)`` computes it."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    summed = (last_hidden_state * mask).sum(dim=1)
    counts = torch.clamp(mask.sum(dim=1), min=1e-9)
    return summed / counts


@torch.inference_mode()
def mean_pooled_output(model, encoded: dict) -> torch.Tensor:
    """The model's last hidden state for a tokenised batch, mean-pooled over its attention mask."""
    device = next(model.parameters()).device
    encoded = {name: tensor.to(device) for name, tensor in encoded.items()}
    return mean_pool(model(**encoded).last_hidden_state, encoded["attention_mask"])
