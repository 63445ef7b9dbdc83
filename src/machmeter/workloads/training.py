"""Training-step workloads: a force field fitted to energies and forces, and an encoder fine-tuned through
a regression head (the models of ``benchmarks/training.py``).

Force field
-----------
:class:`TrainableLennardJones` is the Lennard-Jones pair potential of :mod:`machmeter.workloads.lj`
(ASE's semantics: the pair energy shifted to zero at ``rc``) with epsilon and sigma as trainable
parameters. A batch (:func:`lj_training_batch`) holds rattled FCC argon structures flattened into one
graph, as machine-learned force-field trainers batch them: the neighbour pairs are built with the data
(on the CPU, once), and the targets come from :class:`~machmeter.workloads.lj.LJPotential` at argon's
parameters in float64. :func:`energy_force_loss` computes the forces as ``-dE/dx`` with
``create_graph=True``, so the force term backpropagates into the parameters through a second
derivative: the double backward that makes force-field training cost what it does.

Encoder
-------
:class:`MeanPooledRegressor` puts a linear head on an encoder's mean-pooled last hidden state (the
usual fine-tuning of a protein or sentence embedder for a property); :func:`regression_loss` is its
mean squared error against the batch's targets.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from machmeter.workloads.encoders import mean_pool

__all__ = [
    "MeanPooledRegressor",
    "TrainableLennardJones",
    "energy_force_loss",
    "lj_training_batch",
    "regression_loss",
]


class TrainableLennardJones(torch.nn.Module):
    """Lennard-Jones pair potential with trainable ``epsilon`` (eV) and ``sigma`` (Å); ``rc`` is fixed.

    The parameters are stored as logarithms, so that no optimiser step can make them negative.
    ``forward(positions, batch)`` gives each structure's energy from the batch's pairs
    (:func:`lj_training_batch`).
    """

    def __init__(self, epsilon: float, sigma: float, rc: float):
        super().__init__()
        self.log_epsilon = torch.nn.Parameter(torch.tensor(math.log(epsilon), dtype=torch.float64))
        self.log_sigma = torch.nn.Parameter(torch.tensor(math.log(sigma), dtype=torch.float64))
        self.rc = float(rc)

    @property
    def epsilon(self) -> torch.Tensor:
        return self.log_epsilon.exp()

    @property
    def sigma(self) -> torch.Tensor:
        return self.log_sigma.exp()

    def forward(self, positions: torch.Tensor, batch: dict) -> torch.Tensor:
        d = positions.index_select(0, batch["j"]) - positions.index_select(0, batch["i"]) + batch["shift_vectors"]
        r2 = (d * d).sum(-1)
        epsilon, sigma = self.epsilon, self.sigma
        c6 = (sigma * sigma / r2) ** 3
        c6_at_cutoff = (sigma / self.rc) ** 6
        pair = 4.0 * epsilon * (c6 * c6 - c6 - (c6_at_cutoff * c6_at_cutoff - c6_at_cutoff))
        energies = torch.zeros(batch["n_structures"], dtype=pair.dtype, device=pair.device)
        return energies.index_add(0, batch["pair_structure"], pair)


def lj_training_batch(n_structures: int, n_atoms: int, device, dtype: torch.dtype, *, rattle: float = 0.1,
                      seed: int = 0) -> dict:
    """``n_structures`` FCC argon structures of ``n_atoms`` atoms, each rattled by ``rattle`` Å (seeded),
    with reference energies (eV) and forces (eV/Å) of argon's Lennard-Jones (float64, then cast).

    The structures are one graph: ``positions`` ``(n_structures * n_atoms, 3)``, the half neighbour
    list ``i``, ``j`` and ``shift_vectors`` in those global indices, and ``pair_structure``, the
    structure of each pair; ``energy`` ``(n_structures,)`` and ``forces`` like ``positions``.
    """
    from machmeter.workloads.lj import LJPotential, neighbor_list
    from machmeter.workloads.systems import ARGON_LJ, lj_argon

    if n_structures < 1:
        raise ValueError(f"n_structures must be >= 1, got {n_structures}")
    reference = LJPotential(**ARGON_LJ)
    parts = {name: [] for name in ("positions", "i", "j", "shift_vectors", "pair_structure", "energy", "forces")}
    for index in range(n_structures):
        atoms = lj_argon(n_atoms)
        # a perfect lattice has no forces (symmetry) and one energy: nothing to fit
        atoms.rattle(rattle, seed=seed + index)
        positions = torch.from_numpy(np.ascontiguousarray(atoms.positions))
        cell = torch.from_numpy(atoms.cell.array)
        i, j, shifts = neighbor_list(positions, cell, atoms.pbc, ARGON_LJ["rc"])
        energy, forces = reference.energy_forces(positions, cell, atoms.pbc)
        offset = index * n_atoms
        parts["positions"].append(positions)
        parts["i"].append(i + offset)
        parts["j"].append(j + offset)
        parts["shift_vectors"].append(shifts.to(torch.float64) @ cell)
        parts["pair_structure"].append(torch.full_like(i, index))
        parts["energy"].append(energy.reshape(1))
        parts["forces"].append(forces)
    batch = {name: torch.cat(values).to(device) for name, values in parts.items()}
    for name in ("positions", "shift_vectors", "energy", "forces"):
        batch[name] = batch[name].to(dtype)
    batch.update(n_structures=n_structures, atoms_per_structure=n_atoms)
    return batch


def energy_force_loss(model: torch.nn.Module, batch: dict, force_weight: float = 1.0) -> torch.Tensor:
    """MSE of the energy per atom plus ``force_weight`` times the MSE of the force components.

    The forces are ``-dE/dx`` with ``create_graph=True``: without it they would be constants to the
    optimiser, and the force term would train nothing.
    """
    positions = batch["positions"].detach().requires_grad_(True)
    energies = model(positions, batch)
    (gradient,) = torch.autograd.grad(energies.sum(), positions, create_graph=True)
    atoms = batch["atoms_per_structure"]
    energy_loss = torch.nn.functional.mse_loss(energies / atoms, batch["energy"] / atoms)
    force_loss = torch.nn.functional.mse_loss(-gradient, batch["forces"])
    return energy_loss + force_weight * force_loss


class MeanPooledRegressor(torch.nn.Module):
    """An encoder's last hidden state, mean-pooled over the attention mask, through a linear head."""

    def __init__(self, encoder: torch.nn.Module, hidden_size: int, outputs: int = 1):
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(hidden_size, outputs)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))


def regression_loss(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """MSE of the model's outputs for ``input_ids``/``attention_mask`` against ``targets``."""
    predictions = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return torch.nn.functional.mse_loss(predictions, batch["targets"])
