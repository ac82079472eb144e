"""The CPU forward pass as matrix multiplies, channels-last (NHWC), batch norm folded.

Same topology walk as the Chainer path (topology.walk), different kernels: each conv unit is
one SGEMM over a strided patch view (1x1 convs need no patches at all), with the batch norm
folded into the weights and a bias, so the time goes where BLAS is fast. Pools follow TF:
SAME max pools pad with -inf, SAME average pools divide by the in-bounds count.
"""
import concurrent.futures
import os

import numpy
import threadpoolctl
from numpy.lib.stride_tricks import as_strided

from inception_score import topology

_PATCH_BYTES = 2 << 20  # one im2col block: about the L2 cache
# Images per unit of work: small enough that activations stay in cache-friendly sizes and
# memory stays flat in the batch size, large enough for efficient matrix multiplies.
CHUNK_IMAGES = 2  # measured with bench/bench_speed.py: 1-2 best, 25 loses a quarter


def fold(conv, bn):
    """(W2d, bias) with the inference batch norm folded in: relu(patches @ W2d + bias).

    W2d rows are ordered (kh, kw, cin) to match the patch view.
    """
    w = numpy.asarray(conv.W.array, numpy.float32)  # (cout, cin, kh, kw)
    scale = bn.gamma.array / numpy.sqrt(bn.avg_var + numpy.float32(bn.eps))
    w2d = (w * scale[:, None, None, None]).transpose(2, 3, 1, 0).reshape(-1, w.shape[0])
    bias = bn.beta.array - bn.avg_mean * scale
    return numpy.ascontiguousarray(w2d, numpy.float32), bias.astype(numpy.float32)


def _pad(x, ph, pw, value):
    if ph == 0 and pw == 0:
        return x
    n, h, w, c = x.shape
    out = numpy.empty((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    out[:, :ph] = value
    out[:, h + ph:] = value
    out[:, :, :pw] = value
    out[:, :, w + pw:] = value
    out[:, ph:h + ph, pw:w + pw] = x
    return out


def conv_bn_relu(x, unit, w2d, bias):
    kh, kw = unit.ksize
    ph, pw = topology.padding_amount(unit)
    x = _pad(x, ph, pw, 0)
    n, h, w, c = x.shape
    s = unit.stride
    ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
    out = numpy.empty((n, ho, wo, w2d.shape[1]), numpy.float32)
    if (kh, kw, s) == (1, 1, 1):
        numpy.matmul(x.reshape(-1, c), w2d, out=out.reshape(-1, w2d.shape[1]))
    else:
        sn, sh, sw, sc = x.strides
        patches = as_strided(x, (n, ho, wo, kh, kw, c), (sn, sh * s, sw * s, sh, sw, sc),
                             writeable=False)
        # im2col in blocks of output rows small enough to stay in cache for the GEMM.
        rows = max(1, _PATCH_BYTES // (wo * kh * kw * c * 4))
        for i in range(n):
            for r in range(0, ho, rows):
                block = patches[i, r:r + rows].reshape(-1, kh * kw * c)
                numpy.matmul(block, w2d, out=out[i, r:r + rows].reshape(-1, w2d.shape[1]))
    out += bias
    return numpy.maximum(out, 0, out=out)


def _windows(x, k, s, ho, wo):
    """The k*k shifted strided views whose elementwise reduction is the pool."""
    for i in range(k):
        for j in range(k):
            yield x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]


def pool(x, layer):
    k, s = layer.ksize, layer.stride
    p, _ = topology.padding_amount(layer)
    n, h, w, c = x.shape
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if layer.kind == 'max':
        views = _windows(_pad(x, p, p, -numpy.inf), k, s, ho, wo)
        out = numpy.array(next(views))
        for v in views:
            numpy.maximum(out, v, out=out)
        return out
    if (ho, wo) == (1, 1) and p == 0 and (h, w) == (k, k):  # pool_3: a global mean
        return (x.sum(axis=(1, 2), dtype=numpy.float32) / numpy.float32(k * k))[:, None, None]
    views = _windows(_pad(x, p, p, 0), k, s, ho, wo)
    out = numpy.array(next(views))
    for v in views:
        out += v
    out /= _in_bounds_count(h, w, k, s, p, ho, wo)
    return out


def _in_bounds_count(h, w, k, s, p, ho, wo):
    rows = numpy.minimum(numpy.arange(ho) * s - p + k, h) - numpy.maximum(numpy.arange(ho) * s - p, 0)
    cols = numpy.minimum(numpy.arange(wo) * s - p + k, w) - numpy.maximum(numpy.arange(wo) * s - p, 0)
    return (rows[:, None] * cols[None, :]).astype(numpy.float32)[:, :, None]


def features(model, x, preprocess, workers=None):
    """pool_3 features (N, 2048) of NCHW numpy images `x`, `preprocess`ed per chunk.

    The batch is split across `workers` threads (default: the usable cores), each with a
    single-threaded BLAS: numpy releases the GIL in matmul and in large elementwise ops, so the
    patch copies, pools and resizes run in parallel too, not only the matrix multiplies.
    """
    weights = {unit.name: fold(*model.unit(unit.name)) for unit in topology.convs()}

    def run(chunk):
        h = numpy.ascontiguousarray(preprocess(chunk).transpose(0, 2, 3, 1))
        h = topology.walk(h, lambda unit, h: conv_bn_relu(h, unit, *weights[unit.name]),
                          lambda layer, h: pool(h, layer),
                          lambda block, hs: numpy.concatenate(hs, axis=3))
        return h.reshape(len(h), topology.NUM_FEATURES)

    workers = min(len(x), workers or _usable_cores())
    starts = range(0, len(x), CHUNK_IMAGES)
    if workers <= 1:
        return numpy.concatenate([run(x[i:i + CHUNK_IMAGES]) for i in starts])
    with threadpoolctl.threadpool_limits(1, user_api='blas'), \
            concurrent.futures.ThreadPoolExecutor(workers) as pool_:
        parts = list(pool_.map(lambda i: run(x[i:i + CHUNK_IMAGES]), starts))
    return numpy.concatenate(parts)


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
