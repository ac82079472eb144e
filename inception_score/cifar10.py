"""CIFAR-10 from local files, without Chainer and without unrestricted unpickling.

Read, whichever is at hand:
- the official archives: cifar-10-python.tar.gz (pickled batches, read with an unpickler that
  admits only plain arrays, lists, bytes, str and numbers) or cifar-10-binary.tar.gz (raw
  records: no pickle at all), read in memory, nothing extracted, by fetch.read_archive (the
  graph's reader: the whole gzip stream, so its CRC and length are checked);
- either extracted: the folder cifar-10-batches-py or cifar-10-batches-bin (or a folder
  holding one of them);
- Chainer's cache of it, $CHAINER_DATASET_ROOT/pfnet/chainer/cifar/cifar-10.npz (what
  chainer.datasets.get_cifar10 leaves), read by arrayfile.ArrayFile: no pickle, shapes from
  the headers checked before anything is read.

Every batch is checked for what CIFAR-10 has (sizes from the tar headers or the file system
before reading, 1 to 10,000 images of (3072,) uint8, one label 0-9 each); a FIFO, a device or
an unreadable file is one line, never a hang or a traceback.

`plan()` decides the copy a run reads (given, found, or a download still to make) before any
work, so that outputs can be checked against it; `download()` fetches cifar-10-python.tar.gz
(checked against its published MD5) next to the default model file, where `find()` looks too.

Images come as uint8 (N, 3, 32, 32), in the official order: data_batch_1 ... data_batch_5
for 'train' (50,000 images), test_batch for 'test' (10,000).
"""
import io
import os
import pickle
import stat

import numpy

from inception_score.errors import InputError, UsageError
from inception_score.io import file_kind, open_regular

URLS = {'python': 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
        'binary': 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'}
PYTHON_ARCHIVE_MD5 = 'c58f30108f718f92721af3b95e74349a'  # as published (torchvision checks it)
PYTHON_ARCHIVE_BYTES = 170498071
ARCHIVES = {'python': 'cifar-10-python.tar.gz', 'binary': 'cifar-10-binary.tar.gz'}
FOLDERS = {'python': 'cifar-10-batches-py', 'binary': 'cifar-10-batches-bin'}
BATCHES = {'train': ['data_batch_{}'.format(i) for i in range(1, 6)], 'test': ['test_batch']}
IMAGE_BYTES = 3 * 32 * 32
BATCH_IMAGES = 10000  # in each official batch
# An official python batch is 31,035,704 bytes (the pixels, 10,000 labels and file names): the
# cap leaves room for a re-pickled one. A binary batch is at most 10,000 3073-byte records.
PYTHON_BATCH_MAX_BYTES = 32 << 20


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


def not_found_message(folder=None, reason=None, option='--data PATH'):
    """Exactly which file to put where. option: how the caller names a copy elsewhere (None:
    it cannot, so the other folder looked in is named instead)."""
    folder = os.path.abspath(os.getcwd() if folder is None else folder)
    if option:
        elsewhere = 'or pass {} to it, to {} or to an extracted {} or {} folder'.format(
            option, ARCHIVES['binary'], FOLDERS['python'], FOLDERS['binary'])
    else:
        elsewhere = 'or in {}; or put {} or an extracted {} or {} folder there'.format(
            os.path.dirname(download_path()), ARCHIVES['binary'], FOLDERS['python'],
            FOLDERS['binary'])
    return 'CIFAR-10 is not here{}: download {} (170 MB) and put it in {} ({})'.format(
        ' ({})'.format(reason) if reason else '', URLS['python'], folder, elsewhere)


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


def plan(data=None, allow_download=True, option='--data PATH'):
    """The CIFAR-10 copy a run reads, decided before any work: (path, to_download).

    `data` if given, else the first copy `find()` finds; with none, `download_path()` with
    to_download True (fetch it with `obtain`), or UsageError saying where to put one when
    downloads are not allowed.
    """
    if data is not None:
        return data, False
    found = find()
    if found is not None:
        return found, False
    if not allow_download:
        raise UsageError(not_found_message(option=option))
    return download_path(), True


def obtain(dest=None, progress=True, option='--data PATH'):
    """`download(dest)`; offline (or any failed download) is one line saying which file to
    put where (`option`: as not_found_message)."""
    from inception_score.errors import DownloadError
    try:
        return download(dest, progress=progress)
    except DownloadError as e:
        reason = str(e).split('; offline?')[0]
        raise UsageError(not_found_message(reason=reason, option=option)) from None


def inputs(path):
    """The paths that `load(path)` reads, for files.check_outputs: the file, or the folder
    holding the batches (a parent folder given as --data is not read beyond it)."""
    try:
        folder, _ = _batch_folder(path) if os.path.isdir(path) else (None, None)
    except InputError:
        folder = None
    return [folder or path]


_WHAT = 'a CIFAR-10 copy'
_EXPECTED = ("{}, {}, an extracted {} or {} folder, or Chainer's cifar-10.npz".format(
    ARCHIVES['python'], ARCHIVES['binary'], FOLDERS['python'], FOLDERS['binary']))
_PERMISSIONS = ': check its permissions'


def load(path, split='train'):
    """uint8 images (N, 3, 32, 32) of `split` ('train' or 'test') from `path`: an official
    archive, an extracted folder (or its parent) or Chainer's cifar-10.npz.

    Checked before memory is spent on them: the archive's gzip CRC and length (read whole),
    the batches' sizes, their (N, 3072) uint8 data and labels 0-9 (at most 10,000 images a
    batch); a FIFO, a device or an unreadable file is one line, never a hang or a traceback.
    """
    if split not in BATCHES:
        raise InputError("split must be 'train' or 'test', got {!r}".format(split))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError('{} does not exist'.format(path)) from None
    except OSError as e:
        raise InputError('{} cannot be read ({}){}'.format(path, e.strerror or e,
                                                           _PERMISSIONS)) from None
    if stat.S_ISDIR(mode):
        return _from_folder(path, split)
    kind = file_kind(mode)
    if kind is not None:
        raise UsageError('{} is not a regular file ({}): expected {}'.format(
            path, kind, _EXPECTED))
    with open_regular(path, _PERMISSIONS) as f:
        head = _read(f, path, 4)
    if head[:2] == b'\x1f\x8b':
        return _from_archive(path, split)
    if head[:4] == b'PK\x03\x04':
        return _from_chainer_npz(path, split)
    raise InputError('{} is not {}: expected {}'.format(path, _WHAT, _EXPECTED))


def _read(f, label, size=-1):
    try:
        return f.read(size)
    except OSError as e:
        raise InputError('{} cannot be read ({})'.format(label, e.strerror or e)) from None


def _kind(name):
    """('python' | 'binary', batch name) for a batch file name, or None."""
    base = os.path.basename(name)
    if base.endswith('.bin') and base[:-4] in BATCHES['train'] + BATCHES['test']:
        return 'binary', base[:-4]
    if base in BATCHES['train'] + BATCHES['test']:
        return 'python', base
    return None


_FILE_NAMES = {'python': lambda batch: batch, 'binary': lambda batch: batch + '.bin'}
_CAPS = {'python': PYTHON_BATCH_MAX_BYTES, 'binary': BATCH_IMAGES * (IMAGE_BYTES + 1)}


def _decode(kind, data, label):
    return (_python_batch if kind == 'python' else _binary_batch)(data, label)


def _complete(found, split):
    """The layout whose batches of `split` are all in `found` ({(kind, batch): value}), else
    the batches missing from the most complete one, as (None, missing)."""
    missing = {kind: [b for b in BATCHES[split] if (kind, b) not in found]
               for kind in ('python', 'binary')}
    for kind in ('python', 'binary'):
        if not missing[kind]:
            return kind, None
    return None, min(missing.values(), key=len)


def _from_archive(path, split):
    from inception_score import fetch
    caps = {_FILE_NAMES[kind](batch): _CAPS[kind]
            for kind in ('python', 'binary') for batch in BATCHES[split]}
    members = fetch.read_archive(path, caps, what=_WHAT, expected=_EXPECTED, error=InputError)
    found = {_kind(name): name for name in members}
    kind, missing = _complete(found, split)
    if kind is None:
        _missing(path, split, missing, bool(found))
    batches = []
    for batch in BATCHES[split]:
        name = found[(kind, batch)]
        data = members.pop(name)  # freed as soon as decoded
        batches.append(_decode(kind, data, '{}: {}'.format(path, name)))
    return numpy.concatenate(batches)


def _listing(folder):
    """The names in `folder`, None when it is no folder; InputError when it is unreadable."""
    try:
        return sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise InputError('{} cannot be read ({}){}'.format(folder, e.strerror or e,
                                                           _PERMISSIONS)) from None


def _batch_folder(path):
    """(folder, names): `path` or its extracted cifar-10-batches-py/-bin subfolder, the first
    holding a batch file; (None, None) when none does."""
    for folder in (path,) + tuple(os.path.join(path, f) for f in FOLDERS.values()):
        names = _listing(folder)
        if names and any(_kind(name) for name in names):
            return folder, names
    return None, None


def _from_folder(path, split):
    folder, names = _batch_folder(path)
    found = {_kind(name): os.path.join(folder, name) for name in names or ()
             if _kind(name) is not None}
    kind, missing = _complete(found, split)
    if kind is None:
        _missing(path, split, missing, bool(found))
    return numpy.concatenate([_read_batch(kind, found[(kind, batch)])
                              for batch in BATCHES[split]])


def _read_batch(kind, file):
    """One batch file, its kind and size checked before it is read."""
    try:
        st = os.stat(file)
    except OSError as e:
        raise InputError('{} cannot be read ({}){}'.format(file, e.strerror or e,
                                                           _PERMISSIONS)) from None
    what = file_kind(st.st_mode)
    if what is not None:
        raise InputError('{} is not a regular file ({}): expected a CIFAR-10 batch'.format(
            file, what))
    if st.st_size > _CAPS[kind]:
        raise InputError('{} is {} bytes, more than a CIFAR-10 batch ({} at most)'.format(
            file, st.st_size, _CAPS[kind]))
    with open_regular(file, _PERMISSIONS) as f:
        return _decode(kind, _read(f, file, _CAPS[kind] + 1), file)


def _missing(path, split, missing, partial):
    raise InputError('{} holds no CIFAR-10 {} ({}): expected {}'.format(
        path, 'batch ' + ', '.join(missing) if partial else 'batches', split, _EXPECTED))


def _from_chainer_npz(path, split):
    from inception_score.arrayfile import ArrayFile
    x_key, y_key = {'train': ('train_x', 'train_y'), 'test': ('test_x', 'test_y')}[split]
    most = len(BATCHES[split]) * BATCH_IMAGES
    fix = "it is not Chainer's cifar-10.npz"
    # Shapes and dtypes come from the headers, checked against the archive's sizes, before
    # anything is read: a claimed 2 GB array is refused, not allocated.
    with ArrayFile(path, key=y_key, missing_key_fix=fix) as y_file:
        n = y_file.shape[0] if len(y_file.shape) == 1 else -1
        if not 0 < n <= most or y_file.dtype.kind not in 'iuf':
            raise InputError('{}: {!r} has shape {} and dtype {}, expected ({},) labels at '
                             'most'.format(path, y_key, y_file.shape, y_file.dtype, most))
        with ArrayFile(path, key=x_key, missing_key_fix=fix) as x_file:
            if x_file.dtype != numpy.uint8 or x_file.shape != (n, IMAGE_BYTES):
                raise InputError('{}: {!r} has shape {} and dtype {}, expected ({}, {}) uint8 '
                                 '(one row per label in {!r})'.format(
                                     path, x_key, x_file.shape, x_file.dtype, n, IMAGE_BYTES,
                                     y_key))
            _check_labels(y_file.read(0, n), '{} ({!r})'.format(path, y_key))
            return x_file.read(0, n).reshape(-1, 3, 32, 32)


def _check_labels(labels, label):
    labels = numpy.asarray(labels)
    if labels.dtype.kind not in 'iuf' or not numpy.all(
            (labels >= 0) & (labels <= 9) & (labels == numpy.floor(labels))):
        raise InputError('{} has labels outside 0-9: it is not CIFAR-10'.format(label))


def _check_count(n, label):
    if not 0 < n <= BATCH_IMAGES:
        raise InputError('{} holds {} images; a CIFAR-10 batch holds 1 to {}'.format(
            label, n, BATCH_IMAGES))


def _binary_batch(data, label):
    # Each record: 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (row-major).
    if not data or len(data) % (IMAGE_BYTES + 1):
        raise InputError('{} is {} bytes, not a whole number of 3073-byte CIFAR-10 records'
                         .format(label, len(data)))
    records = numpy.frombuffer(data, numpy.uint8).reshape(-1, IMAGE_BYTES + 1)
    _check_count(len(records), label)
    _check_labels(records[:, 0], label)
    return records[:, 1:].reshape(-1, 3, 32, 32).copy()


def _python_batch(data, label):
    try:
        batch = _RestrictedUnpickler(io.BytesIO(data), encoding='bytes').load()
    except InputError as e:
        raise InputError('{}: {}'.format(label, e)) from None
    except Exception as e:  # a damaged pickle raises many types
        raise InputError('{} is not a readable CIFAR-10 batch ({})'.format(
            label, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    get = (lambda key: batch.get(key.encode(), batch.get(key))) if isinstance(batch, dict) \
        else (lambda key: None)
    x = get('data')
    if isinstance(x, _Array):
        x = x.array
    if (not isinstance(x, numpy.ndarray) or x.dtype != numpy.uint8 or x.ndim != 2
            or x.shape[1] != IMAGE_BYTES):
        raise InputError('{} is not a CIFAR-10 batch: no (N, 3072) uint8 array under '
                         "b'data'".format(label))
    _check_count(len(x), label)
    labels = get('labels')
    if (not isinstance(labels, list) or len(labels) != len(x)
            or not all(type(v) is int for v in labels)):
        raise InputError("{} is not a CIFAR-10 batch: b'labels' is not a list of {} integers"
                         .format(label, len(x)))
    _check_labels(labels, label)
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

