"""TensorFlow 1 ResizeBilinear (align_corners=False, half_pixel_centers=False), numpy or cupy.

This is the graph's own resize node, so it decides which pixels the network sees: Chainer's
F.resize_images aligns corners and PIL/PyTorch use half-pixel centres, and each moves the score.
Memory is O(output) whatever the input size: only the input pixels that the output reads are
gathered, so a 1 x 400000 image costs what a 299 x 299 one does.
"""
import numpy

from inception_score.backend import get_array_module, to_numpy

# Output rows per step of the bilinear resize: the temporaries of one step (at most 2 input rows
# per output row, gathered at the output width) stay a fraction of the output.
_BLOCK_ROWS = 32


def _axis_weights(in_size, out_size):
    # TF1 legacy scaler: src = dst * (in / out), no half-pixel offset; float32 as in the kernel.
    scale = numpy.float32(in_size) / numpy.float32(out_size)
    src = numpy.arange(out_size, dtype=numpy.float32) * scale
    floor = numpy.floor(src)
    lower = numpy.maximum(floor.astype(numpy.int64), 0)
    upper = numpy.minimum(numpy.ceil(src).astype(numpy.int64), in_size - 1)
    lerp = (src - floor).astype(numpy.float32)
    return lower, upper, lerp


def resize_bilinear_tf1(x, size):
    """Resize NCHW images `x` (any real dtype) to `size` (h, w) exactly as TF1's ResizeBilinear.

    Returns a new float32 array; `x` is not modified. Same size returns a float32 copy.
    """
    xp = get_array_module(x)
    out_h, out_w = size
    in_h, in_w = x.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return x.astype(numpy.float32, copy=True)
    y0, y1, ylerp = _axis_weights(in_h, out_h)
    x0, x1, xlerp = _axis_weights(in_w, out_w)
    x0, x1, xlerp = xp.asarray(x0)[None, :], xp.asarray(x1)[None, :], xp.asarray(xlerp)
    out = xp.empty(x.shape[:-2] + (out_h, out_w), numpy.float32)
    for r in range(0, out_h, _BLOCK_ROWS):
        top, bottom = y0[r:r + _BLOCK_ROWS], y1[r:r + _BLOCK_ROWS]
        needed = numpy.union1d(top, bottom)  # sorted input rows this block reads
        ys = xp.asarray(needed)[:, None]
        # Interpolate along x once per needed input row, then along y: the same operations in
        # the same order as TF's compute_lerp (top = TL + (TR - TL) * xl; out = top + (bottom -
        # top) * yl), so float32 results stay bit-identical, for a fraction of the gathers.
        left = x[..., ys, x0].astype(numpy.float32, copy=False)
        rows = x[..., ys, x1].astype(numpy.float32, copy=False)
        rows -= left
        rows *= xlerp
        rows += left  # IEEE addition commutes: left + (right - left) * xl
        upper = rows[..., xp.asarray(numpy.searchsorted(needed, top)), :]
        block = rows[..., xp.asarray(numpy.searchsorted(needed, bottom)), :]
        block -= upper
        block *= xp.asarray(ylerp[r:r + _BLOCK_ROWS])[:, None]
        block += upper  # still top + (bottom - top) * yl
        out[..., r:r + _BLOCK_ROWS, :] = block
    return out


def _resize_nearest_tf1(x, size):
    # TF1 legacy ResizeNearestNeighbor: src = floor(dst * in / out), float32 scale. The gather
    # reads only the output's pixels, so memory is O(output) here too.
    xp = get_array_module(x)
    idx = []
    for in_size, out_size in zip(x.shape[-2:], size):
        scale = numpy.float32(in_size) / numpy.float32(out_size)
        src = numpy.floor(numpy.arange(out_size, dtype=numpy.float32) * scale).astype(numpy.int64)
        idx.append(xp.asarray(numpy.minimum(src, in_size - 1)))
    return x[..., idx[0][:, None], idx[1][None, :]].astype(numpy.float32)


def _resize_pil(x, size):
    # PIL bilinear on uint8 images, as scipy.misc.imresize did (without its per-image
    # contrast stretch of float input: values are rounded to uint8 as they are).
    from PIL import Image
    xp = get_array_module(x)
    out = numpy.empty(x.shape[:2] + tuple(size), numpy.float32)
    for i in range(len(x)):  # one image at a time: no uint8 copy of the whole batch
        a = to_numpy(x[i])
        if a.dtype != numpy.uint8:
            a = numpy.clip(numpy.round(a), 0, 255).astype(numpy.uint8)
        resized = Image.fromarray(numpy.ascontiguousarray(a.transpose(1, 2, 0))).resize(
            (size[1], size[0]), Image.BILINEAR)
        out[i] = numpy.asarray(resized).transpose(2, 0, 1)
    return xp.asarray(out)


def _resize_clean(x, size):
    # clean-fid 0.1.35, mode "clean": build_resizer -> make_resizer("PIL", False, "bicubic",
    # (299, 299)), fed what its loaders give it (an RGB image as uint8 from files, float in
    # [0, 255] from generators): every step after that, in its order:
    # 1. each channel alone as a float32 PIL image (mode 'F': x.astype(float32), no rounding,
    #    no uint8 round trip);
    # 2. PIL's bicubic resize of that float image (PIL's own kernel, antialiased when
    #    downscaling; identity at the same size);
    # 3. clip to [0, 255] (bicubic overshoots), kept float32: no quantization after the resize
    #    (quantize_after=False);
    # 4. ToTensor leaves float32 as it is (no /255), and InceptionV3W feeds the graph from its
    #    Sub node on: (x - 128) / 128, which is the network's own (x - 128) * (1/128) exactly
    #    (a power of two), while its resize node is an identity at 299x299.
    from PIL import Image
    xp = get_array_module(x)
    out = numpy.empty(x.shape[:2] + tuple(size), numpy.float32)
    for i in range(len(x)):  # one image at a time: memory stays O(output)
        a = to_numpy(x[i])
        for c in range(a.shape[0]):
            channel = Image.fromarray(numpy.ascontiguousarray(a[c], dtype=numpy.float32))
            out[i, c] = numpy.asarray(channel.resize((size[1], size[0]), Image.BICUBIC))
    numpy.clip(out, 0, 255, out=out)
    return xp.asarray(out)


RESIZE_MODES = {
    'tf1': resize_bilinear_tf1,  # the graph's own: reproduces the reference
    'pil': _resize_pil,          # earlier Chainer port, scipy.misc.imresize era (11.95)
    'nearest': _resize_nearest_tf1,  # Keras-tutorial style ports
    'clean': _resize_clean,      # clean-fid's "clean" mode: PIL bicubic on float channels
}


def resize_images(x, mode='tf1', size=(299, 299)):
    """NCHW images resized to `size` by one of RESIZE_MODES; always a new float32 array."""
    if mode not in RESIZE_MODES:
        raise ValueError('resize mode must be one of {}, got {!r}'.format(
            ', '.join(RESIZE_MODES), mode))
    return RESIZE_MODES[mode](x, size)
