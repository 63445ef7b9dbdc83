"""Whole-history work on forked workers gives exactly what one process gives.

The fork path runs only in a process with no other thread, so those checks run in a fresh interpreter
(the test session itself may hold threads started by earlier tests or plugins)."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import machmeter.parallel as parallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _in_fresh_interpreter(code: str) -> None:
    if parallel.worker_count() < 2:
        pytest.skip("one core: forked_map runs in this process by design")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_forked_map_keeps_order_and_runs_on_other_processes():
    _in_fresh_interpreter("""
        import os
        from machmeter.parallel import forked_map

        results = forked_map(lambda n: (n * n, os.getpid()), list(range(50)))
        assert [square for square, _ in results] == [n * n for n in range(50)]
        assert os.getpid() not in {pid for _, pid in results}
        """)


def test_forked_map_stays_in_this_process_while_another_thread_runs():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert {pid for pid in parallel.forked_map(lambda _: os.getpid(), list(range(10)))} == {os.getpid()}
    finally:
        stop.set()
        other.join()


def test_history_read_and_checked_on_workers_equals_one_process(tmp_path):
    _in_fresh_interpreter(f"""
        import machmeter.parallel as parallel
        from machmeter.config import MachmeterConfig
        from machmeter.detect.engine import check_history
        from machmeter.history import read_history
        from scripts.synthetic_history import write_asv_results

        results = {str(tmp_path / "results")!r}
        write_asv_results(results, n_commits=200, n_series=24, n_machines=3)  # 600 files, 72 series
        config = MachmeterConfig()
        pools = []

        class CountedPool(parallel.ProcessPoolExecutor):
            def __init__(self, *args, **kwargs):
                pools.append(args)
                super().__init__(*args, **kwargs)

        parallel.ProcessPoolExecutor = CountedPool

        def snapshot():
            history = read_history(results, None, config, stats=True)
            report = check_history(history.series, config, [])
            bands = ("ci_99_low", "ci_99_high", "q_25", "q_75")
            return ([(s.key, s.commits, [repr(v) for v in s.values],
                      None if s.stats is None else [repr(list(getattr(s.stats, b))) for b in bands])
                     for s in history.series],
                    [c.to_dict() for c in report.regressions + report.improvements], history.warnings)

        forked = snapshot()
        assert len(pools) == 2, pools  # the files were read, and the change points found, on workers
        parallel.worker_count = lambda: 1
        assert snapshot() == forked
        assert len(pools) == 2
        assert forked[1]  # the synthetic history has labelled changes to find
        """)
