"""The converter: synthetic graph -> plain arrays, and every malformed graph -> one line naming
the node, quickly (never a hang, an IndexError or a silently accepted corrupt weight)."""
import contextlib
import signal
import sys

import numpy
import pytest
import tensorflow as tf

import synthetic_graph
from inception_score import convert, topology
from inception_score.convert import convert_graph_def, parse_graph_def
from inception_score.errors import ConversionError, MissingDependencyError

SECONDS = 20  # a conversion takes well under a second; a hang must not stall the suite


class Hang(BaseException):
    """Raised by the deadline; a BaseException so no `except Exception` can swallow it."""


@contextlib.contextmanager
def deadline(seconds):
    def expire(signum, frame):
        raise Hang('still running after {} s'.format(seconds))

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def find(graph_def, name):
    return next(node for node in graph_def.node if node.name == name)


def set_value(graph_def, name, change, dtype=None):
    """Replace Const `name`'s tensor by change(its value)."""
    tensor = find(graph_def, name).attr['value'].tensor
    value = change(tf.make_ndarray(tensor).copy())
    tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype))


def at(index, bad):
    def change(value):
        value[index] = bad
        return value
    return change


def add_identity(graph_def, name, inputs):
    node = graph_def.node.add()
    node.name, node.op = name, 'Identity'
    node.input.extend(inputs)
    node.attr['T'].type = tf.float32.as_datatype_enum


def rewire(name, index, tensor):
    def mutate(graph_def):
        find(graph_def, name).input[index] = tensor
    return mutate


def set_inputs(name, inputs):
    def mutate(graph_def):
        node = find(graph_def, name)
        del node.input[:]
        node.input.extend(inputs)
    return mutate


def identity_cycle(names, reader='conv/Conv2D'):
    def mutate(graph_def):
        for name, following in zip(names, names[1:] + names[:1]):
            add_identity(graph_def, name, [following])
        find(graph_def, reader).input[0] = names[0]
    return mutate


def set_eps(name, eps):
    def mutate(graph_def):
        find(graph_def, name).attr['variance_epsilon'].f = eps
    return mutate


def refused(synthetic_params, mutate):
    """The one-line message of converting the synthetic graph changed by `mutate`."""
    graph_def = synthetic_graph.build_graph_def(synthetic_params, mutate=mutate)
    with deadline(SECONDS), pytest.raises(ConversionError) as info:
        convert_graph_def(graph_def)
    message = str(info.value)
    assert '\n' not in message
    return message


def test_arrays_are_the_synthetic_weights_in_model_layout(graph_def, synthetic_params):
    arrays = convert_graph_def(graph_def)
    expected = topology.expected_arrays()
    assert list(arrays) == list(expected)
    for key, value in arrays.items():
        assert type(value) is numpy.ndarray and value.dtype == numpy.float32, key
        assert value.flags.c_contiguous and value.shape == expected[key], key
    flags = set()
    for unit in topology.convs():
        p, names = synthetic_params[unit.name], topology.unit_arrays(unit)
        assert numpy.array_equal(arrays[names['W']], p['w'].transpose(3, 2, 0, 1)), unit.name
        assert numpy.array_equal(arrays[names['avg_mean']], p['mean']), unit.name
        assert numpy.array_equal(arrays[names['avg_var']], p['var']), unit.name
        assert numpy.array_equal(arrays[names['beta']], p['beta']), unit.name
        gamma = p['gamma'] if p['scale'] else numpy.ones(unit.cout, numpy.float32)
        assert numpy.array_equal(arrays[names['gamma']], gamma), unit.name
        assert arrays[names['eps']].shape == () and arrays[names['eps']] == numpy.float32(p['eps'])
        flags.add((p['scale'], p['eps']))
    # Both gamma rules and more than one epsilon were exercised.
    assert {scale for scale, _ in flags} == {True, False} and len({e for _, e in flags}) == 2
    assert numpy.array_equal(arrays['logit/W'], synthetic_params['softmax/weights'].T)
    assert not any(key.endswith('/b') for key in arrays)  # no conv bias, no logit bias


def test_conversion_leaves_the_graph_def_unchanged(graph_def):
    before = graph_def.SerializeToString(deterministic=True)
    convert_graph_def(graph_def)
    assert graph_def.SerializeToString(deterministic=True) == before


def drop(name):
    def mutate(graph_def):
        nodes = [n for n in graph_def.node if n.name != name]
        del graph_def.node[:]
        graph_def.node.extend(nodes)
    return mutate


def test_a_missing_node_is_named_with_its_reader(synthetic_params):
    assert refused(synthetic_params, drop('mixed_4/tower/conv_1/conv2d_params')) == (
        "node 'mixed_4/tower/conv_1/conv2d_params' is missing (node "
        "'mixed_4/tower/conv_1/Conv2D' reads 'mixed_4/tower/conv_1/conv2d_params'): this is not "
        "the inception-2015-12-05 classify_image_graph_def.pb")


def test_a_missing_node_nobody_reads_is_named(synthetic_params):
    def mutate(graph_def):
        drop('mixed_4/tower/conv_1/conv2d_params')(graph_def)
        find(graph_def, 'mixed_4/tower/conv_1/Conv2D').input[1] = 'mixed_4/conv/conv2d_params'
    assert refused(synthetic_params, mutate) == (
        "node 'mixed_4/tower/conv_1/conv2d_params' is missing: this is not the "
        "inception-2015-12-05 classify_image_graph_def.pb")


def test_a_transposed_kernel_is_refused_with_both_shapes(synthetic_params):
    mutate = lambda g: set_value(g, 'mixed_5/tower/conv_1/conv2d_params',  # noqa: E731
                                 lambda v: v.transpose(1, 0, 2, 3))
    assert refused(synthetic_params, mutate) == (
        "node 'mixed_5/tower/conv_1/conv2d_params' has shape (7, 1, 160, 160), "
        "expected (1, 7, 160, 160)")


def test_a_tensor_claiming_a_huge_shape_is_refused_before_decoding(synthetic_params):
    # 100000 x 100000 x 3 x 32 floats would be 3.8 TB if decoded (one float_val, broadcast).
    def mutate(graph_def):
        tensor = find(graph_def, 'conv/conv2d_params').attr['value'].tensor
        tensor.CopyFrom(tf.make_tensor_proto(0.5, dtype=tf.float32,
                                             shape=[1, 1, 3, 32]))
        tensor.tensor_shape.dim[0].size = tensor.tensor_shape.dim[1].size = 100000
    assert refused(synthetic_params, mutate) == (
        "node 'conv/conv2d_params' has shape (100000, 100000, 3, 32), expected (3, 3, 3, 32)")


@pytest.mark.parametrize('names', [['loopid'], ['loop_a', 'loop_b', 'loop_c']],
                         ids=['self', 'three'])
def test_an_identity_cycle_is_refused_not_followed_forever(synthetic_params, names):
    message = refused(synthetic_params, identity_cycle(names))
    assert message == ('node {!r} is in a cycle of Identity nodes ({}): the graph is '
                       'corrupt'.format(names[0], ' -> '.join(names + names[:1])))


def test_a_guard_identity_reading_itself_is_refused(synthetic_params):
    message = refused(synthetic_params, rewire('mixed_7/tower/conv_2/control_dependency', 0,
                                               'mixed_7/tower/conv_2/control_dependency'))
    assert message.startswith("node 'mixed_7/tower/conv_2/control_dependency' is in a cycle")


def test_an_identity_with_only_a_control_input_is_refused(synthetic_params):
    message = refused(synthetic_params, set_inputs('conv_3/control_dependency',
                                                   ['^conv_3/CheckNumerics']))
    assert message == "node 'conv_3/control_dependency' has 0 data inputs, expected 1"


def test_an_identity_with_two_data_inputs_is_refused(synthetic_params):
    message = refused(synthetic_params, set_inputs('pool/control_dependency',
                                                   ['conv_2', 'conv_1']))
    assert message == "node 'pool/control_dependency' has 2 data inputs, expected 1"


@pytest.mark.parametrize('inputs', [[], ['pool_3/_reshape'], ['softmax/weights'],
                                    ['pool_3/_reshape', '^softmax/weights']])
def test_a_matmul_with_fewer_than_two_inputs_is_refused(synthetic_params, inputs):
    message = refused(synthetic_params, set_inputs('softmax/logits/MatMul', inputs))
    assert message == "node 'softmax/logits/MatMul' has {} data input{}, expected 2".format(
        len([i for i in inputs if not i.startswith('^')]), '' if len(inputs) else 's')


def test_a_reshape_without_inputs_is_refused(synthetic_params):
    message = refused(synthetic_params, set_inputs('pool_3/_reshape', []))
    assert message == "node 'pool_3/_reshape' has 0 data inputs, expected 2"


@pytest.mark.parametrize('name, index, tensor, missing', [
    ('mixed_4/tower/conv_1/Conv2D', 0, 'no_such_node', 'no_such_node'),
    ('mixed_4/tower/conv_1/Conv2D', 0, 'no_such_node:0', 'no_such_node'),
    ('conv/control_dependency', 1, '^no_such_check', 'no_such_check'),
    ('softmax', 0, '', ''),
    ('DecodeJpeg', 0, 'absent/contents', 'absent/contents'),  # outside the network: corrupt
])
def test_an_input_naming_no_node_is_refused(synthetic_params, name, index, tensor, missing):
    message = refused(synthetic_params, rewire(name, index, tensor))
    assert message == ('node {!r} is missing (node {!r} reads {!r}): this is not the '
                       'inception-2015-12-05 classify_image_graph_def.pb'.format(
                           missing, name, tensor))


def test_reading_a_second_output_of_a_one_output_op_is_refused(synthetic_params):
    message = refused(synthetic_params, rewire('conv/Conv2D', 0, 'Mul:1'))
    assert message == "node 'conv/Conv2D' reads 'Mul:1', an output that does not exist"


def test_an_explicit_output_0_is_accepted(graph_def, synthetic_params):
    graph = synthetic_graph.build_graph_def(synthetic_params,
                                            mutate=rewire('conv/Conv2D', 0, 'Mul:0'))
    arrays = convert_graph_def(graph)
    assert numpy.array_equal(arrays['conv/W'],
                             synthetic_params['conv']['w'].transpose(3, 2, 0, 1))


@pytest.mark.parametrize('name', ['mixed_2/tower/conv/batchnorm/gamma', 'softmax/weights',
                                  'mixed_6/tower_1/conv_3/batchnorm'])
def test_a_node_defined_twice_is_refused(synthetic_params, name):
    def mutate(graph_def):
        copy = graph_def.node.add()
        copy.CopyFrom(find(graph_def, name))
    message = refused(synthetic_params, mutate)
    assert message == 'node {!r} is defined twice: the graph is corrupt'.format(name)


@pytest.mark.parametrize('name, index, bad, what, size', [
    ('mixed_7/tower_1/conv_2/conv2d_params', (0, 6, 3, 5), numpy.nan, '1 NaN', 7 * 192 * 192),
    ('conv/conv2d_params', (0, 0, 0, 0), numpy.inf, '1 Inf', 3 * 3 * 3 * 32),
    ('softmax/weights', (2047, 1007), -numpy.inf, '1 Inf', 2048 * 1008),
    ('mixed_10/tower_1/mixed/conv_1/batchnorm/beta', 0, numpy.nan, '1 NaN', 384),
    ('mixed_1/tower/conv_1/batchnorm/moving_mean', 63, numpy.inf, '1 Inf', 64),
    ('mixed_3/conv/batchnorm/moving_variance', 5, numpy.nan, '1 NaN', 384),
])
def test_nan_or_inf_in_a_weight_is_refused(synthetic_params, name, index, bad, what, size):
    message = refused(synthetic_params, lambda g: set_value(g, name, at(index, bad)))
    assert message == 'node {!r} holds {} (of {} values)'.format(name, what, size)


def test_nan_in_an_ignored_gamma_is_still_refused(synthetic_params):
    # With scale_after_normalization False TF never reads gamma, but a NaN there means the
    # file is corrupt.
    name = next(n for n, p in synthetic_params.items() if isinstance(p, dict) and not p['scale'])
    gamma = name + '/batchnorm/gamma'
    message = refused(synthetic_params, lambda g: set_value(g, gamma, at(1, numpy.nan)))
    assert message.startswith('node {!r} holds 1 NaN'.format(gamma))


def test_a_negative_moving_variance_is_refused(synthetic_params):
    name = 'mixed_8/tower_1/conv_3/batchnorm/moving_variance'
    message = refused(synthetic_params, lambda g: set_value(g, name, at(7, -0.3)))
    assert message == 'node {!r} holds a negative variance (-0.3 at index 7)'.format(name)


@pytest.mark.parametrize('eps, shown', [(0.0, '0.0'), (-0.001, '-0.001'),
                                        (float('inf'), 'inf'), (float('nan'), 'nan'),
                                        (1e9, '1000000000.0'), (1.5, '1.5')])
def test_a_bad_variance_epsilon_is_refused(synthetic_params, eps, shown):
    name = 'mixed_9/tower/mixed/conv/batchnorm'
    message = refused(synthetic_params, set_eps(name, eps))
    assert message == ('node {!r}: variance_epsilon is {}, expected a batch-norm epsilon '
                       'in (0, 1.0]'.format(name, shown))


@pytest.mark.parametrize('eps', [1e-8, 1.0])
def test_variance_epsilon_up_to_1_is_accepted_and_carried(synthetic_params, eps):
    graph = synthetic_graph.build_graph_def(synthetic_params, mutate=set_eps('conv_4/batchnorm',
                                                                             eps))
    assert convert_graph_def(graph)['bn_conv_4/eps'] == numpy.float32(eps)


@pytest.mark.parametrize('name, dtype', [('mixed/tower_1/conv_1/conv2d_params', tf.int32),
                                         ('mixed/conv/batchnorm/moving_variance', tf.int32),
                                         ('softmax/weights', tf.float64),
                                         ('conv/batchnorm/gamma', tf.float16)])
def test_weights_of_another_dtype_are_refused(synthetic_params, name, dtype):
    message = refused(synthetic_params, lambda g: set_value(g, name, lambda v: v, dtype=dtype))
    assert message == 'node {!r} has dtype {}, expected float32'.format(name, dtype.name)


def test_a_const_without_a_value_is_refused(synthetic_params):
    message = refused(synthetic_params,
                      lambda g: find(g, 'conv_1/batchnorm/beta').attr.pop('value'))
    assert message == "node 'conv_1/batchnorm/beta' has no attribute 'value'"


def test_a_corrupt_tensor_content_is_refused(synthetic_params):
    def mutate(graph_def):
        tensor = find(graph_def, 'mixed_2/conv/conv2d_params').attr['value'].tensor
        tensor.tensor_content = tensor.tensor_content[:-4]  # one float short
    message = refused(synthetic_params, mutate)
    assert message.startswith("node 'mixed_2/conv/conv2d_params': unreadable tensor (")


@pytest.mark.parametrize('name, attr, kind, value, shown', [
    ('mixed_6/conv/Conv2D', 'data_format', 's', b'NCHW', 'NCHW'),
    ('conv_2/Conv2D', 'dilations', 'list', [1, 2, 2, 1], [1, 2, 2, 1]),
    ('pool_1', 'data_format', 's', b'NCHW', 'NCHW'),
])
def test_a_conv_or_pool_with_another_layout_is_refused(synthetic_params, name, attr, kind,
                                                       value, shown):
    def mutate(graph_def):
        slot = find(graph_def, name).attr[attr]
        if kind == 'list':
            slot.list.i.extend(value)
        else:
            slot.s = value
    message = refused(synthetic_params, mutate)
    assert message == 'node {!r} has {}={!r}, expected {!r}'.format(
        name, attr, shown, 'NHWC' if attr == 'data_format' else [1, 1, 1, 1])


def test_strings_from_the_file_cannot_break_the_line(synthetic_params):
    def op(graph_def):
        find(graph_def, 'conv/Conv2D').op = 'Conv2D\nTraceback'
    assert refused(synthetic_params, op) == (
        "node 'conv/Conv2D' is a 'Conv2D\\nTraceback', expected Conv2D")

    def padding(graph_def):
        find(graph_def, 'conv_1/Conv2D').attr['padding'].s = b'VALID\n'
    assert refused(synthetic_params, padding) == (
        "node 'conv_1/Conv2D' has padding='VALID\\n', expected 'VALID'")


@pytest.mark.parametrize('attr', ['transpose_a', 'transpose_b'])
def test_a_transposing_matmul_is_refused(synthetic_params, attr):
    def mutate(graph_def):
        find(graph_def, 'softmax/logits/MatMul').attr[attr].b = True
    assert refused(synthetic_params, mutate) == (
        "node 'softmax/logits/MatMul' sets {}; the graph does not".format(attr))


def test_half_pixel_resize_is_refused(synthetic_params):
    def mutate(graph_def):
        find(graph_def, 'ResizeBilinear').attr['half_pixel_centers'].b = True
    assert refused(synthetic_params, mutate) == (
        "node 'ResizeBilinear' sets half_pixel_centers; the graph does not")


@pytest.mark.parametrize('data, message', [
    (b'\x1f\x8b\x08\x00 this is a gzip header, not a GraphDef',
     'not a TensorFlow GraphDef ('),
    (b'', 'the GraphDef holds no nodes: is it the right .pb file?'),
])
def test_bytes_that_are_no_graph_are_one_line(data, message):
    with pytest.raises(ConversionError) as info:
        parse_graph_def(data)
    assert str(info.value).startswith(message) and '\n' not in str(info.value)


def test_a_serialized_graph_parses_back(graph_def):
    parsed = parse_graph_def(graph_def.SerializeToString())
    assert [n.name for n in parsed.node] == [n.name for n in graph_def.node]


class _FailingImport:
    """A meta-path finder making `import tensorflow` raise `error` (as a broken install or a
    Ctrl-C during the slow import would)."""

    def __init__(self, error):
        self.error = error

    def find_spec(self, name, path=None, target=None):
        if name == 'tensorflow':
            raise self.error
        return None


@pytest.fixture
def tensorflow_import(monkeypatch):
    def fail_with(error):
        monkeypatch.delitem(sys.modules, 'tensorflow')
        monkeypatch.setattr(sys, 'meta_path', [_FailingImport(error)] + sys.meta_path)
    return fail_with


def test_tensorflow_absent_is_one_line_saying_how_to_install(tensorflow_import):
    tensorflow_import(ImportError('No module named tensorflow'))
    with pytest.raises(MissingDependencyError) as info:
        parse_graph_def(b'')
    assert str(info.value) == ('converting the TensorFlow graph needs tensorflow: pip install '
                               '"inception_score[convert]" (or pip install tensorflow-cpu)')


def test_a_broken_tensorflow_install_is_one_line(tensorflow_import):
    tensorflow_import(AttributeError("module 'numpy' has no attribute 'sctypes'\nmore"))
    with pytest.raises(MissingDependencyError) as info:
        convert._tf()
    assert str(info.value) == (
        "tensorflow is installed but fails to import (AttributeError: module 'numpy' has no "
        "attribute 'sctypes'): reinstall it with pip install \"inception_score[convert]\"")


def test_ctrl_c_during_the_tensorflow_import_stays_a_keyboard_interrupt(tensorflow_import):
    tensorflow_import(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        parse_graph_def(b'')
