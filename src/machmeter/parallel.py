"""Whole-history work spread over the host's cores: reading thousands of result files and finding
change points in hundreds of series are independent per piece, and ``machmeter site`` / ``check
--history`` on a long history spend most of their time there.

Workers are forked, so they start in milliseconds with the parent's modules and data already loaded
(a spawned worker would import numpy and scipy again, which costs more than it saves). Forking a process
that runs other threads can deadlock a child, so with any other thread alive (a test's HTTP server, a
browser driver) the work runs in this process instead.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

# The function and the data of the current map, inherited by the forked workers (never pickled).
_work = None


def _run(index: int):
    function, items = _work
    return function(items[index])


def worker_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def forked_map(function, items: list, *, min_items: int = 2) -> list:
    """``[function(item) for item in items]``, on forked workers where that can help and is safe.
    Only the results travel back (pickled); ``function`` and ``items`` are inherited."""
    global _work
    workers = min(worker_count(), len(items))
    if (workers < 2 or len(items) < min_items or threading.active_count() > 1
            or "fork" not in multiprocessing.get_all_start_methods()):
        return [function(item) for item in items]
    _work = (function, items)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run, range(len(items)), chunksize=max(1, len(items) // (4 * workers))))
    finally:
        _work = None
