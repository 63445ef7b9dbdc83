"""Builders of benchmark systems for the MD workloads.

Argon Lennard-Jones parameters (:data:`ARGON_LJ`): epsilon = 0.0104 eV,
sigma = 3.40 A, and the cutoff rc = 3 sigma = 10.2 A, which is ASE's default
for :class:`ase.calculators.lj.LennardJones`.  3 sigma (rather than 2.5 sigma)
keeps the force jump at the cutoff small (~3e-5 eV/A), so NVE runs with the
shifted potential conserve energy well; the FCC shells nearest to the cutoff
(9.84 A and 10.52 A at a = 5.26 A) are ~0.3 A away from it.
"""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms
from ase.build import bulk

__all__ = ["ARGON_LATTICE_A", "ARGON_LJ", "argon_repeats", "lj_argon"]

#: FCC lattice constant of solid argon, in Angstrom.
ARGON_LATTICE_A = 5.26

#: Lennard-Jones parameters for argon (eV, Angstrom); rc = 3 sigma (ASE's default).
ARGON_LJ = dict(epsilon=0.0104, sigma=3.40, rc=3 * 3.40)

# A supercell is "near-cubic" when its longest side is at most this times its shortest.
_MAX_ASPECT = 2


def argon_repeats(n_atoms: int) -> tuple[int, int, int]:
    """Repeats ``(a, b, c)``, ``a <= b <= c``, of the 4-atom cubic FCC cell giving
    exactly ``n_atoms`` atoms, as close to cubic as possible.

    Raises ValueError if ``n_atoms`` is not a positive multiple of 4 or no
    factorisation of ``n_atoms / 4`` has ``c / a <= 2``.
    """
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, (int, np.integer)):
        raise ValueError(f"n_atoms must be an int, got {n_atoms!r}")
    n_atoms = int(n_atoms)
    if n_atoms <= 0 or n_atoms % 4:
        raise ValueError(
            f"n_atoms={n_atoms}: an FCC argon supercell has 4*k atoms (k = a*b*c repeats "
            f"of the cubic cell); use e.g. 32, 108, 256, 500, 864, 2048, 4000, 10976"
        )
    m = n_atoms // 4
    best = None
    for a in range(1, int(round(m ** (1 / 3))) + 2):
        if m % a:
            continue
        for b in range(a, int(math.isqrt(m // a)) + 1):
            if (m // a) % b:
                continue
            c = m // a // b
            if c < b:
                continue
            score = (c / a, c - a)
            if best is None or score < best[0]:
                best = (score, (a, b, c))
    if best is None or best[1][2] > _MAX_ASPECT * best[1][0]:
        found = f" (best {best[1]})" if best else ""
        raise ValueError(
            f"n_atoms={n_atoms}: no near-cubic supercell of the 4-atom FCC cell: "
            f"{m} = a*b*c has no factorisation with max/min <= {_MAX_ASPECT}{found}"
        )
    return best[1]


def lj_argon(n_atoms: int, *, temperature_K: float | None = None, seed: int = 0) -> Atoms:
    """Periodic FCC argon (a = 5.26 A) with exactly ``n_atoms`` atoms.

    Supported: any ``n_atoms = 4 a b c`` with a near-cubic ``(a, b, c)`` (see
    :func:`argon_repeats`), e.g. 32, 64, 108, 256, 500, 512, 864, 1000, 2048,
    4000, 4096, 8192, 10976, 16384.  With ``temperature_K`` the momenta are
    drawn from a Maxwell-Boltzmann distribution (``numpy.random.default_rng(seed)``)
    and the total momentum is zeroed; otherwise atoms are at rest.
    """
    reps = argon_repeats(n_atoms)
    atoms = bulk("Ar", "fcc", a=ARGON_LATTICE_A, cubic=True).repeat(reps)
    assert len(atoms) == n_atoms
    atoms.pbc = True
    if temperature_K is not None:
        from ase.md.velocitydistribution import Stationary, thermalize_momenta

        thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng(seed))
        Stationary(atoms)
    return atoms
