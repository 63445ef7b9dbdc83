"""Base vs head with the run as the statistical unit.

A run is one asv process of one commit (one ``asv run``). Its samples all share that process's clocks,
CPU placement, allocator layout and driver state, so they say how a value scatters *inside* a run, not
how two runs of the same code differ: on an H200, sixteen processes of one MD step had medians 2.90 to
4.35 ms while each process's own samples varied by 5-21%. A test on pooled samples calls that
difference significant (pseudo-replication). Here each run contributes ONE number (asv's value for that
run) and the evidence about the difference comes from how runs vary:

- the pull request's own runs (``machmeter run-pr`` measures base and head several times, alternated),
  whose spread around each side's mean estimates the run-to-run standard deviation with
  ``n_base + n_head - 2`` degrees of freedom;
- the branch's recent runs on the same machine (:mod:`machmeter.detect.noise`), a robust estimate from
  consecutive differences, worth :func:`history_degrees_of_freedom` degrees of freedom: the ones at which
  a t quantile reproduces that module's calibrated multipliers.

Both are pooled (weighted by degrees of freedom) and the difference of the two sides' mean relative
levels is tested with Student's t. Where neither exists (one run a side, no history), nothing can be
estimated: the kind's conservative prior (``machmeter.kinds``: ``Kind.prior_sigma``) says how far two runs may fall
apart; a change inside it is ``"inconclusive"`` (said, never a FAIL), beyond it a regression.

The p values of one comparison are adjusted together (Benjamini-Hochberg, :func:`adjust_p_values`): a
pull request checks hundreds of series, and a 5% test on each would flag a dozen by chance. The
confidence of a reported change is one minus its adjusted p value, and a change is reported only when
it reaches the configured confidence (default 0.95) and the kind's threshold. Under no change at all,
the chance that ANY series of the comparison is flagged stays at most 1 - confidence.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from machmeter.detect.noise import NOISE_MULTIPLIERS, RunToRunNoise
from machmeter.kinds import relative_change

# The prior (machmeter.kinds: Kind.prior_sigma) is conservative on purpose: two processes of unchanged
# code on a GPU host differ by 10-20% (launch-bound MD steps, small encoders), tail latencies more;
# memory peaks are steadier (the torch allocator's peak repeats; NVML and RSS move by a few percent).

# The power at which :meth:`RunEvidence.detectable` says what a comparison can resolve (the usual 80%).
DETECTION_POWER = 0.8

# Two runs under the prior differ by more than this many prior sigmas of their difference with
# probability 0.001 (normal two-sided 99.9%): a change beyond it is a regression even from one run a side.
PRIOR_Z = 3.29


def prior_floor(kind: str) -> float | None:
    """The relative change beyond which one run a side is enough evidence, for ``kind`` (None: no prior,
    the kind is exact or not judged on noise)."""
    from machmeter.kinds import KINDS

    sigma = KINDS[kind].prior_sigma if kind in KINDS else None
    return None if sigma is None else PRIOR_Z * math.sqrt(2.0) * sigma


@functools.lru_cache(maxsize=None)
def history_degrees_of_freedom(runs: int) -> float:
    """The degrees of freedom a noise estimate from ``runs`` earlier runs is worth: those at which
    ``t.ppf(0.995, df) * sqrt(2)`` equals the calibrated multiplier of :mod:`machmeter.detect.noise`
    (its 99th percentile of |a - b| / sigma_hat for two more runs of unchanged code). A median-based
    estimate from k differences is worth fewer degrees of freedom than k."""
    from scipy.optimize import brentq
    from scipy.stats import t

    multiplier = NOISE_MULTIPLIERS[min(runs - 1, max(NOISE_MULTIPLIERS))]
    target = multiplier / math.sqrt(2.0)
    return float(brentq(lambda df: t.ppf(0.995, df) - target, 0.3, 1000.0))


@dataclass(frozen=True)
class RunEvidence:
    """What the runs of both sides say about one series."""

    before: float              # the base's level: median of its runs' values
    after: float               # the head's level
    change: float              # relative: (after - before) / |before|
    runs: tuple[int, int]      # runs at base, at head
    p_value: float | None      # two-sided; None when only the prior could judge
    sigma: float | None        # the pooled relative run-to-run standard deviation used
    degrees_of_freedom: float  # 0 when only the prior could judge
    method: str                # "runs-t" or "prior"
    basis: str                 # what the noise estimate rests on, for the reason

    @property
    def standard_error(self) -> float | None:
        if self.sigma is None:
            return None
        n, m = self.runs
        return self.sigma * math.sqrt(1.0 / n + 1.0 / m)

    def detectable(self, confidence: float, power: float = DETECTION_POWER) -> float | None:
        """The smallest relative change these runs find with probability ``power`` at ``confidence``
        (before the adjustment over the comparison's series, which asks more): what an inconclusive
        verdict could have seen. None where only the prior judged. Exact for the t test on the runs
        (noncentral t): at 2-3 runs a side the usual sum of t quantiles promises more than it gives."""
        if self.sigma is None or self.degrees_of_freedom <= 0:
            return None
        from scipy.optimize import brentq
        from scipy.stats import nct, t

        df = self.degrees_of_freedom
        critical = t.ppf(1.0 - (1.0 - confidence) / 2.0, df)

        # the far tail (a change found with the wrong sign) adds under 1e-3 at 80% power: left out, as
        # scipy's noncentral t cdf turns NaN there
        def shortfall(noncentrality: float) -> float:
            return nct.sf(critical, df, noncentrality) - power

        noncentrality = brentq(shortfall, 0.0, critical + 10.0 * (1.0 + t.ppf(power, df)))
        return float(noncentrality * self.standard_error)

    def runs_needed(self, change: float, confidence: float, power: float = DETECTION_POWER) -> int | None:
        """About how many runs a side would resolve ``change`` at this noise (normal quantiles: many runs)."""
        if self.sigma is None or change == 0:
            return None
        from scipy.stats import norm

        quantiles = norm.ppf(1.0 - (1.0 - confidence) / 2.0) + norm.ppf(power)
        return max(2, math.ceil(2.0 * (quantiles * self.sigma / abs(change)) ** 2))


def run_evidence(before_runs: Sequence[float], after_runs: Sequence[float], kind: str,
                 noise: RunToRunNoise | None = None) -> RunEvidence:
    """Test the head's runs against the base's (finite values, at least one a side)."""
    x = np.asarray(before_runs, dtype=float)
    y = np.asarray(after_runs, dtype=float)
    before, after = float(np.median(x)), float(np.median(y))
    level = abs(before) if before != 0 else (abs(after) or 1.0)
    change = relative_change(before, after)
    xr, yr = x / level, y / level
    n, m = len(x), len(y)
    own_df = n + m - 2
    pooled_ss = float(np.sum((xr - xr.mean()) ** 2) + np.sum((yr - yr.mean()) ** 2))
    history_df = history_degrees_of_freedom(noise.runs) if noise is not None else 0.0
    df = own_df + history_df
    parts = []
    if own_df > 0:
        parts.append(f"{n}+{m} runs")
    if noise is not None:
        parts.append(f"{noise.runs} earlier runs")
    if df <= 0:
        return RunEvidence(before, after, change, (n, m), None, None, 0.0, "prior",
                           f"1 run a side and no earlier runs: the {kind} prior")
    variance = (pooled_ss + history_df * (noise.sigma ** 2 if noise is not None else 0.0)) / df
    sigma = math.sqrt(variance)
    difference = float(yr.mean() - xr.mean())
    standard_error = sigma * math.sqrt(1.0 / n + 1.0 / m)
    if standard_error == 0.0:
        p_value = 1.0 if difference == 0.0 else 0.0  # every run identical on each side: exact
    else:
        from scipy.stats import t

        p_value = float(2.0 * t.sf(abs(difference) / standard_error, df))
    return RunEvidence(before, after, change, (n, m), p_value, sigma, df, "runs-t", " and ".join(parts))


def adjust_p_values(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p values (q values), in the input order."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(adjusted)
    result[order] = np.minimum(adjusted, 1.0)
    return result.tolist()
