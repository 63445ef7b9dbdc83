"""MD of FCC argon with machmeter's torch Lennard-Jones calculator, on the GPU where there is one.

One device per machine ("auto"): a GPU runner's history is about its GPU, and timing the CPU there too
doubled this suite's share of the nightly run (each combination is its own asv process that starts CUDA).
"""

from machmeter.suites import MDSuite


class LennardJonesArgon(MDSuite):
    params = ([64, 512, 4096], ["auto"], ["float32", "float64"])

    def make_atoms(self, n_atoms):
        from machmeter.workloads.systems import lj_argon

        return lj_argon(n_atoms, temperature_K=self.temperature_K, seed=0)

    def make_calculator(self, device, dtype):
        from machmeter.workloads.lj import TorchLennardJones
        from machmeter.workloads.systems import ARGON_LJ

        return TorchLennardJones(**ARGON_LJ, device=device, dtype=dtype)
