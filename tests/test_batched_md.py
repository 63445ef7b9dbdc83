"""Batched MD (workloads/batched_md.py, suites/batched_md.py): R replicas in one call equal R separate ones."""

import math
import pathlib
import sys

import numpy as np
import pytest
import torch
from ase import units
from ase.md.verlet import VelocityVerlet

from machmeter.suites.base import combination_key
from machmeter.workloads.batched_md import BatchedLJ, BatchedVelocityVerlet, replicas_of
from machmeter.workloads.lj import TorchLennardJones
from machmeter.workloads.systems import ARGON_LATTICE_A, ARGON_LJ, fcc111_slab, lj_argon

pytestmark = pytest.mark.usefixtures("one_torch_thread")

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))


def argon_replicas(count, n_atoms=32):
    replicas = [lj_argon(n_atoms, temperature_K=40.0, seed=seed) for seed in range(count)]
    for seed, atoms in enumerate(replicas):
        atoms.rattle(0.1, seed=100 + seed)  # other states of one system: forces that differ
    return replicas


def slab_replicas(count):
    return [fcc111_slab("Ar", ARGON_LATTICE_A, (2, 2, 3), rattle=0.1, seed=seed) for seed in range(count)]


def one_by_one(replicas, **parameters):
    energies, forces = [], []
    for atoms in replicas:
        atoms = atoms.copy()
        atoms.calc = TorchLennardJones(**ARGON_LJ, **parameters)
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
    return np.array(energies), np.stack(forces)


@pytest.mark.parametrize("build", [argon_replicas, slab_replicas], ids=["bulk", "slab_mixed_pbc"])
def test_batched_forces_equal_each_replicas_own(build):
    replicas = build(3)
    positions, _, _, (cell, pbc) = replicas_of(replicas, "cpu")
    energies, forces = BatchedLJ(**ARGON_LJ).energy_forces(positions, cell, pbc)
    expected_energies, expected_forces = one_by_one(replicas)
    assert np.ptp(expected_energies) > 1e-3  # the replicas really differ: no pair crossed between them
    np.testing.assert_allclose(energies.numpy(), expected_energies, rtol=1e-12)
    np.testing.assert_allclose(forces.numpy(), expected_forces, rtol=1e-10, atol=1e-14)


def test_skin_rebuilds_only_the_replica_that_moved():
    replicas = argon_replicas(3)
    positions, _, _, (cell, pbc) = replicas_of(replicas, "cpu")
    potential = BatchedLJ(**ARGON_LJ, skin=1.0)
    potential.energy_forces(positions, cell, pbc)
    assert potential.n_searches == 3
    nudged = positions.clone()
    nudged[:, 0, 0] += 0.3  # every replica, within skin / 2: the lists stay
    potential.energy_forces(nudged, cell, pbc)
    assert potential.n_searches == 3
    nudged[1, 5, 2] += 0.6  # replica 1 only, beyond skin / 2 from where its list was built
    energies, forces = potential.energy_forces(nudged, cell, pbc)
    assert potential.n_searches == 4
    moved = [atoms.copy() for atoms in replicas]
    for atoms, position in zip(moved, nudged.numpy()):
        atoms.positions = position
    expected_energies, expected_forces = one_by_one(moved)
    np.testing.assert_allclose(energies.numpy(), expected_energies, rtol=1e-12)
    np.testing.assert_allclose(forces.numpy(), expected_forces, rtol=1e-10, atol=1e-14)


def test_batched_velocity_verlet_follows_ases_for_every_replica():
    replicas = argon_replicas(2)
    positions, velocities, masses, (cell, pbc) = replicas_of(replicas, "cpu")
    integrator = BatchedVelocityVerlet(BatchedLJ(**ARGON_LJ, skin=1.0), positions, velocities, masses, 2.0, cell, pbc)
    integrator.step(20)
    for index, atoms in enumerate(replicas):
        atoms = atoms.copy()
        atoms.calc = TorchLennardJones(**ARGON_LJ)
        VelocityVerlet(atoms, timestep=2.0 * units.fs).run(20)
        assert np.abs(atoms.positions).max() > 0 and integrator.steps == 20
        np.testing.assert_allclose(integrator.positions[index].numpy(), atoms.positions, atol=1e-10)
        np.testing.assert_allclose(integrator.velocities[index].numpy(), atoms.get_velocities(), atol=1e-12)
        assert integrator.kinetic_energies()[index].item() == pytest.approx(atoms.get_kinetic_energy(), rel=1e-10)
        assert integrator.energies[index].item() == pytest.approx(atoms.get_potential_energy(), rel=1e-10)


def test_replicas_must_be_one_system():
    bulk = argon_replicas(1)[0]
    with pytest.raises(ValueError, match="replica 1 is not the same system"):
        replicas_of([bulk, lj_argon(64)], "cpu")
    with pytest.raises(ValueError, match="replica 1 is not the same system"):
        replicas_of([bulk, slab_replicas(1)[0]], "cpu")
    with pytest.raises(ValueError, match=r"\(replicas, atoms, 3\)"):
        BatchedLJ(**ARGON_LJ).energy_forces(torch.zeros(4, 3))


def test_suite_measures_batched_and_separate_side_by_side():
    from md_batched import LennardJonesArgonReplicas

    class Tiny(LennardJonesArgonReplicas):
        params = ([3], ["cpu", "cuda"])
        n_atoms = 32
        dtype = "float64"
        timing_target_time = 0.05
        timing_min_repeats = 3

    suite = Tiny()
    measured = suite.setup_cache()
    if not torch.cuda.is_available():
        assert "CUDA" in measured[combination_key((3, "cuda"))]["skip"]
    suite.setup(measured, 3, "cpu")
    assert suite.metrics["atoms_per_replica"] == 32
    speedup = suite.track_batched_speedup(measured, 3, "cpu")
    rates = suite.track_replica_steps_per_second(measured, 3, "cpu")
    separate = suite.track_separate_replica_steps_per_second(measured, 3, "cpu")
    assert len(speedup["samples"]) == len(rates["samples"]) == len(separate["samples"]) >= 3
    # each repetition's speedup is its separate time / its batched time: the rates' ratio, sample by sample
    np.testing.assert_allclose(speedup["samples"], np.array(rates["samples"]) / np.array(separate["samples"]))
    assert all(math.isfinite(s) and s > 0 for s in speedup["samples"])
    assert suite.track_aten_ops_per_call(measured, 3, "cpu") > 0


@pytest.mark.gpu
def test_batched_md_on_cuda_matches_the_cpu_and_beats_separate_calls():
    replicas = argon_replicas(4, n_atoms=256)
    positions, velocities, masses, (cell, pbc) = replicas_of(replicas, "cpu")
    cpu_energies, cpu_forces = BatchedLJ(**ARGON_LJ).energy_forces(positions, cell, pbc)
    cuda_energies, cuda_forces = BatchedLJ(**ARGON_LJ).energy_forces(positions.cuda(), cell, pbc)
    np.testing.assert_allclose(cuda_energies.cpu().numpy(), cpu_energies.numpy(), rtol=1e-10)
    np.testing.assert_allclose(cuda_forces.cpu().numpy(), cpu_forces.numpy(), rtol=1e-8, atol=1e-12)

    from md_batched import LennardJonesArgonReplicas

    class OnCuda(LennardJonesArgonReplicas):
        params = ([16], ["cuda"])

    suite = OnCuda()
    measured = suite.setup_cache()
    suite.setup(measured, 16, "cuda")
    # 16 replicas of 256 atoms are launch-bound on a GPU: one call for all of them must be faster
    # than 16 calls (13.5x on an H200, 2026-12-03); below 2x the batch is not batching
    assert suite.metrics["batched_speedup"] > 2.0
    assert suite.track_kernels_per_call(measured, 16, "cuda") > 0
