"""Where images come from: folders of image files, .npz/.npy dumps, arrays, generators.

Every source knows its length before the run (so the split boundaries are fixed) and yields
NCHW batches in [0, 255] (uint8, or float32 already resized to 299x299). Nothing here touches
the network, and user files and arrays are only ever read.
"""
import os

import numpy

from inception_score.errors import InputError, UsageError
from inception_score.io import check_images, check_value_range, to_pixel_range
from inception_score.resize import RESIZE_MODES, resize_images

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')
ARRAY_EXTENSIONS = ('.npz', '.npy')
_HIGH_BIT_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I', 'F')


class ArraySource:
    """An in-memory (N, 3, H, W) numpy or cupy array, checked once up front."""

    def __init__(self, ims, value_range=(0, 255), name='images'):
        self.ims = check_images(ims, value_range)
        self.value_range = check_value_range(value_range)
        self.name = name
        self.skipped = []

    def __len__(self):
        return len(self.ims)

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        stop = len(self) if stop is None else stop
        for i in range(start, stop, batch_size):
            batch = to_pixel_range(self.ims[i:min(i + batch_size, stop)], self.value_range)
            yield batch if resize == 'tf1' else resize_images(batch, resize)


def _layout(shape, path, layout):
    """NCHW or NHWC for a 4-D array whose channel axis holds 1 or 3 values."""
    candidates = [name for name, axis in (('nchw', 1), ('nhwc', 3)) if shape[axis] in (1, 3)]
    if layout is not None:
        if layout not in candidates:
            raise InputError('{}: shape {} has no 1 or 3 channels where --layout {} puts them'
                             .format(path, shape, layout))
        return layout
    if not candidates:
        raise InputError('{}: shape {} is neither (N, C, H, W) nor (N, H, W, C) with C = 1 or 3'
                         .format(path, shape))
    if len(candidates) == 2:
        raise InputError('{}: shape {} is ambiguous (channels could be axis 1 or 3): pass '
                         '--layout nchw or --layout nhwc'.format(path, shape))
    return candidates[0]


def load_array_file(path, key=None, layout=None, value_range=(0, 255)):
    """An ArraySource over a .npy (memory-mapped) or .npz (key `arr_0` by default) file."""
    try:
        if path.endswith('.npz'):
            with numpy.load(path, allow_pickle=False) as archive:
                key = 'arr_0' if key is None else key
                if key not in archive.files:
                    raise InputError('{} has no array {!r} (it has {}): pass --key NAME'.format(
                        path, key, ', '.join(archive.files) or 'none'))
                array = archive[key]
        else:
            array = numpy.load(path, mmap_mode='r', allow_pickle=False)
    except ValueError as e:
        if 'pickle' in str(e).lower() or 'object' in str(e).lower():
            raise InputError('{} holds pickled Python objects, which are never loaded: save '
                             'a plain numeric array'.format(path)) from None
        raise InputError('{} is not a readable numpy file ({})'.format(path, e)) from None
    except (OSError, EOFError) as e:
        raise InputError('{} is not a readable numpy file ({})'.format(path, e)) from None
    if array.dtype.kind not in 'uf' or (array.dtype.kind == 'u' and array.dtype != numpy.uint8):
        raise InputError('{} has dtype {}: images must be uint8 or float'.format(
            path, array.dtype))
    if array.ndim != 4:
        raise InputError('{} has shape {}: images must be 4-D, (N, H, W, C) or (N, C, H, W)'
                         .format(path, array.shape))
    if _layout(array.shape, path, layout) == 'nhwc':
        array = array.transpose(0, 3, 1, 2)
    if array.shape[1] == 1:
        array = numpy.broadcast_to(array, (array.shape[0], 3) + array.shape[2:])
    try:
        return ArraySource(array, value_range, name=path)
    except InputError as e:
        raise InputError('{}: {}'.format(path, e)) from None


def list_images(folder):
    """Image files under `folder`, recursively, in a deterministic (sorted path) order."""
    found = [os.path.join(root, name) for root, _, files in os.walk(folder)
             for name in files if name.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(found, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def decode_image(path, allow_16bit=False):
    """An RGB uint8 (3, H, W) array; grayscale, palette and alpha converted as PIL does."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            if im.mode in _HIGH_BIT_MODES:
                if not allow_16bit:
                    raise InputError('{} is a {}-bit image ({}): pass --allow-16bit to scale '
                                     'it to 8 bits'.format(path, 32 if im.mode in ('I', 'F')
                                                            else 16, im.mode))
                a = numpy.asarray(im, dtype=numpy.float64)
                a = numpy.clip(numpy.round(a / 257.0), 0, 255).astype(numpy.uint8)
                im = Image.fromarray(a, 'L')
            rgb = numpy.asarray(im.convert('RGB'))
    except InputError:
        raise
    except Exception as e:  # PIL raises many types for corrupt or truncated files
        raise InputError('{} is not a readable image ({}): fix or remove it, or pass '
                         '--skip-bad'.format(path, str(e).splitlines()[0] if str(e)
                                             else type(e).__name__)) from None
    return rgb.transpose(2, 0, 1)


class FolderSource:
    """Image files of any sizes; each image is resized alone, as the graph would resize it."""

    def __init__(self, folder, skip_bad=False, allow_16bit=False):
        if not os.path.isdir(folder):
            raise UsageError('{} does not exist'.format(folder))
        self.name = folder
        self.files = list_images(folder)
        self.allow_16bit = allow_16bit
        self.skipped = []
        if not self.files:
            raise InputError('{} holds no images ({})'.format(
                folder, ', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)))
        if skip_bad:
            # Bad files must be known before the run: they would shift the split boundaries.
            good = []
            for path in self.files:
                try:
                    decode_image(path, allow_16bit)
                    good.append(path)
                except InputError:
                    self.skipped.append(path)
            self.files = good
            if not self.files:
                raise InputError('{} holds no readable images ({} skipped)'.format(
                    folder, len(self.skipped)))

    def __len__(self):
        return len(self.files)

    def load(self, start, stop, resize='tf1'):
        """Images start..stop-1 as one float32 (n, 3, 299, 299) batch."""
        return numpy.stack([resize_images(decode_image(p, self.allow_16bit)[None], resize)[0]
                            for p in self.files[start:stop]])

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        from concurrent.futures import ThreadPoolExecutor
        stop = len(self) if stop is None else stop
        starts = range(start, stop, batch_size)
        # Decode the next batch while the network runs on this one (PIL releases the GIL).
        with ThreadPoolExecutor(1) as pool:
            pending = None
            for i in starts:
                current = pending.result() if pending is not None else \
                    self.load(i, min(i + batch_size, stop), resize)
                nxt = i + batch_size
                pending = pool.submit(self.load, nxt, min(nxt + batch_size, stop), resize) \
                    if nxt < stop else None
                yield current


class ConcatSource:
    """Several sources scored as one, in the order given."""

    def __init__(self, sources):
        self.sources = list(sources)
        self.skipped = [p for s in self.sources for p in s.skipped]

    def __len__(self):
        return sum(len(s) for s in self.sources)

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        stop = len(self) if stop is None else stop
        offset = 0
        for source in self.sources:
            lo, hi = max(start - offset, 0), min(stop - offset, len(source))
            if lo < hi:
                yield from source.batches(batch_size, hi, resize, start=lo)
            offset += len(source)


def open_source(path, key=None, layout=None, value_range=(0, 255), skip_bad=False,
                allow_16bit=False):
    """A source for a folder, a .npz or a .npy path."""
    if os.path.isdir(path):
        return FolderSource(path, skip_bad=skip_bad, allow_16bit=allow_16bit)
    if not os.path.exists(path):
        raise UsageError('{} does not exist'.format(path))
    if path.lower().endswith(ARRAY_EXTENSIONS):
        return load_array_file(path, key=key, layout=layout, value_range=value_range)
    raise UsageError('{} is neither a folder of images nor a .npz/.npy file'.format(path))


__all__ = ['ArraySource', 'ConcatSource', 'FolderSource', 'RESIZE_MODES', 'decode_image',
           'list_images', 'load_array_file', 'open_source']
