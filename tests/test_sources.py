"""Image folders and array files -> validated batches (no network involved).

Every bad input is one line naming it, and leaves the files byte-identical; the memory cases
run in a fresh process limited to 1 GiB of address space.
"""
import hashlib
import io
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
import zipfile
import zlib

import numpy
import pytest
from PIL import Image

from inception_score import InputError, ScoreAccumulator
from inception_score.errors import UsageError
from inception_score.sources import (MAX_BATCH_IMAGES, FolderSource, decode_image, list_images,
                                     load_array_file, open_source)
from inception_score.resize import resize_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_LIMIT = 1 << 30


def _save(path, array, mode=None, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw)
    return path


def test_folder_listing_is_recursive_sorted_and_image_only(tmp_path):
    rgb = numpy.zeros((4, 4, 3), numpy.uint8)
    for name in ('b.png', 'a/z.jpg', 'a/y.webp', 'c.BMP', 'd.tif'):
        _save(str(tmp_path / name), rgb)
    (tmp_path / 'notes.txt').write_text('not an image')
    files, problems = list_images(str(tmp_path))
    names = [os.path.relpath(p, str(tmp_path)) for p in files]
    assert names == ['a/y.webp', 'a/z.jpg', 'b.png', 'c.BMP', 'd.tif'] and problems == []


def test_grayscale_rgba_palette_become_rgb_as_pil_does(tmp_path):
    rng = numpy.random.RandomState(0)
    gray = rng.randint(0, 256, (5, 6)).astype(numpy.uint8)
    out = decode_image(_save(str(tmp_path / 'g.png'), gray))
    assert out.shape == (3, 5, 6) and all(numpy.array_equal(c, gray) for c in out)
    rgba = rng.randint(0, 256, (5, 6, 4)).astype(numpy.uint8)
    path = _save(str(tmp_path / 'rgba.png'), rgba)
    expected = numpy.asarray(Image.open(path).convert('RGB')).transpose(2, 0, 1)
    assert numpy.array_equal(decode_image(path), expected)
    pal = Image.fromarray(rgb := rng.randint(0, 256, (5, 6, 3)).astype(numpy.uint8)).convert('P')
    pal.save(str(tmp_path / 'p.png'))
    assert numpy.array_equal(decode_image(str(tmp_path / 'p.png')),
                             numpy.asarray(pal.convert('RGB')).transpose(2, 0, 1))
    assert rgb.shape == (5, 6, 3)


def test_16bit_images_need_allow_16bit(tmp_path):
    a16 = (numpy.arange(30, dtype=numpy.uint16).reshape(5, 6) * 2000)
    path = str(tmp_path / 'deep.png')
    Image.fromarray(a16).save(path)
    with pytest.raises(InputError, match='16-bit image .*pass allow_16bit=True'):
        decode_image(path)
    out = decode_image(path, allow_16bit=True)
    assert numpy.array_equal(out[0], (a16 >> 8).astype(numpy.uint8))  # the high byte


@pytest.mark.parametrize('content', [b'', b'not an image at all', 'truncated'])
def test_unreadable_files_are_named(tmp_path, content):
    path = tmp_path / 'bad.png'
    if content == 'truncated':
        good = tmp_path / 'good.png'
        _save(str(good), numpy.random.RandomState(0).randint(0, 256, (64, 64, 3)).astype(
            numpy.uint8))
        content = good.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        decode_image(str(path))
    assert str(path) in str(info.value) and 'skip_bad=True' in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_skip_bad_counts_and_keeps_order(tmp_path):
    rgb = numpy.zeros((4, 4, 3), numpy.uint8)
    for name in ('1.png', '3.png'):
        _save(str(tmp_path / name), rgb)
    (tmp_path / '2.png').write_bytes(b'')
    source = FolderSource(str(tmp_path), skip_bad=True)
    assert [os.path.basename(p) for p in source.files] == ['1.png', '3.png']
    assert source.skipped == [str(tmp_path / '2.png')]


def test_empty_and_imageless_folders(tmp_path):
    with pytest.raises(InputError, match='holds no images'):
        FolderSource(str(tmp_path))
    (tmp_path / 'readme.txt').write_text('x')
    with pytest.raises(InputError, match='holds no images'):
        open_source(str(tmp_path))
    with pytest.raises(UsageError, match='does not exist'):
        open_source(str(tmp_path / 'nothing'))


def _npy(tmp_path, array, name='a.npy', **kw):
    path = str(tmp_path / name)
    if name.endswith('.npz'):
        numpy.savez(path, **kw) if kw else numpy.savez(path, array)
    else:
        numpy.save(path, array, allow_pickle=True)
    return path


def test_arrays_in_both_layouts_and_one_channel(tmp_path):
    rng = numpy.random.RandomState(1)
    nhwc = rng.randint(0, 256, (5, 8, 9, 3)).astype(numpy.uint8)
    src = load_array_file(_npy(tmp_path, nhwc))
    assert numpy.array_equal(src.read(0, 5), nhwc.transpose(0, 3, 1, 2))
    nchw = nhwc.transpose(0, 3, 1, 2).copy()
    assert numpy.array_equal(load_array_file(_npy(tmp_path, nchw, 'c.npy')).read(0, 5), nchw)
    gray = rng.randint(0, 256, (5, 8, 9, 1)).astype(numpy.uint8)
    ims = load_array_file(_npy(tmp_path, gray, 'g.npy')).read(0, 5)
    assert ims.shape == (5, 3, 8, 9) and numpy.array_equal(ims[:, 2], gray[..., 0])
    npz = _npy(tmp_path, None, 'k.npz', samples=nhwc)
    assert len(load_array_file(npz, key='samples')) == 5
    with pytest.raises(InputError, match=r"has no array 'arr_0' \(it has samples\): pass key="):
        load_array_file(npz)


@pytest.mark.parametrize('array,message', [
    (numpy.array([{'a': 1}] * 3, dtype=object), 'pickled Python objects'),
    (numpy.zeros((4, 8, 8, 3), numpy.int64), 'dtype int64: images must be uint8 or float'),
    (numpy.zeros((4, 8, 8, 3), bool), 'dtype bool'),
    (numpy.zeros((8, 8, 3), numpy.uint8), 'images must be 4-D'),
    (numpy.zeros((4, 8, 8, 2), numpy.uint8), 'neither (N, C, H, W) nor (N, H, W, C)'),
    (numpy.zeros((4, 3, 8, 3), numpy.uint8), 'ambiguous (channels could be axis 1 or 3): pass '
                                             "layout='nchw' or layout='nhwc'"),
    (numpy.full((4, 8, 8, 3), numpy.nan, numpy.float32), 'NaN or Inf'),
    (numpy.full((4, 8, 8, 3), 300, numpy.float32), 'outside value_range (0, 255)'),
    (numpy.full((4, 8, 8, 3), 0.5, numpy.float32), 'looks like [0, 1] data'),
])
def test_bad_arrays_are_rejected_with_the_file_named(tmp_path, array, message):
    # Header problems fail on opening, value problems as the images are read (per batch).
    path = _npy(tmp_path, array)
    with pytest.raises(InputError) as info:
        for _ in load_array_file(path).batches(100):
            pass
    assert message in str(info.value) and path in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_pickled_npz_is_refused(tmp_path):
    path = str(tmp_path / 'p.npz')
    numpy.savez(path, numpy.array([{'a': 1}], dtype=object))
    with pytest.raises(InputError, match='pickled Python objects'):
        load_array_file(path)


def test_accumulator_memory_does_not_grow_with_n():
    rng = numpy.random.RandomState(0)
    batch = rng.normal(0, 3, (100, 1008))

    def retained(n):
        acc = ScoreAccumulator(n, 10)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for start in range(0, n, 100):
            acc.update(batch, start)
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return after - before, peak - before

    small, small_peak = retained(2000)
    large, large_peak = retained(20000)
    assert large <= 10 * 1008 * 8 + 4096   # the per-split sums: O(splits x classes)
    assert large_peak <= small_peak * 1.1 + 4096



# ---- helpers: real files, digests, a memory-limited child process --------------------------

def _digests(*paths):
    """sha256 of every regular file at or under `paths` (FIFOs are not opened)."""
    found = {}
    for top in paths:
        walk = [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) \
            else os.walk(top)
        for root, _, files in walk:
            for name in files:
                path = os.path.join(root, name)
                if os.path.isfile(path) and os.access(path, os.R_OK):
                    with open(path, 'rb') as f:
                        found[path] = hashlib.sha256(f.read()).hexdigest()
    return found


def _one_line(error):
    message = str(error)
    assert len(message.splitlines()) == 1, message
    return message


def _png(path, width, height, rows, bit_depth=8, color_type=0):
    """A PNG written row by row (filter 0), so a 100-megapixel file costs no memory here.

    rows(i) -> bytes of row i (without the filter byte). Pillow cannot write 16-bit colour.
    """
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))
    packer = zlib.compressobj(1)
    idat = b''.join(packer.compress(b'\0' + rows(i)) for i in range(height)) + packer.flush()
    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack(
            '>IIBBBBB', width, height, bit_depth, color_type, 0, 0, 0)) +
            chunk(b'IDAT', idat) + chunk(b'IEND', b''))
    return path


def _run_limited(code, timeout=300):
    """`code` in a fresh Python limited to MEMORY_LIMIT of address space; the child prints its
    peak RSS in MiB as the last line ('maxrss N'), from VmHWM: ru_maxrss would count the
    forked copy of this (large) test process from before the exec."""
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1')

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    code = ('status = open("/proc/self/status")\n' + code +
            '\nprint("maxrss", int(status.read().split("VmHWM:")[1].split()[0]) // 1024)\n')
    proc = subprocess.run([sys.executable, '-c', code], env=env, preexec_fn=limit, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *lines, last = proc.stdout.strip().splitlines()
    assert last.startswith('maxrss ') and int(last.split()[1]) < MEMORY_LIMIT >> 20
    return lines


@pytest.fixture
def no_hang():
    """Fail (instead of blocking the suite) if the test takes more than 30 s."""
    def expire(*_):
        raise TimeoutError('blocked for 30 s')
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# ---- folders ------------------------------------------------------------------------------

def test_fifo_named_like_an_image_is_an_error_or_skipped_never_a_hang(tmp_path, no_hang):
    _save(str(tmp_path / 'a.png'), numpy.zeros((4, 4, 3), numpy.uint8))
    os.mkfifo(str(tmp_path / 'sub' / 'x.png') if (tmp_path / 'sub').mkdir() is None else None)
    before = _digests(str(tmp_path))
    with pytest.raises(InputError) as info:
        FolderSource(str(tmp_path))
    assert _one_line(info.value) == ('{} is not a regular file (a FIFO): remove it, or pass '
                                     'skip_bad=True'.format(tmp_path / 'sub' / 'x.png'))
    source = FolderSource(str(tmp_path), skip_bad=True)
    assert source.files == [str(tmp_path / 'a.png')]
    assert source.skipped == [str(tmp_path / 'sub' / 'x.png')]
    with pytest.raises(InputError, match=r'x.png is not a regular file \(a FIFO\)'):
        decode_image(str(tmp_path / 'sub' / 'x.png'))  # even when handed over directly
    assert _digests(str(tmp_path)) == before


def test_unreadable_subfolder_is_an_error_naming_it_or_listed_with_skip_bad():
    # A private tree that an unprivileged child can reach: root reads everything, so a root
    # test run drops to nobody in the child.
    top = tempfile.mkdtemp(prefix='inception_score_test_')
    try:
        os.chmod(top, 0o755)
        folder = os.path.join(top, 'imgs')
        for name in ('a/1.png', 'b/2.png', 'c/3.png'):
            _save(os.path.join(folder, name), numpy.zeros((4, 4, 3), numpy.uint8))
        for root, dirs, files in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)
        locked = os.path.join(folder, 'b')
        os.chmod(locked, 0o000)
        before = _digests(os.path.join(folder, 'a'))

        # Root reads everything: the child drops to nobody once its imports are done.
        lines = _run_limited(
            'import os, sys\n'
            'from PIL import Image\n'
            'Image.init()\n'  # its plugins are imported lazily, from where nobody cannot read
            'from inception_score.cli import score_main\n'
            # what the command imports when it starts (as _score does), before the drop
            'from inception_score import checks, files, kid, modelfile, named, reference\n'
            'from inception_score import report, scoring, sources, spread\n'
            'from inception_score.sources import FolderSource\n'
            'from inception_score.errors import InputError\n'
            'if os.geteuid() == 0:\n    os.setgid(65534)\n    os.setuid(65534)\n'
            'try:\n    FolderSource({0!r})\nexcept InputError as e:\n    print(e)\n'
            's = FolderSource({0!r}, skip_bad=True)\n'
            'print(len(s), s.skipped)\n'
            'sys.stderr = sys.stdout\n'
            'print(score_main([{0!r}, "--model", "/nonexistent.model"]))\n'.format(folder))
        message = ('{} cannot be read (Permission denied): its images would be left out; fix '
                   'its permissions, or pass {{}}'.format(locked))
        assert lines == [message.format('skip_bad=True'), '2 {!r}'.format([locked]),
                         'inception-score: error: ' + message.format('--skip-bad'), '1']
        assert _digests(os.path.join(folder, 'a')) == before
    finally:
        for root, dirs, _ in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        os.chmod(locked, 0o755)
        shutil.rmtree(top)


def test_image_over_the_pixel_limit_is_refused_from_its_header_without_pillow_warnings(
        tmp_path, capfd):
    big = _png(str(tmp_path / 'big.png'), 10000, 10000, lambda i: bytes(10000))
    huge = _png(str(tmp_path / 'huge.png'), 20000, 10000, lambda i: bytes(20000))
    before = _digests(str(tmp_path))
    tracemalloc.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        with pytest.raises(InputError) as info:
            decode_image(big)
        with pytest.raises(InputError) as info_huge:
            decode_image(huge)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert _one_line(info.value) == (
        '{} is 10000 x 10000 pixels (100.0 megapixels), more than the 40-megapixel limit per '
        'image: downscale it (the network sees 299 x 299)'.format(big))
    assert 'more than the 40-megapixel limit' in _one_line(info_huge.value)
    assert caught == [] and capfd.readouterr().err == ''
    assert peak < 10 << 20  # refused before decoding: no 100 MB of pixels
    assert _digests(str(tmp_path)) == before


def test_tall_png_is_scored_within_1_gib(tmp_path):
    # 1 x 400000 pixels, 1.2 MB: the old resize built 400000 x 299 arrays (4.5 GB).
    rgb = numpy.random.RandomState(5).randint(0, 256, (400000, 1, 3)).astype(numpy.uint8)
    folder = tmp_path / 'tall'
    _save(str(folder / 'tall.png'), rgb)
    out = str(tmp_path / 'batch.npy')
    _run_limited('import numpy\nfrom inception_score.sources import FolderSource\n'
                 'batches = list(FolderSource({!r}).batches(100))\n'
                 'numpy.save({!r}, numpy.concatenate(batches))'.format(str(folder), out))
    expected = resize_images(rgb.transpose(2, 0, 1)[None])
    assert numpy.array_equal(numpy.load(out), expected)


@pytest.mark.slow
def test_huge_batch_size_is_served_in_batches_of_bounded_memory(tmp_path):
    # --batch-size 100000 used to cost 1.07 MB per image at once (107 GB).
    folder = tmp_path / 'many'
    folder.mkdir()
    rng = numpy.random.RandomState(6)
    for i in range(1000):
        Image.fromarray(rng.randint(0, 256, (8, 8, 3)).astype(numpy.uint8)).save(
            str(folder / '{:04d}.png'.format(i)))
    lines = _run_limited('from inception_score.sources import FolderSource\n'
                         'print([len(b) for b in FolderSource({!r}).batches(100000)])'.format(
                             str(folder)))
    assert lines == [str([MAX_BATCH_IMAGES] * 8)] and MAX_BATCH_IMAGES == 125
    small = FolderSource(str(folder)).batches(100, stop=250)
    assert [len(b) for b in small] == [100, 100, 50]  # batch sizes below the cap: as asked


def _png16(path, samples, color_type):
    h, w = samples.shape[:2]
    data = samples.astype('>u2').reshape(h, -1)
    return _png(path, w, h, lambda i: data[i].tobytes(), bit_depth=16, color_type=color_type)


def test_one_rule_for_16bit_and_float_images(tmp_path):
    rng = numpy.random.RandomState(7)
    rgb = rng.randint(0, 65536, (5, 7, 3))
    gray_alpha = rng.randint(0, 65536, (5, 7, 2))
    rgb16 = _png16(str(tmp_path / 'rgb16.png'), rgb, color_type=2)
    la16 = _png16(str(tmp_path / 'la16.png'), gray_alpha, color_type=4)
    gray16 = _save(str(tmp_path / 'gray16.png'), rgb[..., 0].astype(numpy.uint16))
    tif16 = _save(str(tmp_path / 'gray16.tif'), rgb[..., 1].astype(numpy.uint16))
    float_tif = _save(str(tmp_path / 'unit.tif'), rng.rand(5, 7).astype(numpy.float32), 'F')
    int_tif = _save(str(tmp_path / 'i32.tif'), rng.randint(0, 1 << 20, (5, 7)).astype(
        numpy.int32), 'I')
    before = _digests(str(tmp_path))
    for path in (rgb16, la16, gray16, tif16):  # Pillow used to read 16-bit colour as 8-bit
        with pytest.raises(InputError) as info:
            decode_image(path)
        assert _one_line(info.value).startswith(path + ' is a 16-bit image (')
        assert info.value.args[0].endswith(': pass allow_16bit=True to reduce it to 8 bits '
                                           '(the high byte of each sample)')
    # With --allow-16bit: the high byte of each sample, computed here from what was written.
    assert numpy.array_equal(decode_image(rgb16, True), (rgb >> 8).transpose(2, 0, 1))
    assert numpy.array_equal(decode_image(la16, True), numpy.repeat(
        (gray_alpha[None, ..., 0] >> 8), 3, axis=0))
    assert numpy.array_equal(decode_image(gray16, True), numpy.repeat(
        (rgb[None, ..., 0] >> 8), 3, axis=0))
    assert numpy.array_equal(decode_image(tif16, True)[0], rgb[..., 1] >> 8)
    for path, what in ((float_tif, '32-bit float'), (int_tif, '32-bit signed integer')):
        for allow in (False, True):  # no flag makes these readable: no defined white level
            with pytest.raises(InputError) as info:
                decode_image(path, allow)
            assert _one_line(info.value) == (
                '{} is a {} image, which has no defined white level: convert it to 8-bit (or '
                '16-bit unsigned integer) samples'.format(path, what))
    assert _digests(str(tmp_path)) == before


def test_palette_png_with_transparency_converts_without_warning(tmp_path, capfd):
    rgb = numpy.random.RandomState(8).randint(0, 256, (5, 6, 3)).astype(numpy.uint8)
    path = str(tmp_path / 'trns.png')
    Image.fromarray(rgb).convert('P').save(path, transparency=bytes(range(256)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        out = decode_image(path)
    with Image.open(path) as im:
        expected = numpy.asarray(im.convert('RGBA'))[..., :3].transpose(2, 0, 1)
    assert numpy.array_equal(out, expected)
    assert caught == [] and capfd.readouterr().err == ''


# ---- array files ----------------------------------------------------------------------------

def _sparse_npy(path, shape, descr):
    """A .npy whose header claims `shape`, with a sparse data area (no disk, no memory)."""
    header = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(
        header, {'descr': descr, 'fortran_order': False, 'shape': shape})
    with open(path, 'wb') as f:
        f.write(header.getvalue())
        f.truncate(f.tell() + int(numpy.prod(shape)) * numpy.dtype(descr).itemsize)
    return path


@pytest.mark.parametrize('shape,descr,message', [
    ((1, 3, 10000, 10000), '|u1', 'each image is 10000 x 10000 pixels (100.0 megapixels), more '
                                  'than the 40-megapixel limit per image: downscale it (the '
                                  'network sees 299 x 299)'),
    ((2, 3, 5000, 5000), '<f8', 'each image takes 572 MiB (3 x 5000 x 5000 float64), more than '
                                'the 256 MiB allowed per image: downscale them'),
    ((0, 3, 8, 8), '|u1', 'images are empty (shape (0, 3, 8, 8))'),
])
def test_array_images_over_the_limits_are_refused_on_opening(tmp_path, shape, descr, message):
    path = _sparse_npy(str(tmp_path / 'big.npy'), shape, descr)
    with pytest.raises(InputError) as info:
        load_array_file(path, layout='nchw')
    assert _one_line(info.value) == '{}: {}'.format(path, message)


def test_values_are_checked_per_batch_naming_the_images(tmp_path):
    ims = numpy.random.RandomState(9).uniform(0, 255, (300, 8, 8, 3)).astype(numpy.float32)
    ims[257, 1, 1, 1] = numpy.nan
    path = str(tmp_path / 'late_nan.npy')
    numpy.save(path, ims)
    before = _digests(path)
    source = load_array_file(path)  # opening reads the header only
    with pytest.raises(InputError) as info:
        for _ in source.batches(100):
            pass
    assert _one_line(info.value) == '{}, images 200-299: images contain NaN or Inf'.format(path)
    # --samples 200 reads (and checks) only what it scores: the NaN is never reached.
    assert sum(len(b) for b in source.batches(100, stop=200)) == 200
    assert _digests(path) == before
    ims[257, 1, 1, 1] = 300
    numpy.save(path, ims)
    with pytest.raises(InputError, match=r'late_nan.npy, images 200-299: image values lie in '
                                         r'\[[0-9.e-]+, 300\], outside value_range \(0, 255\)'):
        list(load_array_file(path).batches(100))


def test_checking_a_float_file_costs_a_batch_not_the_file(tmp_path):
    # A whole-file isfinite added a quarter of the file (0.5 GB for a 2 GiB file).
    ims = numpy.random.RandomState(10).uniform(0, 255, (4000, 3, 32, 32)).astype(numpy.float32)
    path = str(tmp_path / 'floats.npy')
    numpy.save(path, ims)
    source = load_array_file(path)
    tracemalloc.start()
    count = 0
    for batch in source.batches(100):
        count += len(batch)
        del batch
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 4000
    assert peak < 4 * 100 * 3 * 32 * 32 * 4 < ims.nbytes / 4


def test_all_zero_float_array_is_scored_as_black_images(tmp_path):
    path = str(tmp_path / 'zeros.npy')
    numpy.save(path, numpy.zeros((4, 8, 8, 3), numpy.float32))
    assert sum(len(b) for b in load_array_file(path).batches(100)) == 4
    numpy.save(path, numpy.full((4, 8, 8, 3), 0.5, numpy.float32))
    with pytest.raises(InputError, match=r'looks like \[0, 1\] data: pass value_range=\(0, 1\)'):
        list(load_array_file(path).batches(2))  # decided on every value read, not per batch


def test_tall_npy_is_scored_within_1_gib(tmp_path):
    # (4, 3, 100000, 1), 1.2 MB: used to take 4.5 GB in the resize.
    ims = numpy.random.RandomState(11).randint(0, 256, (4, 3, 100000, 1)).astype(numpy.uint8)
    path, out = str(tmp_path / 'tall.npy'), str(tmp_path / 'batch.npy')
    numpy.save(path, ims)
    _run_limited('import numpy\nfrom inception_score.sources import load_array_file\n'
                 'batches = list(load_array_file({!r}, layout="nchw").batches(100))\n'
                 'numpy.save({!r}, numpy.concatenate(batches))'.format(path, out))
    assert numpy.array_equal(numpy.load(out), resize_images(ims))


@pytest.mark.slow
def test_npz_zip_bomb_streams_within_1_gib(tmp_path):
    # 5000 black 299x299 images: a few MB of .npz inflating to 1.34 GB, read whole by numpy.
    n, image = 5000, 3 * 299 * 299
    path = str(tmp_path / 'bomb.npz')
    header = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(
        header, {'descr': '|u1', 'fortran_order': False, 'shape': (n, 3, 299, 299)})
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open('arr_0.npy', 'w', force_zip64=True) as member:
            member.write(header.getvalue())
            for _ in range(n // 100):
                member.write(bytes(100 * image))
    assert os.path.getsize(path) < 10 << 20
    before = _digests(path)
    lines = _run_limited('from inception_score.sources import load_array_file\n'
                         'sizes = [(len(b), int(b.max())) for b in '
                         'load_array_file({!r}).batches(100000)]\n'
                         'print(sum(s for s, _ in sizes), max(s for s, _ in sizes), '
                         'max(m for _, m in sizes))'.format(path))
    assert lines == ['{} {} 0'.format(n, MAX_BATCH_IMAGES)]
    assert _digests(path) == before


def test_cli_reports_bad_inputs_in_one_line_before_loading_the_model(tmp_path):
    text = tmp_path / 'notes.npy'
    text.write_text('1 2 3\n')
    folder = tmp_path / 'imgs'
    _save(str(folder / 'a.png'), numpy.zeros((4, 4, 3), numpy.uint8))
    os.mkfifo(str(folder / 'b.png'))
    claim = tmp_path / 'claim.npz'
    with zipfile.ZipFile(str(claim), 'w') as archive:
        header = io.BytesIO()
        numpy.lib.format.write_array_header_1_0(
            header, {'descr': '<f4', 'fortran_order': False, 'shape': (10 ** 6, 3, 299, 299)})
        archive.writestr('arr_0.npy', header.getvalue() + bytes(64))
    before = _digests(str(tmp_path))
    for path, message in (
            (text, '{} is neither a .npy nor a .npz file (it is a text file starting '
                   "'1 2 3\\n'): save images with numpy.save or numpy.savez".format(text)),
            (folder, '{} is not a regular file (a FIFO): remove it, or pass --skip-bad'.format(
                folder / 'b.png')),
            (claim, "{} (array 'arr_0') is truncated or damaged: its header promises a float32 "
                    'array of shape (1000000, 3, 299, 299) (1072812000000 bytes) but the '
                    'archive member holds 64 bytes: re-create it'.format(claim))):
        proc = subprocess.run(
            [sys.executable, '-m', 'inception_score', str(path), '--model',
             str(tmp_path / 'none.model'), '--json', str(tmp_path / 'r.json')],
            env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT, capture_output=True, text=True,
            timeout=120)
        assert proc.returncode == 1 and proc.stdout == ''
        assert proc.stderr.strip().splitlines() == ['inception-score: error: ' + message]
    assert _digests(str(tmp_path)) == before and not (tmp_path / 'r.json').exists()
