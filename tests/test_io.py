"""check_images and the value checks shared with array files: messages, chunks, duck typing."""
import os
import tracemalloc

import numpy
import pytest

from inception_score import io
from inception_score.errors import InputError
from inception_score.io import check_images, open_regular, to_pixel_range, value_stats


def test_input_modules_do_not_import_chainer():
    import ast
    for name in ('io', 'sources', 'resize', 'arrayfile'):
        tree = ast.parse(open(os.path.join(os.path.dirname(io.__file__), name + '.py')).read())
        imported = {alias.name.split('.')[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or '').split('.')[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert 'chainer' not in imported, name


def test_variable_like_objects_are_unwrapped_by_duck_typing():
    class Variable:  # what chainer.Variable looks like to us: an `.array` holding the data
        def __init__(self, array):
            self.array = array
    ims = numpy.zeros((2, 3, 4, 4), numpy.uint8)
    assert check_images(Variable(ims)) is ims
    with pytest.raises(InputError, match='numpy or cupy array'):
        check_images(Variable('not an array'))


def test_all_zero_float_images_are_valid_black_images():
    # Zeros are black in every range: no reason to call them [0, 1] data.
    zeros = numpy.zeros((4, 3, 8, 8), numpy.float32)
    for value_range in ((0, 255), (0, 1), (-1, 1)):
        assert check_images(zeros, value_range) is zeros
    with pytest.raises(InputError, match=r'lie in \[0, 0.5\], which looks like \[0, 1\] data'):
        check_images(numpy.concatenate([zeros, zeros + 0.5]))


@pytest.mark.parametrize('fill,value_range,message', [
    (numpy.nan, (0, 255), 'images contain NaN or Inf'),
    (-numpy.inf, (0, 1), 'images contain NaN or Inf'),
    (300.0, (0, 255), 'image values lie in [0, 300], outside value_range (0, 255): clip or '
                      'rescale them into [0, 255]'),
    (-1.0, (0, 255), 'image values lie in [-1, 0], outside value_range (0, 255): for images '
                     'in [-1, 1] pass value_range=(-1, 1)'),
    (2.0, (-1, 1), 'outside value_range (-1, 1): for images in [0, 255] pass value_range=(0, '
                   '255)'),
])
def test_bad_values_anywhere_are_found_with_whole_array_extremes(monkeypatch, fill, value_range,
                                                                 message):
    monkeypatch.setattr(io, 'CHECK_CHUNK_BYTES', 3 * 8 * 8 * 4)  # one image per chunk
    ims = numpy.zeros((5, 3, 8, 8), numpy.float32)
    ims[3, 1, 2, 2] = fill  # in a later chunk than the first
    with pytest.raises(InputError) as info:
        check_images(ims, value_range)
    assert message in str(info.value)


def test_value_stats_allocate_a_chunk_not_the_array():
    ims = numpy.random.RandomState(0).uniform(0, 255, (64, 3, 64, 64)).astype(numpy.float32)
    tracemalloc.start()
    try:
        assert value_stats(ims) == (True, float(ims.min()), float(ims.max()))
        # a whole-array isfinite would allocate ims.size bytes
        old = io.CHECK_CHUNK_BYTES
        io.CHECK_CHUNK_BYTES = ims[0].size * 4
        tracemalloc.reset_peak()
        value_stats(ims)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        io.CHECK_CHUNK_BYTES = old
        tracemalloc.stop()
    assert peak < ims.size / 4


def test_to_pixel_range_maps_onto_0_255_without_touching_the_input():
    x = numpy.array([[[[-1.0, 0.0, 1.0]]]], numpy.float64)
    before = x.copy()
    assert numpy.array_equal(to_pixel_range(x, (-1, 1)), [[[[0, 127.5, 255]]]])
    assert numpy.array_equal(x, before)
    assert to_pixel_range(x, (0, 255)) is x


def test_open_regular_refuses_fifos_and_directories_at_once(tmp_path):
    fifo = str(tmp_path / 'x.png')
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r'x.png is not a regular file \(a FIFO\): fix it'):
        open_regular(fifo, hint=': fix it')
    with pytest.raises(InputError, match=r'is not a regular file \(a directory\)'):
        open_regular(str(tmp_path))
    with pytest.raises(InputError, match=r'cannot be read \(No such file or directory\)'):
        open_regular(str(tmp_path / 'missing.png'))
