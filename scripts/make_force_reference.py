"""Write the force-field reference data in src/machmeter/data/reference/forces_<name>.json.

    python3 scripts/make_force_reference.py                  # every data set
    python3 scripts/make_force_reference.py --only sevennet0 # one (lj_argon, sevennet0)
    python3 scripts/make_force_reference.py --check          # compare with the stored files, write nothing

Each file holds a few small fixed structures (rattled, so that forces are not zero by symmetry) with
reference energies and forces, and how they were made. The benchmarks (ForceReferenceSuite,
TeacherStudentSuite) and the tests compare against them, so regenerate only when the reference itself
changes (a new model version), and say so in the commit:

* lj_argon: ASE's own ``LennardJones`` (numpy, float64), an implementation independent of machmeter's
  torch one, with the argon parameters of the LJ benchmarks: bulk, an FCC(111) slab (periodic in-plane
  only), a 55-atom icosahedral cluster and a benzene-shaped molecule (no cell).
* sevennet0: SevenNet-0 rebuilt in float64 on the CPU (the ``mlff`` extra); the shipped float32 model
  is checked against it before anything is written (it must agree to 1e-4 eV/A). Bulk Si, Cu, Al and
  water, an Al(111) slab, a 13-atom Cu cluster and an ethanol molecule.

New structures are appended after the existing ones, so that the stored ones keep their values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from machmeter.errors import MachmeterError  # noqa: E402
from machmeter.fileio import json_text, write_text_atomic  # noqa: E402
from machmeter.suites.students import predict, prediction_errors  # noqa: E402
from machmeter.workloads.mlff import FORCE_REFERENCES, force_reference_record  # noqa: E402
from machmeter.workloads.systems import (  # noqa: E402
    ALUMINIUM_LATTICE_A,
    ARGON_LATTICE_A,
    ARGON_LJ,
    COPPER_LATTICE_A,
    aluminium,
    cluster,
    copper,
    fcc111_slab,
    lj_molecule,
    molecule,
    silicon,
    water_box,
)

OUT = os.path.join(ROOT, "src", "machmeter", "data", "reference")
# The shipped float32 SevenNet-0 against its float64 rebuild: rounding differs at ~1e-6 eV/A.
FLOAT32_AGREEMENT_EV_PER_A = 1e-4


def _versions(*names: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _summary(errors: dict) -> dict:
    """The errors without their per-atom samples: the numbers a person reads in the metadata."""
    return {key: value for key, value in errors.items() if not key.endswith("__samples")}


def lj_argon():
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    structures = {}
    for label, lattice, rattle, seed in (("argon-32-rattled", ARGON_LATTICE_A, 0.10, 0),
                                         ("argon-32-compressed", 0.95 * ARGON_LATTICE_A, 0.05, 1)):
        atoms = bulk("Ar", "fcc", a=lattice, cubic=True).repeat((2, 2, 2))
        atoms.rattle(rattle, seed=seed)
        structures[label] = atoms
    structures["argon-slab111-12"] = fcc111_slab("Ar", ARGON_LATTICE_A, (2, 2, 3), rattle=0.10, seed=2)
    structures["argon-cluster-55"] = cluster("Ar", ARGON_LATTICE_A, 3, rattle=0.10, seed=3)
    structures["argon-benzene-shape-12"] = lj_molecule("C6H6", ARGON_LJ["sigma"], rattle=0.05, seed=4)
    energies, forces = predict(LennardJones(**ARGON_LJ), structures.values())
    metadata = {"reference": FORCE_REFERENCES["lj_argon"], "calculator": "ase.calculators.lj.LennardJones",
                "parameters": ARGON_LJ, "dtype": "float64", "versions": _versions("ase", "numpy")}
    return structures, energies, forces, metadata


def sevennet0():
    from machmeter.workloads.mlff import (
        SEVENNET_MODEL,
        sevennet_calculator,
        sevennet_checkpoint_sha256,
        sevennet_unavailable,
    )

    reason = sevennet_unavailable()
    if reason:
        raise MachmeterError(reason)
    structures = {"silicon-16-rattled": silicon(16, rattle=0.05, seed=0),
                  "copper-32-rattled": copper(32, rattle=0.05, seed=1),
                  "water-24": water_box(24, seed=2),
                  "aluminium-32-rattled": aluminium(32, rattle=0.05, seed=3),
                  "aluminium-slab111-12": fcc111_slab("Al", ALUMINIUM_LATTICE_A, (2, 2, 3), rattle=0.05, seed=4),
                  "copper-cluster-13": cluster("Cu", COPPER_LATTICE_A, 2, rattle=0.05, seed=5),
                  "ethanol": molecule("CH3CH2OH", rattle=0.02, seed=6)}
    energies, forces = predict(sevennet_calculator("cpu", "float64"), structures.values())
    shipped = _summary(prediction_errors(energies, forces, *predict(sevennet_calculator("cpu", "float32"),
                                                                    structures.values())))
    if shipped["force_max_error"] > FLOAT32_AGREEMENT_EV_PER_A:
        raise MachmeterError(f"the shipped float32 SevenNet-0 and its float64 rebuild disagree: {shipped}")
    metadata = {"reference": FORCE_REFERENCES["sevennet0"], "model": SEVENNET_MODEL,
                "checkpoint_sha256": sevennet_checkpoint_sha256(SEVENNET_MODEL), "dtype": "float64",
                "device": "cpu", "float32_model_errors": shipped,
                "versions": _versions("sevenn", "e3nn", "torch", "ase", "matscipy")}
    return structures, energies, forces, metadata


MAKERS = {"lj_argon": lj_argon, "sevennet0": sevennet0}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MAKERS), action="append", help="data set(s) to make")
    parser.add_argument("--out", default=OUT, help=f"folder (default: {OUT})")
    parser.add_argument("--check", action="store_true", help="compare with the stored files; write nothing")
    args = parser.parse_args(argv)
    status = 0
    for name in args.only or sorted(MAKERS):
        try:
            document = force_reference_record(*MAKERS[name]())
        except MachmeterError as error:
            print(f"make_force_reference: {name}: {error}", file=sys.stderr)
            status = 2
            continue
        path = os.path.join(args.out, f"forces_{name}.json")
        if args.check:
            with open(path, encoding="utf-8") as stream:
                stored = json.load(stream)["structures"]
            errors = prediction_errors([s["energy_eV"] for s in stored], [s["forces_eV_per_A"] for s in stored],
                                       [s["energy_eV"] for s in document["structures"]],
                                       [np.asarray(s["forces_eV_per_A"]) for s in document["structures"]])
            print(f"{name}: stored vs recomputed: {_summary(errors)}")
            continue
        write_text_atomic(path, json_text(document))
        os.chmod(path, 0o644)
        print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(document['structures'])} structures)")
    return status


if __name__ == "__main__":
    sys.exit(main())
