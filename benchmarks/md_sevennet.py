"""MD with the pretrained SevenNet-0 force field (the mlff extra) on diamond silicon, 512 and 10,648
atoms, on the GPU.

SevenNet-0 takes ~30 ms a step up to ~1,000 atoms on an H100 (e3nn's kernel launches bound it) and
~0.4 s at 10,000 atoms (34 GB), so the step counts are chosen per size (``step_counts``): 512 atoms run
NVE and NVT trajectories of 100 steps, 10,648 atoms measure latency, memory and energy per step only.
A size that does not fit the GPU is skipped as "out of memory". CPUs skip this class (seconds a
step): they run SevenNet-0's accuracy and students (md_students.py) instead.

Outside the per-commit budget (a 10,000-atom class costs ~25 s of a GPU run): 10,976-atom copper
(53 GB, 0.6 s a step on an H100) and 10,125-atom water (63 GB, 0.7 s a step) are GPU tests
(tests/test_mlff.py), as is the 1,000-step NVE drift and memory-growth check; a project that wants them
per commit subclasses ``SevenNetSilicon`` with ``make_atoms`` from machmeter.workloads.systems.
"""

from machmeter.suites import MDSuite


class SevenNetSilicon(MDSuite):
    params = ([512, 10648], ["auto"], ["float32"])
    temperature_K = 300.0
    cpu_max_atoms = 0
    # Its own process would import sevenn and rebuild the model (~13 s on an H100) for a number that
    # track_steps_per_second already gives asv with per-step samples.
    live_timing_max_atoms = 0
    # Trajectories of 100 steps (~4 s each at 512 atoms on an H100) up to this size; none above it.
    trajectory_max_atoms = 1000
    trajectory_steps = 100
    energy_min_steps = 15  # ~0.6 s of NVML counter at 512 atoms

    def step_counts(self, n_atoms, device):
        counts = super().step_counts(n_atoms, device)
        if n_atoms <= self.trajectory_max_atoms:
            counts.update(nve=self.trajectory_steps, nvt=self.trajectory_steps, npt=self.trajectory_steps)
        else:  # ~0.4 s a step: a few steps of each measurement, no trajectories, no relaxation
            counts.update(warmup=2, latency_min=3, memory=2, energy_min=2, nve=0, nvt=0, npt=0, relax=0)
        return counts

    def make_atoms(self, n_atoms):
        from machmeter.workloads.mlff import require_sevennet
        from machmeter.workloads.systems import silicon

        require_sevennet()  # before building 10,000 atoms for nothing
        return silicon(n_atoms, temperature_K=self.temperature_K, seed=0)

    def make_calculator(self, device, dtype):
        from machmeter.workloads.mlff import sevennet_calculator

        return sevennet_calculator(device, str(dtype).removeprefix("torch."))
