"""CIFAR-10 from local copies in every official layout, never with unrestricted unpickling."""
import os
import pickle

import numpy
import pytest

import cifar_files
from conftest import make_tgz
from inception_score import cifar10
from inception_score.errors import InputError, UsageError


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    rng = numpy.random.RandomState(5)
    train = rng.randint(0, 256, (15, 3, 32, 32)).astype(numpy.uint8)
    test = rng.randint(0, 256, (4, 3, 32, 32)).astype(numpy.uint8)
    d = tmp_path_factory.mktemp('cifar')
    paths = {kind: cifar_files.write_archive(d / cifar10.ARCHIVES[kind], train, test, kind)
             for kind in ('python', 'binary')}
    for kind in ('python', 'binary'):
        paths[kind + ' folder'] = cifar_files.write_folder(d / (kind + '_x'), train, test, kind)
    paths['parent folder'] = str(d / 'python_x')
    npz = d / 'cifar-10.npz'  # as chainer.datasets.get_cifar10 caches it
    numpy.savez_compressed(str(npz), train_x=train.reshape(15, -1), train_y=numpy.zeros(15),
                           test_x=test.reshape(4, -1), test_y=numpy.zeros(4))
    paths['chainer npz'] = str(npz)
    return train, test, paths


@pytest.mark.parametrize('layout', ['python', 'binary', 'python folder', 'binary folder',
                                    'parent folder', 'chainer npz'])
def test_every_layout_gives_the_same_images_in_the_official_order(cifar, layout):
    train, test, paths = cifar
    assert numpy.array_equal(cifar10.load(paths[layout], 'train'), train)
    assert numpy.array_equal(cifar10.load(paths[layout], 'test'), test)


def _batch(value):
    return pickle.dumps({b'data': value, b'labels': [0]}, protocol=2)


class _Runs:
    def __reduce__(self):
        return (os.system, ('echo this must never run',))


@pytest.mark.parametrize('data,message', [
    (_batch(_Runs()), 'it names posix.system, and only plain arrays and lists are read'),
    (_batch(numpy.array([None, None], dtype=object)), "an array of dtype 'O8'"),
    (_batch(numpy.zeros((2, 100), numpy.uint8)), "no (N, 3072) uint8 array under b'data'"),
    (b'\x80\x02garbage', 'is not a readable CIFAR-10 batch'),
])
def test_python_batches_admit_plain_arrays_only(tmp_path, data, message):
    path = tmp_path / cifar10.ARCHIVES['python']
    members = {'cifar-10-batches-py/data_batch_{}'.format(i): _batch(
        numpy.zeros((1, 3072), numpy.uint8)) for i in range(2, 6)}
    members['cifar-10-batches-py/data_batch_1'] = data
    make_tgz(path, members)
    with pytest.raises(InputError) as info:
        cifar10.load(str(path))
    assert message in str(info.value)
    assert str(info.value).startswith('{}: cifar-10-batches-py/data_batch_1'.format(path))


def test_incomplete_or_foreign_copies_are_named(tmp_path, cifar):
    _, _, paths = cifar
    partial = tmp_path / 'partial.tar.gz'
    make_tgz(partial, {'cifar-10-batches-bin/data_batch_1.bin': b'\x00' * 3073})
    with pytest.raises(InputError, match='holds no CIFAR-10 batch data_batch_2, data_batch_3'):
        cifar10.load(str(partial))
    odd = tmp_path / 'odd.tar.gz'
    make_tgz(odd, {'cifar-10-batches-bin/test_batch.bin': b'\x00' * 3000})
    with pytest.raises(InputError, match='not a whole number of 3073-byte CIFAR-10 records'):
        cifar10.load(str(odd), 'test')
    (tmp_path / 'notes.txt').write_text('hello')
    with pytest.raises(InputError, match='is not a CIFAR-10 copy'):
        cifar10.load(str(tmp_path / 'notes.txt'))
    with pytest.raises(UsageError, match='does not exist'):
        cifar10.load(str(tmp_path / 'nothing'))


def test_find_looks_in_the_folder_then_the_caches_and_says_where_to_put_it(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv('CHAINER_DATASET_ROOT', str(tmp_path / 'root'))
    assert cifar10.find(str(tmp_path)) is None
    assert cifar10.not_found_message(str(tmp_path)) == (
        'CIFAR-10 is not here: download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz '
        '(170 MB) and put it in {} (or pass --data PATH to it, to cifar-10-binary.tar.gz or to '
        'an extracted cifar-10-batches-py or cifar-10-batches-bin folder)'.format(tmp_path))
    cache = tmp_path / 'root' / 'pfnet' / 'chainer' / 'cifar' / 'cifar-10.npz'
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b'')
    assert cifar10.find(str(tmp_path)) == str(cache)
    (tmp_path / 'cifar-10-binary.tar.gz').write_bytes(b'')
    assert cifar10.find(str(tmp_path)) == str(tmp_path / 'cifar-10-binary.tar.gz')
