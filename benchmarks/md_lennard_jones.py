"""MD of FCC argon with machmeter's torch Lennard-Jones calculator (CPU and CUDA)."""

from machmeter.suites import MDSuite


class LennardJonesArgon(MDSuite):
    def make_atoms(self, n_atoms):
        from machmeter.workloads.systems import lj_argon

        return lj_argon(n_atoms, temperature_K=self.temperature_K, seed=0)

    def make_calculator(self, device, dtype):
        from machmeter.workloads.lj import TorchLennardJones
        from machmeter.workloads.systems import ARGON_LJ

        return TorchLennardJones(**ARGON_LJ, device=device, dtype=dtype)
