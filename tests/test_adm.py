"""ADM evaluator numbers against a transcription of guided-diffusion's evaluator.py run with
TensorFlow (tests/adm_reference.py): the float16 distance step, radii, precision/recall, the
spatial features, the Inception Score in parts of a fixed size."""
import numpy as np
import pytest
import tensorflow as tf

import adm_reference as ref
from inception_score import adm
from inception_score.errors import InputError
from inception_score.fid import frechet_distance
from inception_score.score import inception_score_from_logits


def tf_squared_norms(x, dtype):
    with tf.Graph().as_default():
        ph = tf.compat.v1.placeholder(tf.float32, [None, None])
        out = tf.reduce_sum(tf.square(tf.cast(ph, dtype)), 1)
        with tf.compat.v1.Session() as sess:
            return sess.run(out, {ph: x})


@pytest.mark.parametrize('dim', [2048, 2023, 37, 5000])
@pytest.mark.parametrize('dtype', [np.float16, np.float32])
def test_squared_norms_equal_tensorflow_bit_for_bit(dim, dtype):
    # 2048: ADM's pool_3 rows (a two-way tree split for float16); 2023 and 37: rows that start
    # off a packet boundary; 5000: a deeper tree.
    x = np.abs(np.random.RandomState(dim).normal(0, 0.5, (33, dim))).astype(np.float32)
    ours = adm.squared_norms(x, dtype)
    theirs = tf_squared_norms(x, tf.float16 if dtype is np.float16 else tf.float32)
    assert ours.dtype == theirs.dtype
    assert np.array_equal(ours, theirs)


def pool3_like(rng, n, shift=0.0):
    return np.abs(rng.normal(shift, 0.35, (n, 2048))).astype(np.float32)


def test_float16_distances_equal_tensorflow_up_to_matmul_order():
    rng = np.random.RandomState(0)
    u, v = pool3_like(rng, 300), pool3_like(rng, 250, 0.05)
    ours = adm.pairwise_distances(u, v)
    theirs = ref.pairwise_distances(u, v)
    assert ours.dtype == np.float16  # the float16 step was finite: no fallback
    ours = ours.astype(np.float32)
    # TF sums the float16 products in float32 in Eigen's blocked order, we in one GEMM: a few
    # products in 10^4 round to the neighbouring float16, moving a distance by 2 steps.
    assert np.mean(ours == theirs) >= 0.999
    steps = np.spacing(theirs.astype(np.float16)).astype(np.float32)
    assert np.all(np.abs(ours - theirs) <= 2 * steps)


def test_float32_fallback_when_float16_overflows():
    rng = np.random.RandomState(1)
    u, v = pool3_like(rng, 40), pool3_like(rng, 30)
    v[3, :2] = 300.0  # 300^2 overflows float16: the whole block goes to float32
    ours = adm.pairwise_distances(u, v)
    theirs = ref.pairwise_distances(u, v)
    assert ours.dtype == np.float32
    assert theirs.max() > np.finfo(np.float16).max  # TF took its float32 branch too
    assert np.allclose(ours, theirs, rtol=0, atol=1e-6 * np.abs(theirs).max())


def clusters(rng, centers, per_cluster, spread):
    return np.concatenate([np.abs(c + rng.normal(0, spread, (per_cluster, c.size)))
                           for c in centers]).astype(np.float32)


def away_from_ties(rng):
    """30 reference clusters of 10; samples: near-copies of the points of 20 of them, and 5
    clusters of 10 far from every reference. Every distance that decides is either a copy's
    (about 0.4) or between clusters (above 100), never near a radius (about 40): precision is
    200/250 and recall 200/300 whatever the rounding."""
    centers = rng.uniform(0, 0.6, (30, 2048))
    reference = clusters(rng, centers, 10, 0.1)
    copies = np.abs(reference[:200] + rng.normal(0, 0.01, (200, 2048))).astype(np.float32)
    far = clusters(rng, rng.uniform(0.7, 1.0, (5, 2048)), 10, 0.1)
    return reference, np.concatenate([copies, far])


@pytest.mark.parametrize('batch', [10000, 128])
def test_precision_recall_equal_adm_away_from_ties(batch):
    # batch=128: ADM's row/column blocking and its per-block float16/float32 choice at work.
    reference, samples = away_from_ties(np.random.RandomState(2))
    samples[210, :3] = 400.0  # a far sample whose blocks fall back to float32
    ours = adm.precision_recall(reference, samples, row_batch_size=batch, col_batch_size=batch)
    theirs = ref.make_evaluator(ref.softmax_graph_def(np.zeros((2048, 1), np.float32)),
                                row_batch_size=batch, col_batch_size=batch)
    try:
        expected = theirs.compute_prec_recall(reference, samples)
    finally:
        theirs.sess.close()
    assert ours == expected
    assert ours == (200 / 250, 200 / 300)


def test_radii_equal_adm():
    rng = np.random.RandomState(3)
    reference, _ = away_from_ties(rng)
    assert np.array_equal(adm.manifold_radii(reference, row_batch_size=128, col_batch_size=100),
                          ref.manifold_radii(reference, row_batch_size=128, col_batch_size=100))
    features = pool3_like(rng, 500)
    ours = adm.manifold_radii(features)
    assert ours.dtype == np.float32 and ours.shape == (500,)
    assert np.mean(ours == ref.manifold_radii(features)) >= 0.99


def test_precision_recall_on_tie_prone_random_features_stay_close_to_adm():
    rng = np.random.RandomState(4)
    reference, samples = pool3_like(rng, 400), pool3_like(rng, 300, 0.03)
    ours = adm.precision_recall(reference, samples)
    theirs = ref.make_evaluator(ref.softmax_graph_def(np.zeros((2048, 1), np.float32)))
    try:
        expected = theirs.compute_prec_recall(reference, samples)
    finally:
        theirs.sess.close()
    assert 0.05 < expected[0] < 0.95 and 0.05 < expected[1] < 0.95
    assert abs(ours[0] - expected[0]) <= 2 / 300 and abs(ours[1] - expected[1]) <= 2 / 400


def test_inception_score_in_parts_of_split_size_equals_adm():
    rng = np.random.RandomState(5)
    pool3 = pool3_like(rng, 230)
    weights = rng.normal(0, 0.4, (2048, 1008)).astype(np.float32)
    evaluator = ref.make_evaluator(ref.softmax_graph_def(weights))
    try:
        expected = evaluator.compute_inception_score(pool3, split_size=50)  # parts of 50, 30
    finally:
        evaluator.sess.close()
    mean, _ = inception_score_from_logits(pool3 @ weights, split_size=50)
    assert expected > 2.0
    assert mean == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_equals_adm_fid_statistics():
    rng = np.random.RandomState(6)
    a, b = rng.normal(0, 1, (300, 64)), rng.normal(0.1, 1.1, (280, 64))
    sa, sb = (ref.Evaluator.compute_statistics(None, x) for x in (a, b))
    expected = sa.frechet_distance(sb)
    assert frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma) == pytest.approx(expected,
                                                                               rel=1e-6)


def test_spatial_features_are_adms_slice_and_flatten():
    x = np.random.RandomState(7).normal(size=(3, 17, 17, 192)).astype(np.float32)
    ours = adm.spatial_features(x)
    theirs = tf.convert_to_tensor(x)[..., :7].numpy()
    assert ours.shape == (3, 2023) and ours.dtype == np.float32
    assert np.array_equal(ours, theirs.reshape([theirs.shape[0], -1]))


@pytest.mark.parametrize('call,message', [
    (lambda: adm.spatial_features(np.zeros((3, 17, 17))), 'must be NHWC'),
    (lambda: adm.manifold_radii(np.zeros((3, 8))), 'needs more than 3 features, got 3'),
    (lambda: adm.precision_recall(np.zeros((5, 8)), np.zeros((5, 9))), 'differ in size'),
    (lambda: adm.precision_recall(np.full((5, 8), np.nan), np.zeros((5, 8))), 'NaN or Inf'),
])
def test_bad_inputs_are_one_line_errors(call, message):
    with pytest.raises(InputError, match=message):
        call()
