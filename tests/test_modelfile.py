"""Model files without Chainer: ours and the earlier Chainer port's load; broken files give one
line naming the file, the dataset and the fix."""
import os
import re
import shutil

import h5py
import numpy
import pytest

from conftest import ROOT
from inception_score import ModelFileError, Network, load_arrays, topology
from inception_score.modelfile import save_arrays

LAYOUT = os.path.join(ROOT, 'tests', 'data', 'earlier-port-hdf5-layout.txt')


def write_earlier_port_file(path, arrays, rng):
    """Every dataset of the earlier port's file, with its shapes and dtypes: zero conv biases,
    a nonzero logit bias (which the reference score must not use), N, and no batch-norm eps."""
    with h5py.File(path, 'w') as f, open(LAYOUT) as layout:
        for line in layout:
            if line.startswith('#'):
                continue
            key, shape, dtype = re.match(r'(\S+) \(([\d, ]*)\) (\w+)', line).groups()
            shape = tuple(int(v) for v in shape.replace(' ', '').split(',') if v)
            if key == 'logit/b':
                value = rng.normal(0, 3, shape)
            elif key.endswith('/b') or key.endswith('/N'):
                value = numpy.zeros(shape)
            else:
                value = numpy.asarray(arrays[key])
            assert value.shape == shape, key
            f.create_dataset(key, data=numpy.asarray(value, dtype=dtype))


@pytest.mark.slow
def test_earlier_port_file_loads_with_the_graph_eps_and_no_bias(model_file, tmp_path):
    ours = load_arrays(model_file)
    path = str(tmp_path / 'earlier.model')
    write_earlier_port_file(path, ours, numpy.random.RandomState(0))
    theirs = load_arrays(path)
    assert set(theirs) == set(topology.expected_arrays())
    for key, value in theirs.items():
        if key.endswith('/eps'):
            assert value == numpy.float32(0.001)
        else:
            assert numpy.array_equal(value, ours[key]), key
    expected = dict(ours, **{k: numpy.float32(0.001) for k in ours if k.endswith('/eps')})
    x = numpy.random.RandomState(1).uniform(0, 255, (2, 3, 32, 32)).astype(numpy.float32)
    assert numpy.array_equal(Network(theirs).logits(x), Network(expected).logits(x))


def test_our_file_keeps_each_layers_eps(synthetic_params, model_file):
    arrays = load_arrays(model_file)
    for unit in topology.convs():
        assert arrays[topology.unit_arrays(unit)['eps']] == \
            numpy.float32(synthetic_params[unit.name]['eps'])
    assert {float(arrays[topology.unit_arrays(u)['eps']]) for u in topology.convs()} == \
        {float(numpy.float32(0.001)), float(numpy.float32(0.01))}


@pytest.mark.slow
def test_saved_arrays_round_trip_exactly(model_file, tmp_path):
    arrays = load_arrays(model_file)
    path = str(tmp_path / 'copy.model')
    save_arrays(path, arrays, {'note': 'copy'})
    again = load_arrays(path)
    assert all(numpy.array_equal(again[k], arrays[k]) for k in arrays)
    assert os.listdir(str(tmp_path)) == ['copy.model']


def _copy_and(edit):
    def make(path, model_file):
        shutil.copy(model_file, path)
        with h5py.File(path, 'a') as f:
            edit(f)
    return make


def _replace(key, value):
    def edit(f):
        del f[key]
        f[key] = value
    return edit


def _other_network(path, model_file):
    with h5py.File(path, 'w') as f:
        f['predictor/W'] = numpy.zeros((2, 3), numpy.float32)


def _truncated(path, model_file):
    with open(model_file, 'rb') as src, open(path, 'wb') as dst:
        dst.write(src.read(os.path.getsize(model_file) // 3))


def _graph_archive(path, model_file):
    import gzip
    with gzip.open(path, 'wb') as f:
        f.write(b'not really a tar')


BAD = [
    (None, 'not found: create it with: inception-score-download --outfile'),
    (lambda p, m: open(p, 'w').write('not a model\n'), 'is not an HDF5 model file'),
    (lambda p, m: open(p, 'wb').close(), 'is not an HDF5 model file'),
    (_graph_archive, 'is the TensorFlow graph or its archive, not a model file: convert it with '
                     'inception-score-download --graph'),
    (_truncated, 'probably truncated'),
    (_other_network, 'does not hold the Inception network'),
    (_copy_and(_replace('logit/W', numpy.zeros((1000, 2048), numpy.float32))),
     "'logit/W' has shape (1000, 2048), expected (1008, 2048)"),
    (_copy_and(_replace('logit/W', numpy.full((1008, 2048), numpy.nan, numpy.float32))),
     "'logit/W'"),
    (_copy_and(_replace('mixed_3/conv/conv/W', numpy.zeros((384, 288, 3, 3), numpy.int32))),
     "'mixed_3/conv/conv/W' has dtype int32"),
    (_copy_and(_replace('bn_conv/eps', numpy.float32(-1))), "'bn_conv/eps'"),
    (_copy_and(_replace('bn_conv/eps', numpy.full(5, 0.001, numpy.float32))),
     "'bn_conv/eps' has shape (5,), expected ()"),
    (_copy_and(_replace('bn_conv/avg_var', -numpy.ones(32, numpy.float32))),
     "'bn_conv/avg_var'"),
    (_copy_and(lambda f: (f.__delitem__('conv/W'), f.create_group('conv/W'))),
     "'conv/W' is a group where a dataset belongs"),
    (_copy_and(lambda f: (f.__delitem__('conv/W'),
                          f.__setitem__('conv/W', h5py.SoftLink('/conv_1/W')))),
     "'conv/W' is a SoftLink"),
    (_copy_and(lambda f: (f.__delitem__('conv/W'),
                          f.__setitem__('conv/W', h5py.ExternalLink('/etc/x.h5', '/W')))),
     "'conv/W' is a ExternalLink"),
    (_copy_and(lambda f: (f.__delitem__('mixed'),
                          f.__setitem__('mixed', h5py.SoftLink('/mixed')))),
     "'mixed' is a SoftLink"),
]


@pytest.mark.parametrize('make,message', BAD, ids=[m[:40] for _, m in BAD])
def test_bad_model_files_give_one_line_errors(tmp_path, model_file, make, message):
    path = str(tmp_path / 'bad.model')
    if make is not None:
        make(path, model_file)
    with pytest.raises(ModelFileError) as info:
        load_arrays(path)
    assert message in str(info.value)
    assert len(str(info.value).splitlines()) == 1
