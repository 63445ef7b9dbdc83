"""asv base classes and helpers that users subclass in their own ``benchmarks/``."""

from machmeter.suites.base import MeasuredSuite, synchronized_timer
from machmeter.suites.batched_md import BatchedMDSuite
from machmeter.suites.declare import METRIC_KINDS, declaration_of, declare
from machmeter.suites.embedding import EmbeddingSuite
from machmeter.suites.embedding_students import EmbeddingTeacherStudentSuite
from machmeter.suites.md import MDSuite
from machmeter.suites.run_state import GpuRunStateSuite
from machmeter.suites.students import TeacherStudentSuite
from machmeter.suites.training import TrainingStepSuite

__all__ = [
    "METRIC_KINDS",
    "BatchedMDSuite",
    "EmbeddingSuite",
    "EmbeddingTeacherStudentSuite",
    "GpuRunStateSuite",
    "MDSuite",
    "MeasuredSuite",
    "TeacherStudentSuite",
    "TrainingStepSuite",
    "declaration_of",
    "declare",
    "synchronized_timer",
]
