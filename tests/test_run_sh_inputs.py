"""run.sh from the caller's side: --help, paths of the caller's directory, a model file the next
commands find, and both inputs checked before any download (offline: one line naming both)."""
import importlib.util
import json
import os
import socket
import stat
import subprocess
import sys

import numpy
import pytest

import cifar_files
from conftest import ROOT
from inception_score import cifar10, cli, fetch, inception_score

def _closed_port():
    with socket.socket() as s:  # bound, never listening: a connection is refused at once
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


DEAD_PROXY = 'http://127.0.0.1:{}'.format(_closed_port())  # every download fails, as offline


@pytest.fixture
def venv(tmp_path):
    """A VENV whose python is this interpreter, so run.sh finds it installed (and never
    installs anything: without all of run.sh's packages here, the test is skipped)."""
    # run.sh's own test (found, not imported: importing TensorFlow takes seconds)
    if not all(importlib.util.find_spec(m) for m in ('chainer', 'tensorflow', 'h5py')):
        pytest.skip('run.sh needs Chainer and TensorFlow in this environment (.venv)')
    python = tmp_path / 'venv' / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\nexec "{}" "$@"\n'.format(sys.executable))
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path / 'venv')


@pytest.fixture
def work(tmp_path):
    """The caller's directory: not the checkout."""
    (tmp_path / 'work').mkdir()
    return tmp_path / 'work'


def _run_sh(venv, cwd, *args, model=None):
    env = dict(os.environ, VENV=venv, PYTHONPATH=ROOT, http_proxy=DEAD_PROXY,
               https_proxy=DEAD_PROXY, HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY,
               CHAINER_DATASET_ROOT=os.path.join(os.path.dirname(venv), 'dataset_root'))
    for name in ('no_proxy', 'NO_PROXY', 'MODEL'):
        env.pop(name, None)
    if model is not None:
        env['MODEL'] = str(model)
    return subprocess.run(['bash', os.path.join(ROOT, 'run.sh')] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=str(cwd), timeout=600)


def test_help_prints_the_usage_with_example_flags_and_starts_nothing(venv, work):
    for args in (['--help'], ['-h'], ['--graph', 'g.tgz', '--samples', '4', '--help']):
        proc = _run_sh(venv, work, *args)
        assert proc.returncode == 0 and proc.stderr == '', proc.stderr
        assert proc.stdout.startswith('The main job on a fresh machine')
        assert 'bash run.sh [--graph PATH] [--sha256 HEX] [--url URL] [example.py flags...]' \
            in proc.stdout
        for flag in ('--infile MODEL, --model MODEL', '--data PATH', '--no-download',
                     '--samples N', '--json OUT', '--gpu GPU'):
            assert flag in proc.stdout, flag
    assert os.listdir(str(work)) == []


def test_version_prints_the_packages_and_starts_nothing(venv, work):
    import inception_score
    proc = _run_sh(venv, work, '--samples', '4', '--version')
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, 'run.sh {}\n'.format(inception_score.__version__), '')
    assert os.listdir(str(work)) == []


GRAPH_LINE = ('the Inception graph cannot be downloaded ([Errno 111] Connection refused): '
              'download {} (89 MB) and pass --graph PATH to it'.format(fetch.DEFAULT_URL))


def test_offline_with_neither_input_names_both_in_one_line_before_any_work(venv, work):
    proc = _run_sh(venv, work, '--samples', '4')
    assert proc.returncode == 2
    assert proc.stderr == 'run.sh: error: {}; and {}\n'.format(
        GRAPH_LINE, cifar10.not_found_message(str(work),
                                              reason='[Errno 111] Connection refused'))
    assert os.listdir(str(work)) == []


def test_offline_with_one_input_names_the_other_before_converting(venv, work, graph_files,
                                                                  tmp_path):
    rng = numpy.random.RandomState(41)
    train = rng.randint(0, 256, (10, 3, 32, 32)).astype(numpy.uint8)
    data = cifar_files.write_archive(tmp_path / 'cifar-10-python.tar.gz', train, train[:2],
                                     'python')
    proc = _run_sh(venv, work, '--data', data, '--samples', '4')
    assert proc.returncode == 2 and proc.stderr == 'run.sh: error: {}\n'.format(GRAPH_LINE)
    proc = _run_sh(venv, work, '--graph', graph_files['tgz'], '--no-download')
    assert proc.returncode == 2
    assert proc.stderr == 'run.sh: error: {}\n'.format(cifar10.not_found_message(
        str(work), reason='not downloaded: --no-download'))
    proc = _run_sh(venv, work, '--graph', graph_files['tgz'], '--samples', '0')
    assert proc.returncode == 2  # example.py's flags too, before the conversion
    assert proc.stderr == ("run.sh: error: argument --samples: must be an integer >= 1, got "
                           "'0' (see run.sh --help)\n")
    assert os.listdir(str(work)) == []  # nothing converted


@pytest.mark.slow
def test_paths_are_the_callers_and_the_next_commands_find_the_model(
        venv, work, graph_files, network, monkeypatch, capsys):
    rng = numpy.random.RandomState(42)
    train = rng.randint(0, 256, (10, 3, 32, 32)).astype(numpy.uint8)
    cifar_files.write_archive(work / 'local.tar.gz', train, train[:2], 'binary')
    os.symlink(graph_files['tgz'], str(work / 'graph.tgz'))
    proc = _run_sh(venv, work, '--graph', 'graph.tgz', '--data', 'local.tar.gz', '--json',
                   'report.json', '--samples', '4', '--splits', '2', '--quiet')
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = 'Inception Score: {:.4f} \u00b1 {:.4f} (N=4, splits=2)'.format(
        *inception_score(network, train[:4], splits=2))
    assert proc.stdout.splitlines()[-1] == line
    report = json.loads((work / 'report.json').read_text())
    assert report['inputs'] == [str(work / 'local.tar.gz')]
    assert report['model_file'] == 'inception_score.model'  # run.sh's --infile
    assert not os.path.exists(os.path.join(ROOT, 'report.json'))

    # The model run.sh wrote is where the commands look first.
    monkeypatch.chdir(str(work))
    monkeypatch.setenv('CHAINER_DATASET_ROOT', str(work / 'empty_root'))
    numpy.save(str(work / 'images.npy'), train[:4])
    assert cli.score_main(['images.npy', '--splits', '2', '--quiet']) == 0
    assert capsys.readouterr().out == line + '\n'
