"""The systems of the force-field workloads (silicon, copper, water) and the MD measurements added
for them (NVT temperature stability, memory growth over the NVE trajectory, per-size step counts),
run with the torch Lennard-Jones so that no extra is needed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import units
from ase.neighborlist import neighbor_list

from machmeter.suites import MDSuite
from machmeter.workloads.lj import TorchLennardJones
from machmeter.workloads.md import drift_from_energies, nve_energy_drift, nvt_temperature_stability
from machmeter.workloads.systems import (
    ARGON_LJ,
    COPPER_LATTICE_A,
    SILICON_LATTICE_A,
    copper,
    cubic_repeats,
    lj_argon,
    silicon,
    water_box,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("n", [8, 64, 512, 1000, 10648])
def test_silicon_sizes_and_density(n):
    atoms = silicon(n)
    assert len(atoms) == n and set(atoms.get_chemical_symbols()) == {"Si"} and atoms.pbc.all()
    np.testing.assert_allclose(n / atoms.get_volume(), 8 / SILICON_LATTICE_A**3, rtol=1e-12)
    # diamond: four neighbours at sqrt(3)/4 a
    i, _, d = neighbor_list("ijd", atoms, 2.5)
    np.testing.assert_allclose(d, math.sqrt(3) / 4 * SILICON_LATTICE_A, rtol=1e-9)
    assert np.bincount(i).tolist() == [4] * n


@pytest.mark.parametrize("n", [32, 108, 4000, 10976])
def test_copper_sizes_and_density(n):
    atoms = copper(n)
    assert len(atoms) == n and set(atoms.get_chemical_symbols()) == {"Cu"}
    np.testing.assert_allclose(n / atoms.get_volume(), 4 / COPPER_LATTICE_A**3, rtol=1e-12)


def test_rattle_and_temperature_are_seeded():
    a, b = silicon(64, rattle=0.05, seed=3, temperature_K=300), silicon(64, rattle=0.05, seed=3, temperature_K=300)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.get_velocities(), b.get_velocities())
    displacement = a.positions - silicon(64).positions
    assert 0.03 < displacement.std() < 0.07
    assert 200 < a.get_temperature() < 400 and np.abs(a.get_momenta().sum(0)).max() < 1e-10
    assert not np.allclose(a.positions, silicon(64, rattle=0.05, seed=4).positions)


@pytest.mark.parametrize("n", [0, 7, 12, 8 * 7, 100.0, True])
def test_bad_crystal_sizes(n):
    with pytest.raises(ValueError, match="n_atoms"):
        silicon(n)


def test_cubic_repeats_are_shared_with_argon():
    assert cubic_repeats(64, 8, "diamond") == (2, 2, 2)
    assert cubic_repeats(10648, 8, "diamond") == (11, 11, 11)
    with pytest.raises(ValueError, match="FCC argon"):
        lj_argon(30)


@pytest.mark.parametrize("n", [24, 81, 192])
def test_water_box_geometry(n):
    atoms = water_box(n, temperature_K=300, seed=1)
    assert atoms.get_chemical_formula() == f"H{2 * n // 3}O{n // 3}"
    # 1 g/cm^3
    grams_per_cm3 = (n // 3) * 18.015 / units.mol / (atoms.get_volume() * 1e-24)
    assert grams_per_cm3 == pytest.approx(1.0, rel=1e-3)
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    same = i // 3 == j // 3
    # rigid molecules: O-H 0.9572 A, H-H 1.5139 A (104.52 degrees)
    assert sorted(set(np.round(d[same], 3))) == [0.957, 1.514]
    assert d[~same].min() >= 1.6
    np.testing.assert_array_equal(atoms.positions, water_box(n, temperature_K=300, seed=1).positions)


def test_water_box_bad_sizes():
    for n in (25, 30, 0, -3, "24"):
        with pytest.raises(ValueError, match="n_atoms"):
            water_box(n)
    with pytest.raises(ValueError, match="density"):
        water_box(24, density_g_cm3=0)


# -- MD measurements --------------------------------------------------------------------------------
def test_drift_from_energies_is_the_least_squares_slope():
    energies = [10.0, 10.0 + 2e-3, 10.0 + 4e-3, 10.0 + 6e-3]  # +2 meV a step on 2 atoms, 1 fs steps
    report = drift_from_energies(energies, n_atoms=2, timestep_fs=1.0)
    assert report.drift_eV_per_atom_per_ps == pytest.approx(1.0)  # 1 meV/atom per fs
    assert report.steps == 3 and report.max_abs_deviation_eV_per_atom == pytest.approx(3e-3)
    with pytest.raises(ValueError):
        drift_from_energies([1.0], 1, 1.0)


def test_drive_runs_the_same_trajectory():
    atoms = lj_argon(32, temperature_K=40)
    plain = nve_energy_drift(atoms, TorchLennardJones(**ARGON_LJ), steps=20, timestep_fs=2.0)
    calls = []

    def drive(step, steps):
        calls.append(steps)
        for _ in range(steps):
            step()

    driven = nve_energy_drift(atoms, TorchLennardJones(**ARGON_LJ), steps=20, timestep_fs=2.0, drive=drive)
    assert calls == [20] and driven.energies == plain.energies


def test_nvt_holds_the_target_temperature():
    report = nvt_temperature_stability(lj_argon(108, temperature_K=40, seed=2), TorchLennardJones(**ARGON_LJ),
                                       steps=300, timestep_fs=4.0, temperature_K=40.0, seed=1)
    assert len(report.temperatures_K) == 301 and report.kept_steps == 150
    assert report.relative_deviation < 0.15
    # a canonical ensemble of N atoms fluctuates by about sqrt(2 / 3N)
    assert 0.3 < report.relative_fluctuation / math.sqrt(2 / (3 * 108)) < 2.0


def test_nvt_deviation_sees_a_run_that_does_not_hold_its_target():
    """Started at 40 K, 10 steps of a 400 K thermostat are far from reaching it."""
    atoms = lj_argon(32, temperature_K=40)
    report = nvt_temperature_stability(atoms, TorchLennardJones(**ARGON_LJ), steps=10, timestep_fs=2.0,
                                       temperature_K=400.0, friction=0.01)
    assert report.relative_deviation > 0.3 and report.mean_K < 300
    with pytest.raises(ValueError):
        nvt_temperature_stability(atoms, TorchLennardJones(**ARGON_LJ), steps=1, timestep_fs=2.0, temperature_K=40)


class TinyArgon(MDSuite):
    params = ([32, 108], ["auto"], ["float64"])
    latency_target_time = 0.05
    latency_min_steps = 5
    memory_steps = 2
    drift_steps = 30
    cpu_nvt_steps = 20
    cpu_max_atoms = 32

    def make_atoms(self, n_atoms):
        return lj_argon(n_atoms, temperature_K=self.temperature_K, seed=0)

    def make_calculator(self, device, dtype):
        return TorchLennardJones(**ARGON_LJ, device=device, dtype=dtype)


def test_md_suite_measures_nvt_and_explains_the_missing_leak_on_cpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    suite = TinyArgon()
    measured = suite.setup_cache()
    with pytest.raises(NotImplementedError, match="cpu_max_atoms=32: a GPU size"):
        TinyArgon().setup(measured, 108, "auto", "float64")
    suite.setup(measured, 32, "auto", "float64")
    assert suite.metrics["device"] == "cpu"
    assert suite.metrics["nve_steps"] == 30 and suite.metrics["nvt_steps"] == 20
    assert 0 <= suite.track_nvt_temperature_deviation(measured, 32, "auto", "float64") < 1
    assert suite.track_nve_energy_drift(measured, 32, "auto", "float64") < 1e-3
    # host RSS regrows after the leak check's trim: 30 steps say nothing, and the reason says so
    assert math.isnan(suite.track_memory_growth_per_step(measured, 32, "auto", "float64"))
    assert "leak_min_host_steps" in suite.metrics["leak_bytes_per_step__unavailable"]


def test_md_suite_measures_the_leak_over_a_long_host_trajectory(monkeypatch):
    class LongArgon(TinyArgon):
        params = ([32], ["cpu"], ["float64"])
        leak_min_host_steps = 30

    suite = LongArgon()
    measured = suite.setup_cache()
    suite.setup(measured, 32, "cpu", "float64")
    assert suite.metrics["leak_quantity"] == "host_rss_bytes"
    assert math.isfinite(suite.track_memory_growth_per_step(measured, 32, "cpu", "float64"))


def test_step_counts_per_size_and_device():
    suite = TinyArgon()
    assert suite.step_counts(100, "cuda") == {"warmup": 5, "latency_min": 5, "memory": 2, "energy_min": 50,
                                             "nve": 1000, "nvt": 1000, "npt": 1000, "relax": 500}
    assert suite.step_counts(32, "cpu")["npt"] == 20 and suite.step_counts(512, "cpu")["relax"] == 0
    assert suite.step_counts(512, "cuda")["nve"] == 30
    assert suite.step_counts(4096, "cuda")["nve"] == 30
    assert suite.step_counts(32, "cpu")["nvt"] == 20

    class NoTrajectories(TinyArgon):
        params = ([32], ["cpu"], ["float64"])

        def step_counts(self, n_atoms, device):
            return {**super().step_counts(n_atoms, device), "nve": 0, "nvt": 0}

    suite = NoTrajectories()
    measured = suite.setup_cache()
    suite.setup(measured, 32, "cpu", "float64")
    assert math.isnan(suite.track_nve_energy_drift(measured, 32, "cpu", "float64"))
    assert "trajectory not run at 32 atoms" in suite.metrics["nvt_temperature_deviation__unavailable"]


def test_md_suite_measures_npt_and_a_relaxation_and_skips_npt_without_a_stress(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    suite = TinyArgon()
    measured = suite.setup_cache()
    suite.setup(measured, 32, "auto", "float64")
    assert 0 <= suite.track_npt_pressure_deviation(measured, 32, "auto", "float64") < 1.0  # GPa
    assert 0 <= suite.track_npt_volume_drift(measured, 32, "auto", "float64") < 0.05
    assert 0 < suite.track_npt_volume_fluctuation(measured, 32, "auto", "float64") < 0.02
    steps = suite.track_relaxation_steps(measured, 32, "auto", "float64")
    assert 1 < steps < suite.relax_max_steps and suite.metrics["relax_converged"] is True
    assert suite.track_relaxation_time(measured, 32, "auto", "float64") > 0

    class NoStress(TinyArgon):
        params = ([32], ["cpu"], ["float64"])

        def make_calculator(self, device, dtype):
            calculator = super().make_calculator(device, dtype)
            calculator.implemented_properties = ["energy", "forces"]
            return calculator

    suite = NoStress()
    measured = suite.setup_cache()
    suite.setup(measured, 32, "cpu", "float64")
    assert math.isnan(suite.track_npt_volume_drift(measured, 32, "cpu", "float64"))
    assert suite.metrics["npt_volume_drift__unavailable"] == "the calculator gives no stress: no NPT"
    assert suite.track_relaxation_steps(measured, 32, "cpu", "float64") > 1  # forces are enough


def test_live_timing_limit_is_an_asv_skip():
    class Limited(TinyArgon):
        live_timing_max_atoms = 16

    with pytest.raises(NotImplementedError, match="live_timing_max_atoms=16"):
        Limited().build_live_simulation(32, "cpu", "float64")
