"""params.check_arrays: the one gate every set of network parameters passes (converter, loader)."""
import h5py
import numpy
import pytest

from inception_score import params, topology
from inception_score.errors import ConversionError, ModelFileError

EXPECTED = topology.expected_arrays()


@pytest.fixture(scope='module')
def good():
    """Valid parameters of the right shapes (random values, non-negative variances)."""
    rng = numpy.random.RandomState(0)
    arrays = {}
    for key, shape in EXPECTED.items():
        kind = params.kind(key)
        if kind == 'eps':
            arrays[key] = numpy.asarray(0.001, numpy.float32)
        else:
            value = rng.standard_normal(shape).astype(numpy.float32)
            arrays[key] = numpy.abs(value) if kind == 'avg_var' else value
    return arrays


def with_(good, key, value):
    arrays = dict(good)
    arrays[key] = value
    return arrays


def refused(arrays, error=ModelFileError):
    with pytest.raises(error) as info:
        params.check_arrays(arrays, source='m.model', error=error)
    message = str(info.value)
    assert '\n' not in message and message.startswith('m.model: ')
    return message


def test_good_arrays_come_back_in_table_order_as_float32_c_contiguous(good):
    checked = params.check_arrays(good, source='m.model')
    assert list(checked) == list(EXPECTED)
    for key, value in checked.items():
        assert type(value) is numpy.ndarray, key
        assert value.dtype == numpy.float32 and value.flags.c_contiguous, key
        assert value.shape == EXPECTED[key], key
        assert numpy.array_equal(value, good[key]), key
    assert checked['bn_conv/eps'].shape == () and checked['bn_conv/eps'] == numpy.float32(0.001)


def test_float64_float16_and_strided_arrays_are_converted(good):
    w = good['conv/W']
    arrays = dict(good)
    arrays['conv/W'] = w.astype(numpy.float64)
    arrays['bn_conv/beta'] = good['bn_conv/beta'].astype(numpy.float16)
    arrays[topology.LOGIT_W] = numpy.asfortranarray(good[topology.LOGIT_W])
    arrays['bn_conv_1/eps'] = 0.01  # a Python float
    checked = params.check_arrays(arrays, source='m.model')
    assert checked['conv/W'].dtype == numpy.float32 and numpy.array_equal(checked['conv/W'], w)
    assert numpy.array_equal(checked['bn_conv/beta'],
                             good['bn_conv/beta'].astype(numpy.float16).astype(numpy.float32))
    assert checked[topology.LOGIT_W].flags.c_contiguous
    assert numpy.array_equal(checked[topology.LOGIT_W], good[topology.LOGIT_W])
    assert checked['bn_conv_1/eps'].shape == () and checked['bn_conv_1/eps'] == numpy.float32(0.01)


def test_extra_arrays_are_neither_checked_nor_returned(good):
    arrays = with_(good, 'conv/b', numpy.full(32, numpy.nan))
    assert list(params.check_arrays(arrays, source='m.model')) == list(EXPECTED)


def test_a_missing_array_is_named(good):
    arrays = dict(good)
    del arrays['mixed_3/tower/bn_conv_2/avg_mean']
    del arrays[topology.LOGIT_W]
    assert refused(arrays) == ("m.model: parameter 'mixed_3/tower/bn_conv_2/avg_mean' and 1 "
                               "more is missing: this is not the Inception network")


def test_the_error_class_is_the_callers(good):
    arrays = with_(good, 'conv/W', numpy.zeros((32, 3, 3, 2), numpy.float32))
    message = refused(arrays, error=ConversionError)
    assert message == ("m.model: parameter 'conv/W' has shape (32, 3, 3, 2), "
                       "expected (32, 3, 3, 3)")


@pytest.mark.parametrize('key, shape', [('bn_conv/eps', (5,)), ('bn_conv/eps', (1,)),
                                        ('mixed/conv/bn_conv/gamma', (64, 1)),
                                        (topology.LOGIT_W, (2048, 1008))])
def test_a_wrong_shape_is_named(good, key, shape):
    message = refused(with_(good, key, numpy.ones(shape, numpy.float32)))
    assert message == 'm.model: parameter {!r} has shape {}, expected {}'.format(
        key, shape, EXPECTED[key])


@pytest.mark.parametrize('dtype', ['int32', 'int64', 'uint8', 'bool', 'complex64', 'U1',
                                   'object'])
def test_non_float_dtypes_are_refused(good, dtype):
    value = numpy.ones(EXPECTED['mixed_9/tower/mixed/conv/conv/W'], dtype)
    message = refused(with_(good, 'mixed_9/tower/mixed/conv/conv/W', value))
    assert message == ("m.model: parameter 'mixed_9/tower/mixed/conv/conv/W' has dtype {}, "
                       "expected floating point (float32)".format(numpy.dtype(dtype)))


def test_an_integer_eps_is_refused(good):
    message = refused(with_(good, 'bn_conv/eps', numpy.asarray(1, numpy.int64)))
    assert 'bn_conv/eps' in message and 'has dtype int64' in message


@pytest.mark.parametrize('bad, what', [(numpy.nan, '1 NaN'), (numpy.inf, '1 Inf'),
                                       (-numpy.inf, '1 Inf')])
def test_nan_and_inf_are_refused_with_a_count(good, bad, what):
    key = 'mixed_6/tower_1/conv_3/W'
    value = good[key].copy()
    value[3, 2, 1, 0] = bad
    message = refused(with_(good, key, value))
    assert message == 'm.model: parameter {!r} holds {} (of {} values)'.format(
        key, what, value.size)


def test_nan_and_inf_together_are_both_counted(good):
    value = good['bn_conv_4/beta'].copy()
    value[:3] = numpy.nan
    value[5] = numpy.inf
    assert refused(with_(good, 'bn_conv_4/beta', value)).endswith(
        "'bn_conv_4/beta' holds 3 NaN and 1 Inf (of 192 values)")


def test_float64_beyond_float32_range_is_refused_not_turned_into_inf(good):
    value = good[topology.LOGIT_W].astype(numpy.float64)
    value[7, 9] = 1e300
    assert refused(with_(good, topology.LOGIT_W, value)) == (
        "m.model: parameter 'logit/W' holds values too large for float32")


def test_a_negative_variance_is_refused(good):
    key = 'mixed_10/tower_2/bn_conv/avg_var'
    value = good[key].copy()
    value[17] = -0.1
    assert refused(with_(good, key, value)) == (
        "m.model: parameter {!r} holds a negative variance (-0.1 at index 17)".format(key))


def test_zero_variance_and_negative_means_or_betas_are_fine(good):
    arrays = dict(good)
    arrays['bn_conv/avg_var'] = numpy.zeros(32, numpy.float32)
    arrays['bn_conv/avg_mean'] = -numpy.ones(32, numpy.float32)
    arrays['bn_conv/beta'] = -numpy.ones(32, numpy.float32)
    params.check_arrays(arrays, source='m.model')


@pytest.mark.parametrize('eps, shown', [(0.0, '0.0'), (-0.0, '-0.0'), (-0.001, '-0.001'),
                                        (numpy.inf, 'inf'), (-numpy.inf, '-inf'),
                                        (numpy.nan, 'nan'), (1e9, '1000000000.0'),
                                        (1.0000001, '1.0000001')])
def test_eps_outside_0_to_1_is_refused(good, eps, shown):
    key = 'mixed_8/tower_1/bn_conv_3/eps'
    message = refused(with_(good, key, numpy.asarray(eps, numpy.float32)))
    assert message == ('m.model: parameter {!r} is {}, expected a batch-norm epsilon in '
                       '(0, 1.0]'.format(key, shown))


@pytest.mark.parametrize('eps', [1e-12, 0.001, 1.0])
def test_eps_inside_0_to_1_is_accepted(good, eps):
    checked = params.check_arrays(with_(good, 'bn_conv/eps', numpy.float64(eps)),
                                  source='m.model')
    assert checked['bn_conv/eps'] == numpy.float32(eps)


def test_h5py_datasets_are_read_and_a_wrong_shape_is_refused_before_reading(good, tmp_path):
    path = tmp_path / 'm.h5'
    with h5py.File(str(path), 'w') as f:
        for key, value in good.items():
            f[key] = value
        # 4.8 TB if it were read: the shape alone must refuse it.
        f.create_dataset('huge/W', shape=(100000, 100000, 3, 40), dtype='f4', chunks=True)
    with h5py.File(str(path), 'r') as f:
        datasets = {key: f[key] for key in good}
        checked = params.check_arrays(datasets, source=str(path))
        for key in good:
            assert numpy.array_equal(checked[key], good[key]), key
        datasets['conv/W'] = f['huge/W']
        with pytest.raises(ModelFileError, match=r"'conv/W' has shape \(100000, 100000, 3, 40\)"):
            params.check_arrays(datasets, source=str(path))
