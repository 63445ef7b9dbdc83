#!/usr/bin/env bash
# One call on a GPU machine with no network (the device tool's H100/H200, or any GPU runner):
# install what is missing from carried wheels, run the GPU-marked tests (and the rest), then a quick
# asv run of this repository's suite on CUDA, and print what it measured.
#
#   here:   rm -rf .whl && scripts/download_gpu_wheels.sh        (wheels for the GPU machine's Python)
#   there:  bash scripts/gpu_check.sh                             (with .whl carried; OUT= collects logs)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/machmeter-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile .whl/*.whl || exit 1
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation . || exit 1

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv | tee "$out/nvidia-smi.csv"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)"

failed_steps=()
echo "== pytest (GPU-marked first, then everything)"
python3 -m pytest -q -m gpu tests 2>&1 | tee "$out/pytest-gpu.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("GPU tests")
python3 -m pytest -q -m "not gpu" tests > "$out/pytest-rest.txt" 2>&1 || failed_steps+=("other tests")
tail -5 "$out/pytest-rest.txt"

echo "== quick asv run of this repository's suite on the GPU"
# The working tree arrives without git history: benchmark it as one commit of a scratch repository.
work=$(mktemp -d)
cp -r asv.conf.json pyproject.toml README.md src benchmarks "$work"/
(cd "$work" && git init -q -b main && git add -A && git -c user.name=gpu -c user.email=gpu@localhost commit -qm "working tree")
machine=${MACHINE:-gpu-$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9-')}
(cd "$work" && python3 -m machmeter machine --machine "$machine" \
    && python3 -m asv run --machine "$machine" --show-stderr --record-samples ${ASV_ARGS:---quick} main^! ) 2>&1 | tee "$out/asv-run.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("asv run")
python3 - "$work" "$machine" <<'PY' | tee "$out/measured.txt"
import sys, subprocess
from machmeter.results import load_results
from machmeter.report.measured import measured_table
work, machine = sys.argv[1:]
head = subprocess.check_output(["git", "-C", work, "rev-parse", "HEAD"], text=True).strip()
print(measured_table(load_results(f"{work}/.asv/results"), [head], machine=machine))
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("measured table")
tar -C "$work/.asv" -czf "$out/asv-results.tgz" results
if [ ${#failed_steps[@]} -gt 0 ]; then
    echo "gpu_check: failed: ${failed_steps[*]}" >&2
    exit 1
fi
echo "gpu_check: all steps passed"
