#!/usr/bin/env bash
# Wheels that a GPU machine without network lacks (its image has torch, transformers, numpy, scipy,
# jinja2, nvidia-ml-py, psutil, pytest), for its Python 3.12, into .whl/ (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${PYTHON_VERSION:-3.12}" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl \
    asv==0.6.6 asv-runner==0.3.2 ase==3.29.0 gitpython==3.2.1 gitdb==4.0.12 smmap==5.0.3 pympler==1.1 \
    json5==0.17.3 tabulate==0.10.0 virtualenv==21.15.7 distlib==0.4.4 python-discovery==1.9.5 \
    platformdirs==4.14.5 importlib-metadata==8.7.0
ls .whl
