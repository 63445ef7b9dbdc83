"""Write the labelled protein set that EmbeddingTeacherStudentSuite's downstream probe is trained on,
``src/machmeter/data/reference/embedding_probe.json``.

Two classes of sequences that differ the way real protein families do in their residue composition:
class 1 is rich in hydrophobic residues (A I L M F V W, as membrane segments are), class 0 in charged
and polar ones (D E K R S T N Q, as disordered regions are); every sequence also draws from all 20
residues, and lengths vary (40-120). A linear probe on a good embedding separates them well, and a
student whose embeddings lose the composition signal loses accuracy: the probe measures what the
embedding keeps, not what a trained model knows (the suites' weights may be random).

    python3 scripts/make_embedding_probe.py          # deterministic: the same file every time
"""

from __future__ import annotations

import json
import os

import numpy as np

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
HYDROPHOBIC = set("AILMFVW")
CHARGED_POLAR = set("DEKRSTNQ")
PER_CLASS = 32
ENRICHMENT = 2.0   # the favoured residues are drawn this many times as often as the others
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "machmeter", "data",
                   "reference", "embedding_probe.json")


def sequences_of(favoured: set[str], count: int, rng) -> list[str]:
    weights = np.array([ENRICHMENT if a in favoured else 1.0 for a in AMINO_ACIDS])
    weights /= weights.sum()
    return ["".join(rng.choice(list(AMINO_ACIDS), size=int(rng.integers(40, 121)), p=weights)) for _ in range(count)]


def main() -> None:
    rng = np.random.default_rng(20261203)
    rows = [(s, 1) for s in sequences_of(HYDROPHOBIC, PER_CLASS, rng)]
    rows += [(s, 0) for s in sequences_of(CHARGED_POLAR, PER_CLASS, rng)]
    order = rng.permutation(len(rows))
    data = {
        "description": "hydrophobic-rich (1) against charged/polar-rich (0) proteins, 40-120 residues; "
                       "written by scripts/make_embedding_probe.py",
        "sequences": [rows[i][0] for i in order],
        "labels": [rows[i][1] for i in order],
    }
    with open(OUT, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1)
        stream.write("\n")
    print(f"{OUT}: {len(rows)} sequences")


if __name__ == "__main__":
    main()
