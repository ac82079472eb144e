"""Image arrays -> validated batches in the network's input range [0, 255].

The value checks run over row chunks, so checking an array never allocates more than a chunk's
worth of temporaries, and a file can be checked batch by batch as it is read (see sources.py).
"""
import os
import stat

import numpy

from inception_score.backend import get_array_module
from inception_score.errors import InputError
from inception_score.fixes import fix, setting

VALUE_RANGES = {(0, 255), (0, 1), (-1, 1)}
CHECK_CHUNK_BYTES = 64 << 20  # elements checked at once: bounds the isfinite temporary


_FILE_KINDS = ((stat.S_ISDIR, 'a directory'), (stat.S_ISFIFO, 'a FIFO'),
               (stat.S_ISSOCK, 'a socket'), (stat.S_ISCHR, 'a character device'),
               (stat.S_ISBLK, 'a block device'))


def file_kind(mode):
    """None for a regular file, else a few words on what it is (from st_mode)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _FILE_KINDS if test(mode)), 'not a regular file')


def open_regular(path, hint=''):
    """`path` opened for binary reading, or InputError when it is not a regular file.

    Opened non-blocking and checked on the open descriptor, so a FIFO (or a file swapped for
    one) fails at once instead of blocking forever. `hint` ends the message (e.g. the fix).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NONBLOCK', 0)
                     | getattr(os, 'O_NOCTTY', 0))
    except OSError as e:
        raise InputError('{} cannot be read ({}){}'.format(path, e.strerror or e, hint)) \
            from None
    kind = file_kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise InputError('{} is not a regular file ({}){}'.format(path, kind, hint))
    return os.fdopen(fd, 'rb')


def check_value_range(value_range):
    try:
        value_range = tuple(float(v) for v in value_range)
    except (TypeError, ValueError):
        value_range = None
    if value_range not in VALUE_RANGES:
        raise InputError('value_range must be one of (0, 255), (0, 1), (-1, 1); got {!r}'
                         .format(value_range))
    return value_range


def unwrap(ims):
    """The array inside a chainer.Variable (anything whose `.array` is an array), else `ims`.

    Duck-typed, so that this module never imports Chainer.
    """
    inner = getattr(ims, 'array', None)
    if hasattr(inner, 'ndim') and hasattr(inner, 'dtype'):
        return inner
    return ims


def value_stats(ims):
    """(all finite, min, max) of a numpy/cupy array, in row chunks of bounded size.

    min and max are None when some value is NaN or Inf.
    """
    xp = get_array_module(ims)
    floating = numpy.dtype(ims.dtype).kind == 'f'
    row = max(1, ims[0].size) if len(ims) else 1
    step = max(1, CHECK_CHUNK_BYTES // row)
    vmin = vmax = None
    for i in range(0, len(ims), step):
        chunk = ims[i:i + step]
        if floating and not bool(xp.isfinite(chunk).all()):
            return False, None, None
        lo, hi = float(chunk.min()), float(chunk.max())
        vmin = lo if vmin is None else min(vmin, lo)
        vmax = hi if vmax is None else max(vmax, hi)
    return True, vmin, vmax


def range_error(vmin, vmax, value_range):
    """The message for values outside `value_range`, or None when they lie inside."""
    lo, hi = check_value_range(value_range)
    if vmin < lo or vmax > hi:
        return 'image values lie in [{:g}, {:g}], outside {}: {}'.format(
            vmin, vmax, setting('value_range', (lo, hi)), _range_hint(vmin, vmax))
    return None


def unit_range_error(kind, vmin, vmax, value_range):
    """The message for float data in [0, 1] passed as [0, 255], or None.

    Only values that reach above 0 count as evidence: all zeros (black images) is valid data in
    every range and is accepted.
    """
    if check_value_range(value_range) == (0, 255) and kind == 'f' and 0 < vmax <= 1.0:
        return ('float images lie in [{:g}, {:g}], which looks like [0, 1] data: pass {} (or '
                'multiply by 255)'.format(vmin, vmax, fix('value_range', (0, 1))))
    return None


def check_images(ims, value_range=(0, 255)):
    """Validate an (N, 3, H, W) numpy/cupy array of images; return it unchanged.

    Raises InputError (one line, with the fix) for a wrong rank, channel count or dtype, NaN or
    Inf, or values outside `value_range`. Nothing is copied or modified.
    """
    check_value_range(value_range)
    ims = unwrap(ims)
    if not hasattr(ims, 'ndim') or not hasattr(ims, 'dtype'):
        raise InputError('images must be a numpy or cupy array of shape (N, 3, H, W), got {}'
                         .format(type(ims).__name__))
    if ims.ndim != 4:
        raise InputError('images must be a 4-D array (N, 3, H, W), got shape {}'.format(
            tuple(ims.shape)))
    if ims.shape[1] != 3:
        hint = (': it looks channels-last, pass ims.transpose(0, 3, 1, 2)'
                if ims.shape[3] == 3 else ': the network takes RGB images')
        raise InputError('images must have 3 channels on axis 1 (N, 3, H, W), got shape {}{}'
                         .format(tuple(ims.shape), hint))
    kind = numpy.dtype(ims.dtype).kind
    if kind not in 'uif':
        raise InputError('images must be uint8 or float, got dtype {}'.format(ims.dtype))
    if ims.size == 0:
        raise InputError('images are empty (shape {})'.format(tuple(ims.shape)))
    finite, vmin, vmax = value_stats(ims)
    if not finite:
        raise InputError('images contain NaN or Inf')
    message = (range_error(vmin, vmax, value_range)
               or unit_range_error(kind, vmin, vmax, value_range))
    if message:
        raise InputError(message)
    return ims


def _range_hint(vmin, vmax):
    if vmin >= -1 and vmax <= 1:
        return 'for images in [-1, 1] pass {}'.format(fix('value_range', (-1, 1)))
    if vmin >= 0 and vmax <= 255:
        return 'for images in [0, 255] pass {}'.format(fix('value_range', (0, 255)))
    return 'clip or rescale them into [0, 255]'


def to_pixel_range(batch, value_range=(0, 255)):
    """`batch` mapped from `value_range` onto [0, 255]: a float32 copy, or `batch` itself when
    it is already in [0, 255] (the network copies its input before touching it)."""
    lo, hi = check_value_range(value_range)
    if (lo, hi) == (0, 255):
        return batch
    x = batch.astype(numpy.float32, copy=True)
    x -= numpy.float32(lo)
    x *= numpy.float32(255.0 / (hi - lo))
    return x
