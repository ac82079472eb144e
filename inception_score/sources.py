"""Where images come from: folders of image files, .npz/.npy dumps, arrays.

Every source knows its length before the run (so the split boundaries are fixed) and yields
NCHW batches in [0, 255] (uint8 or float, at most 299x299, or float32 already resized to
299x299). Nothing here touches the network, and user files and arrays are only ever read.

Memory is bounded by the batch, never by what a file claims:
- a yielded batch holds at most MAX_BATCH_IMAGES images (128 MiB of 299x299 float32 network
  input); a larger batch_size is served as several batches of that size (the score does not
  depend on how images are batched);
- an image may have at most MAX_PIXELS pixels (and, in an array file, MAX_IMAGE_BYTES bytes);
  images larger than 299x299 are resized here, in chunks of at most READ_CHUNK_BYTES, so that
  a batch never holds more than its resized images;
- array files are read lazily, chunk by chunk, and only as far as the images scored; each chunk
  is checked (NaN/Inf, value range) as it is read.
"""
import contextlib
import os
import warnings

import numpy

from inception_score import topology
from inception_score.arrayfile import ArrayFile
from inception_score.backend import get_array_module
from inception_score.errors import InputError, UsageError
from inception_score.fixes import carried, fix
from inception_score.io import (check_images, check_value_range, file_kind, open_regular,
                                range_error, to_pixel_range, unit_range_error, value_stats)
from inception_score.resize import RESIZE_MODES, resize_images

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp', '.tif', '.tiff')
ARRAY_EXTENSIONS = ('.npz', '.npy')

MAX_PIXELS = 40 * 1000 * 1000  # per image: far above any real sample, far below a bomb
MAX_IMAGE_BYTES = 256 << 20  # per image of an array file (a 40-megapixel float64 RGB is 960 MB)
NETWORK_IMAGE_BYTES = 3 * topology.INPUT_SIZE ** 2 * 4  # one resized float32 image: 1.07 MB
MAX_BATCH_IMAGES = (128 << 20) // NETWORK_IMAGE_BYTES  # 125
READ_CHUNK_BYTES = 64 << 20  # array rows read, checked and resized at once


def _pixel_limit_error(name, h, w):
    return InputError('{} is {} x {} pixels ({:.1f} megapixels), more than the {}-megapixel '
                      'limit per image: downscale it (the network sees 299 x 299)'.format(
                          name, w, h, h * w / 1e6, MAX_PIXELS // 10 ** 6))


class _RowSource:
    """Batches of an (N, C, H, W) array read in row chunks: shared by arrays in memory and in
    files. Subclasses set value_range and image_size (H, W, bytes per value) and define
    `_reader()`, a context manager giving read(start, stop) -> NCHW rows with 3 channels."""

    def _batch(self, read, start, stop, resize):
        h, w, itemsize = self.image_size
        # Up to 299x299 the network's own resize (O(output)) takes them as they are; larger
        # images are resized here so that the batch holds no more than the network's input.
        direct = resize == 'tf1' and h * w <= topology.INPUT_SIZE ** 2
        rows = max(1, READ_CHUNK_BYTES // (3 * h * w * itemsize))
        out = None
        for a in range(start, stop, rows):
            b = min(a + rows, stop)
            x = to_pixel_range(read(a, b), self.value_range)
            if not direct:
                x = resize_images(x, resize)
            if (a, b) == (start, stop):
                return x
            if out is None:
                out = get_array_module(x).empty((stop - start,) + x.shape[1:], x.dtype)
            out[a - start:b - start] = x
        return out

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        stop = len(self) if stop is None else stop
        step = min(batch_size, MAX_BATCH_IMAGES)
        with self._reader() as read:
            for i in range(start, stop, step):
                yield self._batch(read, i, min(i + step, stop), resize)
            self._finish()

    def _finish(self):
        """Checks that need every image read (called after the last batch)."""


class ArraySource(_RowSource):
    """An in-memory (N, 3, H, W) numpy or cupy array, checked once up front."""

    def __init__(self, ims, value_range=(0, 255), name='images'):
        self.ims = check_images(ims, value_range)
        self.value_range = check_value_range(value_range)
        self.name = name
        self.skipped = []
        self.image_size = tuple(self.ims.shape[2:]) + (self.ims.dtype.itemsize,)

    def __len__(self):
        return len(self.ims)

    def read(self, start, stop):
        return self.ims[start:stop]

    def _reader(self):
        return contextlib.nullcontext(self.read)


def _layout(shape, name, layout):
    """NCHW or NHWC for a 4-D array whose channel axis holds 1 or 3 values."""
    candidates = [kind for kind, axis in (('nchw', 1), ('nhwc', 3)) if shape[axis] in (1, 3)]
    if layout is not None:
        if layout not in candidates:
            raise InputError('{}: shape {} has no 1 or 3 channels where {} puts them'
                             .format(name, shape, fix('layout', layout)))
        return layout
    if not candidates:
        raise InputError('{}: shape {} is neither (N, C, H, W) nor (N, H, W, C) with C = 1 or 3'
                         .format(name, shape))
    if len(candidates) == 2:
        raise InputError('{}: shape {} is ambiguous (channels could be axis 1 or 3): pass '
                         '{} or {}'.format(name, shape, fix('layout', 'nchw'),
                                           fix('layout', 'nhwc')))
    return candidates[0]


class ArrayFileSource(_RowSource):
    """A .npy file or a .npz member, (N, H, W, C) or (N, C, H, W) with C = 1 or 3.

    Opening reads the header only. Images are read chunk by chunk as batches are asked for,
    and each chunk is checked as it is read: NaN, Inf or values outside `value_range` fail at
    the chunk that holds them, naming the file and the images; float data that looks like
    [0, 1] passed as [0, 255] fails after the last batch (it needs every value scored).
    """

    def __init__(self, path, key=None, layout=None, value_range=(0, 255)):
        self.path, self.key, self.name = path, key, path
        self.value_range = check_value_range(value_range)
        self.skipped = []
        with ArrayFile(path, key) as f:
            self.label, self.shape, self.dtype = f.label, f.shape, f.dtype
        label, shape, dtype = self.label, self.shape, self.dtype
        if dtype.kind not in 'uf' or (dtype.kind == 'u' and dtype != numpy.uint8):
            raise InputError('{} has dtype {}: images must be uint8 or float'.format(
                label, dtype))
        if len(shape) != 4:
            raise InputError('{} has shape {}: images must be 4-D, (N, H, W, C) or '
                             '(N, C, H, W)'.format(label, shape))
        self.nhwc = _layout(shape, label, layout) == 'nhwc'
        n, c, h, w = (shape[0], shape[3], shape[1], shape[2]) if self.nhwc else shape
        if n * c * h * w == 0:
            raise InputError('{}: images are empty (shape {})'.format(label, shape))
        if h * w > MAX_PIXELS:
            raise _pixel_limit_error('{}: each image'.format(label), h, w)
        if c * h * w * dtype.itemsize > MAX_IMAGE_BYTES:
            raise InputError('{}: each image takes {:.0f} MiB ({} x {} x {} {}), more than the '
                             '{} MiB allowed per image: downscale them'.format(
                                 label, c * h * w * dtype.itemsize / 2 ** 20, c, h, w, dtype,
                                 MAX_IMAGE_BYTES >> 20))
        self.image_size = (h, w, dtype.itemsize)
        self._seen = None

    def __len__(self):
        return self.shape[0]

    def _check(self, raw, start):
        """NaN/Inf and range checks of rows start.. as read (in the file's dtype)."""
        if self.dtype == numpy.uint8 and self.value_range == (0, 255):
            return
        finite, vmin, vmax = value_stats(raw)
        where = '{}, images {}-{}'.format(self.label, start, start + len(raw) - 1)
        if not finite:
            raise InputError('{}: images contain NaN or Inf'.format(where))
        message = range_error(vmin, vmax, self.value_range)
        if message:
            raise InputError('{}: {}'.format(where, message))
        lo, hi = self._seen or (vmin, vmax)
        self._seen = (min(lo, vmin), max(hi, vmax))

    def _finish(self):
        if self._seen is not None:
            message = unit_range_error(self.dtype.kind, *self._seen, self.value_range)
            if message:
                raise InputError('{}: {}'.format(self.label, message))

    def _rows(self, f, start, stop):
        raw = f.read(start, stop)
        self._check(raw, start)
        if raw.dtype != numpy.uint8:
            raw = raw.astype(numpy.float32, copy=False)  # what the network computes in
        if self.nhwc:
            raw = raw.transpose(0, 3, 1, 2)
        if raw.shape[1] == 1:
            raw = numpy.broadcast_to(raw, (len(raw), 3) + raw.shape[2:])
        return raw

    @contextlib.contextmanager
    def _reader(self):
        with ArrayFile(self.path, self.key) as f:
            if (f.shape, f.dtype) != (self.shape, self.dtype):
                raise InputError('{} changed since it was opened (now shape {}, dtype {})'
                                 .format(self.label, f.shape, f.dtype))
            self._seen = None
            yield lambda start, stop: self._rows(f, start, stop)

    def read(self, start, stop):
        """Images start..stop-1 as (n, 3, H, W), uint8 or float32, checked."""
        with self._reader() as read:
            return numpy.ascontiguousarray(read(start, stop))


def load_array_file(path, key=None, layout=None, value_range=(0, 255)):
    """An ArrayFileSource over a .npy file or a .npz member (`arr_0` by default)."""
    return ArrayFileSource(path, key=key, layout=layout, value_range=value_range)


def list_images(folder):
    """(images, problems) under `folder`, recursively, in a deterministic (sorted path) order.

    images: paths of regular files with an image extension. problems: (path, message) for what
    cannot be read: an unreadable subfolder (its images would silently be left out) and an
    image name that is not a regular file (opening a FIFO would block forever).
    """
    found, problems = [], []

    def unreadable(e):
        path = e.filename if e.filename is not None else folder
        problems.append((path, '{} cannot be read ({}): its images would be left out; fix '
                               'its permissions, or pass {}'.format(
                                   path, e.strerror or e, fix('skip_bad'))))

    for root, _, files in os.walk(folder, onerror=unreadable):
        for name in files:
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            path = os.path.join(root, name)
            problem = _entry_problem(path)
            if problem is not None:
                problems.append((path, problem))
            else:
                found.append(path)

    def order(p):
        return os.path.relpath(p, folder).split(os.sep)

    return sorted(found, key=order), sorted(problems, key=lambda p: order(p[0]))


def _entry_problem(path):
    """Why the image file `path` cannot be read (from its stat alone), or None."""
    try:
        kind = file_kind(os.stat(path).st_mode)
    except OSError as e:
        return '{} cannot be read ({}): fix or remove it, or pass {}'.format(
            path, e.strerror or e, fix('skip_bad'))
    if kind is not None:
        return '{} is not a regular file ({}): remove it, or pass {}'.format(
            path, kind, fix('skip_bad'))
    return None


def is_image_file(path):
    """Whether `path` names an image file (by its extension, as in folders), not a folder."""
    return path.lower().endswith(IMAGE_EXTENSIONS) and not os.path.isdir(path)


# Pillow modes whose samples are wider than 8 bits: (bits, kind u/i/f).
_WIDE_MODES = {'I;16': (16, 'u'), 'I;16L': (16, 'u'), 'I;16B': (16, 'u'), 'I;16N': (16, 'u'),
               'I;16S': (16, 'i'), 'I': (32, 'i'), 'F': (32, 'f')}
_SAMPLE_KINDS = {'u': 'integer', 'i': 'signed integer', 'f': 'float'}


def _sample_depth(im, head):
    """(bits per sample, kind) as the file stores them, not as Pillow decodes them: Pillow
    reads a 16-bit colour PNG or TIFF as 8-bit RGB without a word."""
    if im.format == 'PNG' and head[12:16] == b'IHDR' and len(head) > 24:
        return head[24], 'u'
    if im.format == 'TIFF':
        def widest(tag, default):
            value = im.tag_v2.get(tag, default)
            return max(value) if isinstance(value, tuple) else value
        return widest(258, 1), {2: 'i', 3: 'f'}.get(widest(339, 1), 'u')
    return _WIDE_MODES.get(im.mode, (8, 'u'))


def _to_rgb(path, im, allow_16bit, head):
    """(H, W, 3) uint8 from an opened image, by the one rule for wide samples."""
    bits, kind = _sample_depth(im, head)
    if bits <= 8 and im.mode not in _WIDE_MODES:
        if im.mode == 'P' and 'transparency' in im.info:
            im = im.convert('RGBA')  # what convert('RGB') does, without Pillow's warning
        return numpy.asarray(im.convert('RGB'))
    if bits != 16 or kind != 'u':
        raise InputError('{} is a {}-bit {} image, which has no defined white level: convert '
                         'it to 8-bit (or 16-bit unsigned integer) samples'.format(
                             path, bits, _SAMPLE_KINDS.get(kind, 'integer')))
    if not allow_16bit:
        raise InputError('{} is a 16-bit image ({}): pass {} to reduce it to 8 bits (the high '
                         'byte of each sample)'.format(path, im.format, fix('allow_16bit')))
    if im.mode in _WIDE_MODES:  # grayscale: Pillow keeps all 16 bits; keep the high byte
        gray = (numpy.asarray(im).astype(numpy.uint32) >> 8).astype(numpy.uint8)
        return numpy.repeat(gray[:, :, None], 3, axis=2)
    return numpy.asarray(im.convert('RGB'))  # colour: Pillow already kept the high byte


def decode_image(path, allow_16bit=False):
    """An RGB uint8 (3, H, W) array; grayscale, palette and alpha converted as PIL does.

    Refused with one line naming the file: anything not a regular file, more than MAX_PIXELS
    pixels (checked from the header, before decoding), and samples wider than 8 bits unless
    `allow_16bit` (16-bit integers are then reduced to their high byte; 32-bit and float
    samples are always refused).
    """
    from PIL import Image
    hint = ': fix or remove it, or pass {}'.format(fix('skip_bad'))
    try:
        with open_regular(path, hint=hint) as f, warnings.catch_warnings():
            # Pillow's own size warning is replaced by MAX_PIXELS; its other warnings (palette
            # transparency, odd metadata) concern pixels we read correctly anyway.
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            warnings.filterwarnings('ignore', module=r'PIL(\.|$)')
            head = f.read(32)
            f.seek(0)
            with Image.open(f) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise _pixel_limit_error(path, h, w)
                rgb = _to_rgb(path, im, allow_16bit, head)
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError('{} has more than {} megapixels, more than the {}-megapixel limit per '
                         'image: downscale it (the network sees 299 x 299)'.format(
                             path, 2 * Image.MAX_IMAGE_PIXELS // 10 ** 6,
                             MAX_PIXELS // 10 ** 6)) from None
    except Image.UnidentifiedImageError:  # its message names the file object, not the path
        raise InputError('{} is not a readable image (no image format recognised){}'.format(
            path, hint)) from None
    except Exception as e:  # PIL raises many types for corrupt or truncated files
        raise InputError('{} is not a readable image ({}){}'.format(
            path, str(e).splitlines()[0] if str(e) else type(e).__name__, hint)) from None
    return rgb.transpose(2, 0, 1)


class FolderSource:
    """Image files of any sizes; each image is resized alone, as the graph would resize it.

    Every entry that cannot be read (an unreadable subfolder, a name that is not a regular
    file, and with skip_bad an undecodable image) is an error naming it, or with skip_bad
    is listed in `skipped`, all before the run: they would shift the split boundaries.
    """

    def __init__(self, folder, skip_bad=False, allow_16bit=False):
        if not os.path.isdir(folder):
            raise UsageError('{} does not exist'.format(folder))
        files, problems = list_images(folder)
        if not files and not problems:
            raise InputError('{} holds no images ({})'.format(
                folder, ', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)))
        self._take(folder, files, problems, skip_bad, allow_16bit,
                   lambda p: os.path.relpath(p, folder).split(os.sep),
                   '{} holds no readable images'.format(folder))

    def _take(self, name, files, problems, skip_bad, allow_16bit, order, unreadable):
        """Keep `files`; `problems` ((path, message)) fail, or with skip_bad are skipped with
        every file that does not decode, listed in `order`."""
        self.name, self.files, self.allow_16bit = name, files, allow_16bit
        if problems and not skip_bad:
            more = len(problems) - 1
            raise InputError(problems[0][1] + (' ({} more such entries)'.format(more)
                                               if more else ''))
        self.skipped = [path for path, _ in problems]
        if skip_bad:
            good = []
            for path in self.files:
                try:
                    decode_image(path, allow_16bit)
                    good.append(path)
                except InputError:
                    self.skipped.append(path)
            self.files = good
            self.skipped.sort(key=order)
            if not self.files:
                raise InputError('{} ({} skipped)'.format(unreadable, len(self.skipped)))

    def __len__(self):
        return len(self.files)

    def load(self, start, stop, resize='tf1', cancel=None):
        """Images start..stop-1 as one float32 (n, 3, 299, 299) batch: each image is decoded
        and resized alone, so a batch costs its resized images and one decoded image. Once
        `cancel` (a threading.Event) is set, it stops at the next image and returns None."""
        size = topology.INPUT_SIZE
        out = numpy.empty((stop - start, 3, size, size), numpy.float32)
        for i, path in enumerate(self.files[start:stop]):
            if cancel is not None and cancel.is_set():
                return None
            out[i] = resize_images(decode_image(path, self.allow_16bit)[None], resize)[0]
        return out

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        import threading
        from concurrent.futures import ThreadPoolExecutor
        stop = len(self) if stop is None else stop
        step = min(batch_size, MAX_BATCH_IMAGES)
        starts = range(start, stop, step)
        # Decode the next batch while the network runs on this one (PIL releases the GIL); its
        # messages name fixes as the caller does.
        load, cancel = carried(self.load), threading.Event()
        with ThreadPoolExecutor(1) as pool:
            try:
                pending = None
                for i in starts:
                    current = pending.result() if pending is not None else \
                        self.load(i, min(i + step, stop), resize)
                    nxt = i + step
                    pending = pool.submit(load, nxt, min(nxt + step, stop), resize, cancel) \
                        if nxt < stop else None
                    yield current
            finally:
                # Stopped early (Ctrl-C, an error): the thread is joined after one image, not
                # after a whole batch.
                cancel.set()


class ImageFilesSource(FolderSource):
    """Image files named one by one (e.g. on the command line), in the order given, read by
    the rules of image files in folders."""

    def __init__(self, paths, skip_bad=False, allow_16bit=False):
        paths = [os.fspath(p) for p in paths]
        problems = []
        for path in paths:
            if not os.path.lexists(path):
                raise UsageError('{} does not exist'.format(path))
            problem = _entry_problem(path)
            if problem is not None:
                problems.append((path, problem))
        bad = {path for path, _ in problems}
        name = paths[0] if len(paths) == 1 else '{} image files'.format(len(paths))
        self._take(name, [p for p in paths if p not in bad], problems, skip_bad, allow_16bit,
                   paths.index, 'no readable image in {}'.format(name))


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
    """A source for a folder, an image file, a .npz or a .npy path."""
    if os.path.isdir(path):
        return FolderSource(path, skip_bad=skip_bad, allow_16bit=allow_16bit)
    if is_image_file(path):
        return ImageFilesSource([path], skip_bad=skip_bad, allow_16bit=allow_16bit)
    if not os.path.exists(path):
        raise UsageError('{} does not exist'.format(path))
    if path.lower().endswith(ARRAY_EXTENSIONS):
        return load_array_file(path, key=key, layout=layout, value_range=value_range)
    raise UsageError('{} is neither a folder of images, an image file ({}) nor a .npz/.npy '
                     'file'.format(path, ', '.join(e.lstrip('.') for e in IMAGE_EXTENSIONS)))


__all__ = ['ArrayFileSource', 'ArraySource', 'ConcatSource', 'FolderSource', 'ImageFilesSource',
           'MAX_BATCH_IMAGES', 'MAX_PIXELS', 'RESIZE_MODES', 'decode_image', 'is_image_file',
           'list_images', 'load_array_file', 'open_source']
