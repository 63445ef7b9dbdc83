"""Labelled synthetic benchmark histories with GPU-like noise, for judging change-point detectors.

Every series is ordered by commit (oldest first) and knows its true change points. Kinds:

- ``timing``: multiplicative noise, sigma log-uniform in 0.5-3 % (Gaussian, or Student-t with 4
  degrees of freedom for 40 % of the series), spikes (slow runs +10-100 %, a fifth of them fast runs
  -5-30 %) at a per-series rate of 0-3 % in 70 % of the series;
- ``bimodal``: GPU boost clocks: every value sits on one of two levels 2-5 % apart (probability of the
  upper one 0.2-0.8, fixed per series), 0.2-1 % noise around each, spikes as above;
- ``memory``: bytes, integers, noiseless for half the series and 1e-7-1e-5 relative noise otherwise,
  rare allocator spikes;
- ``accuracy``: 0.5-0.99, relative noise 1e-7-1e-5;
- ``flipping`` (run-level noise): a GPU or runner that sits in one of two states for several runs in a
  row (clocks, placement, two kinds of CI runner): a sticky two-state chain (each run keeps the state of
  the one before with probability 0.75-0.97, so a state lasts 4-33 runs on average) puts the value
  1.5-4 % above the lower level, 0.3-1.5 % noise around each;
- ``process`` (run-level noise): every run is a new process whose level differs from the others' by
  2-8 % (sigma, log-normal; two processes of the same code differ by 10-20 % on a GPU host), heavier
  tails for 40 % of the series, spikes as for timings.

Every series has failed (None, 0-4 %) and skipped (NaN, 0-3 %) points, and a fifth of them a run of
3-12 failed commits. Changes are steps of 2, 3, 4, 5, 7, 10, 15 or 25 %, up or down (after a step the
next one goes the other way with probability 0.6), at least ``MIN_GAP`` commits apart and ``EDGE_GAP``
from either end. A change's ``index`` is the first *valid* point at the new level, its
``relative_change`` is new level / old level - 1 of the noise-free levels.

``labelled_series(seed)`` makes a mixed labelled set (series with 1-4 changes and noise-only series);
``write_asv_results(folder)`` writes a whole asv results folder (format version 2) of such series,
2,000 commits x 300 series x 3 machines by default, for speed benchmarks of the readers and detectors.

Usable from the repository root: ``from scripts.synthetic_history import labelled_series``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import asdict, dataclass, field

import numpy as np

MAGNITUDES = (0.02, 0.03, 0.04, 0.05, 0.07, 0.10, 0.15, 0.25)
KINDS = ("timing", "bimodal", "memory", "accuracy", "flipping", "process")
KIND_WEIGHTS = (0.5, 0.25, 0.125, 0.125, 0.0, 0.0)
# ``labelled_series(run_level=True)``: what histories of GPU runners look like between runs (the issue
# "Verdicts that hold on real runs"): sticky two-level flips and process-to-process offsets.
RUN_LEVEL_WEIGHTS = (0.25, 0.1, 0.1, 0.1, 0.3, 0.15)
EDGE_GAP = 15   # commits between a change and either end of the series
MIN_GAP = 25    # commits between two changes
DEFAULT_SEED = 20240601


@dataclass(frozen=True)
class TrueChange:
    index: int              # position of the first valid point at the new level
    relative_change: float  # new level / old level - 1 (noise-free levels)

    @property
    def magnitude(self) -> float:
        return abs(self.relative_change)

    @property
    def direction(self) -> str:
        return "up" if self.relative_change > 0 else "down"


@dataclass
class LabelledSeries:
    name: str
    kind: str
    values: list            # float, None (failed) or NaN (skipped)
    changes: list[TrueChange] = field(default_factory=list)
    noise: float = 0.0      # relative sigma (within-mode sigma for bimodal series)
    bimodal_gap: float = 0.0

    @property
    def noise_only(self) -> bool:
        return not self.changes


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _change_positions(rng: np.random.Generator, length: int, count: int) -> list[int]:
    free = (length - 2 * EDGE_GAP) - (count - 1) * MIN_GAP
    while count > 0 and free < 0:
        count -= 1
        free = (length - 2 * EDGE_GAP) - (count - 1) * MIN_GAP
    if count <= 0:
        return []
    offsets = np.sort(rng.integers(0, free + 1, size=count))
    return [int(EDGE_GAP + o + i * MIN_GAP) for i, o in enumerate(offsets)]


def _spikes(rng: np.random.Generator, length: int, rate: float, kind: str) -> np.ndarray:
    """Multiplicative factors: 1 except at spikes."""
    factor = np.ones(length)
    if rate <= 0:
        return factor
    hit = rng.random(length) < rate
    count = int(hit.sum())
    if count:
        if kind == "memory":
            factor[hit] = 1.0 + rng.uniform(0.05, 0.5, count)
        else:
            slow = rng.random(count) < 0.8
            factor[hit] = np.where(slow, 1.0 + rng.uniform(0.1, 1.0, count), 1.0 - rng.uniform(0.05, 0.3, count))
    return factor


def make_series(rng: np.random.Generator, length: int, kind: str, n_changes: int, name: str = "") -> LabelledSeries:
    """One labelled series of ``length`` commits with (up to) ``n_changes`` steps."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    positions = _change_positions(rng, length, n_changes)
    signs, magnitudes = [], []
    previous = 0
    for _ in positions:
        sign = -previous if previous and rng.random() < 0.6 else (1 if rng.random() < 0.5 else -1)
        signs.append(sign)
        magnitudes.append(float(rng.choice(MAGNITUDES)))
        previous = sign

    if kind in ("timing", "flipping", "process"):
        base = _log_uniform(rng, 1e-4, 10.0)
    elif kind == "bimodal":
        base = _log_uniform(rng, 1e-3, 1.0)
    elif kind == "memory":
        base = _log_uniform(rng, 1e8, 2e10)
    else:
        base = float(rng.uniform(0.5, 0.99))
    level = np.full(length, base)
    current = base
    for position, sign, magnitude in zip(positions, signs, magnitudes):
        current = current * (1.0 + sign * magnitude)
        level[position:] = current

    noise, gap = 0.0, 0.0
    if kind in ("timing", "bimodal", "process"):
        if kind == "timing":
            noise = _log_uniform(rng, 0.005, 0.03)
        elif kind == "process":
            noise = _log_uniform(rng, 0.02, 0.08)
        else:
            noise = _log_uniform(rng, 0.002, 0.01)
            gap = float(rng.uniform(0.02, 0.05))
        if rng.random() < 0.4:
            z = rng.standard_t(4, length) / math.sqrt(2.0)  # unit variance, heavier tails
        else:
            z = rng.standard_normal(length)
        values = level * np.exp(noise * z)
        if kind == "bimodal":
            upper = rng.random(length) < rng.uniform(0.2, 0.8)
            values = values * np.where(upper, 1.0 + gap, 1.0)
        rate = float(rng.uniform(0.0, 0.03)) if rng.random() < 0.7 else 0.0
        values = values * _spikes(rng, length, rate, kind)
    elif kind == "flipping":
        noise = _log_uniform(rng, 0.003, 0.015)
        gap = float(rng.uniform(0.015, 0.04))
        stay = float(rng.uniform(0.75, 0.97))
        state = np.empty(length, dtype=bool)
        state[0] = rng.random() < 0.5
        keep = rng.random(length) < stay
        for i in range(1, length):
            state[i] = state[i - 1] if keep[i] else not state[i - 1]
        values = level * np.exp(noise * rng.standard_normal(length)) * np.where(state, 1.0 + gap, 1.0)
        rate = float(rng.uniform(0.0, 0.03)) if rng.random() < 0.7 else 0.0
        values = values * _spikes(rng, length, rate, kind)
    elif kind == "memory":
        noise = 0.0 if rng.random() < 0.5 else _log_uniform(rng, 1e-7, 1e-5)
        values = np.round(level * (1.0 + noise * rng.standard_normal(length)))
        rate = float(rng.uniform(0.0, 0.01)) if rng.random() < 0.5 else 0.0
        values = np.round(values * _spikes(rng, length, rate, kind))
    else:
        noise = _log_uniform(rng, 1e-7, 1e-5)
        values = level * (1.0 + noise * rng.standard_normal(length))

    out: list = [float(v) for v in values]
    failed = rng.random(length) < rng.uniform(0.0, 0.04)
    skipped = rng.random(length) < rng.uniform(0.0, 0.03)
    if rng.random() < 0.2:
        run = int(rng.integers(3, 13))
        start = int(rng.integers(0, max(1, length - run)))
        failed[start:start + run] = True
    for i in range(length):
        if failed[i]:
            out[i] = None
        elif skipped[i]:
            out[i] = float("nan")

    def valid(i: int) -> bool:
        return out[i] is not None and out[i] == out[i]

    changes = []
    bounds = positions + [length]
    for j, position in enumerate(positions):
        first = next((i for i in range(position, bounds[j + 1]) if valid(i)), None)
        before_valid = any(valid(i) for i in range(positions[j - 1] if j else 0, position))
        if first is None or not before_valid:
            continue  # no valid point on one side: nobody could see this change
        changes.append(TrueChange(index=first, relative_change=signs[j] * magnitudes[j]))
    return LabelledSeries(name=name, kind=kind, values=out, changes=changes, noise=noise, bimodal_gap=gap)


def labelled_series(seed: int = DEFAULT_SEED, n_series: int = 1200, n_noise_only: int = 400,
                    length: tuple[int, int] = (100, 400), run_level: bool = False) -> list[LabelledSeries]:
    """A labelled set: ``n_series`` series with 1-4 changes, then ``n_noise_only`` without any, kinds
    mixed by ``KIND_WEIGHTS`` (``RUN_LEVEL_WEIGHTS`` with ``run_level``: flips and process offsets),
    lengths uniform in ``length`` (inclusive)."""
    rng = np.random.default_rng(seed)
    weights = RUN_LEVEL_WEIGHTS if run_level else KIND_WEIGHTS
    out = []
    for i in range(n_series + n_noise_only):
        kind = str(rng.choice(KINDS, p=weights))
        size = int(rng.integers(length[0], length[1] + 1))
        n_changes = int(rng.integers(1, 5)) if i < n_series else 0
        out.append(make_series(rng, size, kind, n_changes, name=f"{kind}-{i:05d}"))
    return out


# ---------------------------------------------------------------------------------------------------
# asv results folder


PARAM_NAMES = ("size", "dtype", "device")
PARAMS = (("'64'", "'512'", "'4096'"), ("'float32'", "'bfloat16'"), ("'cuda'", "'cpu'"))
RESULT_COLUMNS = ["result", "params", "version", "started_at", "duration", "stats_ci_99_a", "stats_ci_99_b",
                  "stats_q_25", "stats_q_75", "stats_number", "stats_repeat", "samples", "profile"]
ENV_NAME = "host-py3.11"


def _benchmark_table(n_series: int) -> list[dict]:
    """benchmarks.json entries adding up to n_series series: 60 % timings, 20 % memory, 20 % accuracy."""
    combos = math.prod(len(p) for p in PARAMS)
    n_benchmarks = max(1, math.ceil(n_series / combos))
    table = []
    for b in range(n_benchmarks):
        share = b / n_benchmarks
        if share < 0.6:
            entry = {"name": f"synthetic.Timing{b:02d}.time_forward", "type": "time", "unit": "seconds",
                     "metric_kind": "time", "higher_is_better": False}
        elif share < 0.8:
            entry = {"name": f"synthetic.Memory{b:02d}.track_peak_memory", "type": "track", "unit": "bytes",
                     "metric_kind": "memory", "higher_is_better": False}
        else:
            entry = {"name": f"synthetic.Accuracy{b:02d}.track_accuracy", "type": "track", "unit": "fraction",
                     "metric_kind": "accuracy", "higher_is_better": True, "tolerance_abs": 0.001}
        entry.update({
            "code": f"def {entry['name'].rsplit('.', 1)[1]}(self, size, dtype, device):\n    pass\n",
            "param_names": list(PARAM_NAMES),
            "params": [list(p) for p in PARAMS],
            "version": f"{b:064x}",
            "timeout": 600,
        })
        if entry["type"] == "time":
            entry.update({"number": 0, "repeat": 0, "rounds": 2, "min_run_count": 2, "sample_time": 0.01,
                          "warmup_time": -1})
        table.append(entry)
    return table


def _round(v: float, digits: int = 10) -> float:
    return float(f"{v:.{digits}g}")


@dataclass(frozen=True)
class EnvironmentShiftTruth:
    machine: str
    index: int                  # commit position of the first run on the changed runner
    factor: float               # the common multiplicative move of the series it moved
    series: tuple               # (benchmark, param values) of the series it moved


def write_asv_results(folder: str, *, n_commits: int = 2000, n_series: int = 300, n_machines: int = 3,
                      seed: int = DEFAULT_SEED, max_changes: int = 4, stats: bool = True,
                      labels_path: str | None = None, run_level: bool = False, environment_shifts: int = 0,
                      shifts: list | None = None) -> dict[tuple[str, str, tuple[str, ...]], list[TrueChange]]:
    """Write an asv results folder (format version 2) of synthetic histories and return the truth.

    ``folder`` gets ``benchmarks.json`` and, per machine ``gpu-runner-<m>``, ``machine.json`` and one
    ``<hash8>-host-py3.11.json`` per commit. Each machine has ``n_series`` series (benchmarks x 12
    parameter combinations; timings, then memory, then accuracy), each with 0..``max_changes`` changes.
    Commits are ordered by their ``date``. ``stats`` adds the ci_99/quartile/number/repeat columns to
    timing rows (as ``asv run`` writes them). Returns ``{(machine, benchmark, param values): changes}``
    (indices are commit positions); ``labels_path`` also writes it as JSON.

    ``run_level`` draws the timings from the run-level kinds too (sticky flips, process offsets);
    ``environment_shifts`` runner changes, each on one machine at one commit: the GPU driver in its
    stored fingerprint changes there and 30-80 % of its timings move by one common factor (3-15 %, either
    way); they are appended to ``shifts`` (EnvironmentShiftTruth), not to the true changes.
    """
    rng = np.random.default_rng(seed)
    table = _benchmark_table(n_series)
    os.makedirs(folder, exist_ok=True)
    benchmarks = {entry["name"]: entry for entry in table}
    benchmarks["version"] = 2
    with open(os.path.join(folder, "benchmarks.json"), "w", encoding="utf-8") as stream:
        json.dump(benchmarks, stream, indent=1, sort_keys=True)

    combos = list(itertools.product(*PARAMS))  # asv's order of a parameterised result
    commits = [rng.bytes(20).hex() for _ in range(n_commits)]
    start_ms = 1_704_067_200_000  # 2024-01-01
    dates = [start_ms + i * 3_600_000 + int(rng.integers(0, 3_000_000)) for i in range(n_commits)]
    labels: dict[tuple[str, str, tuple[str, ...]], list[TrueChange]] = {}

    for m in range(n_machines):
        machine = f"gpu-runner-{m}"
        mfolder = os.path.join(folder, machine)
        os.makedirs(mfolder, exist_ok=True)
        machine_info = {"machine": machine, "os": "Linux 6.8.0", "arch": "x86_64", "cpu": "AMD EPYC 9654",
                        "num_cpu": "192", "ram": "1584000000000", "gpu": "NVIDIA H100 80GB HBM3",
                        "gpu_count": "8", "gpu_driver": "550.54.15", "cuda": "12.4", "version": 1}
        with open(os.path.join(mfolder, "machine.json"), "w", encoding="utf-8") as stream:
            json.dump(machine_info, stream, indent=4)
        # values[b][c] = series of benchmark b, parameter combination c
        values = []
        series_left = n_series
        for entry in table:
            row = []
            for combo in combos:
                if series_left <= 0:
                    row.append(None)
                    continue
                series_left -= 1
                if entry["metric_kind"] == "time" and run_level:
                    kind = str(rng.choice(("timing", "bimodal", "flipping", "process"), p=(0.35, 0.15, 0.3, 0.2)))
                elif entry["metric_kind"] == "time":
                    kind = "bimodal" if rng.random() < 1 / 3 else "timing"
                else:
                    kind = entry["metric_kind"]
                s = make_series(rng, n_commits, kind, int(rng.integers(0, max_changes + 1)))
                labels[(machine, entry["name"], combo)] = s.changes
                row.append(s.values)
            values.append(row)
        params = {k: v for k, v in machine_info.items() if k != "version"}
        params["python"] = "3.11"
        # runner changes of this machine: (commit position, driver from there on)
        driver_at: list[tuple[int, str]] = []
        for k in range(environment_shifts):
            if int(rng.integers(0, n_machines)) != m:
                continue
            index = int(rng.integers(EDGE_GAP, n_commits - EDGE_GAP))
            factor = float(np.exp(rng.choice((-1, 1)) * rng.uniform(math.log(1.03), math.log(1.15))))
            share = float(rng.uniform(0.3, 0.8))
            moved = []
            for entry, row in zip(table, values):
                if entry["metric_kind"] != "time":
                    continue
                for combo, series in zip(combos, row):
                    if series is not None and rng.random() < share:
                        for i in range(index, n_commits):
                            if series[i] is not None and series[i] == series[i]:
                                series[i] *= factor
                        moved.append((entry["name"], combo))
            driver_at.append((index, f"{560 + len(driver_at)}.{int(rng.integers(10, 99))}"))
            if shifts is not None:
                shifts.append(EnvironmentShiftTruth(machine, index, factor, tuple(moved)))
        driver_at.sort()
        for i, commit in enumerate(commits):
            drivers = [driver for index, driver in driver_at if index <= i]
            if drivers:
                params = dict(params, gpu_driver=drivers[-1])
            results = {}
            for entry, row in zip(table, values):
                # a combination beyond n_series is skipped (NaN), as asv writes a combination that
                # raised NotImplementedError (bfloat16 on this CPU, ...)
                result = [math.nan if series is None else (series[i] if series[i] is None else _round(series[i]))
                          for series in row]
                record = [result, entry["params"], entry["version"], dates[i] + 60_000, 1.5]
                if stats and entry["type"] == "time":
                    ok = [isinstance(v, float) and v == v for v in result]
                    record += [[_round(v * 0.99, 5) if k else None for v, k in zip(result, ok)],
                               [_round(v * 1.01, 5) if k else None for v, k in zip(result, ok)],
                               [_round(v * 0.995, 5) if k else None for v, k in zip(result, ok)],
                               [_round(v * 1.005, 5) if k else None for v, k in zip(result, ok)],
                               [1 if k else None for k in ok],
                               [10 if k else None for k in ok]]
                results[entry["name"]] = record
            data = {"commit_hash": commit, "env_name": ENV_NAME, "date": dates[i], "params": params,
                    "python": "3.11", "requirements": {}, "env_vars": {}, "result_columns": RESULT_COLUMNS,
                    "results": results, "durations": {}, "version": 2}
            with open(os.path.join(mfolder, f"{commit[:8]}-{ENV_NAME}.json"), "w", encoding="utf-8") as stream:
                json.dump(data, stream, separators=(",", ":"))
    if labels_path:
        with open(labels_path, "w", encoding="utf-8") as stream:
            json.dump([{"machine": k[0], "benchmark": k[1], "params": list(k[2]),
                        "changes": [asdict(c) for c in v]} for k, v in labels.items()], stream)
    return labels


if __name__ == "__main__":
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="asv results folder to write")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--labels", help="also write the true change points here (JSON)")
    args = parser.parse_args()
    started = time.perf_counter()
    truth = write_asv_results(args.folder, n_commits=args.commits, n_series=args.series, n_machines=args.machines,
                              seed=args.seed, labels_path=args.labels)
    print(f"wrote {args.folder}: {args.machines} machines x {args.series} series x {args.commits} commits, "
          f"{sum(len(v) for v in truth.values())} true changes, {time.perf_counter() - started:.1f} s")
