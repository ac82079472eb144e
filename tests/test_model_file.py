"""Model files: the earlier Chainer port's layout loads, and broken files give clear errors."""
import os
import re
import shutil

import chainer
import chainer.links as L
import h5py
import numpy
import pytest

from conftest import ROOT
from inception_score import Inception, ModelFileError, load_model, topology

LAYOUT = os.path.join(ROOT, 'tests', 'data', 'earlier-port-hdf5-layout.txt')


def _write_earlier_port_file(path, model, rng):
    """Every dataset of the earlier port's file, with its shapes and dtypes: zero conv biases,
    a nonzero logit bias (which the reference score must not use) and no batch-norm eps."""
    params = {k.lstrip('/'): v.array for k, v in model.namedparams()}
    for link_path, link in model.namedlinks():
        for name in link._persistent:
            params['{}/{}'.format(link_path, name).lstrip('/')] = getattr(link, name)
    with h5py.File(path, 'w') as f, open(LAYOUT) as layout:
        for line in layout:
            if line.startswith('#'):
                continue
            key, shape, dtype = re.match(r'(\S+) \(([\d, ]*)\) (\w+)', line).groups()
            shape = tuple(int(v) for v in shape.replace(' ', '').split(',') if v)
            if key == 'logit/b':
                value = rng.normal(0, 3, shape)
            elif key.endswith('/b'):
                value = numpy.zeros(shape)
            else:
                value = numpy.asarray(params[key])
            assert value.shape == shape, key
            f.create_dataset(key, data=numpy.asarray(value, dtype=dtype))


def test_earlier_port_file_loads_with_plain_chainer_and_gives_bias_free_logits(
        model, tmp_path):
    path = str(tmp_path / 'earlier.model')
    _write_earlier_port_file(path, model, numpy.random.RandomState(0))
    loaded = Inception()
    chainer.serializers.load_hdf5(path, loaded)
    expected = model.copy(mode='copy')
    for unit in topology.convs():
        assert loaded.unit(unit.name)[1].eps == float(numpy.float32(0.001))
        expected.unit(unit.name)[1].eps = float(numpy.float32(0.001))
    x = numpy.random.RandomState(1).uniform(0, 255, (2, 3, 32, 32)).astype(numpy.float32)
    assert numpy.array_equal(loaded.logits(x).array, expected.logits(x).array)
    assert isinstance(load_model(path), Inception)


def test_our_file_keeps_each_layers_eps(model, synthetic_params, model_file):
    reloaded = load_model(model_file)
    eps = {reloaded.unit(u.name)[1].eps for u in topology.convs()}
    assert eps == {float(numpy.float32(0.001)), float(numpy.float32(0.01))}
    for unit in topology.convs():
        assert reloaded.unit(unit.name)[1].eps == \
            float(numpy.float32(synthetic_params[unit.name]['eps']))


def _other_network(path):
    chainer.serializers.save_hdf5(path, L.Classifier(L.Linear(3, 2)))


def _wrong_shape(path, model_file):
    shutil.copy(model_file, path)
    with h5py.File(path, 'a') as f:
        del f['logit/W']
        f['logit/W'] = numpy.zeros((1000, 2048), numpy.float32)


def _truncated(path, model_file):
    with open(model_file, 'rb') as src, open(path, 'wb') as dst:
        dst.write(src.read(os.path.getsize(model_file) // 3))


@pytest.mark.parametrize('make,message', [
    (None, 'not found: create it with: inception-score-download --outfile'),
    (lambda p, m: open(p, 'w').write('not a model\n'), 'is not an HDF5 model file'),
    (lambda p, m: open(p, 'wb').close(), 'is not an HDF5 model file'),
    (_truncated, 'probably truncated'),
    (lambda p, m: _other_network(p), 'does not hold the Inception network'),
    (_wrong_shape, "'logit/W' has shape (1000, 2048), expected (1008, 2048)"),
])
def test_bad_model_files_give_one_line_errors(tmp_path, model_file, make, message):
    path = str(tmp_path / 'bad.model')
    if make is not None:
        make(path, model_file)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert message in str(info.value)
    assert len(str(info.value).splitlines()) == 1
