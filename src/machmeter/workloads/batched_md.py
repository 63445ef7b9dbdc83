"""Batched MD: several replicas of one system stepped together, each step one call for all of them.

Ensemble MD (replicas at other seeds or temperatures, replica exchange, sampling for training data)
runs many small systems; one small system leaves a GPU mostly idle and each call pays the launch and
host overhead again. ASE has no batched integrator, so this module has its own, in torch:

``BatchedLJ(epsilon, sigma, rc, ro, smooth, skin)``
    Lennard-Jones energies and forces of ``R`` replicas (positions ``(R, N, 3)``, one cell and pbc
    shared by all) in one autograd call: each replica's half pair list is offset by ``r * N`` into
    one list over the ``R * N`` atoms, so pairs never cross replicas. With ``skin > 0`` the lists are
    kept until an atom of that replica moved more than ``skin / 2`` (one check for all replicas, one
    host synchronisation a step), and only the replicas that moved that far are searched again.
``BatchedVelocityVerlet(potential, positions, velocities, masses, timestep_fs)``
    Velocity Verlet (ASE's scheme and units: eV, A, amu, ASE time) of all replicas at once.
``replicas_of(atoms_list, device, dtype)``
    The ``(positions, velocities, masses)`` tensors of ase.Atoms replicas, checked to share a cell.

A batch of one is the same code for one replica, so "R separate calls" is measured with exactly the
integrator and potential that the batch uses (:class:`machmeter.suites.batched_md.BatchedMDSuite`).
"""

from __future__ import annotations

import numpy as np
import torch

from machmeter.workloads.lj import LJPotential, TorchNeighborList

__all__ = ["BatchedLJ", "BatchedVelocityVerlet", "replicas_of"]


class BatchedLJ:
    """Lennard-Jones of ``R`` replicas of one system in one call, with ASE's ``LennardJones`` meaning of
    the parameters (see :class:`machmeter.workloads.lj.LJPotential`, whose pair energy it uses)."""

    def __init__(self, epsilon: float = 1.0, sigma: float = 1.0, rc: float | None = None,
                 ro: float | None = None, smooth: bool = False, skin: float = 0.0):
        self.pair = LJPotential(epsilon, sigma, rc, ro, smooth)
        self.skin = float(skin)
        if self.skin < 0:
            raise ValueError(f"skin must be >= 0, got {skin}")
        # one search serves every replica: the replicas share the cell, so its binning plan is shared too
        self.search = TorchNeighborList(self.pair.rc + self.skin, 0.0, exact=False)
        self._replica_pairs: list | None = None
        self._reference: torch.Tensor | None = None
        self._joined = None
        self.n_searches = 0  # replica pair lists built: the skin's saving shows here

    def _update_pairs(self, positions: torch.Tensor, cell, pbc) -> tuple:
        replicas, atoms = positions.shape[:2]
        stale = range(replicas)
        if (self._replica_pairs is not None and self.skin > 0 and self._reference is not None
                and self._reference.shape == positions.shape):
            moved = ((positions - self._reference) ** 2).sum(-1).amax(-1)  # (R,)
            stale = (moved > (0.5 * self.skin) ** 2).nonzero().flatten().tolist()  # one synchronisation
            if not stale:
                return self._joined
        elif self._replica_pairs is None or len(self._replica_pairs) != replicas:
            self._replica_pairs = [None] * replicas
        for replica in stale:
            self._replica_pairs[replica] = self.search.update(positions[replica], cell, pbc)
            self.n_searches += 1
        if self.skin > 0:
            if self._reference is None or self._reference.shape != positions.shape:
                self._reference = positions.clone()
            else:
                self._reference[stale] = positions[stale]
        offsets = [replica * atoms for replica in range(replicas)]
        lists = self._replica_pairs
        i = torch.cat([pairs.i + offset for pairs, offset in zip(lists, offsets)])
        j = torch.cat([pairs.j + offset for pairs, offset in zip(lists, offsets)])
        shift_vectors = torch.cat([pairs.shift_vectors for pairs in lists])
        owner = torch.cat([torch.full((len(pairs.i),), replica, dtype=torch.long, device=positions.device)
                           for replica, pairs in enumerate(lists)])
        self._joined = (i, j, shift_vectors, owner)
        return self._joined

    def energy_forces(self, positions: torch.Tensor, cell=None, pbc=False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(energies (R,), forces (R, N, 3))`` of replicas ``positions (R, N, 3)`` sharing ``cell``, ``pbc``."""
        if positions.ndim != 3 or positions.shape[2] != 3:
            raise ValueError(f"positions must be (replicas, atoms, 3), got {tuple(positions.shape)}")
        replicas, atoms = positions.shape[:2]
        with torch.no_grad():
            i, j, shift_vectors, owner = self._update_pairs(positions.detach(), cell, pbc)
        with torch.enable_grad():
            flat = positions.detach().reshape(replicas * atoms, 3).requires_grad_(True)
            d = flat.index_select(0, j) - flat.index_select(0, i) + shift_vectors
            u = self.pair.pair_energies(d, True)  # the lists reach rc + skin: mask beyond rc
            (gradient,) = torch.autograd.grad(u.sum(), flat)
        energies = torch.zeros(replicas, dtype=u.dtype, device=u.device).index_add_(0, owner, u.detach())
        return energies, -gradient.view(replicas, atoms, 3)


def replicas_of(atoms_list, device, dtype=torch.float64):
    """``(positions (R, N, 3), velocities (R, N, 3), masses (N,))`` tensors of ase.Atoms replicas (ASE's
    units: A, A per ASE time unit, amu), and their shared ``(cell, pbc)``. Replicas must share the
    cell, the periodicity and the atoms' masses: they are one system in several states."""
    if not atoms_list:
        raise ValueError("need at least one replica")
    first = atoms_list[0]
    for index, atoms in enumerate(atoms_list[1:], start=1):
        if (len(atoms) != len(first) or not np.array_equal(atoms.pbc, first.pbc)
                or not np.allclose(atoms.cell.array, first.cell.array)
                or not np.allclose(atoms.get_masses(), first.get_masses())):
            raise ValueError(f"replica {index} is not the same system as replica 0 (atoms, masses, cell and pbc must match)")
    as_tensor = lambda array: torch.as_tensor(np.asarray(array), dtype=dtype, device=device)  # noqa: E731
    positions = as_tensor(np.stack([atoms.positions for atoms in atoms_list]))
    velocities = as_tensor(np.stack([atoms.get_velocities() for atoms in atoms_list]))
    return positions, velocities, as_tensor(first.get_masses()), (first.cell.array.copy(), first.pbc.copy())


class BatchedVelocityVerlet:
    """Velocity Verlet of all replicas at once: ``v += dt/2 a; x += dt v; a = F/m; v += dt/2 a``, the
    scheme of ``ase.md.verlet.VelocityVerlet`` in ASE's units. ``potential`` has
    ``energy_forces(positions, cell, pbc) -> (energies (R,), forces (R, N, 3))``."""

    def __init__(self, potential, positions: torch.Tensor, velocities: torch.Tensor, masses: torch.Tensor,
                 timestep_fs: float, cell=None, pbc=False):
        from ase import units

        if positions.shape != velocities.shape or positions.ndim != 3:
            raise ValueError(f"positions and velocities must both be (replicas, atoms, 3): "
                             f"{tuple(positions.shape)} vs {tuple(velocities.shape)}")
        if masses.shape != positions.shape[1:2]:
            raise ValueError(f"need one mass per atom: {tuple(masses.shape)} for {positions.shape[1]} atoms")
        self.potential = potential
        self.positions = positions.clone()
        self.velocities = velocities.clone()
        self.inverse_masses = (1.0 / masses)[None, :, None]
        self.dt = timestep_fs * units.fs
        self.cell, self.pbc = cell, pbc
        self.energies, forces = potential.energy_forces(self.positions, cell, pbc)
        self.accelerations = forces * self.inverse_masses
        self.steps = 0

    def step(self, steps: int = 1) -> None:
        half = 0.5 * self.dt
        for _ in range(steps):
            self.velocities += half * self.accelerations
            self.positions += self.dt * self.velocities
            self.energies, forces = self.potential.energy_forces(self.positions, self.cell, self.pbc)
            self.accelerations = forces * self.inverse_masses
            self.velocities += half * self.accelerations
            self.steps += 1

    def kinetic_energies(self) -> torch.Tensor:
        """Each replica's kinetic energy (eV), ``sum m v^2 / 2``."""
        return 0.5 * ((self.velocities**2).sum(-1) / self.inverse_masses[..., 0]).sum(-1)
