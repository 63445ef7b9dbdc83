"""Run-to-run noise: how much two runs of the same code differ on one machine, learnt from a series'
own recent history.

Why a pull-request check needs it: asv's samples (and machmeter's per-step or per-call samples) all
come from one process. They measure how a value scatters *within* a run, and on a GPU that is far
tighter than how runs differ from each other: clocks, the CPU core the launcher lands on, the
allocator's layout and the driver's state change from process to process. Two runs of identical code
on an H200, minutes apart, differed by up to 17% on launch-bound MD steps and 12% on a small encoder,
each "significant" at p < 1e-6 by the within-run rank test (docs/check.md). Only earlier runs can say
how far apart two runs of unchanged code fall; the nightly history on the same machine holds them.

The estimate: the consecutive differences of the last :data:`NOISE_WINDOW` measured values, relative
to their median level, have a robust spread ``median(|d|) / (0.6745 * sqrt(2))`` = the relative
standard deviation of one run. Consecutive differences (not the spread around one level) keep a real
step in the history from inflating it: a step changes one difference, which the median ignores.

The floor: a base-vs-head change counts only when it exceeds ``multiplier(k) * sigma``, where ``k`` is
the number of differences the estimate rests on and the multiplier is the 99th percentile of
``|a - b| / sigma_hat`` for two runs of unchanged code under normal noise (so one unchanged series in a
hundred passes the floor, and the within-run test and the kind's threshold must still agree). Few
runs give a wide multiplier on purpose: an estimate from 4 runs is itself uncertain.
``scripts/noise_floor_calibration.py`` derives :data:`NOISE_MULTIPLIERS` by simulation; a test checks
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

NOISE_WINDOW = 30     # the most recent runs the estimate uses: old runs may have had other noise
MIN_NOISE_RUNS = 4    # fewer runs (3 differences) give no estimate at all
NOISE_ALPHA = 0.01    # the share of unchanged series whose base-vs-head change passes the floor

_MAD_TO_SIGMA_OF_DIFFERENCE = 0.6745 * math.sqrt(2.0)

# k (differences the estimate rests on) -> 99th percentile of |a - b| / sigma_hat for two more runs of
# unchanged code, normal noise; 400,000 simulated histories each (scripts/noise_floor_calibration.py).
# It falls towards 2.576 * sqrt(2) = 3.64, the multiplier of a known sigma; even k are wider than
# their odd neighbours because the median of an even count averages the two middle differences.
NOISE_MULTIPLIERS: dict[int, float] = {
    3: 13.4, 4: 8.1, 5: 8.4, 6: 6.7, 7: 6.8, 8: 5.9, 9: 5.9, 10: 5.4, 11: 5.5, 12: 5.2, 13: 5.2,
    14: 4.9, 15: 5.0, 16: 4.8, 17: 4.8, 18: 4.6, 19: 4.7, 20: 4.6, 21: 4.6, 22: 4.5, 23: 4.5,
    24: 4.4, 25: 4.4, 26: 4.4, 27: 4.3, 28: 4.3, 29: 4.3,
}


@dataclass(frozen=True)
class RunToRunNoise:
    """The relative run-to-run noise of one series on one machine."""

    sigma: float  # relative standard deviation of one run (0.03 = 3 %)
    runs: int     # how many runs the estimate rests on

    @property
    def multiplier(self) -> float:
        return NOISE_MULTIPLIERS[min(self.runs - 1, max(NOISE_MULTIPLIERS))]

    @property
    def floor(self) -> float:
        """The smallest relative base-vs-head change that is more than run-to-run noise."""
        return self.multiplier * self.sigma

    def describe(self) -> str:
        return (f"run-to-run noise floor {self.floor:.1%} ({self.multiplier:g} x {self.sigma:.2%}, "
                f"from {self.runs} earlier runs on this machine)")


def run_to_run_noise(values: Iterable[float | None]) -> RunToRunNoise | None:
    """The noise of a series from its values in commit order (None and NaN, failed and skipped runs,
    are left out); None with fewer than :data:`MIN_NOISE_RUNS` measured values or a zero level."""
    values = values if isinstance(values, (list, tuple)) else list(values)
    measured = []
    for value in reversed(values):  # newest first, up to the window: a long history's old runs are not read
        if value is not None and math.isfinite(value):
            measured.append(value)
            if len(measured) == NOISE_WINDOW:
                break
    measured.reverse()
    if len(measured) < MIN_NOISE_RUNS:
        return None
    level = abs(float(np.median(measured)))
    if level == 0.0:
        return None
    differences = np.abs(np.diff(np.asarray(measured, dtype=float))) / level
    return RunToRunNoise(sigma=float(np.median(differences)) / _MAD_TO_SIGMA_OF_DIFFERENCE, runs=len(measured))
