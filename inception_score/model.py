"""`Inception`: the inception-2015-12-05 graph as a Chainer chain (pool_3 features, 1008 logits).

The link hierarchy is the earlier Chainer port's (hvy/chainer-inception-score), so model files
made by its download.py load with `chainer.serializers.load_hdf5` unchanged; unlike that port,
this chain resizes like TF1, excludes padding from average pools and uses no logit bias.
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy

from inception_score import cpu_gemm, topology
from inception_score.resize import resize_bilinear_tf1

_GRAPH_EPS = float(numpy.float32(topology.GRAPH_EPS))


class GraphBatchNormalization(L.BatchNormalization):
    """Inference batch norm whose variance_epsilon is saved with the model.

    Files from the earlier port carry no `eps`; they come from the released graph, whose value
    (0.001 as float32) is then used instead of Chainer's default 2e-5.
    """

    def __init__(self, size, eps=_GRAPH_EPS):
        super().__init__(size, eps=eps)

    def serialize(self, serializer):
        super().serialize(serializer)
        if isinstance(serializer, chainer.serializer.Serializer):
            serializer('eps', numpy.float32(self.eps))
            return
        try:
            value = serializer('eps', None)
        except KeyError:  # earlier port's file (strict deserializers raise KeyError)
            value = None
        self.eps = _GRAPH_EPS if value is None else float(value)


def _build_links(root):
    """Create every conv/bn link at its layout path under `root` (nested chains as needed)."""
    for unit in topology.convs():
        conv_path, bn_path = topology.link_paths(unit.name)
        holder = _holder(root, conv_path)
        kh, kw = unit.ksize
        holder.add_link(conv_path.rpartition('/')[2], L.Convolution2D(
            unit.cin, unit.cout, (kh, kw), stride=unit.stride,
            pad=topology.padding_amount(unit), nobias=True))
        holder.add_link(bn_path.rpartition('/')[2], GraphBatchNormalization(unit.cout))


def _holder(root, path):
    link = root
    for name in path.split('/')[:-1]:
        if not hasattr(link, name):
            link.add_link(name, chainer.Chain())
        link = getattr(link, name)
    return link


def _resolve(root, path):
    link = root
    for name in path.split('/'):
        link = getattr(link, name)
    return link


class Inception(chainer.Chain):
    """The Inception network of the reference Inception Score.

    Input: RGB images (N, 3, H, W), float in [0, 255] or uint8, any H and W (numpy, cupy or
    Variable). The caller's array is never modified, and the forward pass always runs in
    inference mode without building a graph, whatever `chainer.config` says.
    `model(x)` returns the softmax over all 1008 outputs, `model(x, get_feature=True)` the
    2048 pool_3 features, `model.logits(x)` the bias-free logits (as the reference).
    """

    # CPU kernels: 'gemm' (cpu_gemm: batch norm folded, one SGEMM per conv, NHWC) or 'chainer'
    # (chainer.functions, the path GPUs take through cuDNN). Same numbers to float32 rounding.
    cpu_kernel = 'gemm'

    def __init__(self):
        super().__init__()
        with self.init_scope():
            _build_links(self)
            self.logit = L.Linear(topology.NUM_FEATURES, topology.NUM_CLASSES, nobias=True)

    def unit(self, name):
        """(Convolution2D, GraphBatchNormalization) of the graph's conv unit `name`."""
        conv_path, bn_path = topology.link_paths(name)
        return _resolve(self, conv_path), _resolve(self, bn_path)

    def __call__(self, x, get_feature=False):
        if get_feature:
            return self.features(x)
        return F.softmax(self.logits(x))

    def features(self, x):
        """pool_3 features, (N, 2048) float32 Variable."""
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            return self._features(x)

    def logits(self, x):
        """Bias-free logits over the 1008 outputs, (N, 1008) float32 Variable."""
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            return self.logit(self._features(x))

    def _features(self, x):
        x = self._to_device(x)
        if self.cpu_kernel == 'gemm' and isinstance(x, numpy.ndarray):
            return chainer.Variable(cpu_gemm.features(self, x, preprocess))
        h = topology.walk(preprocess(x), self._conv_unit, _pool, _concat)
        return F.reshape(h, (h.shape[0], topology.NUM_FEATURES))

    def _to_device(self, x):
        if isinstance(x, chainer.Variable):
            x = x.array
        if getattr(x, 'ndim', None) != 4 or x.shape[1] != 3:
            raise ValueError('Inception expects RGB images of shape (N, 3, H, W), got shape {}'
                             .format(getattr(x, 'shape', type(x).__name__)))
        return self.device.send(x)

    def _conv_unit(self, unit, x):
        conv, bn = self.unit(unit.name)
        h = F.convolution_2d(x, conv.W, stride=unit.stride, pad=conv.pad)
        h = F.fixed_batch_normalization(h, bn.gamma, bn.beta, bn.avg_mean, bn.avg_var, bn.eps)
        return F.relu(h)


def preprocess(x):
    """The graph's input nodes: ResizeBilinear to 299x299, then (x - 128) * (1 / 128).

    Returns a new float32 array: the caller's array is left as it was.
    """
    x = resize_bilinear_tf1(x, (topology.INPUT_SIZE, topology.INPUT_SIZE))
    x -= numpy.float32(topology.PREPROCESS_CONSTS['Sub/y'])
    x *= numpy.float32(topology.PREPROCESS_CONSTS['Mul/y'])
    return x


def _pool(layer, x):
    pad = topology.padding_amount(layer)
    if layer.kind == 'max':
        # SAME max pools pad with -inf in TF; cover_all=False gives TF's output sizes.
        return F.max_pooling_2d(x, layer.ksize, layer.stride, pad, cover_all=False)
    # TF's SAME AvgPool divides by the in-bounds count: pad_value=None does the same.
    return F.average_pooling_nd(x, layer.ksize, layer.stride, pad, pad_value=None)


def _concat(block, xs):
    return F.concat(xs, axis=1)
