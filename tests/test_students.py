"""Teacher vs student and reference-accuracy suites, with the torch Lennard-Jones (no extra needed)."""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import pytest
import torch
from ase.calculators.lj import LennardJones

from machmeter.suites import declaration_of
from machmeter.suites.base import combination_key
from machmeter.suites.students import (
    TEACHER,
    TeacherStudentSuite,
    predict,
    prediction_errors,
    require_runs,
    require_tf32,
    tf32_matmul,
    within,
)
from machmeter.workloads.lj import TorchLennardJones
from machmeter.suites.reference import load_force_reference
from machmeter.workloads.systems import ARGON_LJ, lj_argon

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_prediction_errors_by_hand():
    forces = [np.zeros((2, 3)), np.zeros((1, 3))]
    predicted = [np.array([[0.3, 0.0, 0.4], [0.0, 0.0, 0.0]]), np.array([[0.0, -0.6, 0.0]])]
    errors = prediction_errors([1.0, 2.0], forces, [1.2, 1.0], predicted)
    assert errors["energy_error_per_atom"] == pytest.approx((0.2 / 2 + 1.0 / 1) / 2)
    assert errors["force_mae"] == pytest.approx((0.3 + 0.4 + 0.6) / 9)
    assert errors["force_rmse"] == pytest.approx(math.sqrt((0.09 + 0.16 + 0.36) / 9))
    assert errors["force_max_error"] == pytest.approx(0.6)  # |(0.3, 0, 0.4)| = 0.5 < 0.6
    # the atoms' error norms, structure by structure: 0.5, 0, then 0.6; sorted 0, 0.5, 0.6
    assert errors["force_error_p50__samples"] == pytest.approx([0.5, 0.0, 0.6])
    assert errors["force_error_p50"] == pytest.approx(0.5)
    assert errors["force_error_p95"] == pytest.approx(0.5 + 0.9 * 0.1)  # 95 % of the way: index 1.9
    # the signed component differences, predicted - reference, atom-major (x, y, z), structure by structure
    assert errors["force_component_error__samples"] == pytest.approx([0.3, 0, 0.4, 0, 0, 0, 0, -0.6, 0])
    assert errors["force_component_error"] == 0.0  # their median: a bias, here none
    # the reference forces are all zero here: parity is undefined, and says so
    assert errors["force_r2"] is None and "undefined" in errors["force_r2__unavailable"]
    errors_only = [k for k in errors if not k.startswith(("force_r2", "force_pearson")) and not k.endswith("__samples")]
    exact = prediction_errors([1.0], [forces[0]], [1.0], [forces[0]])
    assert {k: exact[k] for k in errors_only} == dict.fromkeys(errors_only, 0.0)


def test_stress_error_by_hand_and_where_there_is_none():
    from ase import Atoms, units

    from machmeter.suites.students import predict_stresses, stress_error

    reference = [np.zeros(6), None, np.full(6, 1e-3)]
    predicted = [np.array([0, 0, 2e-3, 0, 0, 0]), np.ones(6), np.full(6, 1e-3)]
    assert stress_error(reference, predicted)["stress_error"] == pytest.approx(2e-3 / units.GPa)
    assert stress_error([None], [np.ones(6)]) == {"stress_error": None,
                                                  "stress_error__unavailable": stress_error([], [])["stress_error__unavailable"]}
    # a molecule has no cell to strain: no stress is asked of it
    molecule = Atoms("Ar2", positions=[[0, 0, 0], [0, 0, 3.8]])
    bulk = lj_argon(32)
    stresses = predict_stresses(TorchLennardJones(**ARGON_LJ), [molecule, bulk])
    assert stresses[0] is None and stresses[1].shape == (6,)


def test_force_parity_r2_and_pearson_by_hand():
    from machmeter.suites.students import force_parity

    reference = np.array([[1.0, -1.0, 0.0], [2.0, 0.0, -2.0]])
    exact = force_parity(reference, reference)
    assert exact == {"force_r2": 1.0, "force_pearson": pytest.approx(1.0)}
    # twice the reference: perfectly correlated, but R² sees the scale error
    doubled = force_parity(reference, 2 * reference)
    assert doubled["force_pearson"] == pytest.approx(1.0)
    mean = reference.mean()
    assert doubled["force_r2"] == pytest.approx(1 - np.sum(reference ** 2) / np.sum((reference - mean) ** 2))
    noisy = reference + np.array([[0.1, 0.0, -0.1], [0.0, 0.1, 0.0]])
    parity = force_parity(reference, noisy)
    assert parity["force_r2"] == pytest.approx(1 - 0.03 / np.sum((reference - mean) ** 2))
    assert parity["force_pearson"] == pytest.approx(np.corrcoef(reference.ravel(), noisy.ravel())[0, 1])
    # forces that cancel by symmetry, up to float noise, do not vary: no parity, not R² = -5e29
    symmetric = np.full((4, 3), 1e-17) * np.array([[1.0], [-1.0], [1.0], [-1.0]])
    assert force_parity(symmetric, symmetric + 0.01)["force_r2"] is None
    blown_up = force_parity(reference, np.full_like(reference, np.nan))
    assert math.isnan(blown_up["force_r2"]) and math.isnan(blown_up["force_pearson"])
    flat = force_parity(reference, np.zeros_like(reference))
    assert flat["force_pearson"] is None and "predicted forces are all equal" in flat["force_pearson__unavailable"]


def test_prediction_errors_rejects_mismatches():
    with pytest.raises(ValueError, match="shape"):
        prediction_errors([0.0], [np.zeros((2, 3))], [0.0], [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="same"):
        prediction_errors([0.0], [np.zeros((2, 3))], [], [])


def test_predict_recomputes_each_structure():
    calculator = TorchLennardJones(**ARGON_LJ)
    structures = load_force_reference("lj_argon").structures
    energies, forces = predict(calculator, structures)
    assert energies[0] != energies[1] and all(f.dtype == np.float64 for f in forces)
    # the same structure twice: ASE's cache must not hand back the other structure's result
    again, _ = predict(calculator, [structures[1], structures[0]])
    assert again == [energies[1], energies[0]]


def test_reference_data_is_what_the_script_makes():
    """forces_lj_argon.json holds ASE's own LennardJones on the stored structures (an independent
    implementation); regenerating it gives the same numbers."""
    from scripts.make_force_reference import lj_argon as make_lj_reference

    data = load_force_reference("lj_argon")
    assert data.metadata["calculator"] == "ase.calculators.lj.LennardJones"
    assert [a.info["label"] for a in data.structures] == ["argon-32-rattled", "argon-32-compressed", "argon-slab111-12",
                                                          "argon-cluster-55", "argon-benzene-shape-12"]
    # beyond periodic bulk: a slab periodic in-plane only, and two with no cell at all
    assert [a.pbc.tolist() for a in data.structures[2:]] == [[True, True, False], [False] * 3, [False] * 3]
    energies, forces = predict(LennardJones(**ARGON_LJ), data.structures)
    errors = prediction_errors(data.energies, data.forces, energies, forces)
    assert errors["energy_error_per_atom"] < 1e-12 and errors["force_max_error"] < 1e-7
    _, made_energies, made_forces, _ = make_lj_reference()
    assert made_energies == pytest.approx(data.energies, abs=1e-12)
    assert max(np.abs(m - f).max() for m, f in zip(made_forces, data.forces)) < 1e-7


def test_missing_reference_is_an_asv_skip_that_says_how_to_make_it():
    with pytest.raises(NotImplementedError, match="make_force_reference.py"):
        load_force_reference("no_such_model")


def test_within_applies_and_restores_the_context():
    seen = []
    inner = TorchLennardJones(**ARGON_LJ)
    atoms = lj_argon(32)
    atoms.rattle(0.05, seed=0)
    with_context = within(inner, lambda: _recording(seen))
    before = torch.get_float32_matmul_precision()
    energies, forces = predict(with_context, [atoms])
    assert seen == ["enter", "exit"]
    assert energies == predict(inner, [atoms])[0]
    with tf32_matmul():
        assert torch.get_float32_matmul_precision() == "high"
    assert torch.get_float32_matmul_precision() == before


class _recording:
    def __init__(self, seen):
        self.seen = seen

    def __enter__(self):
        self.seen.append("enter")

    def __exit__(self, *exc):
        self.seen.append("exit")


def test_tf32_is_skipped_on_cpu():
    with pytest.raises(NotImplementedError, match="tensor cores"):
        require_tf32("cpu")


def test_require_runs_turns_an_unsupported_mode_into_a_skip():
    class Broken(TorchLennardJones):
        def calculate(self, *args, **kwargs):
            raise RuntimeError("both inputs should have same dtype\nlong traceback text")

    with pytest.raises(NotImplementedError, match="autocast does not run here: RuntimeError: both inputs should "
                                                  "have same dtype$"):
        require_runs(Broken(**ARGON_LJ), lj_argon(32), "autocast")
    calculator = TorchLennardJones(**ARGON_LJ)
    assert require_runs(calculator, lj_argon(32), "float64") is calculator


class TinyLJStudents(TeacherStudentSuite):
    students = ("float32", "wrong_sigma", "needs_gpu")
    device = "cpu"
    timing_target_time = 0.02
    timing_min_calls = 3

    def make_teacher(self, device):
        return TorchLennardJones(**ARGON_LJ, device=device)

    def make_student(self, name, device):
        if name == "float32":
            return TorchLennardJones(**ARGON_LJ, device=device, dtype=torch.float32)
        if name == "wrong_sigma":
            return TorchLennardJones(**{**ARGON_LJ, "sigma": 3.3}, device=device)
        raise NotImplementedError("this student runs on GPUs only")

    def make_structures(self):
        return load_force_reference("lj_argon").structures


def test_teacher_student_suite_measures_speed_and_accuracy_cost():
    assert TinyLJStudents.params == [["float32", "wrong_sigma", "needs_gpu"]]
    suite = TinyLJStudents()
    measured = suite.setup_cache()
    with pytest.raises(NotImplementedError, match="GPUs only"):
        TinyLJStudents().setup(measured, "needs_gpu")

    suite.setup(measured, "float32")
    speedup = suite.track_speedup(measured, "float32")
    assert speedup["number"] == 1 and len(speedup["samples"]) >= 3 and all(s > 0 for s in speedup["samples"])
    assert speedup["samples"][0] > 0 and suite.metrics["student_ms"] > 0
    assert np.median(speedup["samples"]) == pytest.approx(suite.metrics["teacher_ms"] / suite.metrics["student_ms"], rel=0.05)
    assert suite.metrics["timing_atoms"] == 55  # the largest reference structure: the cluster
    float32_mae = suite.track_force_mae(measured, "float32")
    assert 0 < float32_mae < 1e-5  # float32 rounding, not zero: the student really ran in float32
    assert suite.track_force_rmse(measured, "float32") >= float32_mae
    assert suite.track_energy_error_per_atom(measured, "float32") < 1e-6
    float32_r2 = suite.track_force_r2(measured, "float32")
    assert 1 - 1e-8 < float32_r2 < 1 and suite.track_force_pearson(measured, "float32") > 1 - 1e-8

    # every atom of every reference structure has its error among the p50's samples (the parity data)
    p50 = suite.track_force_error_p50(measured, "float32")
    assert len(p50["samples"]) == sum(len(a) for a in load_force_reference("lj_argon").structures)
    assert np.median(p50["samples"]) == pytest.approx(suite.metrics["force_error_p50"])
    float32_p95 = suite.track_force_error_p95(measured, "float32")
    assert 0 < p50["samples"][0] and float32_p95 <= suite.track_force_max_error(measured, "float32")

    # every force component's signed difference from the teacher's, in the structures' order: the
    # teacher's components + these samples are the student's (the parity scatter's data)
    components = suite.track_force_component_error(measured, "float32")
    structures = load_force_reference("lj_argon").structures
    teacher = TorchLennardJones(**ARGON_LJ)
    student = TorchLennardJones(**ARGON_LJ, dtype=torch.float32)
    expected = np.concatenate([(predict(student, structures)[1][i] - f).ravel()
                               for i, f in enumerate(predict(teacher, structures)[1])])
    assert components["number"] == 1 and components["samples"] == expected.tolist()
    assert len(components["samples"]) == 3 * len(p50["samples"]) and np.any(np.array(components["samples"]) < 0)
    norms = np.linalg.norm(np.reshape(components["samples"], (-1, 3)), axis=1)
    assert norms == pytest.approx(p50["samples"], rel=1e-12)  # the same errors as the atoms' norms
    assert np.mean(np.abs(components["samples"])) == pytest.approx(float32_mae)
    assert suite.metrics["force_component_error"] == np.median(expected)
    assert declaration_of(TinyLJStudents.track_force_component_error)["metric_kind"] == "state"  # shown, never judged

    float32_stress = suite.track_stress_error(measured, "float32")
    assert 0 <= float32_stress < 1e-4  # GPa: float32 rounding

    suite.setup(measured, "wrong_sigma")
    assert suite.track_stress_error(measured, "wrong_sigma") > 1e-3  # another sigma, another pressure
    # R² sees the other model; the parity's shortfall is a million times float32's
    assert 1 - suite.track_force_r2(measured, "wrong_sigma") > 1e6 * (1 - float32_r2)
    # a different model is far beyond float32 rounding: the accuracy cost tells them apart
    assert suite.track_force_mae(measured, "wrong_sigma") > 1e3 * float32_mae
    assert suite.track_force_max_error(measured, "wrong_sigma") > suite.track_force_mae(measured, "wrong_sigma")
    assert suite.track_force_error_p95(measured, "wrong_sigma") > 1e3 * float32_p95


def test_teacher_is_built_once_per_pass():
    built = []

    class Counting(TinyLJStudents):
        students = ("float32", "wrong_sigma")

        def make_teacher(self, device):
            built.append(device)
            return super().make_teacher(device)

    Counting().setup_cache()
    assert len(built) == 1


def test_declarations_make_errors_accuracy_and_speedup_higher_is_better():
    assert declaration_of(TeacherStudentSuite.track_speedup) == {
        "metric_kind": "throughput", "higher_is_better": True, "unit": "x"}
    assert declaration_of(TeacherStudentSuite.track_force_mae) == {
        "metric_kind": "accuracy", "higher_is_better": False, "unit": "eV/Å", "tolerance_abs": 1e-4,
        "tolerance_rel": 0.5}


class LJWithReference(TinyLJStudents):
    students = ("float32",)
    reference = "lj_argon"
    sigma = ARGON_LJ["sigma"]

    def make_teacher(self, device):
        return TorchLennardJones(**{**ARGON_LJ, "sigma": self.sigma}, device=device)

    def make_structures(self):
        return TeacherStudentSuite.make_structures(self)  # the reference's


def test_teacher_row_compares_the_teacher_with_the_reference_data():
    assert LJWithReference.params == [[TEACHER, "float32"]]
    suite = LJWithReference()
    measured = suite.setup_cache()
    suite.setup(measured, TEACHER)
    tolerance = LJWithReference.track_force_mae.tolerance_abs
    assert suite.track_force_mae(measured, TEACHER) < tolerance / 100
    assert suite.track_energy_error_per_atom(measured, TEACHER) < 1e-10
    assert math.isnan(suite.track_speedup(measured, TEACHER))  # the teacher is the unit, not a student
    assert "unit" in suite.metrics["speedup__unavailable"]
    # the teacher's signed differences are from the stored data: reference + samples = the teacher's forces
    data = load_force_reference("lj_argon")
    components = np.array(suite.track_force_component_error(measured, TEACHER)["samples"])
    _, teacher_forces = predict(TorchLennardJones(**ARGON_LJ), data.structures)
    reference = np.concatenate([f.ravel() for f in data.forces])
    assert components.tolist() == (np.concatenate([f.ravel() for f in teacher_forces]) - reference).tolist()

    class WrongTeacher(LJWithReference):
        sigma = ARGON_LJ["sigma"] * 1.001  # 0.1% off: a commit that changed the teacher

    wrong = WrongTeacher()
    measured = wrong.setup_cache()
    wrong.setup(measured, TEACHER)
    teacher_error = wrong.track_force_mae(measured, TEACHER)
    assert teacher_error > tolerance
    # a student is compared with the teacher, not with the data: the right-sigma float32 student is
    # now as far from the teacher as the teacher is from the data
    wrong.setup(measured, "float32")
    assert wrong.track_force_mae(measured, "float32") == pytest.approx(teacher_error, rel=1e-3)


def test_teacher_row_skips_where_the_teacher_is_not_the_references_model():
    class OtherWeights(LJWithReference):
        def reference_mismatch(self, data):
            return "weights differ from the reference's"

    measured = OtherWeights().setup_cache()
    assert measured[combination_key((TEACHER,))] == {"skip": "weights differ from the reference's"}
    assert "metrics" in measured[combination_key(("float32",))]  # the students still run


def test_a_suite_needs_structures():
    class NoStructures(TinyLJStudents):
        make_structures = TeacherStudentSuite.make_structures

    measured = NoStructures().setup_cache()
    assert "neither a reference nor make_structures" in measured[combination_key(("float32",))]["skip"]


def test_repository_student_suites_on_cpu():
    """benchmarks/md_students.py as asv runs it on a CPU (the SevenNet parts need the mlff extra)."""
    import md_students

    class SmallLJ(md_students.LennardJonesStudents):
        timing_target_time = 0.02

        def make_timing_structure(self, device):
            return lj_argon(32)

    assert SmallLJ.params == [["teacher", "float32", "cutoff_2.5sigma"]]
    suite = SmallLJ()
    measured = suite.setup_cache()
    suite.setup(measured, "teacher")  # the float64 torch LJ against ASE's own LennardJones
    assert suite.track_force_max_error(measured, "teacher") < 1e-6
    suite.setup(measured, "cutoff_2.5sigma")
    # the cheaper model costs accuracy: it drops the pairs between 2.5 and 3 sigma
    assert suite.track_energy_error_per_atom(measured, "cutoff_2.5sigma") > 1e-3
    suite.setup(measured, "float32")
    assert suite.track_force_mae(measured, "float32") < 1e-5


def test_asv_discovers_the_new_suites():
    from asv_runner.discovery import disc_benchmarks, update_sys_path

    root = str(ROOT / "benchmarks")
    update_sys_path(root)
    names = {benchmark.name for benchmark in disc_benchmarks(root)}
    expected = {
        "md_students.LennardJonesStudents.track_speedup",
        "md_students.SevenNetStudents.track_force_max_error",
        "md_sevennet.SevenNetSilicon.track_nvt_temperature_deviation",
        "md_sevennet.SevenNetSilicon.track_memory_growth_per_step",
        "md_lennard_jones.LennardJonesArgon.track_memory_growth_per_step",
    }
    assert expected <= names
    bases = ("TeacherStudentSuite",)
    assert not [name for name in names if name.split(".")[1] in bases]
