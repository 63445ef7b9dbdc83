"""Tiny helpers to run MD with ASE integrators and measure NVE energy drift."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms, units

__all__ = ["DriftReport", "make_integrator", "nve_energy_drift"]


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


def nve_energy_drift(atoms: Atoms, calculator, *, steps: int, timestep_fs: float) -> DriftReport:
    """Run ``steps`` of velocity Verlet on a copy of ``atoms`` with ``calculator``
    and report the total-energy drift (``atoms`` itself is not modified)."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    work = atoms.copy()
    work.calc = calculator
    natoms = len(work)
    energies: list[float] = []

    def record():
        energies.append(float(work.get_potential_energy() + work.get_kinetic_energy()))

    dyn = make_integrator(work, "nve", timestep_fs)
    dyn.attach(record, interval=1)
    dyn.run(steps)  # observers run at step 0 and after every step
    e = np.asarray(energies) / natoms
    t_ps = np.arange(len(e)) * timestep_fs * 1e-3
    slope = float(np.polyfit(t_ps, e, 1)[0])
    return DriftReport(
        drift_eV_per_atom_per_ps=slope,
        max_abs_deviation_eV_per_atom=float(np.max(np.abs(e - e[0]))),
        energies=energies,
        steps=steps,
        timestep_fs=float(timestep_fs),
    )
