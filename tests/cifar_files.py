"""Small CIFAR-10 copies in every official layout, written the way the originals are.

The python batches are Python 2 pickles (protocol 2, str data, numpy.core.multiarray names),
written opcode by opcode as cPickle wrote them for the official archive; the binary batches are
3073-byte records. `images` are uint8 (N, 3, 32, 32); train is cut into 5 batches.
"""
import io
import os
import pickle
import struct
import tarfile

import numpy


def _str(data):
    """A Python 2 str (bytes when read with encoding='bytes')."""
    if len(data) < 256:
        return pickle.SHORT_BINSTRING + bytes([len(data)]) + data
    return pickle.BINSTRING + struct.pack('<i', len(data)) + data


def _int(value):
    return pickle.BININT + struct.pack('<i', value)


def python_batch(images, labels, name=b'batch'):
    """A CIFAR-10 python batch: {'batch_label', 'labels', 'data', 'filenames'} as Python 2
    pickled it (the data a uint8 (N, 3072) array)."""
    n = len(images)
    data = numpy.ascontiguousarray(images.reshape(n, 3072), numpy.uint8)
    out = [pickle.PROTO + b'\x02', pickle.EMPTY_DICT, pickle.MARK,
           _str(b'batch_label'), _str(name),
           _str(b'labels'), pickle.EMPTY_LIST, pickle.MARK]
    out += [_int(int(v)) for v in labels]
    out += [pickle.APPENDS, _str(b'data'),
            pickle.GLOBAL + b'numpy.core.multiarray\n_reconstruct\n',
            pickle.GLOBAL + b'numpy\nndarray\n', _int(0), pickle.TUPLE1, _str(b'b'),
            pickle.TUPLE3, pickle.REDUCE,
            pickle.MARK, _int(1), _int(n), _int(3072), pickle.TUPLE2,
            pickle.GLOBAL + b'numpy\ndtype\n', _str(b'u1'), _int(0), _int(1), pickle.TUPLE3,
            pickle.REDUCE,
            pickle.MARK, _int(3), _str(b'|'), pickle.NONE, pickle.NONE, pickle.NONE,
            _int(-1), _int(-1), _int(0), pickle.TUPLE, pickle.BUILD,
            pickle.NEWFALSE, _str(data.tobytes()), pickle.TUPLE, pickle.BUILD,
            _str(b'filenames'), pickle.EMPTY_LIST, pickle.MARK]
    out += [_str('img_{:05d}.png'.format(i).encode()) for i in range(n)]
    out += [pickle.APPENDS, pickle.SETITEMS, pickle.STOP]
    return b''.join(out)


def binary_batch(images, labels):
    n = len(images)
    records = numpy.empty((n, 3073), numpy.uint8)
    records[:, 0] = labels
    records[:, 1:] = images.reshape(n, 3072)
    return records.tobytes()


def batches(train, test, kind):
    """{member name: bytes} of the official archive of `kind` ('python' or 'binary')."""
    labels = lambda x: numpy.arange(len(x)) % 10  # noqa: E731
    parts = numpy.array_split(train, 5)
    if kind == 'python':
        files = {'data_batch_{}'.format(i + 1): python_batch(p, labels(p))
                 for i, p in enumerate(parts)}
        files['test_batch'] = python_batch(test, labels(test))
        files['batches.meta'] = b'not read'
        return {'cifar-10-batches-py/' + k: v for k, v in files.items()}
    files = {'data_batch_{}.bin'.format(i + 1): binary_batch(p, labels(p))
             for i, p in enumerate(parts)}
    files['test_batch.bin'] = binary_batch(test, labels(test))
    files['batches.meta.txt'] = b'airplane\n'
    return {'cifar-10-batches-bin/' + k: v for k, v in files.items()}


def write_archive(path, train, test, kind):
    with tarfile.open(str(path), 'w:gz', compresslevel=1) as tar:
        for name, data in batches(train, test, kind).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def write_folder(parent, train, test, kind):
    """The archive of `kind` extracted under `parent`; returns the batches folder."""
    for name, data in batches(train, test, kind).items():
        path = os.path.join(str(parent), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
    return os.path.join(str(parent), 'cifar-10-batches-' + ('py' if kind == 'python' else 'bin'))
