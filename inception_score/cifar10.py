"""CIFAR-10 from local files, without Chainer and without unrestricted unpickling.

Read, whichever is at hand:
- the official archives: cifar-10-python.tar.gz (pickled batches, read with an unpickler that
  admits only plain arrays, lists, bytes, str and numbers) or cifar-10-binary.tar.gz (raw
  records: no pickle at all), read in memory, nothing extracted;
- either extracted: the folder cifar-10-batches-py or cifar-10-batches-bin (or a folder
  holding one of them);
- Chainer's cache of it, $CHAINER_DATASET_ROOT/pfnet/chainer/cifar/cifar-10.npz (what
  chainer.datasets.get_cifar10 leaves; a plain .npz, read without pickle).

`download()` fetches cifar-10-python.tar.gz (checked against its published MD5) next to the
default model file, where `find()` looks too.

Images come as uint8 (N, 3, 32, 32), in the official order: data_batch_1 ... data_batch_5
for 'train' (50,000 images), test_batch for 'test' (10,000).
"""
import io
import os
import pickle
import tarfile

import numpy

from inception_score.errors import InputError, UsageError

URLS = {'python': 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
        'binary': 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'}
PYTHON_ARCHIVE_MD5 = 'c58f30108f718f92721af3b95e74349a'  # as published (torchvision checks it)
PYTHON_ARCHIVE_BYTES = 170498071
ARCHIVES = {'python': 'cifar-10-python.tar.gz', 'binary': 'cifar-10-binary.tar.gz'}
FOLDERS = {'python': 'cifar-10-batches-py', 'binary': 'cifar-10-batches-bin'}
BATCHES = {'train': ['data_batch_{}'.format(i) for i in range(1, 6)], 'test': ['test_batch']}
IMAGE_BYTES = 3 * 32 * 32
MAX_BATCH_BYTES = 64 << 20  # an official batch is 31 MB (python) or 30.7 MB (binary)


def chainer_cache_path():
    """Where chainer.datasets.get_cifar10 keeps its converted copy."""
    root = os.environ.get('CHAINER_DATASET_ROOT',
                          os.path.join(os.path.expanduser('~'), '.chainer', 'dataset'))
    return os.path.join(root, 'pfnet', 'chainer', 'cifar', 'cifar-10.npz')


def download_path():
    """Where `download()` puts cifar-10-python.tar.gz: beside the default model file."""
    from inception_score.modelfile import default_model_path
    return os.path.join(os.path.dirname(default_model_path()), ARCHIVES['python'])


def candidates(folder):
    """The places looked at, in order: `folder`, then the download and Chainer's cache."""
    return [os.path.join(folder, name) for name in
            (ARCHIVES['python'], ARCHIVES['binary'], FOLDERS['python'], FOLDERS['binary'])] \
        + [download_path(), chainer_cache_path()]


def find(folder=None):
    """The first CIFAR-10 copy among `candidates(folder)` (default: the current directory);
    None when there is none."""
    for path in candidates(os.getcwd() if folder is None else folder):
        if os.path.exists(path):
            return path
    return None


def not_found_message(folder=None, reason=None):
    """Exactly which file to put where."""
    folder = os.path.abspath(os.getcwd() if folder is None else folder)
    return ('CIFAR-10 is not here{}: download {} (170 MB) and put it in {} (or pass --data '
            'PATH to it, to {} or to an extracted {} or {} folder)'.format(
                ' ({})'.format(reason) if reason else '', URLS['python'], folder,
                ARCHIVES['binary'], FOLDERS['python'], FOLDERS['binary']))


def download(dest=None, progress=True, url=URLS['python']):
    """Fetch cifar-10-python.tar.gz into `dest` (default `download_path()`), atomically,
    checked against its published MD5; returns `dest`."""
    import hashlib
    from inception_score import fetch
    from inception_score.errors import DownloadError
    from inception_score.files import atomic_output
    dest = download_path() if dest is None else dest
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with atomic_output(dest) as tmp:
        fetch.download(url, tmp, progress=progress)
        md5 = hashlib.md5()
        with open(tmp, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                md5.update(chunk)
        if url == URLS['python'] and md5.hexdigest() != PYTHON_ARCHIVE_MD5:
            raise DownloadError('{} has MD5 {}, not the published {}: run again later'.format(
                url, md5.hexdigest(), PYTHON_ARCHIVE_MD5))
    return dest


def load(path, split='train'):
    """uint8 images (N, 3, 32, 32) of `split` ('train' or 'test') from `path`: an official
    archive, an extracted folder (or its parent) or Chainer's cifar-10.npz."""
    if split not in BATCHES:
        raise InputError("split must be 'train' or 'test', got {!r}".format(split))
    if not os.path.exists(path):
        raise UsageError('{} does not exist'.format(path))
    if os.path.isdir(path):
        return _from_folder(path, split)
    with open(path, 'rb') as f:
        head = f.read(4)
    if head[:2] == b'\x1f\x8b':
        return _from_archive(path, split)
    if head[:4] == b'PK\x03\x04':
        return _from_chainer_npz(path, split)
    raise InputError('{} is not a CIFAR-10 copy: expected {}, {}, an extracted {} or {} folder, '
                     "or Chainer's cifar-10.npz".format(path, ARCHIVES['python'],
                                                        ARCHIVES['binary'], FOLDERS['python'],
                                                        FOLDERS['binary']))


def _kind(name):
    """('python' | 'binary', batch name) for a batch file name, or None."""
    base = os.path.basename(name)
    if base.endswith('.bin') and base[:-4] in BATCHES['train'] + BATCHES['test']:
        return 'binary', base[:-4]
    if base in BATCHES['train'] + BATCHES['test']:
        return 'python', base
    return None


def _decode(kind, data, label):
    return (_python_batch if kind == 'python' else _binary_batch)(data, label)


def _from_archive(path, split):
    found = {}
    try:
        with tarfile.open(path, 'r:gz') as tar:
            for member in tar:
                kind = _kind(member.name)
                if kind is None or kind[1] not in BATCHES[split] or not member.isfile():
                    continue
                if member.size > MAX_BATCH_BYTES:
                    raise InputError('{}: {} is {} bytes, far more than a CIFAR-10 batch'.format(
                        path, member.name, member.size))
                found[kind[1]] = _decode(kind[0], tar.extractfile(member).read(),
                                         '{}: {}'.format(path, member.name))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise InputError('{} is not a readable .tar.gz ({}): download it again'.format(
            path, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    return _joined(found, split, path)


def _from_folder(path, split):
    for sub in (path,) + tuple(os.path.join(path, f) for f in FOLDERS.values()):
        found = {}
        for name in sorted(os.listdir(sub)) if os.path.isdir(sub) else ():
            kind = _kind(name)
            file = os.path.join(sub, name)
            if kind is None or kind[1] not in BATCHES[split] or not os.path.isfile(file):
                continue
            if os.path.getsize(file) > MAX_BATCH_BYTES:
                raise InputError('{} is {} bytes, far more than a CIFAR-10 batch'.format(
                    file, os.path.getsize(file)))
            with open(file, 'rb') as f:
                found[kind[1]] = _decode(kind[0], f.read(), file)
        if found:
            return _joined(found, split, path)
    return _joined({}, split, path)


def _joined(found, split, path):
    missing = [name for name in BATCHES[split] if name not in found]
    if missing:
        raise InputError('{} holds no CIFAR-10 {} ({}): expected {} or {} (or their extracted '
                         'folders)'.format(path, 'batch ' + ', '.join(missing) if found else
                                           'batches', split, ARCHIVES['python'],
                                           ARCHIVES['binary']))
    return numpy.concatenate([found[name] for name in BATCHES[split]])


def _from_chainer_npz(path, split):
    key = {'train': 'train_x', 'test': 'test_x'}[split]
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise InputError('{} has no {!r}: it is not chainer\'s cifar-10.npz'.format(
                    path, key))
            x = archive[key]
    except (ValueError, OSError, EOFError) as e:
        raise InputError('{} is not a readable .npz ({})'.format(path, e)) from None
    if x.dtype != numpy.uint8 or x.ndim != 2 or x.shape[1] != IMAGE_BYTES:
        raise InputError('{}: {!r} has shape {} and dtype {}, expected (N, 3072) uint8'.format(
            path, key, x.shape, x.dtype))
    return x.reshape(-1, 3, 32, 32)


def _binary_batch(data, label):
    # Each record: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (row-major).
    if not data or len(data) % (IMAGE_BYTES + 1):
        raise InputError('{} is {} bytes, not a whole number of 3073-byte CIFAR-10 records'
                         .format(label, len(data)))
    records = numpy.frombuffer(data, numpy.uint8).reshape(-1, IMAGE_BYTES + 1)
    return records[:, 1:].reshape(-1, 3, 32, 32).copy()


def _python_batch(data, label):
    try:
        batch = _RestrictedUnpickler(io.BytesIO(data), encoding='bytes').load()
    except InputError as e:
        raise InputError('{}: {}'.format(label, e)) from None
    except Exception as e:  # a damaged pickle raises many types
        raise InputError('{} is not a readable CIFAR-10 batch ({})'.format(
            label, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    x = batch.get(b'data', batch.get('data')) if isinstance(batch, dict) else None
    if isinstance(x, _Array):
        x = x.array
    if (not isinstance(x, numpy.ndarray) or x.dtype != numpy.uint8 or x.ndim != 2
            or x.shape[1] != IMAGE_BYTES):
        raise InputError('{} is not a CIFAR-10 batch: no (N, 3072) uint8 array under '
                         "b'data'".format(label))
    return x.reshape(-1, 3, 32, 32)


# The only callables a CIFAR-10 python batch names: numpy's array and dtype reconstruction
# (under numpy 1's and 2's module names) and, in pickles re-written by Python 3 at protocol
# 2, the str -> bytes step. Each is replaced by a builder that makes plain data only.
_PLAIN_DTYPES = {'u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8', 'b1'}


class _Array:
    """Stands for an ndarray while unpickling; `array` is set by __setstate__."""

    def __init__(self, *args):
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) != 5:
            raise InputError('an array with an unexpected pickled state')
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, _Dtype) or not isinstance(raw, bytes):
            raise InputError('an array that is not plain numbers (only plain arrays are read)')
        if (not isinstance(shape, tuple)
                or not all(isinstance(d, int) and 0 <= d < 1 << 40 for d in shape)):
            raise InputError('an array with a damaged shape')
        dt = dtype.dtype()
        if len(raw) != int(numpy.prod(shape, dtype=numpy.int64)) * dt.itemsize:
            raise InputError('an array whose data does not match its shape')
        self.array = numpy.frombuffer(raw, dt).reshape(shape, order='F' if fortran else 'C')


class _Dtype:
    """Stands for a numpy dtype of plain numbers while unpickling."""

    def __init__(self, code, align=False, copy=True):
        code = code.decode('ascii', 'replace') if isinstance(code, bytes) else str(code)
        if code not in _PLAIN_DTYPES:
            raise InputError('an array of dtype {!r} (only plain numbers are read)'.format(code))
        self.code, self.order = code, '|'

    def __setstate__(self, state):
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else '|'
        order = order.decode('ascii', 'replace') if isinstance(order, bytes) else order
        if order not in ('|', '<', '>', '='):
            raise InputError('a dtype with byte order {!r}'.format(order))
        self.order = order

    def dtype(self):
        dt = numpy.dtype(self.code)
        return dt.newbyteorder(self.order) if self.order in '<>' else dt


def _reconstruct(cls, shape, code):
    if cls is not _Array:
        raise InputError('a pickled object that is not a plain array')
    return _Array()


def _latin1(text, encoding='latin1'):
    if not isinstance(text, str) or encoding != 'latin1':
        raise InputError('an unexpected encoding step')
    return text.encode('latin1')


class _RestrictedUnpickler(pickle.Unpickler):
    _ALLOWED = {('numpy.core.multiarray', '_reconstruct'): _reconstruct,
                ('numpy._core.multiarray', '_reconstruct'): _reconstruct,
                ('numpy', 'ndarray'): _Array,
                ('numpy', 'dtype'): _Dtype,
                ('_codecs', 'encode'): _latin1}

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise InputError('it names {}.{}, and only plain arrays and lists are read (never '
                             'unrestricted pickles)'.format(module, name)) from None

