"""asv suite for batched MD: ``R`` replicas of a system stepped in one call, against ``R`` separate calls.

A small system leaves a GPU idle between launches, so ensemble MD (replicas at other seeds or
temperatures) runs faster when one call steps every replica. :class:`BatchedMDSuite` measures, side by
side in one process, one batched velocity-Verlet step of all replicas and the same step done as ``R``
separate calls (a batch of one each: the same integrator and potential), alternated within every
repetition (``time_phases``) so that clocks and load drift alike for both:

* ``track_replica_steps_per_second``: replicas x steps per second of the batched run;
* ``track_batched_speedup``: the R separate calls' time / the batched call's time, per repetition;
* ``track_separate_replica_steps_per_second``: the same rate done separately, the speedup's unit.

Where the calculator has no batched form, ``make_batched_potential`` raises NotImplementedError(reason):
asv's skip. See docs/writing-gpu-benchmarks.md.
"""

from __future__ import annotations

import abc

from machmeter.suites.base import MeasuredSuite, require_device, resolved_device, torch_dtype
from machmeter.suites.declare import declare

__all__ = ["BatchedMDSuite"]


class BatchedMDSuite(MeasuredSuite):
    """Parameters: replicas per call and device ("cpu", "cuda"; CUDA is skipped where absent).
    Subclasses give the replicas and the batched potential."""

    params = ([4, 16], ["cpu", "cuda"])
    param_names = ["replicas", "device"]

    n_atoms = 256
    dtype = "float32"
    timestep_fs = 2.0
    temperature_K = 40.0
    warmup_steps = 3
    timing_target_time = 0.5  # seconds of batched and separate steps together, per combination
    timing_min_repeats = 5

    # -- what a user provides ---------------------------------------------------------------------
    @abc.abstractmethod
    def make_replicas(self, replicas: int) -> list:
        """``replicas`` ase.Atoms of one system (same atoms, cell and pbc) with their velocities."""

    @abc.abstractmethod
    def make_batched_potential(self, device, dtype):
        """An object with ``energy_forces(positions (R, N, 3), cell, pbc) -> (energies (R,), forces (R, N,
        3))`` on the torch device and dtype; NotImplementedError(reason) where the model has none. Called
        once for the batch and once per separate replica (each keeps its own neighbour lists)."""

    # -- the one measurement pass -----------------------------------------------------------------
    def _integrator(self, atoms_list, device, dtype):
        from machmeter.workloads.batched_md import BatchedVelocityVerlet, replicas_of

        positions, velocities, masses, (cell, pbc) = replicas_of(atoms_list, device, dtype)
        return BatchedVelocityVerlet(self.make_batched_potential(device, dtype), positions, velocities, masses,
                                     self.timestep_fs, cell, pbc)

    def measure(self, replicas, device):
        from machmeter.instruments import time_phases

        torch_device = require_device(resolved_device(device))
        dtype = torch_dtype(self.dtype)
        atoms_list = self.make_replicas(replicas)
        if len(atoms_list) != replicas:
            raise ValueError(f"make_replicas({replicas}) gave {len(atoms_list)} replicas")
        batched = self._integrator(atoms_list, torch_device, dtype)
        separate = [self._integrator([atoms], torch_device, dtype) for atoms in atoms_list]

        def separate_steps():
            for integrator in separate:
                integrator.step()

        phases = time_phases({"batched": batched.step, "separate": separate_steps}, device=torch_device,
                             warmup_calls=self.warmup_steps, min_repeats=self.timing_min_repeats,
                             target_time=self.timing_target_time)
        batched_s, separate_s = phases["batched"].samples, phases["separate"].samples
        rates = [replicas / s for s in batched_s if s > 0]
        counters = self.counter_metrics(batched.step, str(torch_device), phases["batched"].mean)
        return {
            **counters,
            "device": str(torch_device),
            "atoms_per_replica": len(atoms_list[0]),
            "replica_steps_per_second": replicas / phases["batched"].median,
            "replica_steps_per_second__samples": rates,
            "separate_replica_steps_per_second": replicas / phases["separate"].median,
            "separate_replica_steps_per_second__samples": [replicas / s for s in separate_s if s > 0],
            # each repetition's pair: both measured within the same few milliseconds
            "batched_speedup": phases["separate"].median / phases["batched"].median,
            "batched_speedup__samples": [s / b for s, b in zip(separate_s, batched_s) if b > 0],
        }

    # -- asv benchmarks ---------------------------------------------------------------------------
    @declare(kind="throughput", unit="replica-steps/s")
    def track_replica_steps_per_second(self, measured, replicas, device):
        """Replicas x steps per second, all replicas stepped in one batched call."""
        return self.metric_distribution("replica_steps_per_second")

    @declare(kind="throughput", unit="replica-steps/s")
    def track_separate_replica_steps_per_second(self, measured, replicas, device):
        """The same steps as one call per replica, timed in the same repetitions."""
        return self.metric_distribution("separate_replica_steps_per_second")

    @declare(kind="throughput", unit="x")
    def track_batched_speedup(self, measured, replicas, device):
        """Time of R separate calls / time of one batched call, per repetition (side by side)."""
        return self.metric_distribution("batched_speedup")

    # -- noise-free counters of the batched step --------------------------------------------------
    @declare(kind="count", unit="ops")
    def track_aten_ops_per_call(self, measured, replicas, device):
        return self.metric("counter_aten_ops")

    @declare(kind="count", unit="kernels")
    def track_kernels_per_call(self, measured, replicas, device):
        return self.metric("counter_kernels")

    @declare(kind="time", unit="us", regression_threshold=0.01)
    def track_gpu_kernel_time_per_call(self, measured, replicas, device):
        return self.metric("counter_kernel_us")

    # kernel time / timed wall per call: where a call's time goes (the site's view); shown, never judged
    @declare(kind="state", unit="fraction", higher_is_better=True)
    def track_gpu_busy_fraction(self, measured, replicas, device):
        return self.metric("counter_busy_fraction")
