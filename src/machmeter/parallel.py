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
from concurrent.futures import Future, ProcessPoolExecutor

# The function and the data of the current map, inherited by the forked workers (never pickled).
_work = None
# The function of the current forked_call, inherited likewise.
_call = None


def _run(index: int):
    function, items = _work
    return function(items[index])


def _run_call():
    return _call()


def _can_fork() -> bool:
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


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
    if workers < 2 or len(items) < min_items or not _can_fork():
        return [function(item) for item in items]
    _work = (function, items)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run, range(len(items)), chunksize=max(1, len(items) // (4 * workers))))
    finally:
        _work = None


class ForkedCall:
    """``function()`` run in a forked worker while the caller goes on with other work; ``result()``
    waits for it and returns what it returned (pickled back) or raises what it raised. Where forking
    cannot help or is unsafe (one core, other threads alive) it has run in this process already."""

    def __init__(self, function):
        global _call
        self._pool = None
        self._future: Future = Future()
        if worker_count() < 2 or not _can_fork():
            try:
                self._future.set_result(function())
            except BaseException as error:  # raised by result(), as from a worker
                self._future.set_exception(error)
            return
        _call = function
        try:
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
            self._future = self._pool.submit(_run_call)  # the worker is forked here, with _call set
        finally:
            _call = None

    def result(self):
        try:
            return self._future.result()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
