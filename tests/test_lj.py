"""TorchLennardJones / torch neighbour list vs ase.calculators.lj.LennardJones."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.lj import LennardJones
from ase.neighborlist import neighbor_list as ase_neighbor_list

from machmeter.workloads.lj import (
    LJPotential,
    TorchLennardJones,
    TorchNeighborList,
    lj_energy_forces,
    neighbor_list,
)
from machmeter.workloads import systems
from machmeter.workloads.systems import ARGON_LJ

AR = dict(epsilon=ARGON_LJ["epsilon"], sigma=ARGON_LJ["sigma"])  # rc: ASE default 3 sigma


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _perturbed(atoms, scale=0.1, seed=0):
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).normal(0.0, scale, atoms.positions.shape)
    return atoms


def argon_fcc(reps=(3, 3, 3), seed=0):
    return _perturbed(bulk("Ar", "fcc", a=5.26, cubic=True).repeat(reps), 0.1, seed)


def tiny_box():
    # 4 atoms in a 5.26 A cube, rc = 10.2 A: the cutoff is ~2 box lengths
    return argon_fcc((1, 1, 1), seed=1)


def small_box():
    # 32 atoms, box 10.52 A < 2 rc
    return argon_fcc((2, 2, 2), seed=2)


def triclinic():
    at = bulk("Ar", "fcc", a=5.26).repeat((3, 2, 4))  # primitive FCC: 60 degree angles
    strain = np.array([[1.0, 0.05, -0.08], [0.0, 0.97, 0.11], [0.0, 0.0, 1.03]])
    at.set_cell(at.cell.array @ strain, scale_atoms=True)
    at = _perturbed(at, 0.1, 3)
    at.positions += np.array([7.0, -13.0, 21.0])  # atoms outside the cell: needs wrapping
    return at


def cluster():
    big = bulk("Ar", "fcc", a=5.26, cubic=True).repeat((4, 4, 4))
    center = big.positions.mean(0)
    keep = np.linalg.norm(big.positions - center, axis=1) < 8.0
    at = Atoms("Ar%d" % keep.sum(), positions=big.positions[keep] - center)  # no cell, no pbc
    return _perturbed(at, 0.1, 4)


def slab():
    at = argon_fcc((3, 3, 2), seed=5)
    at.pbc = [True, True, False]
    at.cell[2] = [0.0, 0.0, 30.0]
    return at


SYSTEMS = {
    "fcc108": argon_fcc,
    "tiny_box_rc_gt_box": tiny_box,
    "small_box_rc_gt_half": small_box,
    "triclinic": triclinic,
    "cluster": cluster,
    "slab_mixed_pbc": slab,
}


def _results(atoms, calc):
    atoms = atoms.copy()
    atoms.calc = calc
    out = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(),
        "energies": atoms.get_potential_energies(),
    }
    if atoms.cell.rank == 3:
        out["stress"] = atoms.get_stress()
    else:
        with pytest.raises(PropertyNotImplementedError):
            atoms.get_stress()
    return out


def _assert_close(ref, got, rtol, atol_frac=1e-3):
    """rtol, plus an absolute floor of rtol * atol_frac * (largest |value|) for the
    components that are ~0 by symmetry or cancellation."""
    assert set(ref) == set(got)
    np.testing.assert_allclose(got["energy"], ref["energy"], rtol=rtol, atol=1e-12)
    for key in ("forces", "energies", "stress"):
        if key in ref:
            atol = max(rtol * atol_frac * np.abs(ref[key]).max(), 1e-14)
            np.testing.assert_allclose(got[key], ref[key], rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("smooth", [False, True], ids=["shifted", "smooth"])
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_matches_ase_float64(name, smooth):
    atoms = SYSTEMS[name]()
    ref = _results(atoms, LennardJones(**AR, smooth=smooth))
    got = _results(atoms, TorchLennardJones(**AR, smooth=smooth))
    assert np.abs(ref["forces"]).max() > 1e-3  # a non-trivial configuration
    _assert_close(ref, got, rtol=1e-6)


# Aluminium as a Lennard-Jones solid: Halicioglu and Pound, Phys. Status Solidi A 30, 619 (1975).
ALUMINIUM_LJ = dict(epsilon=0.392, sigma=2.62)

# The builders the force references use, each with the parameters that suit it: the systems beyond
# periodic bulk (slab: periodic in-plane with an in-plane box narrower than the cutoff; cluster and
# molecule: no cell at all) and aluminium, a denser lattice with its own epsilon and sigma.
BUILT_SYSTEMS = {
    "fcc111_slab": (lambda: systems.fcc111_slab("Ar", systems.ARGON_LATTICE_A, (2, 2, 3), rattle=0.1, seed=3), AR),
    "icosahedral_cluster": (lambda: systems.cluster("Ar", systems.ARGON_LATTICE_A, 3, rattle=0.1, seed=4), AR),
    "molecule_benzene": (lambda: systems.lj_molecule("C6H6", AR["sigma"], rattle=0.05, seed=5), AR),
    "aluminium_bulk": (lambda: systems.aluminium(32, rattle=0.05, seed=6), ALUMINIUM_LJ),
}


@pytest.mark.parametrize("smooth", [False, True], ids=["shifted", "smooth"])
@pytest.mark.parametrize("name", list(BUILT_SYSTEMS))
def test_matches_ase_on_the_reference_systems(name, smooth):
    build, params = BUILT_SYSTEMS[name]
    atoms = build()
    ref = _results(atoms, LennardJones(**params, smooth=smooth))
    got = _results(atoms, TorchLennardJones(**params, smooth=smooth))
    assert np.abs(ref["forces"]).max() > 1e-3  # a non-trivial configuration
    _assert_close(ref, got, rtol=1e-6)


def test_reference_systems_have_the_periodicity_they_name():
    assert systems.fcc111_slab("Ar", systems.ARGON_LATTICE_A, (2, 2, 3)).pbc.tolist() == [True, True, False]
    for atoms in (systems.cluster("Ar", systems.ARGON_LATTICE_A, 3), systems.molecule("CH3CH2OH")):
        assert not atoms.pbc.any() and atoms.cell.rank == 0
    assert len(systems.cluster("Ar", systems.ARGON_LATTICE_A, 3)) == 55
    benzene = systems.lj_molecule("C6H6", 3.4).get_all_distances()
    assert benzene[benzene > 0].min() == pytest.approx(2 ** (1 / 6) * 3.4)


@pytest.mark.parametrize("params", [dict(rc=8.5), dict(rc=8.5, ro=6.0, smooth=True),
                                    dict(epsilon=1.0, sigma=1.0)])
def test_matches_ase_other_parameters(params):
    atoms = argon_fcc((3, 3, 3), seed=7)
    if "epsilon" in params:  # reduced units: sigma = 1, nearest neighbours at 2^(1/6)
        atoms.set_cell(atoms.cell.array * (2 ** (1 / 6) / 3.72), scale_atoms=True)
    ref = _results(atoms, LennardJones(**{**AR, **params}))
    got = _results(atoms, TorchLennardJones(**{**AR, **params}))
    _assert_close(ref, got, rtol=1e-6)


def test_single_atom_periodic_self_images():
    atoms = Atoms("Ar", positions=[[0.3, 0.2, 0.1]], cell=[4.0, 4.5, 5.0], pbc=True)
    ref = _results(atoms, LennardJones(**AR))
    got = _results(atoms, TorchLennardJones(**AR))
    _assert_close(ref, got, rtol=1e-6)


def test_isolated_atom():
    atoms = Atoms("Ar", positions=[[0.0, 0.0, 0.0]])
    atoms.calc = TorchLennardJones(**AR)
    assert atoms.get_potential_energy() == 0.0
    assert np.all(atoms.get_forces() == 0.0)


@pytest.mark.parametrize("smooth", [False, True])
def test_forces_are_minus_gradient(smooth):
    atoms = small_box()
    calc = TorchLennardJones(**AR, smooth=smooth)
    atoms.calc = calc
    forces = atoms.get_forces()
    h = 1e-5
    fd = np.zeros_like(forces)
    for a in range(len(atoms)):
        for k in range(3):
            p = atoms.positions.copy()
            p[a, k] += h
            atoms.positions = p
            ep = atoms.get_potential_energy()
            p[a, k] -= 2 * h
            atoms.positions = p
            em = atoms.get_potential_energy()
            p[a, k] += h
            atoms.positions = p
            fd[a, k] = -(ep - em) / (2 * h)
    np.testing.assert_allclose(forces, fd, rtol=1e-5, atol=1e-8)


def test_stress_is_strain_derivative():
    atoms = triclinic()
    atoms.calc = TorchLennardJones(**AR, smooth=True)
    stress = atoms.get_stress(voigt=False)
    cell0, pos0 = atoms.cell.array.copy(), atoms.positions.copy()
    vol = atoms.get_volume()
    h = 1e-6
    fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            es = []
            for sign in (1, -1):
                eps = np.eye(3)
                eps[a, b] += sign * h / 2
                eps[b, a] += sign * h / 2
                atoms.set_cell(cell0 @ eps, scale_atoms=False)
                atoms.positions = pos0 @ eps
                es.append(atoms.get_potential_energy())
            fd[a, b] = (es[0] - es[1]) / (2 * h) / vol
    np.testing.assert_allclose(stress, fd, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("name", ["fcc108", "small_box_rc_gt_half", "triclinic", "cluster"])
def test_float32_close(name):
    atoms = SYSTEMS[name]()
    ref = _results(atoms, LennardJones(**AR))
    got = _results(atoms, TorchLennardJones(**AR, dtype=torch.float32))
    assert got["forces"].dtype == np.float64
    # float32 sums of ~100 pair forces: absolute errors ~1e-7 of the force scale
    _assert_close(ref, got, rtol=1e-4, atol_frac=0.1)


def _pair_set(i, j, s):
    """Full (both-ways) set of (i, j, shift) triples."""
    out = set()
    for a, b, sh in zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.asarray(s).tolist()):
        out.add((a, b, tuple(sh)))
    return out


@pytest.mark.parametrize("name", list(SYSTEMS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_neighbor_list_matches_ase(name, dtype):
    atoms = SYSTEMS[name]()
    rc = 3 * AR["sigma"]
    ai, aj, aS = ase_neighbor_list("ijS", atoms, rc)
    pos = torch.tensor(atoms.positions, dtype=dtype)
    i, j, s = neighbor_list(pos, atoms.cell.array, atoms.pbc, rc)
    # half list: each pair once
    assert 2 * len(i) == len(ai)
    full = _pair_set(i, j, s) | _pair_set(j, i, -s.numpy())
    assert len(full) == len(ai)
    if dtype == torch.float64:  # float32 may differ for pairs within ~1e-6 A of rc
        assert full == _pair_set(ai, aj, aS)
    # convention: D = pos[j] - pos[i] + s @ cell, |D| < rc
    d = atoms.positions[j.numpy()] - atoms.positions[i.numpy()] + s.numpy() @ atoms.cell.array
    assert np.all(np.linalg.norm(d, axis=1) < rc * (1 + 1e-6))


def test_neighbor_list_small_chunks():
    atoms = argon_fcc((3, 3, 3))
    pos = torch.tensor(atoms.positions)
    ref = neighbor_list(pos, atoms.cell.array, atoms.pbc, 10.2)
    got = neighbor_list(pos, atoms.cell.array, atoms.pbc, 10.2, chunk_elems=1000)
    assert _pair_set(*ref) == _pair_set(*got)


def test_verlet_skin_reuse():
    atoms = argon_fcc((3, 3, 3))
    nl = TorchNeighborList(10.2, skin=1.0)
    pos = torch.tensor(atoms.positions)
    p1 = nl.update(pos, atoms.cell.array, atoms.pbc)
    assert p1.rebuilt and nl.n_builds == 1
    p2 = nl.update(pos + 0.2, atoms.cell.array, atoms.pbc)  # |move| = 0.35 < skin/2
    assert not p2.rebuilt and nl.n_builds == 1
    moved = pos.clone()
    moved[5, 0] += 0.6
    p3 = nl.update(moved, atoms.cell.array, atoms.pbc)
    assert p3.rebuilt and nl.n_builds == 2

    # energies/forces with a skin equal those without, along a short trajectory
    calc_skin = TorchLennardJones(**AR, skin=1.0)
    rng = np.random.default_rng(0)
    for _ in range(6):
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        ref = _results(atoms, LennardJones(**AR))
        got = _results(atoms, calc_skin)
        _assert_close(ref, got, rtol=1e-6)
    assert calc_skin._get_potential().nl.n_builds < 6


def test_torch_api_matches_calculator():
    atoms = triclinic()
    atoms.calc = TorchLennardJones(**AR)
    e_ref, f_ref = atoms.get_potential_energy(), atoms.get_forces()
    pos = torch.tensor(atoms.positions)
    e, f = lj_energy_forces(pos, torch.tensor(atoms.cell.array), atoms.pbc, **AR)
    assert e.shape == () and f.shape == pos.shape
    np.testing.assert_allclose(e.item(), e_ref, rtol=1e-12)
    np.testing.assert_allclose(f.numpy(), f_ref, rtol=1e-10, atol=1e-14)

    pot = LJPotential(**AR)
    out = pot.compute(pos, atoms.cell.array, atoms.pbc, stress=True, energies=True)
    np.testing.assert_allclose(out.stress.numpy(), atoms.get_stress(), rtol=1e-10)
    np.testing.assert_allclose(out.energies.sum().item(), e_ref, rtol=1e-12)


def test_calculator_reuses_plan_and_tracks_cell_changes():
    atoms = argon_fcc((3, 3, 3))
    calc = TorchLennardJones(**AR)
    atoms.calc = calc
    atoms.get_forces()
    plan = calc._get_potential().nl._plan
    atoms.positions += 0.01
    atoms.get_forces()
    assert calc._get_potential().nl._plan is plan
    atoms.set_cell(atoms.cell.array * 1.01, scale_atoms=True)
    ref = _results(atoms, LennardJones(**AR))
    _assert_close(ref, _results(atoms, calc), rtol=1e-6)
    assert calc._get_potential().nl._plan is not plan
    calc.set(epsilon=2 * AR["epsilon"])
    assert np.isclose(atoms.get_potential_energy(), 2 * ref["energy"], rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(SYSTEMS))
def test_cuda_matches_cpu(name):
    atoms = SYSTEMS[name]()
    for smooth in (False, True):
        cpu = _results(atoms, TorchLennardJones(**AR, smooth=smooth))
        gpu = _results(atoms, TorchLennardJones(**AR, smooth=smooth, device="cuda"))
        _assert_close(cpu, gpu, rtol=1e-10)
        gpu32 = _results(atoms, TorchLennardJones(**AR, smooth=smooth, device="cuda",
                                                  dtype=torch.float32))
        _assert_close(cpu, gpu32, rtol=1e-4, atol_frac=0.1)
    rc = 3 * AR["sigma"]
    for dtype in (torch.float64, torch.float32):
        pos = torch.tensor(atoms.positions, dtype=dtype)
        i, j, s = neighbor_list(pos.cuda(), atoms.cell.array, atoms.pbc, rc)
        ci, cj, cs = neighbor_list(pos, atoms.cell.array, atoms.pbc, rc)
        assert i.is_cuda
        got = _pair_set(i.cpu(), j.cpu(), s.cpu()) | _pair_set(j.cpu(), i.cpu(), -s.cpu().numpy())
        ref = _pair_set(ci, cj, cs) | _pair_set(cj, ci, -cs.numpy())
        assert got == ref
