"""Declaring what a benchmark's number means, where asv itself stores it.

asv_runner copies a benchmark function's public scalar attributes into ``results/benchmarks.json``, so
the meaning of a number travels with the results instead of living in a side file. asv only knows
"lower is better"; machmeter reads these attributes to judge direction, unit, kind and tolerance.
"""

from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)

# "state" describes the machine during a run (clocks, temperature): shown, never judged a regression.
METRIC_KINDS = ("time", "memory", "throughput", "accuracy", "energy", "count", "state")

# Direction that a kind implies when the author does not say; accuracy has none (an error shrinks,
# a similarity grows), so it must be declared.
_DEFAULT_HIGHER_IS_BETTER = {
    "time": False,
    "memory": False,
    "energy": False,
    "throughput": True,
    "count": False,
    "state": False,
}


def declare(
    *,
    kind: str,
    unit: str | None = None,
    higher_is_better: bool | None = None,
    regression_threshold: float | None = None,
    tolerance_abs: float | None = None,
    tolerance_rel: float | None = None,
) -> Callable[[F], F]:
    """Attach machmeter's metric declaration to an asv benchmark function.

    ``kind`` is one of :data:`METRIC_KINDS`. ``unit`` is shown wherever the number is (asv uses it for
    ``track_`` benchmarks; ``time_`` benchmarks are always seconds). ``regression_threshold`` is the
    relative change (0.05 = 5%) below which a performance change is not reported; ``tolerance_abs`` /
    ``tolerance_rel`` bound an accuracy metric's acceptable change instead of timing noise.
    """
    if kind not in METRIC_KINDS:
        raise ValueError(f"kind must be one of {METRIC_KINDS}, not {kind!r}")
    if higher_is_better is None:
        if kind not in _DEFAULT_HIGHER_IS_BETTER:
            raise ValueError(f"kind {kind!r} has no default direction: pass higher_is_better")
        higher_is_better = _DEFAULT_HIGHER_IS_BETTER[kind]
    for name, value in (
        ("regression_threshold", regression_threshold),
        ("tolerance_abs", tolerance_abs),
        ("tolerance_rel", tolerance_rel),
    ):
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")

    attributes = {
        "metric_kind": kind,
        "higher_is_better": bool(higher_is_better),
        "unit": unit,
        "regression_threshold": regression_threshold,
        "tolerance_abs": tolerance_abs,
        "tolerance_rel": tolerance_rel,
    }

    def apply(func: F) -> F:
        for name, value in attributes.items():
            if value is not None:
                setattr(func, name, value)
        return func

    return apply


def declaration_of(func: Callable) -> dict:
    """The declared attributes of a benchmark function (what asv will copy into benchmarks.json)."""
    names = ("metric_kind", "higher_is_better", "unit", "regression_threshold", "tolerance_abs", "tolerance_rel")
    return {name: getattr(func, name) for name in names if hasattr(func, name)}
