"""resize_bilinear_tf1 against TensorFlow's own legacy ResizeBilinear."""
import numpy
import pytest
import tensorflow as tf

from inception_score.resize import resize_bilinear_tf1

SIZES = [((32, 32), (299, 299)), ((64, 64), (299, 299)), ((28, 28), (299, 299)),
         ((48, 80), (299, 299)), ((300, 301), (299, 299)), ((360, 320), (299, 299)),
         ((1000, 17), (299, 299)), ((7, 5), (13, 3)), ((299, 299), (299, 299)),
         ((100000, 1), (299, 299)), ((1, 40000), (299, 299)), ((2, 1), (299, 299))]


@pytest.mark.parametrize('in_size,out_size', SIZES)
def test_matches_tensorflow_resize_bilinear(in_size, out_size):
    rng = numpy.random.RandomState(sum(in_size))
    nhwc = rng.uniform(0, 255, (2,) + in_size + (3,)).astype(numpy.float32)
    expected = tf.compat.v1.image.resize_bilinear(nhwc, out_size, align_corners=False).numpy()
    ours = resize_bilinear_tf1(nhwc.transpose(0, 3, 1, 2), out_size).transpose(0, 2, 3, 1)
    assert ours.dtype == numpy.float32 and ours.shape == expected.shape
    assert numpy.abs(ours - expected).max() <= 1e-4


def test_is_not_the_align_corners_or_half_pixel_resize():
    # The traps of earlier ports: these resizes give visibly different pixels.
    x = numpy.random.RandomState(0).uniform(0, 255, (1, 32, 32, 3)).astype(numpy.float32)
    ours = resize_bilinear_tf1(x.transpose(0, 3, 1, 2), (299, 299)).transpose(0, 2, 3, 1)
    aligned = tf.compat.v1.image.resize_bilinear(x, (299, 299), align_corners=True).numpy()
    half_pixel = tf.image.resize(x, (299, 299), method='bilinear').numpy()
    assert numpy.abs(ours - aligned).max() > 10
    assert numpy.abs(ours - half_pixel).max() > 10


def test_uint8_input_and_no_modification():
    x = numpy.random.RandomState(1).randint(0, 256, (1, 3, 32, 32)).astype(numpy.uint8)
    before = x.copy()
    out = resize_bilinear_tf1(x, (299, 299))
    assert numpy.array_equal(x, before)
    ref = resize_bilinear_tf1(x.astype(numpy.float32), (299, 299))
    assert numpy.array_equal(out, ref)
    same = resize_bilinear_tf1(ref, (299, 299))
    assert same is not ref and numpy.array_equal(same, ref)


@pytest.mark.parametrize('in_size', [(32, 32), (48, 80), (360, 320)])
def test_nearest_mode_matches_tensorflow_legacy_nearest(in_size):
    from inception_score.resize import resize_images
    x = numpy.random.RandomState(2).uniform(0, 255, (2,) + in_size + (3,)).astype(numpy.float32)
    expected = tf.compat.v1.image.resize_nearest_neighbor(x, (299, 299)).numpy()
    ours = resize_images(x.transpose(0, 3, 1, 2), 'nearest').transpose(0, 2, 3, 1)
    assert numpy.array_equal(ours, expected)


def test_pil_mode_is_pil_bilinear_on_uint8():
    from PIL import Image
    from inception_score.resize import resize_images
    x = numpy.random.RandomState(3).randint(0, 256, (2, 3, 32, 40)).astype(numpy.uint8)
    ours = resize_images(x, 'pil')
    for i in range(2):
        ref = Image.fromarray(x[i].transpose(1, 2, 0)).resize((299, 299), Image.BILINEAR)
        assert numpy.array_equal(ours[i], numpy.asarray(ref).transpose(2, 0, 1))
    with pytest.raises(ValueError, match='resize mode must be one of'):
        resize_images(x, 'bicubic')


@pytest.mark.parametrize('shape', [(1, 3, 20000, 2), (2, 3, 3, 30000), (1, 3, 3000, 3000)])
def test_memory_is_o_output_whatever_the_input_size(shape):
    # A tall, a wide and a large image: the resize must not build in_h x 299 (or in_w x 299)
    # intermediates (a 1 x 400000 PNG used to take 4.5 GB).
    import tracemalloc
    x = numpy.random.RandomState(0).randint(0, 256, shape).astype(numpy.uint8)
    output = shape[0] * 3 * 299 * 299 * 4
    tracemalloc.start()
    try:
        out = resize_bilinear_tf1(x, (299, 299))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == shape[:2] + (299, 299)
    assert peak < 2.5 * output, (peak, output)  # the old resize: 10x to 70x here
