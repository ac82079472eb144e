"""`Inception`: the Chainer face of the network, holding its parameters as links.

The link hierarchy is the earlier Chainer port's (hvy/chainer-inception-score), so model files
made by its download.py load with `chainer.serializers.load_hdf5` unchanged, and `to_gpu()`,
`copy()` and `save_hdf5` work as for any chain. The numbers come from the Chainer-free core:
each call hands the chain's own arrays (numpy or cupy) to `network.Network`.
"""
import chainer
import chainer.links as L
import numpy

from inception_score import modelfile, topology
from inception_score.errors import InputError
from inception_score.network import Network

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

    The weights must come from a model file (`load_model(path)`, or
    `chainer.serializers.load_hdf5(path, model)`): scoring with weights never loaded is an
    error, unless `allow_unloaded=True` (benchmarks, or weights set by hand).
    """

    # How the core runs on the CPU: 'auto'/'threads' (small chunks on every core) or
    # 'batched' (the GPU's way, in sequence); the GPU always runs batched.
    mode = 'auto'

    def __init__(self, allow_unloaded=False):
        super().__init__()
        self.weights_loaded = bool(allow_unloaded)
        with self.init_scope():
            _build_links(self)
            self.logit = L.Linear(topology.NUM_FEATURES, topology.NUM_CLASSES, nobias=True)

    def serialize(self, serializer):
        super().serialize(serializer)
        if isinstance(serializer, chainer.serializer.Deserializer):
            self.weights_loaded = True

    def unit(self, name):
        """(Convolution2D, GraphBatchNormalization) of the graph's conv unit `name`."""
        conv_path, bn_path = topology.link_paths(name)
        return _resolve(self, conv_path), _resolve(self, bn_path)

    def arrays(self):
        """{HDF5 path: array} of the parameters, on the chain's device (not copies)."""
        out = {}
        for unit in topology.convs():
            conv, bn = self.unit(unit.name)
            names = topology.unit_arrays(unit)
            out.update({names['W']: conv.W.array, names['gamma']: bn.gamma.array,
                        names['beta']: bn.beta.array, names['avg_mean']: bn.avg_mean,
                        names['avg_var']: bn.avg_var, names['eps']: numpy.float32(bn.eps)})
        out[topology.LOGIT_W] = self.logit.W.array
        return out

    def load_arrays(self, arrays):
        """Copy `arrays` (as modelfile.load_arrays gives them) into the links; returns self."""
        for key, value in arrays.items():
            path, _, name = key.rpartition('/')
            link = _resolve(self, path)
            if name == 'eps':
                link.eps = float(value)
            elif name in link._persistent:
                getattr(link, name)[...] = self.device.send(value)
            else:
                getattr(link, name).array[...] = self.device.send(value)
        self.weights_loaded = True
        return self

    def network(self):
        """The core network computing with this chain's current parameters."""
        if not self.weights_loaded:
            raise InputError('the Inception weights were never loaded: use '
                             'load_model(path) (or chainer.serializers.load_hdf5(path, model));'
                             ' Inception(allow_unloaded=True) runs the initial weights')
        return Network(self.arrays(), mode=self.mode)

    def __call__(self, x, get_feature=False):
        if get_feature:
            return self.features(x)
        return chainer.functions.softmax(self.logits(x))

    def features(self, x):
        """pool_3 features, (N, 2048) float32 Variable."""
        return chainer.Variable(self.network().features(_array(x)), requires_grad=False)

    def logits(self, x):
        """Bias-free logits over the 1008 outputs, (N, 1008) float32 Variable."""
        return chainer.Variable(self.network().logits(_array(x)), requires_grad=False)


def _array(x):
    if isinstance(x, chainer.Variable):
        x = x.array
    if getattr(x, 'ndim', None) != 4 or x.shape[1] != 3:
        raise ValueError('Inception expects RGB images of shape (N, 3, H, W), got shape {}'
                         .format(getattr(x, 'shape', type(x).__name__)))
    return x


def load_model(path=None):
    """An `Inception` with the weights of a model file (ours or the earlier Chainer port's),
    checked dataset by dataset; ModelFileError names the problem and the fix."""
    return Inception().load_arrays(modelfile.load_arrays(path))
