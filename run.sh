#!/usr/bin/env bash
# The main job on a fresh machine: install into .venv, fetch and convert the TensorFlow graph,
# then score the CIFAR-10 training set.
#
#   bash run.sh [--graph PATH] [--sha256 HEX] [--url URL] [example.py flags...]
#
# --help and --version answer without installing anything.
# --graph, --sha256 and --url go to the conversion (download.py: --graph converts a local
# inception-2015-12-05.tgz or .pb, for offline machines); every other flag goes to example.py
# (--gpu 0, --data cifar-10-python.tar.gz, --json report.json, --samples N, ...).
# Paths are taken from the directory run.sh is called from, and the model file is written
# there (MODEL, default ./inception_score.model: where every command looks first when no
# model is given); it is converted unless it exists. .venv (VENV, default the checkout's
# .venv) is installed unless every package it needs is found (scripts/install-venv.sh
# reinstalls). Before any download, both inputs are checked: a missing graph or CIFAR-10
# copy that cannot be downloaded (offline) is named, with where to put it, in one line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")" && pwd)
VENV=${VENV:-$ROOT/.venv}
case $VENV in /*) ;; *) VENV=$PWD/$VENV ;; esac
PY=$VENV/bin/python
MODEL=${MODEL:-inception_score.model}

for arg in "$@"; do
  case $arg in
    -h|--help)
      sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
      echo
      echo "example.py's flags:"
      "$PY" "$ROOT/example.py" --help 2>/dev/null ||
        echo "  (listed once .venv is installed: bash $ROOT/scripts/install-venv.sh)"
      exit 0 ;;
    --version)  # the package's, from the checkout: nothing installed, converted or scored
      echo "run.sh $(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml")"
      exit 0 ;;
  esac
done

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

# Installed: every package is there (found, not imported: importing TensorFlow takes seconds).
"$PY" -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in ("chainer", "numpy", "tensorflow", "h5py", "inception_score")))' 2>/dev/null ||
  VENV=$VENV bash "$ROOT/scripts/install-venv.sh"

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

# Both inputs before any work: example.py's flags, then whether the graph (unless the model
# exists or --graph is given) and CIFAR-10 (unless found or given) can be downloaded.
have_model=0
[ -f "$MODEL" ] && have_model=1
"$PY" - "$ROOT" "$have_model" ${convert[@]+"${convert[@]}"} -- ${score[@]+"${score[@]}"} <<'EOF'
import sys
root, have_model, *rest = sys.argv[1:]
sys.path.insert(0, root)
convert, score = rest[:rest.index('--')], rest[rest.index('--') + 1:]
import example
from inception_score import cifar10, fetch
from inception_score.cli import Parser
p = Parser(prog='run.sh')
p.add_argument('--graph')
p.add_argument('--url', default=fetch.DEFAULT_URL)
p.add_argument('--sha256')
conversion = p.parse_args(convert)
flags = example.parser()
flags.prog = 'run.sh'
args = flags.parse_args(score)  # a bad flag fails here (exit 2), before any download


def unreachable(*urls):
    """None if one of `urls` answers, else why the first did not."""
    import urllib.request
    reason = None
    for url in urls:
        try:
            urllib.request.urlopen(url, timeout=20).close()
            return None
        except Exception as e:  # offline: DNS, refused, timeout, HTTP error
            reason = reason or str(getattr(e, 'reason', e)) or type(e).__name__
    return reason


missing = []
if have_model == '0' and conversion.graph is None:
    urls = (conversion.url,) if conversion.sha256 else (conversion.url, fetch.FALLBACK_URL)
    reason = unreachable(*urls)
    if reason:
        missing.append('the Inception graph cannot be downloaded ({}): download {} (89 MB) and '
                       'pass --graph PATH to it'.format(reason, conversion.url))
if args.data is None and cifar10.find() is None:
    reason = 'not downloaded: --no-download' if args.no_download else unreachable(
        cifar10.URLS['python'])
    if reason:
        missing.append(cifar10.not_found_message(reason=reason))
if missing:
    print('run.sh: error: {}'.format('; and '.join(missing)), file=sys.stderr)
    sys.exit(2)
EOF

if [ ! -f "$MODEL" ]; then
  "$PY" "$ROOT/download.py" --outfile "$MODEL" ${convert[@]+"${convert[@]}"}
elif [ ${#convert[@]} -gt 0 ]; then
  echo "run.sh: $MODEL exists, so it is used as it is (delete it to convert again)" >&2
fi
exec "$PY" "$ROOT/example.py" --infile "$MODEL" --samples 50000 ${score[@]+"${score[@]}"}
