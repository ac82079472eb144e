"""What users get wrong, said in one line: checks before any work, warnings after."""
import json
import os
import subprocess
import sys
import warnings

import numpy
import pytest
from PIL import Image

from conftest import ROOT
from inception_score import InputError, inception_score
from inception_score.errors import InputWarning
from inception_score.modelfile import default_model_path


class Untouchable:
    def logits(self, x):
        raise AssertionError('the network must not run')


def _cli(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, '-m', 'inception_score'] + [str(a) for a in args],
                           capture_output=True, text=True, cwd=str(cwd),
                           env=dict(os.environ, PYTHONPATH=ROOT, **(env or {})))


def _pngs(folder, n=2):
    os.makedirs(str(folder), exist_ok=True)
    rng = numpy.random.RandomState(0)
    for i in range(n):
        Image.fromarray(rng.randint(0, 256, (8, 8, 3)).astype(numpy.uint8)).save(
            str(folder / '{}.png'.format(i)))
    return folder


def test_resize_bilinear_is_an_input_error_that_names_tf1():
    ims = numpy.zeros((4, 3, 8, 8), numpy.uint8)
    with pytest.raises(InputError) as info:
        inception_score(Untouchable(), ims, splits=2, resize='bilinear')
    assert str(info.value) == ("resize must be one of 'tf1', 'pil', 'nearest', 'clean', got "
                               "'bilinear': the graph's own bilinear resize is 'tf1'")


@pytest.mark.slow
def test_a_list_of_hwc_arrays_scores_as_the_reference_takes_it(network):
    rng = numpy.random.RandomState(1)
    ims = rng.randint(0, 256, (6, 3, 12, 12)).astype(numpy.uint8)
    as_list = [im.transpose(1, 2, 0).astype(numpy.float32) for im in ims]  # OpenAI's input
    assert inception_score(network, as_list, splits=2) == \
        inception_score(network, ims.astype(numpy.float32), splits=2)
    with pytest.raises(InputError, match=r'must hold \(H, W, 3\) arrays, as the OpenAI '
                                         r'reference takes them; got 6 of shape \(3, 12, 12\)'):
        inception_score(Untouchable(), list(ims), splits=2)
    with pytest.raises(InputError, match='one shape, got 2 shapes'):
        inception_score(Untouchable(), as_list[:3] + [numpy.zeros((9, 9, 3))], splits=2)


def test_unit_data_given_as_minus_one_to_one_warns(network):
    rng = numpy.random.RandomState(2)
    unit = rng.uniform(0, 1, (4, 3, 8, 8)).astype(numpy.float32)
    with pytest.warns(InputWarning, match=r'images: no value is below 0 although the range is '
                                          r'\[-1, 1\].*pass value_range=\(0, 1\)'):
        inception_score(network, unit, splits=2, value_range=(-1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter('error', InputWarning)
        inception_score(network, unit * 2 - 1, splits=2, value_range=(-1, 1))


@pytest.mark.slow
def test_one_exit_code_rule_for_missing_files_and_broken_ones(model_file, tmp_path):
    folder = _pngs(tmp_path / 'imgs')
    truncated = tmp_path / 'truncated.model'
    truncated.write_bytes(open(model_file, 'rb').read()[:1 << 20])
    archive = tmp_path / 'inception-2015-12-05.tgz'
    archive.write_bytes(b'\x1f\x8b\x08\x00' + b'\x00' * 100)
    missing = tmp_path / 'no.model'
    empty_root = str(tmp_path / 'dataset_root')
    cases = [
        # (arguments, environment, exit code, message)
        ([folder, '--model', missing], None, 2,
         'model file {0} not found: create it with: inception-score-download --outfile {0}'
         .format(missing)),
        # No model given: the message lists both places looked at (run in tmp_path).
        ([folder], {'CHAINER_DATASET_ROOT': empty_root}, 2,
         'model file not found: looked for {0} and {1}: create it with: '
         'inception-score-download --outfile {1} (or pass --model PATH)'
         .format(tmp_path / 'inception_score.model',
                 os.path.join(empty_root, 'inception_score', 'inception_score.model'))),
        ([tmp_path / 'nowhere', '--model', model_file], None, 2,
         '{} does not exist'.format(tmp_path / 'nowhere')),
        ([folder, '--model', archive], {'CHAINER_DATASET_ROOT': empty_root}, 2,
         '{0} is the TensorFlow graph or its archive, not a model file: convert it with '
         'inception-score-download --graph {0}; it writes {1}, used when no model is given'
         .format(archive, os.path.join(empty_root, 'inception_score', 'inception_score.model'))),
        ([folder, '--model', truncated], None, 1, 'probably truncated'),
    ]
    for args, env, code, message in cases:
        proc = _cli(*args, '--splits', '2', '--quiet', env=env, cwd=tmp_path)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith('inception-score: error: '), lines
        assert message in lines[0], (message, lines[0])
    assert archive.read_bytes().startswith(b'\x1f\x8b')  # never written over


def test_samples_or_splits_above_what_is_there_fail_before_the_model_loads(tmp_path):
    folder = _pngs(tmp_path / 'imgs', 2)
    for args, message in ((['--samples', '3'], '--samples 3 but only 2 images are available'),
                          (['--splits', '3'], '2 images cannot be cut into 3 splits')):
        proc = _cli(folder, *args, '--model', tmp_path / 'no.model')  # no --quiet: no bar drawn
        assert proc.returncode == 2
        assert len(proc.stderr.splitlines()) == 1
        assert proc.stderr.startswith('inception-score: error: ' + message)


def test_flags_that_do_not_apply_warn_one_line_each(tmp_path):
    folder = _pngs(tmp_path / 'imgs')
    npy = tmp_path / 'x.npy'
    numpy.save(str(npy), numpy.zeros((2, 8, 8, 3), numpy.uint8))
    model = tmp_path / 'no.model'  # the run stops there: the warnings come before
    proc = _cli(folder, '--seed', '3', '--layout', 'nhwc', '--input-range=0,1', '--key', 'x',
                '--splits', '2', '--model', model)
    assert proc.stderr.splitlines()[:-1] == ['inception-score: warning: ' + w for w in (
        '--seed has no effect without --shuffle (the splits are contiguous)',
        '--key applies to .npz inputs only: ignored',
        '--layout applies to .npz/.npy images (inputs or reference) only: ignored',
        '--input-range applies to float arrays in .npz/.npy files (inputs or reference; image '
        'files are 8-bit): ignored')]
    assert 'not found' in proc.stderr.splitlines()[-1] and proc.returncode == 2
    proc = _cli(npy, '--skip-bad', '--allow-16bit', '--key', 'x', '--shuffle', '--seed', '3',
                '--splits', '2', '--model', model)
    assert proc.stderr.splitlines()[:-1] == ['inception-score: warning: ' + w for w in (
        '--key applies to .npz inputs only: ignored',
        '--skip-bad applies to image files (given, in folders or in a reference folder) only: '
        'ignored',
        '--allow-16bit applies to image files (given, in folders or in a reference folder) '
        'only: ignored')]


@pytest.mark.slow
def test_report_records_input_options_and_unit_data_warnings(model_file, tmp_path):
    rng = numpy.random.RandomState(3)
    npy, npz = tmp_path / 'a.npy', tmp_path / 'b.npz'
    numpy.save(str(npy), rng.uniform(0, 1, (2, 8, 8, 3)).astype(numpy.float32))
    numpy.savez(str(npz), imgs=rng.uniform(0, 1, (2, 8, 8, 3)).astype(numpy.float32))
    out = tmp_path / 'r.json'
    proc = _cli(npy, npz, '--input-range=-1,1', '--layout', 'nhwc', '--key', 'imgs',
                '--splits', '2', '--model', model_file, '--quiet', '--json', out)
    assert proc.returncode == 0, proc.stderr
    expected = ['{}: no value is below 0 although the range is [-1, 1]: images in [0, 1] are '
                'scored as washed-out light images; if that is what they are, pass '
                '--input-range=0,1'.format(p) for p in (npy, npz)]
    expected.append('4 images in 2 splits: a part of 2 images scores at most 2, so the Inception '
                    'Score says little about the images: score more images (the reference '
                    'scores 50,000 in 10 splits of 5,000) or give fewer --splits')
    assert proc.stderr.splitlines() == ['inception-score: warning: ' + w for w in expected]
    report = json.loads(out.read_text())
    assert (report['input_range'], report['layout'], report['key']) == ([-1, 1], 'nhwc', 'imgs')
    assert report['warnings'] == expected
    assert report['sampling'] == 'all' and report['images_available'] == 4


def test_default_model_path_is_the_one_hints_name(tmp_path):
    env = dict(os.environ, CHAINER_DATASET_ROOT=str(tmp_path))
    code = 'from inception_score.modelfile import default_model_path; print(default_model_path())'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                         cwd=ROOT).stdout.strip()
    assert out == os.path.join(str(tmp_path), 'inception_score', 'inception_score.model')
    assert default_model_path().endswith(os.path.join('inception_score', 'inception_score.model'))
