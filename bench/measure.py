"""What bench.py and gpu_check.py both measure with: the network's GFLOP, the same-run SGEMM
roof, clocks that wait for the GPU, and differences relative to an array's scale."""
import time

import numpy

from inception_score import topology


def network_gflop():
    """GFLOP (2 x multiply-adds) of one forward pass at 299x299, head included."""
    macs = []

    def conv(unit, hw):
        (kh, kw), (h, w) = unit.ksize, hw
        if unit.padding == 'VALID':
            h, w = (h - kh) // unit.stride + 1, (w - kw) // unit.stride + 1
        macs.append(h * w * kh * kw * unit.cin * unit.cout)
        return h, w

    def pool(layer, hw):
        if layer.padding == 'SAME':
            return hw
        return tuple((v - layer.ksize) // layer.stride + 1 for v in hw)

    size = topology.INPUT_SIZE
    topology.walk((size, size), conv, pool, lambda block, hws: hws[0])
    return 2 * (sum(macs) + topology.NUM_FEATURES * topology.NUM_CLASSES) / 1e9


def synchronizer(xp):
    """A callable that waits for `xp`'s queued GPU work (nothing to wait for with numpy)."""
    if xp is numpy:
        return lambda: None
    return xp.cuda.get_current_stream().synchronize


def timed(fn, sync=lambda: None):
    """Seconds `fn()` takes, its queued device work included (`sync` waits for it)."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def best_time(fn, sync=lambda: None, repeats=3):
    """The fastest of `repeats` timed calls (warm up before: nothing is discarded here)."""
    return min(timed(fn, sync) for _ in range(repeats))


def sgemm_gflops(xp=numpy, n=2048, repeats=5):
    """float32 C = A @ B GFLOP/s of `xp` (numpy: BLAS; cupy: cuBLAS in the math mode set)."""
    rng = numpy.random.RandomState(0)
    a = xp.asarray(rng.standard_normal((n, n)).astype(numpy.float32))
    b = xp.asarray(rng.standard_normal((n, n)).astype(numpy.float32))
    out = xp.empty((n, n), numpy.float32)
    xp.matmul(a, b, out=out)  # warm-up
    seconds = best_time(lambda: xp.matmul(a, b, out=out), synchronizer(xp), repeats)
    return 2 * n ** 3 / seconds / 1e9


def scale_relative_diff(value, reference):
    """max |value - reference| / max |reference|: the difference relative to the reference's
    scale (elementwise ratios explode on features that are 0 after a ReLU)."""
    value = numpy.asarray(value, numpy.float64)
    reference = numpy.asarray(reference, numpy.float64)
    return float(numpy.abs(value - reference).max() / numpy.abs(reference).max())


def relative_diff(value, reference):
    return abs(value - reference) / abs(reference)
