"""Base vs head: is the difference of one benchmark (one parameter combination, one machine) real, and
is it a regression or an improvement?

This is the statistics behind ``machmeter check --base REV --head REV``. It follows asv's own
``asv compare`` (a change is flagged when the ratio exceeds a factor AND the statistics say the two
results differ) but knows the direction of each metric and its kind. Pure functions, no I/O.

A change is reported as ``"regression"`` or ``"improvement"`` only if it is **significant** and its
relative size reaches the policy's **threshold**: GPU timings are routinely significant at 1 % (tight,
non-overlapping distributions) without anyone caring, so the threshold decides what matters and the
statistics decide what is real.

The statistics below see one run per side, and a run's samples scatter far less than runs do on a
GPU. When the policy carries the series' **run-to-run noise** (``Policy.noise``, learnt from earlier
runs on the same machine: :mod:`machmeter.detect.noise`), its floor raises the threshold, so a change
must also exceed what two runs of unchanged code differ by.

How significance is decided, in order of preference (``Comparison.method``):

``"mann-whitney"``
    Both sides have at least :data:`MIN_SAMPLES_RANK_TEST` (5) finite raw samples (asv's
    ``--record-samples``): ``scipy.stats.mannwhitneyu``, two-sided, significant when ``p < alpha``.
    5 is the smallest equal sample size at which the exact test can reach the default ``alpha`` of
    0.01 at all (smallest two-sided p for 5 vs 5 is 2/C(10, 5) = 0.0079; for 4 vs 4 it is 0.029).
    When ``alpha`` is so small that even the complete separation of the two samples could not reach
    it, the test is skipped and the next method applies (asv does the same).
``"bootstrap-median"``
    Samples on both sides, at least 2 each, but too few for the rank test: percentile bootstrap of
    the difference of the medians (:data:`BOOTSTRAP_RESAMPLES` resamples, fixed seed
    :data:`BOOTSTRAP_SEED`, so the same input always gives the same answer); the p value is the
    two-sided achieved significance level, ``2 * min(P(d <= 0), P(d >= 0))``. Caveat, documented on
    purpose: with 2-4 samples the bootstrap is anti-conservative (two fully separated samples always
    give p = 0, and under no change that happens with probability 1/3 for 2 vs 2, 1/10 for 3 vs 3,
    1/35 for 4 vs 4; measured false-positive rate at alpha 0.01 with threshold 0: about 10 % for
    3 vs 3 and 5 % for 4 vs 4, against 0.8 % for Mann-Whitney with 20 vs 20). No test can do better
    at these sizes (the exact rank test cannot reach p < 0.029 with 4 vs 4), and the bootstrap is
    still strictly more careful than the threshold alone, the only other way to flag anything; the
    threshold does the rest. Record at least 5 samples per side for a real test.
``"ci-overlap"``
    No usable samples, but both sides carry a finite 99 % confidence interval (asv's
    ``stats_ci_99_a/b``): significant when the intervals do not overlap, exactly asv's rule. An
    infinite bound (asv writes -inf/inf when there are too few samples) means "no interval".
``"threshold"``
    Two single values: there is nothing to estimate noise from, so (like asv with one sample)
    significance is decided by the threshold alone, and the ``reason`` says so. Also the method
    reported for the lifecycle verdicts (failed/skipped/new/removed) and for ``"state"`` metrics,
    where it carries no statistical meaning.
``"tolerance"``
    ``"accuracy"`` metrics: timing-noise statistics do not apply (an accuracy number is a property
    of the code, not of a noisy clock), so the change is compared with the declared tolerances, see
    :func:`compare`. Not quite of the code alone on a GPU: a reduced-precision student's error moves
    from run to run with the order of its reductions (SevenNet's TF32 energy error per atom ranged
    6.5e-5 to 1.1e-4 over seven H200 runs of unchanged code), so a run-to-run noise floor, where the
    policy has one, widens the tolerance too.

Verdicts (``Comparison.verdict``) and what the caller should do with them:

- ``"regression"`` / ``"improvement"``: significant and at least the threshold, direction-aware
  (a worse value is higher when ``higher_is_better`` is False, lower when it is True). A regression
  fails the check.
- ``"unchanged"``: not significant, or significant but below the threshold, or a ``"state"`` metric
  (which is shown, never judged).
- ``"failed"``: the benchmark failed at head (``after.value is None``). Treat it like a regression:
  **it should fail the check**. ``significant`` is True when it is newly failing (the base had a
  result, or no result at all) and False when it already failed at the base; the reason says which.
  Also a value that was finite at the base and is NaN or infinite at head: a measured metric that
  turned non-finite (a NaN loss, an overflow) is broken, not skipped (``became_non_finite``).
- ``"skipped"``: NaN (asv's "skipped") on either side, a non-finite value that was not finite at the
  base either, or no observation on either side. Nothing to compare; does not fail the check.
- ``"new"``: no observation at the base (``before is None``), or the benchmark failed at the base and
  now succeeds (a fix: asv marks it ``*``; the reason says "fixed"). Does not fail the check.
- ``"removed"``: a result at the base, no observation at head (``after is None``). Does not fail
  the check; a report may list it.

Zero and negative baselines: the relative change is ``(after - before) / |before|``, so its sign
is the sign of the difference even for negative baselines. With ``before == 0`` it is 0.0 when
``after == 0`` too and ``±inf`` otherwise (an infinite relative change, which passes any threshold;
set ``tolerance_abs`` to ignore tiny absolute changes around zero). ``ratio`` (``after / before``)
is None whenever ``before <= 0``, where it would be undefined or misleading; verdicts never use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from machmeter.detect.noise import RunToRunNoise
from machmeter.kinds import (BY_TOLERANCE, FALLBACK_KIND, KIND_NAMES, KINDS, beyond_tolerance, meets_threshold,
                             default_higher_is_better, kind_of, relative_change, worse)

MIN_SAMPLES_RANK_TEST = 5
MIN_SAMPLES_BOOTSTRAP = 2
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240521


@dataclass(frozen=True)
class Observation:
    """What asv recorded for one benchmark, parameter combination, machine and commit."""

    value: float | None  # asv's result (median for timings); None = failed, NaN = skipped
    samples: Sequence[float] | None = None  # raw samples when asv stored them (--record-samples)
    ci_99: tuple[float, float] | None = None  # stats_ci_99_a/b; an infinite bound counts as absent


@dataclass(frozen=True)
class Policy:
    """How to judge one metric. Build it with :func:`policy_for` to get the documented defaults."""

    higher_is_better: bool
    kind: str  # one of machmeter.kinds.KIND_NAMES
    threshold: float  # minimum relative change that counts (e.g. 0.05); not used for accuracy/state
    tolerance_abs: float | None = None  # accuracy: acceptable absolute change; other kinds: a floor
    tolerance_rel: float | None = None  # accuracy: acceptable change relative to |before|
    alpha: float = 0.01  # significance level of the sample tests
    noise: RunToRunNoise | None = None  # the series' run-to-run noise, learnt from earlier runs

    def __post_init__(self):
        kind_of(self.kind)  # a ValueError naming the known kinds
        if not self.threshold >= 0:  # also rejects NaN
            raise ValueError(f"threshold must be a non-negative number, got {self.threshold!r}")
        for name in ("tolerance_abs", "tolerance_rel"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha!r}")


@dataclass(frozen=True)
class Comparison:
    before: float | None
    after: float | None
    ratio: float | None  # after / before; None when before <= 0 or a side has no value
    change: float | None  # (after - before) / |before|; ±inf when before == 0 != after
    verdict: str  # "regression", "improvement", "unchanged", "failed", "skipped", "new", "removed"
    significant: bool
    method: str  # "mann-whitney", "bootstrap-median", "ci-overlap", "tolerance", "threshold"
    p_value: float | None
    reason: str  # one short human-readable sentence


def policy_for(
    kind: str | None,
    higher_is_better: bool | None,
    *,
    threshold: float | None = None,
    tolerance_abs: float | None = None,
    tolerance_rel: float | None = None,
) -> Policy:
    """The policy for a metric of ``kind`` with the documented defaults filled in.

    ``kind=None`` (a benchmark without a ``declare``) is judged as ``"time"``: asv's own assumption.
    ``higher_is_better=None`` takes the kind's natural direction (True for throughput, else False).
    ``threshold=None`` takes the kind's threshold in :data:`machmeter.kinds.KINDS`. A kind judged by
    tolerance (accuracy) without any tolerance gets the kind's default ``tolerance_rel``. For the
    other kinds ``tolerance_abs`` is an absolute floor (a smaller absolute change is never reported)
    and ``tolerance_rel`` is unused.
    """
    if kind is None:
        kind = FALLBACK_KIND
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KIND_NAMES} or None, not {kind!r}")
    if higher_is_better is None:
        higher_is_better = default_higher_is_better(kind)
    if threshold is None:
        threshold = KINDS[kind].threshold
    tolerance_abs, tolerance_rel = tolerances_of(kind, tolerance_abs, tolerance_rel)
    return Policy(
        higher_is_better=bool(higher_is_better),
        kind=kind,
        threshold=float(threshold),
        tolerance_abs=tolerance_abs,
        tolerance_rel=tolerance_rel,
    )


def tolerances_of(kind: str, tolerance_abs: float | None, tolerance_rel: float | None):
    """(tolerance_abs, tolerance_rel) judged for a metric of ``kind``: a kind judged by tolerance gets
    its default relative tolerance when none is declared; the others keep what they were given."""
    if kind_of(kind).judged_by == BY_TOLERANCE and tolerance_abs is None and tolerance_rel is None:
        return tolerance_abs, KINDS[kind].tolerance_rel
    return tolerance_abs, tolerance_rel


def compare(before: Observation | None, after: Observation | None, policy: Policy) -> Comparison:
    """Judge head (``after``) against base (``before``) for one metric; see the module docstring.

    ``None`` for an observation means the benchmark has no result at that commit at all;
    ``Observation(value=None)`` means it ran and failed; ``Observation(value=nan)`` that it was skipped.

    Accuracy: the change counts when ``|after - before|`` exceeds every tolerance given, i.e.
    ``max(tolerance_abs, tolerance_rel * |before|)`` (like ``math.isclose``); without any tolerance,
    the kind's default ``tolerance_rel`` (:func:`tolerances_of`). Samples are not used.
    """
    lifecycle = _lifecycle(before, after, judged=KINDS[policy.kind].judged_by is not None)
    if lifecycle is not None:
        return lifecycle

    b, a = float(before.value), float(after.value)
    diff = a - b
    ratio = a / b if b > 0 else None
    change = relative_change(b, a)
    direction = "regression" if worse(b, a, policy.higher_is_better) else "improvement"
    size = describe_change(b, a, change)

    def result(verdict: str, significant: bool, method: str, p_value: float | None, reason: str):
        return Comparison(b, a, ratio, change, verdict, significant, method, p_value, reason)

    judged_by = KINDS[policy.kind].judged_by
    if judged_by is None:
        return result("unchanged", False, "threshold", None,
                      f"{size}; a run-state metric is shown, never judged a regression.")

    if judged_by == BY_TOLERANCE:
        return _compare_accuracy(b, a, size, direction, policy, result)

    if diff == 0:
        return result("unchanged", False, "threshold", None, "identical values at base and head.")

    method, significant, p_value, why = _significance(before, after, policy)
    if method == "threshold":
        # Two single values: nothing to estimate the noise from, the threshold alone decides.
        big_enough, limit = _passes_threshold(diff, change, policy)
        if big_enough:
            return result(direction, True, method, None,
                          f"{size}, at least the {limit} (single values, no samples or CI: "
                          "judged by the threshold alone).")
        return result("unchanged", False, method, None,
                      f"{size}, below the {limit} (single values, no samples or CI: "
                      "judged by the threshold alone).")

    if not significant:
        return result("unchanged", False, method, p_value, f"{size}, not significant ({why}).")
    big_enough, limit = _passes_threshold(diff, change, policy)
    if not big_enough:
        return result("unchanged", True, method, p_value,
                      f"{size}, significant ({why}) but below the {limit}.")
    return result(direction, True, method, p_value, f"{size}, significant ({why}).")


# --------------------------------------------------------------------------------------------------
# helpers


def _is_nan(value) -> bool:
    return value is not None and value != value


def became_non_finite(before, after) -> str | None:
    """The failure's reason when a finite value (``before``) became NaN or infinite (``after``); None
    otherwise. The one rule for the comparison of two commits and for the history's head."""
    if (isinstance(before, (int, float)) and math.isfinite(before)
            and isinstance(after, (int, float)) and not math.isfinite(after)):
        return f"value became non-finite ({after}) at head: it fails the check."
    return None


def _lifecycle(before: Observation | None, after: Observation | None, judged: bool = True) -> Comparison | None:
    """The verdict when the two sides cannot be compared as numbers, else None. ``judged``: False for a
    run-state metric (shown, never judged), whose turning non-finite is no failure."""

    def result(verdict, significant, reason):
        b = None if before is None else before.value
        a = None if after is None else after.value
        return Comparison(b, a, None, None, verdict, significant, "threshold", None, reason)

    if after is None:
        if before is None:
            return result("skipped", False, "no result at base or head.")
        return result("removed", False, "result at base, none at head (benchmark removed or not run).")
    if after.value is None:
        if before is None:
            return result("failed", True, "fails at head; no result at base.")
        if before.value is None:
            return result("failed", False, "fails at head, as it already did at base.")
        return result("failed", True, "newly failing at head: it fails the check.")
    broken = judged and became_non_finite(None if before is None else before.value, after.value)
    if broken:
        return result("failed", True, broken)
    if _is_nan(after.value):
        return result("skipped", False, "skipped at head.")
    if before is None:
        return result("new", False, "new at head: no result at base.")
    if before.value is None:
        return result("new", False, "fixed: failed at base, succeeds at head.")
    if _is_nan(before.value):
        return result("skipped", False, "skipped at base.")
    if not (math.isfinite(before.value) and math.isfinite(after.value)):
        return result("skipped", False, "a non-finite value (inf) cannot be compared.")
    return None


def describe_change(before: float, after: float, change: float) -> str:
    if math.isinf(change):
        return f"{_fmt(before)} -> {_fmt(after)} (relative change undefined: the base is 0)"
    return f"{_fmt(before)} -> {_fmt(after)} ({change:+.1%})"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _passes_threshold(diff: float, change: float, policy: Policy) -> tuple[bool, str]:
    """Whether a nonzero change is big enough; and the limit, described for the reason."""
    limit = f"{policy.threshold:.1%} threshold"
    if policy.tolerance_abs is not None:
        limit += f" or the absolute floor {_fmt(policy.tolerance_abs)}"
        if abs(diff) <= policy.tolerance_abs:
            return False, limit
    if policy.noise is not None and policy.noise.floor > policy.threshold:
        return diff != 0 and meets_threshold(change, policy.noise.floor), policy.noise.describe()
    return diff != 0 and meets_threshold(change, policy.threshold), limit


def _compare_accuracy(b, a, size, direction, policy: Policy, result) -> Comparison:
    tol_abs, tol_rel = tolerances_of(policy.kind, policy.tolerance_abs, policy.tolerance_rel)
    beyond = beyond_tolerance(b, a, tol_abs, tol_rel)
    parts = []
    if tol_abs is not None:
        parts.append(f"{_fmt(tol_abs)} absolute")
    if tol_rel is not None:
        parts.append(f"{tol_rel:.2%} relative")
    tolerance = "tolerance " + " / ".join(parts)
    if policy.noise is not None and policy.noise.floor * abs(b) > max(tol_abs or 0.0, (tol_rel or 0.0) * abs(b)):
        # a GPU student's error is not a constant: reductions in float16/TF32 land differently per run
        beyond, tolerance = beyond_tolerance(b, a, None, policy.noise.floor), policy.noise.describe()
    if beyond:
        return result(direction, True, "tolerance", None, f"{size}, beyond the {tolerance}.")
    return result("unchanged", False, "tolerance", None, f"{size}, within the {tolerance}.")


def _finite_samples(observation: Observation) -> np.ndarray:
    if observation.samples is None:
        return np.empty(0)
    samples = np.asarray(observation.samples, dtype=float).ravel()
    return samples[np.isfinite(samples)]


def _finite_ci(observation: Observation) -> tuple[float, float] | None:
    ci = observation.ci_99
    if ci is None or len(ci) != 2:
        return None
    lo, hi = ci
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return (min(lo, hi), max(lo, hi))


def _significance(before: Observation, after: Observation, policy: Policy):
    """(method, significant, p_value, short explanation) from the best evidence available."""
    x, y = _finite_samples(before), _finite_samples(after)
    n, m = len(x), len(y)
    if n >= MIN_SAMPLES_RANK_TEST and m >= MIN_SAMPLES_RANK_TEST and _rank_test_can_reach(n, m, policy.alpha):
        p = _mann_whitney_p(x, y)
        return "mann-whitney", p < policy.alpha, p, f"Mann-Whitney p={p:.2g}, {n} vs {m} samples"
    if n >= MIN_SAMPLES_BOOTSTRAP and m >= MIN_SAMPLES_BOOTSTRAP:
        p = _bootstrap_median_p(x, y)
        return ("bootstrap-median", p < policy.alpha, p,
                f"bootstrap of the median difference p={p:.2g}, only {n} vs {m} samples")
    ci_b, ci_a = _finite_ci(before), _finite_ci(after)
    if ci_b is not None and ci_a is not None:
        overlap = ci_b[1] >= ci_a[0] and ci_b[0] <= ci_a[1]
        return ("ci-overlap", not overlap, None,
                "the 99% confidence intervals " + ("overlap" if overlap else "do not overlap"))
    return "threshold", False, None, ""


def _rank_test_can_reach(n: int, m: int, alpha: float) -> bool:
    """Whether the smallest two-sided p of the exact test, 2 / C(n+m, n), is below alpha."""
    # compared as C(n+m, n) > 2 / alpha: int and float compare exactly in Python, while 2 / C overflows
    # a float once the binomial passes 1e308 (a thousand MD steps of samples on each side)
    return math.comb(n + m, n) > 2.0 / alpha


def _mann_whitney_p(x: np.ndarray, y: np.ndarray) -> float:
    if np.all(x == x[0]) and np.all(y == x[0]):
        return 1.0  # every sample identical: no evidence of any difference (scipy agrees, noisily)
    from scipy.stats import mannwhitneyu  # scipy.stats takes ~0.5 s to import: only when needed

    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p


def _bootstrap_median_p(x: np.ndarray, y: np.ndarray) -> float:
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    d = _resampled_medians(y, rng) - _resampled_medians(x, rng)
    p = 2.0 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0)))
    return min(1.0, p)


def _resampled_medians(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    resamples = np.sort(x[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))], axis=1)
    return 0.5 * (resamples[:, (n - 1) // 2] + resamples[:, n // 2])  # np.median, faster for small n
