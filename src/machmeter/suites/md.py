"""asv suite for molecular dynamics through an ASE calculator.

Subclass :class:`MDSuite`, give it a system and a calculator, and asv measures per step: the time
(``time_md_step``), throughput (steps/s, ns/day), the latency distribution (p50/p95/p99: MD calls the
model millions of times, so tails matter), memory peaks (torch allocator, NVML device, host RSS),
memory growth per step over a trajectory (a leak), energy per step (NVML), NVE energy drift, NVT
temperature stability, NPT volume and pressure stability (Berendsen; calculators that give the stress)
and a geometry relaxation (steps and time to converge). See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc

from machmeter.suites.base import (
    MeasuredSuite,
    build_before_timing,
    device_index,
    require_device,
    resolved_device,
    torch_dtype,
)
from machmeter.suites.declare import declare

class MDSuite(MeasuredSuite):
    """Parameters: system size, device ("cpu", "cuda", or "auto": the GPU where there is one), dtype.
    Subclasses implement the two factories."""

    params = ([64, 512, 4096], ["cpu", "cuda"], ["float32", "float64"])
    param_names = ["n_atoms", "device", "dtype"]

    integrator = "nve"  # or "nvt" (Langevin)
    timestep_fs = 2.0
    temperature_K = 40.0
    warmup_steps = 5
    latency_target_time = 1.0  # seconds of stepping in the latency distribution
    latency_min_steps = 20
    memory_steps = 10
    drift_steps = 200  # NVE (drift, leak) and NVT trajectories, where no longer one is affordable
    energy_min_steps = 50
    # On a GPU, small systems are cheap enough for trajectories of 1,000 steps: drift, temperature and
    # memory growth over a run that long say more than over a few hundred steps (64-atom LJ: ~2 ms a
    # step on an H100, so 4 s for both trajectories).
    long_trajectory_steps = 1000
    long_trajectory_max_atoms = 100
    # A CPU pays seconds for a few hundred steps of a mid-sized system: its NVT check is a short one.
    cpu_nvt_steps = 40
    # NPT (Berendsen) at 1 bar; the compressibility only sets how fast the cell follows (solid argon ~0.3/GPa)
    npt_pressure_GPa = 1e-4
    npt_compressibility_per_GPa = 0.3
    # geometry relaxation from the lattice rattled by 0.05 A, until the largest force is below relax_fmax
    relax_optimizer = "FIRE"
    relax_fmax = 0.01
    relax_max_steps = 500
    # Host RSS (the CPU's leak measure) needs this many steps to tell a leak from heap regrowth.
    leak_min_host_steps = 1000
    # Keep the CPU run short: larger systems are measured on GPUs only.
    cpu_max_atoms = 512
    # ``time_md_step`` builds the simulation again in its own process; above this size that costs
    # more than it adds (the measured pass's per-step samples already give asv its statistics).
    live_timing_max_atoms: int | None = None

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_atoms(self, n_atoms: int):
        """The ase.Atoms to simulate (with velocities if the integrator should start warm)."""

    @abc.abstractmethod
    def make_calculator(self, device, dtype):
        """An ASE calculator on the torch device and dtype given."""

    def step_counts(self, n_atoms: int, device: str) -> dict[str, int]:
        """Steps each part of the measurement takes at this size: ``warmup``, ``latency_min``,
        ``memory``, ``energy_min``, ``nve`` (drift and memory growth), ``nvt`` (temperature), ``npt``
        (volume and pressure) and ``relax`` (the relaxation's most steps); 0 for ``nve``/``nvt``/``npt``/
        ``relax`` leaves that part out. Override to budget expensive models per size."""
        on_gpu = device.startswith("cuda")
        trajectory = (self.long_trajectory_steps if on_gpu and n_atoms <= self.long_trajectory_max_atoms
                      else self.drift_steps)
        return {"warmup": self.warmup_steps, "latency_min": self.latency_min_steps, "memory": self.memory_steps,
                "energy_min": self.energy_min_steps, "nve": trajectory,
                "nvt": trajectory if on_gpu else min(trajectory, self.cpu_nvt_steps),
                "npt": trajectory if on_gpu else min(trajectory, self.cpu_nvt_steps),
                "relax": self.relax_max_steps if on_gpu or n_atoms <= self.long_trajectory_max_atoms else 0}

    # -- building a simulation --------------------------------------------------------------------
    def _check_combination(self, n_atoms, device):
        torch_device = require_device(resolved_device(device))
        if torch_device.type == "cpu" and n_atoms > self.cpu_max_atoms:
            raise NotImplementedError(f"{n_atoms} atoms exceeds cpu_max_atoms={self.cpu_max_atoms}: a GPU size")
        return torch_device

    def build_simulation(self, n_atoms, device, dtype):
        from machmeter.workloads.md import make_integrator

        torch_device = self._check_combination(n_atoms, device)
        atoms = self.make_atoms(n_atoms)
        atoms.calc = self.make_calculator(torch_device, torch_dtype(dtype))
        dynamics = make_integrator(atoms, self.integrator, self.timestep_fs, temperature_K=self.temperature_K)
        dynamics.run(self.step_counts(n_atoms, str(torch_device))["warmup"])
        return dynamics

    def build_live_simulation(self, n_atoms, device, dtype):
        if self.live_timing_max_atoms is not None and n_atoms > self.live_timing_max_atoms:
            raise NotImplementedError(f"live asv timing up to live_timing_max_atoms={self.live_timing_max_atoms}: "
                                      "track_steps_per_second has this size's per-step samples")
        return self.build_simulation(n_atoms, device, dtype)

    # -- the one measurement pass -----------------------------------------------------------------
    def measure(self, n_atoms, device, dtype):
        from machmeter.instruments import leak_check, measure_energy, time_callable, track_memory
        from machmeter.workloads.md import npt_stability, nve_energy_drift, nvt_temperature_stability, relax

        dynamics = self.build_simulation(n_atoms, device, dtype)
        device = resolved_device(device)
        counts = self.step_counts(n_atoms, device)
        atoms = dynamics.atoms
        step = lambda: dynamics.run(1)  # noqa: E731

        latency = time_callable(step, device=device, warmup_calls=0, min_repeats=counts["latency_min"],
                                target_time=self.latency_target_time, label="md step")
        with track_memory(device=device) as memory:
            for _ in range(counts["memory"]):
                step()
        peaks = memory.result
        # NVML measures the whole GPU: a CPU run would read the idle card's energy
        energy = measure_energy(step, calls=counts["energy_min"],
                                device_index=device_index(device)) if device.startswith("cuda") else None

        # One NVE trajectory gives both the drift and the memory growth per step (a leak shows over
        # many calls, and MD makes many): the leak check drives the steps.
        drift = leak = None
        # On a GPU the CUDA allocator's count is exact; host RSS, after the leak check hands freed heap
        # back to the OS, regrows for a few hundred steps (kilobytes a step over 200 steps of a 64-atom
        # LJ run that leaks nothing), so on a CPU only a long trajectory's slope means a leak.
        measure_leak = device.startswith("cuda") or counts["nve"] >= self.leak_min_host_steps
        if counts["nve"]:
            leaks = []

            def drive(step_fn, steps):
                leaks.append(leak_check(step_fn, calls=steps, device=device, warmup_calls=0))

            drift = nve_energy_drift(self.make_atoms(n_atoms), atoms.calc, steps=counts["nve"],
                                     timestep_fs=self.timestep_fs, drive=drive if measure_leak else None)
            leak = leaks[0] if leaks else None
        nvt = None
        if counts["nvt"]:
            nvt = nvt_temperature_stability(self.make_atoms(n_atoms), atoms.calc, steps=counts["nvt"],
                                            timestep_fs=self.timestep_fs, temperature_K=self.temperature_K)
        skipped_trajectory = f"trajectory not run at {n_atoms} atoms on {device} (step_counts)"
        npt, npt_skipped = None, skipped_trajectory
        if counts.get("npt"):
            from ase.calculators.calculator import PropertyNotImplementedError

            try:
                npt = npt_stability(self.make_atoms(n_atoms), atoms.calc, steps=counts["npt"],
                                    timestep_fs=self.timestep_fs, temperature_K=self.temperature_K,
                                    pressure_GPa=self.npt_pressure_GPa,
                                    compressibility_per_GPa=self.npt_compressibility_per_GPa)
            except PropertyNotImplementedError:
                npt_skipped = "the calculator gives no stress: no NPT"
        relaxation = relax(self.make_atoms(n_atoms), atoms.calc, optimizer=self.relax_optimizer,
                           fmax=self.relax_fmax, max_steps=counts["relax"]) if counts.get("relax") else None
        skipped_relaxation = f"relaxation not run at {n_atoms} atoms on {device} (step_counts)"

        counters = self.counter_metrics(step, device, latency.mean)
        steps_per_second = 1.0 / latency.mean
        ns_per_day_per_step_rate = self.timestep_fs * 86400 / 1e6
        rates = [1.0 / s for s in latency.samples if s > 0]
        return {
            **counters,
            "device": device,
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
            "nve_steps": counts["nve"],
            "nve_drift_eV_per_atom_per_ps": abs(drift.drift_eV_per_atom_per_ps) if drift else None,
            "nve_drift_eV_per_atom_per_ps__unavailable": skipped_trajectory,
            "leak_bytes_per_step": leak.slope_bytes_per_call if leak else None,
            "leak_bytes_per_step__unavailable": skipped_trajectory if not counts["nve"] else (
                f"host memory growth over {counts['nve']} < leak_min_host_steps={self.leak_min_host_steps} "
                "steps is the heap regrowing, not a leak"),
            "leak_quantity": leak.quantity if leak else None,
            "npt_steps": counts.get("npt", 0),
            "npt_pressure_deviation_GPa": npt.pressure_deviation_GPa if npt else None,
            "npt_pressure_deviation_GPa__unavailable": npt_skipped,
            "npt_volume_drift": abs(npt.volume_drift) if npt else None,
            "npt_volume_drift__unavailable": npt_skipped,
            "npt_volume_fluctuation": npt.volume_fluctuation if npt else None,
            "npt_volume_fluctuation__unavailable": npt_skipped,
            "relax_steps": relaxation.steps if relaxation else None,
            "relax_steps__unavailable": skipped_relaxation,
            "relax_seconds": relaxation.seconds if relaxation else None,
            "relax_seconds__unavailable": skipped_relaxation,
            "relax_converged": relaxation.converged if relaxation else None,
            "nvt_steps": counts["nvt"],
            "nvt_temperature_deviation": nvt.relative_deviation if nvt else None,
            "nvt_temperature_deviation__unavailable": skipped_trajectory,
        }

    # -- asv benchmarks ---------------------------------------------------------------------------
    def time_md_step(self, measured, n_atoms, device, dtype):
        self.live(self.build_live_simulation).run(1)

    time_md_step.setup = build_before_timing("build_live_simulation")

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

    @declare(kind="memory", unit="B/step", tolerance_abs=500)
    def track_memory_growth_per_step(self, measured, n_atoms, device, dtype):
        """Least-squares slope of memory after each NVE step (the CUDA allocator on a GPU, host RSS on
        a CPU, over long runs only): a leak grows it by at least one allocation (512 B) a step; smaller
        changes are allocator noise."""
        return self.metric("leak_bytes_per_step")

    @declare(kind="accuracy", unit="fraction", higher_is_better=False, tolerance_abs=0.1)
    def track_nvt_temperature_deviation(self, measured, n_atoms, device, dtype):
        """|mean kinetic temperature - target| / target over the second half of a Langevin run."""
        return self.metric("nvt_temperature_deviation")

    # Berendsen NPT over the second half of the run: how far the mean pressure sits from the target, and
    # how much the cell keeps moving (a force or stress regression shows in both)
    @declare(kind="accuracy", unit="GPa", higher_is_better=False, tolerance_abs=0.05)
    def track_npt_pressure_deviation(self, measured, n_atoms, device, dtype):
        return self.metric("npt_pressure_deviation_GPa")

    @declare(kind="accuracy", unit="fraction", higher_is_better=False, tolerance_abs=0.01)
    def track_npt_volume_drift(self, measured, n_atoms, device, dtype):
        """|least-squares change of the volume over the kept part| / mean volume."""
        return self.metric("npt_volume_drift")

    @declare(kind="accuracy", unit="fraction", higher_is_better=False, tolerance_abs=0.005)
    def track_npt_volume_fluctuation(self, measured, n_atoms, device, dtype):
        return self.metric("npt_volume_fluctuation")

    # steps to converge: deterministic on a CPU, a step or two apart on a GPU (float order); 10 % is a
    # real change of the forces or the optimiser, and a relaxation that no longer converges takes all
    @declare(kind="count", unit="steps", regression_threshold=0.1)
    def track_relaxation_steps(self, measured, n_atoms, device, dtype):
        return self.metric("relax_steps")

    @declare(kind="time", unit="s")
    def track_relaxation_time(self, measured, n_atoms, device, dtype):
        """Wall time of the relaxation to relax_fmax (the calculator returns host arrays: synchronised)."""
        return self.metric("relax_seconds")

    # -- noise-free counters, per call (docs/writing-gpu-benchmarks.md, counters) -----------------
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, n_atoms, device, dtype):
        """Top-level aten operators dispatched per call: exact, on a CPU too."""
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, n_atoms, device, dtype):
        return self.metric("counter_kernels")

    # Summed GPU kernel time moves by about 0.2% between processes (64-atom LJ on an H200, issue 13),
    # where wall time moves by tens of percent: a 1% threshold is far above its noise.
    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, n_atoms, device, dtype):
        return self.metric("counter_kernel_us")


    # kernel time / timed wall per call: where a call's time goes (the site's view); it inherits wall
    # time's noise, so it is shown, never judged
    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, n_atoms, device, dtype):
        return self.metric("counter_busy_fraction")
