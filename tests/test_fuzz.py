"""Bounded fuzzing: 50 seeded mutations each of the synthetic graph, its .tgz and a converted
model file, through the real command lines. Every run converts/loads to weights equal to the
original's, or fails with one line; never a traceback, never over 30 s, never over 1 GB of RSS.

A bare .pb carries no checksum, so a flipped weight byte converts to other weights: that is
allowed only with the warning that the graph is not the released one (always printed for a
graph other than the pinned release). Archives (gzip CRC) and our model files (a SHA-256 of
the weights in their metadata) catch every change.
"""
import json
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

from conftest import ROOT

# Seeded fuzzing of the file formats: what it tests does not depend on the environment.
pytestmark = [pytest.mark.slow, pytest.mark.once]

COUNT = 50


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp('fuzz_images')
    rng = numpy.random.RandomState(0)
    for i in range(2):
        Image.fromarray(rng.randint(0, 256, (16, 16, 3)).astype(numpy.uint8)).save(
            str(folder / '{}.png'.format(i)))
    return str(folder)


def _fuzz(kind, artifact, model_file, images, seed):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'fuzz_tool.py'), kind, artifact,
         model_file, images, str(COUNT), str(seed)],
        capture_output=True, text=True, cwd=ROOT, timeout=COUNT * 30)
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
