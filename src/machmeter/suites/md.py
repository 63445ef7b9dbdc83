"""asv suite for molecular dynamics through an ASE calculator.

Subclass :class:`MDSuite`, give it a system and a calculator, and asv measures per step: the time
(``time_md_step``), throughput (steps/s, ns/day), the latency distribution (p50/p95/p99: MD calls the
model millions of times, so tails matter), memory peaks (torch allocator, NVML device, host RSS),
energy per step (NVML) and NVE energy drift. See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc

from machmeter.suites.base import MeasuredSuite, build_before_timing, device_index, require_device, torch_dtype
from machmeter.suites.declare import declare

class MDSuite(MeasuredSuite):
    """Parameters: system size, device, dtype. Subclasses implement the two factories."""

    params = ([64, 512, 4096], ["cpu", "cuda"], ["float32", "float64"])
    param_names = ["n_atoms", "device", "dtype"]

    integrator = "nve"  # or "nvt" (Langevin)
    timestep_fs = 2.0
    temperature_K = 40.0
    warmup_steps = 5
    latency_target_time = 1.0  # seconds of stepping in the latency distribution
    latency_min_steps = 20
    memory_steps = 10
    drift_steps = 200
    energy_min_steps = 50
    # Keep the CPU run short: larger systems are measured on GPUs only.
    cpu_max_atoms = 512

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_atoms(self, n_atoms: int):
        """The ase.Atoms to simulate (with velocities if the integrator should start warm)."""

    @abc.abstractmethod
    def make_calculator(self, device, dtype):
        """An ASE calculator on the torch device and dtype given."""

    # -- building a simulation --------------------------------------------------------------------
    def _check_combination(self, n_atoms, device):
        torch_device = require_device(device)
        if torch_device.type == "cpu" and n_atoms > self.cpu_max_atoms:
            raise NotImplementedError(f"{n_atoms} atoms exceeds cpu_max_atoms={self.cpu_max_atoms}")
        return torch_device

    def build_simulation(self, n_atoms, device, dtype):
        from machmeter.workloads.md import make_integrator

        torch_device = self._check_combination(n_atoms, device)
        atoms = self.make_atoms(n_atoms)
        atoms.calc = self.make_calculator(torch_device, torch_dtype(dtype))
        dynamics = make_integrator(atoms, self.integrator, self.timestep_fs, temperature_K=self.temperature_K)
        dynamics.run(self.warmup_steps)
        return dynamics

    # -- the one measurement pass -----------------------------------------------------------------
    def measure(self, n_atoms, device, dtype):
        from machmeter.instruments import measure_energy, time_callable, track_memory
        from machmeter.workloads.md import nve_energy_drift

        dynamics = self.build_simulation(n_atoms, device, dtype)
        atoms = dynamics.atoms
        step = lambda: dynamics.run(1)  # noqa: E731

        latency = time_callable(step, device=device, warmup_calls=0, min_repeats=self.latency_min_steps,
                                target_time=self.latency_target_time, label="md step")
        with track_memory(device=device) as memory:
            for _ in range(self.memory_steps):
                step()
        peaks = memory.result
        # NVML measures the whole GPU: a CPU run would read the idle card's energy
        energy = measure_energy(step, calls=self.energy_min_steps,
                                device_index=device_index(device)) if device.startswith("cuda") else None

        drift_atoms = self.make_atoms(n_atoms)
        drift = nve_energy_drift(drift_atoms, atoms.calc, steps=self.drift_steps, timestep_fs=self.timestep_fs)

        steps_per_second = 1.0 / latency.mean
        ns_per_day_per_step_rate = self.timestep_fs * 86400 / 1e6
        rates = [1.0 / s for s in latency.samples if s > 0]
        return {
            "steps_per_second": steps_per_second,
            "steps_per_second__samples": rates,
            "ns_per_day": steps_per_second * ns_per_day_per_step_rate,
            "ns_per_day__samples": [r * ns_per_day_per_step_rate for r in rates],
            "step_ms_p50": latency.median * 1e3,
            "step_ms_p50__samples": [s * 1e3 for s in latency.samples],
            "step_ms_p95": latency.p95 * 1e3,
            "step_ms_p99": latency.p99 * 1e3,
            "peak_torch_allocated_bytes": peaks.torch_allocated_bytes,
            "peak_torch_allocated_bytes__unavailable": "the torch CUDA allocator is not used on CPU",
            "peak_nvml_device_bytes": peaks.nvml_device_used_bytes,
            "peak_nvml_device_bytes__unavailable": "NVML is not available",
            "peak_host_rss_bytes": peaks.host_rss_bytes,
            "joules_per_step": energy.joules_per_call if energy else None,
            "joules_per_step__unavailable": "GPU energy only: a CPU run, or no NVML energy counter",
            "nve_drift_eV_per_atom_per_ps": abs(drift.drift_eV_per_atom_per_ps),
        }

    # -- asv benchmarks ---------------------------------------------------------------------------
    def time_md_step(self, measured, n_atoms, device, dtype):
        self.live(self.build_simulation).run(1)

    time_md_step.setup = build_before_timing("build_simulation")

    @declare(kind="throughput", unit="steps/s")
    def track_steps_per_second(self, measured, n_atoms, device, dtype):
        """Median over steps of 1/step time (asv's value of the per-step samples)."""
        return self.metric_distribution("steps_per_second")

    @declare(kind="throughput", unit="ns/day")
    def track_ns_per_day(self, measured, n_atoms, device, dtype):
        return self.metric_distribution("ns_per_day")

    @declare(kind="time", unit="ms")
    def track_step_latency_p50(self, measured, n_atoms, device, dtype):
        return self.metric_distribution("step_ms_p50")

    @declare(kind="time", unit="ms")
    def track_step_latency_p95(self, measured, n_atoms, device, dtype):
        return self.metric("step_ms_p95")

    @declare(kind="time", unit="ms")
    def track_step_latency_p99(self, measured, n_atoms, device, dtype):
        return self.metric("step_ms_p99")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_torch(self, measured, n_atoms, device, dtype):
        return self.metric("peak_torch_allocated_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_device(self, measured, n_atoms, device, dtype):
        return self.metric("peak_nvml_device_bytes")

    @declare(kind="memory", unit="bytes")
    def track_peak_memory_host(self, measured, n_atoms, device, dtype):
        return self.metric("peak_host_rss_bytes")

    @declare(kind="energy", unit="J")
    def track_energy_per_step(self, measured, n_atoms, device, dtype):
        return self.metric("joules_per_step")

    @declare(kind="accuracy", unit="eV/atom/ps", higher_is_better=False, tolerance_abs=1e-3)
    def track_nve_energy_drift(self, measured, n_atoms, device, dtype):
        return self.metric("nve_drift_eV_per_atom_per_ps")
