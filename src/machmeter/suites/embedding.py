"""asv suite for embedding models (HuggingFace transformers or any torch module taking token batches).

Subclass :class:`EmbeddingSuite`, give it a model and a batch, and asv measures per batch shape and
dtype: the forward time (``time_forward``), sequences/s and tokens/s, latency p50/p95, memory peaks
and energy per batch. See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc

from machmeter.suites.base import MeasuredSuite, build_before_timing, device_index, require_device, torch_dtype
from machmeter.suites.declare import declare


def parse_shape(shape: str) -> tuple[int, int]:
    """'8x128' -> (batch_size, sequence_length); one parameter keeps asv's product of params small."""
    batch, _, length = shape.partition("x")
    return int(batch), int(length)


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
    # Keep the CPU run short: larger batches run on GPUs only.
    cpu_max_tokens = 1024

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
        return None

    # -- building ---------------------------------------------------------------------------------
    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def build_forward(self, model, shape, dtype):
        import torch

        device = self.resolved_device()
        torch_device = require_device(device)
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
        return forward

    # -- the one measurement pass -----------------------------------------------------------------
    def measure(self, model, shape, dtype):
        from machmeter.instruments import measure_energy, time_callable, track_memory

        device = self.resolved_device()
        forward = self.build_forward(model, shape, dtype)
        batch_size, sequence_length = parse_shape(shape)
        latency = time_callable(forward, device=device, warmup_calls=0, min_repeats=self.latency_min_calls,
                                target_time=self.latency_target_time, label="forward")
        with track_memory(device=device) as memory:
            forward()
        peaks = memory.result
        # NVML measures the whole GPU: a CPU run would read the idle card's energy
        energy = measure_energy(forward, calls=self.energy_min_calls,
                                device_index=device_index(device)) if device.startswith("cuda") else None
        return {
            "device": device,
            "sequences_per_second": batch_size / latency.mean,
            "sequences_per_second__samples": [batch_size / s for s in latency.samples if s > 0],
            "tokens_per_second": batch_size * sequence_length / latency.mean,
            "tokens_per_second__samples": [batch_size * sequence_length / s for s in latency.samples if s > 0],
            "latency_ms_p50": latency.median * 1e3,
            "latency_ms_p50__samples": [s * 1e3 for s in latency.samples],
            "latency_ms_p95": latency.p95 * 1e3,
            "peak_torch_allocated_bytes": peaks.torch_allocated_bytes,
            "peak_torch_allocated_bytes__unavailable": "the torch CUDA allocator is not used on CPU",
            "peak_nvml_device_bytes": peaks.nvml_device_used_bytes,
            "peak_nvml_device_bytes__unavailable": "NVML is not available",
            "peak_host_rss_bytes": peaks.host_rss_bytes,
            "joules_per_batch": energy.joules_per_call if energy else None,
            "joules_per_batch__unavailable": "GPU energy only: a CPU run, or no NVML energy counter",
        }

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
