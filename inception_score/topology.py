"""The inception-2015-12-05 graph (classify_image_graph_def.pb), written down once.

The `Inception` chain, the GraphDef converter, the HDF5 layout and the tests' synthetic graph all
read this table, so a name, a shape or a branch order can only be wrong in one place.
Names are the TF node prefixes of the original graph; shapes are TF's (kh, kw, cin, cout).
"""
import collections

# A conv unit of the graph: P/Conv2D (no bias) -> P/batchnorm (BatchNormWithGlobalNormalization)
# -> P (Relu). `ksize` is (kh, kw); padding is TF's 'SAME' or 'VALID'.
Conv = collections.namedtuple('Conv', 'name ksize cin cout stride padding')
# kind is 'max' or 'avg'; TF's SAME AvgPool divides by the in-bounds count.
Pool = collections.namedtuple('Pool', 'name kind ksize stride padding')
# Parallel branches whose outputs are concatenated on channels by the node `<name>/join`.
Mixed = collections.namedtuple('Mixed', 'name branches')
# Last op of a branch that splits into parallel leaves joined directly by the enclosing Mixed
# (mixed_9 and mixed_10: their `.../mixed` scopes have no Concat of their own).
Fork = collections.namedtuple('Fork', 'branches')

INPUT_SIZE = 299
NUM_FEATURES = 2048
NUM_CLASSES = 1008
FEATURE_NODE = 'pool_3'
LOGIT_WEIGHTS = 'softmax/weights'
LOGIT_BIASES = 'softmax/biases'  # in the graph, deliberately unused by the reference score
# The graph's preprocessing: ResizeBilinear to 299x299, then (x - 128) * (1 / 128).
PREPROCESS_CONSTS = {'ResizeBilinear/size': (INPUT_SIZE, INPUT_SIZE),
                     'Sub/y': 128.0, 'Mul/y': 0.0078125}
INPUT_NODE = 'Mul'  # the tensor conv/Conv2D reads
GRAPH_EPS = 0.001  # every batch norm's variance_epsilon in the released graph


def _conv(name, ksize, cin, cout, stride=1, padding='SAME'):
    if isinstance(ksize, int):
        ksize = (ksize, ksize)
    return Conv(name, tuple(ksize), cin, cout, stride, padding)


def _block_a(name, cin, pool_out):
    """mixed, mixed_1, mixed_2 (35x35)."""
    return Mixed(name, (
        (_conv(name + '/conv', 1, cin, 64),),
        (_conv(name + '/tower/conv', 1, cin, 48),
         _conv(name + '/tower/conv_1', 5, 48, 64)),
        (_conv(name + '/tower_1/conv', 1, cin, 64),
         _conv(name + '/tower_1/conv_1', 3, 64, 96),
         _conv(name + '/tower_1/conv_2', 3, 96, 96)),
        (Pool(name + '/tower_2/pool', 'avg', 3, 1, 'SAME'),
         _conv(name + '/tower_2/conv', 1, cin, pool_out)),
    ))


def _block_b(name):
    """mixed_3: 35x35 -> 17x17."""
    return Mixed(name, (
        (_conv(name + '/conv', 3, 288, 384, 2, 'VALID'),),
        (_conv(name + '/tower/conv', 1, 288, 64),
         _conv(name + '/tower/conv_1', 3, 64, 96),
         _conv(name + '/tower/conv_2', 3, 96, 96, 2, 'VALID')),
        (Pool(name + '/pool', 'max', 3, 2, 'VALID'),),
    ))


def _block_c(name, c7):
    """mixed_4 .. mixed_7 (17x17, factorised 7x7)."""
    t, t1 = name + '/tower/', name + '/tower_1/'
    return Mixed(name, (
        (_conv(name + '/conv', 1, 768, 192),),
        (_conv(t + 'conv', 1, 768, c7),
         _conv(t + 'conv_1', (1, 7), c7, c7),
         _conv(t + 'conv_2', (7, 1), c7, 192)),
        (_conv(t1 + 'conv', 1, 768, c7),
         _conv(t1 + 'conv_1', (7, 1), c7, c7),
         _conv(t1 + 'conv_2', (1, 7), c7, c7),
         _conv(t1 + 'conv_3', (7, 1), c7, c7),
         _conv(t1 + 'conv_4', (1, 7), c7, 192)),
        (Pool(name + '/tower_2/pool', 'avg', 3, 1, 'SAME'),
         _conv(name + '/tower_2/conv', 1, 768, 192)),
    ))


def _block_d(name):
    """mixed_8: 17x17 -> 8x8."""
    t, t1 = name + '/tower/', name + '/tower_1/'
    return Mixed(name, (
        (_conv(t + 'conv', 1, 768, 192),
         _conv(t + 'conv_1', 3, 192, 320, 2, 'VALID')),
        (_conv(t1 + 'conv', 1, 768, 192),
         _conv(t1 + 'conv_1', (1, 7), 192, 192),
         _conv(t1 + 'conv_2', (7, 1), 192, 192),
         _conv(t1 + 'conv_3', 3, 192, 192, 2, 'VALID')),
        (Pool(name + '/pool', 'max', 3, 2, 'VALID'),),
    ))


def _block_e(name, cin, pool_kind):
    """mixed_9, mixed_10 (8x8). mixed_10's pool branch is a max pool in the graph."""
    t, t1 = name + '/tower/', name + '/tower_1/'

    def split(scope):
        return Fork(((_conv(scope + 'mixed/conv', (1, 3), 384, 384),),
                     (_conv(scope + 'mixed/conv_1', (3, 1), 384, 384),)))

    return Mixed(name, (
        (_conv(name + '/conv', 1, cin, 320),),
        (_conv(t + 'conv', 1, cin, 384), split(t)),
        (_conv(t1 + 'conv', 1, cin, 448),
         _conv(t1 + 'conv_1', 3, 448, 384), split(t1)),
        (Pool(name + '/tower_2/pool', pool_kind, 3, 1, 'SAME'),
         _conv(name + '/tower_2/conv', 1, cin, 192)),
    ))


# From the preprocessed 299x299x3 input (node `Mul`) to pool_3 (N, 2048, 1, 1).
LAYERS = (
    _conv('conv', 3, 3, 32, 2, 'VALID'),
    _conv('conv_1', 3, 32, 32, 1, 'VALID'),
    _conv('conv_2', 3, 32, 64, 1, 'SAME'),
    Pool('pool', 'max', 3, 2, 'VALID'),
    _conv('conv_3', 1, 64, 80, 1, 'VALID'),
    _conv('conv_4', 3, 80, 192, 1, 'VALID'),
    Pool('pool_1', 'max', 3, 2, 'VALID'),
    _block_a('mixed', 192, 32),
    _block_a('mixed_1', 256, 64),
    _block_a('mixed_2', 288, 64),
    _block_b('mixed_3'),
    _block_c('mixed_4', 128),
    _block_c('mixed_5', 160),
    _block_c('mixed_6', 160),
    _block_c('mixed_7', 192),
    _block_d('mixed_8'),
    _block_e('mixed_9', 1280, 'avg'),
    _block_e('mixed_10', 2048, 'max'),
    Pool(FEATURE_NODE, 'avg', 8, 1, 'VALID'),
)


def walk(x, conv, pool, concat, layers=LAYERS):
    """Run `layers` on `x` with the given operations.

    conv(Conv, x), pool(Pool, x) and concat(Mixed, [x, ...]) return the next value: arrays for
    the network, node names for the converter's wiring check, shapes for the tests.
    """
    for layer in layers:
        x = _apply(layer, x, conv, pool, concat)
    return x


def _apply(layer, x, conv, pool, concat):
    if isinstance(layer, Conv):
        return conv(layer, x)
    if isinstance(layer, Pool):
        return pool(layer, x)
    leaves = []
    for branch in layer.branches:
        leaves.extend(_branch(branch, x, conv, pool, concat))
    return concat(layer, leaves)


def _branch(ops, x, conv, pool, concat):
    for op in ops:
        if isinstance(op, Fork):
            return [leaf for sub in op.branches
                    for leaf in _branch(sub, x, conv, pool, concat)]
        x = _apply(op, x, conv, pool, concat)
    return [x]


def iter_layers(layers=LAYERS):
    """Every Conv and Pool in graph order."""
    for layer in layers:
        if isinstance(layer, Mixed):
            for branch in layer.branches:
                yield from _iter_branch(branch)
        else:
            yield layer


def _iter_branch(ops):
    for op in ops:
        if isinstance(op, Fork):
            for sub in op.branches:
                yield from _iter_branch(sub)
        elif isinstance(op, Mixed):
            yield from iter_layers((op,))
        else:
            yield op


def convs():
    return [layer for layer in iter_layers() if isinstance(layer, Conv)]


def pools():
    return [layer for layer in iter_layers() if isinstance(layer, Pool)]


def mixed_blocks():
    return [layer for layer in LAYERS if isinstance(layer, Mixed)]


def link_paths(conv_name):
    """HDF5/link paths (conv, batch norm) of a conv unit, in the earlier Chainer port's layout.

    That port kept each tower as one chain holding conv, bn_conv, conv_1, bn_conv_1, ...; a conv
    sitting directly in a mixed block (or in a `.../mixed` fork) got a one-conv chain of its own:
    'mixed/tower/conv_1' -> ('mixed/tower/conv_1', 'mixed/tower/bn_conv_1'),
    'mixed/conv' -> ('mixed/conv/conv', 'mixed/conv/bn_conv').
    """
    parent, _, base = conv_name.rpartition('/')
    if parent == '' or parent.rpartition('/')[2].startswith('tower'):
        holder = parent
    else:
        holder = conv_name
    prefix = holder + '/' if holder else ''
    return prefix + base, prefix + 'bn_' + base


def padding_amount(layer):
    """Symmetric (ph, pw) for TF padding; SAME occurs only with stride 1 and odd kernels here."""
    kh, kw = (layer.ksize if isinstance(layer.ksize, tuple)
              else (layer.ksize, layer.ksize))
    if layer.padding == 'VALID':
        return 0, 0
    assert layer.stride == 1 and kh % 2 == 1 and kw % 2 == 1, layer
    return (kh - 1) // 2, (kw - 1) // 2


def unit_arrays(unit):
    """HDF5 dataset paths of a conv unit's arrays: {'W': path, 'gamma': path, ...}."""
    conv_path, bn_path = link_paths(unit.name)
    names = {'W': conv_path + '/W'}
    names.update({k: bn_path + '/' + k for k in ('gamma', 'beta', 'avg_mean', 'avg_var', 'eps')})
    return names


def expected_arrays():
    """Every array of a model file: {HDF5 path: shape}, in graph order.

    This is the layout `chainer.serializers.save_hdf5` gives the `Inception` chain (and the
    earlier port's, which adds conv biases and a logit bias, and lacks `eps`): conv weights
    are (cout, cin, kh, kw); `eps` is each batch norm's variance_epsilon, a scalar.
    """
    shapes = {}
    for unit in convs():
        kh, kw = unit.ksize
        names = unit_arrays(unit)
        shapes[names['W']] = (unit.cout, unit.cin, kh, kw)
        for key in ('gamma', 'beta', 'avg_mean', 'avg_var'):
            shapes[names[key]] = (unit.cout,)
        shapes[names['eps']] = ()
    shapes[LOGIT_W] = (NUM_CLASSES, NUM_FEATURES)
    return shapes


LOGIT_W = 'logit/W'  # the bias-free logit layer's weights, (1008, 2048) as Chainer stores them
