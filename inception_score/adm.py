"""The numbers of OpenAI guided-diffusion's evaluator ("ADM", evaluations/evaluator.py) that are
neither FID nor the Inception Score: the sFID features and precision/recall.

sFID: the first 7 channels of `mixed_6/conv` (NHWC, 17x17), flattened: 17*17*7 = 2023 features,
then TTUR's FID (fid.py).

Precision/recall (Kynkaanniemi et al. 2019, as ADM's ManifoldEstimator runs it with k = 3):
the radius of a point is its distance to the 4th smallest entry of its distance row (the point
itself being the first); precision is the share of samples inside some reference ball,
recall the share of references inside some sample ball. Distances are ADM's
max(|u|^2 - 2 u.v + |v|^2, 0), computed in float16 first and in float32 only when the float16
block has a non-finite entry, in blocks of 10,000 rows x 10,000 columns (the fallback is decided
per block, so the blocking is part of the result).

The float16 step is reproduced op by op as TensorFlow computes it on the CPU:
- casts to float16 round to nearest even, and so do float16 products and sums;
- reduce_sum over a row is Eigen's InnerMostDimReducer for half: 8-lane packets (AVX), four
  packet accumulators, a scalar tail, lanes summed in float32 and rounded once, and for rows
  longer than 8 x 200 a split into two halves at a packet boundary counted from the row's start
  in the fed block (the tree reduction);
- matmul accumulates float16 products in float32 and rounds once; Eigen's blocked summation
  order depends on the shapes, ours is one float32 GEMM, so about 2 in 10,000 products land one
  float16 step away from TensorFlow's (distances then differ by 2 steps, 0.25 at 200): results
  are equal except at near-ties;
- the elementwise steps (-, +, max with 0) round to float16 each.
The float32 fallback uses the same reduction in float32 (leaf 1024) and a float32 GEMM.
ADM run on a GPU accumulates norms differently (not reproduced).

Arrays may be numpy or cupy; the work follows the array module of the features.
"""
import numpy

from inception_score.backend import get_array_module, to_numpy
from inception_score.errors import InputError

NHOOD_SIZE = 3
ROW_BATCH_SIZE = 10000
COL_BATCH_SIZE = 10000
SPATIAL_NODE = 'mixed_6/conv'
SPATIAL_CHANNELS = 7
SPATIAL_FEATURES = 17 * 17 * SPATIAL_CHANNELS  # 2023

_PACKET = 8  # lanes of Eigen's float16 and float32 packets in TensorFlow's x86 build (AVX)
_LEAF = {numpy.dtype(numpy.float16): 200, numpy.dtype(numpy.float32): 1024}
_ROW_CHUNK = 2048  # rows per step inside a block: bounds the temporaries, not the result


def spatial_features(mixed_6_conv_nhwc):
    """ADM's sFID features: `mixed_6/conv` (N, 17, 17, 192) NHWC -> its first 7 channels,
    flattened in NHWC order: (N, 2023)."""
    x = mixed_6_conv_nhwc
    if x.ndim != 4 or x.shape[-1] < SPATIAL_CHANNELS:
        raise InputError('mixed_6/conv features must be NHWC (N, 17, 17, 192), got shape '
                         '{}'.format(x.shape))
    xp = get_array_module(x)
    return xp.ascontiguousarray(x[..., :SPATIAL_CHANNELS]).reshape(len(x), -1)


def _ceil_div(a, b):
    return -(-a // b)


def _predux(lanes):
    """Eigen's predux of an 8-lane packet: lanes in float32, (l0+l4)+(l2+l6) + (l1+l5)+(l3+l7),
    rounded once to the packet's type."""
    f = lanes.astype(numpy.float32)
    s = f[:, :4] + f[:, 4:]
    return ((s[:, 0] + s[:, 2]) + (s[:, 1] + s[:, 3])).astype(lanes.dtype)


def _leaf_sum(xp, block):
    """Eigen's vectorized InnerMostDimReducer (no tree) on rows of `block`, in its dtype."""
    rows, n = block.shape
    dtype = block.dtype
    P = _PACKET
    start = 0
    acc = xp.zeros((rows, P), dtype)
    if n >= 4 * P:
        size4 = n // (4 * P) * 4 * P
        quads = block[:, :size4].reshape(rows, size4 // (4 * P), 4, P)
        accs = xp.zeros((rows, 4, P), dtype)
        for j in range(quads.shape[1]):
            accs = accs + quads[:, j]
        acc = ((accs[:, 0] + accs[:, 1]) + accs[:, 2]) + accs[:, 3]
        start = size4
    if start <= n - P:
        size = n // P * P
        for j in range(start, size, P):
            acc = acc + block[:, j:j + P]
        start = size
    tail = xp.zeros(rows, dtype)
    for j in range(start, n):
        tail = tail + block[:, j]
    return tail + _predux(acc)


def _tree_sum(xp, block, first):
    """Eigen's tree reduction; `first` is the flat index of the rows' first element (mod 8
    is what matters: the split lands on a packet boundary of the flat tensor)."""
    n = block.shape[1]
    if n <= _PACKET * _LEAF[block.dtype]:
        return _leaf_sum(xp, block)
    split = _PACKET * _ceil_div(first + _ceil_div(n, 2), _PACKET)
    num_left = min(split - first, n)
    total = _tree_sum(xp, block[:, :num_left], first)  # 0 + left is left exactly
    if num_left < n:
        total = total + _tree_sum(xp, block[:, num_left:], split)
    return total


def squared_norms(x, dtype=numpy.float16):
    """TensorFlow's reduce_sum(square(cast(x, dtype)), 1) on the CPU, bit for bit: row i of
    the fed matrix starts at flat index i * D, which decides the tree's split points."""
    xp = get_array_module(x)
    x = x.astype(numpy.float32, copy=False).astype(dtype, copy=False)
    sq = x * x
    n, d = sq.shape
    offsets = (numpy.arange(n) * d) % _PACKET
    groups = numpy.unique(offsets)
    if len(groups) == 1:
        return _tree_sum(xp, sq, int(groups[0]))
    out = xp.empty(n, sq.dtype)
    for offset in groups:
        rows = xp.asarray(numpy.nonzero(offsets == offset)[0])
        out[rows] = _tree_sum(xp, sq[rows], int(offset))
    return out


def _distances(xp, u, v, dtype, norm_u, norm_v, out):
    """max(norm_u - 2 u.v + norm_v, 0) in `dtype`, rounded op by op; False if not finite."""
    u = u.astype(dtype, copy=False)
    v_t = v.astype(dtype, copy=False).astype(numpy.float32).T
    two = dtype(2)
    zero = dtype(0)
    for i in range(0, len(u), _ROW_CHUNK):
        mm = (u[i:i + _ROW_CHUNK].astype(numpy.float32) @ v_t).astype(dtype)
        d = xp.maximum((norm_u[i:i + _ROW_CHUNK, None] - two * mm) + norm_v[None, :], zero)
        if not bool(xp.isfinite(d).all()):
            return False
        out[i:i + _ROW_CHUNK] = d
    return True


def pairwise_distances(u, v):
    """ADM's DistanceBlock.pairwise_distances(u, v) for one block: (len(u), len(v)) squared
    distances, float16 values if that step was finite, else float32 ones."""
    xp = get_array_module(u)
    u = xp.asarray(u, dtype=numpy.float32)  # the float32 placeholders ADM feeds
    v = xp.asarray(v, dtype=numpy.float32)
    out = xp.empty((len(u), len(v)), numpy.float16)
    with numpy.errstate(over='ignore', invalid='ignore'):  # float16 overflow is the signal
        if _distances(xp, u, v, numpy.float16, squared_norms(u), squared_norms(v), out):
            return out
    out = xp.empty((len(u), len(v)), numpy.float32)
    _distances(xp, u, v, numpy.float32, squared_norms(u, numpy.float32),
               squared_norms(v, numpy.float32), out)
    return out


def _check_features(features, name, nhood_size):
    xp = get_array_module(features)
    x = xp.asarray(features, dtype=numpy.float32)
    if x.ndim != 2:
        raise InputError('{} must be (N, features), got shape {}'.format(name, x.shape))
    if len(x) <= nhood_size:
        raise InputError('precision/recall with k={} needs more than {} {}, got {}'.format(
            nhood_size, nhood_size, name, len(x)))
    if not bool(xp.isfinite(x).all()):
        raise InputError('{} contain NaN or Inf'.format(name))
    return xp, x


def manifold_radii(features, nhood_size=NHOOD_SIZE, row_batch_size=ROW_BATCH_SIZE,
                   col_batch_size=COL_BATCH_SIZE):
    """ADM's ManifoldEstimator.manifold_radii: each point's distance to its k-th neighbour
    (float32, (N,)), the point itself counted as neighbour 0."""
    xp, x = _check_features(features, 'features', nhood_size)
    k = int(nhood_size)
    radii = xp.empty(len(x), numpy.float32)
    for begin1 in range(0, len(x), row_batch_size):
        rows = x[begin1:begin1 + row_batch_size]
        # The k+1 smallest distances of each row so far: the k-th smallest of the union of
        # column blocks is the k-th smallest of their kept values.
        best = xp.full((len(rows), k + 1), numpy.inf, numpy.float32)
        for begin2 in range(0, len(x), col_batch_size):
            block = pairwise_distances(rows, x[begin2:begin2 + col_batch_size])
            for i in range(0, len(rows), _ROW_CHUNK):
                both = xp.concatenate([best[i:i + _ROW_CHUNK],
                                       block[i:i + _ROW_CHUNK].astype(numpy.float32)], axis=1)
                best[i:i + _ROW_CHUNK] = xp.partition(both, k, axis=1)[:, :k + 1]
        radii[begin1:begin1 + len(rows)] = best.max(axis=1)
    return radii


def precision_recall(ref_features, sample_features, nhood_size=NHOOD_SIZE,
                     row_batch_size=ROW_BATCH_SIZE, col_batch_size=COL_BATCH_SIZE,
                     ref_radii=None, sample_radii=None):
    """ADM's compute_prec_recall(ref, sample): (precision, recall) as floats.

    Radii are computed with `manifold_radii` unless given (e.g. kept from an earlier run on
    the same reference).
    """
    xp, ref = _check_features(ref_features, 'reference features', nhood_size)
    _, sample = _check_features(sample_features, 'sample features', nhood_size)
    if ref.shape[1] != sample.shape[1]:
        raise InputError('reference and sample features differ in size: {} and {}'.format(
            ref.shape[1], sample.shape[1]))
    if ref_radii is None:
        ref_radii = manifold_radii(ref, nhood_size, row_batch_size, col_batch_size)
    if sample_radii is None:
        sample_radii = manifold_radii(sample, nhood_size, row_batch_size, col_batch_size)
    ref_radii = xp.asarray(ref_radii, dtype=numpy.float32).reshape(-1)
    sample_radii = xp.asarray(sample_radii, dtype=numpy.float32).reshape(-1)
    if len(ref_radii) != len(ref) or len(sample_radii) != len(sample):
        raise InputError('radii must have one entry per feature vector')
    ref_in = xp.zeros(len(ref), bool)        # inside some sample ball: recall
    sample_in = xp.zeros(len(sample), bool)  # inside some reference ball: precision
    for begin1 in range(0, len(ref), row_batch_size):
        end1 = begin1 + row_batch_size
        for begin2 in range(0, len(sample), col_batch_size):
            end2 = begin2 + col_batch_size
            block = pairwise_distances(ref[begin1:end1], sample[begin2:end2])
            r_radii = ref_radii[begin1:end1]
            s_radii = sample_radii[begin2:end2]
            for i in range(0, len(block), _ROW_CHUNK):
                d = block[i:i + _ROW_CHUNK].astype(numpy.float32)
                ref_in[begin1 + i:begin1 + i + len(d)] |= (d <= s_radii[None, :]).any(axis=1)
                sample_in[begin2:begin2 + d.shape[1]] |= (
                    d <= r_radii[i:i + _ROW_CHUNK, None]).any(axis=0)
    precision = float(to_numpy(sample_in).astype(numpy.float64).mean())
    recall = float(to_numpy(ref_in).astype(numpy.float64).mean())
    return precision, recall
