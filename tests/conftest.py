"""Session fixtures: the synthetic graph, its archive, the converted model file and TensorFlow's
own outputs are built once and shared by the tests."""
import hashlib
import os
import shutil
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import numpy  # noqa: E402
import pytest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
import artifacts  # noqa: E402
import label_files  # noqa: E402
import synthetic_graph  # noqa: E402
from synthetic_graph import make_tgz  # noqa: E402,F401 (tests import it from here)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def oracle_missing(distribution, why):
    """Skip a comparison whose reference package is not installed, except where .ci/run says
    it must be there (INCEPTION_SCORE_ORACLES=1 in .venv): CI never skips a comparison."""
    message = '{} is not installed ({}; scripts/install-oracles.sh installs it)'.format(
        distribution, why)
    if os.environ.get('INCEPTION_SCORE_ORACLES') == '1':
        pytest.fail(message + ': .ci/run requires it', pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def signal_handlers_are_left_as_found():
    """A test that leaves SIGINT or SIGTERM handled otherwise than it found them fails here
    (and the handlers are put back), instead of some later test that relies on them."""
    import signal
    names = ('SIGINT', 'SIGTERM', 'SIGHUP')
    before = {name: signal.getsignal(getattr(signal, name)) for name in names}
    yield
    after = {name: signal.getsignal(getattr(signal, name)) for name in names}
    for name in names:
        signal.signal(getattr(signal, name), before[name])
    leaked = [name for name in names if after[name] != before[name]]
    assert not leaked, 'the test left {} handled by {}'.format(
        ', '.join(leaked), ', '.join(repr(after[name]) for name in leaked))


# (count, height, width): upsampled, 299 (no resize), non-square, downsampled; 200 in all.
FIDELITY_SIZES = ((64, 32, 32), (48, 64, 64), (24, 299, 299), (32, 48, 80), (32, 360, 320))


# What the synthetic weights, graph and archive are made from (see artifacts.py): the generator's
# code and TensorFlow's arithmetic.
GRAPH_PARTS = (artifacts.Source('tests/synthetic_graph.py', 'bench/synthetic_weights.py',
                                'tests/label_files.py', 'inception_score/topology.py'),
               artifacts.dist_version('tensorflow-cpu', 'tensorflow'), 'seed 0')


def _params_to_arrays(params):
    flat = {}
    for name, value in params.items():
        if isinstance(value, dict):
            for field, a in value.items():
                flat['{}|{}'.format(name, field)] = numpy.asarray(a)
        else:
            flat[name] = value
    return flat


def _params_from_arrays(flat):
    params = {}
    for key, a in flat.items():
        if '|' not in key:
            params[key] = a
            continue
        name, field = key.split('|')
        value = bool(a) if field == 'scale' else float(a) if field == 'eps' else a
        params.setdefault(name, {})[field] = value
    return params


@pytest.fixture(scope='session')
def synthetic_params():
    def build():
        return _params_to_arrays(synthetic_graph.calibrated_params(seed=0))
    return _params_from_arrays(artifacts.cached_arrays('params', GRAPH_PARTS, build))


def _graph_pb(synthetic_params):
    """Path of the cached serialized synthetic graph."""
    def build(path):
        with open(path, 'wb') as f:
            f.write(synthetic_graph.build_graph_def(synthetic_params).SerializeToString())
    return artifacts.cached_file('graph', GRAPH_PARTS, build, '.pb')


@pytest.fixture(scope='session')
def graph_def(synthetic_params):
    import tensorflow as tf
    with open(_graph_pb(synthetic_params), 'rb') as f:
        return tf.compat.v1.GraphDef.FromString(f.read())


@pytest.fixture(scope='session')
def graph_files(synthetic_params, tmp_path_factory):
    """The synthetic graph as a bare .pb and as a .tgz laid out like inception-2015-12-05.tgz,
    with label files in the official formats (so the model file has class names). Copies of
    the cached files: tests may write beside them."""
    cached_pb = _graph_pb(synthetic_params)

    def build(path):
        with open(cached_pb, 'rb') as f:
            data = f.read()
        synthetic_graph.make_tgz(path, synthetic_graph.archive_members(data))
    cached_tgz = artifacts.cached_file('archive', GRAPH_PARTS, build, '.tgz')
    d = tmp_path_factory.mktemp('graph')
    pb, tgz = d / 'classify_image_graph_def.pb', d / 'inception-2015-12-05.tgz'
    shutil.copyfile(cached_pb, str(pb))
    shutil.copyfile(cached_tgz, str(tgz))
    return {'pb': str(pb), 'tgz': str(tgz), 'bytes': pb.read_bytes()}


@pytest.fixture(scope='session')
def class_names():
    """The 1008 names the session archive's label files give (see label_files.py)."""
    _, _, mapping, words = label_files.synthetic_labels()
    return [words[mapping[i]] if i in mapping else 'class {} (no ImageNet synset)'.format(i)
            for i in range(1008)]


@pytest.fixture(scope='session')
def model_file(graph_files, tmp_path_factory):
    """The archive converted by our converter (download.py --graph). Kept in the cache keyed by
    the archive and the package's code, so the second CI environment reads the first's
    conversion; test_download.py and test_convert.py convert afresh in each."""
    from inception_score.weights import build_model_file
    with open(graph_files['tgz'], 'rb') as f:
        archive = hashlib.sha256(f.read()).digest()
    cached = artifacts.cached_file(
        'model', (archive, artifacts.Source('inception_score'), GRAPH_PARTS[1]),
        lambda path: build_model_file(path, graph=graph_files['tgz'], progress=False,
                                      log=lambda m: None), '.model')
    path = tmp_path_factory.mktemp('model') / 'inception_score.model'
    shutil.copyfile(cached, str(path))
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
def tf_outputs(synthetic_params, graph_def, fidelity_images):
    """TensorFlow's pool_3 features and bias-free logits for every group, concatenated."""
    def build():
        outs = [synthetic_graph.run_graph_def(graph_def, group) for group in fidelity_images]
        return {'pool_3': numpy.concatenate([f for f, _ in outs]),
                'logits': numpy.concatenate([l for _, l in outs])}
    out = artifacts.cached_arrays('tf-outputs', GRAPH_PARTS + (
        list(fidelity_images), artifacts.Source('tests/synthetic_graph.py')), build)
    return out['pool_3'], out['logits']


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
