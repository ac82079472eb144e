"""The split-spread check: class-sorted inputs are told apart from random order."""
import json
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

import synthetic_graph
from conftest import ROOT
from inception_score import fixes
from inception_score.score import ScoreAccumulator
from inception_score.spread import SpreadCheck, message


def _verdict(logits, splits, batch=7, seed=0):
    n = len(logits)
    check, acc = SpreadCheck(n, splits, seed=seed), ScoreAccumulator(n, splits)
    for i in range(0, n, batch):
        acc.update(logits[i:i + batch], i)
        check.update(logits[i:i + batch], i)
    return check.verdict(acc)


def _class_logits(rng, per_class, classes, spread=1.0):
    """Logits of `classes` clusters (each a class with its own peak), class by class."""
    centres = rng.normal(0, 4, (classes, 1008))
    return numpy.concatenate([c + rng.normal(0, spread, (per_class, 1008)) for c in centres])


def test_one_class_per_split_is_flagged_and_the_same_data_in_random_order_is_not():
    rng = numpy.random.RandomState(0)
    logits = _class_logits(rng, 50, 10)
    sorted_ = _verdict(logits, 10)
    assert sorted_['sorted'] and sorted_['mean'] < sorted_['random_order_mean']
    shuffled = _verdict(logits[rng.permutation(len(logits))], 10)
    assert not shuffled['sorted']
    assert abs(shuffled['mean'] - shuffled['random_order_mean']) < 0.1 * shuffled['mean']
    text = message(sorted_)
    assert '\n' not in text and text.endswith('pass shuffle=True to score random splits')  # Python's words


@pytest.mark.slow
def test_false_alarms_on_unsorted_inputs_are_as_rare_as_alpha():
    # ALPHA = 0.001: 200 unsorted inputs should give no alarm (2 or more has p < 2e-2 at
    # 0.001 per run; a test calibrated at 0.05 would give about 10). Seeded: no flakes.
    rng = numpy.random.RandomState(1)
    alarms = sum(_verdict(rng.normal(0, 3, (100, 1008)), 5, batch=50, seed=run)['sorted']
                 for run in range(200))
    assert alarms <= 1


def test_one_split_has_no_verdict():
    assert _verdict(numpy.zeros((4, 1008)), 1) is None


@pytest.mark.slow
def test_cli_warns_once_on_class_sorted_folders_and_records_it(model_file, tmp_path):
    # Two "classes" the synthetic network tells apart: noise and smooth images, one folder
    # each, so the contiguous splits hold one class each.
    rng = numpy.random.RandomState(3)
    noise = rng.randint(0, 256, (12, 16, 16, 3)).astype(numpy.uint8)
    smooth = synthetic_graph.smooth_images(rng, 12, 16, 16).round().astype(numpy.uint8)
    for name, group in (('noise', noise), ('smooth', smooth)):
        os.makedirs(str(tmp_path / name))
        for i, im in enumerate(group):
            Image.fromarray(im).save(str(tmp_path / name / '{:02d}.png'.format(i)))
    out = tmp_path / 'r.json'
    proc = subprocess.run(
        [sys.executable, '-m', 'inception_score', str(tmp_path / 'noise'),
         str(tmp_path / 'smooth'), '--model', model_file, '--splits', '2', '--quiet',
         '--json', str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    spread = report['split_spread']
    assert spread['sorted'] is True and spread['mean_t'] > spread['mean_t_limit']
    few = ('24 images in 2 splits: a part of 12 images scores at most 12, so the Inception '
           'Score says little about the images: score more images (the reference scores '
           '50,000 in 10 splits of 5,000) or give fewer --splits')
    with fixes.flags():  # the command line names --shuffle, Python shuffle=True
        said = message(spread)
    assert said.endswith('pass --shuffle to score random splits')
    assert proc.stderr.splitlines() == ['inception-score: warning: ' + w for w in (said, few)]
    assert report['warnings'] == [said, few]
    assert proc.stdout.startswith('Inception Score: ')  # the score itself is still given
