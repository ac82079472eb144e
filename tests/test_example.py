"""example.py end to end on a small synthetic CIFAR-10 in Chainer's dataset cache."""
import os
import subprocess
import sys

import numpy
import pytest

pytest.importorskip('chainer')  # example.py is the Chainer example

import synthetic_graph
from conftest import ROOT
from inception_score import inception_score


@pytest.fixture(scope='module')
def cifar_root(tmp_path_factory):
    """CHAINER_DATASET_ROOT holding pfnet/chainer/cifar/cifar-10.npz as Chainer writes it."""
    root = tmp_path_factory.mktemp('dataset_root')
    rng = numpy.random.RandomState(7)
    train = synthetic_graph.smooth_images(rng, 30, 32, 32).round().astype(numpy.uint8)
    test = synthetic_graph.smooth_images(rng, 10, 32, 32).round().astype(numpy.uint8)
    d = root / 'pfnet' / 'chainer' / 'cifar'
    d.mkdir(parents=True)
    numpy.savez_compressed(str(d / 'cifar-10.npz'),
                           train_x=train.transpose(0, 3, 1, 2).reshape(30, 3072),
                           train_y=numpy.zeros(30, numpy.uint8),
                           test_x=test.transpose(0, 3, 1, 2).reshape(10, 3072),
                           test_y=numpy.zeros(10, numpy.uint8))
    return str(root), train.transpose(0, 3, 1, 2)


def _example(root, *args):
    env = dict(os.environ, CHAINER_DATASET_ROOT=root)
    return subprocess.run([sys.executable, os.path.join(ROOT, 'example.py')] + list(args),
                          capture_output=True, text=True, env=env, cwd=ROOT)


def test_example_scores_cifar10_train_with_progress(cifar_root, model_file, model):
    root, train = cifar_root
    proc = _example(root, '--infile', model_file, '--samples', '20', '--batch-size', '10',
                    '--splits', '2')
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[:2] == ['Batch 1/2 (10/20 images)', 'Batch 2/2 (20/20 images)']
    mean = float(lines[2].split(':')[1])
    std = float(lines[3].split(':')[1])
    expected = inception_score(model, train[:20], batch_size=10, splits=2)
    assert numpy.allclose((mean, std), expected, rtol=1e-6)
    assert mean > 1.05


def test_example_errors_are_one_line(cifar_root, model_file, tmp_path):
    root, _ = cifar_root
    proc = _example(root, '--infile', model_file, '--samples', '31')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'example.py: error: --samples must be between 1 and 30, got 31']
    missing = str(tmp_path / 'nothing.model')
    proc = _example(root, '--infile', missing)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'example.py: error: model file {0} not found: create it with: '
        'inception-score-download --outfile {0}'.format(missing)]
