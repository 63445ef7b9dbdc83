"""What each kind of metric means to machmeter: the one table every judge reads.

A benchmark's ``kind`` (declared with :func:`machmeter.suites.declare`, set in the config's
``[[benchmarks]]``, or guessed from asv's type and unit) decides its default direction, the smallest
change a pull request reports, how a change is judged (against a relative threshold, against
tolerances, or not at all), whether the number moves from run to run of the same code, and which
units imply it. The declaration, the config, the pull-request comparison, the history check and the
site (Python and its JavaScript, which receives the resulting policy as data) all read this table:
adding a kind is one entry in :data:`KINDS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# How a kind's change is judged: relative to a threshold, against tolerances, or never (shown only).
BY_THRESHOLD, BY_TOLERANCE = "threshold", "tolerance"


@dataclass(frozen=True)
class Kind:
    name: str
    # the direction the kind implies when nobody declares one; None: there is no natural one, it
    # must be declared (asv's own "lower is better" is what an undeclared one is judged by)
    higher_is_better: bool | None
    threshold: float            # the pull-request default: minimum relative change that counts
    judged_by: str | None       # BY_THRESHOLD, BY_TOLERANCE, or None: shown, never judged a regression
    noisy: bool                 # values move between runs of the same code: a run-to-run noise floor applies
    tolerance_rel: float | None = None  # BY_TOLERANCE kinds without a declared tolerance
    # the relative run-to-run standard deviation assumed when nothing measured it (one run a side, no
    # history): conservative on purpose, see machmeter.detect.runs
    prior_sigma: float | None = None
    units: frozenset[str] = frozenset()  # lower-cased asv units that imply the kind for an undeclared track_
    unit_markers: tuple[str, ...] = ()   # parts of a unit that imply it (rates: "steps/s")


# Thresholds, and why:
#   time        0.05  GPU kernel timings drift a few percent with clocks and temperature.
#   throughput  0.05  the reciprocal of a time: the same noise.
#   memory      0.02  allocator peaks are nearly deterministic; 2 % allows for allocator rounding
#                     and NVML-sampled device memory.
#   energy      0.05  NVML's energy counter is about as repeatable as the time it integrates.
#   count       0.0   counts (kernel launches, recompilations, graph breaks) are exact: any
#                     significant change counts.
#   accuracy    0.0   not used: accuracy is judged by tolerances (1 % of the base value by default).
#   state       inf   never: machine state (clocks, temperature) is shown, never judged.
# Noisy: measured on a clock or a meter, and the errors of reduced-precision students on a GPU
# (SevenNet's TF32 energy error per atom ranged 6.5e-5 to 1.1e-4 over seven H200 runs of unchanged
# code); a deterministic accuracy series simply learns a floor of zero.
_TABLE = (
    Kind("time", False, 0.05, BY_THRESHOLD, True, prior_sigma=0.08,
         units=frozenset({"s", "sec", "seconds", "ms", "us", "µs", "ns", "milliseconds", "microseconds"})),
    Kind("memory", False, 0.02, BY_THRESHOLD, True, prior_sigma=0.02,
         units=frozenset({"bytes", "b", "kib", "mib", "gib", "kb", "mb", "gb"})),
    Kind("throughput", True, 0.05, BY_THRESHOLD, True, prior_sigma=0.08,
         unit_markers=("/s", "/day", "per second", "per_second", "throughput", "flop")),
    Kind("accuracy", None, 0.0, BY_TOLERANCE, True, tolerance_rel=0.01),
    Kind("energy", False, 0.05, BY_THRESHOLD, True, prior_sigma=0.08, units=frozenset({"j", "joules", "kj", "wh", "w", "watts"})),
    Kind("count", False, 0.0, BY_THRESHOLD, False),
    Kind("state", False, math.inf, None, False),
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in _TABLE}

# A change that equals a threshold to three significant digits meets it. Thresholds are round numbers
# ("2 %"), and a step of exactly 2 % measured through float medians (of rounded bytes, of values with
# 1e-6 jitter) comes out as 1.9999 % about half the time: on labelled histories about half of the 2 %
# memory and accuracy steps, noiseless to the eye, went unreported for that alone.
THRESHOLD_ROUNDING = 1e-3


def meets_threshold(change: float, threshold: float) -> bool:
    """Whether a relative ``change`` is at least ``threshold`` (either sign), to THRESHOLD_ROUNDING."""
    return abs(change) >= threshold * (1.0 - THRESHOLD_ROUNDING)
KIND_NAMES: tuple[str, ...] = tuple(KINDS)

# asv's own assumption about a number nobody described (and about one whose kind is not in the table)
FALLBACK_KIND = "time"
# an undeclared track_ benchmark whose unit implies no kind: a number, lower is better (asv's convention)
UNIT_FALLBACK_KIND = "count"


def kind_of(name: str) -> Kind:
    """The table entry of ``name``; ValueError naming the known kinds otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ValueError(f"kind must be one of {', '.join(KIND_NAMES)}, not {name!r}") from None


def default_higher_is_better(name: str) -> bool:
    """The direction judged when none is declared: the kind's own, else asv's "lower is better"."""
    return bool(kind_of(name).higher_is_better)


def kind_for_unit(unit: str) -> str:
    """The kind an undeclared ``track_`` benchmark's unit implies: a rate marker first ("MB/s" is a
    throughput, not a memory), then an exact unit, else :data:`UNIT_FALLBACK_KIND`."""
    lowered = unit.lower()
    for kind in _TABLE:
        if any(marker in lowered for marker in kind.unit_markers):
            return kind.name
    for kind in _TABLE:
        if lowered in kind.units:
            return kind.name
    return UNIT_FALLBACK_KIND


def declared_kind(value, benchmark: str) -> tuple[str | None, str | None]:
    """(kind, warning) of a benchmarks.json ``metric_kind``: None when nothing is declared; a value
    that is not a known kind's name is judged as :data:`FALLBACK_KIND`, with a warning naming the
    benchmark. The one place a stored kind is read, so that the check and the site agree."""
    if value is None:
        return None, None
    if isinstance(value, str) and value in KINDS:
        return value, None
    return FALLBACK_KIND, (f"benchmarks.json: benchmark {benchmark!r} declares metric_kind {value!r}, not one of "
                           f"{', '.join(KIND_NAMES)}: judged as a {FALLBACK_KIND}")


def relative_change(before: float, after: float) -> float:
    """``(after - before) / |before|``: its sign is the difference's even for a negative base; 0 when
    both are 0 and ±inf when only the base is."""
    difference = after - before
    if before != 0:
        return difference / abs(before)
    return 0.0 if difference == 0 else math.copysign(math.inf, difference)


def worse(before: float, after: float, higher_is_better: bool) -> bool:
    """Whether ``after`` is worse than ``before`` for a metric of this direction."""
    return after < before if higher_is_better else after > before


def worse_by(before: float, after: float, higher_is_better: bool) -> float:
    """How much worse ``after`` is than ``before``, relative to ``|before|`` (negative: better)."""
    change = relative_change(before, after)
    return -change if higher_is_better else change


def beyond_tolerance(before: float, after: float, tolerance_abs: float | None, tolerance_rel: float | None) -> bool:
    """Whether two values differ by more than every tolerance given (like ``not math.isclose``): the
    absolute one, and the relative one times ``|before|``; a tolerance that is None is not checked."""
    difference = abs(after - before)
    if tolerance_abs is not None and difference <= tolerance_abs:
        return False
    if tolerance_rel is not None and difference <= tolerance_rel * abs(before):
        return False
    return True
