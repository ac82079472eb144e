#!/usr/bin/env bash
# The main job on a fresh machine: install into .venv, fetch and convert the TensorFlow graph,
# then score the CIFAR-10 training set.
#
#   bash run.sh [--graph PATH] [--sha256 HEX] [--url URL] [example.py flags...]
#
# --graph, --sha256 and --url go to the conversion (download.py: --graph converts a local
# inception-2015-12-05.tgz or .pb, for offline machines); every other flag goes to example.py
# (--gpu 0, --data cifar-10-python.tar.gz, --json report.json, --samples N, ...).
# .venv is installed unless it already imports everything (scripts/install-venv.sh reinstalls);
# the model file (MODEL, default inception_score.model) is converted unless it exists.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=$VENV/bin/python
MODEL=${MODEL:-inception_score.model}

convert=()
score=()
gpu=-1
while [ $# -gt 0 ]; do
  case $1 in
    --graph|--sha256|--url|--gpu)
      if [ $# -lt 2 ]; then echo "run.sh: $1 needs a value" >&2; exit 2; fi
      if [ "$1" = --gpu ]; then gpu=$2; score+=("$1" "$2"); else convert+=("$1" "$2"); fi
      shift 2 ;;
    --graph=*|--sha256=*|--url=*) convert+=("$1"); shift ;;
    --gpu=*) gpu=${1#--gpu=}; score+=("$1"); shift ;;
    *) score+=("$1"); shift ;;
  esac
done

"$PY" -c 'import chainer, numpy, tensorflow, h5py, inception_score' 2>/dev/null ||
  VENV=$VENV bash scripts/install-venv.sh

# A GPU run that cannot use the GPU says so in one line before the download and conversion.
if [ "$gpu" != -1 ]; then
  "$PY" - "$gpu" "$PY" <<'EOF' || exit 2
import sys
from inception_score.errors import UsageError
from inception_score.network import import_cupy
gpu, python = sys.argv[1:]
try:
    import_cupy(int(gpu))
except ValueError:
    sys.exit('run.sh: --gpu {} is not a GPU id (0, 1, ...; -1 for the CPU)'.format(gpu))
except UsageError as e:
    fix = (' (here: {} -m pip install cupy-cuda12x)'.format(python)
           if 'needs CuPy' in str(e) else '')
    sys.exit('run.sh: {}{}'.format(e, fix))
EOF
fi

if [ ! -f "$MODEL" ]; then
  "$PY" download.py --outfile "$MODEL" ${convert[@]+"${convert[@]}"}
elif [ ${#convert[@]} -gt 0 ]; then
  echo "run.sh: $MODEL exists, so it is used as it is (delete it to convert again)" >&2
fi
exec "$PY" example.py --infile "$MODEL" --samples 50000 ${score[@]+"${score[@]}"}
