"""The network's operations as matrix multiplies, channels-last (NHWC), batch norm folded.

Written once against an array module (numpy or cupy): each conv unit is one SGEMM over a
strided patch view (1x1 convs need no patches at all), with the batch norm folded into the
weights and a bias, so the time goes where BLAS/cuBLAS is fast. The patch view is copied in
blocks of at most `workspace` bytes: cache-sized on the CPU, large on the GPU (few, big GEMMs,
and memory that does not grow with the batch). Pools follow TF: SAME max pools pad with -inf,
SAME average pools divide by the in-bounds count.
"""
import numpy

from inception_score import topology
from inception_score.backend import get_array_module


def fold(W, gamma, beta, avg_mean, avg_var, eps):
    """(w2d, bias) with the inference batch norm folded in: relu(patches @ w2d + bias).

    W is (cout, cin, kh, kw) as stored; w2d rows are ordered (kh, kw, cin) to match the
    patch view. Float32 throughout, on the arrays' own device.
    """
    xp = get_array_module(W)
    scale = gamma / xp.sqrt(avg_var + xp.float32(eps))
    w2d = (W * scale[:, None, None, None]).transpose(2, 3, 1, 0).reshape(-1, W.shape[0])
    bias = beta - avg_mean * scale
    return xp.ascontiguousarray(w2d, dtype=numpy.float32), bias.astype(numpy.float32)


def _as_strided(xp, x, shape, strides):
    if xp is numpy:
        return numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def _pad(x, ph, pw, value):
    if ph == 0 and pw == 0:
        return x
    xp = get_array_module(x)
    n, h, w, c = x.shape
    out = xp.empty((n, h + 2 * ph, w + 2 * pw, c), x.dtype)
    out[:, :ph] = value
    out[:, h + ph:] = value
    out[:, :, :pw] = value
    out[:, :, w + pw:] = value
    out[:, ph:h + ph, pw:w + pw] = x
    return out


def conv_bn_relu(x, unit, w2d, bias, workspace):
    """One conv unit (Conv2D, batch norm, ReLU) on NHWC `x`, as GEMMs of <= `workspace` bytes."""
    xp = get_array_module(x)
    kh, kw = unit.ksize
    ph, pw = topology.padding_amount(unit)
    x = _pad(x, ph, pw, 0)
    n, h, w, c = x.shape
    s = unit.stride
    ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
    cout = w2d.shape[1]
    out = xp.empty((n, ho, wo, cout), numpy.float32)
    if (kh, kw, s) == (1, 1, 1):
        xp.matmul(x.reshape(-1, c), w2d, out=out.reshape(-1, cout))
    else:
        sn, sh, sw, sc = x.strides
        patches = _as_strided(xp, x, (n, ho, wo, kh, kw, c), (sn, sh * s, sw * s, sh, sw, sc))
        k = kh * kw * c
        rows = max(1, workspace // (wo * k * 4))  # output rows whose patches fit the workspace
        if rows >= ho:  # whole images per GEMM
            step = max(1, rows // ho)
            for i in range(0, n, step):
                xp.matmul(patches[i:i + step].reshape(-1, k), w2d,
                          out=out[i:i + step].reshape(-1, cout))
        else:
            for i in range(n):
                for r in range(0, ho, rows):
                    xp.matmul(patches[i, r:r + rows].reshape(-1, k), w2d,
                              out=out[i, r:r + rows].reshape(-1, cout))
    out += bias
    return xp.maximum(out, 0, out=out)


def _windows(x, k, s, ho, wo):
    """The k*k shifted strided views whose elementwise reduction is the pool."""
    for i in range(k):
        for j in range(k):
            yield x[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]


def pool(x, layer):
    xp = get_array_module(x)
    k, s = layer.ksize, layer.stride
    p, _ = topology.padding_amount(layer)
    n, h, w, c = x.shape
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if layer.kind == 'max':
        views = _windows(_pad(x, p, p, -numpy.inf), k, s, ho, wo)
        out = xp.array(next(views))
        for v in views:
            xp.maximum(out, v, out=out)
        return out
    if (ho, wo) == (1, 1) and p == 0 and (h, w) == (k, k):  # pool_3: a global mean
        return (x.sum(axis=(1, 2), dtype=numpy.float32) / numpy.float32(k * k))[:, None, None]
    views = _windows(_pad(x, p, p, 0), k, s, ho, wo)
    out = xp.array(next(views))
    for v in views:
        out += v
    out /= xp.asarray(_in_bounds_count(h, w, k, s, p, ho, wo))
    return out


def _in_bounds_count(h, w, k, s, p, ho, wo):
    rows = numpy.minimum(numpy.arange(ho) * s - p + k, h) - numpy.maximum(numpy.arange(ho) * s - p, 0)
    cols = numpy.minimum(numpy.arange(wo) * s - p + k, w) - numpy.maximum(numpy.arange(wo) * s - p, 0)
    return (rows[:, None] * cols[None, :]).astype(numpy.float32)[:, :, None]


def concat(xs):
    return get_array_module(xs[0]).concatenate(xs, axis=3)
