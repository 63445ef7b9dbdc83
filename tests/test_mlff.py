"""SevenNet-0 (the mlff extra): availability and skips, accuracy against the stored reference, the
reduced-precision rebuilds, MD at a tiny size on the CPU; CUDA paths are GPU-marked."""

from __future__ import annotations

import builtins
import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest

from machmeter.errors import MachmeterError
from machmeter.suites.students import TeacherStudentSuite, predict, prediction_errors
from machmeter.workloads import mlff
from machmeter.suites.reference import load_force_reference
from machmeter.workloads.mlff import require_sevennet, sevennet_calculator, sevennet_unavailable

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

needs_sevenn = pytest.mark.skipif(importlib.util.find_spec("sevenn") is None, reason="the mlff extra (sevenn)")


# -- without the extra ------------------------------------------------------------------------------
@pytest.fixture
def no_sevenn(monkeypatch):
    """The mlff extra absent: sevenn can be neither found nor imported."""
    real_find_spec, real_import = importlib.util.find_spec, builtins.__import__

    def find_spec(name, *args, **kwargs):
        return None if name == "sevenn" or name.startswith("sevenn.") else real_find_spec(name, *args, **kwargs)

    def guarded_import(name, *args, **kwargs):
        if name == "sevenn" or name.startswith("sevenn."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(builtins, "__import__", guarded_import)


def test_absent_extra_is_a_reason_not_a_crash(no_sevenn):
    assert "pip install 'machmeter[mlff]'" in sevennet_unavailable()
    with pytest.raises(NotImplementedError, match=r"mlff extra"):
        require_sevennet()
    with pytest.raises(NotImplementedError, match=r"mlff extra"):
        sevennet_calculator("cpu")


def test_broken_install_is_a_reason(monkeypatch):
    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "sevenn.calculator":
            raise ImportError("libtorch_geometric.so: undefined symbol")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: object())
    monkeypatch.setattr(builtins, "__import__", broken)
    assert sevennet_unavailable() == ("sevenn is installed but does not import: ImportError: "
                                      "libtorch_geometric.so: undefined symbol")


def test_benchmarks_skip_with_the_reason_without_the_extra(no_sevenn):
    import md_lennard_jones
    import md_sevennet
    import md_students

    from machmeter.suites.base import combination_key

    students = md_students.SevenNetStudents().measure_all()
    assert {entry.get("skip") for entry in students.values()} == {sevennet_unavailable()}
    assert "mlff extra" in sevennet_unavailable()

    class CpuSilicon(md_sevennet.SevenNetSilicon):
        params = ([512], ["cpu"], ["float32"])
        cpu_max_atoms = 512  # past the size check: the skip must come from the missing extra

    assert CpuSilicon().measure_all() == {combination_key((512, "cpu", "float32")): {"skip": sevennet_unavailable()}}
    # what needs no extra still runs: the Lennard-Jones workloads import nothing of sevenn
    assert md_lennard_jones.LennardJonesArgon and md_students.LennardJonesStudents.params[0][0] == "teacher"


# -- with the extra, on the CPU ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def shipped():
    if importlib.util.find_spec("sevenn") is None:
        pytest.skip("the mlff extra (sevenn)")
    return sevennet_calculator("cpu")


@pytest.fixture(scope="module")
def reference():
    return load_force_reference("sevennet0")


@needs_sevenn
def test_shipped_model_reproduces_the_reference(shipped, reference):
    assert [len(a) for a in reference.structures] == [16, 32, 24, 32, 12, 13, 9]
    # Al bulk, then beyond periodic bulk: an Al(111) slab, a Cu cluster and ethanol (no cell)
    assert [a.pbc.tolist() for a in reference.structures[4:]] == [[True, True, False], [False] * 3, [False] * 3]
    assert reference.metadata["model"] == mlff.SEVENNET_MODEL and reference.metadata["dtype"] == "float64"
    errors = prediction_errors(reference.energies, reference.forces, *predict(shipped, reference.structures))
    # float32 against the float64 rebuild: rounding only, well inside the declared tolerances
    assert errors["force_mae"] < TeacherStudentSuite.track_force_mae.tolerance_abs / 10
    assert errors["force_max_error"] < TeacherStudentSuite.track_force_max_error.tolerance_abs / 10
    assert errors["energy_error_per_atom"] < TeacherStudentSuite.track_energy_error_per_atom.tolerance_abs / 10
    # and the forces are real ones (a rattled crystal, a water box), not zeros that any model matches
    assert min(np.abs(f).mean() for f in reference.forces) > 0.1


@needs_sevenn
def test_reference_check_fails_a_perturbed_model(shipped, reference):
    """A commit that changes the weights by 1% shows far above the reference suite's tolerance."""
    import torch

    saved = [p.detach().clone() for p in shipped.model.parameters()]
    try:
        with torch.no_grad():
            for parameter in shipped.model.parameters():
                parameter.mul_(1.01)
        errors = prediction_errors(reference.energies, reference.forces, *predict(shipped, reference.structures))
    finally:
        with torch.no_grad():
            for parameter, value in zip(shipped.model.parameters(), saved):
                parameter.copy_(value)
    assert errors["force_mae"] > 1e-3


@needs_sevenn
def test_float64_rebuild_is_the_reference(reference):
    """The reference data's model: the network rebuilt in float64 (bfloat16 is a student below)."""
    import torch

    calculator = sevennet_calculator("cpu", "float64")
    assert {p.dtype for p in calculator.model.parameters()} == {torch.float64}
    # the silicon structure: float64 e3nn on a CPU is slow, and one structure checks the path
    errors = prediction_errors(reference.energies[:1], reference.forces[:1],
                               *predict(calculator, reference.structures[:1]))
    assert errors["force_max_error"] < 1e-6  # stored to 1e-7 eV/A


def test_bad_dtype_is_one_line():
    if importlib.util.find_spec("sevenn") is None:
        pytest.skip("the mlff extra (sevenn)")
    with pytest.raises(MachmeterError, match="must be one of float32, float64, float16, bfloat16, not 'int8'"):
        sevennet_calculator("cpu", "int8")


@needs_sevenn
def test_sevennet_students_on_cpu():
    """The repository's SevenNet student suite as a CPU runs it: bfloat16 measured, the others skipped
    with reasons that come from this device and this e3nn."""
    import md_students

    class Quick(md_students.SevenNetStudents):
        students = ("tf32", "float16", "bfloat16", "autocast_bfloat16")  # autocast: outside the repo's run
        timing_target_time = 0.05
        timing_min_calls = 2

    suite = Quick()
    measured = suite.setup_cache()
    with pytest.raises(NotImplementedError, match="tensor cores"):
        Quick().setup(measured, "tf32")
    with pytest.raises(NotImplementedError, match="float16 on a CPU is emulated"):
        Quick().setup(measured, "float16")
    with pytest.raises(NotImplementedError, match=r"autocast\(bfloat16\) of SevenNet-0 .* does not run here"):
        Quick().setup(measured, "autocast_bfloat16")
    suite.setup(measured, "teacher")  # the shipped float32 model against the float64 reference data
    assert suite.track_force_mae(measured, "teacher") < 1e-5
    suite.setup(measured, "bfloat16")
    assert suite.metrics["timing_atoms"] == 8
    assert all(s > 0 for s in suite.track_speedup(measured, "bfloat16")["samples"])
    # bfloat16 keeps 8 bits of mantissa: a real, measurable cost against the float32 teacher
    assert 1e-3 < suite.track_force_mae(measured, "bfloat16") < 0.2
    assert suite.track_energy_error_per_atom(measured, "bfloat16") > 1e-4


@needs_sevenn
def test_teacher_row_skips_when_the_checkpoint_is_not_the_references(monkeypatch, reference):
    import md_students

    suite = md_students.SevenNetStudents()
    assert suite.reference_mismatch(reference) is None  # the stored data came from the installed weights
    monkeypatch.setattr(mlff, "sevennet_checkpoint_sha256", lambda model=mlff.SEVENNET_MODEL: "0" * 64)
    assert suite.reference_mismatch(reference).startswith("the installed SevenNet-0 checkpoint (sha256 000000000000)")


@needs_sevenn
def test_sevennet_md_at_a_tiny_size_on_cpu():
    import md_sevennet

    class TinySilicon(md_sevennet.SevenNetSilicon):
        params = ([8], ["cpu"], ["float32"])
        cpu_max_atoms = 8
        latency_target_time = 0.01
        latency_min_steps = 3
        memory_steps = 1
        trajectory_steps = 4
        cpu_nvt_steps = 4

    suite = TinySilicon()
    measured = suite.setup_cache()
    suite.setup(measured, 8, "cpu", "float32")
    assert suite.metrics["nve_steps"] == 4 and suite.metrics["nvt_steps"] == 4
    assert suite.track_step_latency_p50(measured, 8, "cpu", "float32")["samples"]
    assert math.isfinite(suite.track_nve_energy_drift(measured, 8, "cpu", "float32"))
    assert math.isfinite(suite.track_nvt_temperature_deviation(measured, 8, "cpu", "float32"))


def test_sevennet_md_skips_gpu_sizes_on_cpu(monkeypatch):
    import md_sevennet
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    measured = md_sevennet.SevenNetSilicon().measure_all()
    assert {entry["skip"] for entry in measured.values()} == {
        "512 atoms exceeds cpu_max_atoms=0: a GPU size", "10648 atoms exceeds cpu_max_atoms=0: a GPU size"}


# -- CUDA paths (scripts/gpu_check.sh) -------------------------------------------------------------

@pytest.mark.gpu
@needs_sevenn
def test_tf32_student_on_cuda():
    import md_students

    suite = md_students.SevenNetStudents()
    measured = suite.setup_cache()
    suite.setup(measured, "tf32")
    assert suite.metrics["device"].startswith("cuda") and suite.metrics["timing_atoms"] == 1000
    assert suite.metrics["speedup"] > 0.5  # TF32 barely speeds up launch-bound e3nn: measured, not assumed
    assert all(s > 0 for s in suite.track_speedup(measured, "tf32")["samples"])
    # TF32 rounds matmul inputs to 10 bits: a cost that is measurable but small (~4e-4 eV/A on an H200)
    assert 1e-6 < suite.track_force_mae(measured, "tf32") < 1e-2
    suite.setup(measured, "float16")
    assert 1e-4 < suite.track_force_mae(measured, "float16") < 0.1
    suite.setup(measured, "teacher")  # float32 on the GPU against the float64 CPU reference
    assert suite.track_force_mae(measured, "teacher") < TeacherStudentSuite.track_force_mae.tolerance_abs


@pytest.mark.gpu
@needs_sevenn
def test_thousand_step_nve_drift_and_memory_on_cuda():
    """1,000 NVE steps of SevenNet-0 (64 Si atoms, 300 K, 1 fs) on the GPU: energy is conserved and
    the CUDA allocator does not grow step after step."""
    from machmeter.instruments import leak_check
    from machmeter.workloads.md import nve_energy_drift
    from machmeter.workloads.systems import silicon

    calculator = sevennet_calculator("cuda")
    leaks = []
    drift = nve_energy_drift(silicon(64, temperature_K=300, seed=0), calculator, steps=1000, timestep_fs=1.0,
                             drive=lambda step, n: leaks.append(leak_check(step, calls=n, device="cuda",
                                                                           warmup_calls=0)))
    assert drift.steps == 1000
    # thermal energy is (3/2) kT = 39 meV/atom at 300 K: the total stays within a few percent of it
    assert drift.max_abs_deviation_eV_per_atom < 2e-3
    assert abs(drift.drift_eV_per_atom_per_ps) < 2e-3
    assert leaks[0].quantity == "torch_allocated_bytes" and not leaks[0].leaking()


@pytest.mark.gpu
@needs_sevenn
def test_out_of_memory_size_is_skipped_and_the_next_size_runs():
    import md_sevennet

    class Huge(md_sevennet.SevenNetSilicon):
        # 8 * 30^3 = 216,000 atoms: ~0.7 TB at SevenNet-0's ~3.3 MB per atom, beyond any one GPU
        params = ([216000, 64], ["cuda"], ["float32"])
        latency_target_time = 0.1
        energy_min_steps = 5
        trajectory_steps = 5

    measured = Huge().measure_all()
    from machmeter.suites.base import combination_key

    assert measured[combination_key((216000, "cuda", "float32"))] == {
        "skip": "out of memory at {'n_atoms': 216000, 'device': 'cuda', 'dtype': 'float32'}"}
    assert measured[combination_key((64, "cuda", "float32"))]["metrics"]["steps_per_second"] > 0


@pytest.mark.gpu
@needs_sevenn
@pytest.mark.parametrize("system, n_atoms", [("copper", 10976), ("water_box", 10125)])
def test_ten_thousand_atoms_of_copper_and_water(system, n_atoms):
    """The ~10,000-atom copper and water boxes outside the per-commit budget: measured where they fit
    (53 and 63 GB on an H100), reported as out of memory where they do not."""
    import md_sevennet

    from machmeter.suites.base import combination_key
    from machmeter.workloads import systems

    class Large(md_sevennet.SevenNetSilicon):
        params = ([n_atoms], ["cuda"], ["float32"])
        timestep_fs = 0.5 if system == "water_box" else 2.0

        def make_atoms(self, n):
            return getattr(systems, system)(n, temperature_K=self.temperature_K, seed=0)

    entry = Large().measure_all()[combination_key((n_atoms, "cuda", "float32"))]
    if "skip" in entry:
        assert entry["skip"].startswith("out of memory at")
        return
    metrics = entry["metrics"]
    assert metrics["steps_per_second"] > 0 and metrics["peak_torch_allocated_bytes"] > 1e9
    assert metrics["nve_drift_eV_per_atom_per_ps"] is None  # no trajectories at this size (budget)
