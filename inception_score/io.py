"""Image arrays -> validated batches in the network's input range [0, 255]."""
import numpy

from inception_score.backend import get_array_module
from inception_score.errors import InputError

VALUE_RANGES = {(0, 255), (0, 1), (-1, 1)}


def check_value_range(value_range):
    try:
        value_range = tuple(float(v) for v in value_range)
    except (TypeError, ValueError):
        value_range = None
    if value_range not in VALUE_RANGES:
        raise InputError('value_range must be one of (0, 255), (0, 1), (-1, 1); got {!r}'
                         .format(value_range))
    return value_range


def check_images(ims, value_range=(0, 255)):
    """Validate an (N, 3, H, W) numpy/cupy array of images; return it unchanged.

    Raises InputError (one line, with the fix) for a wrong rank, channel count or dtype, NaN or
    Inf, or values outside `value_range`. Nothing is copied or modified.
    """
    lo, hi = check_value_range(value_range)
    if hasattr(ims, 'array') and hasattr(ims, 'creator'):  # a chainer.Variable
        ims = ims.array
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
    xp = get_array_module(ims)
    if kind == 'f' and not bool(xp.isfinite(ims).all()):
        raise InputError('images contain NaN or Inf')
    vmin, vmax = float(ims.min()), float(ims.max())
    if vmin < lo or vmax > hi:
        raise InputError(
            'image values lie in [{:g}, {:g}], outside value_range ({:g}, {:g}): {}'.format(
                vmin, vmax, lo, hi, _range_hint(vmin, vmax)))
    if (lo, hi) == (0, 255) and kind == 'f' and vmax <= 1.0:
        raise InputError('float images lie in [{:g}, {:g}], which looks like [0, 1] data: pass '
                         'value_range=(0, 1) (or multiply by 255)'.format(vmin, vmax))
    return ims


def _range_hint(vmin, vmax):
    if vmin >= -1 and vmax <= 1:
        return 'for images in [-1, 1] pass value_range=(-1, 1)'
    if vmin >= 0 and vmax <= 255:
        return 'for images in [0, 255] pass value_range=(0, 255)'
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
