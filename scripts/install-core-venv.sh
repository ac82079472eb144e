#!/usr/bin/env bash
# Create .venv-core: the newest Python here, numpy 2, TensorFlow, and no Chainer. It proves the
# command line, the core and the fidelity comparison need no Chainer (CI's second environment).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON_CORE:-}
if [ -z "$PY" ]; then
  root=$(pyenv root 2>/dev/null || true)
  for candidate in python3.13 python3.12 "$(ls -d "$root"/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)" \
                   "$(ls -d "$root"/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1)"; do
    # pyenv's shims exist even where the version is not selected: check that it really runs.
    if [ -n "$candidate" ] && "$candidate" -c 'pass' 2>/dev/null; then PY=$candidate; break; fi
  done
fi
[ -n "$PY" ] || { echo "install-core-venv.sh: no Python 3.12/3.13 found: set PYTHON_CORE" >&2; exit 2; }

VENV=${VENV_CORE:-.venv-core}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }
pip install --quiet "numpy>=2" "tensorflow-cpu==2.21.0" h5py pillow tqdm threadpoolctl scipy matplotlib pytest mpich mpi4py
pip install --quiet --no-deps -e .
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
import numpy, inception_score.cli  # noqa: F401
assert numpy.__version__.startswith('2'), numpy.__version__
assert importlib.util.find_spec('chainer') is None, 'chainer must not be installed here'
assert 'chainer' not in sys.modules
PY
