"""The one topology table against the published layer table and the earlier port's layout."""
import collections
import os
import re

import pytest

from inception_score import topology

DATA = os.path.join(os.path.dirname(__file__), 'data')


def reference_rows():
    rows = {}
    with open(os.path.join(DATA, 'reference_layer_table.md')) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            if len(cells) < 8 or cells[0] in ('TF prefix',) or set(cells[0]) <= set('-'):
                continue
            rows[cells[0].strip('`')] = cells
    return rows


def shapes():
    """Output (H, W, C) of every conv, pool and join for a 299x299 input, from the table."""
    out = {}

    def size(n, k, s, padding):
        return n if padding == 'SAME' else (n - k) // s + 1

    def conv(unit, hwc):
        (kh, kw), (h, w, c) = unit.ksize, hwc
        assert c == unit.cin, unit.name
        out[unit.name] = (size(h, kh, unit.stride, unit.padding),
                          size(w, kw, unit.stride, unit.padding), unit.cout)
        return out[unit.name]

    def pool(layer, hwc):
        h, w, c = hwc
        out[layer.name] = (size(h, layer.ksize, layer.stride, layer.padding),
                           size(w, layer.ksize, layer.stride, layer.padding), c)
        return out[layer.name]

    def concat(block, hwcs):
        assert len({hwc[:2] for hwc in hwcs}) == 1, block.name
        out[block.name + '/join'] = hwcs[0][:2] + (sum(hwc[2] for hwc in hwcs),)
        return out[block.name + '/join']

    topology.walk((299, 299, 3), conv, pool, concat)
    return out


def test_every_layer_of_the_published_table_and_no_other():
    rows = reference_rows()
    ours = shapes()
    published = {name for name, cells in rows.items()
                 if cells[1].split()[0] in ('Conv2D+BN+Relu', 'MaxPool', 'AvgPool', 'Concat')}
    assert set(ours) == published


@pytest.mark.parametrize('layer', topology.convs() + topology.pools(), ids=lambda l: l.name)
def test_kernel_stride_padding_and_output_shape(layer):
    cells = reference_rows()[layer.name]
    op, kernel, stride, padding, output = cells[1:6]
    assert tuple(int(v) for v in output.split('x')) == shapes()[layer.name]
    assert int(stride) == layer.stride
    if isinstance(layer, topology.Conv):
        assert op == 'Conv2D+BN+Relu'
        assert kernel == 'x'.join(map(str, layer.ksize + (layer.cin, layer.cout)))
        if layer.ksize != (1, 1):  # 1x1: SAME and VALID are the same computation
            assert padding == layer.padding
    else:
        assert op == {'max': 'MaxPool', 'avg': 'AvgPool'}[layer.kind]
        assert kernel == '{0}x{0}'.format(layer.ksize)
        assert padding == layer.padding


def test_join_order_and_channels():
    rows = reference_rows()
    for block in topology.mixed_blocks():
        expected = rows[block.name + '/join'][5]
        assert tuple(int(v) for v in expected.split('x')) == shapes()[block.name + '/join']


def test_parameter_count_is_the_graphs():
    # summarize_graph on the real graph: 23,885,411 const parameters, 19 of them scalars and
    # small vectors outside the conv/BN/FC weights.
    n = sum(u.ksize[0] * u.ksize[1] * u.cin * u.cout + 4 * u.cout for u in topology.convs())
    n += topology.NUM_FEATURES * topology.NUM_CLASSES + topology.NUM_CLASSES
    assert n == 23885411 - 19
    assert len(topology.convs()) == 94
    kinds = collections.Counter(p.kind for p in topology.pools())
    assert kinds == {'avg': 9, 'max': 5}
    assert len(topology.mixed_blocks()) == 11


def test_link_paths_follow_the_earlier_port():
    rows = reference_rows()
    layout = {}
    with open(os.path.join(DATA, 'earlier-port-hdf5-layout.txt')) as f:
        for line in f:
            if not line.startswith('#'):
                path, shape = re.match(r'(\S+) \(([\d, ]*)\)', line).groups()
                layout[path] = tuple(int(v) for v in shape.replace(' ', '').split(',') if v)
    for unit in topology.convs():
        conv_path, bn_path = topology.link_paths(unit.name)
        hvy_conv, hvy_bn = [p.strip() for p in rows[unit.name][7].split('+')]
        assert conv_path == hvy_conv.replace('.', '/')
        assert bn_path == conv_path.rpartition('/')[0].lstrip('/') + \
            ('/' if '/' in conv_path else '') + hvy_bn.lstrip('.')
        kh, kw = unit.ksize
        assert layout[conv_path + '/W'] == (unit.cout, unit.cin, kh, kw)
        assert layout[bn_path + '/avg_var'] == (unit.cout,)
    assert layout['logit/W'] == (topology.NUM_CLASSES, topology.NUM_FEATURES)


def test_synthetic_graph_has_the_published_op_histogram(graph_def):
    # tensorflow/docs_src/mobile/optimizing.md, summarize_graph on this graph.
    published = {'Const': 489, 'CheckNumerics': 99, 'Identity': 99,
                 'BatchNormWithGlobalNormalization': 94, 'Conv2D': 94, 'Relu': 94,
                 'Concat': 11, 'AvgPool': 9, 'MaxPool': 5, 'Sub': 1, 'Softmax': 1,
                 'ResizeBilinear': 1, 'Reshape': 1, 'Mul': 1, 'MatMul': 1, 'ExpandDims': 1,
                 'DecodeJpeg': 1, 'Cast': 1, 'BiasAdd': 1}
    assert collections.Counter(n.op for n in graph_def.node) == published
    assert graph_def.versions.producer < 9
