"""Bounded fuzzing of CIFAR-10 archives: seeded mutations of a small archive in the python and
in the binary layout, each scored by example.py's real path (--samples 2 --splits 1); never a
traceback, never over 30 s, never over 1 GB of RSS.

Half the mutations hit the .tar.gz file: the gzip CRC and length cover every byte of the tar
stream, so each run prints the original's score line (only the gzip header's own fields, such
as its time stamp, may change without effect) or fails with one line. The other half hit the
tar inside, compressed again, so that the archive's own checks are reached (tar headers,
batch sizes, the restricted unpickler, labels): a changed pixel in an intact archive is data,
not damage, and may change the score; anything else fails with one line.
"""
import json
import os
import subprocess
import sys

import numpy
import pytest

import cifar_files
from conftest import ROOT
from inception_score import cifar10

COUNT = 30  # 0.1 s per failure, 2 s per score: well under a minute per layout


@pytest.mark.slow
@pytest.mark.parametrize('layout', ['python', 'binary'])
def test_mutated_cifar10_archives_score_the_same_or_fail_with_one_line(layout, model_file,
                                                                       tmp_path):
    rng = numpy.random.RandomState(21)
    train = rng.randint(0, 256, (10, 3, 32, 32)).astype(numpy.uint8)
    archive = cifar_files.write_archive(tmp_path / cifar10.ARCHIVES[layout], train, train[:2],
                                        layout)
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'fuzz_tool.py'), 'cifar-' + layout,
         archive, model_file, str(tmp_path), str(COUNT), {'python': '4', 'binary': '5'}[layout]],
        capture_output=True, text=True, cwd=ROOT, timeout=COUNT * 30)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{')]
    assert len(runs) == COUNT
    failures = 0
    for run in runs:
        assert run['seconds'] < 30 and run['peak_rss_mb'] < 1024, run
        assert 'Traceback' not in run['stderr'], run
        if run['code'] == 0:
            assert run['stderr'] == '', run
            assert run['same'] or run['how'].startswith('tar-'), run
            continue
        failures += 1
        assert run['code'] in (1, 2), run
        lines = run['stderr'].strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('example.py: error: '), run
    assert failures >= COUNT // 3  # the mutations do reach the checks
