"""ESM-2 protein encoders at the published layouts (random weights, offline): throughput, memory and
MFU against the GPU's datasheet peak, SDPA and eager attention; and, at a small batch that CPUs run
too, latency, achieved TFLOP/s, the dtype's matmul peak on this device and the accuracy of each dtype
and attention against stored reference embeddings.

Models are "<layout>/<attention>", where "<attention>+cudagraph" is the same model replayed from CUDA
graphs (GPUs only): the student of the launch-bound small layouts, measured beside the eager model and
against the same reference. asv runs every benchmark of every parameter combination in a
process of its own (about half a second each on a GPU runner, plus seconds to import torch and
initialise CUDA once per class), so combinations are chosen, not multiplied, and each class offers
only the benchmarks it is for: together they take about a minute per commit on an H100.
"""

import os

from machmeter.suites.embedding import EmbeddingSuite


def _layout(model):
    return model.partition("/")[0]


_GRAPHED = "+cudagraph"


def _split(variant):
    """'sdpa+cudagraph' -> ('sdpa', True); 'eager' -> ('eager', False)."""
    if variant.endswith(_GRAPHED):
        return variant[: -len(_GRAPHED)], True
    return variant, False


def _graphed(model):
    return _split(model.partition("/")[2])[1]


def _maybe_graphed(module, graphed):
    if not graphed:
        return module
    # asv runs this file against older commits too: the eager models need nothing new from machmeter
    try:
        from machmeter.workloads.cuda_graphs import CudaGraphModule
    except ImportError:
        raise NotImplementedError("this commit's machmeter has no CUDA-graph module") from None
    return CudaGraphModule(module)


class _ESM2(EmbeddingSuite):
    """What both ESM classes share: "<layout>/<attention>" models, random weights, FLOP counts."""

    params = (["t6_8M/sdpa"], ["8x512"], ["float32", "bfloat16"])
    cpu_layouts = ("t6_8M",)

    def skip_reason(self, model, batch_size, sequence_length, dtype, device):
        if device.type == "cpu" and _layout(model) not in self.cpu_layouts:
            return f"{_layout(model)} runs on GPUs only (cpu_layouts={self.cpu_layouts})"
        if device.type != "cuda" and _graphed(model):
            return "CUDA graphs need a CUDA GPU"
        return super().skip_reason(model, batch_size, sequence_length, dtype, device)

    def make_model(self, model, device, dtype):
        from machmeter.workloads.esm import build_esm_model

        layout, _, variant = model.partition("/")
        attention, graphed = _split(variant)
        return _maybe_graphed(build_esm_model(layout, dtype=dtype, device=device, attn_implementation=attention),
                              graphed)

    def make_batch(self, model, batch_size, sequence_length, device):
        from machmeter.workloads.esm import esm_tokenizer, protein_batch

        return protein_batch(esm_tokenizer(), batch_size, sequence_length, device, seed=0)

    def forward_flops(self, model, batch_size, sequence_length):
        from machmeter.workloads.esm import forward_flops

        return forward_flops(_layout(model), batch_size, sequence_length)


class ESM2Encoder(_ESM2):
    """8 proteins of 512 tokens on a GPU: every layout 8M to 650M with SDPA, 650M with eager attention
    too (t6_8M's is in ESM2EncoderSmallBatch), 3B in bf16 (MACHMETER_ESM_3B=0 leaves it out), and the
    two launch-bound layouts replayed from CUDA graphs."""

    params = (
        ["t6_8M/sdpa", "t12_35M/sdpa", "t30_150M/sdpa", "t33_650M/sdpa", "t36_3B/sdpa", "t33_650M/eager",
         "t6_8M/sdpa+cudagraph", "t12_35M/sdpa+cudagraph"],
        ["8x512"],
        ["float32", "bfloat16"],
    )
    benchmarks = ("track_sequences_per_second", "track_tokens_per_second", "track_peak_memory_torch", "track_mfu")
    latency_target_time = 0.3

    def skip_reason(self, model, batch_size, sequence_length, dtype, device):
        if _layout(model) == "t36_3B":
            if os.environ.get("MACHMETER_ESM_3B", "1") == "0":
                return "MACHMETER_ESM_3B=0"
            if dtype != "bfloat16":  # 11 GB of float32 weights and 0.4 s a call: not per commit
                return "t36_3B is measured in bfloat16 only"
        return super().skip_reason(model, batch_size, sequence_length, dtype, device)


class ESM2EncoderSmallBatch(_ESM2):
    """t6_8M at 2x128, SDPA and eager (and SDPA from CUDA graphs on GPUs), on CPUs and GPUs: a small request's latency and tokens/s, the
    dtype's matmul peak here, and accuracy against the float32 CPU reference of the same seeded
    weights (machmeter/data/reference/embeddings_esm.json): six real proteins, padded into one batch,
    mean-pooled."""

    params = (["t6_8M/sdpa", "t6_8M/eager", "t6_8M/sdpa+cudagraph"], ["2x128"], ["float32", "bfloat16"])
    benchmarks = ("track_tokens_per_second", "track_latency_p50", "track_matmul_peak_tflops",
                  "track_cosine_to_reference_min")
    reference_name = "embeddings_esm"
    latency_target_time = 0.3

    def make_model(self, model, device, dtype):
        from machmeter.workloads.esm import build_esm_model, weight_sums

        layout, _, variant = model.partition("/")
        attention, graphed = _split(variant)
        # The reference's weights: drawn on the CPU in float32, then moved and cast (CUDA and CPU
        # generators, and float32 and bf16 draws, give other weights).
        module = build_esm_model(layout, device="cpu", attn_implementation=attention)
        self._weight_sums = weight_sums(module)
        return _maybe_graphed(module.to(device=device, dtype=dtype), graphed)

    def reference_key(self, model):
        return _layout(model)

    def reference_mismatch(self, model, entry):
        import math

        expected = entry["identity"]["weight_sums"]
        if all(math.isclose(self._weight_sums[k], expected[k], rel_tol=1e-9, abs_tol=1e-6) for k in expected):
            return None
        return (f"{_layout(model)} seed {entry['identity']['seed']} draws other weights here than the reference's "
                f"(sums {self._weight_sums} vs {expected}): regenerate with scripts/make_embedding_reference.py")

    def embed(self, model, module, inputs):
        from machmeter.workloads.esm import embed_proteins, esm_tokenizer

        return embed_proteins(module, esm_tokenizer(), inputs)
