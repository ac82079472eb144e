"""The core network (converted by our converter) against TensorFlow running the same synthetic
graph. No Chainer here: this runs in both CI environments."""
import numpy
import pytest

from inception_score import inception_score, inception_score_from_logits
from conftest import FIDELITY_SIZES

pytestmark = pytest.mark.slow  # TensorFlow's outputs and 200 images through the network


def _rel(a, b):
    return numpy.abs(a - b).max() / numpy.abs(b).max()


def test_synthetic_graph_is_informative(tf_outputs):
    # A useless graph (every image in one class) would make every comparison below vacuous.
    _, logits = tf_outputs
    assert len(logits) >= 200
    assert logits.std() > 1.0
    assert len(numpy.unique(logits.argmax(1))) > 40
    mean, _ = inception_score_from_logits(logits, splits=10)
    assert mean > 2.0


def test_pool3_features_match_tensorflow(tf_outputs, core_outputs):
    assert _rel(core_outputs[0], tf_outputs[0]) <= 1e-3


def test_logits_match_tensorflow(tf_outputs, core_outputs):
    assert _rel(core_outputs[1], tf_outputs[1]) <= 1e-3


def test_score_matches_tensorflow_on_200_mixed_size_images(tf_outputs, core_outputs):
    ours = inception_score_from_logits(core_outputs[1], splits=10)
    theirs = inception_score_from_logits(tf_outputs[1], splits=10)
    assert abs(ours[0] - theirs[0]) <= 1e-4 * theirs[0]
    assert abs(ours[1] - theirs[1]) <= 1e-4 * theirs[0]


def test_inception_score_api_matches_tensorflow(network, fidelity_images, tf_outputs):
    group = fidelity_images[0]  # 32x32 images, as CIFAR-10
    n = FIDELITY_SIZES[0][0]
    ims = numpy.ascontiguousarray(group.transpose(0, 3, 1, 2))
    ours = inception_score(network, ims, batch_size=25, splits=4)
    theirs = inception_score_from_logits(tf_outputs[1][:n], splits=4)
    assert numpy.allclose(ours, theirs, rtol=1e-4, atol=0)


def test_core_run_as_the_gpu_runs_it_matches_tensorflow(model_file, fidelity_images,
                                                        tf_outputs):
    # Batched, no threads, patches in large blocks: the GPU's code path, here with numpy.
    # The first 16 images of every size group: 16 images at 299x299 still need several
    # 256 MiB patch blocks in the large layers (147x147x288 patches: 398 MiB), so the blocked
    # path is exercised; the claim is per image and does not depend on the count.
    from inception_score import load_network
    network = load_network(model_file, mode='batched')
    count = 16
    x = [numpy.ascontiguousarray(g[:count].transpose(0, 3, 1, 2)) for g in fidelity_images]
    chosen = numpy.concatenate([numpy.arange(start, start + count) for start in
                                numpy.cumsum([0] + [n for n, _, _ in FIDELITY_SIZES[:-1]])])
    out = [network.forward(g, ('pool_3', 'logits')) for g in x]
    feats = numpy.concatenate([o['pool_3'] for o in out])
    logits = numpy.concatenate([o['logits'] for o in out])
    assert _rel(feats, tf_outputs[0][chosen]) <= 1e-3
    assert _rel(logits, tf_outputs[1][chosen]) <= 1e-3
    ours = inception_score_from_logits(logits, splits=10)
    theirs = inception_score_from_logits(tf_outputs[1][chosen], splits=10)
    assert abs(ours[0] - theirs[0]) <= 1e-4 * theirs[0]
