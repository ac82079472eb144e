"""One rule, everywhere (issue 14): every command and the Python API follow the same rules.

- a message's fix is named in the caller's words: flags on the command lines, keywords in Python;
- a path that is not there, or a folder where a file is wanted, is exit 2 on every command;
- without Chainer, hasattr() says False, the import and the attribute still say how to install;
- Ctrl-C is one line `prog: interrupted` and exit 130 whenever it comes, however often;
- --plot writes the format its extension names (or refuses the name before any work);
- every command has --version;
- image files can be given one by one, by the rules of image files in folders;
- the converter's warnings are `prog: warning: ...` lines;
- a flag is called unused only when neither the inputs nor the reference use it.
"""
import importlib.util
import json
import os
import re
import runpy
import signal
import subprocess
import sys
import tempfile
import time

import numpy
import pytest
from PIL import Image

import inception_score
from conftest import ROOT
from inception_score import cli, fixes
from inception_score.errors import InputError, MissingDependencyError
from inception_score.sources import FolderSource

BIN = os.path.dirname(sys.executable)
HAS_CHAINER = importlib.util.find_spec('chainer') is not None


def _pngs(folder, n, seed=0, size=8):
    os.makedirs(str(folder), exist_ok=True)
    rng = numpy.random.RandomState(seed)
    for i in range(n):
        Image.fromarray(rng.randint(0, 256, (size, size, 3)).astype(numpy.uint8)).save(
            str(folder / '{}.png'.format(i)))
    return folder


def _main(capsys, main, *argv):
    """(exit code, stdout, stderr lines) of an in-process command."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def _few(n, splits):
    """The warning that n images in `splits` splits are too few for the Inception Score."""
    part = n // splits
    return ('inception-score: warning: {} images in {} split{}: a part of {} images scores at '
            'most {}, so the Inception Score says little about the images: score more images '
            '(the reference scores 50,000 in 10 splits of 5,000) or give fewer --splits'.format(
                n, splits, 's' if splits > 1 else '', part, part))


def _example():
    """example.py's parser and main, run through cli.run as its __main__ does."""
    names = runpy.run_path(os.path.join(ROOT, 'example.py'))
    return lambda argv: cli.run(names['main'], argv, names['parser'], 'example.py')


# ---------------------------------------------------------------------------------------------
# The fix in the caller's words

def test_fix_spells_keywords_in_python_and_flags_under_a_command():
    assert fixes.fix('value_range', (-1, 1)) == 'value_range=(-1, 1)'
    assert fixes.fix('skip_bad') == 'skip_bad=True'
    assert fixes.fix('key', 'NAME') == 'key=NAME' and fixes.fix('layout', 'nchw') == \
        "layout='nchw'"
    with fixes.flags():
        assert fixes.fix('value_range', (-1, 1)) == '--input-range=-1,1'
        assert fixes.fix('skip_bad') == '--skip-bad'
        assert fixes.fix('key', 'NAME') == '--key NAME'
        assert fixes.setting('value_range', (0, 255)) == '--input-range=0,255'
    assert fixes.setting('value_range', (0, 255)) == 'value_range (0, 255)'


def test_value_range_fix_is_the_flag_on_the_command_line_and_the_keyword_in_python(
        model_file, tmp_path, capsys):
    ims = numpy.random.RandomState(0).uniform(-1, 1, (2, 3, 8, 8)).astype(numpy.float32)
    with pytest.raises(InputError) as info:
        inception_score.inception_score(model_file, ims, splits=1)
    assert str(info.value).endswith('for images in [-1, 1] pass value_range=(-1, 1)')
    numpy.save(str(tmp_path / 'x.npy'), ims)
    code, out, err = _main(capsys, cli.score_main, tmp_path / 'x.npy', '--model', model_file,
                           '--splits', '1', '--quiet')
    assert code == 1 and out == ''
    assert len(err) == 1 and err[0].startswith('inception-score: error: {}'.format(
        tmp_path / 'x.npy'))
    assert err[0].endswith('outside --input-range=0,255: for images in [-1, 1] pass '
                           '--input-range=-1,1'), err
    # The command's words end with the command: Python callers get keywords again.
    assert fixes.fix('value_range', (0, 1)) == 'value_range=(0, 1)'


def test_the_decoding_thread_names_flags_too(model_file, tmp_path, capsys):
    # Batches after the first are decoded in a thread: its message speaks the command's words.
    folder = _pngs(tmp_path / 'imgs', 1)
    (folder / '1.png').write_bytes(b'not an image')
    code, _, err = _main(capsys, cli.score_main, folder, '--model', model_file, '--splits', '1',
                         '--batch-size', '1', '--quiet')
    assert code == 1 and err == [
        'inception-score: error: {} is not a readable image (no image format recognised): fix '
        'or remove it, or pass --skip-bad'.format(folder / '1.png')]
    with pytest.raises(InputError, match='pass skip_bad=True'):
        list(FolderSource(str(folder)).batches(1))


def test_too_many_splits_names_the_splits_to_pass(tmp_path, capsys):
    image = _pngs(tmp_path, 1) / '0.png'
    code, _, err = _main(capsys, cli.score_main, image, '--model', tmp_path / 'none.model')
    assert code == 2 and err == [
        'inception-score: error: 1 images cannot be cut into 10 splits: pass --splits 1 or '
        'score at least 10 images (the reference uses 50000 and 10)']
    with pytest.raises(InputError, match='pass splits=1 or score at least 10 images'):
        inception_score.inception_score(None, numpy.zeros((1, 3, 8, 8), numpy.uint8))


# ---------------------------------------------------------------------------------------------
# Missing paths and folders where a file is wanted: exit 2 on every command

def test_missing_paths_and_folders_exit_2_on_every_command(tmp_path, capsys):
    folder = _pngs(tmp_path / 'imgs', 2)
    absent, out = tmp_path / 'absent', tmp_path / 'out'
    out.mkdir()
    none = tmp_path / 'none.model'
    cases = [
        (cli.score_main, [absent, '--model', none], '{} does not exist'.format(absent)),
        (cli.score_main, [folder, '--model', none, '--fid', absent],
         'reference {} does not exist'.format(absent)),
        (cli.score_main, [folder, '--model', none, '--adm', absent],
         'reference {} does not exist'.format(absent)),
        (cli.score_main, [folder, '--model', folder],
         'model file {} not found'.format(folder)),
        (cli.score_main, [folder, '--model', none, '--plot', out], 'a directory'),
        (cli.download_main, ['--graph', absent, '--outfile', out / 'm.model'],
         '--graph {} does not exist: give the path of'.format(absent)),
        (cli.download_main, ['--graph', folder, '--outfile', out / 'm.model'],
         '--graph {} is a folder: give the path of'.format(folder)),
        (_example(), ['--infile', none, '--data', absent], '{} does not exist'.format(absent)),
    ]
    for main, argv, says in cases:
        if main is cli.score_main:
            argv = argv + (['--split-size', '2'] if '--adm' in argv else ['--splits', '2'])
        code, _, err = _main(capsys, main, *argv)
        assert code == 2 and len(err) == 1 and says in err[0], (argv, err)
        assert ': error: ' in err[0]
    assert os.listdir(str(out)) == []


# ---------------------------------------------------------------------------------------------
# Without Chainer

@pytest.fixture
def without_chainer(monkeypatch):
    """The package as it is where Chainer is not installed (in .venv-core it is not)."""
    if HAS_CHAINER:
        monkeypatch.setitem(sys.modules, 'chainer', None)  # import chainer -> ImportError
        for name in ('inception_score.model', 'inception_score.extension'):
            monkeypatch.delitem(sys.modules, name, raising=False)
    for name in inception_score._CHAINER_NAMES:
        monkeypatch.delitem(inception_score.__dict__, name, raising=False)


def test_without_chainer_hasattr_is_false_and_use_says_how_to_install(without_chainer):
    hint = re.escape('needs Chainer: pip install "inception_score[chainer]"')
    for name in ('Inception', 'load_model', 'InceptionScoreExtension',
                 'inception_score_from_generator'):
        assert not hasattr(inception_score, name)
        with pytest.raises(MissingDependencyError, match=name + ' ' + hint):
            getattr(inception_score, name)
    with pytest.raises(MissingDependencyError, match='Inception ' + hint) as info:
        from inception_score import Inception  # noqa: F401
    assert len(str(info.value).splitlines()) == 1
    assert hasattr(inception_score, 'Network') and not hasattr(inception_score, 'nothing')


def test_import_is_light_and_star_import_gives_the_core():
    # The commands start by importing the package: numpy and friends load inside cli.run,
    # where a Ctrl-C is one line, not at the import.
    code = ('import sys, inception_score, inception_score.cli\n'
            'print(sorted(m for m in ("numpy", "h5py", "chainer") if m in sys.modules))\n'
            'names = {}\n'
            'exec("from inception_score import *", names)\n'
            'print("inception_score" in names, "Network" in names, "Inception" in names)\n')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.stdout.splitlines() == ['[]', 'True True False'], proc.stderr


# ---------------------------------------------------------------------------------------------
# Ctrl-C: one line, exit 130, whenever it comes

def _loaded(pid, library):
    try:
        with open('/proc/{}/maps'.format(pid)) as f:
            return library in f.read()
    except OSError:
        return False


def _interrupted(argv, ready, signals, cwd):
    """(exit code, stderr) of `argv` sent `signals` SIGINTs 50 ms apart once ready(pid, err)."""
    with tempfile.TemporaryFile('w+') as err:
        proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL, stderr=err,
                                cwd=str(cwd))
        deadline = time.time() + 120
        try:
            while True:
                err.seek(0)
                if ready(proc.pid, err.read()):
                    break
                assert proc.poll() is None, 'ended before the moment: ' + err.read()
                assert time.time() < deadline
                time.sleep(0.005)
            for _ in range(signals):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.05)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        err.seek(0)
        return code, err.read()


def _assert_one_interrupted_line(code, err, prog):
    lines = [part for line in err.splitlines() for part in line.split('\r') if part.strip()]
    assert code == 130, err
    assert 'Traceback' not in err and 'Exception ignored' not in err, err
    assert lines[-1] == prog + ': interrupted' and err.count('interrupted') == 1, err


NUMPY = '_multiarray_umath'  # numpy's C core: loaded while the command imports and parses
TENSORFLOW = '_pywrap_tensorflow'  # loaded while the converter imports TensorFlow


@pytest.mark.parametrize('command,prog,marker,signals', [
    ('inception-score', 'inception-score', NUMPY, 1),
    ('-m', 'inception-score', NUMPY, 3),
    ('example.py', 'example.py', NUMPY, 1),
    ('inception-score-download', 'inception-score-download', NUMPY, 3),
    pytest.param('download.py', 'download.py', TENSORFLOW, 3, marks=pytest.mark.slow),
])
def test_ctrl_c_while_starting_is_one_line(command, prog, marker, signals, graph_files,
                                           tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    head = {'inception-score': [os.path.join(BIN, 'inception-score')],
            '-m': [sys.executable, '-m', 'inception_score'],
            'example.py': [sys.executable, os.path.join(ROOT, 'example.py')],
            'inception-score-download': [os.path.join(BIN, 'inception-score-download')],
            'download.py': [sys.executable, os.path.join(ROOT, 'download.py')]}[command]
    if 'download' in command:
        argv = head + ['--graph', graph_files['tgz'], '--outfile', out / 'm.model', '--quiet']
    elif command == 'example.py':
        argv = head + ['--infile', tmp_path / 'none.model', '--no-download', '--json',
                       out / 'r.json']
    else:
        argv = head + [tmp_path, '--model', tmp_path / 'none.model', '--json', out / 'r.json']
    code, err = _interrupted(argv, lambda pid, _: _loaded(pid, marker), signals, tmp_path)
    _assert_one_interrupted_line(code, err, prog)
    assert os.listdir(str(out)) == []


@pytest.mark.slow
def test_ctrl_c_three_times_while_scoring_is_one_line(model_file, tmp_path):
    # The first batch is scored while the decoding thread reads the next: three Ctrl-Cs then
    # stop the run, join the thread and leave no report behind, with one line.
    folder = _pngs(tmp_path / 'imgs', 24)
    out = tmp_path / 'out'
    out.mkdir()
    argv = [os.path.join(BIN, 'inception-score'), folder, '--model', model_file, '--splits',
            '2', '--batch-size', '2', '--json', out / 'r.json']
    code, err = _interrupted(argv, lambda _, err: 'images' in err, 3, tmp_path)
    _assert_one_interrupted_line(code, err, 'inception-score')
    assert os.listdir(str(out)) == []


# ---------------------------------------------------------------------------------------------
# --plot: the format its extension names

def test_plot_is_written_in_the_format_its_extension_names(model_file, tmp_path, capsys):
    image = _pngs(tmp_path / 'imgs', 1) / '0.png'
    plots = {'jpg': b'\xff\xd8\xff', 'svg': b'<?xml', 'pdf': b'%PDF'}
    # One run per format would cost a pass each: the command writes the JPEG, and the same
    # plot_summary writes the others, named by their extensions.
    code, out, err = _main(capsys, cli.score_main, image, '--model', model_file, '--splits',
                           '1', '--quiet', '--plot', tmp_path / 's.jpg')
    assert code == 0 and err == [_few(1, 1)], err
    with Image.open(str(tmp_path / 's.jpg')) as picture:
        assert picture.format == 'JPEG' and picture.size == (1200, 500)
    from inception_score.plot import plot_summary
    counts = numpy.zeros(1008, numpy.int64)
    counts[3] = 1
    for extension, magic in plots.items():
        path = tmp_path / ('t.' + extension)
        plot_summary(str(path), counts, ['c'] * 1008, [1.0], 1.0, 0.0)
        assert path.read_bytes().startswith(magic), extension


@pytest.mark.parametrize('name', ['s.bmp', 's.pgf', 'summary'])
def test_plot_name_matplotlib_cannot_write_is_refused_before_any_work(name, tmp_path, capsys):
    folder = _pngs(tmp_path / 'imgs', 2)
    code, _, err = _main(capsys, cli.score_main, folder, '--model', tmp_path / 'none.model',
                         '--plot', tmp_path / name)
    assert code == 2 and len(err) == 1, err  # before the (missing) model is looked for
    assert err[0].startswith('inception-score: error: {}: the extension names the format'
                             .format(tmp_path / name))
    writes = err[0].split('matplotlib writes ')[1].split(': name the file')[0].split(', ')
    assert {'.png', '.pdf', '.svg', '.jpg'} <= set(writes) and '.pgf' not in writes
    assert sorted(os.listdir(str(tmp_path))) == ['imgs']


# ---------------------------------------------------------------------------------------------
# --version

def test_version_in_process(capsys):
    for main in (cli.score_main, cli.download_main, _example()):
        with pytest.raises(SystemExit) as info:
            main(['--version'])
        assert info.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [prog + ' ' + inception_score.__version__
                   for prog in ('inception-score', 'inception-score-download', 'example.py')]


@pytest.mark.parametrize('argv,prog', [
    ([os.path.join(BIN, 'inception-score')], 'inception-score'),
    ([os.path.join(BIN, 'inception-score-download')], 'inception-score-download'),
    ([sys.executable, '-m', 'inception_score'], 'inception-score'),
    ([sys.executable, os.path.join(ROOT, 'download.py')], 'download.py'),
    ([sys.executable, os.path.join(ROOT, 'example.py')], 'example.py'),
    pytest.param([sys.executable, os.path.join(ROOT, 'examples', 'dcgan_with_inception_score.py')],
                 'dcgan_with_inception_score.py', marks=[
                     pytest.mark.slow, pytest.mark.skipif(not HAS_CHAINER, reason='Chainer')]),
])
def test_version_of_every_command(argv, prog):
    proc = subprocess.run(argv + ['--version'], capture_output=True, text=True, cwd=ROOT)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, '{} {}\n'.format(prog, inception_score.__version__), '')


# ---------------------------------------------------------------------------------------------
# Image files given one by one

@pytest.mark.slow
def test_image_files_and_folders_mixed_score_as_the_images_do(model_file, network, tmp_path,
                                                               capsys):
    folder = _pngs(tmp_path / 'some', 4, size=12)
    ims = numpy.stack([numpy.asarray(Image.open(str(folder / '{}.png'.format(i))))
                       for i in range(4)]).transpose(0, 3, 1, 2)
    os.replace(str(folder / '0.png'), str(tmp_path / '0.png'))
    os.replace(str(folder / '3.png'), str(tmp_path / '3.png'))
    report = tmp_path / 'r.json'
    code, out, err = _main(capsys, cli.score_main, tmp_path / '0.png', folder,
                           tmp_path / '3.png', '--model', model_file, '--splits', '2',
                           '--batch-size', '3', '--quiet', '--json', report)
    assert code == 0 and err == [_few(4, 2)], err
    assert out.startswith('Inception Score: ') and '(N=4, splits=2)' in out
    assert json.loads(report.read_text())['inputs'][0] == str(tmp_path / '0.png')
    # The same images in the order given (0, then the folder's 1 and 2, then 3). Only the
    # batching differs (3 + 1 against 4 at once: other SGEMM shapes, other float32 rounding;
    # 1e-5 relative seen here), so the tolerance is the fidelity tests' 1e-4 for a score.
    mean, std = inception_score.inception_score(network, ims, splits=2)
    got = json.loads(report.read_text())['inception_score']
    assert (got['mean'], got['std']) == (pytest.approx(mean, rel=1e-4),
                                         pytest.approx(std, rel=1e-4))
    assert mean != pytest.approx(1.0)  # four different images: not the score of one


def test_one_image_file_by_the_rules_of_folders(model_file, tmp_path, capsys):
    good = _pngs(tmp_path / 'imgs', 1) / '0.png'
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image')
    deep = tmp_path / 'deep.png'
    Image.fromarray(numpy.arange(64, dtype=numpy.uint16).reshape(8, 8) * 1000).save(str(deep))
    none = tmp_path / 'none.model'
    code, _, err = _main(capsys, cli.score_main, tmp_path / 'gone.png', '--model', none,
                         '--splits', '1')
    assert code == 2 and err == ['inception-score: error: {} does not exist'.format(
        tmp_path / 'gone.png')]
    report = tmp_path / 'r.json'
    code, out, err = _main(capsys, cli.score_main, bad, good, deep, '--model', model_file,
                           '--splits', '1', '--skip-bad', '--allow-16bit', '--quiet',
                           '--json', report)
    assert code == 0 and err == [_few(2, 1)] and '(N=2, splits=1)' in out, err  # no unused
    assert json.loads(report.read_text())['skipped_files'] == [str(bad)]
    code, _, err = _main(capsys, cli.score_main, deep, '--model', model_file, '--splits', '1',
                         '--quiet', '--layout', 'nhwc')
    assert code == 1 and err == [
        'inception-score: warning: --layout applies to .npz/.npy images (inputs or reference) '
        'only: ignored',
        'inception-score: error: {} is a 16-bit image (PNG): pass --allow-16bit to reduce it '
        'to 8 bits (the high byte of each sample)'.format(deep)]


# ---------------------------------------------------------------------------------------------
# The converter's warnings

def test_converter_warning_is_a_prog_warning_line(graph_files, tmp_path, capsys):
    code, out, err = _main(capsys, cli.download_main, '--graph', graph_files['pb'],
                           '--outfile', tmp_path / 'm.model', '--quiet')
    assert code == 0
    assert err == ['inception-score-download: warning: the graph from {} is not the released '
                   'inception-2015-12-05 graph (SHA-256 '.format(graph_files['pb'])
                   + err[0].split('(SHA-256 ')[1]]
    assert 'not comparable with published Inception Scores' in err[0]
    assert 'Saved {}'.format(tmp_path / 'm.model') in out


# ---------------------------------------------------------------------------------------------
# Unused flags: the reference counts

def test_flags_used_by_the_reference_alone_are_not_called_unused(tmp_path, capsys):
    folder = _pngs(tmp_path / 'imgs', 2)
    ref = tmp_path / 'ref.npy'
    numpy.save(str(ref), numpy.zeros((4, 8, 8, 3), numpy.float32))
    npy = tmp_path / 'x.npy'
    numpy.save(str(npy), numpy.zeros((2, 8, 8, 3), numpy.uint8))
    none = tmp_path / 'none.model'
    for argv in ([folder, '--fid', ref, '--input-range=-1,1', '--layout', 'nhwc'],
                 [npy, '--fid', folder, '--skip-bad', '--allow-16bit']):
        code, _, err = _main(capsys, cli.score_main, *argv, '--splits', '2', '--model', none)
        assert code == 2 and len(err) == 1 and 'not found' in err[0], err  # no warning line
    code, _, err = _main(capsys, cli.score_main, folder, '--input-range=0,1', '--splits', '2',
                         '--model', none)
    assert err[0] == ('inception-score: warning: --input-range applies to float arrays in '
                      '.npz/.npy files (inputs or reference; image files are 8-bit): ignored')
