"""Environment shifts: history changes that the runner made, not the code, reported once and not failing.

A runner that changes under a history (a new driver, another GPU, one Python version rebuilt, a commit
benchmarked months after its parent) moves many series at one commit. Reported one by one they bury the
real regressions (on a real public history, 55% of the reported changes sat on 19 such commits), and
they fail the check for something no commit did.

A commit's changes on one machine are one environment shift when the runs say that something other than
the code changed between the two commits (``evidence_for``):

- the fingerprint stored with the two runs differs (GPU, driver, CUDA, torch, CPU, Python...);
- the two runs were made far apart in time (at least ``GAP_DAYS`` and ``GAP_FACTOR`` times the machine's
  usual gap between consecutive runs);
- many series moved together (``SHARED_MIN_SERIES``, ``SHARED_FRACTION`` of the machine's) and the same
  series in the machine's other environments, or on other machines, measured the same two commits
  without moving.

The same change seen by most of those other environments or machines is the code's, whatever else
changed: it stays a regression. Many series moving together with none of this evidence stay regressions
too, each saying how many moved with it: a commit that slows a kernel every benchmark calls looks exactly
like that, and it must fail.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from machmeter.fingerprint import GPU_FIELDS, HOST_FIELDS, fingerprint_differences

SHARED_MIN_SERIES = 5
SHARED_FRACTION = 0.2
GAP_DAYS = 14
GAP_FACTOR = 10
DAY_MS = 86_400_000
# Of the counterparts (same series, other environment or machine) measured at both commits: at most this
# share moved -> the change is this environment's; at least COUNTERPART_MOVED -> it is the code's.
COUNTERPART_STILL = 0.2
COUNTERPART_MOVED = 0.5
COUNTERPART_MIN = 3
# Run parameters that identify rather than describe the machine: never evidence of a change.
_IDENTITY_KEYS = {"machine", "version"}
# commits between a change and a shift of its machine within which the change is part of the shift
SHIFT_NEIGHBOURHOOD = 2


@dataclass
class EnvironmentShift:
    """The changes of many series (or of a changed runner) at one commit of one machine, as one event."""

    machine: str
    env_names: list[str]
    commit: str                       # first commit at the new level
    commit_range: tuple[str, str]
    series_count: int                 # series that moved
    series_total: int                 # series of the machine that were checked
    regressions: int
    improvements: int
    median_change: float              # median relative change of the series that moved
    evidence: list[str]               # why this is the environment's, in words
    fingerprint_difference: list[tuple[str, str, str]] = field(default_factory=list)  # (field, before, after)
    changes: list = field(default_factory=list, repr=False)  # the folded Change records

    @property
    def series_keys(self) -> set[tuple]:
        return {(c.benchmark, tuple(c.params.items()), c.machine, c.env_name) for c in self.changes}

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("changes")
        data["commit_range"] = list(self.commit_range)
        data["fingerprint_difference"] = [list(d) for d in self.fingerprint_difference]
        data["series"] = [{"benchmark": c.benchmark, "params": c.params, "env_name": c.env_name,
                           "change": c.change, "direction": c.direction} for c in self.changes]
        return data


def run_differences(before: dict, after: dict) -> list[tuple[str, str, str]]:
    """(field, before, after) of what differs between two runs' stored parameters: the fingerprint's
    fields by their labels, then any other parameter both runs stored (python, ...) by its name."""
    differences = fingerprint_differences(before, after)
    known = {key for key, _, _ in GPU_FIELDS + HOST_FIELDS} | _IDENTITY_KEYS
    for key in sorted(set(before) & set(after) - known):
        old, new = before.get(key), after.get(key)
        if old not in (None, "") and new not in (None, "") and str(old) != str(new):
            differences.append((key, str(old), str(new)))
    return differences


def _usual_gaps(runs: dict, commit_order: list[str]) -> dict[tuple[str, str], float]:
    """(machine, env) -> the median time between consecutive runs in commit order (ms)."""
    rank = {c: i for i, c in enumerate(commit_order)}
    started: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for (machine, env, commit), record in runs.items():
        if record.started_at is not None and commit in rank:
            started[(machine, env)].append((rank[commit], record.started_at))
    gaps = {}
    for key, points in started.items():
        points.sort()
        differences = [abs(b[1] - a[1]) for a, b in zip(points, points[1:])]
        if differences:
            gaps[key] = statistics.median(differences)
    return gaps


def _counterparts(group: list, by_benchmark: dict, moved: set, machine: str, env_names: set,
                  before: str, after: str, index_of) -> tuple[list, list]:
    """(measured, moved) counterparts of a group: the same benchmark and params in another environment of
    the machine or on another machine, measured at both commits; moved = with a change at ``after``."""
    measured, moving = [], []
    for change in group:
        for series in by_benchmark.get((change.benchmark, tuple(change.params.items())), ()):
            key = series.key
            if key.machine == machine and key.env_name in env_names:
                continue
            at = [index_of(series, c) for c in (before, after)]
            if None in at or not all(_measured(series.values[i]) for i in at):
                continue
            measured.append((key, change))
            if (key.benchmark, key.params, key.machine, key.env_name, after, change.direction) in moved:
                moving.append((key, change))
    return measured, moving


def _measured(value) -> bool:
    return value is not None and value == value


def fold_environment_shifts(changes: list, series_list: list, runs: dict, commit_order: list[str],
                            other_changes: list = ()) -> tuple[list, list[EnvironmentShift]]:
    """(changes that stay, environment shifts): ``changes`` (one history's regressions and improvements)
    with those that the evidence puts on the environment folded into one EnvironmentShift per machine and
    commit. ``other_changes`` (inconclusive ones) count as movement of counterparts but are never folded."""
    by_benchmark: dict[tuple, list] = defaultdict(list)
    series_per_machine: dict[str, int] = defaultdict(int)
    for series in series_list:
        by_benchmark[(series.key.benchmark, series.key.params)].append(series)
        series_per_machine[series.key.machine] += 1
    moved = {(c.benchmark, tuple(c.params.items()), c.machine, c.env_name, c.commit, c.direction)
             for c in list(changes) + list(other_changes)}
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for change in changes:
        groups[(change.machine, change.commit)].append(change)
    usual_gaps = _usual_gaps(runs, commit_order) if runs else {}
    rank = {c: i for i, c in enumerate(commit_order)}
    positions: dict[int, dict[str, int]] = {}  # a series' commit -> index, built once per series

    def index_of(series, commit: str) -> int | None:
        """Where ``commit`` is in the series (None: not measured there). A series measured at every
        commit has each at its place in the history: seen at once, without a dict of the series'
        commits (thousands of them, for each of hundreds of counterparts)."""
        at = rank.get(commit)
        if at is not None and at < len(series.commits) and series.commits[at] == commit:
            return at
        if id(series) not in positions:
            positions[id(series)] = {c: i for i, c in enumerate(series.commits)}
        return positions[id(series)].get(commit)

    kept, shifts = [], []
    for (machine, commit), group in groups.items():
        before = statistics.mode(c.commit_range[0] for c in group)
        env_names = sorted({c.env_name for c in group})
        shared = len(group) >= max(SHARED_MIN_SERIES, SHARED_FRACTION * series_per_machine[machine])
        measured, moving = _counterparts(group, by_benchmark, moved, machine, set(env_names), before, commit,
                                         index_of)
        if len(measured) >= COUNTERPART_MIN and len(moving) >= COUNTERPART_MOVED * len(measured):
            kept += group  # the same change elsewhere: the code's
            continue
        evidence, differences = [], []
        for env in env_names:
            old, new = runs.get((machine, env, before)), runs.get((machine, env, commit))
            if old is None or new is None:
                continue
            for difference in run_differences(old.params, new.params):
                if difference not in differences:
                    differences.append(difference)
            usual = usual_gaps.get((machine, env))
            if old.started_at is not None and new.started_at is not None and usual is not None:
                gap = abs(new.started_at - old.started_at)
                if gap >= GAP_DAYS * DAY_MS and gap >= GAP_FACTOR * usual:
                    days = gap / DAY_MS
                    usual_text = f"{usual / DAY_MS:.1f} days" if usual >= DAY_MS else f"{usual / 3_600_000:.1f} h"
                    evidence.append(f"{env}: its runs of the two commits are {days:.0f} days apart "
                                    f"(usually {usual_text})")
        if differences:
            evidence.insert(0, "the runner changed: " + ", ".join(f"{f} {a} -> {b}" for f, a, b in differences))
        if shared and len(measured) >= max(COUNTERPART_MIN, len(group) // 2) \
                and len(moving) <= COUNTERPART_STILL * len(measured):
            evidence.append(f"{len(measured) - len(moving)} of {len(measured)} of the same series in other "
                            "environments or machines measured these commits and did not move")
        if not evidence:
            if shared:
                for change in group:
                    change.reason = ((change.reason + "; ") if change.reason else "") + (
                        f"one of {len(group)} series of {machine} that moved at this commit, with no sign "
                        "of a runner change (same fingerprint, no gap in run dates): judged as the code's")
            kept += group
            continue
        shifts.append(EnvironmentShift(
            machine=machine, env_names=env_names, commit=commit, commit_range=(before, commit),
            series_count=len(group), series_total=series_per_machine[machine],
            regressions=sum(c.direction == "regression" for c in group),
            improvements=sum(c.direction == "improvement" for c in group),
            median_change=statistics.median(c.change for c in group), evidence=evidence,
            fingerprint_difference=differences, changes=sorted(group, key=lambda c: -abs(c.change))))
    kept = _join_neighbours(kept, shifts, rank)
    shifts.sort(key=lambda s: (s.machine, rank.get(s.commit, -1)))
    return kept, shifts


def _join_neighbours(kept: list, shifts: list[EnvironmentShift], rank: dict[str, int]) -> list:
    """Changes a commit or two beside a shift of their machine, in its direction, are that shift: a noisy
    series' change point is placed within a few commits of where its level moved. Returns those left."""
    left = []
    for change in kept:
        position = rank.get(change.commit)
        shift = next((s for s in shifts if s.machine == change.machine and position is not None
                      and s.commit in rank and abs(rank[s.commit] - position) <= SHIFT_NEIGHBOURHOOD
                      and (change.change > 0) == (s.median_change > 0)
                      and change.env_name in s.env_names), None)
        if shift is None:
            left.append(change)
            continue
        shift.changes.append(change)
        shift.series_count += 1
        shift.regressions += change.direction == "regression"
        shift.improvements += change.direction == "improvement"
    return left
