"""A pip user's first hour: a non-editable `pip install .` in a fresh virtual environment gives
working commands, run from outside the checkout (about a minute: marked `install`)."""
import os
import shutil
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from conftest import ROOT
from inception_score import inception_score

pytestmark = [pytest.mark.install, pytest.mark.slow, pytest.mark.once]


def _base_python():
    """The interpreter to make the environment from: $INSTALL_TEST_PYTHON, else the one
    behind this environment."""
    return os.environ.get('INSTALL_TEST_PYTHON') or getattr(sys, '_base_executable',
                                                            sys.executable)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """bin/ of a fresh venv holding the built package (with [convert]) and its dependencies
    from the package index; the sources are copied first, so no build output lands here."""
    d = tmp_path_factory.mktemp('install')
    src = d / 'src'
    src.mkdir()
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(os.path.join(ROOT, name), str(src / name))
    shutil.copytree(os.path.join(ROOT, 'inception_score'), str(src / 'inception_score'),
                    ignore=shutil.ignore_patterns('__pycache__'))
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.pop('PYTHONPATH', None)
    venv = d / 'venv'
    subprocess.run([_base_python(), '-m', 'venv', str(venv)], check=True, env=env)
    proc = subprocess.run([str(venv / 'bin' / 'python'), '-m', 'pip', 'install', '--quiet',
                           str(src) + '[convert]'], capture_output=True, text=True, env=env,
                          cwd=str(d))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / 'bin'


def _run(bin_dir, command, *args, cwd, root):
    env = dict(os.environ, CHAINER_DATASET_ROOT=str(root))
    env.pop('PYTHONPATH', None)
    return subprocess.run([str(bin_dir / command)] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=str(cwd), env=env)


def test_installed_commands_convert_the_graph_and_score_a_folder(installed, graph_files,
                                                                 network, tmp_path):
    elsewhere = tmp_path / 'elsewhere'  # not the checkout: nothing of it is importable here
    elsewhere.mkdir()
    root = tmp_path / 'dataset_root'
    rng = numpy.random.RandomState(12)
    ims = rng.randint(0, 256, (6, 3, 16, 16)).astype(numpy.uint8)
    folder = elsewhere / 'samples'
    folder.mkdir()
    for i, im in enumerate(ims):
        Image.fromarray(im.transpose(1, 2, 0)).save(str(folder / '{}.png'.format(i)))

    where = _run(installed, 'python', '-c', 'import inception_score; print(inception_score.'
                 '__file__)', cwd=elsewhere, root=root)
    assert where.stdout.startswith(str(installed.parent)), where  # the copy pip installed

    # Before conversion: the hint names the installed converter, which exists.
    proc = _run(installed, 'inception-score', folder, '--splits', '2', cwd=elsewhere, root=root)
    default = root / 'inception_score' / 'inception_score.model'
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        'inception-score: error: model file not found: looked for {} and {}: create it with: '
        'inception-score-download --outfile {} (or pass --model PATH)'.format(
            elsewhere / 'inception_score.model', default, default))
    assert (installed / 'inception-score-download').exists()

    proc = _run(installed, 'inception-score-download', '--graph', graph_files['tgz'], '--quiet',
                cwd=elsewhere, root=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert default.exists()

    proc = _run(installed, 'inception-score', folder, '--splits', '2', '--quiet', cwd=elsewhere,
                root=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = inception_score(network, ims, splits=2)
    assert proc.stdout == 'Inception Score: {:.4f} \u00b1 {:.4f} (N=6, splits=2)\n'.format(
        *expected)
