"""The one place machmeter starts ``asv run``: the demo's history and ``machmeter run-pr``'s rounds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile


def bench_pattern(name: str) -> str:
    """An ``asv run --bench`` / ``asv find`` pattern selecting the benchmark ``name`` and nothing else.
    asv matches a parameterized benchmark's pattern against ``name(param, ...)``, one combination at a
    time, so ``^name$`` alone would select none of its combinations."""
    return rf"^{re.escape(name)}(\(.*\))?$"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def run_asv(project, commits: list[str], machine: str, bench=(), quick: bool = False, extra=(), stream=None) -> int:
    """``asv run`` of exactly ``commits`` on ``machine``, samples recorded; asv's exit status. asv's output
    goes to ``stream`` (default standard output; run-pr keeps standard output for its report)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as hashes:
        hashes.write("\n".join(commits) + "\n")
    command = [sys.executable, "-m", "asv", "run", "--config", project.config_path, "--machine", machine,
               "--show-stderr", "--record-samples", f"HASHFILE:{hashes.name}"]
    environment = dict(os.environ)
    if not cuda_available():
        # asv runs each benchmark and parameter combination in its own process; without any CUDA
        # device nothing can be initialised before a fork, and a forkserver saves a Python start-up
        # and the suite's imports for each of those hundreds of processes.
        command += ["--launch-method", "forkserver"]
        # One torch thread per benchmark process: on a small shared CPU host, OpenMP threads that spin
        # on a core someone else holds made whole suites 10-15x slower for a run (false regressions).
        environment.setdefault("OMP_NUM_THREADS", "1")
    for pattern in bench:
        command += ["--bench", pattern]
    if quick:
        command.append("--quick")
    command += list(extra)
    threads = f"OMP_NUM_THREADS={environment['OMP_NUM_THREADS']} " if "OMP_NUM_THREADS" in environment else ""
    stream = stream or sys.stdout
    print("$ " + threads + " ".join(command), file=stream, flush=True)
    try:
        return subprocess.call(command, cwd=project.root, env=environment, stdout=stream)
    finally:
        os.unlink(hashes.name)
