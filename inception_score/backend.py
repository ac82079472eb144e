"""numpy or cupy, decided by the array at hand; cupy is imported only when an array is cupy's."""
import numpy


def is_cupy(x):
    return type(x).__module__.split('.')[0] == 'cupy'


def get_array_module(x):
    """cupy for cupy arrays, numpy for everything else (no Chainer needed)."""
    if is_cupy(x):
        import cupy
        return cupy
    return numpy


def to_numpy(x):
    """A numpy array of `x` (copied from the GPU when it is a cupy array)."""
    return x.get() if is_cupy(x) else numpy.asarray(x)
