"""Teacher vs students, side by side in one run; each teacher against its stored reference data.

* LennardJonesStudents: the float64 torch LJ (argon) teaches a float32 student and a cheaper model
  (cutoff 2.5 sigma instead of 3 sigma); runs on CPUs too. Its "teacher" row: ASE's own LennardJones.
* SevenNetStudents: the shipped float32 SevenNet-0 teaches TF32 matrix products (GPUs), the network
  rebuilt in float16 (GPUs) and in bfloat16. Its "teacher" row: the float64 rebuild's energies and forces.

Not students per commit, with the reasons measured: bfloat16 autocast ("autocast_bfloat16", a factory
below) fails inside e3nn's tensor products on CPU and CUDA, so it would only ever be a skip;
torch.compile of SevenNet-0 compiled for ~96 s on an H200 and then hit dynamo's recompile limit (each
neighbour graph has another size), and on a CPU the process aborted (docs/writing-gpu-benchmarks.md).
"""

from machmeter.suites import TeacherStudentSuite


def _lennard_jones(device, dtype_name, **overrides):
    import torch

    from machmeter.workloads.lj import TorchLennardJones
    from machmeter.workloads.systems import ARGON_LJ

    return TorchLennardJones(**{**ARGON_LJ, **overrides}, device=device, dtype=getattr(torch, dtype_name))


class LennardJonesStudents(TeacherStudentSuite):
    students = ("float32", "cutoff_2.5sigma")
    reference = "lj_argon"

    def make_teacher(self, device):
        return _lennard_jones(device, "float64")

    def make_student(self, name, device):
        from machmeter.workloads.systems import ARGON_LJ

        if name == "float32":
            return _lennard_jones(device, "float32")
        if name == "cutoff_2.5sigma":  # (2.5/3)^3: 58% of the pairs
            return _lennard_jones(device, "float64", rc=2.5 * ARGON_LJ["sigma"])
        raise ValueError(f"unknown student {name!r}")

    def make_timing_structure(self, device):
        from machmeter.workloads.systems import lj_argon

        return lj_argon(4000 if device.type == "cuda" else 256)


class SevenNetStudents(TeacherStudentSuite):
    students = ("tf32", "float16", "bfloat16")
    reference = "sevennet0"

    def _shipped(self, device):
        """The shipped model, shared by the teacher and the students that only change how it runs."""
        from machmeter.workloads.mlff import sevennet_calculator

        if getattr(self, "_shipped_calculator", None) is None:
            self._shipped_calculator = sevennet_calculator(device)
        return self._shipped_calculator

    def make_teacher(self, device):
        return self._shipped(device)

    def make_student(self, name, device):
        import torch

        from machmeter.suites.students import require_runs, require_tf32, tf32_matmul, within
        from machmeter.workloads.mlff import require_sevennet, sevennet_calculator

        require_sevennet()
        if name == "tf32":
            require_tf32(device)
            return within(self._shipped(device), tf32_matmul)
        if name in ("float16", "bfloat16"):
            if name == "float16" and device.type == "cpu":
                raise NotImplementedError("float16 on a CPU is emulated in software (SevenNet-0 ran 3-10x slower "
                                          "than float32 on an EPYC): a GPU path only")
            return sevennet_calculator(device, name)
        if name == "autocast_bfloat16":
            import e3nn

            student = within(self._shipped(device), lambda: torch.autocast(device.type, dtype=torch.bfloat16))
            return require_runs(student, self.make_structures()[0],
                                f"torch.autocast(bfloat16) of SevenNet-0 (e3nn {e3nn.__version__}, torch {torch.__version__})")
        raise ValueError(f"unknown student {name!r}")

    def reference_mismatch(self, data):
        from machmeter.workloads.mlff import sevennet_checkpoint_sha256

        stored, installed = data.metadata.get("checkpoint_sha256"), sevennet_checkpoint_sha256()
        if stored != installed:
            return (f"the installed SevenNet-0 checkpoint (sha256 {installed[:12]}) is not the one the reference "
                    f"data came from ({str(stored)[:12]}): scripts/make_force_reference.py --only sevennet0")
        return None

    def make_timing_structure(self, device):
        from machmeter.workloads.systems import silicon

        # ~40 ms a call on an H100/H200 at 1,000 atoms; 8 atoms keep a CPU run to a second
        return silicon(1000 if device.type == "cuda" else 8, rattle=0.05, seed=0)
