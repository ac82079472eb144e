"""`--samples N --shuffle`: N images drawn at random from all inputs, read in one pass."""
import json
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from conftest import ROOT
from inception_score import inception_score_from_logits, sources, subset
from inception_score.scoring import score_source


def _folder(path, images):
    os.makedirs(str(path), exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im.transpose(1, 2, 0)).save(str(path / '{:03d}.png'.format(i)))
    return str(path)


@pytest.mark.parametrize('total,samples,seed', [(12, 5, 0), (12, 12, 2020), (1000, 37, 9)])
def test_draw_is_the_first_n_of_one_seeded_permutation_of_all(total, samples, seed):
    indices, order = subset.draw(total, samples, seed)
    expected = numpy.random.RandomState(seed).permutation(total)[:samples]
    assert list(indices[order]) == list(expected)
    assert list(indices) == sorted(expected)  # read forward, each image once


def test_subset_reads_exactly_the_drawn_images_from_every_kind_of_source(
        tmp_path, monkeypatch):
    rng = numpy.random.RandomState(1)
    small = rng.randint(0, 256, (9, 3, 8, 8)).astype(numpy.uint8)
    folder = _folder(tmp_path / 'pngs', rng.randint(0, 256, (7, 3, 5, 6)).astype(numpy.uint8))
    npz = tmp_path / 'dump.npz'
    numpy.savez_compressed(str(npz), rng.randint(0, 256, (11, 8, 8, 3)).astype(numpy.uint8))
    whole = sources.ConcatSource([sources.ArraySource(small), sources.open_source(folder),
                                  sources.open_source(str(npz))])
    every = [b[i] for b in whole.batches(5) for i in range(len(b))]
    assert len(every) == len(whole) == 27

    decoded = []
    real_decode = sources.decode_image
    monkeypatch.setattr(sources, 'decode_image',
                        lambda path, *a, **k: decoded.append(path) or real_decode(path, *a, **k))
    indices, _ = subset.draw(27, 13, seed=4)
    batches = list(subset.SubsetSource(whole, indices).batches(4))
    got = [b[i] for b in batches for i in range(len(b))]
    assert len(got) == 13
    assert all(numpy.array_equal(g, every[i]) for g, i in zip(got, indices))
    # Memory follows the batch; a batch never mixes sources of different image sizes.
    assert all(len(b) <= 4 for b in batches)
    # Files not drawn are never decoded.
    drawn_files = [whole.sources[1].files[i - 9] for i in indices if 9 <= i < 16]
    assert decoded == drawn_files and drawn_files


@pytest.mark.slow
def test_shuffle_of_all_images_is_torch_fidelitys_shuffle(network):
    rng = numpy.random.RandomState(2)
    ims = rng.randint(0, 256, (10, 3, 12, 12)).astype(numpy.uint8)
    logits = numpy.concatenate([network.logits(ims[i:i + 1]) for i in range(10)])
    perm = numpy.random.RandomState(11).permutation(10)
    # torch-fidelity: predictions permuted by RandomState(seed).permutation(N), then split.
    expected = inception_score_from_logits(logits[perm], 2)
    acc = score_source(network, sources.ArraySource(ims), batch_size=1, splits=2,
                       shuffle=True, seed=11)
    assert numpy.allclose(acc.result(), expected, rtol=1e-12, atol=0)
    drawn = perm[:6]
    acc = score_source(network, sources.ArraySource(ims), batch_size=1, splits=2, samples=6,
                       shuffle=True, seed=11)
    assert numpy.allclose(acc.result(), inception_score_from_logits(logits[drawn], 2),
                          rtol=1e-12, atol=0)


@pytest.mark.slow
def test_cli_samples_shuffle_draws_seeded_from_all_inputs(network, model_file, tmp_path):
    rng = numpy.random.RandomState(3)
    ims = rng.randint(0, 256, (12, 3, 10, 10)).astype(numpy.uint8)
    _folder(tmp_path / 'a', ims[:6])
    _folder(tmp_path / 'b', ims[6:])
    logits = numpy.concatenate([network.logits(ims[i:i + 1]) for i in range(12)])
    drawn = numpy.random.RandomState(7).permutation(12)[:6]
    assert (drawn >= 6).any() and (drawn < 6).any()  # from both folders, not the first six
    reports = []
    for run in range(2):  # reproducible: the same seed draws the same images
        out = tmp_path / 'r{}.json'.format(run)
        proc = subprocess.run(
            [sys.executable, '-m', 'inception_score', str(tmp_path / 'a'), str(tmp_path / 'b'),
             '--model', model_file, '--samples', '6', '--shuffle', '--seed', '7', '--splits',
             '2', '--batch-size', '1', '--quiet', '--json', str(out)],
            capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        # No spread warning (shuffled runs skip the check); only that 3 images a split are few.
        assert proc.stderr.splitlines() == [
            'inception-score: warning: 6 images in 2 splits: a part of 3 images scores at most '
            '3, so the Inception Score says little about the images: score more images (the '
            'reference scores 50,000 in 10 splits of 5,000) or give fewer --splits']
        reports.append(json.loads(out.read_text()))
    expected = inception_score_from_logits(logits[drawn], 2)
    report = reports[0]
    assert numpy.allclose([report['inception_score']['mean'], report['inception_score']['std']],
                          expected, rtol=1e-6, atol=0)
    assert reports[1]['split_scores'] == report['split_scores']
    assert report['sampling'] == 'RandomState(7).permutation(12)[:6]'
    assert report['images_available'] == 12 and report['n'] == 6
    assert report['split_spread'] is None
