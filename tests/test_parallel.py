"""Whole-history work on forked workers gives exactly what one process gives."""

import os
import threading

import pytest

import machmeter.parallel as parallel
from machmeter.config import MachmeterConfig
from machmeter.detect.engine import check_history
from machmeter.series import read_history
from scripts.synthetic_history import write_asv_results


def test_forked_map_keeps_order_and_runs_on_other_processes():
    if parallel.worker_count() < 2:
        pytest.skip("one core: forked_map runs in this process by design")
    results = parallel.forked_map(lambda n: (n * n, os.getpid()), list(range(50)))
    assert [square for square, _ in results] == [n * n for n in range(50)]
    assert os.getpid() not in {pid for _, pid in results}


def test_forked_map_stays_in_this_process_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert {pid for pid in parallel.forked_map(lambda _: os.getpid(), list(range(10)))} == {os.getpid()}
    finally:
        stop.set()
        other.join()


def test_history_read_and_checked_on_workers_equals_one_process(tmp_path, monkeypatch):
    results = tmp_path / "results"
    write_asv_results(str(results), n_commits=200, n_series=24, n_machines=3)  # 600 files, 72 series
    config = MachmeterConfig()

    def snapshot():
        history = read_history(str(results), None, config, stats=True)
        report = check_history(history.series, config, [])
        return ([(s.key, s.commits, [repr(v) for v in s.values],
                  None if s.stats is None else [repr(list(getattr(s.stats, band))) for band in ("ci_99_low", "ci_99_high", "q_25", "q_75")]) for s in history.series],
                [c.to_dict() for c in report.regressions + report.improvements], history.warnings)

    if parallel.worker_count() < 2 or threading.active_count() > 1:
        pytest.skip("one core, or another thread alive: nothing would be forked")
    pools = []

    class CountedPool(parallel.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            pools.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", CountedPool)
    forked = snapshot()
    assert len(pools) == 2  # the files were read, and the change points found, on workers
    monkeypatch.setattr(parallel, "worker_count", lambda: 1)
    assert snapshot() == forked
    assert forked[1]  # the synthetic history has labelled changes to find
