"""What a model file says about itself: every text attribute is checked as UTF-8 (and the
weights checksum as a SHA-256 digest) when it is loaded, one line otherwise; the model's
identity in reports is the SHA-256 of its weights, the same for every conversion of them."""
import hashlib
import json
import os
import shutil
import time

import h5py
import numpy
import pytest

import synthetic_graph
from inception_score.cli import download_main, score_main
from inception_score.modelfile import DIGEST_ATTR, arrays_digest, load_arrays, weights_sha256


@pytest.fixture(scope='module')
def two_images(tmp_path_factory):
    return synthetic_graph.noise_png_folder(tmp_path_factory.mktemp('two'), 2, 3)


def _with_attribute(model_file, tmp_path, name, value):
    path = str(tmp_path / 'm.model')
    shutil.copy(model_file, path)
    with h5py.File(path, 'r+') as f:
        f.attrs[name] = value
    return path


def _flipped_in_text(model_file, tmp_path, name):
    """The model file with one byte of the text attribute `name` made invalid UTF-8 (as a
    flipped bit on disk would)."""
    with h5py.File(model_file, 'r') as f:
        text = f.attrs[name].encode()
    data = bytearray(open(model_file, 'rb').read())
    at = data.find(text)
    assert at > 0 and data.find(text, at + 1) < 0
    data[at + 3] = 0xFF
    path = str(tmp_path / 'm.model')
    open(path, 'wb').write(bytes(data))
    return path


BAD_ATTRIBUTES = {
    'digest of invalid UTF-8 bytes': (
        lambda m, t: _with_attribute(m, t, DIGEST_ATTR, numpy.bytes_(b'\xff\xfe' + b'0' * 62)),
        "its 'arrays_sha256' attribute is not valid UTF-8 text"),
    'digest flipped on disk': (
        lambda m, t: _flipped_in_text(m, t, DIGEST_ATTR),
        "its 'arrays_sha256' attribute is not valid UTF-8 text"),
    'digest that is not hex': (
        lambda m, t: _with_attribute(m, t, DIGEST_ATTR, 'not a digest'),
        "its weights checksum 'not a digest' is not a SHA-256 hex digest"),
    'source flipped on disk': (
        lambda m, t: _flipped_in_text(m, t, 'source_sha256'),
        "its 'source_sha256' attribute is not valid UTF-8 text"),
    'converter version of invalid UTF-8 bytes': (
        lambda m, t: _with_attribute(m, t, 'inception_score_converter_version',
                                     numpy.bytes_(b'2\xc3')),
        "its 'inception_score_converter_version' attribute is not valid UTF-8 text"),
}


@pytest.mark.parametrize('case', sorted(BAD_ATTRIBUTES))
def test_damaged_text_attributes_are_one_line_before_scoring(case, model_file, two_images,
                                                             tmp_path, capsys):
    make, message = BAD_ATTRIBUTES[case]
    path = make(model_file, tmp_path)
    code = score_main([two_images, '--model', path, '--splits', '1', '--quiet', '--json',
                       str(tmp_path / 'r.json')])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == ['inception-score: error: {} is damaged: {}: create it with: '
                                'inception-score-download --outfile {}'.format(
                                    path, message, path)]
    assert sorted(os.listdir(str(tmp_path))) == ['m.model']


@pytest.mark.slow
def test_two_conversions_of_one_archive_have_one_model_sha256(graph_files, model_file,
                                                              two_images, tmp_path, capsys):
    # The session's model file is one conversion of the archive; this is another, a second
    # later: the files differ (their creation time), the weights and their identity do not.
    time.sleep(1.1)
    second = str(tmp_path / 'again.model')
    assert download_main(['--graph', graph_files['tgz'], '--outfile', second, '--quiet']) == 0

    def digest(path):
        return hashlib.sha256(open(path, 'rb').read()).hexdigest()
    assert digest(second) != digest(model_file)
    reports = []
    for model in (model_file, second):
        out = str(tmp_path / 'r.json')
        assert score_main([two_images, '--model', model, '--splits', '1', '--quiet', '--json',
                           out]) == 0
        reports.append(json.load(open(out)))
    capsys.readouterr()
    identity = arrays_digest(load_arrays(second))
    assert reports[0]['model_sha256'] == reports[1]['model_sha256'] == identity
    assert weights_sha256(model_file) == weights_sha256(second) == identity


def test_files_of_the_earlier_port_are_identified_by_their_weights(model_file, tmp_path):
    # No recorded checksum (the earlier Chainer port wrote none): computed from the weights.
    path = str(tmp_path / 'old.model')
    shutil.copy(model_file, path)
    with h5py.File(path, 'r+') as f:
        for name in list(f.attrs):
            del f.attrs[name]
    assert weights_sha256(path) == arrays_digest(load_arrays(model_file))
