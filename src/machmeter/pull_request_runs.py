"""A pull request measured the way its verdict needs: base and head run several times, alternated, each
run kept apart, and the flagged benchmarks measured again before the verdict is final.

Why: the verdict rests on how runs of the same code differ (:mod:`machmeter.detect.runs`), and one run a
side cannot show that. Runs alternate (base, head, head, base, ...) so that a machine drifting over the
job (clocks warming, another tenant arriving) weighs on both sides alike. After every ``asv run`` the
result file asv wrote is copied into the commit's run archive (:func:`machmeter.results.archive_run`),
keeping only the benchmarks that this ``asv run`` measured; asv's own file stays what asv wrote, so
``asv compare`` and ``asv publish`` keep working.

Confirmation: a regression found in the first rounds is measured again (only those benchmarks, base and
head alternated, ``confirm_rounds`` more rounds) and the comparison is made once more on all runs; only
what survives fails the job. Its cost is reported, as seconds and as a multiple of one run a side (what
``asv continuous`` costs for the same selection, estimated from the first rounds). ``max_cost`` caps that
multiple: a pull-request job that measures two rounds a side already costs about 2x, and on a GPU a
confirmation round of one suite costs nearly as much as a first round (its ``setup_cache`` measures the
whole class), so further rounds stop once the next would take the job past the cap. The first
confirmation round always runs: no regression fails the job unconfirmed. Those runs also keep their
profiled window's Chrome trace and top-kernels table (``MACHMETER_TRACE_DIR``, unless the caller set it, pointed at
``traces/<machine>`` beside the results folder): the report links them and the explanations name kernels.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field

from machmeter.asv_run import bench_pattern
from machmeter.errors import MachmeterError


@dataclass
class RoundLog:
    commit: str
    round: int
    seconds: float
    status: int
    benchmarks: list[str] | None  # None: the whole selection


@dataclass
class PullRequestRuns:
    base: str
    head: str
    rounds: list[RoundLog] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)  # benchmarks measured again
    confirm_rounds_stopped: tuple[int, int] | None = None  # (run, asked) when the cost cap stopped them
    max_cost: float | None = None

    def seconds(self, confirmation: bool | None = None) -> float:
        return sum(r.seconds for r in self.rounds if confirmation is None or (r.benchmarks is not None) == confirmation)

    def one_run_a_side(self) -> float | None:
        """Seconds of one base run and one head run of the whole selection: ``asv continuous``'s cost."""
        first_runs = sum(r.benchmarks is None for r in self.rounds)
        return 2.0 * self.seconds(False) / first_runs if first_runs else None

    def next_confirmation_passes_cap(self) -> bool:
        """Would one more confirmation round (a base and a head run, priced as the mean of those run so
        far) take the job past ``max_cost`` times one run a side?"""
        unit = self.one_run_a_side()
        confirmation_runs = sum(r.benchmarks is not None for r in self.rounds)
        if self.max_cost is None or not unit or not confirmation_runs:
            return False
        next_round = 2.0 * self.seconds(True) / confirmation_runs
        return self.seconds() + next_round > self.max_cost * unit

    def cost_multiple(self) -> float | None:
        unit = self.one_run_a_side()
        return self.seconds() / unit if unit else None

    def cost(self) -> str:
        first = sum(r.benchmarks is None for r in self.rounds)
        line = f"{first} asv runs in {self.seconds(False):.0f} s"
        if self.confirmed:
            again = len(self.rounds) - first
            line += (f"; confirmation of {len(self.confirmed)} flagged benchmark(s): {again} asv runs in "
                     f"{self.seconds(True):.0f} s")
            if self.confirm_rounds_stopped:
                done, asked = self.confirm_rounds_stopped
                line += f" ({done} of {asked} rounds: the next would pass --max-cost {self.max_cost:g}x)"
        multiple = self.cost_multiple()
        if multiple is not None:
            line += f"; the job {self.seconds():.0f} s = {multiple:.1f}x one run a side ({self.one_run_a_side():.0f} s)"
        return line


def _measured_commit(repo_path: str | None, revision: str) -> str:
    """The full hash of a revision to check out and measure: measuring needs the repository."""
    from machmeter.repository import commit_hash

    full = commit_hash(repo_path, revision)
    if full is None:
        raise MachmeterError(f"{repo_path}: not a git repository")
    return full


def result_files(results_dir: str, machine: str, commit: str) -> list[str]:
    folder = os.path.join(results_dir, machine)
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if name.endswith(".json") and name != "machine.json" and commit.startswith(name.split("-", 1)[0])]


def measure_round(project, machine: str, commit: str, number: int, bench, quick: bool, extra, run_asv) -> RoundLog:
    """One ``asv run`` of one commit, archived as one run."""
    from machmeter.results import archive_run, run_archive_path

    for path in result_files(project.results_dir, machine, commit):
        # a run recorded before this job (a nightly): keep it as a run rather than let asv overwrite it
        if not os.path.exists(run_archive_path(path)):
            archive_run(path)
    started = time.time()
    status = run_asv(project, [commit], machine, bench, quick, extra, stream=sys.stderr)
    seconds = time.time() - started
    for path in result_files(project.results_dir, machine, commit):
        archive_run(path, since_ms=int(started * 1000) - 1)
    return RoundLog(commit, number, seconds, status, None)


@contextlib.contextmanager
def traces_kept(folder: str):
    """asv's benchmark processes inherit asv's environment, so this reaches the suites' profiled
    windows; a folder the caller chose is left alone."""
    from machmeter.instruments.counters import TRACE_DIR_ENV

    if os.environ.get(TRACE_DIR_ENV):
        yield
        return
    os.environ[TRACE_DIR_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(TRACE_DIR_ENV, None)


def alternated(base: str, head: str, rounds: int) -> list[tuple[int, str]]:
    order = []
    for number in range(1, rounds + 1):
        pair = (base, head) if number % 2 else (head, base)
        order += [(number, commit) for commit in pair]
    return order


def run_pull_request(project, base: str, head: str, machine: str, rounds: int = 3, confirm_rounds: int = 2,
                     bench=(), quick: bool = False, extra=(), run_asv=None, config=None,
                     max_cost: float | None = None):
    """Measure base and head ``rounds`` times each, alternated, compare them, confirm the regressions
    (``confirm_rounds`` more rounds, fewer where the next would take the job past ``max_cost`` times one
    run a side; None: no cap); (the final CheckReport, the PullRequestRuns log)."""
    from machmeter.comparison import compare_revisions
    from machmeter.instruments.counters import results_trace_folder

    if run_asv is None:
        from machmeter.asv_run import run_asv
    if rounds < 1 or confirm_rounds < 0:
        raise MachmeterError("--rounds must be at least 1 and --confirm-rounds at least 0")
    if max_cost is not None and max_cost <= 0:
        raise MachmeterError(f"--max-cost must be positive, not {max_cost:g}")
    base, head = _measured_commit(project.repo, base), _measured_commit(project.repo, head)
    if base == head:
        raise MachmeterError(f"base and head are the same commit ({base[:8]})")
    log = PullRequestRuns(base, head, max_cost=max_cost)
    for number, commit in alternated(base, head, rounds):
        log.rounds.append(measure_round(project, machine, commit, number, bench, quick, extra, run_asv))
    report = compare_revisions(project, base, head, machine, config)
    flagged = sorted({change.benchmark for change in report.regressions})
    if flagged and confirm_rounds:
        log.confirmed = flagged
        only = [bench_pattern(name) for name in flagged]
        order = alternated(head, base, confirm_rounds)  # the head first: it ran last
        with traces_kept(results_trace_folder(project.results_dir, machine)):
            for number in range(1, confirm_rounds + 1):
                if number > 1 and log.next_confirmation_passes_cap():
                    log.confirm_rounds_stopped = (number - 1, confirm_rounds)
                    break
                for _, commit in order[2 * (number - 1):2 * number]:
                    entry = measure_round(project, machine, commit, rounds + number, only, quick, extra, run_asv)
                    entry.benchmarks = flagged
                    log.rounds.append(entry)
        report = compare_revisions(project, base, head, machine, config)
    return report, log
