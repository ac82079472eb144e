"""Informative weights for the network, made in seconds with the core's own kernels on numpy.

For machines where the 92 MB model file cannot go (a GPU box without network) and for
benchmarks: no model file, TensorFlow or Chainer. As tests/synthetic_graph.py does with
TensorFlow, each conv gets random He-scaled weights and its batch norm the measured statistics
of its own activations on a few images (so no layer saturates or dies and every layer
matters), and the logit layer loses the direction of the mean feature (which would send every
image to one class) and is scaled to a logit std of a few units: the score lands far from 1.
"""
import numpy

from inception_score import kernels, topology
from inception_score.network import BATCHED_WORKSPACE, preprocess


def smooth_images(rng, n, height, width):
    """n uint8 RGB images (NCHW) with varied colours, gradients, blobs and noise."""
    yy, xx = numpy.meshgrid(numpy.linspace(0, 1, height), numpy.linspace(0, 1, width),
                            indexing='ij')
    images = numpy.empty((n, 3, height, width), numpy.uint8)
    for i in range(n):
        img = numpy.zeros((height, width, 3))
        for _ in range(rng.randint(1, 5)):
            fy, fx = rng.uniform(0.5, 8, 2)
            wave = numpy.sin(2 * numpy.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * numpy.pi))
            img += wave[..., None] * rng.uniform(-1, 1, 3)
        for _ in range(rng.randint(0, 4)):
            cy, cx, r = rng.uniform(0, 1, 3) * [1, 1, 0.4]
            img[((yy - cy) ** 2 + (xx - cx) ** 2) < r ** 2] = rng.uniform(-1.5, 1.5, 3)
        img += rng.normal(0, rng.uniform(0, 0.3), img.shape)
        img = (img - img.min()) / max(img.max() - img.min(), 1e-6)
        lo, hi = sorted(rng.uniform(0, 255, 2))
        images[i] = numpy.round(lo + img * max(hi - lo, 40)).clip(0, 255).transpose(2, 0, 1)
    return images


def image_groups(sizes, seed):
    """[uint8 NCHW array for each (count, height, width) in `sizes`], reproducible by seed."""
    rng = numpy.random.RandomState(seed)
    return [smooth_images(rng, n, h, w) for n, h, w in sizes]


# Calibration images (count, height, width): a few of each kind of size the checks use.
# FULL is what tests/synthetic_graph.py uses; QUICK (8 images) takes seconds on 2 cores.
FULL_CALIBRATION = ((6, 32, 32), (4, 64, 64), (3, 299, 299), (3, 48, 80))
QUICK_CALIBRATION = ((3, 32, 32), (2, 64, 64), (1, 299, 299), (2, 48, 80))


def _eps(index):
    # Most batch norms use the released graph's 0.001; every fourth another value, so the
    # per-unit eps is exercised (and a port that hard-codes 0.001 must account for it).
    return numpy.float32(topology.GRAPH_EPS if index % 4 else 0.01)


def calibrated_arrays(groups, seed=0, logit_std=3.0):
    """{HDF5 path: float32 array} for every key of `topology.expected_arrays()`.

    groups: uint8 (or float) NCHW image arrays in [0, 255], any sizes: the calibration
    images. logit_std: the std of the logits on them.
    """
    rng = numpy.random.RandomState(seed)
    x = numpy.concatenate([preprocess(g) for g in groups])
    x = numpy.ascontiguousarray(x.transpose(0, 2, 3, 1))
    arrays = {}
    units = iter(range(len(topology.convs())))

    def conv(unit, h):
        kh, kw = unit.ksize
        W = rng.normal(0, numpy.sqrt(2.0 / (kh * kw * unit.cin)),
                       (unit.cout, unit.cin, kh, kw)).astype(numpy.float32)
        # The pre-activation y, through the core's own conv: relu(y) - relu(-y) == y.
        ones = numpy.ones(2 * unit.cout, numpy.float32)
        zeros = numpy.zeros(2 * unit.cout, numpy.float32)
        w2d, bias = kernels.fold(numpy.concatenate([W, -W]), ones, zeros, zeros, ones, eps=0.0)
        both = kernels.conv_bn_relu(h, unit, w2d, bias, workspace=BATCHED_WORKSPACE)
        y = both[..., :unit.cout] - both[..., unit.cout:]
        mean = y.mean(axis=(0, 1, 2), dtype=numpy.float64)
        var = y.var(axis=(0, 1, 2), dtype=numpy.float64)
        # Moving statistics near the measured ones, so no layer saturates or dies.
        params = {
            'W': W,
            'gamma': 1 + rng.normal(0, 0.2, unit.cout),
            'beta': rng.normal(0, 0.2, unit.cout),
            'avg_mean': mean + rng.normal(0, 0.05, unit.cout) * numpy.sqrt(var),
            'avg_var': var * rng.uniform(0.8, 1.25, unit.cout),
            'eps': _eps(next(units)),
        }
        names = topology.unit_arrays(unit)
        for key, path in names.items():
            arrays[path] = numpy.asarray(params[key], dtype=numpy.float32)
        # The unit's output with these statistics, as the network computes it.
        w2d, bias = kernels.fold(*(arrays[names[k]] for k in (
            'W', 'gamma', 'beta', 'avg_mean', 'avg_var')), eps=float(params['eps']))
        return kernels.conv_bn_relu(h, unit, w2d, bias, workspace=BATCHED_WORKSPACE)

    feats = topology.walk(x, conv, lambda layer, h: kernels.pool(h, layer),
                          lambda block, hs: kernels.concat(hs))
    feats = feats.reshape(len(feats), topology.NUM_FEATURES).astype(numpy.float64)
    w = rng.normal(0, 1, (topology.NUM_FEATURES, topology.NUM_CLASSES))
    u = feats.mean(0) / numpy.linalg.norm(feats.mean(0))
    w -= numpy.outer(u, u @ w)
    w *= logit_std / (feats @ w).std()
    arrays[topology.LOGIT_W] = numpy.ascontiguousarray(w.T, dtype=numpy.float32)
    return {key: arrays[key] for key in topology.expected_arrays()}
