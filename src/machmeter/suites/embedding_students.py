"""asv suite for embedders: a teacher and its faster students, speed and accuracy cost in one run.

Teams that make an embedder faster (a smaller model distilled from a large one, reduced precision,
CUDA graphs) state goals like "the fast embedder is at least 2x faster and loses under 5 % accuracy".
:class:`EmbeddingTeacherStudentSuite` measures each named student beside the teacher, in one process:

- **speed**: teacher and student timed on the same batch of proteins of mixed lengths (100, 300 and 500
  residues by default, padded as a real batch is), each call synchronised (``time_callable``), the
  teacher again beside every student; the speedup keeps its samples;
- **agreement with the teacher** on a fixed labelled set: the cosine of each sequence's embedding to
  the teacher's (where both have the same width) and the agreement of the ``top_k`` nearest neighbours
  of each sequence (any widths);
- **a downstream probe**: a logistic-regression probe trained on each model's embeddings of a labelled
  set shipped with the package (``data/reference/embedding_probe.json``), cross-validated: accuracy,
  precision, recall, F1 and ROC-AUC; and the student's accuracy drop against the teacher's, whose
  declared target (at most 5 %) makes ``machmeter check`` fail a student that loses more.

The parameter value ``"teacher"`` reports the teacher's own probe. See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from machmeter.suites.base import MeasuredSuite, require_device, resolved_device
from machmeter.suites.declare import declare
from machmeter.suites.reference import load_reference
from machmeter.suites.students import TEACHER

__all__ = ["Embedder", "EmbeddingTeacherStudentSuite", "neighbour_agreement", "probe_scores"]

PROBE_FOLDS = 4
PROBE_L2 = 1.0  # on standardised features: the probe has more dimensions than examples
ACCURACY_DROP_TARGET = 0.05  # "loses under 5 % accuracy": the seeds' rule, a declared target


@dataclass
class Embedder:
    """A model as the suite uses it: ``prepare`` turns sequences into the model's inputs on its device
    (tokenising, padding: outside every timing), ``forward`` returns their pooled embeddings
    ``(n, width)`` as a torch tensor."""

    prepare: Callable[[list[str]], Any]
    forward: Callable[[Any], Any]

    def embed(self, sequences: list[str]):
        """Embeddings as a float64 numpy array (on the host: the copy synchronises)."""
        import torch

        with torch.inference_mode():
            return self.forward(self.prepare(sequences)).detach().double().cpu().numpy()


# -- comparing embeddings ---------------------------------------------------------------------------
def _unit_rows(x):
    import numpy as np

    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def neighbour_agreement(teacher, student, k: int) -> float:
    """Mean over sequences of the share of its ``k`` nearest neighbours (cosine, itself excluded) that
    the two embeddings agree on: 1 keeps the teacher's geometry, chance is about k / (n - 1)."""
    import numpy as np

    n = teacher.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"top_k must be between 1 and {n - 1} for {n} sequences, not {k}")

    def neighbours(x):
        unit = _unit_rows(x)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argsort(-similarity, axis=1, kind="stable")[:, :k]

    ours, theirs = neighbours(teacher), neighbours(student)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs)]))


def _fit_logistic(x, y, l2: float):
    import numpy as np
    from scipy.optimize import minimize

    def loss(w):
        z = x @ w[:-1] + w[-1]
        # log(1 + exp(z)) - y z, stably; the intercept is not penalised
        value = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.dot(w[:-1], w[:-1])
        p = 1.0 / (1.0 + np.exp(-z))
        grad = np.concatenate((x.T @ (p - y) + l2 * w[:-1], [np.sum(p - y)]))
        return value, grad

    return minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x


def probe_scores(embeddings, labels, folds: int = PROBE_FOLDS, l2: float = PROBE_L2) -> dict[str, float]:
    """A linear probe's cross-validated scores on ``embeddings`` (n, width) of binary ``labels``: each
    fold's logistic regression (L2, features standardised on its training part) predicts the held-out
    part; accuracy, precision, recall and F1 at 0.5, ROC-AUC from the held-out probabilities. Folds are
    fixed and stratified (each class's members dealt round the folds in order: a fold of one class
    would teach its training part the other, and turn noise into a confident wrong probe), so the same
    embeddings give the same scores."""
    import numpy as np
    from scipy.stats import rankdata

    x, y = np.asarray(embeddings, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if x.shape[0] != y.size or set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("the probe needs one 0/1 label per embedding, both classes present")
    fold_of = np.empty(y.size, dtype=int)
    for label in (0.0, 1.0):
        members = np.flatnonzero(y == label)
        fold_of[members] = np.arange(members.size) % folds
    probability = np.empty(y.size)
    for fold in range(folds):
        held = fold_of == fold
        mean, spread = x[~held].mean(axis=0), x[~held].std(axis=0)
        spread[spread == 0] = 1.0
        w = _fit_logistic((x[~held] - mean) / spread, y[~held], l2)
        probability[held] = 1.0 / (1.0 + np.exp(-((x[held] - mean) / spread @ w[:-1] + w[-1])))
    predicted = probability >= 0.5
    true_positive = float(np.sum(predicted & (y == 1)))
    precision = true_positive / max(1.0, float(np.sum(predicted)))
    recall = true_positive / float(np.sum(y == 1))
    positives, negatives = np.sum(y == 1), np.sum(y == 0)
    # ROC-AUC is the Mann-Whitney U of the positives' probabilities over the negatives'
    auc = (np.sum(rankdata(probability)[y == 1]) - positives * (positives + 1) / 2) / (positives * negatives)
    return {"accuracy": float(np.mean(predicted == (y == 1))), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0, "roc_auc": float(auc)}


PROBE_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
# what only a student has: the teacher's row reports them unavailable
STUDENT_METRICS = ("speedup", "probe_accuracy_drop", "neighbour_agreement", "cosine_to_teacher_min",
                   "cosine_to_teacher_mean")


def _inference(forward, inputs):
    """A call of ``forward`` on ``inputs`` without autograd, for the timed calls and the profiled window
    alike: a model whose parameters require grad would otherwise keep activations, and may pick other
    kernels, in one and not the other."""
    import torch

    def call():
        with torch.inference_mode():
            return forward(inputs)

    return call


def _random_proteins(lengths: list[int], seed: int) -> list[str]:
    from machmeter.workloads.esm import random_protein_sequences

    return [random_protein_sequences(1, length, seed=seed + i)[0] for i, length in enumerate(lengths)]


# -- the suite -------------------------------------------------------------------------------------
class EmbeddingTeacherStudentSuite(MeasuredSuite):
    """Parameter: the student, and ``"teacher"`` (the teacher's own probe). Subclasses name their
    ``students`` and give ``make_teacher(device)`` and ``make_student(name, device)``, each an
    :class:`Embedder` (a student's factory raises NotImplementedError(reason) where it cannot run)."""

    students: ClassVar[tuple[str, ...]] = ()
    params: ClassVar = [[]]
    param_names = ["student"]
    device = "auto"  # the GPU where there is one; or "cuda:1", "cpu"

    timing_lengths: ClassVar[tuple[int, ...]] = (100, 300, 500)  # residues, cycled over the batch
    timing_batch = 8
    cpu_timing_lengths: ClassVar[tuple[int, ...]] = (20, 40, 60)  # a CPU pays seconds for 500 residues
    cpu_timing_batch = 4
    top_k = 5
    probe_set = "embedding_probe"
    warmup_calls = 2
    timing_target_time = 0.3  # seconds of calls per timing (teacher and student each)
    timing_min_calls = 5

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.params = [[TEACHER] + list(cls.students)]

    @abc.abstractmethod
    def make_teacher(self, device) -> Embedder:
        """The large model, as an Embedder on the torch device."""

    @abc.abstractmethod
    def make_student(self, name: str, device) -> Embedder:
        """Student ``name`` as an Embedder on the torch device, or NotImplementedError(reason)."""

    def timing_sequences(self, device) -> list[str]:
        """The batch both are timed on: random proteins of the mixed lengths, the same every run."""
        on_gpu = str(device).startswith("cuda")
        lengths = self.timing_lengths if on_gpu else self.cpu_timing_lengths
        batch = self.timing_batch if on_gpu else self.cpu_timing_batch
        return _random_proteins([lengths[i % len(lengths)] for i in range(batch)], seed=0)

    # -- measuring --------------------------------------------------------------------------------
    _teacher_cache: ClassVar[dict] = {}

    def _teacher(self, device):
        """(teacher, the probe set, its probe embeddings, its probe scores), built and read once per
        measurement pass."""
        key = (type(self).__qualname__, str(device))
        if key not in EmbeddingTeacherStudentSuite._teacher_cache:
            EmbeddingTeacherStudentSuite._teacher_cache.clear()
            teacher = self.make_teacher(device)
            probe = self._probe()
            embeddings = teacher.embed(probe["sequences"])
            EmbeddingTeacherStudentSuite._teacher_cache[key] = (teacher, probe, embeddings,
                                                                probe_scores(embeddings, probe["labels"]))
        return EmbeddingTeacherStudentSuite._teacher_cache[key]

    def _probe(self) -> dict:
        return load_reference(self.probe_set, "python3 scripts/make_embedding_probe.py writes it")

    def _time(self, model: Embedder, inputs, device: str, label: str):
        from machmeter.instruments import time_callable

        return time_callable(_inference(model.forward, inputs), device=device, warmup_calls=self.warmup_calls,
                             min_repeats=self.timing_min_calls, target_time=self.timing_target_time, label=label)

    def measure(self, student):
        import numpy as np

        torch_device = require_device(resolved_device(self.device))
        device = str(torch_device)
        teacher, probe, teacher_embeddings, teacher_probe = self._teacher(torch_device)
        if student == TEACHER:
            return {"device": device, **{f"probe_{name}": teacher_probe[name] for name in PROBE_METRICS},
                    **dict.fromkeys(STUDENT_METRICS),
                    **{f"{name}__unavailable": "the teacher is what its students are measured against"
                       for name in STUDENT_METRICS}}

        model = self.make_student(student, torch_device)
        embeddings = model.embed(probe["sequences"])
        scores = probe_scores(embeddings, probe["labels"])
        metrics = {"device": device, **{f"probe_{name}": scores[name] for name in PROBE_METRICS},
                   "probe_accuracy_drop": (teacher_probe["accuracy"] - scores["accuracy"]) / teacher_probe["accuracy"],
                   "neighbour_agreement": neighbour_agreement(teacher_embeddings, embeddings, self.top_k)}
        if embeddings.shape == teacher_embeddings.shape:
            cosine = np.sum(_unit_rows(embeddings) * _unit_rows(teacher_embeddings), axis=1)
            metrics.update(cosine_to_teacher_min=float(cosine.min()), cosine_to_teacher_mean=float(cosine.mean()))
        else:
            reason = (f"the student's embeddings are {embeddings.shape[1]} wide, the teacher's "
                      f"{teacher_embeddings.shape[1]}: no cosine between them (the neighbours still compare)")
            metrics.update(cosine_to_teacher_min=None, cosine_to_teacher_min__unavailable=reason,
                           cosine_to_teacher_mean=None, cosine_to_teacher_mean__unavailable=reason)

        sequences = self.timing_sequences(torch_device)
        teacher_inputs, student_inputs = teacher.prepare(sequences), model.prepare(sequences)
        # the teacher again beside each student: clocks and temperature drift over a pass
        teacher_latency = self._time(teacher, teacher_inputs, device, TEACHER)
        student_latency = self._time(model, student_inputs, device, student)
        counters = self.counter_metrics(_inference(model.forward, student_inputs), device, student_latency.mean)
        return {
            **counters, **metrics,
            "speedup": teacher_latency.median / student_latency.median,
            "speedup__samples": [teacher_latency.median / s for s in student_latency.samples if s > 0],
            "teacher_ms": teacher_latency.median * 1e3,
            "student_ms": student_latency.median * 1e3,
            "student_sequences_per_second": len(sequences) / student_latency.median,
        }

    # -- asv benchmarks ---------------------------------------------------------------------------
    @declare(kind="throughput", unit="x")
    def track_speedup(self, measured, student):
        """Teacher time / student time per batch (the teacher's median over each student call)."""
        return self.metric_distribution("speedup")

    @declare(kind="throughput", unit="sequences/s")
    def track_student_sequences_per_second(self, measured, student):
        return self.metric("student_sequences_per_second")

    @declare(kind="accuracy", unit="fraction", higher_is_better=False, tolerance_abs=0.02,
             target_max=ACCURACY_DROP_TARGET)
    def track_probe_accuracy_drop(self, measured, student):
        """(teacher's probe accuracy - the student's) / the teacher's: at most 5 % is the gate."""
        return self.metric("probe_accuracy_drop")

    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_neighbour_agreement(self, measured, student):
        """Share of each sequence's top_k neighbours the student's embedding agrees on with the teacher's."""
        return self.metric("neighbour_agreement")

    @declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=1e-3)
    def track_cosine_to_teacher_min(self, measured, student):
        return self.metric("cosine_to_teacher_min")

    @declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=1e-3)
    def track_cosine_to_teacher_mean(self, measured, student):
        return self.metric("cosine_to_teacher_mean")

    # the probe on this model's embeddings (the teacher's row: the teacher's): 64 sequences, so one
    # more wrong held-out prediction moves accuracy by 1.6 %; 2 % is one prediction
    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_probe_accuracy(self, measured, student):
        return self.metric("probe_accuracy")

    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_probe_precision(self, measured, student):
        return self.metric("probe_precision")

    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_probe_recall(self, measured, student):
        return self.metric("probe_recall")

    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_probe_f1(self, measured, student):
        return self.metric("probe_f1")

    @declare(kind="accuracy", unit="fraction", higher_is_better=True, tolerance_abs=0.02)
    def track_probe_roc_auc(self, measured, student):
        return self.metric("probe_roc_auc")

    # -- noise-free counters of the student's call (the teacher's row has none) -------------------
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, student):
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, student):
        return self.metric("counter_kernels")

    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, student):
        return self.metric("counter_kernel_us")

    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, student):
        return self.metric("counter_busy_fraction")
