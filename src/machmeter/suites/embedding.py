"""asv suite for embedding models (HuggingFace transformers or any torch module taking token batches).

Subclass :class:`EmbeddingSuite`, give it a model and a batch, and asv measures per model, batch shape
and dtype: the forward time (``time_forward``), sequences/s and tokens/s, latency p50/p95, memory
peaks, energy per batch and, where the suite counts its forward FLOPs, the achieved TFLOP/s and the
model FLOP utilisation (MFU) against the GPU's datasheet peak, with the large-matmul rate this card
reaches beside it. Where the suite names reference data (``machmeter/data/reference/<name>.json``,
package data), it also reports how close each dtype's embeddings are to the reference's, as accuracy
metrics with declared tolerances. See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc
import functools
from typing import ClassVar

from machmeter.suites.base import (
    MeasuredSuite,
    build_before_timing,
    device_index,
    require_device,
    resolved_device,
    torch_dtype,
)
from machmeter.suites.declare import declare
from machmeter.suites.reference import load_reference


def parse_shape(shape: str) -> tuple[int, int]:
    """'8x128' -> (batch_size, sequence_length); one parameter keeps asv's product of params small."""
    batch, _, length = shape.partition("x")
    return int(batch), int(length)


def cpu_dtype_skip_reason(dtype: str, device) -> str | None:
    if device.type == "cpu" and dtype == "float16":
        return "float16 on a CPU is emulated (many times slower than float32), not a deployment path: GPUs only"
    return None


def embedding_reference(name: str) -> dict:
    """Reference data ``machmeter/data/reference/<name>.json`` of the installed package."""
    return load_reference(name, "python3 scripts/make_embedding_reference.py writes it")


@functools.lru_cache(maxsize=None)
def gpu_name(device: str) -> str:
    """NVML's name of a CUDA device (the key of the peak table); 'cpu' for the CPU."""
    if not device.startswith("cuda"):
        return "cpu"
    from machmeter.instruments import collect_machine_info

    return collect_machine_info(device_index(device)).gpu_name


def flop_metrics(flops: int | None, latency, device: str, dtype: str, why_none: str) -> dict:
    """Achieved TFLOP/s and MFU (percent of the datasheet peak for the precision the products run in)
    per timed call, as metrics with samples; unavailable ones carry their reason."""
    if flops is None:
        return {"model_tflops": None, "model_tflops__unavailable": why_none,
                "mfu_percent": None, "mfu_percent__unavailable": why_none}
    from machmeter.instruments.peak_flops import lookup_peak, matmul_precision, model_flop_utilisation

    per_call = [flops / s for s in latency.samples if s > 0]
    metrics = {"model_tflops": flops / latency.mean / 1e12, "model_tflops__samples": [f / 1e12 for f in per_call]}
    if not device.startswith("cuda"):
        return {**metrics, "mfu_percent": None,
                "mfu_percent__unavailable": "MFU is against a GPU's datasheet peak: this ran on the CPU"}
    try:
        peak = lookup_peak(gpu_name(device), matmul_precision(torch_dtype(dtype)))
    except ValueError as error:  # a dtype without tabled matrix hardware (float64)
        return {**metrics, "mfu_percent": None, "mfu_percent__unavailable": str(error)}
    if peak.flops is None:
        return {**metrics, "mfu_percent": None, "mfu_percent__unavailable": peak.reason}
    return {**metrics, "mfu_percent": 100 * model_flop_utilisation(flops, latency.mean, peak.flops),
            "mfu_percent__samples": [100 * model_flop_utilisation(flops, s, peak.flops)
                                     for s in latency.samples if s > 0],
            "peak_tflops": peak.flops / 1e12, "peak_precision": peak.precision}


def cosine_rows(a, b):
    """Cosine similarity of matching rows of two ``(n, d)`` tensors, in float64."""
    import torch

    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=1)


def accuracy_metrics(embeddings, entry: dict) -> dict:
    """How far ``embeddings`` of a reference entry's inputs are from the entry's: the cosine of each
    to its reference embedding (minimum, mean) and, where the entry has pairs of inputs, the largest
    error of a pair's cosine similarity."""
    import torch

    embeddings = embeddings.detach().double().cpu()
    reference = torch.tensor(entry["embeddings"], dtype=torch.float64)
    if embeddings.shape != reference.shape:
        raise ValueError(f"embeddings of shape {tuple(embeddings.shape)} against a reference of {tuple(reference.shape)}")
    cosine = cosine_rows(embeddings, reference)
    metrics = {"cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean())}
    if entry.get("pairs"):
        first, second = torch.tensor(entry["pairs"]).T
        error = cosine_rows(embeddings[first], embeddings[second]) - torch.tensor(entry["pair_similarity"],
                                                                                  dtype=torch.float64)
        metrics["pair_similarity_error_max"] = float(error.abs().max())
    else:
        metrics.update(pair_similarity_error_max=None,
                       pair_similarity_error_max__unavailable="the reference has no pairs of inputs")
    return metrics


_ACCURACY_METRICS = ("cosine_min", "cosine_mean", "pair_similarity_error_max")
_BENCHMARK_PREFIXES = ("time_", "track_")


class EmbeddingSuite(MeasuredSuite):
    """Parameters: model, batch shape ('BATCHxTOKENS'), dtype. Subclasses give the factories.

    The device is an attribute, not a parameter: "auto" measures on the GPU where there is one and on
    the CPU otherwise (the machine's fingerprint says which), which keeps asv's product of parameters,
    and so its process count, small.
    """

    params = (["model"], ["8x128"], ["float32", "bfloat16"])
    param_names = ["model", "shape", "dtype"]
    device = "auto"

    warmup_calls = 3
    latency_target_time = 1.0
    latency_min_calls = 10
    energy_min_calls = 20
    matmul_target_time = 0.3
    # Keep the CPU run short: larger batches run on GPUs only.
    cpu_max_tokens = 1024
    # Reference data for the accuracy metrics, machmeter/data/reference/<reference_name>.json.
    reference_name: ClassVar[str | None] = None
    # asv runs each benchmark method, for each parameter combination, in a process of its own: about
    # half a second each on a GPU runner, and time_forward also imports torch and rebuilds the model.
    # A suite with many combinations names the benchmarks it reports (None: all); the others are not
    # offered to asv, and what only they need (energy, the matmul peak) is not measured.
    benchmarks: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("benchmarks") is None:
            return
        defined = {}  # every benchmark function in the hierarchy, the most derived definition first
        for klass in cls.__mro__:
            for name, value in vars(klass).items():
                if name.startswith(_BENCHMARK_PREFIXES) and callable(value):
                    defined.setdefault(name, value)
        unknown = set(cls.benchmarks) - set(defined)
        if unknown:
            raise TypeError(f"{cls.__qualname__}.benchmarks names no benchmark {sorted(unknown)}")
        for name, function in defined.items():
            # None is not a function, so asv does not discover it
            setattr(cls, name, function if name in cls.benchmarks else None)

    def offers(self, benchmark: str) -> bool:
        return callable(getattr(self, benchmark, None))

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_model(self, model: str, device, dtype):
        """The torch module, in eval mode, on the device and in the dtype given."""

    @abc.abstractmethod
    def make_batch(self, model: str, batch_size: int, sequence_length: int, device) -> dict:
        """Keyword arguments of one forward call (e.g. input_ids and attention_mask tensors)."""

    def skip_reason(self, model: str, batch_size: int, sequence_length: int, dtype: str, device) -> str | None:
        """Why a combination is not measured on this machine (None: measure it)."""
        if device.type == "cpu" and batch_size * sequence_length > self.cpu_max_tokens:
            return f"{batch_size}x{sequence_length} tokens exceeds cpu_max_tokens={self.cpu_max_tokens}"
        return cpu_dtype_skip_reason(dtype, device)

    def forward_flops(self, model: str, batch_size: int, sequence_length: int) -> int | None:
        """FLOPs of one forward call, counted analytically (``2 N`` per token plus attention), for the
        achieved TFLOP/s and the MFU; None: this suite does not count them."""
        return None

    def reference_key(self, model: str) -> str:
        """The model's entry in the reference data (several variants of a model can share one)."""
        return model

    def reference_mismatch(self, model: str, entry: dict) -> str | None:
        """Why the stored reference does not describe the model built here (other weights): the
        comparison would then measure the environment, not the commit. None: it does."""
        return None

    def embed(self, model: str, module, inputs: list[str]):
        """Embeddings ``(len(inputs), dim)`` of the reference's inputs by the built ``module``, for
        the accuracy metrics (suites with a ``reference_name``)."""
        raise NotImplementedError(f"{type(self).__name__} has reference data but no embed()")

    # -- building ---------------------------------------------------------------------------------
    def resolved_device(self) -> str:
        return resolved_device(self.device)

    def build(self, model, shape, dtype):
        """``(module, forward)``: the model and a warmed-up forward call on the suite's batch."""
        import torch

        torch_device = require_device(self.resolved_device())
        batch_size, sequence_length = parse_shape(shape)
        reason = self.skip_reason(model, batch_size, sequence_length, dtype, torch_device)
        if reason:
            raise NotImplementedError(reason)
        module = self.make_model(model, torch_device, torch_dtype(dtype))
        batch = self.make_batch(model, batch_size, sequence_length, torch_device)

        @torch.inference_mode()
        def forward():
            return module(**batch)

        for _ in range(self.warmup_calls):
            forward()
        return module, forward

    def build_forward(self, model, shape, dtype):
        return self.build(model, shape, dtype)[1]

    # -- the one measurement pass -----------------------------------------------------------------
    def measure(self, model, shape, dtype):
        from machmeter.instruments import measure_energy, time_callable, track_memory

        device = self.resolved_device()
        module, forward = self.build(model, shape, dtype)
        batch_size, sequence_length = parse_shape(shape)
        latency = time_callable(forward, device=device, warmup_calls=0, min_repeats=self.latency_min_calls,
                                target_time=self.latency_target_time, label="forward")
        counters = self.counter_metrics(forward, device, latency.mean)
        with track_memory(device=device) as memory:
            forward()
        peaks = memory.result
        # NVML measures the whole GPU: a CPU run would read the idle card's energy
        energy = None
        if device.startswith("cuda") and self.offers("track_energy_per_batch"):
            energy = measure_energy(forward, calls=self.energy_min_calls, device_index=device_index(device))
        return {
            **counters,
            "device": device,
            "sequences_per_second": batch_size / latency.mean,
            "sequences_per_second__samples": [batch_size / s for s in latency.samples if s > 0],
            "tokens_per_second": batch_size * sequence_length / latency.mean,
            "tokens_per_second__samples": [batch_size * sequence_length / s for s in latency.samples if s > 0],
            "latency_ms_p50": latency.median * 1e3,
            "latency_ms_p50__samples": [s * 1e3 for s in latency.samples],
            "latency_ms_p95": latency.p95 * 1e3,
            # a module may say why its allocator peak means nothing (CudaGraphModule: replays allocate nothing)
            "peak_torch_allocated_bytes": (None if getattr(module, "allocator_peak_unavailable", None)
                                           else peaks.torch_allocated_bytes),
            "peak_torch_allocated_bytes__unavailable": (getattr(module, "allocator_peak_unavailable", None)
                                                        or "the torch CUDA allocator is not used on CPU"),
            "peak_nvml_device_bytes": peaks.nvml_device_used_bytes,
            "peak_nvml_device_bytes__unavailable": "NVML is not available",
            "peak_host_rss_bytes": peaks.host_rss_bytes,
            "joules_per_batch": energy.joules_per_call if energy else None,
            "joules_per_batch__unavailable": "GPU energy only: a CPU run, or no NVML energy counter",
            **flop_metrics(self.forward_flops(model, batch_size, sequence_length), latency, device, dtype,
                           f"{type(self).__name__} does not count its forward FLOPs (forward_flops)"),
            **self._matmul_peak(device, dtype),
            **self._accuracy(model, module),
        }

    def _matmul_peak(self, device: str, dtype: str) -> dict:
        """The dtype's large-matmul rate on this device, measured once per measurement pass."""
        if not self.offers("track_matmul_peak_tflops"):
            return {}
        from machmeter.instruments.peak_flops import PRECISIONS, matmul_precision, measure_matmul_peak

        if device.startswith("cuda"):
            precision = matmul_precision(torch_dtype(dtype)) if dtype in PRECISIONS else None
        else:  # TF32 is a GPU setting; float16 is emulated on CPUs
            precision = dtype if dtype in ("float32", "bfloat16") else None
        if precision is None:
            return {"matmul_peak_tflops": None, "matmul_peak_tflops__unavailable": f"no {dtype} matmul peak on {device}"}
        cache = self.__dict__.setdefault("_matmul_peaks", {})
        if (device, precision) not in cache:
            cache[device, precision] = measure_matmul_peak(precision, device, target_time=self.matmul_target_time)
        peak = cache[device, precision]
        return {"matmul_peak_tflops": peak.flops_per_second / 1e12,
                "matmul_peak_tflops__samples": [f / 1e12 for f in peak.samples]}

    def _accuracy(self, model: str, module) -> dict:
        if self.reference_name is None:
            reason = f"{type(self).__name__} has no reference data (reference_name)"
            return {**dict.fromkeys(_ACCURACY_METRICS), **{f"{m}__unavailable": reason for m in _ACCURACY_METRICS}}
        models = embedding_reference(self.reference_name)["models"]
        key = self.reference_key(model)
        reason = (f"{self.reference_name}.json has no reference for {key!r}" if key not in models
                  else self.reference_mismatch(model, models[key]))
        if reason:
            return {**dict.fromkeys(_ACCURACY_METRICS), **{f"{m}__unavailable": reason for m in _ACCURACY_METRICS}}
        return accuracy_metrics(self.embed(model, module, models[key]["inputs"]), models[key])

    # -- asv benchmarks ---------------------------------------------------------------------------
    def time_forward(self, measured, model, shape, dtype):
        self.live(self.build_forward)()

    time_forward.setup = build_before_timing("build_forward")

    @declare(kind="throughput", unit="sequences/s")
    def track_sequences_per_second(self, measured, model, shape, dtype):
        return self.metric_distribution("sequences_per_second")

    @declare(kind="throughput", unit="tokens/s")
    def track_tokens_per_second(self, measured, model, shape, dtype):
        return self.metric_distribution("tokens_per_second")

    @declare(kind="time", unit="ms")
    def track_latency_p50(self, measured, model, shape, dtype):
        return self.metric_distribution("latency_ms_p50")

    @declare(kind="time", unit="ms")
    def track_latency_p95(self, measured, model, shape, dtype):
        return self.metric("latency_ms_p95")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_torch(self, measured, model, shape, dtype):
        return self.metric("peak_torch_allocated_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_device(self, measured, model, shape, dtype):
        return self.metric("peak_nvml_device_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_host(self, measured, model, shape, dtype):
        return self.metric("peak_host_rss_bytes")

    @declare(kind="energy", unit="J")
    def track_energy_per_batch(self, measured, model, shape, dtype):
        return self.metric("joules_per_batch")

    @declare(kind="throughput", unit="TFLOP/s")
    def track_model_tflops(self, measured, model, shape, dtype):
        return self.metric_distribution("model_tflops")

    @declare(kind="throughput", unit="%")
    def track_mfu(self, measured, model, shape, dtype):
        return self.metric_distribution("mfu_percent")

    @declare(kind="throughput", unit="TFLOP/s")
    def track_matmul_peak_tflops(self, measured, model, shape, dtype):
        """What an 8192³ matrix product in this dtype reaches here (the same for every model and
        shape): beside the datasheet peak that MFU divides by, what this card can reach at all."""
        return self.metric_distribution("matmul_peak_tflops")

    @declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=1e-3)
    def track_cosine_to_reference_min(self, measured, model, shape, dtype):
        return self.metric("cosine_min")

    @declare(kind="accuracy", unit="cosine", higher_is_better=True, tolerance_abs=1e-4)
    def track_cosine_to_reference_mean(self, measured, model, shape, dtype):
        return self.metric("cosine_mean")

    @declare(kind="accuracy", unit="cosine", higher_is_better=False, tolerance_abs=2e-3)
    def track_pair_similarity_error_max(self, measured, model, shape, dtype):
        return self.metric("pair_similarity_error_max")

    # -- noise-free counters, per call (docs/writing-gpu-benchmarks.md, counters) -----------------
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, model, shape, dtype):
        """Top-level aten operators dispatched per call: exact, on a CPU too."""
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, model, shape, dtype):
        return self.metric("counter_kernels")

    # Summed GPU kernel time moves by about 0.2% between processes (64-atom LJ on an H200, issue 13),
    # where wall time moves by tens of percent: a 1% threshold is far above its noise.
    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, model, shape, dtype):
        return self.metric("counter_kernel_us")


    # kernel time / timed wall per call: where a call's time goes (the site's view); it inherits wall
    # time's noise, so it is shown, never judged
    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, model, shape, dtype):
        return self.metric("counter_busy_fraction")
