"""How well change-point detectors find the true changes of labelled synthetic histories.

Runs, side by side on the same labelled series (``scripts/synthetic_history.py``, fixed seed):

- ``machmeter``: ``machmeter.detect.changepoints.find_change_points``;
- ``asv``: ``asv.step_detect.detect_steps`` (robust L1 piecewise-constant fit with automatic penalty);
  every boundary between two of its steps is a change point, levels are its step medians;
- ``asv-regr``: asv's own verdict, ``detect_regressions`` on the steps (upward) and on the steps of
  1/value (downward), with its ``threshold`` set to the reporting floor;
- ``ruptures``: ``ruptures.Binseg`` (Pelt is 20x slower here), cost model and penalty tuned on a
  separate seed (``--tune``: l2 on log values over a MAD or machmeter noise estimate, or rank; the
  rank cost with penalty 1.5 log n is the best with <= 1 false alarm per 10,000 series-commits);
- ``e-divisive``: MongoDB's E-divisive (``signal_processing_algorithms``) on log values, p-value tuned
  likewise (0.01, 200 permutations).

Every method reports (index, relative change of the segment medians); those below the reporting floor
are dropped. Scores, with a match = same direction and within +-3 commits of a true change (one-to-one):

- ``sens``: floor 1.5 %, below every true step: precision, recall, F1 over all changes; recall per
  magnitude and per direction, precision per direction; false alarms per 10,000 series-commits of the
  noise-only series;
- ``F1>=5%``: changes of 5 % and more are the positives, a detection matching a smaller true change is
  neither right nor wrong; at floor 1.5 % (``sens``) and at machmeter's default history floor, 2 % (``dflt``).

    python scripts/changepoint_quality.py             # the comparison table
    python scripts/changepoint_quality.py --quick     # a smaller set, machmeter and asv only
    python scripts/changepoint_quality.py --tune      # tune ruptures / E-divisive on the tuning seed
    python scripts/changepoint_quality.py --calibrate # simulate machmeter's detection threshold

The baselines are not dependencies of machmeter: ``pip install ruptures`` and
``pip install --no-deps signal-processing-algorithms structlog "more-itertools<9"`` (its metadata pins
numpy < 2 and setuptools < 71, which would downgrade this environment; it runs on numpy 2). A missing
one is skipped.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from machmeter.detect.engine import HISTORY_DEFAULT_FLOOR  # noqa: E402
from scripts.synthetic_history import (  # noqa: E402
    DEFAULT_SEED, KIND_WEIGHTS, KINDS, MAGNITUDES, LabelledSeries, TrueChange, labelled_series, make_series,
)

TOLERANCE = 3
SENSITIVE_FLOOR = 0.015
DEFAULT_FLOOR = HISTORY_DEFAULT_FLOOR  # what `machmeter check --history` reports by default
TUNING_SEED = 7
# Tuned with --tune on TUNING_SEED (best F1 for >= 5 % changes with <= 1 false alarm per 10,000
# series-commits at the sensitive floor; see the printed grid).
RUPTURES_MODEL, RUPTURES_BETA, RUPTURES_NOISE = "rank", 1.5, "mad"
EDIVISIVE_PVALUE, EDIVISIVE_PERMUTATIONS = 0.01, 200


@dataclass(frozen=True)
class Detection:
    index: int
    relative_change: float


Detector = Callable[[Sequence, float], list]


# ---------------------------------------------------------------------------------------------------
# Methods


def _valid(values) -> tuple[np.ndarray, np.ndarray]:
    pos = [i for i, v in enumerate(values) if v is not None and v == v]
    return np.asarray(pos, dtype=np.int64), np.asarray([values[i] for i in pos], dtype=float)


def _from_breaks(pos: np.ndarray, x: np.ndarray, breaks: Sequence[int], floor: float) -> list[Detection]:
    """Detections from break positions (in valid-point space: first point of each new segment)."""
    bounds = [0] + sorted(b for b in set(breaks) if 0 < b < x.size) + [x.size]
    out = []
    for j in range(1, len(bounds) - 1):
        before = float(np.median(x[bounds[j - 1]:bounds[j]]))
        after = float(np.median(x[bounds[j]:bounds[j + 1]]))
        rel = (after - before) / abs(before) if before else 0.0
        if abs(rel) >= floor:
            out.append(Detection(int(pos[bounds[j]]), rel))
    return out


def detect_machmeter(values, floor: float, **options) -> list[Detection]:
    """What ``machmeter check --history`` reports: the change points that meet the configured confidence
    (the engine's gate, where the machmeter on the path has one: run the script with an older
    machmeter's src on PYTHONPATH for the old behaviour, side by side)."""
    from machmeter.config import MachmeterConfig
    from machmeter.detect import engine
    from machmeter.detect.changepoints import find_change_points

    points = find_change_points(values, min_relative_change=floor, **options)
    gate = getattr(engine, "split_by_confidence", None)
    if gate is not None:
        points = gate(points, MachmeterConfig().confidence)[0]
    return [Detection(p.index, p.relative_change) for p in points]


def detect_asv(values, floor: float) -> list[Detection]:
    from asv.step_detect import detect_steps

    steps = detect_steps(list(values))
    out = []
    for (l0, r0, v0, _, _), (l1, r1, v1, _, _) in zip(steps, steps[1:]):
        rel = (v1 - v0) / abs(v0) if v0 else 0.0
        if abs(rel) >= floor:
            out.append(Detection(int(l1), rel))
    return out


def detect_asv_regressions(values, floor: float) -> list[Detection]:
    """asv's own verdict: detect_regressions (upward steps) on y, and on 1/y for downward ones."""
    from asv.step_detect import detect_regressions, detect_steps

    out = []
    clean = [v if v is not None and v == v else None for v in values]
    for sign, series in ((1, clean), (-1, [None if v is None or v == 0 else 1.0 / v for v in clean])):
        steps = detect_steps(series)
        _, _, regressions = detect_regressions(steps, threshold=floor)
        for before_pos, after_pos, before_value, after_value in regressions or []:
            rel = after_value / before_value - 1.0 if before_value else 0.0
            if sign < 0:  # measured on 1/y
                rel = 1.0 / (1.0 + rel) - 1.0
            out.append(Detection(int(after_pos), rel))
    return sorted(out, key=lambda d: d.index)


def _robust_sigma(y: np.ndarray) -> float:
    d = np.diff(y)
    mad = float(np.median(np.abs(d - np.median(d)))) if d.size else 0.0
    return max(mad / (0.6745 * math.sqrt(2.0)), 1e-9)


def _log_scaled(x: np.ndarray, noise: str) -> np.ndarray:
    """log values (positive series) over a noise estimate: MAD of successive differences, or
    machmeter's estimate (spike-clipped, trimmed differences: sees bimodal spread as noise)."""
    y = np.log(x) if np.all(x > 0) else x / (np.median(np.abs(x)) or 1.0)
    if noise == "machmeter":
        from machmeter.detect.changepoints import estimate_noise

        sigma = estimate_noise(list(x))
    else:
        sigma = _robust_sigma(y)
    return (y - np.median(y)) / sigma


def detect_ruptures(values, floor: float, model: str = RUPTURES_MODEL, beta: float = RUPTURES_BETA,
                    noise: str = RUPTURES_NOISE, min_size: int = 3) -> list[Detection]:
    import ruptures

    pos, x = _valid(values)
    if x.size < 2 * min_size:
        return []
    y = _log_scaled(x, noise)
    breaks = ruptures.Binseg(model=model, min_size=min_size, jump=1).fit(y).predict(pen=beta * math.log(x.size))
    return _from_breaks(pos, x, breaks[:-1], floor)


def detect_edivisive(values, floor: float, pvalue: float = EDIVISIVE_PVALUE,
                     permutations: int = EDIVISIVE_PERMUTATIONS) -> list[Detection]:
    from signal_processing_algorithms.energy_statistics import energy_statistics

    pos, x = _valid(values)
    if x.size < 6:
        return []
    y = np.log(x) if np.all(x > 0) else x
    breaks = energy_statistics.e_divisive(y, pvalue=pvalue, permutations=permutations)
    return _from_breaks(pos, x, breaks, floor)


METHODS: dict[str, Detector] = {
    "machmeter": detect_machmeter,
    "asv": detect_asv,
    "asv-regr": detect_asv_regressions,
    "ruptures": detect_ruptures,
    "e-divisive": detect_edivisive,
}
# Methods whose floor is a filter on their output (one run serves both floors); machmeter's floor
# takes part in its pruning, so it runs once per floor.
POST_FILTER = {"asv", "ruptures", "e-divisive"}


# ---------------------------------------------------------------------------------------------------
# Scoring


def match(predicted: Sequence[Detection], truth: Sequence[TrueChange], tolerance: int = TOLERANCE):
    """One-to-one matches (predicted i, true j), same direction, |index difference| <= tolerance,
    closest pairs first."""
    pairs = sorted(
        (abs(p.index - t.index), i, j)
        for i, p in enumerate(predicted) for j, t in enumerate(truth)
        if abs(p.index - t.index) <= tolerance and (p.relative_change > 0) == (t.relative_change > 0)
    )
    used_p, used_t, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _bucket(magnitude: float) -> float:
    return min(MAGNITUDES, key=lambda m: abs(m - magnitude))


def score(series: Sequence[LabelledSeries], predictions: Sequence[Sequence[Detection]],
          min_magnitude: float = 0.0) -> dict:
    """Scores of one run. Truths below min_magnitude are "don't care": a detection matching one is
    neither a true nor a false positive."""
    tp = fp = fn = 0
    by_bucket = {m: [0, 0] for m in MAGNITUDES}       # found, total
    by_dir = {"up": [0, 0], "down": [0, 0]}             # found, total
    pred_dir = {"up": [0, 0], "down": [0, 0]}           # right, reported
    noise_commits = noise_alarms = 0
    alarms_by_kind = {k: [0, 0] for k in KINDS}          # alarms, commits
    for s, predicted in zip(series, predictions):
        pairs = match(predicted, s.changes)
        matched_p = {i for i, _ in pairs}
        matched_t = {j for _, j in pairs}
        for j, t in enumerate(s.changes):
            found = j in matched_t
            if t.magnitude >= min_magnitude - 1e-12:
                tp += found
                fn += not found
            by_bucket[_bucket(t.magnitude)][0] += found
            by_bucket[_bucket(t.magnitude)][1] += 1
            by_dir[t.direction][0] += found
            by_dir[t.direction][1] += 1
        for i, p in enumerate(predicted):
            direction = "up" if p.relative_change > 0 else "down"
            pred_dir[direction][1] += 1
            pred_dir[direction][0] += i in matched_p
            if i not in matched_p:
                fp += 1
        if s.noise_only:
            noise_commits += len(s.values)
            noise_alarms += len(predicted)
            alarms_by_kind[s.kind][0] += len(predicted)
            alarms_by_kind[s.kind][1] += len(s.values)
    p, r, f1 = _f1(tp, fp, fn)
    out = {"P": p, "R": r, "F1": f1, "TP": tp, "FP": fp, "FN": fn,
           "FA/10k": 1e4 * noise_alarms / noise_commits if noise_commits else float("nan"),
           "FA": noise_alarms, "noise_commits": noise_commits}
    for m, (found, total) in by_bucket.items():
        out[f"R{round(m * 100):g}%"] = found / total if total else float("nan")
    for d, (found, total) in by_dir.items():
        out[f"R{d}"] = found / total if total else float("nan")
    for d, (right, reported) in pred_dir.items():
        out[f"P{d}"] = right / reported if reported else float("nan")
    for k, (alarms, commits) in alarms_by_kind.items():
        out[f"FA/10k {k}"] = 1e4 * alarms / commits if commits else float("nan")
    return out


def run_method(detector: Detector, series: Sequence[LabelledSeries], floor: float) -> tuple[list, float]:
    started = time.perf_counter()
    predictions = [detector(s.values, floor) for s in series]
    return predictions, time.perf_counter() - started


def _filtered(predictions, floor: float):
    return [[d for d in p if abs(d.relative_change) >= floor] for p in predictions]


def evaluate(name: str, series: Sequence[LabelledSeries], detector: Detector | None = None) -> dict:
    """All scores of one method: sensitive floor, default floor, F1 over >= 5 % changes."""
    detector = detector or METHODS[name]
    if name in POST_FILTER:
        sensitive, seconds = run_method(detector, series, SENSITIVE_FLOOR)
        default = _filtered(sensitive, DEFAULT_FLOOR)
    else:
        sensitive, seconds_a = run_method(detector, series, SENSITIVE_FLOOR)
        default, seconds_b = run_method(detector, series, DEFAULT_FLOOR)
        seconds = (seconds_a + seconds_b) / 2
    out = score(series, sensitive)
    ge5 = score(series, sensitive, min_magnitude=0.05)
    ge5_default = score(series, default, min_magnitude=0.05)
    noise_default = score(series, default)
    out.update({
        "F1>=5% sens": ge5["F1"], "P>=5% sens": ge5["P"], "R>=5% sens": ge5["R"],
        "F1>=5% dflt": ge5_default["F1"], "P>=5% dflt": ge5_default["P"], "R>=5% dflt": ge5_default["R"],
        "FA/10k dflt": noise_default["FA/10k"], "seconds": seconds,
    })
    return out


def speed(detector: Detector, n_series: int = 300, length: int = 2000, seed: int = 1, floor: float = DEFAULT_FLOOR):
    """Seconds to run detector over n_series GPU-like series of `length` commits (kinds mixed)."""
    rng = np.random.default_rng(seed)
    series = [make_series(rng, length, str(rng.choice(KINDS, p=KIND_WEIGHTS)),
                          int(rng.integers(0, 5))) for _ in range(n_series)]
    started = time.perf_counter()
    for s in series:
        detector(s.values, floor)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------------
# Printing


def _fmt(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if v != v:
        return "-"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def print_table(rows: dict[str, dict], columns: Sequence[str], title: str) -> None:
    print(f"\n{title}")
    widths = [max(10, max(len(k) for k in rows) + 1)] + [max(7, len(c) + 1) for c in columns]
    print("method".ljust(widths[0]) + "".join(c.rjust(w) for c, w in zip(columns, widths[1:])))
    for name, metrics in rows.items():
        print(name.ljust(widths[0]) + "".join(_fmt(metrics.get(c, float("nan"))).rjust(w)
                                             for c, w in zip(columns, widths[1:])))


HEADLINE = ["F1>=5% sens", "F1>=5% dflt", "R3%", "FA/10k", "FA/10k dflt", "P", "R", "F1", "seconds"]
BREAKDOWN = ["R2%", "R3%", "R4%", "R5%", "R7%", "R10%", "R15%", "R25%", "Rup", "Rdown", "Pup", "Pdown"]
FALSE_ALARMS = [f"FA/10k {k}" for k in KINDS] + ["FA", "noise_commits"]


# ---------------------------------------------------------------------------------------------------
# Tuning and calibration


def _progress(rows: dict) -> None:
    name, metrics = list(rows.items())[-1]
    print(f"  {name}: " + ", ".join(f"{c} {_fmt(metrics[c])}" for c in HEADLINE), file=sys.stderr, flush=True)


def tune(n_series: int, n_noise_only: int, which: Sequence[str] = ("ruptures", "e-divisive", "machmeter")) -> None:
    """Penalty (ruptures) and p-value (E-divisive) grids on TUNING_SEED, machmeter's alpha too."""
    series = labelled_series(seed=TUNING_SEED, n_series=n_series, n_noise_only=n_noise_only)
    rows = {}
    if "ruptures" in which:
        grid = [("l2", "mad", beta) for beta in (4.0, 10.0, 25.0, 50.0)]
        grid += [("l2", "machmeter", beta) for beta in (4.0, 10.0, 25.0, 50.0)]
        grid += [("rank", "mad", beta) for beta in (0.5, 1.0, 1.5, 2.0, 3.0)]
        for model, noise, beta in grid:
            def detector(values, floor, model=model, beta=beta, noise=noise):
                return detect_ruptures(values, floor, model=model, beta=beta, noise=noise)
            rows[f"ruptures {model}/{noise} b={beta:g}"] = evaluate("ruptures", series, detector)
            _progress(rows)
    if "e-divisive" in which:
        for pvalue, permutations in ((0.05, 100), (0.01, 200)):
            def detector(values, floor, pvalue=pvalue, permutations=permutations):
                return detect_edivisive(values, floor, pvalue=pvalue, permutations=permutations)
            np.random.seed(0)
            rows[f"e-divisive p={pvalue:g}"] = evaluate("e-divisive", series, detector)
            _progress(rows)
    if "machmeter" in which:
        for alpha in (1e-2, 1e-3, 1e-4):
            def detector(values, floor, alpha=alpha):
                return detect_machmeter(values, floor, alpha=alpha)
            rows[f"machmeter a={alpha:g}"] = evaluate("machmeter", series, detector)
            _progress(rows)
    print_table(rows, HEADLINE, f"tuning grid (seed {TUNING_SEED}, {n_series} + {n_noise_only} noise-only series)")


def calibrate(reps: int, min_segment: int = 3) -> None:
    """Quantiles of the largest standardised CUSUM that machmeter's search sees on Gaussian noise."""
    from machmeter.detect import changepoints as cp

    rng = np.random.default_rng(11)
    print("n  reps  q(1-1e-2) q(1-1e-3)  thr(1e-3) now  -> q^2 - 2 log n")
    for n in (8, 12, 20, 35, 50, 100, 200, 500, 1000, 2000, 5000):
        stats = []
        for _ in range(reps if n <= 1000 else max(200, reps // 5)):
            x = np.exp(0.01 * rng.standard_normal(n))
            y = cp._transform(x)
            y = cp._winsorise(y, max(cp._rough_noise(y), cp.NOISE_FLOOR))
            sigma = max(cp._difference_noise(y), cp.NOISE_FLOOR)
            prefix = np.concatenate(([0.0], np.cumsum(y)))
            stats.append(cp._scan(prefix, n, min_segment, sigma)[2].max())
        stats = np.asarray(stats)
        q2, q3 = np.quantile(stats, 0.99), np.quantile(stats, 0.999)
        print(f"{n:5d} {stats.size:6d} {q2:9.3f} {q3:9.3f} {cp.detection_threshold(n):9.3f}   "
              f"{q2 * q2 - 2 * math.log(n):6.2f} {q3 * q3 - 2 * math.log(n):6.2f}  "
              f"P(>thr)={np.mean(stats >= cp.detection_threshold(n)):.4f}", flush=True)


def oracle_recall(series: Sequence[LabelledSeries], z: float) -> dict[str, tuple[int, int]]:
    """(found, total) per kind for an oracle that knows each change's position and each series' noise:
    a change is found when the difference of the medians of its two true segments exceeds ``z`` standard
    errors (the noise, and for two-level kinds half the gap as well, treated as independent from run to
    run: generous to flips, whose runs are not). No detector that has to find the positions beats it."""
    found: dict[str, list[int]] = {}
    for s in series:
        _, x = _valid(s.values)
        positions = [i for i, v in enumerate(s.values) if v is not None and v == v]
        y = np.log(np.abs(x)) if s.kind != "accuracy" else x / np.median(np.abs(x))
        spread = math.hypot(s.noise, s.bimodal_gap / 2) if s.kind in ("flipping", "bimodal") else s.noise
        cuts = [0] + [int(np.searchsorted(positions, c.index)) for c in s.changes] + [y.size]
        for j, change in enumerate(s.changes):
            before, after = y[cuts[j]:cuts[j + 1]], y[cuts[j + 1]:cuts[j + 2]]
            counts = found.setdefault(s.kind, [0, 0])
            counts[1] += 1
            if before.size and after.size and change.magnitude >= DEFAULT_FLOOR - 1e-12:
                # 1.2533: the standard error of a median of Gaussian values over that of their mean
                error = 1.2533 * max(spread, 1e-12) * math.sqrt(1 / before.size + 1 / after.size)
                counts[0] += abs(float(np.median(after) - np.median(before))) > z * error
    return {kind: (f, t) for kind, (f, t) in sorted(found.items())}


def print_oracle_recall(series: Sequence[LabelledSeries], z: float) -> None:
    recall = oracle_recall(series, z)
    print(f"\noracle recall (positions and noise known, |change| > {z:g} standard errors, floor {DEFAULT_FLOOR:.0%})")
    for kind, (f, t) in recall.items():
        print(f"  {kind:<9} {f / t:.3f}  ({f}/{t})")
    f, t = (sum(v[i] for v in recall.values()) for i in (0, 1))
    print(f"  {'all':<9} {f / t:.3f}  ({f}/{t}); the best F1 any detector can reach here (no false alarm): "
          f"{2 * (f / t) / (1 + f / t):.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--series", type=int, default=1200, help="labelled series with changes")
    parser.add_argument("--noise-only", type=int, default=600, help="noise-only series")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated: " + ", ".join(METHODS))
    parser.add_argument("--quick", action="store_true", help="300 + 150 series, machmeter and asv only")
    parser.add_argument("--run-level", action="store_true",
                        help="the labelled set with run-level noise (sticky two-level flips, process offsets)")
    parser.add_argument("--no-speed", action="store_true", help="skip the 300 x 2,000 speed figure")
    parser.add_argument("--tune", nargs="?", const="ruptures,e-divisive,machmeter", metavar="METHODS",
                        help="tuning grids on the tuning seed (default: ruptures,e-divisive,machmeter)")
    parser.add_argument("--calibrate", type=int, metavar="REPS", nargs="?", const=4000)
    parser.add_argument("--oracle", type=float, metavar="Z", nargs="?", const=4.0,
                        help="the recall an oracle that knows every change's position and every series' noise "
                             "reaches when it reports a change whose standardised size exceeds Z (4: about what "
                             "a search over a few hundred commits at alpha 1e-3 needs), per kind: the ceiling "
                             "of any detector's recall on this set")
    args = parser.parse_args(argv)

    if args.calibrate:
        calibrate(args.calibrate)
        return 0
    if args.tune:
        tune(min(args.series, 600), min(args.noise_only, 300), args.tune.split(","))
        return 0
    methods = args.methods.split(",")
    if args.quick:
        args.series, args.noise_only = 300, 150
        methods = [m for m in methods if m in ("machmeter", "asv")]
    series = labelled_series(seed=args.seed, n_series=args.series, n_noise_only=args.noise_only,
                             run_level=args.run_level)
    n_changes = sum(len(s.changes) for s in series)
    if args.oracle:
        print_oracle_recall(series, args.oracle)
        return 0
    print(f"labelled set{' (run-level noise)' if args.run_level else ''}: seed {args.seed}, {args.series} series with {n_changes} changes + {args.noise_only} "
          f"noise-only series ({sum(len(s.values) for s in series if s.noise_only)} commits); "
          f"match: same direction, +-{TOLERANCE} commits; floors: sens {SENSITIVE_FLOOR:g}, dflt {DEFAULT_FLOOR:g}")
    rows = {}
    for name in list(methods):
        module = {"ruptures": "ruptures", "e-divisive": "signal_processing_algorithms"}.get(name)
        if module:
            try:
                __import__(module)
            except ImportError:
                print(f"  {name}: skipped ({module} is not installed: pip install "
                      f"{module.replace('_', '-')})", file=sys.stderr)
                methods.remove(name)
                continue
        np.random.seed(0)  # E-divisive's permutations
        rows[name] = evaluate(name, series)
        sys.stdout.flush()
        print(f"  {name}: {rows[name]['seconds']:.1f} s", file=sys.stderr, flush=True)
    print_table(rows, HEADLINE, f"headline (F1>=5%: changes >= 5 % at floor {SENSITIVE_FLOOR:.1%} / at floor {DEFAULT_FLOOR:.0%}; R3%: recall of "
                                "3 % changes; FA/10k: false alarms per 10,000 noise-only series-commits)")
    print_table(rows, BREAKDOWN, "recall per magnitude and direction, precision per direction (floor 1.5 %)")
    print_table(rows, FALSE_ALARMS, "false alarms per 10,000 series-commits of noise-only series, per kind (floor 1.5 %)")
    if not args.no_speed:
        print("\nspeed: 300 series x 2,000 commits, default floor")
        for name in methods:
            if name == "machmeter":
                print(f"  machmeter: {speed(METHODS[name]):.2f} s")
            else:  # the others are slow: time a few series and scale
                timed = 2 if name == "e-divisive" else 15
                print(f"  {name}: {speed(METHODS[name], n_series=timed) * 300 / timed:.0f} s "
                      f"({timed} series timed, x {300 // timed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
