"""Tiny helpers to run MD with ASE integrators and measure NVE energy drift, NVT temperature stability,
NPT volume and pressure stability, and a geometry relaxation (steps and time to converge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from ase import Atoms, units

__all__ = ["DriftReport", "NPTReport", "NVTReport", "RelaxationReport", "drift_from_energies", "make_integrator",
           "npt_stability", "nve_energy_drift", "nvt_temperature_stability", "relax"]

# Runs ``step`` ``steps`` times; the default is a plain loop. A caller passes its own to measure something
# over the same trajectory (e.g. memory growth with a leak check) instead of running a second one.
Drive = Callable[[Callable[[], None], int], object]


def _loop(step: Callable[[], None], steps: int) -> None:
    for _ in range(steps):
        step()


def make_integrator(atoms: Atoms, kind: str, timestep_fs: float, temperature_K: float | None = None,
                    friction: float = 0.01, seed: int = 0):
    """ASE integrator for ``atoms`` (which must already have a calculator).

    kind: "nve" -> :class:`ase.md.verlet.VelocityVerlet`;
          "nvt" -> :class:`ase.md.langevin.Langevin` at ``temperature_K``
          (required) with friction ``friction`` in 1/fs (0.01/fs = 10/ps) and
          ``rng = numpy.random.default_rng(seed)``.  ``fixcm=False`` (ASE 3.28+
          deprecates ``fixcm=True``).
    """
    kind = kind.lower()
    dt = timestep_fs * units.fs
    if kind == "nve":
        from ase.md.verlet import VelocityVerlet

        return VelocityVerlet(atoms, timestep=dt)
    if kind == "nvt":
        if temperature_K is None:
            raise ValueError("kind='nvt' needs temperature_K")
        from ase.md.langevin import Langevin

        return Langevin(atoms, timestep=dt, temperature_K=temperature_K,
                        friction=friction / units.fs, fixcm=False,
                        rng=np.random.default_rng(seed))
    raise ValueError(f"unknown integrator kind {kind!r}; expected 'nve' or 'nvt'")


@dataclass
class DriftReport:
    """Result of :func:`nve_energy_drift`.

    drift_eV_per_atom_per_ps: slope of a least-squares line through total
        energy per atom vs time (ps).
    max_abs_deviation_eV_per_atom: max |E(t) - E(0)| / N.
    energies: total (potential + kinetic) energy in eV at steps 0..steps.
    """

    drift_eV_per_atom_per_ps: float
    max_abs_deviation_eV_per_atom: float
    energies: list[float] = field(repr=False)
    steps: int
    timestep_fs: float


def drift_from_energies(energies, n_atoms: int, timestep_fs: float) -> DriftReport:
    """Drift of total energies (eV) recorded at steps 0..n: least-squares slope of E/N against t (ps)."""
    e = np.asarray(energies, dtype=float) / n_atoms
    if len(e) < 2:
        raise ValueError("an energy drift needs energies at two or more steps")
    t_ps = np.arange(len(e)) * timestep_fs * 1e-3
    slope = float(np.polyfit(t_ps, e, 1)[0])
    return DriftReport(
        drift_eV_per_atom_per_ps=slope,
        max_abs_deviation_eV_per_atom=float(np.max(np.abs(e - e[0]))),
        energies=[float(x) for x in energies],
        steps=len(e) - 1,
        timestep_fs=float(timestep_fs),
    )


def nve_energy_drift(atoms: Atoms, calculator, *, steps: int, timestep_fs: float,
                     drive: Drive | None = None) -> DriftReport:
    """Run ``steps`` of velocity Verlet on a copy of ``atoms`` with ``calculator``
    and report the total-energy drift (``atoms`` itself is not modified).

    ``drive(step, steps)`` runs the steps (default: a plain loop).
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    work = atoms.copy()
    work.calc = calculator
    dyn = make_integrator(work, "nve", timestep_fs)

    def total_energy() -> float:
        # after a step the calculator holds this geometry's energy: no second force call
        return float(work.get_potential_energy() + work.get_kinetic_energy())

    energies = [total_energy()]

    def step():
        dyn.run(1)
        energies.append(total_energy())

    (drive or _loop)(step, steps)
    return drift_from_energies(energies, len(work), timestep_fs)


def _run_copy(atoms: Atoms, calculator, steps: int, fewest: int, discard_fraction: float) -> Atoms:
    """The copy of ``atoms`` a run integrates (with ``calculator``), after checking the run's length
    and the equilibration share it discards."""
    if steps < fewest:
        raise ValueError(f"steps must be >= {fewest}")
    if not 0.0 <= discard_fraction < 1.0:
        raise ValueError(f"discard_fraction must be in [0, 1), got {discard_fraction}")
    work = atoms.copy()
    work.calc = calculator
    return work


@dataclass
class NVTReport:
    """Result of :func:`nvt_temperature_stability`.

    mean_K, std_K: kinetic temperature over the kept (second) part of the run.
    relative_deviation: |mean - target| / target, the thermostat's (and forces') error.
    relative_fluctuation: std / target; a canonical ensemble of N atoms gives about sqrt(2 / (3 N)).
    temperatures_K: kinetic temperature at steps 0..steps.
    """

    target_K: float
    mean_K: float
    std_K: float
    relative_deviation: float
    relative_fluctuation: float
    temperatures_K: list[float] = field(repr=False)
    steps: int
    kept_steps: int
    timestep_fs: float


def nvt_temperature_stability(atoms: Atoms, calculator, *, steps: int, timestep_fs: float,
                              temperature_K: float, friction: float = 0.01, seed: int = 0,
                              discard_fraction: float = 0.5, drive: Drive | None = None) -> NVTReport:
    """Run ``steps`` of Langevin dynamics at ``temperature_K`` on a copy of ``atoms`` and report how
    well the kinetic temperature holds the target once equilibrated (the first ``discard_fraction``
    of the run is equilibration and is not counted).

    ``friction`` is in 1/fs (0.01/fs: the kinetic energy relaxes in ~50 fs), ``seed`` seeds the
    thermostat's noise; ``drive`` as in :func:`nve_energy_drift`.
    """
    work = _run_copy(atoms, calculator, steps, 2, discard_fraction)
    dyn = make_integrator(work, "nvt", timestep_fs, temperature_K=temperature_K, friction=friction, seed=seed)
    temperatures = [float(work.get_temperature())]

    def step():
        dyn.run(1)
        temperatures.append(float(work.get_temperature()))

    (drive or _loop)(step, steps)
    kept = np.asarray(temperatures[int(discard_fraction * steps) + 1:])
    mean, std = float(kept.mean()), float(kept.std())
    return NVTReport(
        target_K=float(temperature_K),
        mean_K=mean,
        std_K=std,
        relative_deviation=abs(mean - temperature_K) / temperature_K,
        relative_fluctuation=std / temperature_K,
        temperatures_K=temperatures,
        steps=steps,
        kept_steps=len(kept),
        timestep_fs=float(timestep_fs),
    )


@dataclass
class NPTReport:
    """Result of :func:`npt_stability`: how well a barostat holds volume and pressure.

    Over the kept (second) part of the run: ``mean_pressure_GPa`` (from the virial stress with the
    kinetic part, as the barostat sees it) and its deviation from the target; the volume's relative
    fluctuation (std / mean) and relative drift (least-squares slope over the kept part times its
    length, / mean volume: a cell that keeps swelling or collapsing).
    """

    target_pressure_GPa: float
    mean_pressure_GPa: float
    pressure_deviation_GPa: float
    mean_volume_A3: float
    volume_fluctuation: float
    volume_drift: float
    volumes_A3: list[float] = field(repr=False)
    pressures_GPa: list[float] = field(repr=False)
    steps: int
    kept_steps: int
    timestep_fs: float


def _pressure_GPa(atoms: Atoms) -> float:
    stress = atoms.get_stress(include_ideal_gas=True)  # eV/A^3, Voigt; pressure is minus its trace / 3
    return float(-np.mean(stress[:3]) / units.GPa)


def npt_stability(atoms: Atoms, calculator, *, steps: int, timestep_fs: float, temperature_K: float,
                  pressure_GPa: float = 1e-4, taut_fs: float = 100.0, taup_fs: float = 100.0,
                  compressibility_per_GPa: float = 0.3, discard_fraction: float = 0.5) -> NPTReport:
    """Run ``steps`` of Berendsen NPT (:class:`ase.md.nptberendsen.NPTBerendsen`: velocity and cell
    rescaling) on a copy of ``atoms`` and report volume and pressure over the kept part of the run.

    The calculator must give the stress. ``compressibility_per_GPa`` only sets how fast the cell
    follows the pressure (solid argon: about 0.3 / GPa); ``pressure_GPa`` defaults to 1 bar. The first
    ``discard_fraction`` is equilibration: a run of many ``taup_fs`` (64-atom argon from its 40 K lattice,
    1,000 steps of 2 fs: volume drift -0.2 %, mean pressure within 0.001 GPa of 1 bar over the second
    half) measures the barostat's stability; a short one (40 steps) measures the approach to it, the same
    for the same code on a CPU, which is what a regression of the forces or the stress changes.
    """
    from ase.md.nptberendsen import NPTBerendsen

    work = _run_copy(atoms, calculator, steps, 4, discard_fraction)
    dynamics = NPTBerendsen(work, timestep=timestep_fs * units.fs, temperature_K=temperature_K,
                            pressure_au=pressure_GPa * units.GPa, taut=taut_fs * units.fs, taup=taup_fs * units.fs,
                            compressibility_au=compressibility_per_GPa / units.GPa, fixcm=False)
    volumes, pressures = [float(work.get_volume())], [_pressure_GPa(work)]
    for _ in range(steps):
        dynamics.run(1)
        volumes.append(float(work.get_volume()))
        pressures.append(_pressure_GPa(work))
    first = int(discard_fraction * steps) + 1
    kept_volumes, kept_pressures = np.asarray(volumes[first:]), np.asarray(pressures[first:])
    mean_volume = float(kept_volumes.mean())
    slope = float(np.polyfit(np.arange(kept_volumes.size), kept_volumes, 1)[0]) if kept_volumes.size > 1 else 0.0
    mean_pressure = float(kept_pressures.mean())
    return NPTReport(
        target_pressure_GPa=float(pressure_GPa),
        mean_pressure_GPa=mean_pressure,
        pressure_deviation_GPa=abs(mean_pressure - pressure_GPa),
        mean_volume_A3=mean_volume,
        volume_fluctuation=float(kept_volumes.std()) / mean_volume,
        volume_drift=slope * (kept_volumes.size - 1) / mean_volume,
        volumes_A3=volumes,
        pressures_GPa=pressures,
        steps=steps,
        kept_steps=int(kept_volumes.size),
        timestep_fs=float(timestep_fs),
    )


@dataclass
class RelaxationReport:
    """Result of :func:`relax`: an optimiser driven to ``fmax`` from a rattled structure."""

    optimizer: str
    converged: bool
    steps: int
    seconds: float           # wall time of the optimisation (the calculator returns host arrays: synced)
    fmax_eV_per_A: float     # the largest force at the end
    energy_change_eV_per_atom: float


OPTIMIZERS = ("FIRE", "BFGS", "LBFGS")


def relax(atoms: Atoms, calculator, *, optimizer: str = "FIRE", fmax: float = 0.01, max_steps: int = 500,
          rattle_A: float = 0.05, seed: int = 0) -> RelaxationReport:
    """Relax a copy of ``atoms``, its positions first rattled by ``rattle_A`` (Gaussian, ``seed``),
    with an ASE optimiser until the largest force is below ``fmax`` eV/A or ``max_steps`` pass."""
    import time

    import ase.optimize

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    work = atoms.copy()
    work.set_momenta(np.zeros((len(work), 3)))
    work.rattle(stdev=rattle_A, seed=seed)
    work.calc = calculator
    start_energy = float(work.get_potential_energy())
    runner = getattr(ase.optimize, optimizer)(work, logfile=None)
    started = time.perf_counter()
    converged = bool(runner.run(fmax=fmax, steps=max_steps))
    seconds = time.perf_counter() - started
    forces = work.get_forces()
    return RelaxationReport(
        optimizer=optimizer,
        converged=converged,
        steps=int(runner.get_number_of_steps()),
        seconds=seconds,
        fmax_eV_per_A=float(np.sqrt((forces ** 2).sum(axis=1)).max()),
        energy_change_eV_per_atom=(float(work.get_potential_energy()) - start_energy) / len(work),
    )
