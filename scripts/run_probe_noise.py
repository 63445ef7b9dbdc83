"""Does a fixed probe, timed in the same process, explain how runs of the same code differ?

Runs of unchanged code on a GPU host differ by 10-20% from process to process, and they flip between
levels. If that is the state of the machine (clocks, the core the process landed on, the GPU's power
state), a probe whose code never changes with the commit (a fixed run of tiny CUDA launches, a fixed
Python loop, a fixed matmul) sees the same state, and the benchmark relative to the probe varies less
than the benchmark itself. If it is the process's own luck (allocator layout, hash seeds), no probe
helps. This measures which, in separate processes, the way asv runs each benchmark:

    PYTHONPATH=src python3 scripts/run_probe_noise.py --processes 12      # about 4 minutes on one H200

Per workload it prints the run-to-run CV of the benchmark's per-process median, of each probe, their
correlation over processes (of logs), and the CV left after dividing by the probe and after a
leave-one-out regression on it (what a tracker could use without peeking at the run it judges).
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time

BLOCKS = 8
CALLS = 30


def _workload(name: str):
    import torch

    if name == "lj":
        from machmeter.workloads.lj import TorchLennardJones
        from machmeter.workloads.md import make_integrator
        from machmeter.workloads.systems import ARGON_LJ, lj_argon

        atoms = lj_argon(64, temperature_K=40.0, seed=0)
        atoms.calc = TorchLennardJones(**ARGON_LJ, device=torch.device("cuda"), dtype=torch.float32)
        dynamics = make_integrator(atoms, "nve", 2.0, temperature_K=40.0)
        return lambda: dynamics.run(1)
    from machmeter.workloads.esm import build_esm_model, esm_tokenizer, protein_batch

    model = build_esm_model("t6_8M", device="cuda")
    batch = protein_batch(esm_tokenizer(), 8, 128, "cuda", seed=0)

    @torch.inference_mode()
    def call():
        return model(**batch)
    return call


def _probes():
    import torch

    tiny = torch.zeros(1, device="cuda")
    a = torch.randn(2048, 2048, device="cuda")

    def launch():  # the launch path: host dispatch + tiny kernels, as a launch-bound MD step
        for _ in range(64):
            tiny.add_(1.0)

    def python():  # the host core alone
        total = 0
        for i in range(20000):
            total += i * i
        return total

    def matmul():  # the GPU's clocks
        for _ in range(4):
            torch.mm(a, a)
    return {"launch": launch, "python": python, "matmul": matmul}


def _block_median(fn, calls: int) -> float:
    import torch

    samples = []
    for _ in range(calls):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def child(name: str) -> None:
    bench = _workload(name)
    probes = _probes()
    for fn in (bench, *probes.values()):
        _block_median(fn, 10)  # warm-up
    medians = {"bench": [], **{k: [] for k in probes}}
    for _ in range(BLOCKS):  # interleaved, so drift inside the process weighs on all alike
        medians["bench"].append(_block_median(bench, CALLS))
        for key, fn in probes.items():
            medians[key].append(_block_median(fn, CALLS))
    print(json.dumps({k: statistics.median(v) * 1e3 for k, v in medians.items()}))


def _cv(values) -> float:
    return statistics.stdev(values) / statistics.fmean(values) * 100


def _loo_residual_cv(y, x) -> float:
    """CV (%) of log(y) after a regression on log(x) fitted without the predicted process."""
    ly, lx = [math.log(v) for v in y], [math.log(v) for v in x]
    errors = []
    for i in range(len(ly)):
        ty, tx = ly[:i] + ly[i + 1:], lx[:i] + lx[i + 1:]
        mx, my = statistics.fmean(tx), statistics.fmean(ty)
        sxx = sum((v - mx) ** 2 for v in tx)
        slope = sum((a - mx) * (b - my) for a, b in zip(tx, ty)) / sxx if sxx else 0.0
        errors.append(ly[i] - (my + slope * (lx[i] - mx)))
    return math.sqrt(sum(e * e for e in errors) / (len(errors) - 1)) * 100


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=12)
    parser.add_argument("--workloads", default="lj,esm", help="comma-separated: lj, esm")
    args = parser.parse_args(argv)
    for name in args.workloads.split(","):
        runs = []
        for _ in range(args.processes):
            out = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True,
                                 check=True).stdout.strip().splitlines()[-1]
            runs.append(json.loads(out))
        bench = [r["bench"] for r in runs]
        print(f"\n{name}: {len(runs)} processes, benchmark median {statistics.median(bench):.3f} ms, "
              f"run-to-run CV {_cv(bench):.1f}%")
        print("  per process (ms): " + " ".join(f"{v:.3f}" for v in bench))
        print(f"  {'probe':8s} {'median ms':>10s} {'CV %':>6s} {'corr':>6s} {'bench/probe CV %':>17s} "
              f"{'LOO-regressed CV %':>19s}")
        for key in (k for k in runs[0] if k != "bench"):
            probe = [r[key] for r in runs]
            lb, lp = [math.log(v) for v in bench], [math.log(v) for v in probe]
            corr = statistics.correlation(lb, lp) if len(set(lp)) > 1 else float("nan")
            ratio = [b / p for b, p in zip(bench, probe)]
            print(f"  {key:8s} {statistics.median(probe):10.4f} {_cv(probe):6.1f} {corr:6.2f} "
                  f"{_cv(ratio):17.1f} {_loo_residual_cv(bench, probe):19.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
