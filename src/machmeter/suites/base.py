"""What every machmeter asv suite shares: one measurement pass per class, skips, devices, timers.

asv runs each benchmark, for each parameter combination, in a fresh process. Measuring a latency
distribution, memory peaks, energy and drift separately in each of those processes would repeat the
expensive part (building the model, warming up) many times, so a suite measures every combination once
in ``setup_cache`` with machmeter's instruments and its ``track_`` methods only read the result. The
``time_`` methods still time live work with asv's own sampler (through a synchronising timer), so the
asv-native number and its statistics exist too. Modules here import torch lazily: asv imports every
benchmark module at discovery and for each (possibly skipped) parameter combination.
"""

from __future__ import annotations

import abc
import inspect
import itertools
import linecache
import math
import sys
import time
import traceback
import zlib
from typing import Any, ClassVar


def synchronized_timer() -> float:
    """asv timer that waits for queued GPU work before reading the clock.

    asv's default timer reads the host clock only; CUDA calls return as soon as the work is queued, so
    an unsynchronised ``time_`` benchmark of GPU work measures the launch, not the work.
    """
    torch = sys.modules.get("torch")  # never import (or initialise CUDA) just to read a clock
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


def unavailable(name: str, reason: str) -> float:
    """asv's "skipped" (NaN) for a value this machine cannot measure, with the reason on stderr.

    asv turns NotImplementedError into a skip only when ``setup`` raises it; raised from the
    benchmark itself it would count as a failure.
    """
    print(f"asv: skipped: {name}: {reason}", file=sys.stderr)
    return math.nan


def require_device(device: str):
    """The torch device for a parameter value, or NotImplementedError (asv's skip) if absent."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise NotImplementedError("CUDA is not available on this machine")
    return torch.device(device)


def resolved_device(device: str) -> str:
    """A suite's device as a torch device string: "auto" is the GPU where there is one, else the CPU
    (an attribute rather than an asv parameter keeps asv's product of parameters, and so its number
    of processes, small; the machine's fingerprint says which device it was)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_dtype(name: str):
    import torch

    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown torch dtype {name!r}")
    return dtype


def device_index(device: str) -> int:
    """'cuda:1' -> 1; 'cuda' and 'cpu' -> 0 (NVML's index of the default device)."""
    return int(device.split(":")[1]) if ":" in device else 0


def combination_key(params) -> str:
    return "|".join(repr(p) for p in params)


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    out_of_memory = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(error, out_of_memory) or "out of memory" in str(error).lower()


def _release_device_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _setup_cache_of(cls):
    """A ``setup_cache`` that asv tells apart from every other class's.

    asv keys setup caches by the module and first source line of the ``setup_cache`` function, so
    subclasses inheriting one function would all share the first class's measurements. Each subclass
    gets its own two-line function, compiled from a virtual source file (registered with linecache so
    that ``inspect`` finds it) whose ``def`` stands at the subclass's own line in its own module.
    """
    try:
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):  # no source file: still deterministic across asv's processes
        line = zlib.crc32(cls.__qualname__.encode()) % 10_000 + 1
    filename = f"<machmeter setup_cache of {cls.__module__}.{cls.__qualname__}>"
    lines = ["\n"] * (line - 1) + ["def setup_cache(self):\n", "    return self.measure_all()\n"]
    linecache.cache[filename] = (len("".join(lines)), None, lines, filename)
    namespace: dict = {}
    exec(compile("".join(lines), filename, "exec"), namespace)
    setup_cache = namespace["setup_cache"]
    setup_cache.__module__ = cls.__module__
    setup_cache.__qualname__ = f"{cls.__qualname__}.setup_cache"
    return setup_cache


class MeasuredSuite(abc.ABC):
    """Base of machmeter's suites. Subclasses define ``params``, ``param_names`` and ``measure``.

    The base classes are abstract on purpose: asv discovers benchmarks in every class a benchmark
    module holds, imported ones included, and skips only abstract classes.
    """

    params: ClassVar[Any] = []
    param_names: ClassVar[list] = []
    # One measurement pass covers every parameter combination, so it needs more than asv's 60 s.
    timeout = 1800
    timer = staticmethod(synchronized_timer)
    warmup_time = 0.1

    # -- for subclasses ---------------------------------------------------------------------------
    @abc.abstractmethod
    def measure(self, *params) -> dict[str, float | None]:
        """Measure one parameter combination; raise NotImplementedError(reason) to skip it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "setup_cache" not in cls.__dict__:
            cls.setup_cache = _setup_cache_of(cls)

    # -- asv hooks --------------------------------------------------------------------------------
    def setup_cache(self):
        return self.measure_all()

    def measure_all(self):
        """Measure every parameter combination: what ``setup_cache`` hands to each benchmark."""
        measured: dict[str, dict] = {}
        for params in itertools.product(*self.params):
            key = combination_key(params)
            self._measuring = params  # names the profiled window's trace (counter_metrics)
            try:
                measured[key] = {"metrics": self.measure(*params)}
            except NotImplementedError as skip:
                measured[key] = {"skip": str(skip)}
            except Exception as error:  # noqa: BLE001 - one bad combination must not sink the class
                if _is_out_of_memory(error):
                    measured[key] = {"skip": f"out of memory at {dict(zip(self.param_names, params))}"}
                else:
                    measured[key] = {"error": "".join(traceback.format_exception_only(type(error), error)).strip(),
                                     "traceback": traceback.format_exc()}
            finally:
                _release_device_memory()
        return measured

    def setup(self, measured, *params):
        entry = measured[combination_key(params)]
        if "skip" in entry:
            raise NotImplementedError(entry["skip"])
        if "error" in entry:
            raise RuntimeError(f"measuring {params} failed: {entry['error']}\n{entry['traceback']}")
        self.metrics = entry["metrics"]
        self._live_params = params
        MeasuredSuite._in_setup = self

    def metric(self, name: str) -> float:
        """A measured value, or NaN (asv's "skipped") where the machine cannot measure it (no NVML,
        no CUDA allocator on a CPU)."""
        value = self.metrics.get(name)
        if value is None:
            return unavailable(name, self.metrics.get(f"{name}__unavailable", "not measured on this machine"))
        return value

    def metric_distribution(self, name: str):
        """A measured quantity as asv's timing protocol: its per-call samples, from which asv derives
        the value (their median), a 99% confidence interval and quartiles, and which it stores with
        ``--record-samples`` — so that checks can test a change instead of trusting one number.
        Falls back to :meth:`metric` where no samples were measured."""
        samples = self.metrics.get(f"{name}__samples")
        if not samples:
            return self.metric(name)
        return {"samples": list(samples), "number": 1}

    # -- noise-free counters (machmeter.instruments.counters) -------------------------------------
    counter_calls = 10  # calls in the profiled window, after timing
    _measuring: tuple = ()  # the parameter combination measure_all is measuring

    def counter_metrics(self, fn, device: str, wall_per_call_s: float | None) -> dict:
        """The counters of ``fn`` (already warmed up and timed) as metrics: call after timing, since
        the profiler's overhead must never reach a timed sample."""
        from machmeter.instruments.counters import counter_metrics, profile_counters, window_name

        cls = type(self)
        name = window_name(f"{cls.__module__}.{cls.__qualname__}", zip(self.param_names, self._measuring))
        return counter_metrics(profile_counters(fn, device=device, calls=self.counter_calls,
                                                wall_per_call_s=wall_per_call_s, trace_name=name))

    # -- live workloads for time_ methods ---------------------------------------------------------
    _live_cache: ClassVar[dict] = {}
    _in_setup: ClassVar["MeasuredSuite | None"] = None

    def live(self, build):
        """The live workload a ``time_`` method runs, built once per process and parameters.

        Built by the ``time_`` benchmark's own setup (:func:`build_before_timing`), never in the class
        setup: ``track_`` processes only read the measurement and should not build models.
        """
        key = (type(self).__qualname__, self._live_params)
        if key not in MeasuredSuite._live_cache:
            MeasuredSuite._live_cache.clear()
            MeasuredSuite._live_cache[key] = build(*self._live_params)
        return MeasuredSuite._live_cache[key]


def build_before_timing(builder: str):
    """A ``setup`` to attach to a ``time_`` benchmark: builds its live workload before any sample.

    asv runs a benchmark function's own ``setup`` attribute after the class's, before each sample
    (with ``--quick`` there is one sample and no warm-up, so a build on first use would be timed).
    asv calls it without the instance: the class setup that ran just before registered it.
    """

    def setup(_measured, *_params):  # parameters make asv run it per sample, not before setup_cache
        suite = MeasuredSuite._in_setup
        suite.live(getattr(suite, builder))

    return setup
