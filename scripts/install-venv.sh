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
"$VENV/bin/python" -c 'import chainer, numpy, tensorflow, h5py, inception_score' 2>/dev/null || {
  echo "install-venv.sh: the installed packages do not import" >&2; exit 1; }
