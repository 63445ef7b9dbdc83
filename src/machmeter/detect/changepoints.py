"""Change points of one benchmark history: where the level of a series changes, in both directions.

``find_change_points(values)`` takes one series ordered by commit (oldest first; ``None`` = failed,
``NaN`` = skipped, both ignored) and returns a ``ChangePoint`` for every commit where the level moves
by at least ``min_relative_change``.

How (measured against ``asv.step_detect``, ruptures and E-divisive by ``scripts/changepoint_quality.py``):

1. **Scale.** All-positive series are analysed as ``log(value)``, so multiplicative GPU noise becomes
   additive and a 5 % step has the same size at every level; other series are divided by their median
   magnitude.
2. **Noise.** Single spikes are clipped to ``3 sigma`` around a running median of 5 (winsorised), and
   the noise ``sigma`` comes from the successive differences of the clipped series (trimmed of the
   largest 2 %, which are the steps), so it sees the spread of bimodal timings (boost clocks) as noise
   but neither the steps nor the spikes. A floor of ``1e-9`` keeps constant series (memory) finite.
3. **Search.** Seeded binary segmentation (Kovács, Li, Bühlmann, Munk, *Biometrika* 2023): the
   standardised CUSUM ``|mean(left) - mean(right)| / (sigma sqrt(1/n_l + 1/n_r))`` is evaluated at every
   split of every interval of a deterministic multi-scale cover (lengths shrinking by ``1/sqrt(2)``
   down to ``2 * min_segment``, half-overlapping, every start at the shortest lengths so that a big
   step is split exactly where it is), all intervals of one length at once with numpy; the narrowest
   interval over the
   threshold gives a change point, intervals that contain it are dropped, and so on
   ("narrowest over threshold", which keeps neighbouring changes apart).
4. **Threshold.** Calibrated by simulation (``scripts/changepoint_quality.py --calibrate``) so that a
   noise-only series of n points yields a change point with probability ``alpha`` (default 1e-3),
   whatever n: about ``sqrt(2 log n - 0.3 + 2.26 log(1/alpha))``, more for short series.
5. **Clean-up.** Each change point is moved to the best split between its neighbours; change points
   whose neighbouring segments do not differ significantly are removed, the weakest first, merging
   segments; an excursion of fewer than ``2 * min_segment`` points that comes back to the level it left
   (a few slow runs in a row) is removed; two steps in one direction with fewer than
   ``2 * min_segment`` points between them are one change spread over a few commits (its
   ``previous_index`` is the last point before the ramp, its ``index`` the first after it).
6. **Floor.** Every change is measured against its own neighbouring segments (segment medians), and
   only those of at least ``min_relative_change`` are reported: the floor filters, it does not merge,
   so a 7 % step next to a significant 3 % one is still reported as 7 %. A run of significant changes
   in one direction, each below the floor but together above it (a creep: +3 % then +3 %, or a slow
   drift), is reported once, from the last point before the run to the first after it.

7. **Flips.** A GPU or a runner that sits in one of two states for several runs at a time (clocks,
   placement, two kinds of CI runner) moves the level out and back by the same amount again and again,
   each run tight: every such move looks like a confident step. When the segment levels swing between
   the same two levels at least twice (``flip_amplitude``: A B A B, or A B A twice), changes up to
   ``FLIP_MARGIN`` times that swing are flips and not reported; a regression and its fix (A B A) swing
   once and stay. Measured on the run-level labelled set (``scripts/changepoint_quality.py
   --run-level``: sticky two-level flips, process offsets): F1 0.69 -> 0.85, false alarms on noise-only
   series 41 -> 5 per 10,000 commits; the plain set is unchanged. The flips go on across a real step
   (``a b a``, step, ``a' b' a'``): ``flip_amplitude_between_steps`` drops the largest moves one at a
   time and looks for the repeated swing in what is left (F1 0.844 -> 0.852, precision 0.848 -> 0.866,
   the plain set unchanged at 0.950).
The result is the list of ``ChangePoint`` (oldest first). ``before``/``after`` are the medians of the
segments before and after, ``confidence`` is ``1 - p`` of a two-sided Mann-Whitney U test between those
two segments (distribution-free: it does not trust the noise estimate, so it is lower for short
segments and small steps; 0.9 is the most 3 points against 3 can give).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from machmeter.kinds import meets_threshold

__all__ = ["ChangePoint", "find_change_points", "detection_threshold", "estimate_noise", "flip_amplitude",
           "flip_amplitude_between_steps"]

# Relative noise below which a series counts as noiseless (log units, i.e. relative).
NOISE_FLOOR = 1e-9
# Spikes are clipped to this many sigmas around a running median of RUNNING_MEDIAN_WIDTH points.
CLIP_SIGMAS = 3.0
RUNNING_MEDIAN_WIDTH = 5
# Largest successive differences left out of the noise estimate (they are the steps).
TRIM_FRACTION = 0.02
# Seeded intervals shrink by this factor per layer and overlap by half.
SEED_DECAY = 2 ** -0.5
# A series whose level swings out and back by about the same amount at least FLIP_SWINGS times flips
# between two states; its changes up to FLIP_MARGIN times that swing are flips, not changes.
FLIP_SWINGS = 2
FLIP_SWING_TOLERANCE = 0.2
FLIP_MARGIN = 1.5


@dataclass(frozen=True)
class ChangePoint:
    index: int            # position (in the input array) of the first point at the new level
    previous_index: int   # position of the last valid point at the old level (commit range = previous_index+1 .. index)
    before: float         # robust level before (median of the segment before)
    after: float          # robust level after (median of the segment after)
    relative_change: float  # (after - before) / |before|
    confidence: float     # 0..1: 1 - two-sided p-value of a Mann-Whitney U test between the two segments


# ---------------------------------------------------------------------------------------------------
# Threshold


# Fitted to ``scripts/changepoint_quality.py --calibrate`` (Gaussian noise, min_segment=3, 10,000
# series per n): for n >= 100 the (1 - alpha) quantile q of the largest standardised CUSUM over the
# seeded intervals of a noise-only series of n points follows q^2 = 2 log n + A + B log(1/alpha)
# (alpha 1e-2 and 1e-3); below that the noise estimate itself is uncertain and the tail heavier, which
# the Student-like factor 1 + (q^2 + 1) / (4 C n) covers (fitted at alpha = 1e-3, n = 12..50, and
# conservative at n = 8 and for larger alpha). Checked with --calibrate: a noise-only Gaussian series
# exceeds the threshold with probability 0.0006-0.0014 for n = 8..1000 (alpha = 1e-3); the whole
# detector, min_segment 1, 2 or 5, n = 20 or 200, yields a change point in <= 0.0013 of them.
_A, _B, _C = -0.3, 2.26, 1.9


def detection_threshold(n: int, alpha: float = 1e-3) -> float:
    """The standardised-CUSUM threshold for a series of ``n`` valid points such that a noise-only
    series gives a (false) change point with probability about ``alpha``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), not {alpha!r}")
    q2 = max(2.0 * math.log(max(n, 2)) + _A + _B * math.log(1.0 / alpha), 1.0)
    return math.sqrt(q2) * (1.0 + (q2 + 1.0) / (4.0 * _C * max(n, 2)))


# ---------------------------------------------------------------------------------------------------
# Noise


def _normal_ppf(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def _trimmed_second_moment(q: float) -> float:
    """E[Z^2 | |Z| <= z] for Z ~ N(0, 1), where z leaves out the fraction q of largest |Z|."""
    if q <= 0:
        return 1.0
    z = _normal_ppf(1.0 - q / 2.0)
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return 1.0 - 2.0 * z * density / (1.0 - q)


def _trimmed_abs_mean(q: float) -> float:
    """E[|Z| | |Z| <= z] for Z ~ N(0, 1), where z leaves out the fraction q of largest |Z|."""
    if q <= 0:
        return math.sqrt(2.0 / math.pi)
    z = _normal_ppf(1.0 - q / 2.0)
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return 2.0 * (1.0 / math.sqrt(2.0 * math.pi) - density) / (1.0 - q)


def _rough_noise(y: np.ndarray) -> float:
    """Outlier- and step-proof first guess: trimmed mean of |successive differences| (top 10 % out)."""
    d = np.abs(np.diff(y))
    if d.size == 0:
        return 0.0
    keep = max(1, min(d.size - 1, int(math.ceil(0.9 * d.size))))
    kept = np.partition(d, keep - 1)[:keep]
    q = 1.0 - keep / d.size
    return float(kept.mean()) / (math.sqrt(2.0) * _trimmed_abs_mean(q))


def _running_median(y: np.ndarray, width: int = RUNNING_MEDIAN_WIDTH) -> np.ndarray:
    """Centred running median; the first and last points take the first and last full window's
    (so that two spikes among the newest three points are still seen as spikes)."""
    if y.size < width:
        return np.full_like(y, np.median(y))
    half = width // 2
    windows = np.lib.stride_tricks.sliding_window_view(y, width)
    return np.pad(np.median(windows, axis=1), half, mode="edge")


def _winsorise(y: np.ndarray, sigma: float) -> np.ndarray:
    centre = _running_median(y)
    bound = CLIP_SIGMAS * sigma
    return np.clip(y, centre - bound, centre + bound)


def _difference_noise(y: np.ndarray) -> float:
    """sigma from the successive differences, the largest TRIM_FRACTION left out (steps) and the bias
    that leaving them out makes for Gaussian noise corrected."""
    d2 = np.diff(y) ** 2
    if d2.size == 0:
        return 0.0
    drop = max(1, int(round(TRIM_FRACTION * d2.size)))
    if d2.size - drop >= 2:
        d2 = np.partition(d2, d2.size - drop - 1)[: d2.size - drop]
        q = drop / (d2.size + drop)
    else:
        q = 0.0
    return math.sqrt(float(d2.mean()) / (2.0 * _trimmed_second_moment(q)))


def _transform(x: np.ndarray) -> np.ndarray:
    """Multiplicative scale (log) for positive series, else divided by the median magnitude."""
    if np.all(x > 0):
        return np.log(x)
    scale = float(np.median(np.abs(x)))
    if scale == 0.0:
        scale = float(np.max(np.abs(x))) or 1.0
    return x / scale


def estimate_noise(values: Sequence[float | None]) -> float:
    """The relative noise (sigma of the log values) that ``find_change_points`` would use."""
    x = _valid(values)[1]
    if x.size < 3:
        return 0.0
    y = _transform(x)
    rough = max(_rough_noise(y), NOISE_FLOOR)
    return max(_difference_noise(_winsorise(y, rough)), NOISE_FLOOR)


# ---------------------------------------------------------------------------------------------------
# Search


def _seeded_layers(n: int, min_segment: int):
    """(length, starts) of each layer of seeded intervals, the whole series first.

    Lengths shrink by SEED_DECAY down to 2 * min_segment. Starts are half a length apart, and never
    further apart than the number of feasible splits of the interval (length - 2 * min_segment + 1),
    so that every change point is a feasible split of some interval of every length: at the smallest
    lengths every start is taken, and a big step is found exactly where it is, not split in two.
    """
    layers = []
    min_length = 2 * min_segment
    length = float(n)
    while True:
        size = int(round(length))
        if size < min_length:
            break
        if size >= n:
            starts = np.array([0], dtype=np.int64)
            size = n
        else:
            spacing = max(1.0, min(size / 2.0, float(size - min_length + 1)))
            count = int(math.ceil((n - size) / spacing)) + 1
            starts = np.round(np.linspace(0, n - size, count)).astype(np.int64)
            starts = starts[np.concatenate(([True], starts[1:] != starts[:-1]))]  # sorted: np.unique, faster
        layers.append((size, starts))
        if size <= min_length:
            break
        length = max(length * SEED_DECAY, min_length)
    return layers


def _scan(prefix: np.ndarray, n: int, min_segment: int, sigma: float):
    """Best split of every seeded interval: arrays start, end, statistic, split (absolute)."""
    starts_all, ends_all, stats_all, splits_all = [], [], [], []
    for length, starts in _seeded_layers(n, min_segment):
        k = np.arange(min_segment, length - min_segment + 1)
        left = prefix[starts[:, None] + k[None, :]] - prefix[starts][:, None]
        total = (prefix[starts + length] - prefix[starts])[:, None]
        cusum = left - total * (k / length)[None, :]
        scale = sigma * np.sqrt(k * (length - k) / length)
        stat = np.abs(cusum) / scale[None, :]
        best = np.argmax(stat, axis=1)
        starts_all.append(starts)
        ends_all.append(starts + length)
        stats_all.append(stat[np.arange(starts.size), best])
        splits_all.append(starts + k[best])
    return (np.concatenate(starts_all), np.concatenate(ends_all), np.concatenate(stats_all),
            np.concatenate(splits_all))


def _narrowest_over_threshold(starts, ends, stats, splits, threshold: float) -> list[int]:
    over = stats >= threshold
    if not over.any():
        return []
    starts, ends, stats, splits = starts[over], ends[over], stats[over], splits[over]
    order = np.lexsort((-stats, ends - starts))  # narrowest first, strongest first among equals
    starts, ends, splits = starts[order], ends[order], splits[order]
    alive = np.ones(starts.size, dtype=bool)
    chosen = []
    while True:
        remaining = np.flatnonzero(alive)
        if remaining.size == 0:
            break
        i = remaining[0]
        tau = int(splits[i])
        chosen.append(tau)
        alive &= ~((starts < tau) & (ends > tau))
    return sorted(chosen)


def _best_split(prefix: np.ndarray, lo: int, hi: int, min_segment: int) -> tuple[int, float]:
    """Split of y[lo:hi] with the largest standardised CUSUM (in units of sigma=1)."""
    length = hi - lo
    k = np.arange(min_segment, length - min_segment + 1)
    left = prefix[lo + k] - prefix[lo]
    total = prefix[hi] - prefix[lo]
    stat = np.abs(left - total * k / length) / np.sqrt(k * (length - k) / length)
    best = int(np.argmax(stat))
    return lo + int(k[best]), float(stat[best])


def _pair_statistic(prefix: np.ndarray, lo: int, tau: int, hi: int, sigma: float) -> float:
    n1, n2 = tau - lo, hi - tau
    m1 = (prefix[tau] - prefix[lo]) / n1
    m2 = (prefix[hi] - prefix[tau]) / n2
    return abs(m2 - m1) / (sigma * math.sqrt(1.0 / n1 + 1.0 / n2))


def _relative(before: float, after: float) -> float:
    if before == 0.0:
        return 0.0 if after == 0.0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


def _prune(x, prefix, taus, sigma, threshold, min_relative_change, min_segment):
    """Remove, one at a time, the weakest change point whose neighbouring segments are not
    significantly different, re-placing its neighbours in the merged segment; then short excursions
    that come back to where they were. Returns the change points left (the significant segmentation)."""
    taus = list(taus)
    n = x.size
    while taus:
        bounds = [0] + taus + [n]
        stats = [_pair_statistic(prefix, bounds[j - 1], bounds[j], bounds[j + 1], sigma)
                 for j in range(1, len(bounds) - 1)]
        worst = int(np.argmin(stats))
        if stats[worst] >= threshold:
            blip = _transient(x, prefix, taus, sigma, threshold, min_relative_change, min_segment)
            if blip is None:
                break
            # A short excursion that comes back to where it was (a few slow runs in a row): both out.
            del taus[blip:blip + 2]
            continue
        del taus[worst]
        # Neighbours of the removed point may now sit better elsewhere in the merged segment.
        for j in (worst, worst + 1):
            if 1 <= j <= len(taus):
                lo = taus[j - 2] if j >= 2 else 0
                hi = taus[j] if j < len(taus) else n
                if hi - lo >= 2 * min_segment:
                    taus[j - 1] = _best_split(prefix, lo, hi, min_segment)[0]
    return taus


def _changes(x, taus, min_segment):
    """(first, last) boundary of each change: consecutive boundaries in one direction with a segment
    of fewer than 2 * min_segment points between them are one change spread over a few commits."""
    bounds = [0] + list(taus) + [x.size]
    medians = [float(np.median(x[bounds[j]:bounds[j + 1]])) for j in range(len(bounds) - 1)]
    groups = []
    for j in range(len(taus)):
        up = medians[j + 1] > medians[j]
        if groups and groups[-1][2] == up and bounds[j + 1] - bounds[j] < 2 * min_segment:
            groups[-1][1] = j
        else:
            groups.append([j, j, up])
    return [(first, last) for first, last, _ in groups]


def _transient(x, prefix, taus, sigma, threshold, min_relative_change, min_segment):
    """Index j of the first segment [taus[j], taus[j+1]) shorter than 2 * min_segment whose
    neighbours are at the same level (differ by less than min_relative_change, or not significantly),
    or None."""
    bounds = [0] + list(taus) + [x.size]
    for j in range(len(taus) - 1):
        lo, a, b, hi = bounds[j], bounds[j + 1], bounds[j + 2], bounds[j + 3]
        if b - a < 2 * min_segment:
            before, after = float(np.median(x[lo:a])), float(np.median(x[b:hi]))
            if not meets_threshold(_relative(before, after), min_relative_change):
                return j
            n1, n2 = a - lo, hi - b
            m1, m2 = (prefix[a] - prefix[lo]) / n1, (prefix[hi] - prefix[b]) / n2
            if abs(m2 - m1) / (sigma * math.sqrt(1.0 / n1 + 1.0 / n2)) < threshold:
                return j
    return None


def _swings(levels: np.ndarray) -> list[tuple[float, float, float]]:
    """(low, high, size) of each swing of ``levels``: a move between neighbouring segments that the next
    move undoes (levels ``a b a'``, ``a' ~ a`` within FLIP_SWING_TOLERANCE of the swing)."""
    swings = []
    for j in range(levels.size - 2):
        out, back = levels[j + 1] - levels[j], levels[j + 2] - levels[j + 1]
        size = max(abs(out), abs(back))
        if out * back < 0 and abs(out + back) <= FLIP_SWING_TOLERANCE * size:
            low, high = sorted((float((levels[j] + levels[j + 2]) / 2.0), float(levels[j + 1])))
            swings.append((low, high, float(size)))
    return swings


def _repeated_swing(regimes: list[list[tuple[float, float, float]]]) -> float:
    """Median size of the swings that repeat, or 0.0. Inside one regime a repeat swings between the
    same two levels; across a step (another regime) every level moved with it, so only the size has to
    agree."""
    swings = [(r, *swing) for r, regime in enumerate(regimes) for swing in regime]

    def alike(a, b) -> bool:
        tolerance = FLIP_SWING_TOLERANCE * max(a[3], b[3])
        if a[0] == b[0]:
            return max(abs(a[1] - b[1]), abs(a[2] - b[2])) <= tolerance
        return abs(a[3] - b[3]) <= tolerance

    repeated = [a[3] for k, a in enumerate(swings)
                if sum(1 for m, b in enumerate(swings) if m != k and alike(a, b)) >= FLIP_SWINGS - 1]
    return float(np.median(repeated)) if repeated else 0.0


def flip_amplitude(levels: Sequence[float]) -> float:
    """How far the series moves when it flips between two states (transformed scale), or 0.0.

    A regression and its fix are one swing (``_swings``). A GPU or a runner that sits in one of two
    states for several runs at a time (clocks, placement, two kinds of CI runner) swings again and
    again between the same two levels: swings whose low and high levels both agree (within
    FLIP_SWING_TOLERANCE of the swing) are the same flip, and with FLIP_SWINGS of them the median swing
    is the flip amplitude."""
    return _repeated_swing([_swings(np.asarray(levels, dtype=np.float64))])


def flip_amplitude_between_steps(levels: Sequence[float]) -> float:
    """``flip_amplitude`` of the segment levels, also where real steps sit between the flips.

    A flipping series keeps flipping across a regression: its levels go ``a b a`` before a big step and
    ``a' b' a'`` after it, so no swing repeats at the same levels. The largest moves between
    neighbouring segments (the candidate steps, dropped one at a time) cut the series into regimes;
    swings of one size in different regimes are the same flip. Steps larger than FLIP_MARGIN times the
    flip are never taken for it (they are reported), and a regression and its fix stay one swing."""
    y = np.asarray(levels, dtype=np.float64)
    moves = np.diff(y)
    order = np.argsort(-np.abs(moves), kind="stable")
    for dropped in range(max(moves.size - 1, 0)):
        cuts = sorted(int(j) + 1 for j in order[:dropped])
        kept = np.ones(moves.size, dtype=bool)
        kept[order[:dropped]] = False
        amplitude = (_repeated_swing([_swings(np.concatenate(([0.0], np.cumsum(moves[kept]))))])
                     or _repeated_swing([_swings(part) for part in np.split(y, cuts)]))
        # a flip that only appears once a step as small as itself is dropped is that step's doing
        if amplitude > 0 and (dropped == 0 or abs(moves[order[dropped - 1]]) > FLIP_MARGIN * amplitude):
            return amplitude
    return 0.0


def _mann_whitney_confidence(a: np.ndarray, b: np.ndarray) -> float:
    if np.all(a == a[0]) and np.all(b == b[0]) and a[0] == b[0]:
        return 0.0
    try:
        # Exact for small segments, ties or not (the tie-corrected normal approximation overstates
        # the evidence of 3 identical values against 3 others); asymptotic with tie correction above,
        # computed here: scipy's wrapper costs ~1.7 ms a call, a long history has thousands of changes.
        if max(a.size, b.size) <= 10:
            from scipy.stats import mannwhitneyu  # ~0.6 s to import: only for the exact test

            p = float(mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue)
        else:
            p = _mann_whitney_asymptotic_p(a, b)
    except ValueError:
        return 0.0
    if not math.isfinite(p):
        return 0.0
    return min(1.0, max(0.0, 1.0 - p))


def _mann_whitney_asymptotic_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of the Mann-Whitney U test, normal approximation with tie and continuity corrections
    (what scipy's ``mannwhitneyu(method="asymptotic")`` computes)."""
    n1, n2 = a.size, b.size
    n = n1 + n2
    ranks, ties = _average_ranks(np.concatenate([a, b]))
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2.0
    variance = n1 * n2 / 12.0 * ((n + 1) - float((ties ** 3 - ties).sum()) / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2.0) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2.0)))


def _average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rank of each value (1 for the smallest; tied values share the mean of their ranks, as
    scipy's ``rankdata``) and how many values each distinct value has (``np.unique``'s counts), from one
    sort; in numpy, since importing scipy.stats costs more than a whole history's tests."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first_of_tie = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    starts = np.flatnonzero(first_of_tie)
    counts = np.diff(np.append(starts, values.size))
    ranks = np.empty(values.size)
    ranks[order] = (starts + (counts + 1) / 2.0)[np.cumsum(first_of_tie) - 1]  # half-integers: exact
    return ranks, counts


def _valid(values: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """(input positions, values) of the finite values; None, NaN and infinities are left out."""
    try:
        array = np.asarray(values, dtype=np.float64)  # None becomes NaN
    except (TypeError, ValueError):
        array = np.asarray([_as_float(v) for v in values], dtype=np.float64)
    if array.ndim != 1:
        array = array.reshape(-1)
    keep = np.isfinite(array)
    return np.flatnonzero(keep).astype(np.int64), array[keep]


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def find_change_points(values: Sequence[float | None], *, min_relative_change: float = 0.05,
                       noise: str | float = "auto", min_segment: int = 3,
                       alpha: float = 1e-3) -> list[ChangePoint]:
    """Commits where the level of ``values`` (one series, oldest first) changes.

    values: floats; None or NaN (failed or skipped) are ignored, indices still refer to ``values``.
    min_relative_change: the smallest |after - before| / |before| reported (segment medians).
    noise: "auto" estimates the relative noise from the series itself (robust to spikes and to
        bimodal timings); a float gives it instead (sigma of log(value), i.e. relative, for positive
        series; relative to the median magnitude otherwise).
    min_segment: fewest valid points on each side of a change point; a series with fewer than
        2 * min_segment valid points yields nothing.
    alpha: probability that a noise-only series yields a change point at all (before the
        min_relative_change floor, which makes false alarms rarer still).
    """
    if min_segment < 1:
        raise ValueError("min_segment must be at least 1")
    positions, x = _valid(values)
    n = x.size
    if n < 2 * min_segment or n < 2:
        return []
    y = _transform(x)
    if noise == "auto":
        rough = max(_rough_noise(y), NOISE_FLOOR)
        y = _winsorise(y, rough)
        sigma = max(_difference_noise(y), NOISE_FLOOR)
    else:
        sigma = float(noise)
        if not sigma > 0:
            raise ValueError(f"noise must be 'auto' or a positive float, not {noise!r}")
        y = _winsorise(y, sigma)
    prefix = np.concatenate(([0.0], np.cumsum(y)))
    threshold = detection_threshold(n, alpha)

    taus = _narrowest_over_threshold(*_scan(prefix, n, min_segment, sigma), threshold)
    if not taus:
        return []
    # Move each change point to the best split between its neighbours.
    bounds = [0] + taus + [n]
    for j in range(1, len(bounds) - 1):
        lo, hi = bounds[j - 1], bounds[j + 1]
        if hi - lo >= 2 * min_segment:
            bounds[j] = _best_split(prefix, lo, hi, min_segment)[0]
    taus = sorted(set(bounds[1:-1]))
    taus = _prune(x, prefix, taus, sigma, threshold, min_relative_change, min_segment)

    # Report the changes of the significant segmentation that are big enough: each is measured
    # against its own neighbouring segments (a 7 % step next to a 3 % one is still 7 %). A run of
    # significant changes in one direction, each below the floor but together above it (a creep),
    # is reported once, over the whole run.
    bounds = [0] + taus + [n]

    def measure(first: int, last: int):
        lo, start, end, hi = bounds[first], bounds[first + 1], bounds[last + 1], bounds[last + 2]
        before, after = float(np.median(x[lo:start])), float(np.median(x[end:hi]))
        return (lo, start, end, hi), before, after, _relative(before, after)

    selected: list[tuple[int, int]] = []
    run: list[tuple[int, int, float]] = []

    def close_run() -> None:
        if len(run) >= 2 and meets_threshold(measure(run[0][0], run[-1][1])[3], min_relative_change):
            selected.append((run[0][0], run[-1][1]))
        run.clear()

    for first, last in _changes(x, taus, min_segment):
        relative = measure(first, last)[3]
        if meets_threshold(relative, min_relative_change):
            close_run()
            selected.append((first, last))
        else:
            if run and (run[-1][2] > 0) != (relative > 0):
                close_run()
            run.append((first, last, relative))
    close_run()

    segment_levels = [float(np.median(y[bounds[j]:bounds[j + 1]])) for j in range(len(bounds) - 1)]
    flips = flip_amplitude_between_steps(segment_levels)
    points = []
    for first, last in selected:
        (lo, start, end, hi), before, after, relative = measure(first, last)
        if abs(float(np.median(y[end:hi])) - float(np.median(y[lo:start]))) <= FLIP_MARGIN * flips:
            continue
        points.append(ChangePoint(
            index=int(positions[end]),
            previous_index=int(positions[start - 1]),
            before=before,
            after=after,
            relative_change=relative,
            confidence=_mann_whitney_confidence(x[lo:start], x[end:hi]),
        ))
    return points
