"""The pretrained machine-learning force field this repository benchmarks itself with: SevenNet-0.

SevenNet-0 (``sevenn``, the ``mlff`` extra) ships its weights inside its wheel, so it runs offline. It is
an E(3)-equivariant message-passing network (e3nn tensor products, 5 A cutoff) trained on the Materials
Project relaxation trajectories (MPtrj); its ASE calculator builds the neighbour graph on the CPU
(matscipy) and runs the network on the chosen device.

* :func:`sevennet_unavailable` / :func:`require_sevennet`: the one availability check (asv skips with
  its reason when the extra is absent).
* :func:`sevennet_calculator`: the model in float32 (as shipped), or rebuilt in float64, float16 or
  bfloat16 (for reference data and reduced-precision students).
* :func:`force_reference_record`: reference structures, energies and forces as stored in
  ``machmeter/data/reference/forces_<name>.json`` (written by ``scripts/make_force_reference.py``;
  :func:`machmeter.suites.reference.load_force_reference` reads them back).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import warnings
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

__all__ = [
    "FORCE_REFERENCES",
    "SEVENNET_MODEL",
    "ForceReference",
    "force_reference_record",
    "require_sevennet",
    "sevennet_calculator",
    "sevennet_checkpoint_sha256",
    "sevennet_unavailable",
]

#: The pretrained model: SevenNet-0 (11 July 2024), the checkpoint inside the sevenn wheel.
SEVENNET_MODEL = "7net-0"

#: Reference data sets in machmeter/data/reference/, and what made each (see the script).
FORCE_REFERENCES = {
    "lj_argon": "ASE's own LennardJones (numpy, float64) on rattled FCC argon: bulk, a (111) slab, a cluster, "
                "a molecule-shaped group",
    "sevennet0": "SevenNet-0 rebuilt in float64 on the CPU, on rattled Si, Cu, Al and a water box, an Al(111) "
                 "slab, a Cu cluster and an ethanol molecule",
}

_DTYPES = ("float32", "float64", "float16", "bfloat16")


def sevennet_unavailable() -> str | None:
    """Why SevenNet-0 cannot run here, or None when it can."""
    if importlib.util.find_spec("sevenn") is None:
        return "SevenNet-0 needs the mlff extra: pip install 'machmeter[mlff]' (sevenn)"
    try:
        import sevenn.calculator  # noqa: F401  (e3nn, torch_geometric and matscipy come with it)
    except Exception as error:  # noqa: BLE001 - a broken install is a reason to skip, not to crash discovery
        return f"sevenn is installed but does not import: {type(error).__name__}: {error}"
    return None


def require_sevennet() -> None:
    """asv's skip (NotImplementedError with the reason) where SevenNet-0 cannot run."""
    reason = sevennet_unavailable()
    if reason:
        raise NotImplementedError(reason)


@functools.lru_cache(maxsize=2)
def _checkpoint(model: str):
    from sevenn.util import load_checkpoint

    return load_checkpoint(model)


@functools.lru_cache(maxsize=2)
def _shipped_state_dict(model: str) -> dict:
    # built through the checkpoint, which applies sevenn's patches to old state dicts
    return _checkpoint(model).build_model().state_dict()


@contextlib.contextmanager
def _default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _rebuilt_model(model: str, dtype):
    """The network rebuilt in ``dtype``, with the shipped weights.

    ``.to(dtype)`` alone is not enough: e3nn bakes constants of the default dtype into its generated
    tensor-product code when a module is built, so the network is built under that dtype, and the
    one-hot node embedding, which sevenn casts to float32, is cast back at each top-level module.
    """
    import torch
    from sevenn.model_build import build_E3_equivariant_model

    with _default_dtype(dtype):
        network = build_E3_equivariant_model(_checkpoint(model).config)
    network.load_state_dict(_shipped_state_dict(model))
    network.set_is_batch_data(False)
    network.to(dtype=dtype)

    def cast_inputs(_module, args):
        (data,) = args
        for key in data.keys():
            value = data[key]
            if torch.is_tensor(value) and value.is_floating_point() and value.dtype != dtype:
                data[key] = value.to(dtype)

    for child in network.children():
        child.register_forward_pre_hook(cast_inputs)
    return network


def _rebuilt_calculator_class():
    import torch
    from sevenn.calculator import SevenNetCalculator

    class RebuiltSevenNet(SevenNetCalculator):
        """SevenNet's calculator for a network in another dtype: outputs go to ASE as float32 or
        float64 (numpy has no bfloat16)."""

        def output_to_results(self, output):
            plain = {key: output[key] for key in output.keys()}
            return super().output_to_results({
                key: value.float() if torch.is_tensor(value) and value.dtype in (torch.float16, torch.bfloat16)
                else value for key, value in plain.items()})

    return RebuiltSevenNet


def sevennet_calculator(device="cpu", dtype: str = "float32", *, model: str = SEVENNET_MODEL):
    """SevenNet-0's ASE calculator on ``device``: float32 is the shipped model; float64, float16 and
    bfloat16 rebuild the network in that dtype (every weight and activation, not autocast)."""
    require_sevennet()
    if dtype not in _DTYPES:
        from machmeter.errors import MachmeterError

        raise MachmeterError(f"SevenNet dtype must be one of {', '.join(_DTYPES)}, not {dtype!r}")
    import torch

    with warnings.catch_warnings():
        # sevenn warns on every construction that no tensor-product accelerator (cuEquivariance,
        # FlashTP) is enabled: the plain e3nn path is the one measured here
        warnings.filterwarnings("ignore", message=".*accelerator.*")
        if dtype == "float32":
            from sevenn.calculator import SevenNetCalculator

            return SevenNetCalculator(model, device=torch.device(device))
        network = _rebuilt_model(model, getattr(torch, dtype))
        return _rebuilt_calculator_class()(network, file_type="model_instance", device=torch.device(device))


def sevennet_checkpoint_sha256(model: str = SEVENNET_MODEL) -> str:
    """SHA-256 of the installed checkpoint: what identifies the weights that reference data came from."""
    import hashlib

    from sevenn.util import pretrained_name_to_path

    digest = hashlib.sha256()
    with open(pretrained_name_to_path(model), "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- reference data ---------------------------------------------------------------------------------
@dataclass
class ForceReference:
    """Structures with reference energies (eV) and forces (eV/A), and how they were made."""

    name: str
    structures: list[Atoms]
    energies: list[float]
    forces: list[np.ndarray]
    metadata: dict = field(default_factory=dict)


def _atoms_record(atoms: Atoms) -> dict:
    return {"numbers": atoms.numbers.tolist(), "positions": np.round(atoms.positions, 10).tolist(),
            "cell": np.round(atoms.cell.array, 10).tolist(), "pbc": atoms.pbc.tolist()}


def force_reference_record(structures: dict[str, Atoms], energies, forces, metadata: dict) -> dict:
    """The JSON document of a reference data set (structures keyed by a label)."""
    if not (len(structures) == len(energies) == len(forces)):
        raise ValueError("need one energy and one force array per structure")
    return {
        "metadata": metadata,
        "structures": [
            {"label": label, **_atoms_record(atoms), "energy_eV": float(energy),
             # 1e-7 eV/A: far below any tolerance, and a few KB per data set
             "forces_eV_per_A": np.round(np.asarray(force, dtype=float), 7).tolist()}
            for (label, atoms), energy, force in zip(structures.items(), energies, forces)
        ],
    }
