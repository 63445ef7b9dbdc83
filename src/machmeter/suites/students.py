"""asv suite for force fields: teacher vs students, and the teacher against stored reference data.

Teams that make a force field faster (a teacher distilled into a 5-10x faster student, reduced
precision, compilation, CUDA graphs) must show that each commit keeps both the speed and the accuracy.
:class:`TeacherStudentSuite` measures each named student beside the teacher in one run: the speedup
(teacher time / student time on one timing structure, both timed in the same process) and the accuracy
cost against the teacher on a fixed set of structures (energy error per atom, force MAE, RMSE and the
largest force error). A student that cannot run on this device or torch is skipped with its reason
(its factory raises NotImplementedError), never replaced by another.

With a ``reference`` (energies and forces stored in the package,
``machmeter/data/reference/forces_<name>.json``) the teacher's own row compares it with that data, so
that ``machmeter check`` reports a teacher that drifts from its reference as an accuracy regression.
See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc
import contextlib
import math
from typing import Callable, ClassVar

from machmeter.suites.base import MeasuredSuite, require_device, resolved_device
from machmeter.suites.declare import declare

__all__ = [
    "TEACHER",
    "TeacherStudentSuite",
    "predict",
    "predict_stresses",
    "prediction_errors",
    "require_runs",
    "require_tf32",
    "stress_error",
    "tf32_matmul",
    "within",
]

_PROPERTIES = ["energy", "forces"]


# -- comparing predictions --------------------------------------------------------------------------
def _calculate(calculator, atoms) -> None:
    from ase.calculators.calculator import all_changes

    # all_changes: ASE would otherwise hand back the cached result of an unchanged structure
    calculator.calculate(atoms, list(_PROPERTIES), all_changes)


def predict(calculator, structures) -> tuple[list[float], list]:
    """Energies (eV) and forces (eV/A, float64 arrays) of ``calculator`` on each structure."""
    import numpy as np

    energies, forces = [], []
    for atoms in structures:
        _calculate(calculator, atoms)
        energies.append(float(calculator.results["energy"]))
        forces.append(np.asarray(calculator.results["forces"], dtype=np.float64).copy())
    return energies, forces


def predict_stresses(calculator, structures) -> list:
    """The stress (Voigt, eV/A^3, float64) of ``calculator`` on each structure with a 3-D periodic cell,
    None for the others; all None where the calculator gives no stress."""
    import numpy as np
    from ase.calculators.calculator import PropertyNotImplementedError, all_changes

    if "stress" not in getattr(calculator, "implemented_properties", ()):
        return [None] * len(structures)
    stresses = []
    for atoms in structures:
        if not (all(atoms.pbc) and atoms.cell.rank == 3):
            stresses.append(None)
            continue
        try:
            calculator.calculate(atoms, ["energy", "forces", "stress"], all_changes)
        except PropertyNotImplementedError:
            return [None] * len(structures)
        stresses.append(np.asarray(calculator.results["stress"], dtype=np.float64).copy())
    return stresses


NO_STRESS = "no structure with a 3-D periodic cell that both models give a stress for"


def stress_error(reference_stresses, stresses) -> dict:
    """``stress_error``: the largest difference of a stress component (GPa) over the structures where
    both sides have a stress; None, with the reason, where none has."""
    import numpy as np
    from ase import units

    pairs = [(r, s) for r, s in zip(reference_stresses, stresses) if r is not None and s is not None]
    if not pairs:
        return {"stress_error": None, "stress_error__unavailable": NO_STRESS}
    return {"stress_error": float(max(np.max(np.abs(s - r)) for r, s in pairs) / units.GPa)}


def prediction_errors(reference_energies, reference_forces, energies, forces) -> dict[str, float]:
    """Errors of a prediction against a reference over a set of structures.

    ``energy_error_per_atom``: mean over structures of |dE| / atoms (eV/atom); ``force_mae`` and
    ``force_rmse`` over every force component (eV/A); the distribution of the atoms' force error
    norms (eV/A, :mod:`machmeter.parity`): ``force_error_p50`` (with every atom's error as its
    ``__samples``, the data of a parity view), ``force_error_p95`` and ``force_max_error``, the
    largest, the error an MD step feels first; ``force_component_error``: the median signed component
    error (a bias), with every signed component difference ``predicted - reference`` as its
    ``__samples`` (the structures' order, atom-major, x, y, z: from them and the reference a parity
    scatter rebuilds the predicted components exactly); ``force_r2`` and ``force_pearson``: the parity
    of predicted against reference force components (:func:`force_parity`).
    """
    import numpy as np

    from machmeter.parity import error_quantiles, per_atom_error_norms

    if not (len(reference_energies) == len(reference_forces) == len(energies) == len(forces)) or not energies:
        raise ValueError("need the same, non-zero number of reference and predicted structures")
    per_atom, differences = [], []
    for e_ref, f_ref, e, f in zip(reference_energies, reference_forces, energies, forces):
        f_ref, f = np.asarray(f_ref, dtype=float), np.asarray(f, dtype=float)
        if f_ref.shape != f.shape:
            raise ValueError(f"force arrays differ in shape: {f_ref.shape} vs {f.shape}")
        per_atom.append(abs(e - e_ref) / len(f_ref))
        differences.append(f - f_ref)
    delta = np.concatenate(differences)
    atom_errors = per_atom_error_norms(reference_forces, forces)
    quantiles = error_quantiles(atom_errors)
    # a model that blew up has NaN errors: its quantiles say so, and no samples hide them
    samples = atom_errors.tolist() if np.all(np.isfinite(atom_errors)) else None
    signed = delta.ravel()  # (atoms, 3) arrays one after the other: atom-major, x, y, z
    finite = bool(np.all(np.isfinite(signed)))
    return {
        "energy_error_per_atom": float(np.mean(per_atom)),
        "force_mae": float(np.mean(np.abs(delta))),
        "force_rmse": float(np.sqrt(np.mean(delta**2))),
        "force_error_p50": quantiles["p50"],
        "force_error_p50__samples": samples,
        "force_error_p95": quantiles["p95"],
        "force_max_error": quantiles["max"],
        "force_component_error": float(np.median(signed)) if finite else math.nan,
        "force_component_error__samples": signed.tolist() if finite else None,
        **force_parity(np.concatenate([np.asarray(f, dtype=float) for f in reference_forces]),
                       np.concatenate([np.asarray(f, dtype=float) for f in forces])),
    }


PARITY_UNDEFINED = "the reference forces are all equal: R² and Pearson's r are undefined"


def force_parity(reference, predicted) -> dict:
    """Parity of every predicted force component against the reference's: ``force_r2``, the coefficient
    of determination (1 - residual / total sum of squares about the reference's mean: 1 is exact, and it
    falls below 0 for a prediction worse than the mean), and ``force_pearson``, the correlation
    coefficient (blind to a uniform scale error, which R² sees). None, with the reason, where the
    reference does not vary."""
    import numpy as np

    from machmeter.parity import coefficient_of_determination

    reference, predicted = np.ravel(reference), np.ravel(predicted)
    r2 = coefficient_of_determination(reference, predicted)
    if r2 is None:
        return {"force_r2": None, "force_r2__unavailable": PARITY_UNDEFINED,
                "force_pearson": None, "force_pearson__unavailable": PARITY_UNDEFINED}
    if not np.all(np.isfinite(predicted)):  # a model that blew up: its parity is NaN, as its errors are
        return {"force_r2": math.nan, "force_pearson": math.nan}
    spread = float(np.std(predicted))
    pearson = float(np.corrcoef(reference, predicted)[0, 1]) if spread > 0 else None
    parity = {"force_r2": r2, "force_pearson": pearson}
    if pearson is None:
        parity["force_pearson__unavailable"] = "the predicted forces are all equal: Pearson's r is undefined"
    return parity


# -- building students ------------------------------------------------------------------------------
def within(calculator, context: Callable[[], contextlib.AbstractContextManager]):
    """An ASE calculator that runs ``calculator`` inside ``context()`` (a precision mode, autocast),
    leaving the process's settings as they were outside its calls (so a teacher measured in the same
    process is not affected)."""
    from ase.calculators.calculator import Calculator, all_changes

    class Within(Calculator):
        implemented_properties = list(calculator.implemented_properties)

        def calculate(self, atoms=None, properties=None, system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            with context():
                calculator.calculate(self.atoms, properties or list(_PROPERTIES), system_changes)
            self.results = dict(calculator.results)

    return Within()


@contextlib.contextmanager
def tf32_matmul():
    """float32 matrix products on TF32 tensor cores (10-bit mantissa) inside the block."""
    import torch

    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def require_tf32(device) -> None:
    """asv's skip where TF32 does not exist: it is a mode of NVIDIA tensor cores from Ampere on."""
    import torch

    device = torch.device(device)
    if device.type != "cuda":
        raise NotImplementedError(f"TF32 is a mode of NVIDIA tensor cores (Ampere and newer), not of {device.type}")
    major, minor = torch.cuda.get_device_capability(device)
    if major < 8:
        raise NotImplementedError(f"TF32 needs compute capability 8.0 or newer; this GPU has {major}.{minor}")


def require_runs(calculator, atoms, what: str):
    """``calculator`` after one successful call on ``atoms``; asv's skip, with the error, if ``what``
    (a mode the model may not support, e.g. autocast) fails on this device and torch."""
    try:
        _calculate(calculator, atoms)
    except (RuntimeError, TypeError) as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise NotImplementedError(f"{what} does not run here: {type(error).__name__}: {first_line}") from None
    return calculator


# -- the suite -------------------------------------------------------------------------------------
TEACHER = "teacher"


class TeacherStudentSuite(MeasuredSuite):
    """Parameter: the student (and, with a ``reference``, the teacher itself). Subclasses name their
    ``students`` and give the factories.

    ``make_teacher(device)`` and ``make_student(name, device)`` return ASE calculators (a student's
    factory raises NotImplementedError(reason) where that student cannot run). ``reference`` names
    stored reference data (``forces_<reference>.json``): its structures are the fixed set the students
    are compared on (``make_structures`` may give others), and the parameter value ``"teacher"``
    reports the teacher's own accuracy against the stored energies and forces, so that a commit
    that changes the teacher is an accuracy regression too. ``make_timing_structure(device)`` is the
    structure both are timed on (default: the largest of the structures).
    """

    students: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[str | None] = None
    params: ClassVar = [[]]
    param_names = ["student"]
    device = "auto"  # the GPU where there is one; or "cuda:1", "cpu"

    warmup_calls = 2
    timing_target_time = 0.3  # seconds of calls per timing (teacher and student each)
    timing_min_calls = 5

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.params = [([TEACHER] if cls.reference else []) + list(cls.students)]

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_teacher(self, device):
        """The reference model's ASE calculator on the torch device."""

    @abc.abstractmethod
    def make_student(self, name: str, device):
        """Student ``name``'s ASE calculator on the torch device, or NotImplementedError(reason)."""

    def make_structures(self) -> list:
        """The fixed ase.Atoms structures on which the students' accuracy is compared."""
        if not self.reference:
            raise NotImplementedError(f"{type(self).__name__} has neither a reference nor make_structures")
        return self._reference_data().structures

    def make_timing_structure(self, device):
        """The ase.Atoms both models are timed on."""
        return max(self.make_structures(), key=len)

    def reference_mismatch(self, data) -> str | None:
        """Why the teacher built here is not the model the reference data came from (another release
        of its weights, say), or None. The teacher's row is then skipped with this reason instead of
        reporting a change that no commit made."""
        return None

    # -- the one measurement pass -----------------------------------------------------------------
    def _reference_data(self):
        from machmeter.suites.reference import load_force_reference

        if getattr(self, "_reference_cache", None) is None:
            self._reference_cache = load_force_reference(self.reference)
        return self._reference_cache

    def _teacher_predictions(self, device):
        """The teacher, the structures and its predictions on them, built once for the whole pass."""
        cached = getattr(self, "_teacher_cache", None)
        if cached is None or cached[0] != str(device):
            teacher = self.make_teacher(device)
            structures = self.make_structures()
            cached = (str(device), teacher, structures, predict(teacher, structures))
            self._teacher_cache = cached
        return cached[1:]

    def _teacher_stresses(self, teacher, structures) -> list:
        """The teacher's stresses on the structures, computed once for the whole pass."""
        cached = getattr(self, "_teacher_stress_cache", None)
        if cached is None or cached[0] is not teacher:
            cached = (teacher, predict_stresses(teacher, structures))
            self._teacher_stress_cache = cached
        return cached[1]

    def _time(self, calculator, atoms, device, label):
        from machmeter.instruments import time_callable

        return time_callable(lambda: _calculate(calculator, atoms), device=device, warmup_calls=self.warmup_calls,
                             min_repeats=self.timing_min_calls, target_time=self.timing_target_time, label=label)

    def measure(self, student):
        torch_device = require_device(resolved_device(self.device))
        device = str(torch_device)
        teacher, structures, (teacher_energies, teacher_forces) = self._teacher_predictions(torch_device)
        if student == TEACHER:
            data = self._reference_data()
            mismatch = self.reference_mismatch(data)
            if mismatch:
                raise NotImplementedError(mismatch)
            predicted = ((teacher_energies, teacher_forces) if structures is data.structures
                         else predict(teacher, data.structures))
            return {"device": device, "speedup": None,
                    "speedup__unavailable": "the teacher is the unit of the students' speedups",
                    "stress_error": None, "stress_error__unavailable": "the reference data holds no stresses",
                    **prediction_errors(data.energies, data.forces, *predicted)}

        calculator = self.make_student(student, torch_device)
        errors = prediction_errors(teacher_energies, teacher_forces, *predict(calculator, structures))
        errors.update(stress_error(self._teacher_stresses(teacher, structures), predict_stresses(calculator, structures)))
        timing_atoms = self.make_timing_structure(torch_device)
        # the teacher is timed again beside each student: clocks and temperature drift over a pass
        teacher_latency = self._time(teacher, timing_atoms, device, TEACHER)
        student_latency = self._time(calculator, timing_atoms, device, student)
        counters = self.counter_metrics(lambda: _calculate(calculator, timing_atoms), device, student_latency.mean)
        return {
            **counters,
            "device": device,
            "timing_atoms": len(timing_atoms),
            "speedup": teacher_latency.median / student_latency.median,
            "speedup__samples": [teacher_latency.median / s for s in student_latency.samples if s > 0],
            "student_ms": student_latency.median * 1e3,
            "teacher_ms": teacher_latency.median * 1e3,
            **errors,
        }

    # -- asv benchmarks ---------------------------------------------------------------------------
    @declare(kind="throughput", unit="x")
    def track_speedup(self, measured, student):
        """Teacher time / student time per call (the teacher's median over each student call)."""
        return self.metric_distribution("speedup")

    # One declaration serves both rows. A student's error (float32 rounding up to bfloat16's 1e-2 eV/A)
    # regresses when it grows by half; the teacher's error against its reference (~1e-6 eV/A) when it
    # passes the floor, which sits below what TF32 switched on by accident costs SevenNet-0 (2.6e-4
    # eV/A force MAE, 2e-3 largest on an H100) and above run-to-run noise of GPU reductions.
    @declare(kind="accuracy", unit="eV/atom", higher_is_better=False, tolerance_abs=1e-5, tolerance_rel=0.5)
    def track_energy_error_per_atom(self, measured, student):
        return self.metric("energy_error_per_atom")

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=1e-4, tolerance_rel=0.5)
    def track_force_mae(self, measured, student):
        return self.metric("force_mae")

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=1e-4, tolerance_rel=0.5)
    def track_force_rmse(self, measured, student):
        return self.metric("force_rmse")

    # The atoms' force error norms (machmeter.parity): the median and the 95th percentile tell a few
    # bad atoms (a surface, a cluster's corner: the tail moves, the median does not) from a model
    # worse everywhere. The p50's samples are every atom's error, the data of the site's parity view
    # (parity.error_distribution); its tolerance is the MAE's, the p95's the largest error's.
    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=1e-4, tolerance_rel=0.5)
    def track_force_error_p50(self, measured, student):
        """Median over atoms of |F - F_ref| (asv's median of the per-atom samples)."""
        return self.metric_distribution("force_error_p50")

    # Every signed component difference predicted - reference (the teacher's row: against its reference
    # data), the data of the site's parity scatter: reference components + these samples are the
    # predicted ones. Its value, asv's median of the samples, is the median signed error: a bias, shown
    # and never judged (the MAE, RMSE and the quantiles above judge the size of the errors).
    @declare(kind="state", unit="eV/Å")
    def track_force_component_error(self, measured, student):
        """Median over force components of F - F_ref (signed; asv's median of the per-component samples)."""
        return self.metric_distribution("force_component_error")

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=1e-3, tolerance_rel=0.5)
    def track_force_error_p95(self, measured, student):
        return self.metric("force_error_p95")

    @declare(kind="accuracy", unit="eV/Å", higher_is_better=False, tolerance_abs=1e-3, tolerance_rel=0.5)
    def track_force_max_error(self, measured, student):
        return self.metric("force_max_error")

    # the stress a student gets wrong moves an NPT cell: the largest component's error, in GPa
    @declare(kind="accuracy", unit="GPa", higher_is_better=False, tolerance_abs=1e-4, tolerance_rel=0.5)
    def track_stress_error(self, measured, student):
        return self.metric("stress_error")

    # parity of the force components with the teacher's (the teacher's row: with its reference data).
    # A float32 student sits at 1 - 1e-9, bfloat16 near 1 - 1e-4; a drop of 1e-4 is a worse model.
    @declare(kind="accuracy", unit="R²", higher_is_better=True, tolerance_abs=1e-4)
    def track_force_r2(self, measured, student):
        return self.metric("force_r2")

    @declare(kind="accuracy", unit="r", higher_is_better=True, tolerance_abs=1e-4)
    def track_force_pearson(self, measured, student):
        return self.metric("force_pearson")

    # -- noise-free counters of the student's call (the teacher's row has none: it is not timed) ----
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, student):
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, student):
        return self.metric("counter_kernels")

    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, student):
        return self.metric("counter_kernel_us")


    # kernel time / timed wall per call: where a call's time goes (the site's view); it inherits wall
    # time's noise, so it is shown, never judged
    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, student):
        return self.metric("counter_busy_fraction")
