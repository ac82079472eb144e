"""InceptionScoreExtension and inception_score_from_generator in a real Trainer."""
import json
import os
import subprocess
import sys

import pytest

chainer = pytest.importorskip('chainer')  # the Trainer extension and ChainerMN are Chainer's

import chainer.functions as F
import chainer.links as L
import numpy
from chainer import training
from chainer.training import extensions

from conftest import ROOT
from inception_score import (InceptionScoreExtension, InputError, inception_score,
                             inception_score_from_generator)


class TinyGenerator(chainer.Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.l = L.Linear(8, 3 * 16 * 16)
            self.bn = L.BatchNormalization(3 * 16 * 16)

    def __call__(self, n):
        z = numpy.random.normal(0, 1, (n, 8)).astype(numpy.float32)  # the global state
        return F.reshape(F.tanh(self.bn(self.l(z))), (n, 3, 16, 16))


def _snapshot(link):
    return {k: v.copy() for k, v in (
        [(name, p.array) for name, p in link.namedparams()] +
        [('{}/{}'.format(path, n), getattr(l, n)) for path, l in link.namedlinks()
         for n in l._persistent if n != 'N'])}


@pytest.mark.slow
def test_trainer_logs_the_score_and_leaves_training_state_alone(model, tmp_path):
    gen = TinyGenerator()
    before = _snapshot(gen)
    target = L.Classifier(L.Linear(4, 2))
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(target)
    data = chainer.datasets.TupleDataset(numpy.ones((8, 4), numpy.float32),
                                         numpy.zeros(8, numpy.int32))
    updater = training.updaters.StandardUpdater(chainer.iterators.SerialIterator(data, 4),
                                                optimizer)
    trainer = training.Trainer(updater, (2, 'iteration'), out=str(tmp_path))
    ext = InceptionScoreExtension(gen, model, n_samples=6, batch_size=3, splits=2, seed=5)
    trainer.extend(ext, trigger=(1, 'iteration'))
    trainer.extend(extensions.LogReport(trigger=(1, 'iteration')))
    numpy.random.seed(123)
    assert chainer.config.train is True
    trainer.run()
    log = json.load(open(str(tmp_path / 'log')))
    assert len(log) == 2
    direct = inception_score_from_generator(gen, model, 6, batch_size=3, splits=2, seed=5)
    for entry in log:
        assert (entry['inception_score/mean'], entry['inception_score/std']) == direct
    assert direct[0] > 1.0
    assert chainer.config.train is True
    after = _snapshot(gen)
    assert all(numpy.array_equal(before[k], after[k]) for k in before)
    # Training randomness untouched: the global state is where the seed put it.
    numpy.random.seed(123)
    expected_state = numpy.random.get_state()[1]
    ext(trainer)
    assert numpy.array_equal(numpy.random.get_state()[1], expected_state)


@pytest.mark.slow
def test_generator_samples_are_the_ones_scored(model):
    gen = TinyGenerator()
    rng = numpy.random.RandomState(9)
    z = rng.normal(0, 1, (6, 8)).astype(numpy.float32)
    with chainer.using_config('train', False):
        ims = gen.bn(gen.l(z)).array
    ims = numpy.tanh(ims).reshape(6, 3, 16, 16)
    expected = inception_score(model, ims, batch_size=3, splits=2, value_range=(-1, 1))
    got = inception_score_from_generator(gen, model, 6, batch_size=3, splits=2, seed=9)
    assert numpy.allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize('output,message', [
    (lambda n: numpy.full((n, 3, 8, 8), 100.0, numpy.float32), 'outside value_range (-1, 1)'),
    (lambda n: numpy.zeros((n, 8, 8, 3), numpy.float32), 'pass ims.transpose(0, 3, 1, 2)'),
    (lambda n: numpy.zeros((n + 1, 3, 8, 8), numpy.float32), 'it must return'),
])
def test_bad_generator_fails_at_the_first_batch(model, output, message):
    calls = []

    def generator(n):
        calls.append(n)
        return output(n)

    ext = InceptionScoreExtension(generator, model, n_samples=50000, batch_size=100)
    with pytest.raises(InputError) as info:
        ext()
    assert message in str(info.value) and calls == [100]


@pytest.mark.slow
def test_model_path_is_loaded_once(model_file):
    ext = InceptionScoreExtension(lambda n: None, model_file, n_samples=10, splits=2)
    assert ext.model.__class__.__name__ == 'Inception'
    with pytest.raises(InputError, match='10 images cannot be cut into 11 splits'):
        InceptionScoreExtension(lambda n: None, ext.model, n_samples=10, splits=11)


DCGAN = os.path.join(ROOT, 'examples', 'dcgan_with_inception_score.py')


@pytest.mark.slow
def test_dcgan_example_smoke_run(model_file, tmp_path):
    proc = subprocess.run([sys.executable, DCGAN, '--model', model_file, '--smoke', '--out',
                           str(tmp_path / 'out')],
                          capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = json.load(open(str(tmp_path / 'out' / 'log')))
    assert [e['iteration'] for e in log] == [1, 2, 3]
    assert all(e['inception_score/mean'] >= 1.0 for e in log)
    assert all(e['inception_score/time'] > 0 for e in log)
    assert (tmp_path / 'out' / 'inception_score.png').exists()
    assert 'img/s' not in proc.stderr  # stderr is no terminal: no progress bar by default


def _run_on_a_terminal(args, env, cwd):
    """Run with stderr on a pseudo-terminal (as in an interactive shell); (rc, stderr)."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))  # 100 columns
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
def test_dcgan_example_uses_the_default_model_and_shows_progress_on_a_terminal(
        model_file, tmp_path):
    # The model only where inception-score-download puts it by default; no --model.
    root = tmp_path / 'dataset_root'
    (root / 'inception_score').mkdir(parents=True)
    os.symlink(model_file, str(root / 'inception_score' / 'inception_score.model'))
    env = dict(os.environ, CHAINER_DATASET_ROOT=str(root))
    code, stderr = _run_on_a_terminal(
        [sys.executable, DCGAN, '--smoke', '--out', str(tmp_path / 'out')], env, str(tmp_path))
    assert code == 0, stderr[-2000:]
    assert 'inception_score: ' in stderr and '8/8' in stderr and 'img/s' in stderr
    log = json.load(open(str(tmp_path / 'out' / 'log')))
    assert [e['iteration'] for e in log] == [1, 2, 3]
    assert all(e['inception_score/mean'] >= 1.0 and e['inception_score/time'] > 0 for e in log)


@pytest.mark.slow
def test_progress_can_be_forced_either_way(model, capfd):
    gen = TinyGenerator()
    InceptionScoreExtension(gen, model, n_samples=4, batch_size=2, splits=2, progress=True)()
    assert '4/4' in capfd.readouterr().err
    InceptionScoreExtension(gen, model, n_samples=4, batch_size=2, splits=2, progress=False)()
    assert capfd.readouterr().err == ''


def test_unit_output_with_the_default_range_warns(model):
    from inception_score.errors import InputWarning
    ext = InceptionScoreExtension(lambda n: numpy.full((n, 3, 8, 8), 0.5, numpy.float32), model,
                                  n_samples=4, batch_size=2, splits=2)
    with pytest.warns(InputWarning, match=r'generator output: no value is below 0 although '
                                          r'value_range is \(-1, 1\)'):
        ext()


@pytest.mark.slow
def test_distributed_score_equals_single_process_under_mpiexec(model_file):
    mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    proc = subprocess.run([mpiexec, '-n', '2', sys.executable,
                           os.path.join(ROOT, 'tests', 'mpi_score.py'), model_file],
                          capture_output=True, text=True, timeout=400,
                          env=dict(os.environ, PYTHONPATH=ROOT))  # this checkout's package
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = sorted(l for l in proc.stdout.splitlines() if l.startswith('rank'))
    assert lines == ['rank 0 ok 40 41 1 gen sharded hint',
                     'rank 1 ok 40 41 1 gen sharded hint'], proc.stdout


@pytest.mark.slow
def test_trainer_reports_fid_from_the_same_pass(model, tmp_path):
    from inception_score.fid import frechet_distance
    from inception_score.io import to_pixel_range
    network = model.network()
    real = numpy.random.RandomState(3).uniform(0, 255, (8, 3, 20, 20)).astype(numpy.float32)
    real_features = network.features(real).astype(numpy.float64)
    stats = tmp_path / 'fid_stats_real.npz'  # TTUR's format: mu, sigma
    numpy.savez(str(stats), mu=real_features.mean(0), sigma=numpy.cov(real_features,
                                                                        rowvar=False))
    gen = TinyGenerator()
    target = L.Classifier(L.Linear(4, 2))
    optimizer = chainer.optimizers.SGD()
    optimizer.setup(target)
    data = chainer.datasets.TupleDataset(numpy.ones((4, 4), numpy.float32),
                                         numpy.zeros(4, numpy.int32))
    updater = training.updaters.StandardUpdater(chainer.iterators.SerialIterator(data, 4),
                                                optimizer)
    trainer = training.Trainer(updater, (1, 'iteration'), out=str(tmp_path / 'out'))
    trainer.extend(InceptionScoreExtension(gen, model, n_samples=6, batch_size=3, splits=2,
                                           seed=5, fid_reference=str(stats)),
                   trigger=(1, 'iteration'))
    trainer.extend(extensions.LogReport(trigger=(1, 'iteration')))
    trainer.run()
    (entry,) = json.load(open(str(tmp_path / 'out' / 'log')))
    # The samples the extension drew: the generator under RandomState(5), batches of 3.
    rng = numpy.random.RandomState(5)
    with chainer.using_config('train', False):
        ims = numpy.concatenate([gen.bn(gen.l(rng.normal(0, 1, (3, 8)).astype(numpy.float32)))
                                 .array for _ in range(2)])
    ims = to_pixel_range(numpy.tanh(ims).reshape(6, 3, 16, 16), (-1, 1))
    features = network.features(ims).astype(numpy.float64)
    expected = frechet_distance(features.mean(0), numpy.cov(features, rowvar=False),
                                real_features.mean(0), numpy.cov(real_features, rowvar=False))
    assert entry['inception_score/fid'] == pytest.approx(expected, rel=1e-6)
    assert (entry['inception_score/mean'], entry['inception_score/std']) == \
        inception_score_from_generator(gen, model, 6, batch_size=3, splits=2, seed=5)


def test_bad_fid_reference_fails_when_the_extension_is_made(model, tmp_path):
    path = tmp_path / 'stats.npz'
    numpy.savez(str(path), mu=numpy.zeros(3), sigma=numpy.eye(3))
    with pytest.raises(InputError, match='the statistics are of 3 features, expected 2048'):
        InceptionScoreExtension(lambda n: None, model, n_samples=10, splits=2,
                                fid_reference=str(path))
