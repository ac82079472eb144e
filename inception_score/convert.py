"""classify_image_graph_def.pb -> `Inception` parameters, checked node by node.

Every node the network needs must be present with the expected op, attributes, dtype, shape and
wiring; anything else is a `ConversionError` naming the node. Needs tensorflow (to parse the
GraphDef protobuf and decode its tensors): `pip install inception_score[convert]`.
"""
import os

import numpy

from inception_score import topology
from inception_score.errors import ConversionError, MissingDependencyError


def _tf():
    # Quiet TF's start-up lines: errors here must stay one line.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
    try:
        import tensorflow
    except ImportError:
        raise MissingDependencyError(
            'converting the TensorFlow graph needs tensorflow: '
            'pip install "inception_score[convert]" (or pip install tensorflow-cpu)') from None
    return tensorflow


def parse_graph_def(data):
    """Parse serialized GraphDef bytes."""
    tf = _tf()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise ConversionError('not a TensorFlow GraphDef ({}): is the .pb file truncated?'
                              .format(e)) from None
    if not graph_def.node:
        raise ConversionError('the GraphDef holds no nodes: is it the right .pb file?')
    return graph_def


class _Graph:
    """Name-indexed nodes with typed accessors that fail with the node's name."""

    def __init__(self, graph_def):
        self.tf = _tf()
        self.nodes = {node.name: node for node in graph_def.node}

    def node(self, name, op):
        node = self.nodes.get(name)
        if node is None:
            raise ConversionError('node {!r} is missing: this is not the inception-2015-12-05 '
                                  'classify_image_graph_def.pb'.format(name))
        ops = (op,) if isinstance(op, str) else op
        if node.op not in ops:
            raise ConversionError('node {!r} is a {}, expected {}'.format(
                name, node.op, ' or '.join(ops)))
        return node

    def const(self, name, shape, dtype=numpy.float32):
        node = self.node(name, 'Const')
        try:
            value = self.tf.make_ndarray(node.attr['value'].tensor)
        except Exception as e:
            raise ConversionError('node {!r}: unreadable tensor ({})'.format(name, e)) from None
        if value.dtype != dtype:
            raise ConversionError('node {!r} has dtype {}, expected {}'.format(
                name, value.dtype, numpy.dtype(dtype)))
        if tuple(value.shape) != tuple(shape):
            raise ConversionError('node {!r} has shape {}, expected {}'.format(
                name, tuple(value.shape), tuple(shape)))
        return value

    def attr(self, node, key, kind):
        if key not in node.attr:
            raise ConversionError('node {!r} has no attribute {!r}'.format(node.name, key))
        value = getattr(node.attr[key], kind)
        if kind == 'list':
            return list(value.i)
        return value.decode() if isinstance(value, bytes) else value

    def resolve(self, tensor):
        """Producer of `tensor`, looking through the graph's Identity guards."""
        name = tensor.split(':')[0]
        while name in self.nodes and self.nodes[name].op == 'Identity':
            name = [i for i in self.nodes[name].input if not i.startswith('^')][0].split(':')[0]
        return name

    def check_inputs(self, node, expected):
        actual = [self.resolve(i) for i in node.input if not i.startswith('^')]
        if actual != list(expected):
            raise ConversionError('node {!r} reads {}, expected {}'.format(
                node.name, actual, list(expected)))


def _check_window(g, node, ksize, stride, padding):
    kh, kw = ksize
    expected = {'strides': [1, stride, stride, 1], 'padding': padding}
    if ksize != (None, None):
        expected['ksize'] = [1, kh, kw, 1]
    for key, want in expected.items():
        got = g.attr(node, key, 'list' if key != 'padding' else 's')
        if got != want:
            raise ConversionError('node {!r} has {}={}, expected {}'.format(
                node.name, key, got, want))


def convert_graph_def(graph_def):
    """The graph's weights as {HDF5 path: array} (see topology.expected_arrays()).

    The batch norm of each unit takes the graph's variance_epsilon, and gamma only when
    scale_after_normalization is set (TF ignores gamma otherwise). The logit layer takes
    softmax/weights and no bias, as the reference score does.
    """
    g = _Graph(graph_def)
    arrays = {}

    for name, want in topology.PREPROCESS_CONSTS.items():
        value = g.const(name, numpy.shape(want), numpy.int32 if name.endswith('size')
                        else numpy.float32)
        if not numpy.array_equal(value, numpy.asarray(want, value.dtype)):
            raise ConversionError('node {!r} is {}, expected {}'.format(
                name, value.tolist(), want))
    g.check_inputs(g.node('ResizeBilinear', 'ResizeBilinear'),
                   ['ExpandDims', 'ResizeBilinear/size'])
    if g.node('ResizeBilinear', 'ResizeBilinear').attr['align_corners'].b:
        raise ConversionError("node 'ResizeBilinear' aligns corners; the graph does not")
    g.check_inputs(g.node('Sub', 'Sub'), ['ResizeBilinear', 'Sub/y'])
    g.check_inputs(g.node('Mul', 'Mul'), ['Sub', 'Mul/y'])

    def conv(unit, x):
        P = unit.name
        kh, kw = unit.ksize
        w = g.const(P + '/conv2d_params', (kh, kw, unit.cin, unit.cout))
        conv2d = g.node(P + '/Conv2D', 'Conv2D')
        g.check_inputs(conv2d, [x, P + '/conv2d_params'])
        _check_window(g, conv2d, (None, None), unit.stride, unit.padding)
        stats = {k: g.const(P + '/batchnorm/' + k, (unit.cout,))
                 for k in ('moving_mean', 'moving_variance', 'beta', 'gamma')}
        bn = g.node(P + '/batchnorm', 'BatchNormWithGlobalNormalization')
        g.check_inputs(bn, [P + '/Conv2D'] + [P + '/batchnorm/' + k for k in stats])
        eps = g.attr(bn, 'variance_epsilon', 'f')
        if not eps > 0:
            raise ConversionError('node {!r} has variance_epsilon={}, expected > 0'.format(
                bn.name, eps))
        g.check_inputs(g.node(P, 'Relu'), [P + '/batchnorm'])

        names = topology.unit_arrays(unit)
        arrays[names['W']] = numpy.ascontiguousarray(w.transpose(3, 2, 0, 1))
        arrays[names['avg_mean']] = stats['moving_mean']
        arrays[names['avg_var']] = stats['moving_variance']
        arrays[names['beta']] = stats['beta']
        arrays[names['gamma']] = (stats['gamma'] if g.attr(bn, 'scale_after_normalization', 'b')
                                  else numpy.ones(unit.cout, numpy.float32))
        arrays[names['eps']] = numpy.float32(eps)
        return P

    def pool(layer, x):
        node = g.node(layer.name, 'MaxPool' if layer.kind == 'max' else 'AvgPool')
        g.check_inputs(node, [x])
        _check_window(g, node, (layer.ksize, layer.ksize), layer.stride, layer.padding)
        return layer.name

    def concat(block, xs):
        name = block.name + '/join'
        dim = g.const(name + '/concat_dim', (), numpy.int32)
        if dim != 3:
            raise ConversionError('node {!r} joins axis {}, expected 3 (channels)'.format(
                name + '/concat_dim', int(dim)))
        g.check_inputs(g.node(name, 'Concat'), [name + '/concat_dim'] + list(xs))
        return name

    pool3 = topology.walk(topology.INPUT_NODE, conv, pool, concat)
    weights = g.const(topology.LOGIT_WEIGHTS, (topology.NUM_FEATURES, topology.NUM_CLASSES))
    matmul = g.node('softmax/logits/MatMul', 'MatMul')
    if g.resolve(matmul.input[1]) != topology.LOGIT_WEIGHTS:
        raise ConversionError("node 'softmax/logits/MatMul' does not read softmax/weights")
    _reads_features(g, matmul, pool3)
    arrays[topology.LOGIT_W] = numpy.ascontiguousarray(weights.T)
    return arrays


def _reads_features(g, matmul, pool3):
    source = g.resolve(matmul.input[0])
    if source != pool3:  # through pool_3/_reshape in the graph
        reshape = g.node(source, 'Reshape')
        if g.resolve(reshape.input[0]) != pool3:
            raise ConversionError("node 'softmax/logits/MatMul' does not read pool_3")
