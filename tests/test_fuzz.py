"""Bounded fuzzing: 50 seeded mutations each of the synthetic graph, its .tgz and a converted
model file, and fewer of a TTUR statistics file, an ADM reference batch and the label files
inside the graph's archive, through the real command lines. Every run converts/loads to
weights equal to the original's (prints what the original prints, for the references), or
fails with one line; never a traceback, never over 30 s, never over 1 GB of RSS.

A bare .pb carries no checksum, so a flipped weight byte converts to other weights: that is
allowed only with the warning that the graph is not the released one (always printed for a
graph other than the pinned release). Archives (gzip CRC), .npz files (a CRC per member) and
our model files (a SHA-256 of the weights in their metadata) catch every change of their
bytes; the label files' text is read by the converter's own parser.
"""
import json
import os
import subprocess
import sys

import numpy
import pytest

import synthetic_graph
from conftest import ROOT

# Seeded fuzzing of the file formats: what it tests does not depend on the environment.
pytestmark = [pytest.mark.slow, pytest.mark.once]

COUNT = 50


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    return synthetic_graph.noise_png_folder(tmp_path_factory.mktemp('fuzz_images'), 2, 0)


def _fuzz(kind, artifact, model_file, images, seed, count=COUNT):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'fuzz_tool.py'), kind, artifact,
         model_file, images, str(count), str(seed)],
        capture_output=True, text=True, cwd=ROOT, timeout=count * 30 + 60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]


@pytest.mark.parametrize('kind', ['pb', 'tgz', 'model'])
def test_mutated_artifacts_load_equal_or_fail_with_one_line(kind, graph_files, model_file,
                                                            images):
    artifact = model_file if kind == 'model' else graph_files[kind]
    runs = _fuzz(kind, artifact, model_file, images, seed={'pb': 1, 'tgz': 2,
                                                                    'model': 3}[kind])
    assert len(runs) == COUNT
    prog = 'inception-score' if kind == 'model' else 'inception-score-download'
    failures = 0
    for run in runs:
        assert run['seconds'] < 30 and run['peak_rss_mb'] < 1024, run
        lines = run['stderr'].strip().splitlines()
        assert 'Traceback' not in run['stderr'], run
        if run['code'] == 0:
            if not run['same']:
                # Only a bare .pb can change silently, and never without the warning.
                assert kind == 'pb', run
                assert len(lines) == 1 and 'is not the released inception-2015-12-05 graph' \
                    in lines[0], run
            continue
        failures += 1
        assert run['code'] in (1, 2), run
        errors = [line for line in lines if not line.startswith(prog + ': warning: ')]
        assert len(errors) == 1 and errors[0].startswith(prog + ': error: '), run
    assert failures >= COUNT // 4  # the mutations do reach the checks


# Each run of these costs a model load and two tiny images (a conversion for the labels), so
# fewer mutations: each kind adds well under a minute.
REFERENCE_COUNTS = {'stats': 24, 'admref': 16, 'labels': 10}


@pytest.fixture(scope='module')
def four_images(tmp_path_factory):
    """Precision/recall's k = 3 neighbours need 4 images."""
    return synthetic_graph.noise_png_folder(tmp_path_factory.mktemp('fuzz_four'), 4, 2)


@pytest.fixture(scope='module')
def references(tmp_path_factory):
    """A TTUR statistics file of 2048 features and an ADM reference batch (5 images with
    mu, sigma, mu_s, sigma_s), as numpy.savez writes them (stored members, a CRC each)."""
    folder = tmp_path_factory.mktemp('fuzz_references')
    rng = numpy.random.RandomState(1)
    pool, spatial = rng.normal(size=(3, 2048)), rng.normal(size=(3, 2023))
    stats = str(folder / 'fid_stats.npz')
    numpy.savez(stats, mu=pool.mean(0), sigma=numpy.cov(pool, rowvar=False))
    batch = str(folder / 'VIRTUAL_tiny.npz')
    numpy.savez(batch, arr_0=rng.randint(0, 256, (5, 16, 16, 3)).astype(numpy.uint8),
                mu=pool.mean(0), sigma=numpy.cov(pool, rowvar=False), mu_s=spatial.mean(0),
                sigma_s=numpy.cov(spatial, rowvar=False))
    return {'stats': stats, 'admref': batch}


@pytest.mark.slow
@pytest.mark.parametrize('kind', sorted(REFERENCE_COUNTS))
def test_mutated_references_and_label_files_give_the_same_numbers_or_one_line(
        kind, references, graph_files, model_file, images, four_images):
    count = REFERENCE_COUNTS[kind]
    artifact = graph_files['pb'] if kind == 'labels' else references[kind]
    runs = _fuzz(kind, artifact, model_file, four_images if kind == 'admref' else images,
                 {'stats': 4, 'admref': 5, 'labels': 6}[kind], count=count)
    assert len(runs) == count
    prog = 'inception-score-download' if kind == 'labels' else 'inception-score'
    failures = 0
    for run in runs:
        assert run['seconds'] < 30 and run['peak_rss_mb'] < 1024, run
        assert 'Traceback' not in run['stderr'], run
        lines = [line for line in run['stderr'].strip().splitlines()
                 if ': warning: ' not in line and not line.startswith('warning: ')]
        if run['code'] == 0:
            # A mutation that passed every check changed nothing that is read: the numbers
            # (the weights, for the labels) are the original's.
            assert run['same'] and not lines, run
            continue
        failures += 1
        assert run['code'] in (1, 2), run
        assert len(lines) == 1 and lines[0].startswith(prog + ': error: '), run
    assert failures >= count // 4  # the mutations do reach the checks
