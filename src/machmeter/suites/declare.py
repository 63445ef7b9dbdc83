"""Declaring what a benchmark's number means, where asv itself stores it.

asv_runner copies a benchmark function's public scalar attributes into ``results/benchmarks.json``, so
the meaning of a number travels with the results instead of living in a side file. asv only knows
"lower is better"; machmeter reads these attributes to judge direction, unit, kind and tolerance.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from machmeter.kinds import KIND_NAMES, KINDS

F = TypeVar("F", bound=Callable)

# the kinds' names where suite authors look for them (machmeter.suites exports it); the table is kinds.py
METRIC_KINDS = KIND_NAMES


def declare(
    *,
    kind: str,
    unit: str | None = None,
    higher_is_better: bool | None = None,
    regression_threshold: float | None = None,
    tolerance_abs: float | None = None,
    tolerance_rel: float | None = None,
    target_min: float | None = None,
    target_max: float | None = None,
) -> Callable[[F], F]:
    """Attach machmeter's metric declaration to an asv benchmark function.

    ``kind`` is one of :data:`METRIC_KINDS` (:mod:`machmeter.kinds` says what each means). ``unit`` is shown wherever the number is (asv uses it for
    ``track_`` benchmarks; ``time_`` benchmarks are always seconds). ``regression_threshold`` is the
    relative change (0.05 = 5%) below which a performance change is not reported; ``tolerance_abs`` /
    ``tolerance_rel`` bound an accuracy metric's acceptable change instead of timing noise.
    ``target_min`` / ``target_max`` are absolute goals for the value itself (:mod:`machmeter.targets`):
    a head value on the wrong side fails the check, whatever the history did.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KIND_NAMES}, not {kind!r}")
    if higher_is_better is None:
        # accuracy has no natural direction (an error shrinks, a similarity grows): it must be said
        if KINDS[kind].higher_is_better is None:
            raise ValueError(f"kind {kind!r} has no default direction: pass higher_is_better")
        higher_is_better = KINDS[kind].higher_is_better
    for name, value in (
        ("regression_threshold", regression_threshold),
        ("tolerance_abs", tolerance_abs),
        ("tolerance_rel", tolerance_rel),
    ):
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    if target_min is not None and target_max is not None and target_min > target_max:
        raise ValueError(f"target_min {target_min} is above target_max {target_max}")

    attributes = {
        "metric_kind": kind,
        "higher_is_better": bool(higher_is_better),
        "unit": unit,
        "regression_threshold": regression_threshold,
        "tolerance_abs": tolerance_abs,
        "tolerance_rel": tolerance_rel,
        "target_min": target_min,
        "target_max": target_max,
    }

    def apply(func: F) -> F:
        for name, value in attributes.items():
            if value is not None:
                setattr(func, name, value)
        return func

    return apply


def declaration_of(func: Callable) -> dict:
    """The declared attributes of a benchmark function (what asv will copy into benchmarks.json)."""
    names = ("metric_kind", "higher_is_better", "unit", "regression_threshold", "tolerance_abs", "tolerance_rel",
             "target_min", "target_max")
    return {name: getattr(func, name) for name in names if hasattr(func, name)}
