"""machmeter: continuous performance-regression tracking for ML code on GPUs, built on asv."""

__version__ = "0.1.0"
