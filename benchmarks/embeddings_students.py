"""ESM-2 teacher and students (EmbeddingTeacherStudentSuite): the speed each smaller or lower-precision
model gains over the teacher, and what it costs in agreement with the teacher and in a downstream probe.

On a GPU the teacher is ESM-2 t36_3B in bfloat16 (t33_650M with MACHMETER_ESM_3B=0) and the students
are the smaller published layouts, the teacher with half its layers (``half_depth``: the same seed
draws the same first layers, so it is the teacher with its second half dropped), the teacher's layout
in float16, and the small layouts replayed from CUDA graphs (``<layout>+cudagraph``: the same model
without its kernel-launch overhead, which is most of a small layout's time on a short batch); on a CPU,
where a nightly cannot afford more, the teacher is t6_8M in float32 and its half-depth student runs (float16 and bfloat16 are emulated on CPUs: GPUs only). Weights are random
(nothing is downloaded): the speed is the models', the probe measures what each embedding keeps of the
sequences' composition, and the dtype students' cosine to the teacher is the precision's cost.
"""

import os

from machmeter.suites.embedding_students import Embedder, EmbeddingTeacherStudentSuite

LAYOUT_SIZES = {"t6_8M": 8, "t12_35M": 35, "t30_150M": 150, "t33_650M": 650, "t36_3B": 3000}


def _teacher_layout(device):
    if device.type != "cuda":
        return "t6_8M", "float32"
    return ("t33_650M" if os.environ.get("MACHMETER_ESM_3B", "1") == "0" else "t36_3B"), "bfloat16"


_GRAPHED = "+cudagraph"


def _esm(layout, dtype, device, graphed=False):
    import torch

    from machmeter.workloads.encoders import mean_pooled_output
    from machmeter.workloads.esm import build_esm_model, esm_tokenizer

    model = build_esm_model(layout, dtype=getattr(torch, dtype), device=device)
    if graphed:
        # asv runs this file against older commits too: the other students need nothing new from machmeter
        try:
            from machmeter.workloads.cuda_graphs import CudaGraphModule
        except ImportError:
            raise NotImplementedError("this commit's machmeter has no CUDA-graph module") from None
        model = CudaGraphModule(model)
    tokenizer = esm_tokenizer()
    return Embedder(prepare=lambda sequences: {name: tensor.to(device) for name, tensor in
                                               tokenizer(sequences, padding=True, return_tensors="pt").items()},
                    forward=lambda batch: mean_pooled_output(model, batch))


class ESM2Students(EmbeddingTeacherStudentSuite):
    students = ("t33_650M", "t30_150M", "t12_35M", "t6_8M", "half_depth", "teacher_float16", "teacher_bfloat16",
                "t12_35M+cudagraph", "t6_8M+cudagraph")
    cpu_timing_lengths = (20, 40)
    cpu_timing_batch = 2

    def make_teacher(self, device):
        return _esm(*_teacher_layout(device), device)

    def make_student(self, name, device):
        teacher, teacher_dtype = _teacher_layout(device)
        if name == "half_depth":
            import dataclasses

            from machmeter.workloads.esm import get_layout

            layout = get_layout(teacher)
            return _esm(dataclasses.replace(layout, name=f"{layout.name}_half_depth", num_layers=layout.num_layers // 2),
                        teacher_dtype, device)
        if name.startswith("teacher_"):
            dtype = name.removeprefix("teacher_")
            if dtype == teacher_dtype:
                raise NotImplementedError(f"the teacher itself runs in {dtype} here")
            if device.type == "cpu":
                raise NotImplementedError(f"{dtype} on a CPU is emulated (many times slower than float32): GPUs only")
            return _esm(teacher, dtype, device)
        layout, graphed = name.removesuffix(_GRAPHED), name.endswith(_GRAPHED)
        if graphed and device.type != "cuda":
            raise NotImplementedError("CUDA graphs need a CUDA GPU")
        if LAYOUT_SIZES[layout] >= LAYOUT_SIZES[teacher]:
            raise NotImplementedError(f"{layout} is not smaller than this device's teacher ({teacher})")
        return _esm(layout, teacher_dtype, device, graphed)
