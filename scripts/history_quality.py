"""What ``machmeter check --history`` gets right on labelled asv results folders, end to end.

Writes labelled results folders (``scripts/synthetic_history.write_asv_results``) and checks them with
the machmeter on the path, in-process, as ``check --history`` does (read_history, then check_history),
then scores what the check reports against the truth:

- ``plain``: the generator's GPU-like noise (spikes, boost-clock bimodality);
- ``run-level``: timings with run-level noise too (sticky two-state flips, process-to-process offsets)
  and ``--shifts`` runner changes (the driver in the stored fingerprint changes; 30-80 % of a machine's
  timings move by one common factor), which are not changes of the code.

Scores: a reported regression or improvement matching a true change (same series, same direction,
+-3 commits) is a true positive; any other is a false positive, those at a runner change counted apart
(``FP shift``); true changes not reported are false negatives. F1 over all changes and over changes of
5 % and more; ``shifts``: runner changes reported as one environment shift (same machine, +-1 commit).
Changes reported as inconclusive do not fail the check and are not counted as reported.

Side by side with an older machmeter: run it once more with that version's ``src`` first on the path,

    python scripts/history_quality.py                         # this checkout
    git worktree add /tmp/old 65a7258 && PYTHONPATH=/tmp/old/src python scripts/history_quality.py
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)  # after PYTHONPATH: an older machmeter's src there wins

import machmeter  # noqa: E402
from machmeter.config import MachmeterConfig  # noqa: E402
from machmeter.detect import engine  # noqa: E402
from machmeter.history import read_history  # noqa: E402
from scripts.synthetic_history import write_asv_results  # noqa: E402

TOLERANCE = 3


def _check(folder: str):
    history = read_history(folder, None, MachmeterConfig())
    if "runs" in inspect.signature(engine.check_history).parameters:
        return engine.check_history(history.series, MachmeterConfig(), [], history.runs, history.commits), history
    return engine.check_history(history.series, MachmeterConfig(), []), history


def score(report, history, truth: dict, shifts: list) -> dict:
    position = {c: i for i, c in enumerate(history.commits)}
    reported: dict[tuple, list] = {}
    for change in report.regressions + report.improvements:
        key = (change.machine, change.benchmark, tuple(change.params.values()))
        reported.setdefault(key, []).append((position[change.commit], change.change))
    at_shift = {(s.machine, name, combo): s.index for s in shifts for name, combo in s.series}
    counts = {"TP": 0, "FP": 0, "FN": 0, "FP shift": 0, "TP5": 0, "FP5": 0, "FN5": 0}
    for key in set(truth) | set(reported):
        true = list(truth.get(key, []))
        found = sorted(reported.get(key, []))
        used = set()
        for index, change in found:
            match = next((j for j, t in enumerate(true) if j not in used and abs(t.index - index) <= TOLERANCE
                          and (t.relative_change > 0) == (change > 0)), None)
            if match is not None:
                used.add(match)
                counts["TP"] += 1
                counts["TP5"] += abs(true[match].relative_change) >= 0.05
            else:
                counts["FP"] += 1
                counts["FP5"] += abs(change) >= 0.05
                shift_index = at_shift.get(key)
                counts["FP shift"] += shift_index is not None and abs(shift_index - index) <= TOLERANCE
        for j, t in enumerate(true):
            if j not in used:
                counts["FN"] += 1
                counts["FN5"] += t.magnitude >= 0.05
    for suffix in ("", "5"):
        tp, fp, fn = counts["TP" + suffix], counts["FP" + suffix], counts["FN" + suffix]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        counts["P" + suffix], counts["R" + suffix] = precision, recall
        counts["F1" + suffix] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    found_shifts = getattr(report, "environment_shifts", [])
    counts["shifts"] = f"{sum(any(f.machine == s.machine and abs(position[f.commit] - s.index) <= 1 for f in found_shifts) for s in shifts)}/{len(shifts)}"
    counts["failed"] = report.failed
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=400)
    parser.add_argument("--series", type=int, default=72)
    parser.add_argument("--machines", type=int, default=3)
    parser.add_argument("--shifts", type=int, default=4, help="runner changes in the run-level set")
    parser.add_argument("--seeds", default="1,2,3")
    args = parser.parse_args(argv)
    print(f"machmeter {machmeter.__version__} from {os.path.dirname(machmeter.__file__)}")
    print(f"{args.machines} machines x {args.series} series x {args.commits} commits per folder, seeds {args.seeds}; "
          f"match: same series and direction, +-{TOLERANCE} commits")
    header = ["set", "seed", "F1", "P", "R", "F1>=5%", "TP", "FP", "FP shift", "FN", "shifts", "fails", "s"]
    print("  ".join(f"{h:>8}" for h in header))
    for name, run_level, n_shifts in (("plain", False, 0), ("run-level", True, args.shifts)):
        for seed in (int(s) for s in args.seeds.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                shifts: list = []
                truth = write_asv_results(folder, n_commits=args.commits, n_series=args.series,
                                          n_machines=args.machines, seed=seed, run_level=run_level,
                                          environment_shifts=n_shifts, shifts=shifts)
                started = time.perf_counter()
                report, history = _check(folder)
                seconds = time.perf_counter() - started
                c = score(report, history, truth, shifts)
            cells = [name, seed, f"{c['F1']:.3f}", f"{c['P']:.3f}", f"{c['R']:.3f}", f"{c['F1' + '5']:.3f}", c["TP"],
                     c["FP"], c["FP shift"], c["FN"], c["shifts"], "FAIL" if c["failed"] else "ok", f"{seconds:.1f}"]
            print("  ".join(f"{str(v):>8}" for v in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
