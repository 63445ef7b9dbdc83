"""Per-atom force errors (machmeter.parity): norms, quantiles and the distribution a parity view draws."""

import json
import math

import numpy as np
import pytest

from machmeter.parity import error_distribution, error_quantiles, per_atom_error_norms, reference_layout


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
