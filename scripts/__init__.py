"""Developer scripts (importable from the repository root: ``from scripts.synthetic_history import ...``)."""
