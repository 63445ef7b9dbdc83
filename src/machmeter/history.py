"""A whole results folder read into series: the fast path of ``check --history``, the site and the demo.

A history of 2,000 commits x 900 series holds 1.8 million values, and one ResultPoint object each would
cost more than reading the files: the rows of each file are kept as read, in blocks (one per benchmark,
parameter set, machine, environment and version), and spread into series once every file is read.

Commit order comes from the git repository named in asv.conf.json (first-parent history of the
configured branch) when it is there, and from the commit dates asv stored in the results when it is not
(results are often published without their repository).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from machmeter.config import MachmeterConfig
from machmeter.results import (INTERVAL_COLUMNS, NAN, BenchmarkInfo, ResultsFolder, RunRecord, benchmark_info,
                               read_result_file, row_intervals)
from machmeter.series import Meaning, Series, SeriesKey, meaning_warnings, resolve_meaning, sort_series


def order_commits(dates: dict[str, int], git_order: list[str] | None, branch_only: bool = False) -> list[str]:
    """The commits of ``dates`` (commit -> date asv recorded), oldest first: by the branch history where
    the commit is on it, then (commits off the branch, or no repository) by date; ``branch_only`` leaves
    the commits off a known branch out."""
    position = {commit: index for index, commit in enumerate(git_order or [])}
    on_branch = sorted((c for c in dates if c in position), key=position.__getitem__)
    if branch_only and git_order:
        return on_branch
    off_branch = sorted((c for c in dates if c not in position), key=lambda c: (dates[c], c))
    return on_branch + off_branch


@dataclass
class SeriesStats:
    """asv's statistics of each value of a series (``read_history(stats=True)``), aligned with
    ``Series.values``: the 99% confidence interval and the quartiles (results.INTERVAL_COLUMNS, in
    that order); NaN where asv stored none (failed, skipped, track_ benchmarks, old results)."""

    ci_99_low: array
    ci_99_high: array
    q_25: array
    q_75: array

    def __getitem__(self, index: slice) -> "SeriesStats":
        return SeriesStats(self.ci_99_low[index], self.ci_99_high[index], self.q_25[index], self.q_75[index])


@dataclass
class History:
    """What ``read_history`` read: the series, and every commit in the order they were put in."""

    series: list[Series]
    benchmarks: dict[str, BenchmarkInfo]
    machines: dict[str, dict]
    warnings: list[str]
    commits: list[str]        # every commit kept, in series order (oldest first)
    dates: dict[str, int]     # commit -> the date asv recorded (ms since the epoch; 0 where it had none)
    branch_length: int        # commits[:branch_length] are the branch's history, the rest are off it
    # (machine, env_name, commit) -> the run's fingerprint and start time (environment shifts)
    runs: dict[tuple[str, str, str], RunRecord] = field(default_factory=dict)


@dataclass(slots=True)
class _Block:
    """The rows of one benchmark, parameter set, machine, environment and version, as read, one row per
    result file: laid end to end (``len(combinations)`` values a row, and as many statistics of each of
    INTERVAL_COLUMNS), so that a worker hands a block back as a few long lists and arrays rather than
    thousands of short ones; spread into series once every file is read."""

    combinations: tuple
    commits: list
    values: list                     # row after row
    stats: array | None              # row after row; NaN where a row has none
    with_stats: bytearray | None     # per row: 1 where asv stored statistics

    def extend(self, other: "_Block") -> None:
        self.commits += other.commits
        self.values += other.values
        if self.stats is not None:
            self.stats += other.stats
            self.with_stats += other.with_stats


def _read_blocks(folder: ResultsFolder, files: list, config: MachmeterConfig, stats: bool):
    """The rows of ``files`` as read, grouped in blocks (no per-value work while reading), with the
    commits' dates and the warnings of the files skipped."""
    blocks: dict[tuple, _Block] = {}
    dates: dict[str, int] = {}
    runs: dict[tuple[str, str, str], RunRecord] = {}
    ignored: dict[str, bool] = {}
    parameter_sets: dict[int, tuple] = {}  # the loader shares one tuple per parameter set: key it once
    no_stats: dict[int, array] = {}  # the NaN statistics of a row of n values
    share = ResultsFolder(folder.path, folder.benchmarks, folder.machines, files, [])
    for parsed in share.read(read_result_file):
        dates.setdefault(parsed.commit, parsed.date or 0)
        commit, machine_name, env_name = parsed.commit, parsed.machine, parsed.env_name
        runs[(machine_name, env_name, commit)] = parsed.run
        for name, combinations, values, version, row in parsed.rows:
            if ignored.setdefault(name, config.ignored(name)):
                continue
            cached = parameter_sets.get(id(combinations))
            if cached is None or cached[0] is not combinations:
                cached = parameter_sets[id(combinations)] = (combinations,
                                                             tuple(tuple(p.items()) for p in combinations))
            key = (name, cached[1], machine_name, env_name, version)
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = _Block(combinations, [], [], array("d") if stats else None,
                                             bytearray() if stats else None)
            count = len(combinations)
            block.commits.append(commit)
            block.values += values if len(values) == count else values[:count]
            if stats:
                intervals = row_intervals(row, count)
                if intervals is None:
                    missing = no_stats.get(count)
                    if missing is None:
                        missing = no_stats[count] = array("d", [NAN]) * (len(INTERVAL_COLUMNS) * count)
                    block.stats += missing
                else:
                    block.stats += intervals
                block.with_stats.append(intervals is not None)
    return blocks, dates, runs, share.warnings


def load_history(results_dir: str, git_order: list[str] | None, config: MachmeterConfig,
                 machine: str | None = None):
    """Every series' values in commit order, read straight from the result files.

    The fast path of ``check --history``: a history of 2,000 commits x 900 series holds 1.8 million
    values, and one ResultPoint object each would cost more than reading the files. Returns
    (series, benchmarks, machines, warnings); commits off the branch are left out when git_order is given.
    """
    history = read_history(results_dir, git_order, config, machine)
    return history.series, history.benchmarks, history.machines, history.warnings


def read_history(results_dir: str, git_order: list[str] | None, config: MachmeterConfig,
                 machine: str | None = None, *, stats: bool = False, branch_only: bool = True) -> History:
    """``load_history`` with more: ``stats`` also carries asv's confidence intervals and quartiles
    (``Series.stats``), ``branch_only=False`` keeps the commits off the branch (pull requests), after
    the branch's own in every series."""
    folder = ResultsFolder.open(results_dir, machine=machine)
    # the files are read on all cores, each worker a contiguous share of them; the blocks of the
    # shares are then joined (the rows of one block from two shares are one block)
    from machmeter.parallel import forked_map, worker_count

    shares = worker_count() if len(folder.files) >= 500 else 1
    size = -(-len(folder.files) // shares) if folder.files else 1
    parts = forked_map(lambda files: _read_blocks(folder, files, config, stats),
                       [folder.files[i:i + size] for i in range(0, len(folder.files), size)])
    blocks: dict[tuple, _Block] = {}
    dates: dict[str, int] = {}
    runs: dict[tuple[str, str, str], RunRecord] = {}
    for part_blocks, part_dates, part_runs, part_warnings in parts:
        runs.update(part_runs)
        for key, block in part_blocks.items():
            joined = blocks.get(key)
            if joined is None:
                blocks[key] = block
            else:
                joined.extend(block)
        for commit, date in part_dates.items():
            dates.setdefault(commit, date)
        folder.warnings += part_warnings
    # the branch's first-parent history: commits off it (pull requests) are not part of the history
    order = order_commits(dates, git_order, branch_only=branch_only)
    on_branch = set(git_order or ())
    branch_length = sum(1 for c in order if c in on_branch) if on_branch else len(order)
    rank = {c: i for i, c in enumerate(order)}
    keys_of: dict[int, list[SeriesKey]] = {}
    sources: dict[SeriesKey, int] = defaultdict(int)  # equal params of two parameter sets make one series
    for (name, _, machine_name, env_name, version), block in blocks.items():
        keys = keys_of[id(block)] = [SeriesKey(name, tuple(params.items()), machine_name, env_name, version)
                                     for params in block.combinations]
        for key in keys:
            sources[key] += 1
    meanings: dict[str, Meaning] = {}

    def meaning(benchmark: str) -> Meaning:
        if benchmark not in meanings:
            meanings[benchmark] = resolve_meaning(benchmark, benchmark_info(folder.benchmarks, benchmark), config)
        return meanings[benchmark]

    series = []
    shared: dict[SeriesKey, list] = defaultdict(list)  # (rank, values, stats) of keys with several sources
    while blocks:
        _, block = blocks.popitem()  # each block's rows are freed once its series are made
        ranks = [rank.get(c, -1) for c in block.commits]
        kept = sorted((i for i, r in enumerate(ranks) if r >= 0), key=ranks.__getitem__)
        if not kept:
            continue
        commits = [block.commits[i] for i in kept]
        # one transposition per block, in numpy: every series of the block at once (the values stay the
        # objects read, in an object array)
        count, rows = len(block.combinations), len(block.commits)
        columns = np.array(block.values, dtype=object).reshape(rows, count)[kept].T.tolist()
        bands = None
        if block.stats is not None and np.frombuffer(block.with_stats, dtype=np.uint8)[kept].any():
            # bands[band, index]: one statistic of one series, in commit order
            bands = np.ascontiguousarray(np.frombuffer(block.stats, dtype=np.float64)
                                         .reshape(rows, len(INTERVAL_COLUMNS), count)[kept].transpose(1, 2, 0))
        block.values = block.stats = None
        for index, key in enumerate(keys_of[id(block)]):
            stats_of = None if bands is None else SeriesStats(
                *(array("d", bands[band, index].tobytes()) for band in range(len(INTERVAL_COLUMNS))))
            if sources[key] > 1:
                shared[key].append(([ranks[i] for i in kept], commits, columns[index], stats_of))
                continue
            series.append(Series(key, meaning(key.benchmark), list(commits), columns[index], stats=stats_of))
    for key, pieces in shared.items():
        merged = sorted((r, n, i) for n, piece in enumerate(pieces) for i, r in enumerate(piece[0]))
        item = Series(key, meaning(key.benchmark), [pieces[n][1][i] for _, n, i in merged],
                      [pieces[n][2][i] for _, n, i in merged])
        if any(piece[3] is not None for piece in pieces):
            item.stats = SeriesStats(*(array("d", [NAN if pieces[n][3] is None else getattr(pieces[n][3], band)[i]
                                                   for _, n, i in merged])
                                       for band in ("ci_99_low", "ci_99_high", "q_25", "q_75")))
        series.append(item)
    series = sort_series(series)
    return History(series, folder.benchmarks, folder.machines, folder.warnings + meaning_warnings(series),
                   order, {c: dates[c] for c in order}, branch_length, runs)
