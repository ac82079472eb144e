"""A synthetic classify_image_graph_def.pb: the real graph's nodes, ops, attributes and shapes,
with random weights calibrated so that the score is far from 1 and every layer matters.

Built NodeDef by NodeDef (the graph uses BatchNormWithGlobalNormalization, removed from GraphDef
version 9, so it cannot be built with Python ops; `versions.producer` stays unset).
"""
import io
import os
import sys
import tarfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import numpy  # noqa: E402
import tensorflow as tf  # noqa: E402

from inception_score import topology  # noqa: E402

# One image generator for the tests and the benchmarks (bench/ holds it: it must run alone).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'bench'))
from synthetic_weights import smooth_images_nhwc as smooth_images  # noqa: E402,F401


def noise_png_folder(folder, n, seed, size=16):
    """`n` size x size PNGs of uniform noise from RandomState(seed), named 0.png, 1.png, ...,
    written into `folder`; returns it as a str. For tests where the images are not the point."""
    from PIL import Image
    rng = numpy.random.RandomState(seed)
    for i in range(n):
        Image.fromarray(rng.randint(0, 256, (size, size, 3)).astype(numpy.uint8)).save(
            os.path.join(str(folder), '{}.png'.format(i)))
    return str(folder)


# Two cases are exercised on purpose: some layers ignore gamma (scale_after_normalization=False)
# and some use a variance_epsilon other than the released graph's 0.001.
def _bn_attrs(index):
    scale = index % 3 != 1
    eps = 0.001 if index % 4 else 0.01
    return scale, eps




def _calibrate(rng, groups):
    """Random weights whose batch-norm statistics are those of the images (TF eager ops)."""
    x = tf.concat([tf.compat.v1.image.resize_bilinear(g, (299, 299)) for g in groups], 0)
    x = (x - 128.0) * 0.0078125
    params = {}
    counter = iter(range(10 ** 6))

    def conv(unit, h):
        kh, kw = unit.ksize
        w = rng.normal(0, numpy.sqrt(2.0 / (kh * kw * unit.cin)),
                       (kh, kw, unit.cin, unit.cout)).astype(numpy.float32)
        y = tf.nn.conv2d(h, w, unit.stride, unit.padding)
        mean, var = tf.nn.moments(y, axes=[0, 1, 2])
        scale, eps = _bn_attrs(next(counter))
        gamma = (1 + rng.normal(0, 0.2, unit.cout)).astype(numpy.float32)
        beta = rng.normal(0, 0.2, unit.cout).astype(numpy.float32)
        # Moving statistics near the measured ones, so no layer saturates or dies.
        mean = mean.numpy() + rng.normal(0, 0.05, unit.cout) * numpy.sqrt(var.numpy())
        var = var.numpy() * rng.uniform(0.8, 1.25, unit.cout)
        params[unit.name] = dict(w=w, gamma=gamma, beta=beta, scale=scale, eps=eps,
                                 mean=mean.astype(numpy.float32),
                                 var=var.astype(numpy.float32))
        effective_gamma = gamma if scale else numpy.ones_like(gamma)
        return tf.nn.relu(tf.nn.batch_normalization(
            y, params[unit.name]['mean'], params[unit.name]['var'], beta, effective_gamma,
            eps))

    def pool(layer, h):
        fn = tf.nn.max_pool2d if layer.kind == 'max' else tf.nn.avg_pool2d
        return fn(h, layer.ksize, layer.stride, layer.padding)

    feats = topology.walk(x, conv, pool, lambda block, hs: tf.concat(hs, 3))
    feats = feats.numpy().reshape(-1, topology.NUM_FEATURES).astype(numpy.float64)
    # Head: remove the direction of the mean feature (which would send every image to one
    # class), then scale the logits (the test images, more varied than these, land at a std
    # of about 4-5 units).
    w = rng.normal(0, 1, (topology.NUM_FEATURES, topology.NUM_CLASSES))
    u = feats.mean(0) / numpy.linalg.norm(feats.mean(0))
    w -= numpy.outer(u, u @ w)
    w *= 1.5 / (feats @ w).std()
    params['softmax/weights'] = w.astype(numpy.float32)
    params['softmax/biases'] = rng.normal(0, 3, topology.NUM_CLASSES).astype(numpy.float32)
    return params


class _Builder:
    def __init__(self):
        self.graph_def = tf.compat.v1.GraphDef()

    def node(self, name, op, inputs=(), **attrs):
        node = self.graph_def.node.add()
        node.name, node.op = name, op
        node.input.extend(inputs)
        for key, value in attrs.items():
            node.attr[key].CopyFrom(value)
        return name

    def const(self, name, value, dtype=tf.float32):
        tensor = tf.make_tensor_proto(value, dtype=dtype)
        return self.node(name, 'Const', value=_attr(tensor=tensor), dtype=_attr(type=dtype))


def _attr(**kwargs):
    if 'type' in kwargs:
        return tf.compat.v1.AttrValue(type=kwargs['type'].as_datatype_enum)
    if 'list_ints' in kwargs:
        return tf.compat.v1.AttrValue(list=tf.compat.v1.AttrValue.ListValue(
            i=kwargs['list_ints']))
    return tf.compat.v1.AttrValue(**kwargs)


T = _attr(type=tf.float32)


def build_graph_def(params, mutate=None):
    """GraphDef of classify_image_graph_def.pb with `params` (from `calibrated_params`)."""
    b = _Builder()
    b.const('DecodeJpeg/contents', b'\xff\xd8not-a-real-jpeg', tf.string)
    b.node('DecodeJpeg', 'DecodeJpeg', ['DecodeJpeg/contents'], channels=_attr(i=3),
           acceptable_fraction=_attr(f=1.0), fancy_upscaling=_attr(b=True), ratio=_attr(i=1),
           try_recover_truncated=_attr(b=False))
    b.node('Cast', 'Cast', ['DecodeJpeg'], SrcT=_attr(type=tf.uint8), DstT=T)
    b.const('ExpandDims/dim', 0, tf.int32)
    b.node('ExpandDims', 'ExpandDims', ['Cast', 'ExpandDims/dim'], T=T,
           Tdim=_attr(type=tf.int32))
    b.const('ResizeBilinear/size', [299, 299], tf.int32)
    b.node('ResizeBilinear', 'ResizeBilinear', ['ExpandDims', 'ResizeBilinear/size'], T=T,
           align_corners=_attr(b=False))
    b.const('Sub/y', 128.0)
    b.node('Sub', 'Sub', ['ResizeBilinear', 'Sub/y'], T=T)
    b.const('Mul/y', 0.0078125)
    b.node('Mul', 'Mul', ['Sub', 'Mul/y'], T=T)

    def guarded(name, tensor):
        # The graph guards tensors with CheckNumerics and an Identity carrying a control edge.
        b.node(name + '/CheckNumerics', 'CheckNumerics', [tensor], T=T,
               message=_attr(s=b'check'))
        return b.node(name + '/control_dependency', 'Identity',
                      [tensor, '^' + name + '/CheckNumerics'], T=T)

    def conv(unit, x):
        p = params[unit.name]
        P = unit.name
        w = b.const(P + '/conv2d_params', p['w'])
        b.node(P + '/Conv2D', 'Conv2D', [x, w], T=T,
               strides=_attr(list_ints=[1, unit.stride, unit.stride, 1]),
               padding=_attr(s=unit.padding.encode()), use_cudnn_on_gpu=_attr(b=True))
        names = [b.const(P + '/batchnorm/' + k, p[key])
                 for k, key in (('moving_mean', 'mean'), ('moving_variance', 'var'),
                                ('beta', 'beta'), ('gamma', 'gamma'))]
        b.node(P + '/batchnorm', 'BatchNormWithGlobalNormalization', [P + '/Conv2D'] + names,
               T=T, variance_epsilon=_attr(f=p['eps']),
               scale_after_normalization=_attr(b=p['scale']))
        return b.node(P, 'Relu', [guarded(P, P + '/batchnorm')], T=T)

    def pool(layer, x):
        if layer.kind == 'max':
            x = guarded(layer.name, x)
        op = 'MaxPool' if layer.kind == 'max' else 'AvgPool'
        k, s = layer.ksize, layer.stride
        return b.node(layer.name, op, [x], T=T, ksize=_attr(list_ints=[1, k, k, 1]),
                      strides=_attr(list_ints=[1, s, s, 1]),
                      padding=_attr(s=layer.padding.encode()))

    def concat(block, xs):
        dim = b.const(block.name + '/join/concat_dim', 3, tf.int32)
        return b.node(block.name + '/join', 'Concat', [dim] + list(xs), N=_attr(i=len(xs)),
                      T=T)

    pool3 = topology.walk('Mul', conv, pool, concat)
    b.const('pool_3/_reshape/shape', [1, 2048], tf.int32)
    b.node('pool_3/_reshape', 'Reshape', [pool3, 'pool_3/_reshape/shape'], T=T,
           Tshape=_attr(type=tf.int32))
    b.const('softmax/weights', params['softmax/weights'])
    b.node('softmax/logits/MatMul', 'MatMul', ['pool_3/_reshape', 'softmax/weights'], T=T,
           transpose_a=_attr(b=False), transpose_b=_attr(b=False))
    b.const('softmax/biases', params['softmax/biases'])
    b.node('softmax/logits', 'BiasAdd', ['softmax/logits/MatMul', 'softmax/biases'], T=T)
    b.node('softmax', 'Softmax', ['softmax/logits'], T=T)
    if mutate is not None:
        mutate(b.graph_def)
    return b.graph_def


def calibrated_params(seed=0, sizes=((6, 32, 32), (4, 64, 64), (3, 299, 299), (3, 48, 80))):
    """Calibrated weights; the calibration images have the kinds of sizes the tests use."""
    rng = numpy.random.RandomState(seed)
    return _calibrate(rng, [smooth_images(rng, n, h, w) for n, h, w in sizes])


def run_graph_def(graph_def, images_nhwc, batch_size=50, input_name='ExpandDims:0'):
    """TensorFlow's own pool_3 features and bias-free logits, fed at ExpandDims:0 like the
    reference (through input_map, which accepts batches); input_name='ResizeBilinear:0'
    feeds 299x299 images already resized, to the graph from its Sub node on."""
    feats, logits = [], []
    with tf.Graph().as_default() as graph:
        ph = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
        tf.import_graph_def(graph_def, name='', input_map={input_name: ph})
        pool3 = graph.get_tensor_by_name('pool_3:0')
        w = graph.get_operation_by_name('softmax/logits/MatMul').inputs[1]
        logit = tf.matmul(tf.squeeze(pool3, [1, 2]), w)
        with tf.compat.v1.Session(graph=graph) as sess:
            for i in range(0, len(images_nhwc), batch_size):
                f, l = sess.run([pool3, logit], {ph: images_nhwc[i:i + batch_size]})
                feats.append(f.reshape(len(f), -1))
                logits.append(l)
    return numpy.concatenate(feats), numpy.concatenate(logits)


def archive_members(graph_bytes):
    """The members of inception-2015-12-05.tgz around a graph: the label files in the official
    formats (so the model file has class names) and a licence."""
    import label_files
    label_map, synset_words, _, _ = label_files.synthetic_labels()
    return {'classify_image_graph_def.pb': graph_bytes,
            'imagenet_2012_challenge_label_map_proto.pbtxt': label_map,
            'imagenet_synset_to_human_label_map.txt': synset_words,
            'LICENSE': b'synthetic test archive\n'}


def make_tgz(path, members):
    with tarfile.open(str(path), 'w:gz', compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
