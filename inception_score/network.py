"""The forward pass of the inception-2015-12-05 graph from a model's arrays, on numpy or cupy.

`Network(arrays)` folds each batch norm into its conv once and runs `kernels` along
`topology.walk`: any node can be read by its graph name ('pool_3', 'mixed_6/conv',
'mixed_6/join', 'logits') in one pass. Float32 everywhere; on the GPU, cuBLAS is held to true
FP32 (never TF32), so both devices compute the same numbers to float32 rounding.
"""
import concurrent.futures
import contextlib
import os

import numpy

from inception_score import kernels, topology
from inception_score.backend import get_array_module, is_cupy
from inception_score.errors import InputError, UsageError
from inception_score.resize import resize_bilinear_tf1

LOGITS = 'logits'
FEATURES = topology.FEATURE_NODE

# CPU: chunks of 2 images, one per thread, each GEMM's patches cache-sized (measured with
# bench/bench.py: 1-2 images per chunk best, 25 loses a quarter). GPU (and the numpy
# 'batched' mode that reproduces it): up to 100 images per pass, patches in 256 MiB blocks.
CPU_CHUNK, CPU_WORKSPACE = 2, 2 << 20
BATCHED_CHUNK, BATCHED_WORKSPACE = 100, 256 << 20


def node_names():
    """Every node a forward pass can return, in graph order."""
    names = []

    def visit(name):
        names.append(name)
        return name

    topology.walk(None, lambda unit, x: visit(unit.name), lambda layer, x: visit(layer.name),
                  lambda block, xs: visit(block.name + '/join'))
    return names + [LOGITS]


_NODES = frozenset(node_names())


def preprocess(x):
    """The graph's input nodes: ResizeBilinear to 299x299, then (x - 128) * (1 / 128).

    Returns a new float32 array: the caller's array is left as it was.
    """
    x = resize_bilinear_tf1(x, (topology.INPUT_SIZE, topology.INPUT_SIZE))
    x -= numpy.float32(topology.PREPROCESS_CONSTS['Sub/y'])
    x *= numpy.float32(topology.PREPROCESS_CONSTS['Mul/y'])
    return x


class Network:
    """The network of the reference Inception Score, computed from a model's arrays.

    arrays: {HDF5 path: array} as `topology.expected_arrays()` lists them (numpy or cupy; see
        modelfile.load_arrays). They are folded once; the dict is not kept or modified.
    mode: 'threads' (CPU: small chunks on every core), 'batched' (how the GPU runs: large
        chunks in sequence, no threads; with numpy it reproduces the GPU's path on a CPU) or
        'auto' (threads on numpy, batched on cupy).
    """

    def __init__(self, arrays, mode='auto', workers=None):
        if mode not in ('auto', 'threads', 'batched'):
            raise UsageError("mode must be 'auto', 'threads' or 'batched', got {!r}".format(mode))
        self.mode = mode
        self.workers = workers
        logit_w = arrays[topology.LOGIT_W]
        self.xp = get_array_module(logit_w)
        with _scope(logit_w):
            if self.xp is not numpy:
                use_fp32_math()
            self._units = {}
            for unit in topology.convs():
                names = topology.unit_arrays(unit)
                self._units[unit.name] = kernels.fold(
                    *(arrays[names[k]] for k in ('W', 'gamma', 'beta', 'avg_mean', 'avg_var')),
                    eps=float(arrays[names['eps']]))
            self._logit_w = self.xp.ascontiguousarray(logit_w.T, dtype=numpy.float32)

    @property
    def device(self):
        """'cpu' or 'gpu:N'."""
        if self.xp is numpy:
            return 'cpu'
        return 'gpu:{}'.format(self._logit_w.device.id)

    @property
    def math_mode(self):
        return math_mode(self.xp)

    def to_gpu(self, device=0):
        """Move the folded weights to GPU `device` (cupy needed); returns self."""
        cupy = import_cupy(device)
        with cupy.cuda.Device(device):
            use_fp32_math()
            self._units = {k: (cupy.asarray(w), cupy.asarray(b))
                           for k, (w, b) in self._units.items()}
            self._logit_w = cupy.asarray(self._logit_w)
        self.xp = cupy
        return self

    def to_cpu(self):
        from inception_score.backend import to_numpy
        self._units = {k: (to_numpy(w), to_numpy(b)) for k, (w, b) in self._units.items()}
        self._logit_w = to_numpy(self._logit_w)
        self.xp = numpy
        return self

    def forward(self, x, nodes=(LOGITS,)):
        """{node: array} for NCHW images `x` in [0, 255] (any size, numpy or cupy).

        'logits' is (N, 1008) and 'pool_3' (N, 2048); other nodes come channels-last (NHWC),
        as TensorFlow gives them. Arrays are on the network's device; `x` is moved there
        first (before the resize, so uint8 images travel as uint8) and never modified.
        """
        nodes = tuple(nodes)
        unknown = [n for n in nodes if n not in _NODES]
        if unknown:
            raise InputError('unknown node {!r}: choose from the graph names, e.g. pool_3, '
                             'mixed_6/conv, logits'.format(unknown[0]))
        if getattr(x, 'ndim', None) != 4 or x.shape[1] != 3:
            raise InputError('the network takes RGB images of shape (N, 3, H, W), got {}'
                             .format(getattr(x, 'shape', type(x).__name__)))
        with _scope(self._logit_w):
            return self._forward(self._to_device(x), nodes)

    def _forward(self, x, nodes):
        batched = self.mode == 'batched' or (self.mode == 'auto' and self.xp is not numpy)
        chunk = BATCHED_CHUNK if batched else CPU_CHUNK
        workspace = BATCHED_WORKSPACE if batched else CPU_WORKSPACE
        starts = range(0, len(x), chunk)

        def run(i):
            return self._run(x[i:i + chunk], nodes, workspace)

        workers = 1 if batched else min(len(starts), self.workers or usable_cores())
        if workers <= 1:
            parts = [run(i) for i in starts]
        else:
            import threadpoolctl
            # One single-threaded BLAS per thread: numpy releases the GIL in matmul and large
            # elementwise ops, so patch copies, pools and resizes run in parallel too.
            with threadpoolctl.threadpool_limits(1, user_api='blas'), \
                    concurrent.futures.ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(run, starts))
        return {name: self.xp.concatenate([p[name] for p in parts]) for name in nodes}

    def logits(self, x):
        """Bias-free logits (N, 1008), as the reference score uses them."""
        return self.forward(x, (LOGITS,))[LOGITS]

    def features(self, x):
        """pool_3 features (N, 2048)."""
        return self.forward(x, (FEATURES,))[FEATURES]

    def _to_device(self, x):
        if self.xp is numpy:
            if is_cupy(x):
                return x.get()
            return x
        return self.xp.asarray(x)

    def _run(self, x, nodes, workspace):
        wanted = set(nodes)
        out = {}

        def keep(name, value):
            if name in wanted:
                out[name] = value
            return value

        h = self.xp.ascontiguousarray(preprocess(x).transpose(0, 2, 3, 1))
        h = topology.walk(
            h,
            lambda unit, h: keep(unit.name, kernels.conv_bn_relu(
                h, unit, *self._units[unit.name], workspace=workspace)),
            lambda layer, h: keep(layer.name, kernels.pool(h, layer)),
            lambda block, hs: keep(block.name + '/join', kernels.concat(hs)))
        features = h.reshape(len(h), topology.NUM_FEATURES)
        if FEATURES in wanted:
            out[FEATURES] = features
        if LOGITS in wanted:
            out[LOGITS] = features @ self._logit_w
        return out


def _scope(array):
    """The array's GPU as the current device (nothing to do for numpy)."""
    return array.device if is_cupy(array) else contextlib.nullcontext()


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def import_cupy(device=0):
    """cupy with GPU `device` usable, or a one-line UsageError saying what is missing."""
    try:
        import cupy
        cupy.cuda.Device(device).use()
        cupy.cuda.runtime.getDeviceProperties(device)
    except ImportError:
        raise UsageError('GPU {} needs CuPy: pip install "inception_score[gpu]" (cupy-cuda12x; '
                         'see README, GPU) or run on the CPU'.format(device)) from None
    except Exception as e:  # no driver, no such device
        raise UsageError('GPU {} is not usable ({}): check nvidia-smi, or run on the CPU'.format(
            device, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    return cupy


def use_fp32_math():
    """Hold cuBLAS to true FP32 for float32 GEMMs, whatever CUPY_TF32 says (TF32 keeps only a
    10-bit mantissa and would move the logits ~1e-3)."""
    from cupy._core import _routines_linalg as linalg
    linalg.set_compute_type(numpy.float32, getattr(linalg, 'COMPUTE_TYPE_PEDANTIC', 2))


def math_mode(xp):
    """How float32 matrix products run for arrays of `xp`, for the report."""
    if xp is numpy:
        return 'fp32 (numpy)'
    from cupy._core import _routines_linalg as linalg
    mode = linalg.get_compute_type(numpy.float32)
    if mode == getattr(linalg, 'COMPUTE_TYPE_PEDANTIC', 2):
        return 'fp32 (cuBLAS pedantic math: no TF32)'
    return 'cuBLAS {}'.format(linalg.compute_type_to_str(mode))
