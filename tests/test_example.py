"""example.py end to end on small CIFAR-10 copies in the official formats (no Chainer needed)."""
import json
import os
import shutil
import subprocess
import sys

import numpy
import pytest

import cifar_files
from conftest import ROOT
from inception_score import cifar10, inception_score


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    rng = numpy.random.RandomState(7)
    train = rng.randint(0, 256, (30, 3, 32, 32)).astype(numpy.uint8)
    test = rng.randint(0, 256, (5, 3, 32, 32)).astype(numpy.uint8)
    d = tmp_path_factory.mktemp('cifar')
    return train, {kind: cifar_files.write_archive(d / cifar10.ARCHIVES[kind], train, test,
                                                   kind) for kind in ('python', 'binary')}


def _example(*args, cwd=ROOT, root=None):
    env = dict(os.environ, CHAINER_DATASET_ROOT=str(root or os.path.join(str(cwd), 'no_root')))
    env['PYTHONPATH'] = ROOT  # the package of this checkout, whatever the working directory
    return subprocess.run([sys.executable, os.path.join(ROOT, 'example.py')] +
                          [str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=str(cwd))


@pytest.mark.slow
def test_earlier_flags_score_the_python_archive_with_a_progress_bar_and_report(
        cifar, model_file, network, tmp_path):
    train, archives = cifar
    out = tmp_path / 'r.json'
    proc = _example('--infile', model_file, '--data', archives['python'], '--samples', '20',
                    '--batch-size', '10', '--splits', '2', '--json', out)
    assert proc.returncode == 0, proc.stderr
    expected = inception_score(network, train[:20], batch_size=10, splits=2)
    assert proc.stdout == 'Inception Score: {:.4f} \u00b1 {:.4f} (N=20, splits=2)\n'.format(
        *expected)
    assert '20/20' in proc.stderr and 'img/s' in proc.stderr  # tqdm: count, rate, ETA
    report = json.loads(out.read_text())
    assert numpy.allclose([report['inception_score']['mean'], report['inception_score']['std']],
                          expected, rtol=1e-9)
    assert report['inputs'] == [archives['python']] and report['n'] == 20
    assert report['sampling'] == 'first 20 CIFAR-10 training images'
    assert report['images_available'] == 30 and report['model_file'] == model_file


@pytest.mark.slow
def test_binary_archive_in_the_working_directory_with_the_command_lines_flags(
        cifar, model_file, network, tmp_path):
    train, archives = cifar
    shutil.copy(archives['binary'], str(tmp_path / 'cifar-10-binary.tar.gz'))
    proc = _example('--model', model_file, '--samples', '4', '--splits', '2', '--quiet',
                    '--no-download', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
    expected = inception_score(network, train[:4], splits=2)
    assert proc.stdout == 'Inception Score: {:.4f} \u00b1 {:.4f} (N=4, splits=2)\n'.format(
        *expected)


def test_errors_are_one_line_and_say_what_to_do(cifar, model_file, tmp_path):
    _, archives = cifar
    cases = [
        (['--infile', model_file, '--no-download'], 2,
         cifar10.not_found_message(str(tmp_path))),
        (['--infile', model_file, '--data', archives['python'], '--samples', '31'], 2,
         '--samples 31 but only 30 images are available'),
        (['--infile', tmp_path / 'nothing.model', '--data', archives['python'], '--samples',
          '4', '--splits', '2'], 2,
         'model file {0} not found: create it with: inception-score-download --outfile {0}'
         .format(tmp_path / 'nothing.model')),
    ]
    for args, code, message in cases:
        proc = _example(*args, cwd=tmp_path)
        assert proc.returncode == code, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (message, lines)
        assert lines[0].startswith('example.py: error: ')
