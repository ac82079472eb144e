"""The whole ADM path against guided-diffusion's evaluator (transcribed in tests/adm_reference.py)
run with TensorFlow on the synthetic graph: the same images through both, then the five numbers,
from Python and from `inception-score --adm` in a subprocess.

The images are chosen away from precision/recall's ties: the reference is 16 clusters of 4
near-copies (pixel noise) of one image each; the samples are exact copies of 5 of those clusters
(20 images) and 10 clusters of new images at other sizes (40). Every sample is then either at
distance ~0 of a reference point or far outside every reference ball, and every reference point
either has its copy among the samples or lies far from every sample: precision 20/60 and recall
20/64, whatever the rounding (the margins are checked on TensorFlow's features). They are also
chosen away from float32 softmax underflow (logit ranges below 87), where ADM's formula gives
NaN instead of a score.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import adm_reference as ref
import artifacts
import synthetic_graph
from conftest import GRAPH_PARTS, ROOT
from inception_score import adm
from inception_score.scoring import evaluate_source
from inception_score.sources import ArraySource, ConcatSource

# The whole ADM path against TensorFlow: costly, and what it adds to test_adm.py and
# test_fidelity.py (which run in both environments) does not depend on the environment.
pytestmark = [pytest.mark.slow, pytest.mark.once]

SPLIT_SIZE = 20
ALL = ('fid', 'sfid', 'precision_recall')
LABELS = ('Inception Score', 'FID', 'sFID', 'Precision', 'Recall')
KEYS = ('inception_score', 'fid', 'sfid', 'precision', 'recall')
EXPECTED_PR = (20 / 60, 20 / 64)


def _variants(rng, bases, copies=4, noise=3.0):
    x = np.repeat(bases, copies, axis=0)
    x = x + rng.normal(0, noise, x.shape)
    return x.clip(0, 255).round().astype(np.uint8)


@pytest.fixture(scope='module')
def image_sets():
    """(sample groups, reference): uint8 NHWC; the samples in three sizes, the reference in
    one (an ADM reference batch is one array)."""
    rng = np.random.RandomState(4)  # away from ties and from underflow (see above)
    reference = _variants(rng, synthetic_graph.smooth_images(rng, 16, 64, 64))
    samples = [reference[:20].copy(),
               _variants(rng, synthetic_graph.smooth_images(rng, 5, 32, 32)),
               _variants(rng, synthetic_graph.smooth_images(rng, 5, 120, 96))]
    return samples, reference


@pytest.fixture(scope='module')
def tensorflow_side(graph_def, image_sets):
    """ADM's activations and its five numbers, computed by the TensorFlow transcription (kept in
    the test cache: they depend only on the graph, the images and the transcription)."""
    samples, reference = image_sets

    def build():
        acts = [ref.activations(graph_def, group) for group in samples]
        pool3 = np.concatenate([a for a, _ in acts])
        spatial = np.concatenate([s for _, s in acts])
        ref_pool3, ref_spatial = ref.activations(graph_def, reference)
        numbers = ref.compute_all(pool3, spatial, ref_pool3, ref_spatial, graph_def,
                                  split_size=SPLIT_SIZE)
        out = {'pool3': pool3, 'spatial': spatial, 'ref_pool3': ref_pool3,
               'ref_spatial': ref_spatial}
        out.update(('numbers|' + k, np.float64(v)) for k, v in numbers.items())
        return out

    out = artifacts.cached_arrays('adm-tensorflow', GRAPH_PARTS + (
        samples, reference, SPLIT_SIZE, artifacts.Source('tests/adm_reference.py'),
        artifacts.dist_version('numpy'), artifacts.dist_version('scipy')), build)
    numbers = {k.split('|')[1]: float(v) for k, v in out.items() if k.startswith('numbers|')}
    return dict({k: v for k, v in out.items() if '|' not in k}, numbers=numbers)


def _close(ours, theirs):
    """The five numbers: within 1e-4 relative, precision and recall exactly equal."""
    for key in ('inception_score', 'fid', 'sfid'):
        assert ours[key] == pytest.approx(theirs[key], rel=1e-4), key
    assert (ours['precision'], ours['recall']) == (theirs['precision'], theirs['recall'])


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_pool3_and_spatial_features_match_tensorflow(network, image_sets, tensorflow_side):
    samples, reference = image_sets
    pool3, spatial = [], []
    for group in samples + [reference]:
        out = network.forward(np.ascontiguousarray(group.transpose(0, 3, 1, 2)),
                              ('pool_3', 'mixed_6/conv'))
        pool3.append(out['pool_3'])
        spatial.append(adm.spatial_features(out['mixed_6/conv']))
    tf_pool3 = np.concatenate([tensorflow_side['pool3'], tensorflow_side['ref_pool3']])
    tf_spatial = np.concatenate([tensorflow_side['spatial'], tensorflow_side['ref_spatial']])
    assert tf_spatial.shape == (124, 2023)
    assert _rel(np.concatenate(pool3), tf_pool3) <= 1e-3
    assert _rel(np.concatenate(spatial), tf_spatial) <= 1e-3


def _decision_margin(distances, radii):
    """Smallest relative distance of a point's decision (inside some ball or outside all) from
    flipping: rows are the points tested, columns the balls."""
    rel = distances / radii[None, :] - 1
    inside = (rel <= 0).any(axis=1)
    return np.where(inside, -rel.min(axis=1), rel.min(axis=1)).min()


def test_the_images_are_away_from_precision_recall_ties(tensorflow_side):
    def squared(u, v):
        u, v = u.astype(np.float64), v.astype(np.float64)
        return (u * u).sum(1)[:, None] - 2 * u @ v.T + (v * v).sum(1)[None, :]

    def radii(x):
        return np.sort(squared(x, x), axis=1)[:, adm.NHOOD_SIZE]

    samples, reference = tensorflow_side['pool3'], tensorflow_side['ref_pool3']
    d = squared(reference, samples)
    ref_radii, sample_radii = radii(reference), radii(samples)
    assert _decision_margin(d.T, ref_radii) > 0.2   # precision's decisions
    assert _decision_margin(d, sample_radii) > 0.2  # recall's decisions
    # The ideal decisions in float64 are ADM's float16 ones, and what the set was built for.
    ideal = ((d <= ref_radii[:, None]).any(axis=0).mean(),
             (d <= sample_radii[None, :]).any(axis=1).mean())
    numbers = tensorflow_side['numbers']
    assert (numbers['precision'], numbers['recall']) == ideal == EXPECTED_PR
    assert 1.5 < numbers['inception_score'] < np.inf and numbers['fid'] > 1.0


def test_python_evaluation_with_an_adm_reference_batch_equals_adm(network, tmp_path,
                                                                   image_sets,
                                                                   tensorflow_side):
    samples, reference = image_sets
    # A reference batch as OpenAI publishes them: images and ADM's own statistics of them.
    path = str(tmp_path / 'VIRTUAL_synthetic64.npz')
    stats = [(x.mean(axis=0), np.cov(x, rowvar=False))
             for x in (tensorflow_side['ref_pool3'], tensorflow_side['ref_spatial'])]
    np.savez(path, arr_0=reference, mu=stats[0][0], sigma=stats[0][1], mu_s=stats[1][0],
             sigma_s=stats[1][1])
    source = ConcatSource(ArraySource(np.ascontiguousarray(g.transpose(0, 3, 1, 2)))
                          for g in samples)
    result = evaluate_source(network, source, path, ALL, batch_size=16, split_size=SPLIT_SIZE)
    summary = result.summary()
    assert summary['split_rule'] == 'split_size=20' and summary['splits'] == 3
    ours = dict(summary, inception_score=summary['inception_score']['mean'])
    _close(ours, tensorflow_side['numbers'])
    assert (ours['precision'], ours['recall']) == EXPECTED_PR
    info = summary['reference']
    assert (info['fid_statistics'], info['sfid_statistics'], info['images']) == \
        ('file', 'file', 64)


def test_command_line_adm_prints_adms_five_lines(model_file, tmp_path, image_sets,
                                                  tensorflow_side):
    samples, reference = image_sets
    folder = tmp_path / 'samples'
    folder.mkdir()
    index = 0
    for group in samples:  # PNG is lossless: the same uint8 pixels as TensorFlow got
        for im in group:
            Image.fromarray(im).save(str(folder / '{:03d}.png'.format(index)))
            index += 1
    batch = str(tmp_path / 'reference_batch.npz')
    np.savez(batch, reference)  # arr_0 only: the statistics are computed, as ADM would
    proc = subprocess.run([sys.executable, '-m', 'inception_score', str(folder), '--model',
                           model_file, '--adm', batch, '--split-size', str(SPLIT_SIZE),
                           '--batch-size', '25', '--quiet'],
                          capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(': ')[0] for line in lines] == list(LABELS)
    values = [float(line.split(': ')[1]) for line in lines]
    # print(label + ':', float) as ADM's main() does: the shortest repr of each float.
    assert lines == ['{}: {!r}'.format(label, v) for label, v in zip(LABELS, values)]
    _close(dict(zip(KEYS, values)), tensorflow_side['numbers'])
    assert tuple(values[3:]) == EXPECTED_PR
