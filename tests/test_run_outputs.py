"""A scoring run's outputs (--save-stats, --plot, --json): all of them or none, written after
every number is known, one line on a full disk, nothing left on SIGTERM (twice); the time it
reports; the warnings when the images are too few for the numbers to mean much."""
import json
import os
import resource
import signal
import subprocess
import sys
import time
import warnings

import numpy
import pytest
from PIL import Image

import fetch_tool
from conftest import ROOT
from inception_score import checks, fid
from inception_score.cli import score_main
from inception_score.errors import InputWarning


def _folder(path, n, seed, size=16):
    path.mkdir()
    rng = numpy.random.RandomState(seed)
    for i in range(n):
        Image.fromarray(rng.randint(0, 256, (size, size, 3)).astype(numpy.uint8)).save(
            str(path / '{:02d}.png'.format(i)))
    return str(path)


@pytest.fixture(scope='module')
def samples(tmp_path_factory):
    return _folder(tmp_path_factory.mktemp('s') / 'samples', 4, seed=5)


def _process(*args, preexec_fn=None):
    """The command in a child process (its exit code and stderr are what is tested)."""
    return subprocess.Popen([sys.executable, '-m', 'inception_score'] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=preexec_fn,
                            env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS='1'))


def _errors(stderr):
    assert 'Traceback' not in stderr and 'Exception ignored' not in stderr, stderr
    return [line for line in stderr.strip().splitlines() if ': warning: ' not in line]


# ---------------------------------------------------------------------------------------------
# A destination that cannot take the statistics

def _file_size_limit():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_save_stats_over_the_file_size_limit_is_one_line_and_leaves_nothing(
        model_file, samples, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    proc = _process(samples, '--model', model_file, '--splits', '1', '--quiet', '--save-stats',
                    out / 's.npz', '--json', out / 'r.json', preexec_fn=_file_size_limit)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert _errors(err) == ['inception-score: error: cannot write {}: file too large; the file '
                            'size limit (ulimit -f) is too small'.format(out / 's.npz')]
    assert os.listdir(str(out)) == []  # the report is not written without the statistics


@pytest.fixture
def tiny_disk(tmp_path):
    with fetch_tool.tiny_disk(str(tmp_path / 'tiny'), 256 * 1024,
                              'the file size limit test covers the write path') as path:
        yield path


def test_save_stats_on_a_full_disk_is_one_line_and_leaves_nothing(model_file, samples,
                                                                  tiny_disk):
    target = os.path.join(tiny_disk, 's.npz')
    proc = _process(samples, '--model', model_file, '--splits', '1', '--quiet', '--save-stats',
                    target)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert _errors(err) == ['inception-score: error: cannot write {}: no space left on device; '
                            'free some space or write elsewhere'.format(target)]
    assert os.listdir(tiny_disk) == []


def test_one_output_failing_keeps_the_others_out_too(model_file, samples, tiny_disk,
                                                     tmp_path):
    # The statistics fit where they go; the report's disk is full: neither is written.
    fetch_tool.fill_disk(tiny_disk)
    stats, report = tmp_path / 's.npz', os.path.join(tiny_disk, 'r.json')
    proc = _process(samples, '--model', model_file, '--splits', '1', '--quiet', '--save-stats',
                    stats, '--json', report)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1
    assert _errors(err) == ['inception-score: error: cannot write {}: no space left on device; '
                            'free some space or write elsewhere'.format(report)]
    assert not stats.exists() and os.listdir(tiny_disk) == ['filler']
    assert not [p for p in os.listdir(str(tmp_path)) if p.endswith('.part')]


# ---------------------------------------------------------------------------------------------
# Interrupted while writing; failing after the scoring

@pytest.mark.slow
def test_sigterm_twice_while_the_outputs_are_written_exits_143_and_leaves_nothing(
        model_file, samples, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    # The plot (matplotlib) keeps the outputs pending for a good part of a second.
    proc = _process(samples, '--model', model_file, '--splits', '1', '--quiet', '--save-stats',
                    out / 's.npz', '--plot', out / 'p.png', '--json', out / 'r.json')
    deadline = time.monotonic() + 240
    while not any(name.endswith('.part') for name in os.listdir(str(out))):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)  # as `timeout -k` or a service manager may
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert _errors(err) == []
    assert os.listdir(str(out)) == []


def _damaged_at_the_end(path):
    """An ADM reference batch whose images' last bytes are damaged: the archive's directory and
    the statistics read fine; the damage shows (a CRC error) when the reference images are
    read, after the images were scored."""
    rng = numpy.random.RandomState(8)
    pool, spatial = rng.normal(size=(30, 2048)), rng.normal(size=(30, 2023))
    numpy.savez(str(path), mu=pool.mean(0), sigma=numpy.cov(pool, rowvar=False),
                mu_s=spatial.mean(0), sigma_s=numpy.cov(spatial, rowvar=False),
                arr_0=rng.randint(0, 256, (6, 16, 16, 3)).astype(numpy.uint8))
    data = bytearray(path.read_bytes())
    import zipfile
    with zipfile.ZipFile(str(path)) as z:
        info = z.getinfo('arr_0.npy')
    data[info.header_offset + 30 + len(info.filename) + info.compress_size - 10] ^= 0xFF
    path.write_bytes(bytes(data))
    return str(path)


def test_a_reference_failing_after_the_scoring_writes_nothing(model_file, samples, tmp_path,
                                                              capsys):
    ref = _damaged_at_the_end(tmp_path / 'VIRTUAL_damaged.npz')
    out = tmp_path / 'out'
    out.mkdir()
    code = score_main([samples, '--model', model_file, '--adm', ref, '--split-size', '2',
                       '--quiet', '--save-stats', str(out / 's.npz'), '--json',
                       str(out / 'r.json'), '--plot', str(out / 'p.png')])
    err = capsys.readouterr().err
    assert code == 1
    assert _errors(err) == ["inception-score: error: {} (array 'arr_0') is damaged (Bad CRC-32 "
                            "for file 'arr_0.npy'): re-create it".format(ref)]
    assert os.listdir(str(out)) == []


# ---------------------------------------------------------------------------------------------
# The time reported

@pytest.mark.slow
def test_elapsed_seconds_covers_the_fid(model_file, samples, tmp_path, capsys, monkeypatch):
    spans = []

    def timed_fid(*args, **kwargs):  # the real computation, made to last 3 s more
        started = time.time()
        value = real(*args, **kwargs)
        time.sleep(3)
        spans.append(time.time() - started)
        return value
    real = fid.frechet_distance
    monkeypatch.setattr(fid, 'frechet_distance', timed_fid)
    reference = _folder(tmp_path / 'ref', 3, seed=6)
    out = str(tmp_path / 'r.json')
    assert score_main([samples, '--model', model_file, '--fid', reference, '--splits', '1',
                       '--quiet', '--json', out]) == 0
    capsys.readouterr()
    assert len(spans) == 1
    assert json.load(open(out))['elapsed_seconds'] >= spans[0] >= 3


# ---------------------------------------------------------------------------------------------
# Too few images for the numbers

@pytest.mark.slow
def test_too_few_images_warn_once_each_and_are_listed_in_the_report(model_file, samples,
                                                                    tmp_path, capsys):
    ten = _folder(tmp_path / 'ten', 10, seed=7)
    ref = _folder(tmp_path / 'ref', 3, seed=9)
    stats = str(tmp_path / 's.npz')
    out = str(tmp_path / 'r.json')
    assert score_main([ten, '--model', model_file, '--fid', ref, '--quiet', '--json', out,
                       '--save-stats', stats]) == 0
    expected = [
        '10 images in 10 splits: a part of 1 images scores at most 1, so the Inception Score '
        'says little about the images: score more images (the reference scores 50,000 in 10 '
        'splits of 5,000) or give fewer --splits',
        '10 images are too few for FID: the covariance of 2048 features needs 2049 images for '
        'full rank; from fewer, the distance is biased upward and comparable only with one '
        'from as many images: score at least 2049 images (50,000 is usual)',
        '{}: 3 reference images are too few for FID: the covariance of 2048 features needs '
        '2049 images for full rank; from fewer, the distance is biased upward and comparable '
        'only with one from as many images: use at least 2049 reference images'.format(ref)]
    out_err = capsys.readouterr()
    assert out_err.out.startswith('Inception Score: 1.0000 \u00b1 0.0000 (N=10, splits=10)')
    assert out_err.err.splitlines() == ['inception-score: warning: ' + w for w in expected]
    assert json.load(open(out))['warnings'] == expected
    # The saved statistics (of 10 images: rank 9) as the reference.
    assert score_main([samples, '--model', model_file, '--fid', stats, '--splits', '2',
                       '--quiet']) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        'inception-score: warning: {}: its statistics for FID have rank 9 of 2048 (from at '
        'most 10 images): the covariance of 2048 features needs 2049 images for full rank; '
        'from fewer, the distance is biased upward and comparable only with one from as many '
        'images: use statistics of at least 2049 images'.format(stats))


class _Reference:
    def __init__(self, statistics=None, spatial=None, source=None):
        self.statistics, self.spatial, self.source = statistics, spatial, source
        self.name = 'ref.npz'


def test_enough_images_give_no_warning():
    rng = numpy.random.RandomState(10)
    x = rng.normal(size=(2100, 2048))
    full = (x.mean(0), numpy.cov(x, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter('error', InputWarning)
        checks.warn_small_samples(1000, splits=10)
        checks.warn_small_samples(50000, split_size=5000, metrics=('fid', 'sfid'),
                                  statistics=True, reference=_Reference(full, None, [0] * 2024))
        checks.warn_small_samples(2049, splits=1, metrics=('fid',),
                                  reference=_Reference(full))
    with pytest.warns(InputWarning, match='99 images in parts of 5000: a part of 99 images'):
        checks.warn_small_samples(99, split_size=5000)
    with pytest.warns(InputWarning, match='2023 images are too few for FID and sFID'):
        checks.warn_small_samples(2023, split_size=5000, metrics=('fid', 'sfid'))
