#!/usr/bin/env bash
# The test oracles, into .venv (Python 3.11), for .ci/run: torch-fidelity 0.4's KID
# (tests/test_kid.py) and clean-fid 0.1.35's resize (tests/test_clean_resize.py) on torch's CPU
# build. Nothing else needs torch, so run.sh does not install it.
# torch is pinned to 2.13.0+cpu, the CPU build that lies on this workplace's disks: any other
# torch request downloads the CUDA build (gigabytes). torch 2.13 asks for setuptools>=77 (its
# extension builder only), which breaks Chainer's setuptools<70, so its other dependencies go
# in first and it follows without them. The oracles go in without theirs: their torchvision
# does not work beside this torch, and the tests load only the modules they compare with.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install --quiet -c .ci/constraints.txt filelock "typing-extensions>=4.10.0" "sympy>=1.13.3" \
  "networkx>=2.5.1" jinja2 "fsspec>=0.8.5"
pip install --quiet --no-deps "torch==2.13.0+cpu" || {
  echo "install-oracles.sh: no torch 2.13.0+cpu wheel here (the CPU build; any other torch is a" \
       "CUDA download of gigabytes): the KID and clean-resize comparisons cannot run" >&2
  exit 1
}
pip install --quiet --no-deps "torch-fidelity==0.4.0" "clean-fid==0.1.35"
"$VENV/bin/python" -c 'import torch, cleanfid.resize' || {
  echo "install-oracles.sh: torch or clean-fid does not import" >&2; exit 1; }
