"""Image folders and array files -> validated batches (no network involved)."""
import os
import tracemalloc

import numpy
import pytest
from PIL import Image

from inception_score import InputError, ScoreAccumulator
from inception_score.errors import UsageError
from inception_score.sources import (FolderSource, decode_image, list_images, load_array_file,
                                     open_source)


def _save(path, array, mode=None, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path, **kw)
    return path


def test_folder_listing_is_recursive_sorted_and_image_only(tmp_path):
    rgb = numpy.zeros((4, 4, 3), numpy.uint8)
    for name in ('b.png', 'a/z.jpg', 'a/y.webp', 'c.BMP', 'd.tif'):
        _save(str(tmp_path / name), rgb)
    (tmp_path / 'notes.txt').write_text('not an image')
    names = [os.path.relpath(p, str(tmp_path)) for p in list_images(str(tmp_path))]
    assert names == ['a/y.webp', 'a/z.jpg', 'b.png', 'c.BMP', 'd.tif']


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
    with pytest.raises(InputError, match='16-bit image .*pass --allow-16bit'):
        decode_image(path)
    out = decode_image(path, allow_16bit=True)
    assert numpy.array_equal(out[0], numpy.round(a16 / 257.0).astype(numpy.uint8))


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
    assert str(path) in str(info.value) and '--skip-bad' in str(info.value)
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
    assert numpy.array_equal(numpy.asarray(src.ims), nhwc.transpose(0, 3, 1, 2))
    nchw = nhwc.transpose(0, 3, 1, 2).copy()
    assert numpy.array_equal(numpy.asarray(load_array_file(_npy(tmp_path, nchw, 'c.npy')).ims),
                             nchw)
    gray = rng.randint(0, 256, (5, 8, 9, 1)).astype(numpy.uint8)
    src = load_array_file(_npy(tmp_path, gray, 'g.npy'))
    assert src.ims.shape == (5, 3, 8, 9) and numpy.array_equal(src.ims[:, 2], gray[..., 0])
    npz = _npy(tmp_path, None, 'k.npz', samples=nhwc)
    assert len(load_array_file(npz, key='samples')) == 5
    with pytest.raises(InputError, match=r"has no array 'arr_0' \(it has samples\): pass --key"):
        load_array_file(npz)


@pytest.mark.parametrize('array,message', [
    (numpy.array([{'a': 1}] * 3, dtype=object), 'pickled Python objects'),
    (numpy.zeros((4, 8, 8, 3), numpy.int64), 'dtype int64: images must be uint8 or float'),
    (numpy.zeros((4, 8, 8, 3), bool), 'dtype bool'),
    (numpy.zeros((8, 8, 3), numpy.uint8), 'images must be 4-D'),
    (numpy.zeros((4, 8, 8, 2), numpy.uint8), 'neither (N, C, H, W) nor (N, H, W, C)'),
    (numpy.zeros((4, 3, 8, 3), numpy.uint8), 'ambiguous (channels could be axis 1 or 3): pass '
                                             '--layout nchw or --layout nhwc'),
    (numpy.full((4, 8, 8, 3), numpy.nan, numpy.float32), 'NaN or Inf'),
    (numpy.full((4, 8, 8, 3), 300, numpy.float32), 'outside value_range (0, 255)'),
    (numpy.full((4, 8, 8, 3), 0.5, numpy.float32), 'looks like [0, 1] data'),
])
def test_bad_arrays_are_rejected_with_the_file_named(tmp_path, array, message):
    path = _npy(tmp_path, array)
    with pytest.raises(InputError) as info:
        load_array_file(path)
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
