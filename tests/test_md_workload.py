"""Benchmark systems (systems.py) and MD helpers (md.py) with the torch LJ."""

import numpy as np
import pytest
import torch
from ase import units
from ase.calculators.calculator import all_changes
from ase.data import atomic_masses, atomic_numbers
from ase.md.langevin import Langevin
from ase.md.verlet import VelocityVerlet

from machmeter.workloads.lj import TorchLennardJones
from machmeter.workloads.md import DriftReport, make_integrator, nve_energy_drift
from machmeter.workloads.systems import ARGON_LJ, argon_repeats, lj_argon

SUPPORTED = [32, 64, 108, 256, 500, 512, 864, 1000, 2048, 4000, 4096, 8192, 10976, 16384]

T_K = 40.0
# Thermal energy scale per atom at T_K: (3/2) k_B T = 5.2 meV.
THERMAL = 1.5 * units.kB * T_K
# Energy-conservation bounds, 1% of the thermal energy (per ps for the drift).  A correct
# velocity-Verlet run at 2 fs stays ~100x below them (|dE| ~ 4e-7 eV/atom); forces off by
# 10% (the run then conserves 1.1 U + K, not U + K) exceed them several times over.
MAX_DEV_BOUND = 0.01 * THERMAL  # eV/atom
DRIFT_BOUND = 0.01 * THERMAL  # eV/atom/ps


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("n", SUPPORTED)
def test_lj_argon_sizes(n):
    atoms = lj_argon(n)
    assert len(atoms) == n
    assert atoms.pbc.all()
    assert set(atoms.get_chemical_symbols()) == {"Ar"}
    np.testing.assert_allclose(atoms.get_masses(), atomic_masses[atomic_numbers["Ar"]])
    lengths = atoms.cell.lengths()
    assert lengths.max() / lengths.min() <= 2.0 + 1e-9
    np.testing.assert_allclose(atoms.cell.angles(), 90.0)
    a, b, c = argon_repeats(n)
    assert 4 * a * b * c == n and a <= b <= c
    # density of FCC argon, a = 5.26 A
    np.testing.assert_allclose(n / atoms.get_volume(), 4 / 5.26**3, rtol=1e-12)
    assert np.all(atoms.get_velocities() == 0.0)


def test_repeats_are_near_cubic():
    assert argon_repeats(32) == (2, 2, 2)
    assert argon_repeats(64) == (2, 2, 4)
    assert argon_repeats(4000) == (10, 10, 10)
    assert argon_repeats(4096) == (8, 8, 16)
    assert argon_repeats(10976) == (14, 14, 14)


@pytest.mark.parametrize("n", [0, -4, 2, 30, 33, 28, 44, 4 * 13, 4 * 2 * 17, 100.0, "256", True])
def test_lj_argon_bad_sizes(n):
    with pytest.raises(ValueError, match="n_atoms"):
        lj_argon(n)


def test_lj_argon_velocities():
    atoms = lj_argon(500, temperature_K=T_K, seed=3)
    assert np.abs(atoms.get_momenta().sum(0)).max() < 1e-10
    assert 0.8 * T_K < atoms.get_temperature() < 1.2 * T_K
    again = lj_argon(500, temperature_K=T_K, seed=3)
    np.testing.assert_array_equal(atoms.get_velocities(), again.get_velocities())
    other = lj_argon(500, temperature_K=T_K, seed=4)
    assert not np.allclose(atoms.get_velocities(), other.get_velocities())


def test_argon_lj_constants():
    assert ARGON_LJ == dict(epsilon=0.0104, sigma=3.40, rc=3 * 3.40)


def test_make_integrator_kinds():
    atoms = lj_argon(32, temperature_K=T_K)
    atoms.calc = TorchLennardJones(**ARGON_LJ)
    nve = make_integrator(atoms, "nve", 2.0)
    assert isinstance(nve, VelocityVerlet)
    assert np.isclose(nve.dt, 2.0 * units.fs)
    nvt = make_integrator(atoms, "NVT", 2.0, temperature_K=T_K)
    assert isinstance(nvt, Langevin)
    assert np.isclose(nvt.temp, units.kB * T_K)
    assert np.isclose(nvt.fr, 0.01 / units.fs)
    with pytest.raises(ValueError):
        make_integrator(atoms, "nvt", 2.0)
    with pytest.raises(ValueError):
        make_integrator(atoms, "npt", 2.0)


class ScaledForcesLJ(TorchLennardJones):
    """A deliberately broken force field: forces are not -grad(E)."""

    def __init__(self, factor, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results["forces"] = self.results["forces"] * self.factor


def _nve(calc):
    atoms = lj_argon(256, temperature_K=T_K, seed=0)
    pos0 = atoms.positions.copy()
    report = nve_energy_drift(atoms, calc, steps=200, timestep_fs=2.0)
    np.testing.assert_array_equal(atoms.positions, pos0)  # input left untouched
    return report


def test_nve_conserves_energy():
    report = _nve(TorchLennardJones(**ARGON_LJ))
    assert isinstance(report, DriftReport)
    assert report.steps == 200 and report.timestep_fs == 2.0
    assert len(report.energies) == 201
    assert report.max_abs_deviation_eV_per_atom < MAX_DEV_BOUND
    assert abs(report.drift_eV_per_atom_per_ps) < DRIFT_BOUND


@pytest.mark.parametrize("factor", [1.1, 0.9])
def test_nve_bounds_catch_wrong_forces(factor):
    report = _nve(ScaledForcesLJ(factor, **ARGON_LJ))
    assert report.max_abs_deviation_eV_per_atom > MAX_DEV_BOUND
    assert abs(report.drift_eV_per_atom_per_ps) > DRIFT_BOUND


def test_nve_drift_fit():
    # the slope is a least-squares fit of E/N against t in ps
    report = _nve(TorchLennardJones(**ARGON_LJ, dtype=torch.float32))
    e = np.asarray(report.energies) / 256
    t = np.arange(len(e)) * 2.0e-3
    assert np.isclose(report.drift_eV_per_atom_per_ps, np.polyfit(t, e, 1)[0])
    assert np.isclose(report.max_abs_deviation_eV_per_atom, np.abs(e - e[0]).max())
    assert report.max_abs_deviation_eV_per_atom < MAX_DEV_BOUND


def test_nvt_langevin_reaches_target_temperature():
    atoms = lj_argon(108)  # starts at rest (0 K): the thermostat must heat it
    atoms.calc = TorchLennardJones(**ARGON_LJ)
    dyn = make_integrator(atoms, "nvt", 4.0, temperature_K=T_K, friction=0.01, seed=1)
    temps = []
    dyn.attach(lambda: temps.append(atoms.get_temperature()), interval=1)
    dyn.run(400)
    mean_t = np.mean(temps[200:])  # after ~4 relaxation times (1/friction = 100 fs)
    assert 0.75 * T_K < mean_t < 1.25 * T_K


def _lj(dtype=torch.float64):
    return TorchLennardJones(**ARGON_LJ, device=torch.device("cpu"), dtype=dtype)


def test_npt_holds_the_volume_of_argon_near_its_equilibrium_and_reports_the_pressure():
    from machmeter.workloads.md import npt_stability

    atoms = lj_argon(32, temperature_K=40.0, seed=0)
    report = npt_stability(atoms, _lj(), steps=60, timestep_fs=2.0, temperature_K=40.0)
    assert len(report.volumes_A3) == len(report.pressures_GPa) == 61 and report.kept_steps == 30
    # solid argon under a barostat: the cell breathes by a fraction of a percent, never collapses
    assert 0 < report.volume_fluctuation < 0.02 and abs(report.volume_drift) < 0.05
    assert report.mean_volume_A3 == pytest.approx(atoms.get_volume(), rel=0.05)
    assert report.pressure_deviation_GPa == pytest.approx(abs(report.mean_pressure_GPa - 1e-4))
    # the pressure a run reports at its start is the one ASE's stress gives for the structure it started from
    work = atoms.copy()
    work.calc = _lj()
    pressure = -np.mean(work.get_stress(include_ideal_gas=True)[:3]) / units.GPa
    assert report.pressures_GPa[0] == pytest.approx(pressure)


def test_npt_of_a_squeezed_cell_expands_it():
    from machmeter.workloads.md import npt_stability

    atoms = lj_argon(32, temperature_K=40.0, seed=0)
    atoms.set_cell(atoms.cell * 0.97, scale_atoms=True)
    report = npt_stability(atoms, _lj(), steps=60, timestep_fs=2.0, temperature_K=40.0, discard_fraction=0.0)
    assert report.pressures_GPa[0] > 0.2 and report.volumes_A3[-1] > report.volumes_A3[0]
    assert report.volume_drift > 0.005


@pytest.mark.parametrize("optimizer", ["FIRE", "BFGS"])
def test_relaxation_converges_from_a_rattled_lattice(optimizer):
    from machmeter.workloads.md import relax

    atoms = lj_argon(32)
    report = relax(atoms, _lj(), optimizer=optimizer, fmax=0.01)
    assert report.converged and report.fmax_eV_per_A < 0.01 and 1 < report.steps < 500
    assert report.energy_change_eV_per_atom < 0 and report.seconds > 0
    # the same start, the same optimiser, the same steps: a deterministic count on a CPU
    assert relax(atoms, _lj(), optimizer=optimizer, fmax=0.01).steps == report.steps
    stuck = relax(atoms, _lj(), optimizer=optimizer, fmax=1e-9, max_steps=3)
    assert not stuck.converged and stuck.steps == 3
    with pytest.raises(ValueError, match="optimizer must be one of"):
        relax(atoms, _lj(), optimizer="SD")
