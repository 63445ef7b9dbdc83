"""Throughput of ESM-2 protein encoders at the published layouts (random weights, offline)."""

from machmeter.suites import EmbeddingSuite


class ESM2Encoder(EmbeddingSuite):
    params = (
        ["t6_8M", "t12_35M", "t30_150M", "t33_650M"],
        ["8x128", "32x256"],
        ["float32", "bfloat16"],
    )
    # On CPUs only the smallest layout runs; the others are GPU workloads.
    cpu_layouts = ("t6_8M",)

    def skip_reason(self, model, batch_size, sequence_length, dtype, device):
        if device.type == "cpu" and model not in self.cpu_layouts:
            return f"{model} runs on GPUs only (cpu_layouts={self.cpu_layouts})"
        return super().skip_reason(model, batch_size, sequence_length, dtype, device)

    def make_model(self, model, device, dtype):
        from machmeter.workloads.esm import build_esm_model

        return build_esm_model(model, dtype=dtype, device=device, attn_implementation="sdpa")

    def make_batch(self, model, batch_size, sequence_length, device):
        from machmeter.workloads.esm import esm_tokenizer, protein_batch

        return protein_batch(esm_tokenizer(), batch_size, sequence_length, device, seed=0)
