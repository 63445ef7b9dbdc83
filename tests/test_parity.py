"""Per-atom force errors (machmeter.parity): norms, quantiles and the distribution a parity view draws."""

import json
import math

import numpy as np
import pytest

from machmeter.parity import (error_distribution, error_quantiles, per_atom_error_norms, rebuild_components,
                              reference_components, reference_layout)


def test_norms_are_per_atom_structure_after_structure():
    reference = [np.zeros((2, 3)), np.ones((1, 3))]
    predicted = [np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]]), np.array([[1.0, 1.0, 3.0]])]
    assert per_atom_error_norms(reference, predicted).tolist() == [5.0, 0.0, 2.0]
    with pytest.raises(ValueError, match=r"\(atoms, 3\)"):
        per_atom_error_norms([np.zeros((2, 3))], [np.zeros((3, 3))])
    with pytest.raises(ValueError, match="one predicted force array per reference"):
        per_atom_error_norms([np.zeros((2, 3))], [])


def test_quantiles_by_hand():
    # 0..100: the linear quantiles land on the values themselves
    assert error_quantiles(np.arange(101.0)) == {"p50": 50.0, "p95": 95.0, "max": 100.0}
    # four values: p50 halfway between the middle two (the median asv takes), p95 at index 2.85
    assert error_quantiles([4.0, 1.0, 3.0, 2.0]) == pytest.approx({"p50": 2.5, "p95": 3.85, "max": 4.0})
    assert all(math.isnan(v) for v in error_quantiles([1.0, math.nan]).values())
    with pytest.raises(ValueError, match="no per-atom errors"):
        error_quantiles([])


def test_distribution_histogram_and_per_structure_quantiles():
    errors = [1e-6, 2e-6, 0.0, 3e-3, 5e-3, 0.02]
    layout = [("bulk", 3), ("cluster", 3)]
    distribution = error_distribution(errors, layout, bins_per_decade=1)
    assert distribution["atoms"] == 6 and distribution["max"] == 0.02
    histogram = distribution["histogram"]
    # decades 1e-6 .. 1e-1, one bin each: two errors in [1e-6, 1e-5), two in [1e-3, 1e-2), one in [1e-2, 1e-1)
    assert histogram["edges"] == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    assert histogram["counts"] == [2, 0, 0, 2, 1] and histogram["zeros"] == 1
    bulk, cluster = distribution["structures"]
    assert bulk == {"label": "bulk", "atoms": 3, "p50": 1e-6, "p95": pytest.approx(1.9e-6), "max": 2e-6}
    assert cluster["label"] == "cluster" and cluster["p50"] == 5e-3 and cluster["max"] == 0.02
    # strict JSON for the site: no NaN, no numpy types
    json.dumps(distribution, allow_nan=False)
    assert error_distribution(errors)["structures"] == []
    with pytest.raises(ValueError, match="hold 5 atoms"):
        error_distribution(errors, [("bulk", 3), ("cluster", 2)])


def test_distribution_of_identical_models_is_all_zeros():
    distribution = error_distribution([0.0, 0.0])
    assert distribution["histogram"] == {"edges": [], "counts": [], "zeros": 2}
    assert distribution["p50"] == distribution["max"] == 0.0


def test_layout_of_a_packaged_reference_matches_its_structures():
    import importlib.resources

    document = json.loads(importlib.resources.files("machmeter").joinpath(
        "data/reference/forces_lj_argon.json").read_text("utf-8"))
    layout = reference_layout(document)
    assert layout[0] == ("argon-32-rattled", 32) and ("argon-cluster-55", 55) in layout
    with pytest.raises(ValueError, match="not a force reference document"):
        reference_layout({"metadata": {}})


def test_components_are_rebuilt_exactly_from_the_reference_and_the_signed_errors():
    document = {"structures": [{"label": "a", "numbers": [18, 18], "forces_eV_per_A": [[0.1, -0.2, 0.3], [0.0, 0.5, -0.5]]},
                               {"label": "b", "numbers": [18], "forces_eV_per_A": [[1.0, 2.0, -3.0]]}]}
    reference = reference_components(document)
    assert reference.tolist() == [0.1, -0.2, 0.3, 0.0, 0.5, -0.5, 1.0, 2.0, -3.0]  # atom-major, x, y, z
    teacher_errors = [1e-7, 0, -1e-7, 0, 0, 2e-7, 0, 0, 0]
    student_errors = [0.01, -0.02, 0, 0, 0, 0, 0, 0, 0.5]
    rebuilt = rebuild_components(reference, teacher_errors, {"s": student_errors})
    teacher = [r + e for r, e in zip(reference.tolist(), teacher_errors)]
    assert rebuilt["reference"].tolist() == reference.tolist()
    assert rebuilt["teacher"].tolist() == teacher
    assert rebuilt["students"]["s"].tolist() == [t + e for t, e in zip(teacher, student_errors)]
    assert rebuild_components(reference, teacher_errors)["students"] == {}
    with pytest.raises(ValueError, match="the teacher has 6 signed components, the reference 9"):
        rebuild_components(reference, teacher_errors[:6])
    with pytest.raises(ValueError, match="student 's' has 8 signed components, the teacher 9"):
        rebuild_components(reference, teacher_errors, {"s": student_errors[:8]})
    with pytest.raises(ValueError, match="not a force reference document"):
        reference_components({"structures": [{"label": "a"}]})


def test_signed_errors_of_the_suite_rebuild_its_predictions():
    """What the suite stores (prediction_errors' component samples) and what the site rebuilds agree."""
    from machmeter.suites.students import prediction_errors

    rng = np.random.default_rng(7)
    reference = [rng.normal(size=(4, 3)), rng.normal(size=(2, 3))]
    teacher = [f + 1e-6 * rng.normal(size=f.shape) for f in reference]
    student = [f + 1e-2 * rng.normal(size=f.shape) for f in teacher]
    teacher_errors = prediction_errors([0, 0], reference, [0, 0], teacher)["force_component_error__samples"]
    student_errors = prediction_errors([0, 0], teacher, [0, 0], student)["force_component_error__samples"]
    flat = lambda forces: np.concatenate([f.ravel() for f in forces])  # noqa: E731
    rebuilt = rebuild_components(flat(reference), teacher_errors, {"s": student_errors})
    assert rebuilt["teacher"] == pytest.approx(flat(teacher), abs=1e-15)
    assert rebuilt["students"]["s"] == pytest.approx(flat(student), abs=1e-15)
