"""A model's arrays checked before use: finite, the right shapes, sane batch norms."""
import numpy

from inception_score import topology


def check_arrays(arrays, source, error):
    """`arrays` as float32 C-contiguous copies, or `error` naming `source` and the array."""
    checked = {}
    for key, shape in topology.expected_arrays().items():
        if key not in arrays:
            raise error('{}: {!r} is missing'.format(source, key))
        value = numpy.array(arrays[key], dtype=numpy.float32, order="C")  # keeps scalars 0-d
        if value.shape != shape:
            raise error('{}: {!r} has shape {}, expected {}'.format(source, key, value.shape,
                                                                    shape))
        if not numpy.isfinite(value).all():
            raise error('{}: {!r} holds NaN or Inf'.format(source, key))
        if key.endswith('/avg_var') and (value < 0).any():
            raise error('{}: {!r} holds negative variances'.format(source, key))
        if key.endswith('/eps') and not 0 < value <= 1:
            raise error('{}: {!r} is {}, expected 0 < eps <= 1'.format(source, key, value))
        checked[key] = value
    return checked
