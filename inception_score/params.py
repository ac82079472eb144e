"""The network's parameters as a plain dict {HDF5 path: numpy array}, checked before any use.

The converter and the model-file loader both pass what they read through `check_arrays`, so a
NaN weight, a negative variance or a wrong shape is refused where it enters, with the array's
name, instead of surfacing later as a NaN score (or a silent 1.0000).

Rules (the released graph satisfies them with room to spare):
- every array of `topology.expected_arrays()` is present, with exactly that shape;
- real floating point (float16, float32 or float64); integers, booleans, complex numbers,
  strings or objects are refused rather than guessed at; values are converted to float32 and
  must still be finite there (float64 beyond float32's range is refused, not turned into Inf);
- no NaN and no Inf anywhere;
- moving variances (`avg_var`) are >= 0 (0 is fine: eps keeps var + eps > 0);
- each batch norm's `eps` lies in (0, EPS_MAX]: the released graph uses 0.001; a value of 0
  divides by zero on a dead channel and anything near 1 or above is not a batch-norm epsilon.
Arrays beyond the expected ones (an earlier port's conv biases, a logit bias) are not looked
at and not returned: what to do with them is the caller's decision.
"""
import numpy

from inception_score import topology
from inception_score.errors import ModelFileError

EPS_MAX = 1.0  # the largest variance_epsilon accepted (the released graph: 0.001)


def kind(key):
    """What a parameter is, from its path: 'W', 'gamma', 'beta', 'avg_mean', 'avg_var', 'eps'."""
    return key.rpartition('/')[2]


def dtype_problem(dtype):
    """Why an array of `dtype` cannot hold weights, or None."""
    dtype = numpy.dtype(dtype)
    if dtype.kind != 'f':
        return 'has dtype {}, expected floating point (float32)'.format(dtype)
    return None


def _number(value):
    """float32's shortest positional form, the same under numpy 1 and 2 (-0.001, 1000000000.0)."""
    return numpy.format_float_positional(numpy.float32(value), trim='0')


def value_problem(kind_, value):
    """Why the float32 `value` of a parameter of `kind_` is unusable, or None.

    The text completes a sentence whose subject is the array ("'bn_conv/eps' is 0.0, ...");
    numbers are float32's shortest form (-0.001, not -0.0010000000474974513).
    """
    if kind_ == 'eps' and not 0 < float(value) <= EPS_MAX:  # also refuses NaN and Inf
        return 'is {}, expected a batch-norm epsilon in (0, {}]'.format(
            _number(value), EPS_MAX)
    finite = numpy.isfinite(value)
    if not finite.all():
        nan = int(numpy.isnan(value).sum())
        inf = value.size - int(finite.sum()) - nan
        what = ' and '.join(part for part in (
            '{} NaN'.format(nan) if nan else '', '{} Inf'.format(inf) if inf else '') if part)
        return 'holds {} (of {} values)'.format(what, value.size)
    if kind_ == 'avg_var' and value.size and value.min() < 0:
        index = int(numpy.argmin(value))
        return 'holds a negative variance ({} at index {})'.format(
            _number(value.flat[index]), index)
    return None


def to_float32(value):
    """`value` as a float32 C-contiguous numpy array; None when the conversion overflows."""
    array = numpy.asarray(value)
    with numpy.errstate(over='ignore'):
        converted = numpy.asarray(array, dtype=numpy.float32, order='C')
    if array.dtype != numpy.float32 and (numpy.isinf(converted) & numpy.isfinite(array)).any():
        return None
    return converted


def check_arrays(arrays, source, error=ModelFileError):
    """Check the parameters in `arrays` ({HDF5 path: array-like}) and return them normalised.

    `source` names where they come from (a file path, "the converted graph") and starts every
    message; `error` is the exception class raised (ModelFileError for files, ConversionError
    for the converter). Returns a new dict with exactly the keys of `topology.expected_arrays()`
    in its order, every value a float32 C-contiguous numpy array (each `eps` a 0-d array).
    Shapes and dtypes are checked before any data is read, so a lazily read array (an h5py
    Dataset) of the wrong shape is never loaded.
    """
    expected = topology.expected_arrays()
    missing = [key for key in expected if key not in arrays]
    if missing:
        more = ' and {} more'.format(len(missing) - 1) if len(missing) > 1 else ''
        raise error('{}: parameter {!r}{} is missing: this is not the Inception network'
                    .format(source, missing[0], more))
    checked = {}
    for key, shape in expected.items():
        value = arrays[key]
        # h5py Datasets answer shape and dtype without reading their data.
        actual = tuple(value.shape if hasattr(value, 'shape') else numpy.shape(value))
        if actual != shape:
            raise error('{}: parameter {!r} has shape {}, expected {}'.format(
                source, key, actual, shape))
        problem = dtype_problem(value.dtype if hasattr(value, 'dtype')
                                else numpy.asarray(value).dtype)
        if problem is None:
            converted = to_float32(value)
            if converted is None:
                problem = 'holds values too large for float32'
            else:
                problem = value_problem(kind(key), converted)
        if problem is not None:
            raise error('{}: parameter {!r} {}'.format(source, key, problem))
        checked[key] = converted
    return checked


__all__ = ['EPS_MAX', 'check_arrays', 'dtype_problem', 'kind', 'to_float32', 'value_problem']
