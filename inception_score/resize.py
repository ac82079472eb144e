"""TensorFlow 1 ResizeBilinear (align_corners=False, half_pixel_centers=False), numpy or cupy.

This is the graph's own resize node, so it decides which pixels the network sees: Chainer's
F.resize_images aligns corners and PIL/PyTorch use half-pixel centres, and each moves the score.
"""
import chainer
import numpy


def _axis_weights(xp, in_size, out_size):
    # TF1 legacy scaler: src = dst * (in / out), no half-pixel offset; all float32 as in the kernel.
    scale = numpy.float32(in_size) / numpy.float32(out_size)
    src = numpy.arange(out_size, dtype=numpy.float32) * scale
    floor = numpy.floor(src)
    lower = numpy.maximum(floor.astype(numpy.int64), 0)
    upper = numpy.minimum(numpy.ceil(src).astype(numpy.int64), in_size - 1)
    lerp = (src - floor).astype(numpy.float32)
    return xp.asarray(lower), xp.asarray(upper), xp.asarray(lerp)


def resize_bilinear_tf1(x, size):
    """Resize float32 NCHW images `x` to `size` (h, w) exactly as TF1's ResizeBilinear.

    Returns a new float32 array; `x` is not modified. Same size returns a float32 copy.
    """
    xp = chainer.backend.get_array_module(x)
    out_h, out_w = size
    in_h, in_w = x.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return x.astype(numpy.float32, copy=True)
    x = x.astype(numpy.float32, copy=False)  # only read from here on
    y0, y1, ylerp = _axis_weights(xp, in_h, out_h)
    x0, x1, xlerp = _axis_weights(xp, in_w, out_w)
    # Interpolate along x once per input row, then along y: the same operations in the same
    # order as TF's compute_lerp (top = TL + (TR - TL) * xl; out = top + (bottom - top) * yl),
    # so float32 results stay bit-identical, for a fraction of the gathers.
    left = x[..., x0]
    rows = left + (x[..., x1] - left) * xlerp
    out = rows[..., y1, :]
    out -= rows[..., y0, :]
    out *= ylerp[:, None]
    out += rows[..., y0, :]  # IEEE addition commutes: still top + (bottom - top) * yl
    return out
