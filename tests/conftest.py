"""Session fixtures: the synthetic graph, its archive, the converted model file and TensorFlow's
own outputs are built once and shared by the tests."""
import io
import os
import sys
import tarfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import numpy  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import label_files  # noqa: E402
import synthetic_graph  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (count, height, width): upsampled, 299 (no resize), non-square, downsampled; 200 in all.
FIDELITY_SIZES = ((64, 32, 32), (48, 64, 64), (24, 299, 299), (32, 48, 80), (32, 360, 320))


@pytest.fixture(scope='session')
def synthetic_params():
    return synthetic_graph.calibrated_params(seed=0)


@pytest.fixture(scope='session')
def graph_def(synthetic_params):
    return synthetic_graph.build_graph_def(synthetic_params)


@pytest.fixture(scope='session')
def graph_files(graph_def, tmp_path_factory):
    """The synthetic graph as a bare .pb and as a .tgz laid out like inception-2015-12-05.tgz,
    with label files in the official formats (so the model file has class names)."""
    d = tmp_path_factory.mktemp('graph')
    data = graph_def.SerializeToString()
    pb = d / 'classify_image_graph_def.pb'
    pb.write_bytes(data)
    tgz = d / 'inception-2015-12-05.tgz'
    label_map, synset_words, _, _ = label_files.synthetic_labels()
    make_tgz(tgz, {'classify_image_graph_def.pb': data,
                   'imagenet_2012_challenge_label_map_proto.pbtxt': label_map,
                   'imagenet_synset_to_human_label_map.txt': synset_words,
                   'LICENSE': b'synthetic test archive\n'})
    return {'pb': str(pb), 'tgz': str(tgz), 'bytes': data}


@pytest.fixture(scope='session')
def class_names():
    """The 1008 names the session archive's label files give (see label_files.py)."""
    _, _, mapping, words = label_files.synthetic_labels()
    return [words[mapping[i]] if i in mapping else 'class {} (no ImageNet synset)'.format(i)
            for i in range(1008)]


def make_tgz(path, members):
    with tarfile.open(str(path), 'w:gz', compresslevel=1) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope='session')
def model_file(graph_files, tmp_path_factory):
    from inception_score.weights import build_model_file
    path = tmp_path_factory.mktemp('model') / 'inception_score.model'
    build_model_file(str(path), graph=graph_files['tgz'], progress=False, log=lambda m: None)
    return str(path)


@pytest.fixture(scope='session')
def network(model_file):
    """The core network (numpy, no Chainer) with the converted synthetic weights."""
    from inception_score import load_network
    return load_network(model_file)


@pytest.fixture(scope='session')
def model(model_file):
    """The Chainer `Inception` with the same weights (tests using it need Chainer)."""
    pytest.importorskip('chainer')
    from inception_score import load_model
    return load_model(model_file)


@pytest.fixture(scope='session')
def fidelity_images():
    """Groups of NHWC float32 images in [0, 255], one group per size."""
    rng = numpy.random.RandomState(123)
    return [synthetic_graph.smooth_images(rng, n, h, w) for n, h, w in FIDELITY_SIZES]


@pytest.fixture(scope='session')
def tf_outputs(graph_def, fidelity_images):
    """TensorFlow's pool_3 features and bias-free logits for every group, concatenated."""
    outs = [synthetic_graph.run_graph_def(graph_def, group) for group in fidelity_images]
    return (numpy.concatenate([f for f, _ in outs]),
            numpy.concatenate([l for _, l in outs]))


@pytest.fixture(scope='session')
def core_outputs(network, fidelity_images):
    """The core's pool_3 features and logits for every group, in one pass each."""
    feats, logits = [], []
    for group in fidelity_images:
        x = numpy.ascontiguousarray(group.transpose(0, 3, 1, 2))
        for i in range(0, len(x), 50):
            out = network.forward(x[i:i + 50], ('pool_3', 'logits'))
            feats.append(out['pool_3'])
            logits.append(out['logits'])
    return numpy.concatenate(feats), numpy.concatenate(logits)
