"""A transcription of OpenAI guided-diffusion's evaluations/evaluator.py (the "ADM" evaluator),
run with TensorFlow 2.21 through tf.compat.v1 in graph mode with a Session, like the original.

What changed from the original, and why:
- the graph comes as a GraphDef argument instead of a downloaded classify_image_graph_def.pb
  (the tests use the synthetic graph; a GraphDef holding only `softmax/logits/MatMul` and its
  weight is enough for the Inception Score on given features);
- np.bool (removed from numpy) is bool; the thread pool of _numpy_partition is a plain
  np.partition (the partition of each row does not depend on how rows are chunked);
- reading .npz batches, warmup, tqdm and downloading are left out;
- `compute_all` runs the five numbers of `main()` on given activations.
Everything numeric (op order, dtypes, batching, the float16/float32 cond) is the original's.
"""
import os
import random

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '0')

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402
from scipy import linalg  # noqa: E402

FID_POOL_NAME = 'pool_3:0'
FID_SPATIAL_NAME = 'mixed_6/conv:0'


class InvalidFIDException(Exception):
    pass


class FIDStatistics:
    def __init__(self, mu, sigma):
        self.mu = mu
        self.sigma = sigma

    def frechet_distance(self, other, eps=1e-6):
        mu1, sigma1 = self.mu, self.sigma
        mu2, sigma2 = other.mu, other.sigma

        mu1 = np.atleast_1d(mu1)
        mu2 = np.atleast_1d(mu2)
        sigma1 = np.atleast_2d(sigma1)
        sigma2 = np.atleast_2d(sigma2)
        assert mu1.shape == mu2.shape
        assert sigma1.shape == sigma2.shape

        diff = mu1 - mu2
        covmean = _sqrtm_disp_false(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = _sqrtm_disp_false((sigma1 + offset).dot(sigma2 + offset))

        if np.iscomplexobj(covmean):
            if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
                m = np.max(np.abs(covmean.imag))
                raise ValueError('Imaginary component {}'.format(m))
            covmean = covmean.real

        tr_covmean = np.trace(covmean)
        return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def _sqrtm_disp_false(a):
    # linalg.sqrtm(a, disp=False)[0]: scipy 1.16 deprecates `disp` and 1.18 removes it; the
    # matrix is the same.
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            return linalg.sqrtm(a, disp=False)[0]
        except TypeError:  # scipy >= 1.18 removed `disp`
            return linalg.sqrtm(a)


class Evaluator:
    def __init__(self, session, graph_def, batch_size=64, softmax_batch_size=512,
                 row_batch_size=10000, col_batch_size=10000):
        self.sess = session
        self.graph_def = graph_def
        self.batch_size = batch_size
        self.softmax_batch_size = softmax_batch_size
        self.manifold_estimator = ManifoldEstimator(session, row_batch_size=row_batch_size,
                                                    col_batch_size=col_batch_size)
        with self.sess.graph.as_default():
            self.image_input = tf.placeholder(tf.float32, shape=[None, None, None, 3])
            self.softmax_input = tf.placeholder(tf.float32, shape=[None, 2048])
            self.softmax = _create_softmax_graph(graph_def, self.softmax_input)
        self.pool_features = None

    def compute_activations(self, batches):
        if self.pool_features is None:  # built on first use: feature-only tests need no pool_3
            with self.sess.graph.as_default():
                self.pool_features, self.spatial_features = _create_feature_graph(
                    self.graph_def, self.image_input)
        preds = []
        spatial_preds = []
        for batch in batches:
            batch = batch.astype(np.float32)
            pred, spatial_pred = self.sess.run(
                [self.pool_features, self.spatial_features], {self.image_input: batch})
            preds.append(pred.reshape([pred.shape[0], -1]))
            spatial_preds.append(spatial_pred.reshape([spatial_pred.shape[0], -1]))
        return np.concatenate(preds, axis=0), np.concatenate(spatial_preds, axis=0)

    def compute_statistics(self, activations):
        mu = np.mean(activations, axis=0)
        sigma = np.cov(activations, rowvar=False)
        return FIDStatistics(mu, sigma)

    def compute_inception_score(self, activations, split_size=5000):
        softmax_out = []
        for i in range(0, len(activations), self.softmax_batch_size):
            acts = activations[i:i + self.softmax_batch_size]
            softmax_out.append(self.sess.run(self.softmax, feed_dict={self.softmax_input: acts}))
        preds = np.concatenate(softmax_out, axis=0)
        scores = []
        for i in range(0, len(preds), split_size):
            part = preds[i:i + split_size]
            kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
            kl = np.mean(np.sum(kl, 1))
            scores.append(np.exp(kl))
        return float(np.mean(scores))

    def compute_prec_recall(self, activations_ref, activations_sample):
        radii_1 = self.manifold_estimator.manifold_radii(activations_ref)
        radii_2 = self.manifold_estimator.manifold_radii(activations_sample)
        pr = self.manifold_estimator.evaluate_pr(
            activations_ref, radii_1, activations_sample, radii_2)
        return float(pr[0][0]), float(pr[1][0])


class ManifoldEstimator:
    def __init__(self, session, row_batch_size=10000, col_batch_size=10000, nhood_sizes=(3,),
                 clamp_to_percentile=None, eps=1e-5):
        self.distance_block = DistanceBlock(session)
        self.row_batch_size = row_batch_size
        self.col_batch_size = col_batch_size
        self.nhood_sizes = nhood_sizes
        self.num_nhoods = len(nhood_sizes)
        self.clamp_to_percentile = clamp_to_percentile
        self.eps = eps

    def manifold_radii(self, features):
        num_images = len(features)
        radii = np.zeros([num_images, self.num_nhoods], dtype=np.float32)
        distance_batch = np.zeros([self.row_batch_size, num_images], dtype=np.float32)
        seq = np.arange(max(self.nhood_sizes) + 1, dtype=np.int32)

        for begin1 in range(0, num_images, self.row_batch_size):
            end1 = min(begin1 + self.row_batch_size, num_images)
            row_batch = features[begin1:end1]
            for begin2 in range(0, num_images, self.col_batch_size):
                end2 = min(begin2 + self.col_batch_size, num_images)
                col_batch = features[begin2:end2]
                distance_batch[0:end1 - begin1, begin2:end2] = \
                    self.distance_block.pairwise_distances(row_batch, col_batch)
            radii[begin1:end1, :] = np.concatenate(
                [x[:, self.nhood_sizes]
                 for x in [np.partition(distance_batch[0:end1 - begin1, :], seq, axis=1)]],
                axis=0)

        if self.clamp_to_percentile is not None:
            max_distances = np.percentile(radii, self.clamp_to_percentile, axis=0)
            radii[radii > max_distances] = 0
        return radii

    def evaluate_pr(self, features_1, radii_1, features_2, radii_2):
        features_1_status = np.zeros([len(features_1), radii_2.shape[1]], dtype=bool)
        features_2_status = np.zeros([len(features_2), radii_1.shape[1]], dtype=bool)
        for begin_1 in range(0, len(features_1), self.row_batch_size):
            end_1 = begin_1 + self.row_batch_size
            batch_1 = features_1[begin_1:end_1]
            for begin_2 in range(0, len(features_2), self.col_batch_size):
                end_2 = begin_2 + self.col_batch_size
                batch_2 = features_2[begin_2:end_2]
                batch_1_in, batch_2_in = self.distance_block.less_thans(
                    batch_1, radii_1[begin_1:end_1], batch_2, radii_2[begin_2:end_2])
                features_1_status[begin_1:end_1] |= batch_1_in
                features_2_status[begin_2:end_2] |= batch_2_in
        return (np.mean(features_2_status.astype(np.float64), axis=0),
                np.mean(features_1_status.astype(np.float64), axis=0))


class DistanceBlock:
    def __init__(self, session):
        self.session = session
        with session.graph.as_default():
            self._features_batch1 = tf.placeholder(tf.float32, shape=[None, None])
            self._features_batch2 = tf.placeholder(tf.float32, shape=[None, None])
            distance_block_16 = _batch_pairwise_distances(
                tf.cast(self._features_batch1, tf.float16),
                tf.cast(self._features_batch2, tf.float16))
            self.distance_block = tf.cond(
                tf.reduce_all(tf.math.is_finite(distance_block_16)),
                lambda: tf.cast(distance_block_16, tf.float32),
                lambda: _batch_pairwise_distances(self._features_batch1, self._features_batch2))

            self._radii1 = tf.placeholder(tf.float32, shape=[None, None])
            self._radii2 = tf.placeholder(tf.float32, shape=[None, None])
            dist32 = tf.cast(self.distance_block, tf.float32)[..., None]
            self._batch_1_in = tf.math.reduce_any(dist32 <= self._radii2, axis=1)
            self._batch_2_in = tf.math.reduce_any(dist32 <= self._radii1[:, None], axis=0)

    def pairwise_distances(self, U, V):
        return self.session.run(self.distance_block,
                                feed_dict={self._features_batch1: U, self._features_batch2: V})

    def less_thans(self, batch_1, radii_1, batch_2, radii_2):
        return self.session.run(
            [self._batch_1_in, self._batch_2_in],
            feed_dict={self._features_batch1: batch_1, self._features_batch2: batch_2,
                       self._radii1: radii_1, self._radii2: radii_2})


def _batch_pairwise_distances(U, V):
    with tf.variable_scope('pairwise_dist_block'):
        norm_u = tf.reduce_sum(tf.square(U), 1)
        norm_v = tf.reduce_sum(tf.square(V), 1)
        norm_u = tf.reshape(norm_u, [-1, 1])
        norm_v = tf.reshape(norm_v, [1, -1])
        D = tf.maximum(norm_u - 2 * tf.matmul(U, V, False, True) + norm_v, 0.0)
    return D


def _create_feature_graph(graph_def, input_batch):
    prefix = '{}_{}'.format(random.randrange(2 ** 32), random.randrange(2 ** 32))
    pool3, spatial = tf.import_graph_def(
        graph_def, input_map={'ExpandDims:0': input_batch},
        return_elements=[FID_POOL_NAME, FID_SPATIAL_NAME], name=prefix)
    # The original's _update_shapes only rewrites static shape metadata (batch 1 -> None);
    # TF 2 tensors derive shapes from the C graph, and nothing numeric depends on it.
    spatial = spatial[..., :7]
    return pool3, spatial


def _create_softmax_graph(graph_def, input_batch):
    prefix = '{}_{}'.format(random.randrange(2 ** 32), random.randrange(2 ** 32))
    (matmul,) = tf.import_graph_def(graph_def, return_elements=['softmax/logits/MatMul'],
                                    name=prefix)
    w = matmul.inputs[1]
    logits = tf.matmul(input_batch, w)
    return tf.nn.softmax(logits)


def softmax_graph_def(weights):
    """A GraphDef holding only what _create_softmax_graph reads: `softmax/logits/MatMul` with
    the (2048, 1008) weight as its second input."""
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, weights.shape[0]], name='pool_3/_reshape')
        w = tf.constant(np.asarray(weights, np.float32), name='softmax/weights')
        tf.matmul(x, w, name='softmax/logits/MatMul')
    return graph.as_graph_def()


def make_evaluator(graph_def, **kwargs):
    """An Evaluator in its own graph and Session (close with evaluator.sess.close())."""
    graph = tf.Graph()
    session = tf.Session(graph=graph)
    return Evaluator(session, graph_def, **kwargs)


def activations(graph_def, images_nhwc, batch_size=64):
    """(pool_3, spatial) activations of NHWC images in [0, 255], as ADM computes them."""
    evaluator = make_evaluator(graph_def, batch_size=batch_size)
    try:
        batches = [images_nhwc[i:i + batch_size]
                   for i in range(0, len(images_nhwc), batch_size)]
        return evaluator.compute_activations(batches)
    finally:
        evaluator.sess.close()


def compute_all(pool3, spatial, ref_pool3, ref_spatial, graph_def, split_size=5000,
                row_batch_size=10000, col_batch_size=10000, ref_stats=None,
                ref_stats_spatial=None):
    """The five numbers main() prints, on sample and reference activations.

    `ref_stats`/`ref_stats_spatial`: (mu, sigma) pairs read from a reference batch, used
    instead of the reference activations' statistics as read_statistics does.
    """
    evaluator = make_evaluator(graph_def, row_batch_size=row_batch_size,
                               col_batch_size=col_batch_size)
    try:
        ref = (FIDStatistics(*ref_stats) if ref_stats is not None
               else evaluator.compute_statistics(ref_pool3))
        ref_s = (FIDStatistics(*ref_stats_spatial) if ref_stats_spatial is not None
                 else evaluator.compute_statistics(ref_spatial))
        sample = evaluator.compute_statistics(pool3)
        sample_s = evaluator.compute_statistics(spatial)
        precision, recall = evaluator.compute_prec_recall(ref_pool3, pool3)
        return {
            'inception_score': evaluator.compute_inception_score(pool3, split_size=split_size),
            'fid': float(sample.frechet_distance(ref)),
            'sfid': float(sample_s.frechet_distance(ref_s)),
            'precision': precision,
            'recall': recall,
        }
    finally:
        evaluator.sess.close()


def pairwise_distances(u, v):
    """One DistanceBlock.pairwise_distances call (float32 result of the cond)."""
    graph = tf.Graph()
    with tf.Session(graph=graph) as session:
        return DistanceBlock(session).pairwise_distances(u, v)


def manifold_radii(features, row_batch_size=10000, col_batch_size=10000):
    graph = tf.Graph()
    with tf.Session(graph=graph) as session:
        estimator = ManifoldEstimator(session, row_batch_size=row_batch_size,
                                      col_batch_size=col_batch_size)
        return estimator.manifold_radii(features)[:, 0]
