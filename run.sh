#!/usr/bin/env bash
# The main job on a fresh machine: install into .venv, fetch and convert the TensorFlow graph,
# then score the CIFAR-10 training set. Extra arguments go to example.py (e.g. --gpu 0).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install-venv.sh
MODEL=${MODEL:-inception_score.model}
[ -f "$MODEL" ] || .venv/bin/python download.py --outfile "$MODEL"
.venv/bin/python example.py --infile "$MODEL" --samples 50000 "$@"
