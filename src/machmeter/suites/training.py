"""asv suite for training steps: forward, backward and optimiser step timed separately.

Subclass :class:`TrainingStepSuite`, give it a model, a batch, a loss and how many items (samples,
structures, tokens) a batch holds, and asv measures per batch size and dtype: the median time of each
phase of a step (the loss computed, ``loss.backward()``, ``optimizer.step()`` with ``zero_grad``), the
whole step's time and its throughput in the suite's items per second, the step's memory peaks, and
the step's noise-free counters. See docs/writing-gpu-benchmarks.md ("Training steps").
"""

from __future__ import annotations

import abc
import types
from typing import Any, Callable, ClassVar

from machmeter.suites.base import MeasuredSuite, build_before_timing, require_device, resolved_device, torch_dtype
from machmeter.suites.declare import declare

HALF_PRECISION = ("float16", "bfloat16")


class TrainingStep:
    """One model, optimiser and batch, stepped phase by phase (as the timer sees it) or whole."""

    def __init__(self, model, optimizer, batch, loss: Callable[[Any, Any], Any]):
        self.model = model
        self.optimizer = optimizer
        self.batch = batch
        self._loss_of = loss
        self._loss = None  # held from forward to backward: the graph backward runs through

    def forward(self):
        self._loss = self._loss_of(self.model, self.batch)
        return self._loss

    def backward(self):
        if self._loss is None:
            raise RuntimeError("backward() before forward(): no loss to backpropagate")
        loss, self._loss = self._loss, None
        loss.backward()

    def optimizer_step(self):
        self.optimizer.step()
        # set_to_none frees the gradients until the next backward allocates them: a training loop's
        # memory profile, and no zero-fill kernel per parameter
        self.optimizer.zero_grad(set_to_none=True)

    def __call__(self):
        self.forward()
        self.backward()
        self.optimizer_step()


class TrainingStepSuite(MeasuredSuite):
    """Parameters: batch size (whatever ``make_batch`` reads: a count or a shape such as '2x64'), device
    ("auto": the GPU where there is one), dtype. Subclasses give the model, the batch, the loss and
    ``batch_items``; ``items_unit`` names what ``batch_items`` counts (the throughput's unit)."""

    params = (["size"], ["auto"], ["float32", "bfloat16"])
    param_names = ["size", "device", "dtype"]

    # what batch_items counts: the throughput is declared in "<items_unit>/s"
    items_unit: ClassVar[str] = "samples"
    learning_rate = 1e-4
    warmup_steps = 3
    phase_min_steps = 10
    phase_target_time = 0.5  # seconds of synchronised phases
    step_min_steps = 10
    step_target_time = 0.5  # seconds of whole steps, not synchronised inside
    # a training step is many times an inference call: a short profiled window has exact counts already
    counter_calls = 5
    # sizes measured on a CPU (None: all): larger ones are GPU sizes
    cpu_sizes: ClassVar[tuple | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "track_step_throughput" in cls.__dict__:
            return
        # the unit is the subclass's (structures/s, tokens/s): declared on a function of its own, since
        # declare writes attributes on the function and the base's is shared by every subclass
        base = TrainingStepSuite.track_step_throughput
        function = types.FunctionType(base.__code__, base.__globals__, base.__name__, base.__defaults__,
                                      base.__closure__)
        function.__doc__, function.__module__ = base.__doc__, base.__module__
        function.__qualname__ = f"{cls.__qualname__}.track_step_throughput"
        cls.track_step_throughput = declare(kind="throughput", unit=f"{cls.items_unit}/s")(function)

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_model(self, device, dtype):
        """The torch module to train, on the device and in the dtype given, its parameters trainable."""

    @abc.abstractmethod
    def make_batch(self, device, dtype, size):
        """The inputs and targets of one step at this size (anything ``loss`` and ``batch_items`` read)."""

    @abc.abstractmethod
    def loss(self, model, batch):
        """The scalar loss tensor of ``model`` on ``batch``: the forward phase."""

    @abc.abstractmethod
    def batch_items(self, batch) -> int:
        """How many ``items_unit`` the batch holds (samples, structures, tokens): the throughput's count."""

    def make_optimizer(self, parameters):
        import torch

        return torch.optim.AdamW(parameters, lr=self.learning_rate)

    def skip_reason(self, size, dtype: str, device) -> str | None:
        """Why a combination is not measured on this machine (None: measure it)."""
        if device.type != "cpu":
            return None
        if self.cpu_sizes is not None and size not in self.cpu_sizes:
            return f"size {size} is measured on GPUs only (cpu_sizes={self.cpu_sizes})"
        if dtype in HALF_PRECISION:
            # most CPUs have no half-precision matrix units: torch converts to float32 around each
            # operation, so a CPU run would time the conversions
            return f"{dtype} training is measured on GPUs only (CPUs keep to float32 and float64)"
        return None

    # -- building ---------------------------------------------------------------------------------
    def build_step(self, size, device, dtype) -> TrainingStep:
        """The model, optimiser and batch of a combination, warmed up by ``warmup_steps`` whole steps
        (the optimiser's state is allocated by its first step, the allocator and kernels settle)."""
        torch_device = require_device(resolved_device(device))
        reason = self.skip_reason(size, dtype, torch_device)
        if reason:
            raise NotImplementedError(reason)
        tensor_dtype = torch_dtype(dtype)
        model = self.make_model(torch_device, tensor_dtype)
        trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
        if not trainable:
            raise ValueError(f"{type(self).__name__}.make_model returned a model without trainable parameters")
        step = TrainingStep(model, self.make_optimizer(trainable), self.make_batch(torch_device, tensor_dtype, size),
                            self.loss)
        for _ in range(self.warmup_steps):
            step()
        return step

    # -- the one measurement pass -----------------------------------------------------------------
    def measure(self, size, device, dtype):
        from machmeter.instruments import time_callable, time_phases, track_memory

        step = self.build_step(size, device, dtype)
        device = resolved_device(device)
        items = self.batch_items(step.batch)
        phases = time_phases({"forward": step.forward, "backward": step.backward, "optimizer": step.optimizer_step},
                             device=device, warmup_calls=0, min_repeats=self.phase_min_steps,
                             target_time=self.phase_target_time)
        # The whole step without synchronisations inside, as a training loop runs it (on a GPU, CUDA
        # events at step boundaries): its time is what the throughput is of.
        whole = time_callable(step, device=device, warmup_calls=0, min_repeats=self.step_min_steps,
                              target_time=self.step_target_time, label="training step")
        with track_memory(device=device) as memory:
            step()
        peaks = memory.result
        counters = self.counter_metrics(step, device, whole.mean)
        metrics = {
            **counters,
            "device": device,
            "batch_items": items,
            "step_ms_p50": whole.median * 1e3,
            "step_ms_p50__samples": [s * 1e3 for s in whole.samples],
            "items_per_second": items / whole.mean,
            "items_per_second__samples": [items / s for s in whole.samples if s > 0],
            "peak_torch_allocated_bytes": peaks.torch_allocated_bytes,
            "peak_torch_allocated_bytes__unavailable": "the torch CUDA allocator is not used on CPU",
            "peak_nvml_device_bytes": peaks.nvml_device_used_bytes,
            "peak_nvml_device_bytes__unavailable": "NVML is not available",
            "peak_host_rss_bytes": peaks.host_rss_bytes,
        }
        for phase, measurement in phases.items():
            metrics[f"{phase}_ms_p50"] = measurement.median * 1e3
            metrics[f"{phase}_ms_p50__samples"] = [s * 1e3 for s in measurement.samples]
        return metrics

    # -- asv benchmarks ---------------------------------------------------------------------------
    def time_training_step(self, measured, size, device, dtype):
        self.live(self.build_step)()

    time_training_step.setup = build_before_timing("build_step")

    @declare(kind="time", unit="ms")
    def track_forward_latency_p50(self, measured, size, device, dtype):
        """The loss computed from the batch, synchronised before and after."""
        return self.metric_distribution("forward_ms_p50")

    @declare(kind="time", unit="ms")
    def track_backward_latency_p50(self, measured, size, device, dtype):
        """``loss.backward()``, synchronised before and after."""
        return self.metric_distribution("backward_ms_p50")

    @declare(kind="time", unit="ms")
    def track_optimizer_latency_p50(self, measured, size, device, dtype):
        """``optimizer.step()`` and ``zero_grad``, synchronised before and after."""
        return self.metric_distribution("optimizer_ms_p50")

    @declare(kind="time", unit="ms")
    def track_step_latency_p50(self, measured, size, device, dtype):
        """The whole step in a loop, not synchronised between its phases."""
        return self.metric_distribution("step_ms_p50")

    @declare(kind="throughput", unit="samples/s")
    def track_step_throughput(self, measured, size, device, dtype):
        """Items of the batch (the suite's ``items_unit``) over the whole step's time, per step."""
        return self.metric_distribution("items_per_second")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_torch(self, measured, size, device, dtype):
        """Peak of the CUDA allocator over one step: weights, gradients, optimiser state, activations."""
        return self.metric("peak_torch_allocated_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_device(self, measured, size, device, dtype):
        return self.metric("peak_nvml_device_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_host(self, measured, size, device, dtype):
        return self.metric("peak_host_rss_bytes")

    # -- noise-free counters, per step (docs/writing-gpu-benchmarks.md, counters) -----------------
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, size, device, dtype):
        """Top-level aten operators dispatched per step: exact, on a CPU too."""
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, size, device, dtype):
        return self.metric("counter_kernels")

    # summed GPU kernel time is far steadier than wall time between processes (issue 13): 1% is above its noise
    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, size, device, dtype):
        return self.metric("counter_kernel_us")

    # kernel time / timed wall per step: where a step's time goes (the site's view); it inherits wall
    # time's noise, so it is shown, never judged
    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, size, device, dtype):
        return self.metric("counter_busy_fraction")
