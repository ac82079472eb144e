"""Inception (converted by our converter) against TensorFlow running the same synthetic graph."""
import numpy

from inception_score import inception_score, inception_score_from_logits
from conftest import FIDELITY_SIZES


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


def test_pool3_features_match_tensorflow(tf_outputs, chainer_outputs):
    assert _rel(chainer_outputs[0], tf_outputs[0]) <= 1e-3


def test_logits_match_tensorflow(tf_outputs, chainer_outputs):
    assert _rel(chainer_outputs[1], tf_outputs[1]) <= 1e-3


def test_score_matches_tensorflow_on_200_mixed_size_images(tf_outputs, chainer_outputs):
    ours = inception_score_from_logits(chainer_outputs[1], splits=10)
    theirs = inception_score_from_logits(tf_outputs[1], splits=10)
    assert abs(ours[0] - theirs[0]) <= 1e-4 * theirs[0]
    assert abs(ours[1] - theirs[1]) <= 1e-4 * theirs[0]


def test_inception_score_api_matches_tensorflow(model, fidelity_images, tf_outputs):
    group = fidelity_images[0]  # 32x32 images, as CIFAR-10
    n = FIDELITY_SIZES[0][0]
    ims = numpy.ascontiguousarray(group.transpose(0, 3, 1, 2))
    ours = inception_score(model, ims, batch_size=25, splits=4)
    theirs = inception_score_from_logits(tf_outputs[1][:n], splits=4)
    assert numpy.allclose(ours, theirs, rtol=1e-4, atol=0)


def test_logits_are_unbiased_and_softmax_covers_1008(model, fidelity_images, tf_outputs):
    x = numpy.ascontiguousarray(fidelity_images[1][:4].transpose(0, 3, 1, 2))
    n0 = FIDELITY_SIZES[0][0]
    logits = model.logits(x).array
    assert logits.shape == (4, 1008)
    assert _rel(logits, tf_outputs[1][n0:n0 + 4]) <= 1e-3
    probs = model(x).array
    assert numpy.allclose(probs.sum(1), 1, atol=1e-5)
    e = numpy.exp(logits.astype(numpy.float64) - logits.max(1, keepdims=True))
    assert numpy.allclose(probs, e / e.sum(1, keepdims=True), rtol=1e-4, atol=1e-7)
    assert numpy.array_equal(model(x, get_feature=True).array, model.features(x).array)


def test_a_converter_ignoring_scale_after_normalization_would_be_caught(
        model, synthetic_params, fidelity_images, tf_outputs):
    # The synthetic graph's gammas are random and some layers set the flag False: applying
    # gamma there anyway must move the logits far beyond the tolerance used above.
    x = numpy.ascontiguousarray(fidelity_images[0][:4].transpose(0, 3, 1, 2))
    wrong = model.copy(mode='copy')
    flagged = [name for name, p in synthetic_params.items()
               if isinstance(p, dict) and not p['scale']]
    assert flagged
    for name in flagged:
        wrong.unit(name)[1].gamma.array[...] = synthetic_params[name]['gamma']
    assert _rel(wrong.logits(x).array, tf_outputs[1][:4]) > 1e-2
    assert _rel(model.logits(x).array, tf_outputs[1][:4]) <= 1e-3


def test_plain_chainer_functions_agree_with_the_core(model, fidelity_images, tf_outputs,
                                                    chainer_outputs):
    # An independent forward pass (chainer.functions) against the core's GEMM kernels.
    import chainer_reference
    x = numpy.ascontiguousarray(fidelity_images[0][:6].transpose(0, 3, 1, 2))
    plain_logits = chainer_reference.logits(model, x)
    assert _rel(plain_logits, tf_outputs[1][:6]) <= 1e-3
    assert _rel(chainer_outputs[1][:6], plain_logits) <= 1e-4


def test_core_run_as_the_gpu_runs_it_matches_tensorflow(model_file, fidelity_images,
                                                        tf_outputs):
    # Batched, no threads, patches in large blocks: the GPU's code path, here with numpy.
    from inception_score import load_network
    network = load_network(model_file, mode='batched')
    x = [numpy.ascontiguousarray(g.transpose(0, 3, 1, 2)) for g in fidelity_images]
    out = [network.forward(g, ('pool_3', 'logits')) for g in x]
    feats = numpy.concatenate([o['pool_3'] for o in out])
    logits = numpy.concatenate([o['logits'] for o in out])
    assert _rel(feats, tf_outputs[0]) <= 1e-3
    assert _rel(logits, tf_outputs[1]) <= 1e-3
    ours = inception_score_from_logits(logits, splits=10)
    theirs = inception_score_from_logits(tf_outputs[1], splits=10)
    assert abs(ours[0] - theirs[0]) <= 1e-4 * theirs[0]
