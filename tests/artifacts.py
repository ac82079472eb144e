"""A disk cache for the tests' expensive artefacts (calibrated weights, TensorFlow's outputs,
the oracles' results), keyed by a SHA-256 of everything they are made from.

What is cached is never what a test checks: the synthetic graph and the outputs of the
reference programs (TensorFlow, TTUR's sqrtm) on fixed inputs. Our own code's outputs are
always computed afresh. A key covers the bytes of the inputs, the source files of the code
that makes the artefact and the versions of the libraries it runs on, so a changed input,
generator or library makes a new entry instead of reusing a stale one.

`.ci/run` builds the entries in its first environment and the second reads them (both run
TensorFlow 2.21); between local runs the cache lives in `.test-cache/` (ignored by git), or
wherever INCEPTION_SCORE_TEST_CACHE points. Concurrent builders of one entry (two test runs,
pytest-xdist workers) wait on a lock instead of building it twice; entries appear atomically.
"""
import contextlib
import fcntl
import glob
import hashlib
import os

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get('INCEPTION_SCORE_TEST_CACHE') or os.path.join(ROOT, '.test-cache')


class Source:
    """A key part standing for the contents of files under ROOT (a file, or *.py in a folder)."""

    def __init__(self, *paths):
        self.paths = paths

    def digest(self):
        h = hashlib.sha256()
        for rel in self.paths:
            path = os.path.join(ROOT, rel)
            found = sorted(glob.glob(os.path.join(path, '*.py'))) if os.path.isdir(path) \
                else [path]
            for name in found:
                h.update(os.path.relpath(name, ROOT).encode())
                with open(name, 'rb') as f:
                    h.update(hashlib.sha256(f.read()).digest())
        return h.digest()


def dist_version(*names):
    """A key part: the installed version of the first of these distributions found (read from
    its metadata: nothing is imported), for a library whose arithmetic makes the artefact."""
    from importlib import metadata
    for name in names:
        try:
            return '{}=={}'.format(name, metadata.version(name))
        except metadata.PackageNotFoundError:
            continue
    return '{} not installed'.format('/'.join(names))


def key(*parts):
    """SHA-256 (hex) of the parts: bytes, str, numbers, numpy arrays, Sources, or sequences."""
    h = hashlib.sha256()

    def add(part):
        if isinstance(part, Source):
            h.update(b'S' + part.digest())
        elif isinstance(part, (bytes, bytearray, memoryview)):
            h.update(b'B%d:' % len(part) + hashlib.sha256(part).digest())
        elif isinstance(part, str):
            h.update(b'T' + hashlib.sha256(part.encode()).digest())
        elif isinstance(part, numpy.ndarray):
            a = numpy.ascontiguousarray(part)
            h.update('A{}{}'.format(a.dtype.str, a.shape).encode())
            h.update(hashlib.sha256(a.view(numpy.uint8).reshape(-1)).digest())
        elif isinstance(part, (list, tuple)):
            h.update(b'L%d' % len(part))
            for p in part:
                add(p)
        elif isinstance(part, (int, float, bool)) or part is None:
            h.update(('N' + repr(part)).encode())
        else:
            raise TypeError('cannot key a {}'.format(type(part).__name__))

    for part in parts:
        add(part)
    return h.hexdigest()


@contextlib.contextmanager
def _locked(path):
    os.makedirs(CACHE, exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cached_file(name, parts, build, suffix=''):
    """Path of the cached file for `parts`; `build(path)` writes it when it is not there."""
    path = os.path.join(CACHE, '{}-{}{}'.format(name, key(*parts)[:24], suffix))
    if os.path.exists(path):
        return path
    with _locked(path):
        if not os.path.exists(path):
            tmp = path + '.part{}'.format(os.getpid())
            try:
                build(tmp)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
    return path


def cached_arrays(name, parts, build):
    """{name: array} for `parts`; `build()` returns the dict when it is not cached."""
    def write(tmp):
        arrays = build()
        with open(tmp, 'wb') as f:
            numpy.savez(f, **arrays)

    with numpy.load(cached_file(name, parts, write, '.npz'), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
