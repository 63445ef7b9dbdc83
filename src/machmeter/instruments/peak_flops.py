"""Peak FLOP rates of a GPU per precision: the datasheet table, keyed by the NVML device name, and a
measured peak (the achieved rate of a large matrix product), for model FLOP utilisation (MFU).

MFU divides the FLOPs a model's forward must do (counted analytically, e.g.
:func:`machmeter.workloads.esm.forward_flops`) per second by the GPU's peak for the precision the
matrix products actually run in. The datasheet figure is the denominator (the convention of the MFU
literature, comparable across machines); the measured matrix-product rate says how much of it this
particular card, at its clocks and power limit, reaches at all, and is reported beside it.

The table holds dense figures: NVIDIA's datasheets quote tensor-core rates "with sparsity" (2:4
structured sparsity), twice the dense rate that a transformer's matmuls can reach. A float32 product
runs on the tensor cores as TF32 only when torch allows it (``torch.backends.cuda.matmul.allow_tf32``,
off by default), so :func:`matmul_precision` names the precision from the dtype *and* that setting.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .timer import Measurement, call_repeatedly, time_callable

#: Precisions the table knows; "tf32" is float32 tensors multiplied on TF32 tensor cores.
PRECISIONS = ("float32", "tf32", "bfloat16", "float16")


@dataclass(frozen=True)
class GpuPeak:
    """Dense peak rates of one GPU model, in FLOP/s per precision (absent: no such hardware path)."""

    model: str
    flops: dict[str, float]
    source: str


def _gpu(model: str, source: str, *tflops: float | None) -> GpuPeak:
    """An entry from dense TFLOP/s in the order of :data:`PRECISIONS` (None: no such hardware)."""
    return GpuPeak(model, {p: t * 1e12 for p, t in zip(PRECISIONS, tflops) if t is not None}, source)


# NVIDIA's product datasheets; tensor-core figures are the dense ones (half the "with sparsity"
# numbers printed there); float32 is the CUDA-core rate. Columns: float32, tf32, bfloat16, float16.
_H100_SXM = _gpu("H100 SXM5", "H100 datasheet (SXM5)", 66.9, 494.7, 989.4, 989.4)
_H100_PCIE = _gpu("H100 PCIe", "H100 datasheet (PCIe)", 51.2, 378.0, 756.0, 756.0)
_H100_NVL = _gpu("H100 NVL", "H100 datasheet (NVL, per GPU)", 60.0, 417.5, 835.5, 835.5)
_H200_SXM = _gpu("H200 SXM", "H200 datasheet (SXM)", 66.9, 494.7, 989.4, 989.4)
_H200_NVL = _gpu("H200 NVL", "H200 datasheet (NVL)", 60.0, 417.5, 835.5, 835.5)
_GH200 = _gpu("GH200", "GH200 datasheet (its H100 GPU)", 66.9, 494.7, 989.4, 989.4)
_A100 = _gpu("A100", "A100 datasheet (SXM4 and PCIe, 40 and 80 GB)", 19.5, 156.0, 312.0, 312.0)
_L40S = _gpu("L40S", "L40S datasheet", 91.6, 183.0, 362.05, 362.05)
_L4 = _gpu("L4", "L4 datasheet", 30.3, 60.0, 121.0, 121.0)
_A10 = _gpu("A10", "A10 datasheet", 31.2, 62.5, 125.0, 125.0)
# Volta and Turing have no bfloat16 or TF32 tensor cores: those precisions are absent, not zero.
_V100 = _gpu("V100", "V100 datasheet (SXM2)", 15.7, None, None, 125.0)
_T4 = _gpu("T4", "T4 datasheet", 8.1, None, None, 65.0)

# NVML names, lower-cased with the "NVIDIA " / "Tesla " prefix removed, each matched in full. The
# order matters only where a pattern could overlap another (NVL and PCIe before the plain H100).
_TABLE: tuple[tuple[str, GpuPeak], ...] = (
    (r"h100 nvl", _H100_NVL),
    (r"h100 pcie( \d+gb)?", _H100_PCIE),
    (r"h100( sxm5?)?( \d+gb)?( hbm3e?)?", _H100_SXM),  # "NVIDIA H100 80GB HBM3" is the SXM5 part
    (r"h200 nvl", _H200_NVL),
    (r"h200( sxm)?( \d+gb)?( hbm3e)?", _H200_SXM),
    (r"gh200( \d+gb)?( hbm3e?)?", _GH200),
    (r"a100([- ]sxm4?)?([- ]pcie)?[- ]\d+gb( pcie)?", _A100),  # A100-SXM4-80GB, A100-PCIE-40GB, A100 80GB PCIe
    (r"l40s", _L40S),
    (r"l4", _L4),
    (r"a10", _A10),
    (r"v100[- ]sxm2[- ]\d+gb", _V100),
    (r"t4", _T4),
)


@dataclass(frozen=True)
class PeakLookup:
    """The datasheet peak for a device and precision, or the reason there is none."""

    device_name: str
    precision: str
    flops: float | None
    reason: str | None = None
    gpu: GpuPeak | None = field(default=None, repr=False)


def _normalised(device_name: str) -> str:
    name = " ".join(device_name.strip().lower().split())
    for prefix in ("nvidia ", "tesla "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def gpu_peak(device_name: str) -> GpuPeak | None:
    """The table entry for an NVML device name ("NVIDIA H100 80GB HBM3"), or None."""
    name = _normalised(device_name)
    for pattern, peak in _TABLE:
        if re.fullmatch(pattern, name):
            return peak
    return None


def lookup_peak(device_name: str | None, precision: str) -> PeakLookup:
    """Datasheet peak FLOP/s of ``device_name`` in ``precision`` (see :data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    name = device_name or ""
    if not name or name.lower() in ("none", "unknown", "cpu"):
        return PeakLookup(name, precision, None, "no GPU name to look up a peak for (CPU, or NVML unavailable)")
    if " mig " in f" {name.lower()} ":
        # A MIG slice has a fraction of the SMs, and NVML's name does not say which fraction of the
        # datasheet rate that is for every profile.
        return PeakLookup(name, precision, None, f"{name!r} is a MIG slice: its share of the datasheet peak is not tabled")
    peak = gpu_peak(name)
    if peak is None:
        return PeakLookup(name, precision, None,
                          f"no datasheet peak for GPU {name!r} in machmeter.instruments.peak_flops")
    flops = peak.flops.get(precision)
    if flops is None:
        return PeakLookup(name, precision, None, f"{peak.model} has no {precision} matrix hardware", peak)
    return PeakLookup(name, precision, flops, None, peak)


def matmul_precision(dtype: torch.dtype) -> str:
    """The precision torch multiplies ``dtype`` matrices in on CUDA, TF32 included when allowed."""
    if dtype == torch.float32:
        return "tf32" if _tf32_allowed() else "float32"
    if dtype == torch.bfloat16:
        return "bfloat16"
    if dtype == torch.float16:
        return "float16"
    raise ValueError(f"no peak FLOP rate is tabled for {dtype}")


def model_flop_utilisation(flops: float, seconds: float, peak_flops: float) -> float:
    """MFU as a fraction: the achieved rate ``flops / seconds`` over ``peak_flops``."""
    if seconds <= 0 or peak_flops <= 0:
        raise ValueError(f"seconds and peak_flops must be positive, got {seconds} and {peak_flops}")
    return flops / seconds / peak_flops


@dataclass
class MatmulPeak:
    """Achieved FLOP/s of a square matrix product: what this card reaches, beside the datasheet."""

    precision: str
    size: int
    device: str
    timing: Measurement

    @property
    def flops_per_call(self) -> int:
        return 2 * self.size**3

    @property
    def flops_per_second(self) -> float:
        """From the median call: steady state, not the first calls' clock ramp."""
        return self.flops_per_call / self.timing.median if self.timing.samples else math.nan

    @property
    def samples(self) -> list[float]:
        return [self.flops_per_call / s for s in self.timing.samples if s > 0]


_PRECISION_DTYPES = {"float32": torch.float32, "tf32": torch.float32, "bfloat16": torch.bfloat16,
                     "float16": torch.float16}


def measure_matmul_peak(precision: str, device: str | torch.device = "cuda", size: int | None = None,
                        target_time: float = 0.3, min_repeats: int = 10) -> MatmulPeak:
    """Time ``size``³ matrix products in ``precision`` and return the achieved rate.

    The default size, 8192 on a GPU, is large enough to saturate a Hopper's tensor cores (one bf16
    product is 1.1 TFLOP, about 1.4 ms on an H100) and small enough to measure in a fraction of a
    second; on a CPU 1024 keeps a call near 0.1 s. Inputs are random normal: all-zero operands run
    measurably faster on Hopper (less switching power, higher sustained clocks) and would overstate
    the peak.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    device = torch.device(device)
    if size is None:
        size = 8192 if device.type == "cuda" else 1024
    dtype = _PRECISION_DTYPES[precision]
    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    b = torch.randn(size, size, device=device, dtype=dtype, generator=generator)
    out = torch.empty(size, size, device=device, dtype=dtype)
    with _tf32_matmuls(precision == "tf32"):
        def product():
            return torch.mm(a, b, out=out)

        # A call is one long kernel: time_callable stops on the host clock, by which time the host
        # has queued as many products as the launch queue holds (hundreds: ten seconds of float32
        # products of 8192 on an H100, for a 0.3 s target). Bound the count by the rate of a
        # synchronised warm-up instead.
        calls, seconds = call_repeatedly(product, 3, 0.0, device)
        bound = max(min_repeats, math.ceil(target_time * calls / seconds))
        timing = time_callable(product, device=device, warmup_calls=0, min_repeats=min_repeats, max_repeats=bound,
                               target_time=target_time, label=f"matmul {precision}")
    return MatmulPeak(precision, size, str(device), timing)


def _tf32_allowed() -> bool:
    matmul = torch.backends.cuda.matmul
    # fp32_precision reflects both APIs; reading allow_tf32 raises once the newer one has been set.
    if hasattr(matmul, "fp32_precision"):
        return matmul.fp32_precision == "tf32"
    return bool(matmul.allow_tf32)


@contextlib.contextmanager
def _tf32_matmuls(enabled: bool) -> Iterator[None]:
    """Allow or forbid TF32 float32 products for the block, through the API the caller uses: torch
    refuses to report a precision once the legacy ``allow_tf32`` and the newer ``fp32_precision``
    have both been set."""
    matmul = torch.backends.cuda.matmul
    if hasattr(matmul, "fp32_precision"):
        saved = matmul.fp32_precision
        matmul.fp32_precision = "tf32" if enabled else "ieee"
        try:
            yield
        finally:
            matmul.fp32_precision = saved
        return
    saved = matmul.allow_tf32
    matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        matmul.allow_tf32 = saved
