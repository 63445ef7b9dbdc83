"""CUDA graphs: the student that removes kernel-launch overhead from a model called on fixed shapes.

A small encoder on a GPU is launch-bound: ESM-2 t6_8M at 8 x 512 tokens ran at 2.6 % MFU in bfloat16 on an
H200, its time spent issuing a few hundred small kernels one after another from Python. Capturing the
forward pass once into a CUDA graph and replaying it issues them all in one launch. This is what an
optimisation commit of such a model does, so the suites offer it as a variant ("<attention>+cudagraph")
whose throughput and accuracy are measured beside the eager model's.
"""

from __future__ import annotations

import torch

class CudaGraphModule(torch.nn.Module):
    """``module`` replayed from CUDA graphs, one captured per input signature (names, shapes, dtypes).

    Calls take keyword tensors, as HuggingFace models do. The first call of a signature warms the
    module up on a side stream (as torch's documentation requires before a capture) and captures it;
    every call copies its inputs into the captured graph's static inputs and replays it. The returned
    output lives in the graph's static buffers: the next call of the same signature overwrites it,
    so use it (or clone it) before calling again.

    A replay allocates nothing: the activations live in the pool its capture reserved, so the torch
    allocator's peak during a replay is not the model's activation memory (``allocator_peak_unavailable``
    says so to the suites that measure it).
    """

    allocator_peak_unavailable = ("a CUDA-graph replay allocates nothing (its activations live in the pool its "
                                  "capture reserved): the allocator's peak is not comparable with eager")

    def __init__(self, module: torch.nn.Module, warmup_calls: int = 3):
        super().__init__()
        self.module = module
        self.warmup_calls = warmup_calls
        self._captured: dict[tuple, tuple[dict, torch.cuda.CUDAGraph, object]] = {}

    def forward(self, **inputs):
        signature = tuple(sorted((name, tuple(t.shape), t.dtype) for name, t in inputs.items()))
        if signature not in self._captured:
            self._captured[signature] = self._capture(inputs)
        static_inputs, graph, output = self._captured[signature]
        for name, tensor in inputs.items():
            static_inputs[name].copy_(tensor, non_blocking=True)
        graph.replay()
        return output

    def _capture(self, inputs: dict):
        if not all(t.is_cuda for t in inputs.values()):
            raise ValueError("CUDA graphs replay CUDA tensors only: move the inputs to the GPU")
        # ordinary tensors even when the first call runs under inference_mode: a later call outside it
        # must be able to copy its inputs in
        with torch.inference_mode(False):
            static_inputs = {name: tensor.clone() for name, tensor in inputs.items()}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup_calls):
                self.module(**static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output = self.module(**static_inputs)
        return static_inputs, graph, output
