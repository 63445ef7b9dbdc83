"""Batched MD of FCC argon: R replicas (other seeds of the same 256-atom box) stepped in one call of the
torch Lennard-Jones, against R separate calls, on the CPU and on CUDA (skipped where there is none)."""

from machmeter.suites import BatchedMDSuite


class LennardJonesArgonReplicas(BatchedMDSuite):
    params = ([4, 16], ["cpu", "cuda"])

    # a Verlet skin, as MD codes run: both the batch and the separate calls keep their pair lists
    # between steps, so the comparison is of the force calls, not of neighbour searches
    skin_A = 1.0

    def make_replicas(self, replicas):
        from machmeter.workloads.systems import lj_argon

        return [lj_argon(self.n_atoms, temperature_K=self.temperature_K, seed=seed) for seed in range(replicas)]

    def make_batched_potential(self, device, dtype):
        from machmeter.workloads.batched_md import BatchedLJ
        from machmeter.workloads.systems import ARGON_LJ

        return BatchedLJ(**ARGON_LJ, skin=self.skin_A)
