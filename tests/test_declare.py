import pytest

from machmeter.suites import declaration_of, declare


def test_kind_implies_direction_and_attributes_are_set():
    @declare(kind="throughput", unit="steps/s")
    def track_steps(self):
        return 1.0

    assert declaration_of(track_steps) == {"metric_kind": "throughput", "higher_is_better": True, "unit": "steps/s"}

    @declare(kind="memory", unit="bytes", regression_threshold=0.02)
    def track_peak(self):
        return 1

    assert track_peak.higher_is_better is False
    assert track_peak.regression_threshold == 0.02


def test_accuracy_needs_an_explicit_direction():
    with pytest.raises(ValueError, match="higher_is_better"):
        declare(kind="accuracy", unit="eV/Å")
    similarity = declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=1e-3)(lambda: 1.0)
    assert (similarity.higher_is_better, similarity.tolerance_abs) == (True, 1e-3)


@pytest.mark.parametrize("bad", [dict(kind="speed"), dict(kind="time", tolerance_rel=-0.1)])
def test_bad_declarations_are_refused(bad):
    with pytest.raises(ValueError):
        declare(**bad)


def test_declared_attributes_are_what_asv_runner_collects():
    """asv_runner copies a benchmark function's public non-callable attributes into benchmarks.json."""
    from asv_runner.benchmarks.track import TrackBenchmark

    class Suite:
        @declare(kind="energy", unit="J")
        def track_energy(self):
            return 2.0

    benchmark = TrackBenchmark("m.Suite.track_energy", Suite().track_energy, [Suite().track_energy, Suite])
    assert benchmark.unit == "J"
    assert benchmark.higher_is_better is False
    assert benchmark.metric_kind == "energy"
