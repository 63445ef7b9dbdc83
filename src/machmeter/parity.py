"""Per-atom force errors and signed force components: what a parity view draws, and the quantiles the
suites track.

A force field's mean error hides the few atoms it gets badly wrong (a surface, a cluster's corner, a
molecule's hydrogen), and those are the atoms an MD run feels first. :class:`TeacherStudentSuite`
(``suites/students.py``) therefore keeps every atom's error norm ``|F_predicted - F_reference|`` (eV/A):

* stored: as the samples of ``track_force_error_p50`` (asv keeps a ``track_``'s samples with
  ``--record-samples``, machmeter's runs always pass it). asv's value of the samples is their median,
  so the tracked number is the p50 and the whole distribution travels in the same result file, one
  error per atom, in the order of the compared structures and of the atoms within each;
* tracked: ``track_force_error_p50``, ``track_force_error_p95`` and ``track_force_max_error`` (the
  largest, the tail an MD step feels) — all three are :func:`error_quantiles` of those errors.

and every force component's signed difference ``F_predicted - F_reference`` (eV/A), as the samples of
``track_force_component_error`` (its value, their median, is a bias; shown, never judged), in the same
order and atom-major within it (atom 0's x, y, z, then atom 1's). Unlike the norms they keep the sign and
the axis, so a predicted component is its reference's plus its sample: :func:`rebuild_components` turns
a packaged reference's forces (:func:`reference_components`), the teacher's samples against them and
each student's against the teacher back into the exact components a parity scatter draws.

For the site (or anyone) :func:`error_distribution` turns a result's samples back into what a parity
view draws: the quantiles, a log-spaced histogram and, given the structures' layout
(:func:`reference_layout` of a packaged ``forces_<name>.json``), the same per structure. Pure numpy: the
measuring side and the analysis side both import it, and it imports neither.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

__all__ = ["HISTOGRAM_BINS_PER_DECADE", "PARITY_MIN_SPREAD", "error_distribution", "error_quantiles",
           "per_atom_error_norms", "rebuild_components", "reference_components", "reference_layout",
           "coefficient_of_determination"]

#: Resolution of :func:`error_distribution`'s histogram: ten bins a decade spans 1e-7 eV/A (float32
#: against float64 rounding) to 1 eV/A (a broken model) in 70 bins.
HISTOGRAM_BINS_PER_DECADE = 10


def per_atom_error_norms(reference_forces: Sequence, forces: Sequence) -> np.ndarray:
    """Every atom's force error norm (eV/A), structure after structure: ``|F - F_ref|`` per atom."""
    if len(reference_forces) != len(forces):
        raise ValueError(f"need one predicted force array per reference: {len(reference_forces)} vs {len(forces)}")
    norms = []
    for reference, predicted in zip(reference_forces, forces):
        reference, predicted = np.asarray(reference, dtype=float), np.asarray(predicted, dtype=float)
        if reference.shape != predicted.shape or reference.ndim != 2 or reference.shape[1:] != (3,):
            raise ValueError(f"force arrays must both be (atoms, 3): {reference.shape} vs {predicted.shape}")
        norms.append(np.linalg.norm(predicted - reference, axis=1))
    return np.concatenate(norms) if norms else np.zeros(0)


def error_quantiles(errors) -> dict[str, float]:
    """``p50``, ``p95`` (numpy's linear interpolation, so ``p50`` is the median asv takes of the samples)
    and ``max`` of per-atom errors; NaN throughout where a model blew up (a NaN error)."""
    errors = np.asarray(errors, dtype=float).ravel()
    if errors.size == 0:
        raise ValueError("no per-atom errors: the structures hold no atoms")
    if not np.all(np.isfinite(errors)):
        return {"p50": math.nan, "p95": math.nan, "max": math.nan}
    return {"p50": float(np.quantile(errors, 0.5)), "p95": float(np.quantile(errors, 0.95)),
            "max": float(errors.max())}


def _histogram(errors: np.ndarray, bins_per_decade: int) -> dict:
    """Counts in log-spaced bins from the decade below the smallest non-zero error to the decade above
    the largest; exact zeros (a student identical to its teacher on an atom) are counted apart."""
    positive = errors[errors > 0]
    zeros = int(errors.size - positive.size)
    if positive.size == 0:
        return {"edges": [], "counts": [], "zeros": zeros}
    low, high = math.floor(math.log10(positive.min())), math.ceil(math.log10(positive.max()))
    high = max(high, low + 1)
    edges = np.logspace(low, high, (high - low) * bins_per_decade + 1)
    counts, _ = np.histogram(positive, bins=edges)
    return {"edges": edges.tolist(), "counts": counts.astype(int).tolist(), "zeros": zeros}


def error_distribution(errors, layout: Sequence[tuple[str, int]] | None = None,
                       bins_per_decade: int = HISTOGRAM_BINS_PER_DECADE) -> dict:
    """What a parity view draws of one result's per-atom errors (``ResultPoint.samples`` of
    ``track_force_error_p50``): ``{"atoms", "p50", "p95", "max", "histogram": {"edges", "counts",
    "zeros"}, "structures": [...]}``. With ``layout``, ``(label, atoms)`` per structure in the order the
    suite compared them (:func:`reference_layout`), ``structures`` holds each one's label, atoms and
    quantiles; without it, an empty list. A layout that does not add up to the errors is a ValueError."""
    errors = np.asarray(errors, dtype=float).ravel()
    if bins_per_decade < 1:
        raise ValueError(f"bins_per_decade must be at least 1, got {bins_per_decade}")
    finite = errors[np.isfinite(errors)]
    distribution = {"atoms": int(errors.size), **error_quantiles(errors),
                    "histogram": _histogram(finite, bins_per_decade), "structures": []}
    if layout is not None:
        sizes = [int(atoms) for _, atoms in layout]
        if any(size <= 0 for size in sizes) or sum(sizes) != errors.size:
            raise ValueError(f"the layout's structures hold {sum(sizes)} atoms ({sizes}), the errors {errors.size}")
        start = 0
        for (label, _), size in zip(layout, sizes):
            distribution["structures"].append({"label": str(label), "atoms": size,
                                               **error_quantiles(errors[start:start + size])})
            start += size
    return distribution


def reference_layout(document: dict) -> list[tuple[str, int]]:
    """``(label, atoms)`` of each structure of a force reference document (the parsed
    ``forces_<name>.json``), the order in which the students suite compares them."""
    try:
        return [(str(entry["label"]), len(entry["numbers"])) for entry in document["structures"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a force reference document: missing {error}") from None


def reference_components(document: dict) -> np.ndarray:
    """Every force component (eV/A) of a force reference document (the parsed ``forces_<name>.json``),
    flattened as the suite's signed errors are: structure after structure, atom-major, x, y, z."""
    try:
        forces = [np.asarray(entry["forces_eV_per_A"], dtype=float) for entry in document["structures"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a force reference document: missing {error}") from None
    if any(f.ndim != 2 or f.shape[1:] != (3,) for f in forces):
        raise ValueError("not a force reference document: forces must be (atoms, 3) per structure")
    return np.concatenate([f.ravel() for f in forces]) if forces else np.zeros(0)


def rebuild_components(reference, teacher_errors, student_errors=None) -> dict:
    """The exact force components behind the signed errors a ``TeacherStudentSuite`` stores (the samples
    of ``track_force_component_error``): the teacher's are ``reference + teacher_errors`` (its row is
    compared with the reference data), each student's ``teacher + its errors`` (students are compared
    with the teacher). ``reference``: :func:`reference_components`; ``student_errors``: name -> samples.
    Returns ``{"reference", "teacher", "students": {name: components}}`` (float64 arrays); a student
    whose samples are not one per teacher component is a ValueError, as is a teacher's not one per
    reference component (they were compared on other structures)."""
    reference = np.asarray(reference, dtype=float).ravel()
    teacher_errors = np.asarray(teacher_errors, dtype=float).ravel()
    if teacher_errors.size != reference.size:
        raise ValueError(f"the teacher has {teacher_errors.size} signed components, the reference {reference.size}")
    teacher = reference + teacher_errors
    students = {}
    for name, errors in (student_errors or {}).items():
        errors = np.asarray(errors, dtype=float).ravel()
        if errors.size != teacher.size:
            raise ValueError(f"student {name!r} has {errors.size} signed components, the teacher {teacher.size}")
        students[name] = teacher + errors
    return {"reference": reference, "teacher": teacher, "students": students}


PARITY_MIN_SPREAD = 1e-10  # eV/A: a million times float64's rounding of a 1 eV/A force


def coefficient_of_determination(reference, predicted) -> float | None:
    """R² of predicted against reference components: 1 - residual / total sum of squares about the
    reference's mean (1 is exact; below 0 a prediction worse than the mean). None where the reference
    varies by less than PARITY_MIN_SPREAD: forces that cancel by symmetry come out 1e-17 eV/A, not 0,
    and carry no signal to compare with. The suites track it; the site checks its rebuilt scatter by it."""
    reference, predicted = np.ravel(np.asarray(reference, dtype=float)), np.ravel(np.asarray(predicted, dtype=float))
    total = float(np.sum((reference - reference.mean()) ** 2))
    if not math.sqrt(total / max(1, reference.size)) > PARITY_MIN_SPREAD:
        return None
    return 1.0 - float(np.sum((predicted - reference) ** 2)) / total
