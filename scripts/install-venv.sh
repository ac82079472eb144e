#!/usr/bin/env bash
# Create .venv (Python <= 3.11) and install inception_score with everything it and its tests need.
# Chainer 7.8.1 needs numpy<2 and setuptools<70 present, and builds without isolation;
# numpy and tensorflow-cpu are resolved in one call (ml-dtypes would otherwise pull numpy 2).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.10 python3.9 python3; do
    if command -v "$candidate" >/dev/null; then PY=$candidate; break; fi
  done
fi
"$PY" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 11) else 1)' || {
  echo "install-venv.sh: $PY is Python $("$PY" -c 'import platform; print(platform.python_version())'); Chainer 7.8.1 needs 3.8-3.11: set PYTHON=python3.11" >&2
  exit 2
}

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

pip install --quiet "setuptools<70" wheel
pip install --quiet -c .ci/constraints.txt "numpy<2" "tensorflow-cpu==2.21.0" h5py tqdm threadpoolctl scipy pytest pillow matplotlib mpich mpi4py
pip install --quiet -c .ci/constraints.txt --no-build-isolation "chainer==7.8.1"
pip install --quiet -c .ci/constraints.txt --no-build-isolation --no-deps -e .
# Test oracles: torch-fidelity 0.4's KID (tests/test_kid.py) and clean-fid 0.1.35's resize
# (tests/test_clean_resize.py), on torch's CPU build, pinned +cpu so that it is never the
# CUDA wheels (gigabytes); where no such wheel is at hand those comparisons skip, and
# nothing else needs torch. torch 2.13 asks for setuptools>=77 (its extension builder only),
# which breaks Chainer's setuptools<70, so its other deps go in first and it follows without
# them. The oracles go in without theirs: their torchvision does not work beside this torch,
# and the tests load only the modules they compare with.
pip install --quiet -c .ci/constraints.txt filelock "typing-extensions>=4.10.0" "sympy>=1.13.3" \
  "networkx>=2.5.1" jinja2 "fsspec>=0.8.5"
if pip install --quiet --no-deps "torch==2.13.0+cpu"; then
  pip install --quiet --no-deps "torch-fidelity==0.4.0" "clean-fid==0.1.35"
else
  echo "install-venv.sh: warning: no torch 2.13.0+cpu wheel here: tests/test_kid.py and" \
       "tests/test_clean_resize.py skip their torch-fidelity and clean-fid comparisons" >&2
fi
"$VENV/bin/python" -c 'import chainer, numpy, tensorflow, h5py, inception_score' 2>/dev/null || {
  echo "install-venv.sh: the installed packages do not import" >&2; exit 1; }
