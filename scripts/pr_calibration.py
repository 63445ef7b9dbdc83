"""Calibrate the pull-request verdict for real: this project's own suite, run by asv, on identical code and
on slowdowns of known size, judged by the old statistics and the new, side by side.

A scratch git repository gets this checkout (src, benchmarks, asv.conf.json, pyproject.toml, README.md)
as its base commit, then:

- ``same``: a commit that changes no code (A/A);
- ``slow-N%``: commits whose force calls are N % slower: on the CPU each ``TorchLennardJones.calculate``
  busy-waits N % of its own duration after it; with ``--gpu-sleep-us`` the GPU is kept busy that many
  microseconds more per call (``torch.cuda._sleep``, queued after the force kernels: nothing synchronises);
- ``gpu-N%`` (``--gpu-fractions``): on a GPU, each force call is made N % longer in wall time by GPU work:
  the call is synchronised, timed, and a ``torch.cuda._sleep`` of N % of that time follows it, synchronised
  too. The sleep's cycles per microsecond are measured once with CUDA events (the SM clock under load, not
  the datasheet's), so the added time is known. A fixed ``--gpu-sleep-us`` is not a slowdown of known size:
  queued behind a host-bound step it stalls the next synchronisation and the launches behind it (150 us of
  sleep moved the 64-atom LJ step by +30 to +51 % on an H200).

Each head is judged against the base by

- **new**: ``machmeter run-pr --base base --head <head> --rounds R --confirm-rounds C`` (runs alternated,
  one number per run, confirmation of what is flagged), this checkout's machmeter;
- **old**: ``machmeter check --base base --head <head>`` of the machmeter before the verdicts rested on
  runs (``--old-src``, default a worktree of ``OLD_COMMIT``), on the newest run of each side: one asv run a
  side, the samples inside it pooled, as ``asv continuous`` does.

It prints false regressions per 1,000 series of the A/A comparisons, the share of the slowed heads' time
series flagged (the share of series that the slowdown moved by at least half its size, measured by the
runs' medians, is printed beside it: a 5 % slower force call moves an MD step by less), and the wall time
of the PR job (new) against one asv run of each side (old).

    python scripts/pr_calibration.py --bench md_lennard_jones --aa 2 --sizes 0.05,0.10     # CPU, ~20 min
    python scripts/pr_calibration.py --gpu-sleep-us 50,250 --bench md_lennard_jones         # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MACHINE = "calibration"
OLD_COMMIT = "a350012"  # the last commit whose PR verdict tested pooled within-run samples
SLOWDOWN = '''

# --- injected by scripts/pr_calibration.py: every force call {what}
import time as _calibration_time

_calibration_calculate = TorchLennardJones.calculate


def _calibration_slowed(self, *args, **kwargs):
    started = _calibration_time.perf_counter()
    _calibration_calculate(self, *args, **kwargs)
    {body}


TorchLennardJones.calculate = _calibration_slowed
'''
CPU_BODY = '''until = _calibration_time.perf_counter() + {fraction!r} * (_calibration_time.perf_counter() - started)
    while _calibration_time.perf_counter() < until:
        pass'''
GPU_BODY = '''if torch.cuda.is_available() and str(getattr(self, "device", "")).startswith("cuda"):
        torch.cuda._sleep(int({us!r} * _calibration_cycles_per_us()))'''
GPU_FRACTION_BODY = '''if torch.cuda.is_available() and str(getattr(self, "device", "")).startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda._sleep(int({fraction!r} * (_calibration_time.perf_counter() - started) * 1e6
                              * _calibration_cycles_per_us()))
        torch.cuda.synchronize()'''
GPU_HELPER = '''

_calibration_cycles = []


def _calibration_cycles_per_us():
    # measured, not the datasheet clock: the SM clock the sleep runs at is the one under load
    if not _calibration_cycles:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(1_000_000)
        start.record()
        torch.cuda._sleep(10_000_000)
        end.record()
        end.synchronize()
        _calibration_cycles.append(10_000_000 / (start.elapsed_time(end) * 1000.0))
    return _calibration_cycles[0]
'''


def git(repo: str, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "calibration", "GIT_AUTHOR_EMAIL": "c@localhost",
           "GIT_COMMITTER_NAME": "calibration", "GIT_COMMITTER_EMAIL": "c@localhost"}
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout.strip()


SMALL_SUITE = '''

# --- injected by scripts/pr_calibration.py --small: one combination, short trajectories (an asv run of
# this file costs under a minute instead of two on an H200: a device call is 10 minutes)
LennardJonesArgon.params = ([64], ["auto"], ["float32"])
LennardJonesArgon.long_trajectory_steps = 200
'''


def make_repository(work: str, sizes: list[float], gpu_sleeps: list[float], aa: int,
                    small: bool = False, gpu_fractions: list[float] = ()) -> dict[str, str]:
    """The scratch repository: base, ``aa`` identical commits, one slowed commit per size. Returns
    {label: full hash}."""
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    for name in ("src", "benchmarks"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(repo, name),
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("asv.conf.json", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), repo)
    # the project's own [tool.machmeter] settings (targets, ...) are not what is calibrated, and an older
    # machmeter refuses settings it does not know: the scratch project keeps the defaults
    with open(os.path.join(repo, "pyproject.toml")) as stream:
        kept = [block for block in re.split(r"(?m)^(?=\[)", stream.read()) if not block.startswith(("[tool.machmeter",
                                                                                                     "[[tool.machmeter"))]
    with open(os.path.join(repo, "pyproject.toml"), "w") as stream:
        stream.write("".join(kept))
    if small:
        with open(os.path.join(repo, "benchmarks", "md_lennard_jones.py"), "a") as stream:
            stream.write(SMALL_SUITE)
    with open(os.path.join(repo, ".gitignore"), "w") as stream:
        stream.write(".asv/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    commits = {"base": git(repo, "rev-parse", "HEAD")}
    lj = os.path.join(repo, "src", "machmeter", "workloads", "lj.py")
    original = open(lj).read()
    for k in range(aa):
        # identical code, a new commit (asv measures commits): a note in the README
        git(repo, "checkout", "-q", commits["base"])
        with open(os.path.join(repo, "README.md"), "a") as stream:
            stream.write(f"\n<!-- A/A {k} -->\n")
        git(repo, "commit", "-qam", f"same {k}")
        commits[f"same-{k}"] = git(repo, "rev-parse", "HEAD")
        git(repo, "branch", f"same-{k}")
    heads = [(f"slow-{size:.0%}", SLOWDOWN.format(what=f"{size:.0%} slower (busy-wait)",
                                                  body=CPU_BODY.format(fraction=size))) for size in sizes]
    heads += [(f"sleep-{us:g}us", GPU_HELPER + SLOWDOWN.format(what=f"{us:g} us more on the GPU",
                                                               body=GPU_BODY.format(us=us))) for us in gpu_sleeps]
    heads += [(f"gpu-{size:.0%}", GPU_HELPER + SLOWDOWN.format(what=f"{size:.0%} longer on the GPU (synchronised sleep)",
                                                               body=GPU_FRACTION_BODY.format(fraction=size)))
              for size in gpu_fractions]
    for label, patch in heads:
        git(repo, "checkout", "-q", commits["base"])
        with open(lj, "w") as stream:
            stream.write(original + patch)
        git(repo, "commit", "-qam", label)
        commits[label] = git(repo, "rev-parse", "HEAD")
        git(repo, "branch", label.replace("%", "pct"))
    git(repo, "checkout", "-q", commits["base"])
    return commits


def _machmeter(src: str | None, *args: str, cwd: str, env: dict) -> subprocess.CompletedProcess:
    run_env = dict(env)
    if src:
        run_env["PYTHONPATH"] = src + os.pathsep + run_env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "machmeter", *args], cwd=cwd, env=run_env, capture_output=True,
                          text=True)


def _time_series(report: dict, group: str) -> list[dict]:
    return [c for c in report[group] if c["kind"] in ("time", "throughput")]


def judge(repo: str, env: dict, base: str, head: str, args, old_src: str) -> dict:
    """One head against the base, new statistics then old; the counts and costs."""
    started = time.perf_counter()
    new = _machmeter(None, "run-pr", "--machine", MACHINE, "--base", base, "--head", head, "--rounds", str(args.rounds),
                     "--confirm-rounds", str(args.confirm_rounds), "--format", "json",
                     *[f"--bench={b}" for b in args.bench], *(["--quick"] if args.quick else []), cwd=repo, env=env)
    seconds = time.perf_counter() - started
    if new.returncode not in (0, 1):
        raise SystemExit(f"run-pr failed ({new.returncode}): {new.stderr.strip()[-2000:]}")
    new_report = json.loads(new.stdout)
    # "machmeter run-pr: 6 asv runs in 123 s; confirmation ...": the first rounds' cost, per asv run
    cost = next((line for line in new.stderr.splitlines() if " asv runs in " in line), "")
    words = cost.split("run-pr: ", 1)[-1].split()
    round_seconds = [float(words[4]) / int(words[0])] if len(words) > 4 and words[0].isdigit() else []
    old = _machmeter(old_src, "check", "--machine", MACHINE, "--base", base, "--head", head, "--format", "json",
                     cwd=repo, env=env)
    if old.returncode not in (0, 1):
        raise SystemExit(f"old check failed ({old.returncode}): {old.stderr.strip()[-2000:]}")
    old_report = json.loads(old.stdout)
    return {"new": new_report, "old": old_report, "seconds": seconds, "rounds": round_seconds, "cost": cost}


def time_moves(repo: str, machine: str, base: str, head: str) -> list[float]:
    """Each time series' move from base to head: the head runs' median over the base runs' median, less 1."""
    if "machmeter" not in sys.modules:
        sys.path.append(os.path.join(ROOT, "src"))
    from machmeter.config import MachmeterConfig
    from machmeter.results import load_results
    from machmeter.series import build_series

    results = load_results(os.path.join(repo, ".asv", "results"), commits=[base, head])
    moves = []
    for series in build_series(results, [base, head], MachmeterConfig(), machine):
        if series.meaning.kind != "time":
            continue
        points = {p.commit: p for p in series.points or ()}
        if base not in points or head not in points:
            continue
        runs = [[v for v in (points[c].runs or [points[c].value]) if v is not None and v == v] for c in (base, head)]
        if all(runs):
            moves.append(statistics.median(runs[1]) / statistics.median(runs[0]) - 1)
    return moves


def moved_series(repo: str, machine: str, base: str, head: str, size: float) -> tuple[int, int]:
    """(time series whose runs' median moved by at least half of ``size``, time series measured)."""
    moves = time_moves(repo, machine, base, head)
    return sum(move >= size / 2 for move in moves), len(moves)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", action="append", default=[], help="benchmarks (regex, repeatable; default all)")
    parser.add_argument("--aa", type=int, default=2, help="A/A comparisons (identical commits)")
    parser.add_argument("--sizes", default="0.02,0.05,0.10", help="CPU busy-wait slowdowns of each force call")
    parser.add_argument("--gpu-sleep-us", default="", help="GPU: microseconds of torch.cuda._sleep per force call")
    parser.add_argument("--gpu-fractions", default="",
                        help="GPU: force calls this much longer in wall time by a synchronised sleep (e.g. 0.02,0.05)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--confirm-rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="asv --quick (one sample per benchmark and run)")
    parser.add_argument("--old-src", help=f"src of the old machmeter (default: a worktree of {OLD_COMMIT})")
    parser.add_argument("--small", action="store_true",
                        help="md_lennard_jones on one combination (64 atoms, float32) with shorter trajectories")
    parser.add_argument("--keep", help="keep the scratch repository here")
    parser.add_argument("--reports", help="write each head's new verdict (run-pr's JSON report) here as <head>.json")
    args = parser.parse_args(argv)
    gpu_fractions = [float(s) for s in args.gpu_fractions.split(",") if s]
    sizes = [float(s) for s in args.sizes.split(",") if s] if not (args.gpu_sleep_us or gpu_fractions) else []
    sleeps = [float(s) for s in args.gpu_sleep_us.split(",") if s]

    work = args.keep or tempfile.mkdtemp(prefix="machmeter-calibration-")
    # absolute: the old machmeter runs with the scratch repository as its working directory, where a
    # relative PYTHONPATH names nothing and the installed (new) machmeter would judge both columns
    old_src = os.path.abspath(args.old_src) if args.old_src else None
    if old_src is None:
        old_tree = os.path.join(work, "old")
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "-q", "--detach", old_tree, OLD_COMMIT], check=True)
        old_src = os.path.join(old_tree, "src")
    commits = make_repository(work, sizes, sleeps, args.aa, args.small, gpu_fractions)
    repo = os.path.join(work, "repo")
    env = {**os.environ, "HOME": os.path.join(work, "home"), "PYTHONUNBUFFERED": "1"}
    os.makedirs(env["HOME"], exist_ok=True)
    machine = MACHINE
    recorded = _machmeter(None, "machine", "--machine", machine, cwd=repo, env=env)
    if recorded.returncode:
        raise SystemExit(recorded.stderr)
    print(f"scratch repository {repo}; old statistics from {old_src}; rounds {args.rounds}, confirm "
          f"{args.confirm_rounds}, bench {args.bench or 'all'}{', --quick' if args.quick else ''}", flush=True)

    rows = []
    for label, head in commits.items():
        if label == "base":
            continue
        outcome = judge(repo, env, commits["base"], head, args, old_src)
        row = {"label": label, "seconds": outcome["seconds"], "rounds": outcome["rounds"], "cost": outcome["cost"]}
        for name in ("old", "new"):
            report = outcome[name]
            row[name] = {"series": report["summary"]["series_checked"],
                         "time_series": len({(c["benchmark"], json.dumps(c["params"])) for g in
                                             ("regressions", "improvements", "inconclusive") for c in report.get(g, [])
                                             if c["kind"] == "time"}),
                         "regressions": len(report["regressions"]),
                         "time_regressions": len(_time_series(report, "regressions")),
                         # the noise-free counters (kernels, syncs, copies, aten ops per call): exact
                         "count_regressions": len([c for c in report["regressions"] if c["kind"] == "count"]),
                         "inconclusive": len(report.get("inconclusive", []))}
        if label.startswith(("slow", "sleep", "gpu")):
            size = float(label.split("-")[1].rstrip("%us")) / (1 if label.startswith("sleep") else 100)
            row["moved"] = moved_series(repo, machine, commits["base"], head, 0.02 if label.startswith("sleep") else size)
            row["time_moves"] = time_moves(repo, machine, commits["base"], head)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.reports:
            os.makedirs(args.reports, exist_ok=True)
            with open(os.path.join(args.reports, f"{label.replace('%', 'pct')}.json"), "w") as stream:
                json.dump(outcome["new"], stream, indent=1)

    print("\nverdicts (old: one run a side, pooled samples; new: run-pr, runs alternated and confirmed)")
    print(f"{'head':>12} {'series':>7} {'old FAIL':>9} {'old regr':>9} {'new FAIL':>9} {'new regr':>9} "
          f"{'new inconcl':>11} {'new time':>9} {'new count':>9} {'time moved (median)':>20} {'PR job s':>9} {'1 run/side s':>13}")
    for row in rows:
        one_round = statistics.median(row["rounds"]) if row["rounds"] else float("nan")
        moved = f"{row['moved'][0]}/{row['moved'][1]}" if "moved" in row else ""
        if row.get("time_moves"):
            moved += f" ({statistics.median(row['time_moves']):+.1%})"
        print(f"{row['label']:>12} {row['new']['series']:>7} {'FAIL' if row['old']['regressions'] else 'ok':>9} "
              f"{row['old']['regressions']:>9} {'FAIL' if row['new']['regressions'] else 'ok':>9} "
              f"{row['new']['regressions']:>9} {row['new']['inconclusive']:>11} {row['new']['time_regressions']:>9} "
              f"{row['new']['count_regressions']:>9} {moved:>20} "
              f"{row['seconds']:>9.0f} {2 * one_round:>13.0f}")
    aa = [r for r in rows if r["label"].startswith("same")]
    if aa:
        series = sum(r["new"]["series"] for r in aa)
        print(f"\nA/A: false regressions per 1,000 series: old {1000 * sum(r['old']['regressions'] for r in aa) / series:.1f}, "
              f"new {1000 * sum(r['new']['regressions'] for r in aa) / series:.1f} ({series} series, {len(aa)} comparisons)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
