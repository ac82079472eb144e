"""classify_image_graph_def.pb -> the network's parameters, checked node by node.

Every node the network needs must be present with the expected op, attributes, dtype, shape,
values and wiring; anything else is a one-line `ConversionError` naming the node. The result is
a plain dict {HDF5 path: float32 array} with the keys of `topology.expected_arrays()`: no
Chainer needed. Needs tensorflow (to parse the GraphDef protobuf and decode its tensors):
`pip install inception_score[convert]`.
"""
import os

import numpy

from inception_score import params, topology
from inception_score.errors import ConversionError, MissingDependencyError

_NOT_THE_GRAPH = 'this is not the inception-2015-12-05 classify_image_graph_def.pb'


def _tf():
    # Quiet TF's start-up lines: errors here must stay one line.
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')
    # A KeyboardInterrupt during the (slow) import is not an Exception: it propagates as is.
    try:
        import tensorflow
    except ImportError:
        raise MissingDependencyError(
            'converting the TensorFlow graph needs tensorflow: '
            'pip install "inception_score[convert]" (or pip install tensorflow-cpu)') from None
    except Exception as e:  # e.g. a tensorflow built for another numpy
        raise MissingDependencyError(
            'tensorflow is installed but fails to import ({}: {}): reinstall it with '
            'pip install "inception_score[convert]"'.format(type(e).__name__, _first_line(e))) \
            from None
    return tensorflow


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def parse_graph_def(data):
    """Parse serialized GraphDef bytes."""
    tf = _tf()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError
        raise ConversionError('not a TensorFlow GraphDef ({}): is the .pb file truncated?'
                              .format(_first_line(e))) from None
    if not graph_def.node:
        raise ConversionError('the GraphDef holds no nodes: is it the right .pb file?')
    return graph_def


def _input_name(tensor):
    """Node name of an input ('x', 'x:0', '^x' for a control input)."""
    return tensor.lstrip('^').split(':')[0]


class _Graph:
    """Name-indexed nodes with typed accessors that fail with the node's name."""

    def __init__(self, graph_def):
        self.tf = _tf()
        self.nodes = {}
        for node in graph_def.node:
            if node.name in self.nodes:  # TF's importer refuses this too; never let one win
                raise ConversionError('node {!r} is defined twice: the graph is corrupt'
                                      .format(node.name))
            self.nodes[node.name] = node
        for node in graph_def.node:
            for tensor in node.input:
                missing = _input_name(tensor)
                if missing not in self.nodes:  # TF's importer refuses this too
                    raise ConversionError('node {!r} is missing (node {!r} reads {!r}): {}'
                                          .format(missing, node.name, tensor, _NOT_THE_GRAPH))

    def node(self, name, op):
        node = self.nodes.get(name)
        if node is None:
            raise ConversionError('node {!r} is missing: {}'.format(name, _NOT_THE_GRAPH))
        ops = (op,) if isinstance(op, str) else op
        if node.op not in ops:
            raise ConversionError('node {!r} is a {!r}, expected {}'.format(
                name, node.op, ' or '.join(ops)))
        return node

    def const(self, name, shape, dtype=numpy.float32):
        """The value of Const node `name`, after its dtype and shape are checked.

        Both are read from the protobuf before decoding, so a tensor claiming a huge shape
        is refused without allocating it.
        """
        tensor = self.attr(self.node(name, 'Const'), 'value', 'tensor')
        want = self.tf.as_dtype(dtype)
        if tensor.dtype != want.as_datatype_enum:
            try:
                got = self.tf.as_dtype(tensor.dtype).name
            except TypeError:
                got = 'unknown type {}'.format(tensor.dtype)
            raise ConversionError('node {!r} has dtype {}, expected {}'.format(
                name, got, want.name))
        claimed = (None if tensor.tensor_shape.unknown_rank
                   else tuple(d.size for d in tensor.tensor_shape.dim))
        if claimed != tuple(shape):
            raise ConversionError('node {!r} has shape {}, expected {}'.format(
                name, claimed, tuple(shape)))
        try:
            value = self.tf.make_ndarray(tensor)
        except Exception as e:
            raise ConversionError('node {!r}: unreadable tensor ({})'.format(
                name, _first_line(e))) from None
        if value.dtype != dtype or tuple(value.shape) != tuple(shape):
            raise ConversionError('node {!r} decodes to {} {}, expected {} {}'.format(
                name, value.dtype, tuple(value.shape), numpy.dtype(dtype), tuple(shape)))
        return value

    def weights(self, name, shape, kind):
        """A float32 Const holding parameters of `kind` (see params.value_problem)."""
        value = self.const(name, shape)
        problem = params.value_problem(kind, value)
        if problem is not None:
            raise ConversionError('node {!r} {}'.format(name, problem))
        return value

    def attr(self, node, key, kind):
        if key not in node.attr:
            raise ConversionError('node {!r} has no attribute {!r}'.format(node.name, key))
        value = getattr(node.attr[key], kind)
        if kind == 'list':
            return list(value.i)
        return value.decode(errors='replace') if isinstance(value, bytes) else value

    def data_inputs(self, node, count):
        """The `count` data inputs of `node` (control inputs left out)."""
        inputs = [i for i in node.input if not i.startswith('^')]
        if len(inputs) != count:
            raise ConversionError('node {!r} has {} data input{}, expected {}'.format(
                node.name, len(inputs), '' if len(inputs) == 1 else 's', count))
        return inputs

    def resolve(self, tensor, reader):
        """Producer of `tensor` (read by node `reader`), looking through Identity guards."""
        seen = []
        while True:
            name, _, index = tensor.partition(':')
            if index not in ('', '0'):  # every op of this network has one output
                raise ConversionError('node {!r} reads {!r}, an output that does not exist'
                                      .format(reader, tensor))
            node = self.nodes[name]  # present: checked for every input in __init__
            if node.op != 'Identity':
                return name
            if name in seen:
                raise ConversionError('node {!r} is in a cycle of Identity nodes ({}): the '
                                      'graph is corrupt'.format(name, ' -> '.join(
                                          seen[seen.index(name):] + [name])))
            seen.append(name)
            tensor, = self.data_inputs(node, 1)
            reader = name

    def check_inputs(self, node, expected):
        actual = [self.resolve(i, node.name) for i in node.input if not i.startswith('^')]
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
        if got != want:  # repr: a string read from the file must not break the line
            raise ConversionError('node {!r} has {}={!r}, expected {!r}'.format(
                node.name, key, got, want))
    # Absent in the 2015 NodeDefs (defaults apply); a graph that sets them otherwise computes
    # something else.
    _check_optional(g, node, 'data_format', 's', 'NHWC')
    _check_optional(g, node, 'dilations', 'list', [1, 1, 1, 1])


def _check_optional(g, node, key, kind, default):
    if key in node.attr:
        got = g.attr(node, key, kind)
        if got != default:
            raise ConversionError('node {!r} has {}={!r}, expected {!r}'.format(
                node.name, key, got, default))


def convert_graph_def(graph_def):
    """The network's parameters in `graph_def`: {HDF5 path: float32 array}.

    Exactly the keys and shapes of `topology.expected_arrays()`: conv weights transposed from
    TF's (kh, kw, cin, cout) to (cout, cin, kh, kw); each batch norm's moving statistics, beta,
    gamma (ones where scale_after_normalization is False: TF ignores gamma then) and its
    variance_epsilon as a 0-d 'eps'; 'logit/W' = softmax/weights transposed and no bias, as
    the reference score uses.
    """
    g = _Graph(graph_def)
    arrays = {}

    for name, want in topology.PREPROCESS_CONSTS.items():
        value = g.const(name, numpy.shape(want), numpy.int32 if name.endswith('size')
                        else numpy.float32)
        if not numpy.array_equal(value, numpy.asarray(want, value.dtype)):
            raise ConversionError('node {!r} is {}, expected {}'.format(
                name, value.tolist(), want))
    resize = g.node('ResizeBilinear', 'ResizeBilinear')
    g.check_inputs(resize, ['ExpandDims', 'ResizeBilinear/size'])
    for flag in ('align_corners', 'half_pixel_centers'):
        if flag in resize.attr and resize.attr[flag].b:
            raise ConversionError("node 'ResizeBilinear' sets {}; the graph does not".format(
                flag))
    g.check_inputs(g.node('Sub', 'Sub'), ['ResizeBilinear', 'Sub/y'])
    g.check_inputs(g.node('Mul', 'Mul'), ['Sub', 'Mul/y'])

    def conv(unit, x):
        P = unit.name
        kh, kw = unit.ksize
        w = g.weights(P + '/conv2d_params', (kh, kw, unit.cin, unit.cout), 'W')
        conv2d = g.node(P + '/Conv2D', 'Conv2D')
        g.check_inputs(conv2d, [x, P + '/conv2d_params'])
        _check_window(g, conv2d, (None, None), unit.stride, unit.padding)
        stats = {k: g.weights(P + '/batchnorm/' + k, (unit.cout,), kind)
                 for k, kind in (('moving_mean', 'avg_mean'), ('moving_variance', 'avg_var'),
                                 ('beta', 'beta'), ('gamma', 'gamma'))}
        bn = g.node(P + '/batchnorm', 'BatchNormWithGlobalNormalization')
        g.check_inputs(bn, [P + '/Conv2D'] + [P + '/batchnorm/' + k for k in stats])
        eps = numpy.float32(g.attr(bn, 'variance_epsilon', 'f'))
        problem = params.value_problem('eps', eps)
        if problem is not None:
            raise ConversionError('node {!r}: variance_epsilon {}'.format(bn.name, problem))
        g.check_inputs(g.node(P, 'Relu'), [P + '/batchnorm'])

        names = topology.unit_arrays(unit)
        arrays[names['W']] = w.transpose(3, 2, 0, 1)
        arrays[names['avg_mean']] = stats['moving_mean']
        arrays[names['avg_var']] = stats['moving_variance']
        arrays[names['beta']] = stats['beta']
        arrays[names['gamma']] = (stats['gamma']
                                  if g.attr(bn, 'scale_after_normalization', 'b')
                                  else numpy.ones(unit.cout, numpy.float32))
        arrays[names['eps']] = numpy.asarray(eps, numpy.float32)
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
    weights = g.weights(topology.LOGIT_WEIGHTS, (topology.NUM_FEATURES, topology.NUM_CLASSES),
                        'W')
    matmul = g.node('softmax/logits/MatMul', 'MatMul')
    features, weights_input = g.data_inputs(matmul, 2)
    for flag in ('transpose_a', 'transpose_b'):
        if flag in matmul.attr and matmul.attr[flag].b:
            raise ConversionError("node 'softmax/logits/MatMul' sets {}; the graph does not"
                                  .format(flag))
    if g.resolve(weights_input, matmul.name) != topology.LOGIT_WEIGHTS:
        raise ConversionError("node 'softmax/logits/MatMul' does not read softmax/weights")
    _reads_features(g, matmul, features, pool3)
    arrays[topology.LOGIT_W] = weights.T
    # Same rules as a loaded model file, and float32 C-contiguous arrays in graph order.
    return params.check_arrays(arrays, source='the converted graph', error=ConversionError)


def _reads_features(g, matmul, features, pool3):
    source = g.resolve(features, matmul.name)
    if source != pool3:  # through pool_3/_reshape in the graph
        reshape = g.node(source, 'Reshape')
        tensor, _ = g.data_inputs(reshape, 2)
        if g.resolve(tensor, reshape.name) != pool3:
            raise ConversionError("node 'softmax/logits/MatMul' does not read pool_3")


__all__ = ['convert_graph_def', 'parse_graph_def']
