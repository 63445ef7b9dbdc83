"""EmbeddingTeacherStudentSuite: speed and accuracy cost of embedding students, on a CPU with tiny
embedders whose geometry is known (a composition embedding, copies of it, a scrambled one)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from machmeter.suites import declaration_of
from machmeter.suites.embedding_students import (Embedder, EmbeddingTeacherStudentSuite, neighbour_agreement,
                                                 probe_scores)
from machmeter.suites.reference import load_reference

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def _composition(sequences):
    return torch.tensor([[s.count(a) / len(s) for a in AMINO_ACIDS] for s in sequences], dtype=torch.float64)


def _busy(seconds: float) -> None:
    # a busy wait, not a sleep: on a loaded CI host a 2 ms sleep can take as long as a 20 ms one (the
    # scheduler's latency), while two busy waits stretch alike and keep their ratio
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def _embedder(transform, delay_s=0.0):
    def forward(batch):
        if delay_s:
            _busy(delay_s)
        return transform(batch)

    return Embedder(prepare=_composition, forward=forward)


PROJECTION = torch.randn(20, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
SCRAMBLE = torch.randn(20, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


class TinyStudents(EmbeddingTeacherStudentSuite):
    students = ("copy", "rotated_wider", "scrambled", "slower")
    device = "cpu"
    timing_target_time = 0.02
    timing_min_calls = 5  # the median of five stays put when a loaded host preempts one call

    # the teacher's wait dwarfs the models' own work (a few ms of Python on a loaded 2-core host: with a
    # 2 ms wait a copy's speedup fell to 1.5), the slower student's dwarfs the teacher's
    def make_teacher(self, device):
        return _embedder(lambda x: x @ PROJECTION, delay_s=0.008)

    def make_student(self, name, device):
        if name == "copy":
            return _embedder(lambda x: x @ PROJECTION)
        if name == "rotated_wider":  # an orthogonal map of the teacher's space into a wider one
            q, _ = torch.linalg.qr(torch.randn(24, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
            return _embedder(lambda x: (x @ PROJECTION) @ q.T)
        if name == "scrambled":  # the composition lost: every sequence's embedding is its neighbour's noise
            return _embedder(lambda x: torch.randn(x.shape[0], 16, generator=torch.Generator().manual_seed(3),
                                                   dtype=torch.float64) + 0 * (x @ SCRAMBLE))
        return _embedder(lambda x: x @ PROJECTION, delay_s=0.08)


@pytest.fixture(scope="module")
def measured():
    return TinyStudents().setup_cache()


def _value(measured, student, name):
    suite = TinyStudents()
    suite.setup(measured, student)
    return getattr(suite, name)(measured, student)


def test_the_shipped_probe_set_is_balanced_and_separable_by_composition():
    probe = load_reference("embedding_probe", "")
    assert len(probe["sequences"]) == len(probe["labels"]) == 64 and sum(probe["labels"]) == 32
    scores = probe_scores(_composition(probe["sequences"]).numpy(), probe["labels"])
    assert scores["accuracy"] > 0.9 and scores["roc_auc"] > 0.95


def test_probe_scores_by_hand():
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20)
    separable = rng.normal(size=(40, 5)) + 4.0 * labels[:, None]
    perfect = probe_scores(separable, labels)
    assert perfect == {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0}
    noise = probe_scores(rng.normal(size=(40, 5)), labels)
    assert 0.2 < noise["roc_auc"] < 0.8 and noise["accuracy"] < 0.8
    with pytest.raises(ValueError, match="both classes"):
        probe_scores(separable, np.zeros(40))


def test_neighbour_agreement_keeps_geometry_and_sees_it_lost():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 8))
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert neighbour_agreement(x, x, 5) == 1.0
    assert neighbour_agreement(x, x @ rotation * 3.0, 5) == pytest.approx(1.0)
    assert neighbour_agreement(x, rng.normal(size=(30, 8)), 5) < 0.5
    with pytest.raises(ValueError, match="top_k"):
        neighbour_agreement(x, x, 30)


def test_students_speed_agreement_and_probe(measured):
    assert TinyStudents.params == [["teacher", "copy", "rotated_wider", "scrambled", "slower"]]
    # the teacher's row: its own probe, and nothing to compare it with
    assert _value(measured, "teacher", "track_probe_accuracy") > 0.9
    assert math.isnan(_value(measured, "teacher", "track_probe_accuracy_drop"))
    # an exact copy: the same embeddings, no accuracy lost, faster (the teacher sleeps 2 ms a call)
    assert _value(measured, "copy", "track_cosine_to_teacher_min") == pytest.approx(1.0)
    assert _value(measured, "copy", "track_probe_accuracy_drop") == 0.0
    assert _value(measured, "copy", "track_neighbour_agreement") == 1.0
    speedup = _value(measured, "copy", "track_speedup")
    assert len(speedup["samples"]) >= 3 and np.median(speedup["samples"]) > 1.5
    # another width: no cosine (said), the same geometry, the same probe
    assert math.isnan(_value(measured, "rotated_wider", "track_cosine_to_teacher_mean"))
    suite = TinyStudents()
    suite.setup(measured, "rotated_wider")
    assert "24 wide, the teacher's 16" in suite.metrics["cosine_to_teacher_mean__unavailable"]
    assert _value(measured, "rotated_wider", "track_neighbour_agreement") == pytest.approx(1.0)
    assert abs(_value(measured, "rotated_wider", "track_probe_accuracy_drop")) <= 0.05
    # the composition lost: neighbours and probe collapse, far past the 5 % gate
    assert _value(measured, "scrambled", "track_neighbour_agreement") < 0.3
    assert _value(measured, "scrambled", "track_probe_accuracy_drop") > 0.2
    # a student ten times slower than the teacher is a speedup well below one
    assert np.median(_value(measured, "slower", "track_speedup")["samples"]) < 0.5


def test_the_accuracy_drop_gate_is_a_declared_target_and_directions_are_right():
    declared = declaration_of(EmbeddingTeacherStudentSuite.track_probe_accuracy_drop)
    assert declared["target_max"] == 0.05 and declared["higher_is_better"] is False
    assert declaration_of(EmbeddingTeacherStudentSuite.track_probe_roc_auc)["higher_is_better"] is True
    assert declaration_of(EmbeddingTeacherStudentSuite.track_speedup)["metric_kind"] == "throughput"


def test_asv_discovers_the_repository_embedding_students():
    import pathlib

    from asv_runner.discovery import disc_benchmarks, update_sys_path

    root = str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks")
    update_sys_path(root)
    names = {benchmark.name for benchmark in disc_benchmarks(root)}
    assert "embeddings_students.ESM2Students.track_probe_accuracy_drop" in names
    assert not [name for name in names if ".EmbeddingTeacherStudentSuite." in name]


def test_the_repository_students_skip_what_cannot_run_on_a_cpu():
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks"))
    from embeddings_students import ESM2Students

    suite = ESM2Students()
    cpu = torch.device("cpu")
    with pytest.raises(NotImplementedError, match="not smaller than this device's teacher"):
        suite.make_student("t33_650M", cpu)
    with pytest.raises(NotImplementedError, match="float16 on a CPU is emulated"):
        suite.make_student("teacher_float16", cpu)
    with pytest.raises(NotImplementedError, match="CUDA graphs need a CUDA GPU"):
        suite.make_student("t6_8M+cudagraph", cpu)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: run scripts/gpu_check.sh on a GPU machine")
def test_the_cuda_graph_student_is_its_eager_layout_replayed():
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks"))
    from embeddings_students import ESM2Students

    class SmallTeacher(ESM2Students):
        # t12_35M teaches (a 3B teacher costs minutes here): t6_8M eager and from CUDA graphs
        students = ("t6_8M", "t6_8M+cudagraph")
        timing_target_time = 0.1

        def make_teacher(self, device):
            from embeddings_students import _esm

            return _esm("t12_35M", "bfloat16", device)

    measured = SmallTeacher().setup_cache()

    def value(student, name):
        suite = SmallTeacher()
        suite.setup(measured, student)
        return getattr(suite, name)(measured, student)

    # the same weights (one seed per layout) replayed: the same neighbours and probe as the eager model
    assert value("t6_8M+cudagraph", "track_neighbour_agreement") == pytest.approx(
        value("t6_8M", "track_neighbour_agreement"), abs=0.02)
    assert value("t6_8M+cudagraph", "track_probe_accuracy") == pytest.approx(
        value("t6_8M", "track_probe_accuracy"), abs=0.02)
    assert len(value("t6_8M+cudagraph", "track_speedup")["samples"]) >= 3
