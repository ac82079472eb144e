"""run.sh as a user runs it offline: --graph reaches the conversion, the rest example.py."""
import os
import stat
import subprocess
import sys

import numpy
import pytest

import cifar_files
from conftest import ROOT
from inception_score import cifar10, inception_score

IMPORTS = 'import chainer, numpy, tensorflow, h5py, inception_score'  # run.sh's "installed"


@pytest.fixture
def venv(tmp_path):
    """A VENV whose python is this interpreter, so run.sh finds it installed (and never
    installs anything: without all of run.sh's imports here, the test is skipped)."""
    found = subprocess.run([sys.executable, '-c', IMPORTS], cwd=ROOT, capture_output=True)
    if found.returncode != 0:
        pytest.skip('run.sh needs Chainer and TensorFlow in this environment (.venv)')
    python = tmp_path / 'venv' / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\nexec "{}" "$@"\n'.format(sys.executable))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path / 'venv')


def _run_sh(venv, model, *args):
    env = dict(os.environ, VENV=venv, MODEL=str(model),
               CHAINER_DATASET_ROOT=os.path.join(os.path.dirname(venv), 'dataset_root'))
    return subprocess.run(['bash', os.path.join(ROOT, 'run.sh')] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=os.path.dirname(venv))


@pytest.mark.slow
def test_offline_run_converts_the_local_graph_and_scores_local_cifar10(venv, graph_files,
                                                                       network, tmp_path):
    rng = numpy.random.RandomState(8)
    train = rng.randint(0, 256, (10, 3, 32, 32)).astype(numpy.uint8)
    data = cifar_files.write_archive(tmp_path / cifar10.ARCHIVES['python'], train, train[:2],
                                     'python')
    model = tmp_path / 'converted.model'
    args = ['--graph', graph_files['tgz'], '--data', data, '--samples', '4', '--splits', '2',
            '--quiet']
    # --gpu without a usable GPU: one line, before anything is downloaded or converted.
    proc = _run_sh(venv, model, '--gpu', '0', *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('run.sh: GPU 0 '), proc.stderr
    assert not model.exists()

    proc = _run_sh(venv, model, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Saved {}'.format(model) in proc.stdout  # download.py converted the local archive
    expected = inception_score(network, train[:4], splits=2)
    assert proc.stdout.splitlines()[-1] == \
        'Inception Score: {:.4f} \u00b1 {:.4f} (N=4, splits=2)'.format(*expected)

    # A second run uses the model file as it is, and says so when --graph is given again.
    proc = _run_sh(venv, model, *args)
    assert proc.returncode == 0, proc.stderr
    assert 'Saved' not in proc.stdout
    assert proc.stderr.splitlines() == [
        'run.sh: {} exists, so it is used as it is (delete it to convert again)'.format(model)]


def test_flag_without_value_is_one_line(venv, tmp_path):
    proc = _run_sh(venv, tmp_path / 'm.model', '--graph')
    assert proc.returncode == 2 and proc.stderr == 'run.sh: --graph needs a value\n'
