"""Output files: written to a temporary file beside the target and renamed into place."""
import contextlib
import hashlib
import os
import tempfile

from inception_score.errors import UsageError


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    check_writable(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.part',
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def check_writable(path):
    """Fail before any work if `path` cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError('cannot write {}: directory {} does not exist'.format(path, directory))
    if not os.access(directory, os.W_OK | os.X_OK) or os.path.isdir(path):
        raise UsageError('cannot write {}: {} is not writable'.format(
            path, path if os.path.isdir(path) else directory))


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()
