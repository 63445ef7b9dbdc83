"""Noise-free counters on a GPU (issue 13): the LJ MD step and an ESM-2 t6 forward, each measured in
8 separate processes (spread of wall time and of each counter), the profiled window's overhead, and a
slowed copy (one extra tiny kernel per call) whose counters differ while its wall time may not.

    PYTHONPATH=src python3 scripts/counters_gpu_demo.py          # about 5.5 minutes on one H200 (22 processes of 14-22 s each)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

PROCESSES = 8
SHOWN = ("aten_ops", "kernels", "kernel_us", "busy_fraction", "syncs", "h2d_copies", "d2h_copies")


def _workload(name: str, slowed: bool):
    import torch

    if name == "lj":
        from machmeter.workloads.lj import TorchLennardJones
        from machmeter.workloads.md import make_integrator
        from machmeter.workloads.systems import ARGON_LJ, lj_argon

        atoms = lj_argon(64, temperature_K=40.0, seed=0)
        atoms.calc = TorchLennardJones(**ARGON_LJ, device=torch.device("cuda"), dtype=torch.float32)
        dynamics = make_integrator(atoms, "nve", 2.0, temperature_K=40.0)
        call = lambda: dynamics.run(1)  # noqa: E731
    else:
        from machmeter.workloads.esm import build_esm_model, esm_tokenizer, protein_batch

        model = build_esm_model("t6_8M", device="cuda")
        batch = protein_batch(esm_tokenizer(), 8, 128, "cuda", seed=0)

        @torch.inference_mode()
        def call():
            return model(**batch)
    if not slowed:
        return call
    extra = torch.zeros(1, device="cuda")

    def slowed_call():
        call()
        extra.add_(1)  # one extra tiny kernel per call
    return slowed_call


def child(name: str, slowed: bool) -> None:
    import torch

    from machmeter.instruments import time_callable
    from machmeter.instruments.counters import profile_counters

    call = _workload(name, slowed)
    wall = time_callable(call, device="cuda", warmup_calls=5, min_repeats=50, target_time=1.0).mean
    counters = profile_counters(call, device="cuda", calls=20, wall_per_call_s=wall)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(20):
        call()
    torch.cuda.synchronize()
    plain = (time.perf_counter() - start) / 20
    start = time.perf_counter()
    profile_counters(call, device="cuda", calls=20)
    profiled = (time.perf_counter() - start) / 20
    print(json.dumps({"wall_ms": wall * 1e3, "plain_ms": plain * 1e3, "profiled_ms": profiled * 1e3,
                      **{k: getattr(counters, k) for k in SHOWN}}))


def _spread(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    spread = (max(values) - min(values)) / abs(mean) * 100 if mean else 0.0
    return f"{min(values):.4g}..{max(values):.4g} (±{spread / 2:.2f}%)"


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=PROCESSES, help="separate processes of each workload")
    parser.add_argument("--slowed-processes", type=int, default=3, help="separate processes of each slowed copy")
    parser.add_argument("--workloads", default="lj,esm", help="comma-separated: lj, esm")
    args = parser.parse_args(argv)
    for name in args.workloads.split(","):
        for slowed in (False, True):
            processes = args.slowed_processes if slowed else args.processes
            if not processes:
                continue
            runs = []
            for _ in range(processes):
                out = subprocess.run([sys.executable, __file__, "--child", name, str(int(slowed))],
                                     capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                runs.append(json.loads(out))
            title = f"{name}{' +1 kernel' if slowed else ''} ({len(runs)} processes)"
            print(f"\n{title}")
            for key in ("wall_ms", *SHOWN):
                print(f"  {key:14s} {_spread([r[key] for r in runs])}")
            overhead = statistics.fmean(r["profiled_ms"] / r["plain_ms"] - 1 for r in runs) * 100
            print(f"  profiled window: {overhead:+.0f}% wall per call over an unprofiled loop (never timed)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] == "1")
    else:
        main()
