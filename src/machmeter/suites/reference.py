"""Reference data of the installed package (``machmeter/data/reference/<name>.json``) for the suites that
check accuracy. Loading it is a suite's concern (a missing file is an asv skip), so it lives here and the
workloads, which only make and describe the data, never import suites.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # ase and numpy load only with the force reference: the embedding suites need neither
    from machmeter.workloads.mlff import ForceReference


def load_reference(name: str, how_to_make: str) -> dict:
    """Reference data ``machmeter/data/reference/<name>.json`` of the installed package: asv runs the
    benchmarks against the installed commit, so the data travels with the code it checks. Missing
    data is an asv skip that says how to write it."""
    import importlib.resources
    import json

    resource = importlib.resources.files("machmeter").joinpath(f"data/reference/{name}.json")
    try:
        return json.loads(resource.read_text("utf-8"))
    except FileNotFoundError:
        raise NotImplementedError(f"no reference data {name}.json in machmeter/data/reference ({how_to_make})") from None


def load_force_reference(name: str) -> ForceReference:
    """Reference data ``forces_<name>.json`` of the installed package (NotImplementedError: asv's skip,
    where it is missing)."""
    import numpy as np
    from ase import Atoms

    from machmeter.workloads.mlff import ForceReference

    document = load_reference(f"forces_{name}", "python3 scripts/make_force_reference.py writes it")
    structures, energies, forces = [], [], []
    for entry in document["structures"]:
        structures.append(Atoms(numbers=entry["numbers"], positions=entry["positions"], cell=entry["cell"],
                                pbc=entry["pbc"], info={"label": entry["label"]}))
        energies.append(float(entry["energy_eV"]))
        forces.append(np.asarray(entry["forces_eV_per_A"], dtype=float))
    return ForceReference(name, structures, energies, forces, document.get("metadata", {}))
