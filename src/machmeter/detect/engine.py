"""The verdict engine: series in, ``Change`` records out, for a pull request (base vs head) or for the
whole history (change points). Knows nothing of text, Markdown, HTML or GitHub: report/ renders it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from machmeter.config import MachmeterConfig
from machmeter.detect.compare import Observation, became_non_finite, compare, describe_change, policy_for
from machmeter.detect.explain import COUNTER_BENCHMARKS, KERNEL_TIME, KERNEL_TIME_THRESHOLD, explain
from machmeter.detect.noise import MIN_NOISE_RUNS, RunToRunNoise, run_to_run_noise
from machmeter.detect.runs import adjust_p_values, prior_floor, run_evidence
from machmeter.detect.shifts import EnvironmentShift, fold_environment_shifts
from machmeter.targets import TargetVerdict, judge_target, target_for
from machmeter.kinds import BY_THRESHOLD, BY_TOLERANCE, KINDS, beyond_tolerance, meets_threshold, worse, worse_by
from machmeter.series import Series, SeriesKey, is_measured, meaning_warnings, series_label, suite_of
from machmeter.triage import Acknowledgement, acknowledgement_for

REGRESSION, IMPROVEMENT = "regression", "improvement"

# The smallest history change reported unless a benchmark or the config sets a threshold. A history
# is judged on many points, and the detector's false-alarm rate is calibrated (about one noise-only
# series in a thousand), so it can afford a lower floor than a two-sample pull-request comparison:
# on labelled GPU-like histories it finds 84% of 3% steps with 0.2 false alarms per 10,000 commits
# (scripts/changepoint_quality.py).
HISTORY_DEFAULT_FLOOR = 0.02


@dataclass
class Change:
    """One change of one series: what got slower, hungrier or less accurate (or better), where."""

    benchmark: str
    params: dict[str, str]
    machine: str
    env_name: str
    commit: str                      # full hash of the first commit at the new level (head for a PR)
    commit_range: tuple[str, str]    # (last commit measured at the old level, first at the new level)
    before: float
    after: float
    change: float                    # relative: (after - before) / |before|
    direction: str                   # "regression" or "improvement"
    kind: str
    unit: str
    higher_is_better: bool
    confidence: float | None         # 0..1 (1 - p-value where a test gave one)
    method: str
    reason: str = ""
    acknowledged: str | None = None  # the triage file's reason, when acknowledged
    # a time-like change paired with its suite's counters (machmeter.detect.explain), pull requests only
    explanation: str | None = None
    # pull requests: the Chrome traces of the change's suite and parameters, {"base"/"head": path}, where
    # the runs left them (machmeter.comparison.attach_traces)
    traces: dict[str, str] | None = None
    # history mode, regressions: whether the series' level at the end of the history is still worse than
    # before by at least half the change (None: not judged, e.g. a pull request)
    still_open: bool | None = None
    # pull requests judged on runs: the smallest relative change those runs resolve (80% power at the
    # configured confidence; :meth:`machmeter.detect.runs.RunEvidence.detectable`)
    detectable: float | None = None

    @property
    def label(self) -> str:
        return series_label(self.benchmark, self.params)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["commit_range"] = list(self.commit_range)
        return data


@dataclass
class CheckReport:
    mode: str                                    # "revisions" or "history"
    regressions: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    acknowledged: list[Change] = field(default_factory=list)
    # changes beyond the threshold that the runs can neither confirm nor rule out (never a FAIL)
    inconclusive: list[Change] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # series that fail at head
    unchanged: int = 0
    skipped: int = 0
    series_checked: int = 0
    base: str | None = None
    head: str | None = None
    machines: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # history mode: changes the runner made (machmeter.detect.shifts), each one event, never a FAIL
    environment_shifts: list[EnvironmentShift] = field(default_factory=list)
    # each series with an absolute target, its head value against it (machmeter.targets); misses also fail
    targets: list[TargetVerdict] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether the check should fail CI: an unacknowledged regression, or a benchmark failing at head."""
        return bool(self.regressions or self.failures)

    def add(self, change: Change, acknowledgements: list[Acknowledgement]) -> None:
        acknowledgement = acknowledgement_for(acknowledgements, change.benchmark, change.params,
                                              change.machine, change.commit)
        if acknowledgement is not None:
            change.acknowledged = acknowledgement.reason
            self.acknowledged.append(change)
        elif change.direction == REGRESSION:
            self.regressions.append(change)
        else:
            self.improvements.append(change)

    def sort(self) -> None:
        for changes in (self.regressions, self.improvements, self.acknowledged, self.inconclusive):
            changes.sort(key=lambda c: (-abs(c.change), c.machine, c.benchmark))


def _threshold(series: Series, config: MachmeterConfig, default: float | None = None) -> float:
    """The benchmark's declared threshold, else the config's for its kind, else ``default``, else the
    pull-request default for its kind."""
    meaning = series.meaning
    if meaning.threshold is not None:
        return meaning.threshold
    if meaning.kind in config.thresholds:
        return config.thresholds[meaning.kind]
    return default if default is not None else KINDS[meaning.kind].threshold


def series_policy(series: Series, config: MachmeterConfig):
    """The pull-request comparison's policy of a series: its kind, direction, tolerances and threshold."""
    meaning = series.meaning
    return policy_for(meaning.kind, meaning.higher_is_better, threshold=_threshold(series, config),
                      tolerance_abs=meaning.tolerance_abs, tolerance_rel=meaning.tolerance_rel)


def _observation(point) -> Observation | None:
    if point is None:
        return None
    ci = point.ci_99 if point.ci_99 and all(math.isfinite(v) for v in point.ci_99) else None
    return Observation(value=point.value, samples=point.samples, ci_99=ci)


def is_noisy(series: Series) -> bool:
    """Whether the series' values move between runs of the same code (its kind says: machmeter.kinds)."""
    return KINDS[series.meaning.kind].noisy


def run_to_run_noises(history: list[Series]) -> dict[SeriesKey, RunToRunNoise]:
    """Each series' run-to-run noise from its earlier runs (``history``: the recent commits of the
    branch on the same machines, without the two being compared)."""
    noises = {}
    for series in history:
        if not is_noisy(series):
            continue
        noise = run_to_run_noise(series.values)
        if noise is not None:
            noises[series.key] = noise
    return noises


def is_run_tested(series: Series) -> bool:
    """Judged on the runs' evidence (a noisy kind judged by a threshold); counts (exact), accuracy
    (tolerances) and run state keep compare()'s rules."""
    kind = KINDS[series.meaning.kind]
    return kind.noisy and kind.judged_by == BY_THRESHOLD


def count_varies_between_runs(series: Series, before_runs: list[float], after_runs: list[float]) -> bool:
    """Whether an exact kind's runs disagree with each other on one side: a count per call that depends
    on where the profiled window fell (an MD step rebuilds its neighbour list every few steps: 135.6
    kernels per call in one run, 135.3 in the next, on an H200) is judged on its runs like a timing, not
    as an exact fact; a count every run agrees on stays exact."""
    kind = KINDS[series.meaning.kind]
    return (not kind.noisy and kind.judged_by == BY_THRESHOLD
            and (len(set(before_runs)) > 1 or len(set(after_runs)) > 1))


def _run_values(point) -> list[float]:
    """The values of a commit's runs: each archived run (machmeter run-pr), else asv's one value."""
    values = point.runs if point.runs else [point.value]
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def _change_record(series: Series, base: str, head: str, before: float, after: float, change: float,
                   direction: str, confidence: float | None, method: str, reason: str) -> Change:
    return Change(
        benchmark=series.key.benchmark, params=series.key.params_dict, machine=series.key.machine,
        env_name=series.key.env_name, commit=head, commit_range=(base, head), before=before, after=after,
        change=change, direction=direction, kind=series.meaning.kind, unit=series.meaning.unit,
        higher_is_better=series.meaning.higher_is_better, confidence=confidence, method=method, reason=reason)


def check_revisions(series_list: list[Series], base: str, head: str, config: MachmeterConfig,
                    acknowledgements: list[Acknowledgement],
                    noises: dict[SeriesKey, RunToRunNoise] | None = None,
                    no_noise_because: str | None = None, kernels: KernelTables | None = None) -> CheckReport:
    """Compare every series at two commits (full hashes), as a pull request needs; ``kernels``: see
    :func:`explain_changes`.

    Timings, rates, memory and energy are judged on their runs (:mod:`machmeter.detect.runs`): each run
    one number, the run-to-run spread from the pull request's own runs and from ``noises`` (each series'
    noise learnt from the branch's recent runs, :func:`run_to_run_noises`), the p values of the whole
    comparison adjusted together, a change reported at the configured confidence and beyond the kind's
    threshold; without any estimate a change inside the kind's prior is inconclusive. Counts, accuracy and
    run-state series keep :func:`machmeter.detect.compare.compare`'s rules."""
    report = CheckReport(mode="revisions", base=base, head=head, warnings=meaning_warnings(series_list))
    noises = noises or {}
    confidence = config.confidence
    no_noise_because = no_noise_because or f"fewer than {MIN_NOISE_RUNS} earlier runs on their machine"
    tested = []  # (series, evidence, policy) waiting for the comparison-wide adjustment
    prior_only = 0
    for series in series_list:
        by_commit = {p.commit: p for p in series.points or ()}
        before, after = by_commit.get(base), by_commit.get(head)
        if before is None and after is None:
            continue
        report.series_checked += 1
        policy = series_policy(series, config)
        noise = noises.get(series.key) if is_noisy(series) else None
        measured = all(p is not None and is_measured(p.value) for p in (before, after))
        if measured:
            before_runs, after_runs = _run_values(before), _run_values(after)
            if before_runs and after_runs and (is_run_tested(series)
                                               or count_varies_between_runs(series, before_runs, after_runs)):
                evidence = run_evidence(before_runs, after_runs, series.meaning.kind, noise)
                prior_only += evidence.method == "prior"
                tested.append((series, evidence, policy))
                continue
        if noise is not None:
            policy = replace(policy, noise=noise)
        comparison = compare(_observation(before), _observation(after), policy)
        if comparison.verdict in (REGRESSION, IMPROVEMENT):
            report.add(_change_record(series, base, head, comparison.before, comparison.after, comparison.change,
                                      comparison.verdict,
                                      None if comparison.p_value is None else 1.0 - comparison.p_value,
                                      comparison.method, comparison.reason), acknowledgements)
        elif comparison.verdict == "failed":
            report.failures.append({"benchmark": series.key.benchmark, "params": series.key.params_dict,
                                    "machine": series.key.machine, "commit": head, "reason": comparison.reason})
        elif comparison.verdict == "skipped":
            report.skipped += 1
        else:
            report.unchanged += 1

    adjusted = iter(adjust_p_values([e.p_value for _, e, _ in tested if e.p_value is not None]))
    for series, evidence, policy in tested:
        q_value = next(adjusted) if evidence.p_value is not None else None
        _judge_runs(report, series, evidence, q_value, policy, confidence, base, head, acknowledgements)

    if prior_only:
        report.warnings.append(
            f"{prior_only} of {len(tested)} measured series have one run a side and no run-to-run noise estimate "
            f"({no_noise_because}): a change inside the kind's prior (e.g. {prior_floor('time'):.0%} for times) is "
            "inconclusive, not a verdict; measure several runs a side (machmeter run-pr) or keep a history")
    if report.inconclusive:
        worse_count = sum(c.direction == REGRESSION for c in report.inconclusive)
        reach = sorted(c.detectable for c in report.inconclusive if c.detectable is not None)
        resolve = (f" (these runs resolve changes of about {reach[len(reach) // 2]:.0%} and more, the median "
                   "over them: more rounds a side resolve smaller ones)" if reach else "")
        report.warnings.append(
            f"{len(report.inconclusive)} change(s) beyond their threshold are inconclusive ({worse_count} of them worse): "
            f"the runs cannot tell them from run-to-run noise at {confidence:.0%} confidence{resolve}")
    explain_changes(report, series_list, base, head, config, kernels)
    report.sort()
    return report


# what a wall-time change can be paired with counters for: time and rates of a call
EXPLAINED_KINDS = ("time", "throughput")
# (commit, suite class as asv names it, params as asv stores them) -> that side's top-kernel table
# (machmeter.detect.explain.kernel_differences), None where there is none: the tables are files
# (MACHMETER_TRACE_DIR's), read by the caller when a change asks for them
KernelTables = Callable[[str, str, dict[str, str]], "list[dict] | None"]


def _suite_of(benchmark: str) -> tuple[str, str]:
    """``bench.MD.time_md_step`` -> (``bench.MD``, ``time_md_step``): a suite's series share a class."""
    return suite_of(benchmark), benchmark.rpartition(".")[2]


def explain_changes(report: CheckReport, series_list: list[Series], base: str, head: str,
                    config: MachmeterConfig, kernels: KernelTables | None = None) -> None:
    """Set each reported time-like change's ``explanation`` from the counter series of the same suite
    class, params, machine and environment at base and head. The counters are exact counts (and GPU
    time with its own small threshold): a counter that moved is already a change of its own, judged
    above; here it only says why a wall time moved, or that the GPU's work did not.

    asv stores the counters' ``track_`` numbers but not the top-kernel tables; ``kernels`` gives each
    side's where MACHMETER_TRACE_DIR kept them, and the sentence then names the kernels that appeared,
    disappeared or grew. Only a pair is compared: one side's table against nothing would call every
    kernel new."""
    counters: dict[tuple, dict[str, dict[str, float | None]]] = {}
    kernel_time_thresholds: dict[tuple, float] = {}
    for series in series_list:
        suite, method = _suite_of(series.key.benchmark)
        if method not in COUNTER_BENCHMARKS:
            continue
        where = (suite, series.key.params, series.key.machine, series.key.env_name)
        # keyed without the benchmark's version: a changed track_ method keeps its counter's meaning
        sides = counters.setdefault(where, {base: {}, head: {}})
        for point in series.points or ():
            if point.commit in sides:
                sides[point.commit][method] = point.value
        if method == KERNEL_TIME:
            kernel_time_thresholds[where] = series_policy(series, config).threshold
    # the counters this comparison judged moved: a counter that moved by less than its runs' spread
    # (or its threshold) did not, whatever the two values say
    judged = set()
    for change in (*report.regressions, *report.improvements, *report.acknowledged):
        suite, method = _suite_of(change.benchmark)
        if method in COUNTER_BENCHMARKS:
            judged.add(((suite, tuple(change.params.items()), change.machine, change.env_name), method))
    for change in (*report.regressions, *report.improvements, *report.acknowledged, *report.inconclusive):
        suite, method = _suite_of(change.benchmark)
        if change.kind not in EXPLAINED_KINDS or method in COUNTER_BENCHMARKS:
            continue
        where = (suite, tuple(change.params.items()), change.machine, change.env_name)
        sides = counters.get(where, {base: {}, head: {}})
        # a rate is the inverse of a time: its wall-time change is before/after - 1
        wall = change.before / change.after - 1.0 if change.kind == "throughput" and change.after else change.change
        tables = [kernels(commit, suite, change.params) for commit in (base, head)] if kernels else [None, None]
        if None in tables:
            tables = [None, None]
        change.explanation = explain(wall, sides[base], sides[head], *tables,
                                     kernel_time_threshold=kernel_time_thresholds.get(where, KERNEL_TIME_THRESHOLD),
                                     changed={method for method in COUNTER_BENCHMARKS if (where, method) in judged})


def _judge_runs(report: CheckReport, series: Series, evidence, q_value: float | None, policy, confidence: float,
                base: str, head: str, acknowledgements: list[Acknowledgement]) -> None:
    before, after, change = evidence.before, evidence.after, evidence.change
    size = describe_change(before, after, change)
    difference = after - before
    if difference == 0 or not meets_threshold(change, policy.threshold) or (
            policy.tolerance_abs is not None and abs(difference) <= policy.tolerance_abs):
        report.unchanged += 1
        return
    direction = REGRESSION if worse(before, after, policy.higher_is_better) else IMPROVEMENT
    runs = f"{evidence.runs[0]} vs {evidence.runs[1]} runs"
    if evidence.method == "prior":
        floor = prior_floor(series.meaning.kind)
        if abs(change) <= floor:
            report.inconclusive.append(_change_record(
                series, base, head, before, after, change, direction, None, "prior",
                f"{size}: inside the {floor:.0%} that two runs may differ by ({evidence.basis}); inconclusive"))
            return
        report.add(_change_record(series, base, head, before, after, change, direction, 0.999, "prior",
                                  f"{size}, beyond the {floor:.0%} that two runs may differ by ({evidence.basis})"),
                   acknowledgements)
        return
    detail = (f"{runs}, run-to-run noise {evidence.sigma:.1%} from {evidence.basis}, "
              f"adjusted p={q_value:.2g}")
    detectable = evidence.detectable(confidence)
    if q_value <= 1.0 - confidence:
        record = _change_record(series, base, head, before, after, change, direction, 1.0 - q_value, "runs-t",
                                f"{size}, significant ({detail})")
        record.detectable = detectable
        report.add(record, acknowledgements)
    else:
        # what the runs could have seen and what would settle it: an inconclusive verdict is actionable
        needed = evidence.runs_needed(change, confidence)
        reach = (f"; these runs resolve about {detectable:.0%}, about {needed} runs a side would resolve "
                 f"{abs(change):.0%}" if detectable is not None and needed is not None else "")
        record = _change_record(series, base, head, before, after, change, direction, 1.0 - q_value, "runs-t",
                                f"{size}, not significant at {confidence:.0%} ({detail}); inconclusive{reach}")
        record.detectable = detectable
        report.inconclusive.append(record)


def apply_targets(report: CheckReport, series_list: list[Series], config: MachmeterConfig, machines: dict,
                  head_of) -> None:
    """Judge each series' value at its head commit (``head_of(series)``: a commit or None) against its
    absolute target (machmeter.targets): a verdict per series with a target, a failure per miss."""
    for series in series_list:
        key, meaning = series.key, series.meaning
        target = target_for(key.benchmark, key.params_dict, key.machine, machines.get(key.machine) or {},
                            config.targets, meaning.target)
        head = head_of(series) if target is not None else None
        if head is None:
            continue
        try:
            value = series.values[series.commits.index(head)]
        except ValueError:
            continue
        if not is_measured(value) or not math.isfinite(value):
            continue  # failed or non-finite heads are failures of their own
        met, margin = judge_target(value, target)
        verdict = TargetVerdict(key.benchmark, key.params_dict, key.machine, head, value, target.minimum,
                                target.maximum, margin, met, target.source)
        report.targets.append(verdict)
        if not met:
            unit = f" {meaning.unit}" if meaning.unit else ""
            report.failures.append({
                "benchmark": key.benchmark, "params": key.params_dict, "machine": key.machine, "commit": head,
                "reason": f"{value:.4g}{unit} misses its target ({target.describe()}{unit}, {target.source}) "
                          f"by {-margin:.1%}"})


def split_by_confidence(points: list, confidence: float) -> tuple[list, list]:
    """(reported, inconclusive): the change points at or above ``confidence`` (config.confidence) and those
    below it, which are shown as inconclusive and never fail."""
    reported = [p for p in points if meets_confidence(p, confidence)]
    return reported, [p for p in points if not meets_confidence(p, confidence)]


def meets_confidence(point, confidence: float) -> bool:
    """Whether a history change point is sure enough to be reported (else it is inconclusive)."""
    return point.confidence >= confidence


def check_history(series_list: list[Series], config: MachmeterConfig,
                  acknowledgements: list[Acknowledgement], runs: dict | None = None,
                  commit_order: list[str] | None = None, machines: dict | None = None) -> CheckReport:
    """Change points over every series' whole history, in both directions; and a failure for each series
    whose value at its machine's newest commit (in ``commit_order``; without it, the series' own last)
    turned non-finite after a finite one (a series that ended long ago is no failure of the head).
    ``runs`` (History.runs) and ``commit_order`` (History.commits) let the changes that the runner made be
    folded into environment shifts (:mod:`machmeter.detect.shifts`)."""
    report = CheckReport(mode="history")
    heads = _machine_heads(series_list, commit_order)

    def head_of(series: Series) -> str | None:
        """The series' last commit when it is its machine's newest (a series that ended long ago has no head)."""
        if series.commits and (heads is None or series.commits[-1] == heads.get(series.key.machine)):
            return series.commits[-1]
        return None

    for series, points in zip(series_list, history_change_points(series_list, config)):
        _add_history_changes(report, series, points, acknowledgements, config.confidence)
        if head_of(series) is not None:
            _check_head_finite(report, series)
    _fold_shifts(report, series_list, runs or {}, commit_order or [], config.confidence)
    _mark_still_open(report, series_list)
    apply_targets(report, series_list, config, machines or {}, head_of)
    report.sort()
    return report


def regression_still_open(change: Change, final: float, higher_is_better: bool) -> bool:
    """A regression is still open unless the series' final level has come back at least half way to
    where it was before it (the one rule: the check's report, the site's marks, the nightly's issues)."""
    return worse_by(change.before, final, higher_is_better) >= abs(change.change) / 2


def _mark_still_open(report: CheckReport, series_list: list[Series]) -> None:
    by_series: dict[tuple, list[Change]] = {}
    for change in report.regressions + report.improvements + report.acknowledged:
        by_series.setdefault(_series_identity(change), []).append(change)
    for series in series_list:
        key = series.key
        changes = by_series.get((key.benchmark, key.params, key.machine, key.env_name))
        if not changes:
            continue
        if len(changes) > 1:
            position = {c: i for i, c in enumerate(series.commits)}
            changes.sort(key=lambda c: position.get(c.commit, -1))
        final = changes[-1].after
        for change in changes:
            if change.direction == REGRESSION:
                change.still_open = regression_still_open(change, final, series.meaning.higher_is_better)


def _fold_shifts(report: CheckReport, series_list: list[Series], runs: dict, commit_order: list[str],
                 confidence: float) -> None:
    kept, report.environment_shifts = fold_environment_shifts(
        report.regressions + report.improvements, series_list, runs, commit_order, report.inconclusive)
    report.regressions = [c for c in kept if c.direction == REGRESSION]
    report.improvements = [c for c in kept if c.direction == IMPROVEMENT]
    if report.environment_shifts:
        folded = sum(s.series_count for s in report.environment_shifts)
        report.warnings.append(
            f"{len(report.environment_shifts)} environment shift(s) ({folded} series changes) put on the runner, "
            "not the code (fingerprint change, gap in run dates, or the same series elsewhere did not move): "
            "shown once each, not failing")
    low = [c for c in report.inconclusive if c.method == "change-point"]
    if low:
        report.warnings.append(f"{len(low)} history change(s) below the {confidence:.0%} "
                               "confidence are shown as inconclusive, not failing")


def _machine_heads(series_list: list[Series], commit_order: list[str] | None) -> dict[str, str] | None:
    """Each machine's newest commit with a result, by ``commit_order``."""
    if commit_order is None:
        return None
    position = {commit: at for at, commit in enumerate(commit_order)}
    heads: dict[str, str] = {}
    for series in series_list:
        if series.commits:
            machine, last = series.key.machine, series.commits[-1]
            if position.get(last, -1) >= position.get(heads.get(machine), -1):
                heads[machine] = last
    return heads


def _check_head_finite(report: CheckReport, series: Series) -> None:
    if not series.values or KINDS[series.meaning.kind].judged_by is None:
        return
    earlier = next((v for v in reversed(series.values[:-1]) if v is not None and math.isfinite(v)), None)
    reason = became_non_finite(earlier, series.values[-1])
    if reason:
        report.failures.append({"benchmark": series.key.benchmark, "params": series.key.params_dict,
                                "machine": series.key.machine, "commit": series.commits[-1], "reason": reason})


def history_change_points(series_list: list[Series], config: MachmeterConfig) -> list[list | None]:
    """Each series' change points (None for a series that has no measured value or is a run-state
    series, which is never judged), found on all cores for long histories."""
    from machmeter.detect.changepoints import find_change_points
    from machmeter.parallel import forked_map

    jobs = [(index, series.values, _threshold(series, config, HISTORY_DEFAULT_FLOOR))
            for index, series in enumerate(series_list)
            if KINDS[series.meaning.kind].judged_by is not None and any(is_measured(v) for v in series.values)]
    found = forked_map(lambda job: find_change_points(job[1], min_relative_change=job[2]), jobs, min_items=64)
    points: list[list | None] = [None] * len(series_list)
    for (index, _, _), series_points in zip(jobs, found):
        points[index] = series_points
    return points


def _add_history_changes(report: CheckReport, series: Series, points: list | None,
                         acknowledgements: list[Acknowledgement], confidence: float) -> None:
    if not any(is_measured(v) for v in series.values):
        report.skipped += 1
        return
    report.series_checked += 1
    meaning = series.meaning
    if points is None or not points:  # a run-state series, or no change
        report.unchanged += 1
        return
    commits = series.commits
    for point in points:
        if (KINDS[meaning.kind].judged_by == BY_TOLERANCE
                and not beyond_tolerance(point.before, point.after, meaning.tolerance_abs, meaning.tolerance_rel)):
            continue
        change = Change(
            benchmark=series.key.benchmark, params=series.key.params_dict, machine=series.key.machine,
            env_name=series.key.env_name, commit=commits[point.index],
            commit_range=(commits[point.previous_index], commits[point.index]),
            before=point.before, after=point.after, change=point.relative_change,
            direction=REGRESSION if worse(point.before, point.after, meaning.higher_is_better) else IMPROVEMENT,
            kind=meaning.kind, unit=meaning.unit,
            higher_is_better=meaning.higher_is_better, confidence=point.confidence, method="change-point",
        )
        if not meets_confidence(point, confidence):
            change.reason = f"confidence {point.confidence:.2f}, below the {confidence:.0%} required; inconclusive"
            report.inconclusive.append(change)
            continue
        report.add(change, acknowledgements)


def history_reports(series_list: list[Series], config: MachmeterConfig,
                    acknowledgements: list[Acknowledgement], runs: dict | None = None,
                    commit_order: list[str] | None = None) -> list[CheckReport]:
    """One history report per series (what the site shows on each series' row), from one check of all
    series at once: each report holds its series' changes and the environment shifts it is part of."""
    whole = check_history(series_list, config, acknowledgements, runs, commit_order)
    mine: dict[tuple, list[tuple[str, Change]]] = {}
    for name in ("regressions", "improvements", "acknowledged", "inconclusive"):
        for change in getattr(whole, name):
            mine.setdefault(_series_identity(change), []).append((name, change))
    shifts_of: dict[tuple, list[EnvironmentShift]] = {}
    for shift in whole.environment_shifts:
        for key in shift.series_keys:
            shifts_of.setdefault(key, []).append(shift)
    reports = []
    for series in series_list:
        key = (series.key.benchmark, series.key.params, series.key.machine, series.key.env_name)
        report = CheckReport(mode="history", series_checked=1 if any(is_measured(v) for v in series.values) else 0,
                             environment_shifts=shifts_of.get(key, []))
        for name, change in mine.get(key, ()):
            getattr(report, name).append(change)
        if not report.series_checked:
            report.skipped = 1
        elif not (report.regressions or report.improvements or report.acknowledged):
            report.unchanged = 1
        report.sort()
        reports.append(report)
    return reports


def _series_identity(change: Change) -> tuple:
    return (change.benchmark, tuple(change.params.items()), change.machine, change.env_name)
