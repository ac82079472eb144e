"""examples/dcgan_with_inception_score.py as a user runs it: every flag explained, errors as one
line, outputs never on what the run reads, and progress on a terminal for a real-data run."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy
import pytest

import cifar_files
from conftest import ROOT

chainer = pytest.importorskip('chainer')
DCGAN = os.path.join(ROOT, 'examples', 'dcgan_with_inception_score.py')


@pytest.fixture(scope='module')
def dcgan():
    spec = importlib.util.spec_from_file_location('dcgan_example', DCGAN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_flag_has_a_help_text(dcgan):
    for action in dcgan.parser()._actions:
        assert action.help and len(action.help) > 10, action.option_strings


def test_outputs_never_land_on_inputs_and_errors_are_one_line(dcgan, model_file, tmp_path,
                                                              capsys):
    zeros = numpy.zeros((5, 3, 32, 32), numpy.uint8)
    folder = cifar_files.write_folder(tmp_path / 'data', zeros, zeros, 'python')
    (tmp_path / 'file').write_text('mine\n')
    cases = [
        (['--out', os.path.join(folder, 'result')],
         '--out {0}/result is inside the CIFAR-10 copy folder {0}: write outputs outside the '
         'inputs'.format(folder)),
        (['--out', folder], "--out's log {0}/log is inside the CIFAR-10 copy folder {0}: "
                            'write outputs outside the inputs'.format(folder)),
        (['--out', str(tmp_path / 'file')],
         '--out {} is not a folder: give a folder for the outputs'.format(tmp_path / 'file')),
        (['--epoch', '0'], "argument --epoch: must be an integer >= 1, got '0' (see "
                           'dcgan_with_inception_score.py --help)'),
    ]
    for args, message in cases:
        try:
            code = dcgan.main(['--model', model_file, '--data', folder] + args)
        except SystemExit as e:  # argparse's errors
            code = e.code
        assert code == 2
        assert capsys.readouterr().err == 'dcgan_with_inception_score.py: error: {}\n'.format(
            message)
    assert (tmp_path / 'file').read_text() == 'mine\n'
    assert sorted(os.listdir(folder)) == sorted(os.listdir(
        os.path.join(str(tmp_path / 'data'), 'cifar-10-batches-py')))
    assert not os.path.exists(os.path.join(folder, 'result'))


def _run_on_a_terminal(args, env, cwd):
    """Run with stderr on a pseudo-terminal of 100 columns; (exit code, stderr)."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=600), b''.join(chunks).decode('utf-8', 'replace')


@pytest.mark.slow
def test_real_data_run_shows_training_and_evaluation_progress_on_a_terminal(model_file,
                                                                            tmp_path):
    rng = numpy.random.RandomState(51)
    train = rng.randint(0, 256, (15, 3, 32, 32)).astype(numpy.uint8)
    data = cifar_files.write_archive(tmp_path / 'cifar-10-binary.tar.gz', train, train[:2],
                                     'binary')
    env = dict(os.environ, PYTHONPATH=ROOT, CHAINER_DATASET_ROOT=str(tmp_path / 'root'))
    code, stderr = _run_on_a_terminal(
        [sys.executable, DCGAN, '--model', model_file, '--data', data, '--epoch', '1',
         '--batchsize', '5', '--is-samples', '10', '--out', str(tmp_path / 'out')], env,
        str(tmp_path))
    assert code == 0, stderr[-2000:]
    assert 'training: ' in stderr and '15/15' in stderr  # 1 epoch of 15 training images
    assert 'inception_score: ' in stderr and '10/10' in stderr and 'img/s' in stderr
    log = json.load(open(str(tmp_path / 'out' / 'log')))
    assert [e['iteration'] for e in log] == [3]
    assert log[0]['inception_score/mean'] >= 1.0
