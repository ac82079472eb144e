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


def float16_distance_bound(u, v):
    """How far two float16 distance computations may differ when only their dot products' float32
    summation order differs (numpy's BLAS here, Eigen's blocked order in TensorFlow).

    The squared norms are the same bits on both sides (test above), and a float16 product is
    exact in float32, so the two float32 sums of u.v differ by at most the float32 rounding of a
    2048-term sum: below 2048 * 2^-24 * sum|terms|, less than one float16 step of u.v. Their
    float16 roundings then differ by at most one step, 2 u.v by two, and each of the two later
    float16 roundings (|u|^2 - 2 u.v, then + |v|^2) by one more step of its own magnitude."""
    u, v = u.astype(np.float64), v.astype(np.float64)
    dot = u @ v.T
    part = (u * u).sum(1)[:, None] - 2 * dot
    total = part + (v * v).sum(1)[None, :]

    def step(x):
        return float(np.spacing(np.float16(np.abs(x).max())))
    return 2 * step(dot) + step(part) + step(total)


def test_float16_distances_equal_tensorflow_up_to_matmul_order():
    rng = np.random.RandomState(0)
    u, v = pool3_like(rng, 300), pool3_like(rng, 250, 0.05)
    ours = adm.pairwise_distances(u, v)
    theirs = ref.pairwise_distances(u, v)
    assert ours.dtype == np.float16  # the float16 step was finite: no fallback
    # Any BLAS kernel, any CPU: within the rounding bound of the summation order.
    assert np.all(np.abs(ours.astype(np.float32) - theirs) <= float16_distance_bound(u, v))


def exact_features(rng, clusters, per_cluster, dim=2048, support=120, changes=12):
    """Points on which every float16 and float32 step of ADM's distances is exact, whatever the
    summation order: entries in {0, 0.5, 1} on at most 120 coordinates, so every product is a
    multiple of 0.25 and every norm, dot product, partial sum and distance a multiple of 0.25
    of magnitude at most 240, which float16 holds exactly (its step is 0.125 up to 256).
    Clusters: a centre and near-copies with a few of its coordinates redrawn, so distances vary
    and no result can hide a wrong neighbour rank or a wrong block."""
    points = []
    for _ in range(clusters):
        centre = np.zeros(dim, np.float32)
        support_at = rng.choice(dim, support, replace=False)
        centre[support_at] = rng.choice([0.5, 1.0], support)
        for _ in range(per_cluster):
            point = centre.copy()
            redrawn = rng.choice(support_at, rng.randint(1, changes), replace=False)
            point[redrawn] = rng.choice([0.0, 0.5, 1.0], len(redrawn))
            points.append(point)
    return np.array(points)


def exact_squared_distances(u, v):
    u, v = u.astype(np.float64), v.astype(np.float64)
    return (u * u).sum(1)[:, None] - 2 * u @ v.T + (v * v).sum(1)[None, :]


def test_float16_distances_equal_tensorflow_where_every_step_is_exact():
    rng = np.random.RandomState(8)
    u, v = exact_features(rng, 6, 10), exact_features(rng, 5, 10)
    exact = exact_squared_distances(u, v)
    assert np.array_equal(adm.pairwise_distances(u, v).astype(np.float64), exact)
    assert np.array_equal(ref.pairwise_distances(u, v).astype(np.float64), exact)


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


def test_radii_equal_adm_where_every_step_is_exact():
    # ADM's blocking (rows of 128, columns of 100) on 300 points whose distances are exact in
    # float16 (exact_features): equal bit for bit on any CPU and BLAS, and equal to the exact
    # 4th-smallest distance of each row (the point itself first, then k = 3 neighbours).
    reference = exact_features(np.random.RandomState(3), 30, 10)
    ours = adm.manifold_radii(reference, row_batch_size=128, col_batch_size=100)
    theirs = ref.manifold_radii(reference, row_batch_size=128, col_batch_size=100)
    ordered = np.sort(exact_squared_distances(reference, reference), axis=1)
    assert np.array_equal(ours, theirs)
    assert np.array_equal(ours.astype(np.float64), ordered[:, adm.NHOOD_SIZE])
    # The data has teeth: the 3rd or 5th smallest distance would differ for most points.
    for wrong in (adm.NHOOD_SIZE - 1, adm.NHOOD_SIZE + 1):
        assert np.mean(ordered[:, wrong] != ordered[:, adm.NHOOD_SIZE]) > 0.5


def test_radii_on_generic_features_stay_within_the_rounding_bound_of_adm():
    # A k-th smallest value moves by no more than the largest move of the values it is taken
    # from, so each radius is within the distances' bound of ADM's.
    features = pool3_like(np.random.RandomState(3), 500)
    ours = adm.manifold_radii(features)
    theirs = ref.manifold_radii(features)
    assert ours.dtype == np.float32 and ours.shape == (500,)
    assert np.all(np.abs(ours - theirs) <= float16_distance_bound(features, features))


def test_precision_recall_on_tie_prone_random_features_stay_close_to_adm():
    # Generic features, where some decisions sit within rounding of their radius. Distances and
    # radii are each within `bound` of the exact ones on both sides, so a point surely inside
    # some ball (exact distance below radius - bound) or surely outside all of them (every
    # distance above radius + bound) is decided alike; only the others may differ.
    rng = np.random.RandomState(4)
    reference, samples = pool3_like(rng, 400), pool3_like(rng, 300, 0.03)
    ours = adm.precision_recall(reference, samples)
    theirs = ref.make_evaluator(ref.softmax_graph_def(np.zeros((2048, 1), np.float32)))
    try:
        expected = theirs.compute_prec_recall(reference, samples)
    finally:
        theirs.sess.close()
    assert 0.05 < expected[0] < 0.95 and 0.05 < expected[1] < 0.95
    bound = 2 * max(float16_distance_bound(reference, samples),
                    float16_distance_bound(reference, reference),
                    float16_distance_bound(samples, samples))
    d = exact_squared_distances(reference, samples)
    ref_radii = np.sort(exact_squared_distances(reference, reference), 1)[:, adm.NHOOD_SIZE]
    sample_radii = np.sort(exact_squared_distances(samples, samples), 1)[:, adm.NHOOD_SIZE]

    def at_risk(distances, radii):  # rows: the points decided; columns: the balls
        surely_in = (distances <= radii - bound).any(axis=1)
        surely_out = (distances > radii + bound).all(axis=1)
        return int((~surely_in & ~surely_out).sum())

    samples_at_risk = at_risk(d.T, ref_radii[None, :])
    references_at_risk = at_risk(d, sample_radii[None, :])
    assert abs(ours[0] - expected[0]) * 300 <= samples_at_risk
    assert abs(ours[1] - expected[1]) * 400 <= references_at_risk
    # On such data many decisions are at risk (float16 distances are quantised, and equal
    # ones are common); the exact agreement is what the exact-step and away-from-ties tests
    # above prove. Here: most decisions are sure, and those agree with ADM.
    assert samples_at_risk < 300 // 2 and references_at_risk < 400 // 2


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
