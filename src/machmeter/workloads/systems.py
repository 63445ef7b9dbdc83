"""Builders of benchmark systems for the MD workloads: FCC argon (Lennard-Jones), diamond silicon,
FCC copper, FCC aluminium and liquid water boxes (the pretrained force field), and the systems beyond a
periodic bulk that the accuracy references hold: an FCC(111) slab (periodic in-plane, vacuum along z),
an icosahedral cluster and a molecule (neither periodic).

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

__all__ = [
    "ALUMINIUM_LATTICE_A",
    "ARGON_LATTICE_A",
    "ARGON_LJ",
    "COPPER_LATTICE_A",
    "SILICON_LATTICE_A",
    "aluminium",
    "argon_repeats",
    "cluster",
    "copper",
    "cubic_repeats",
    "fcc111_slab",
    "lj_argon",
    "lj_molecule",
    "molecule",
    "silicon",
    "water_box",
]

#: FCC lattice constant of solid argon, in Angstrom.
ARGON_LATTICE_A = 5.26

#: Lennard-Jones parameters for argon (eV, Angstrom); rc = 3 sigma (ASE's default).
ARGON_LJ = dict(epsilon=0.0104, sigma=3.40, rc=3 * 3.40)

#: Experimental lattice constants at room temperature, in Angstrom.
SILICON_LATTICE_A = 5.431
COPPER_LATTICE_A = 3.615
ALUMINIUM_LATTICE_A = 4.05

# A supercell is "near-cubic" when its longest side is at most this times its shortest.
_MAX_ASPECT = 2


def cubic_repeats(n_atoms: int, atoms_per_cell: int, lattice: str = "cubic") -> tuple[int, int, int]:
    """Repeats ``(a, b, c)``, ``a <= b <= c``, of a cubic cell of ``atoms_per_cell`` atoms giving
    exactly ``n_atoms`` atoms, as close to cubic as possible.

    Raises ValueError if ``n_atoms`` is not a positive multiple of ``atoms_per_cell`` or no
    factorisation of ``n_atoms / atoms_per_cell`` has ``c / a <= 2``.
    """
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, (int, np.integer)):
        raise ValueError(f"n_atoms must be an int, got {n_atoms!r}")
    n_atoms = int(n_atoms)
    per = atoms_per_cell
    if n_atoms <= 0 or n_atoms % per:
        examples = ", ".join(str(per * k**3) for k in (2, 3, 4, 5, 8, 14))
        raise ValueError(
            f"n_atoms={n_atoms}: a {lattice} supercell has {per}*k atoms (k = a*b*c repeats "
            f"of the cubic cell); use e.g. {examples}"
        )
    m = n_atoms // per
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
            f"n_atoms={n_atoms}: no near-cubic supercell of the {per}-atom {lattice} cell: "
            f"{m} = a*b*c has no factorisation with max/min <= {_MAX_ASPECT}{found}"
        )
    return best[1]


def argon_repeats(n_atoms: int) -> tuple[int, int, int]:
    """Repeats of the 4-atom cubic FCC argon cell giving exactly ``n_atoms`` atoms (see
    :func:`cubic_repeats`)."""
    return cubic_repeats(n_atoms, 4, "FCC argon")


def _thermalize(atoms: Atoms, temperature_K: float | None, seed: int) -> Atoms:
    """Maxwell-Boltzmann momenta at ``temperature_K`` (seeded), total momentum zeroed; at rest for None."""
    if temperature_K is not None:
        from ase.md.velocitydistribution import Stationary, thermalize_momenta

        thermalize_momenta(atoms, temperature_K, rng=np.random.default_rng(seed))
        Stationary(atoms)
    return atoms


def _crystal(symbol: str, structure: str, a: float, per_cell: int, lattice: str, n_atoms: int,
             temperature_K: float | None, rattle: float, seed: int) -> Atoms:
    atoms = bulk(symbol, structure, a=a, cubic=True).repeat(cubic_repeats(n_atoms, per_cell, lattice))
    atoms.pbc = True
    if rattle:
        # a seeded displacement: forces of a perfect crystal vanish by symmetry and test nothing
        atoms.rattle(rattle, seed=seed)
    return _thermalize(atoms, temperature_K, seed)


def silicon(n_atoms: int, *, temperature_K: float | None = None, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """Periodic diamond silicon (a = 5.431 A), ``n_atoms = 8 a b c`` near-cubic, e.g. 8, 64, 512, 1000,
    4096, 10648. ``rattle``: standard deviation (A) of seeded random displacements."""
    return _crystal("Si", "diamond", SILICON_LATTICE_A, 8, "diamond silicon", n_atoms, temperature_K, rattle, seed)


def copper(n_atoms: int, *, temperature_K: float | None = None, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """Periodic FCC copper (a = 3.615 A), ``n_atoms = 4 a b c`` near-cubic, e.g. 32, 108, 256, 500, 4000,
    10976."""
    return _crystal("Cu", "fcc", COPPER_LATTICE_A, 4, "FCC copper", n_atoms, temperature_K, rattle, seed)


def aluminium(n_atoms: int, *, temperature_K: float | None = None, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """Periodic FCC aluminium (a = 4.05 A), ``n_atoms = 4 a b c`` near-cubic, e.g. 32, 108, 256, 500."""
    return _crystal("Al", "fcc", ALUMINIUM_LATTICE_A, 4, "FCC aluminium", n_atoms, temperature_K, rattle, seed)


def fcc111_slab(symbol: str, a: float, size: tuple[int, int, int] = (3, 3, 3), *, vacuum_A: float = 10.0,
                rattle: float = 0.0, seed: int = 0) -> Atoms:
    """An FCC(111) slab of ``size`` (in-plane repeats, layers) with ``vacuum_A`` of vacuum on each side:
    periodic in x and y only (pbc T, T, F), so the surface atoms see no image across the vacuum."""
    from ase.build import fcc111

    atoms = fcc111(symbol, size=size, a=a, vacuum=vacuum_A, periodic=False)
    atoms.pbc = (True, True, False)
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


def cluster(symbol: str, a: float, shells: int = 3, *, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """An icosahedral cluster of ``shells`` shells (13, 55, 147 atoms for 2, 3, 4) whose nearest
    neighbours sit at the FCC distance of lattice constant ``a``; no cell, not periodic."""
    from ase.cluster import Icosahedron

    atoms = Icosahedron(symbol, noshells=shells, latticeconstant=a)
    atoms.cell = None
    atoms.pbc = False
    atoms.center()
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


def molecule(name: str, *, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """A molecule of ASE's g2 set (``ase.build.molecule``, e.g. "CH3CH2OH"), no cell, not periodic."""
    from ase.build import molecule as g2_molecule

    atoms = g2_molecule(name)
    atoms.pbc = False
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


def lj_molecule(name: str, sigma: float, *, rattle: float = 0.0, seed: int = 0) -> Atoms:
    """A g2 molecule's shape for a single-species Lennard-Jones model: the geometry scaled so that its
    shortest interatomic distance sits at the pair minimum 2^(1/6) sigma. At its chemical size (~1 A
    bonds against sigma = 3.4 A) every pair would be deep in the repulsive wall, forces of 1e5 eV/A
    that test nothing a simulation meets."""
    atoms = molecule(name)
    distances = atoms.get_all_distances()
    shortest = distances[distances > 0].min()
    atoms.positions *= 2 ** (1 / 6) * sigma / shortest
    if rattle:
        atoms.rattle(rattle, seed=seed)
    return atoms


# TIP3P-like rigid geometry, only to place molecules: the force field decides the rest.
_OH_A = 0.9572
_HOH_DEG = 104.52
_WATER_G_PER_MOL = 18.015
_AVOGADRO_PER_A3 = 0.602214076  # g/cm^3 -> molecules per A^3 is density * this / molar mass
# Rejection bound for atoms of different molecules: below a hydrogen bond's H...O (~1.8 A) a start
# configuration would begin with a spurious, huge repulsion.
_MIN_INTERMOLECULAR_A = 1.6


def water_box(n_atoms: int, *, density_g_cm3: float = 1.0, temperature_K: float | None = None,
              seed: int = 0) -> Atoms:
    """Periodic cubic box of liquid-density water, ``n_atoms = 3 k^3`` (k^3 molecules), e.g. 24, 81, 192,
    648, 3000, 10125.

    Molecules sit on a k x k x k grid (3.1 A apart at 1 g/cm^3) with seeded random orientations,
    redrawn until no atom is closer than 1.6 A to an atom of another molecule: a disordered start
    without overlaps, built in linear time (only grid neighbours are checked).
    """
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, (int, np.integer)) or n_atoms <= 0:
        raise ValueError(f"n_atoms must be a positive int, got {n_atoms!r}")
    n_molecules, remainder = divmod(int(n_atoms), 3)
    k = round(n_molecules ** (1 / 3))
    if remainder or k**3 != n_molecules:
        raise ValueError(f"n_atoms={n_atoms}: a water box has 3*k^3 atoms (k^3 molecules on a grid); "
                         "use e.g. 24, 81, 192, 648, 3000, 10125")
    if density_g_cm3 <= 0:
        raise ValueError(f"density_g_cm3 must be positive, got {density_g_cm3}")
    from scipy.spatial.transform import Rotation

    length = (n_molecules * _WATER_G_PER_MOL / (_AVOGADRO_PER_A3 * density_g_cm3)) ** (1 / 3)
    spacing = length / k
    half = math.radians(_HOH_DEG) / 2
    template = np.array([[0.0, 0.0, 0.0],
                         [_OH_A * math.sin(half), 0.0, _OH_A * math.cos(half)],
                         [-_OH_A * math.sin(half), 0.0, _OH_A * math.cos(half)]])
    template -= template.mean(axis=0)
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(k)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    positions = np.zeros((n_molecules, 3, 3))
    offsets = np.array([o for o in np.ndindex(3, 3, 3)]) - 1
    for index, cell in enumerate(grid):
        centre = (cell + 0.5) * spacing
        # earlier-placed molecules among the 26 grid neighbours (periodic)
        neighbours = (cell + offsets) % k
        linear = (neighbours[:, 0] * k + neighbours[:, 1]) * k + neighbours[:, 2]
        placed = positions[np.unique(linear[linear < index])].reshape(-1, 3)
        for _ in range(1000):
            candidate = centre + Rotation.random(random_state=rng).apply(template)
            if not len(placed):
                break
            delta = candidate[:, None, :] - placed[None, :, :]
            delta -= length * np.round(delta / length)
            if np.sqrt((delta**2).sum(-1)).min() >= _MIN_INTERMOLECULAR_A:
                break
        else:
            raise ValueError(f"water_box: no overlap-free orientation at density {density_g_cm3} g/cm^3")
        positions[index] = candidate
    atoms = Atoms("OH2" * n_molecules, positions=positions.reshape(-1, 3), cell=[length] * 3, pbc=True)
    return _thermalize(atoms, temperature_K, seed)


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
    return _thermalize(atoms, temperature_K, seed)
