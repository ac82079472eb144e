"""example.py's inputs, through its real command: whatever a run reads (given or found) is never
an output, CIFAR-10 copies are checked whole and before memory is spent on them, the report
survives a closed stdout, and every command finds the default model by one rule."""
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

import numpy
import pytest
from numpy.lib import format as npy_format

import cifar_files
from conftest import ROOT, make_tgz
from inception_score import cifar10, cli, inception_score, modelfile

sys.path.insert(0, ROOT)
import example  # noqa: E402

def _closed_port():
    with socket.socket() as s:  # bound, never listening: a connection is refused at once
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


DEAD_PROXY = 'http://127.0.0.1:{}'.format(_closed_port())  # every download fails, as offline


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    rng = numpy.random.RandomState(31)
    train = rng.randint(0, 256, (10, 3, 32, 32)).astype(numpy.uint8)
    d = tmp_path_factory.mktemp('cifar')
    archives = {kind: cifar_files.write_archive(d / cifar10.ARCHIVES[kind], train, train[:2],
                                                kind) for kind in ('python', 'binary')}
    return train, archives


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty dataset cache and no network: nothing is found or downloaded by accident."""
    root = tmp_path / 'dataset_root'
    monkeypatch.setenv('CHAINER_DATASET_ROOT', str(root))
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):
        monkeypatch.setenv(name, DEAD_PROXY)
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    return root


@pytest.fixture
def no_hang():
    """Fail (instead of blocking the suite) if the test takes more than 30 s."""
    def expire(*_):
        raise TimeoutError('blocked for 30 s')
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _example(capsys, *args):
    """example.py's exit code and stderr lines, in-process."""
    code = example.cli_main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def _one_error(capsys, code, *args, prog='example.py'):
    got, lines = _example(capsys, *args) if prog == 'example.py' else (None, None)
    assert got == code, lines
    assert len(lines) == 1 and lines[0].startswith(prog + ': error: '), lines
    return lines[0][len(prog + ': error: '):]


def _sha(path):
    with open(str(path), 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Whatever a run reads is an input, never an output.

def test_no_output_lands_on_the_data_or_model_found_or_given(cifar, model_file, tmp_path,
                                                             offline, monkeypatch, capsys):
    _, archives = cifar
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(archives['python'], str(work / 'cifar-10-python.tar.gz'))
    os.symlink(model_file, str(work / 'inception_score.model'))
    cache = offline / 'pfnet' / 'chainer' / 'cifar' / 'cifar-10.npz'
    cache.parent.mkdir(parents=True)
    numpy.savez_compressed(str(cache), train_x=numpy.zeros((2, 3072), numpy.uint8),
                           train_y=numpy.zeros(2, numpy.int32),
                           test_x=numpy.zeros((1, 3072), numpy.uint8),
                           test_y=numpy.zeros(1, numpy.int32))
    extracted = tmp_path / 'extracted'
    batches = cifar_files.write_folder(extracted, *[numpy.zeros((5, 3, 32, 32), numpy.uint8)] * 2,
                                       'python')
    before = {p: _sha(p) for p in (work / 'cifar-10-python.tar.gz', model_file, cache)}

    # Found in the working directory: the archive and the model.
    monkeypatch.chdir(str(work))
    message = _one_error(capsys, 2, '--json', 'cifar-10-python.tar.gz', '--samples', '2')
    assert message == ('--json cifar-10-python.tar.gz is the CIFAR-10 copy {}: writing it would '
                       'destroy that file; choose another path'.format(
                           work / 'cifar-10-python.tar.gz'))
    message = _one_error(capsys, 2, '--json', 'inception_score.model', '--samples', '2')
    assert message == ('--json inception_score.model is the --model {}: writing it would '
                       'destroy that file; choose another path'.format(
                           work / 'inception_score.model'))
    # The command line finds the same model and protects it the same way.
    assert cli.score_main([batches, '--json', 'inception_score.model']) == 2
    err = capsys.readouterr().err
    assert err == ('inception-score: error: --json inception_score.model is the --model {}: '
                   'writing it would destroy that file; choose another path\n'.format(
                       work / 'inception_score.model'))

    # Found in Chainer's cache; an extracted folder found here; the file a download would write.
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.chdir(str(elsewhere))
    message = _one_error(capsys, 2, '--model', model_file, '--json', cache)
    assert message.startswith('--json {} is the CIFAR-10 copy {}: writing it'.format(cache,
                                                                                     cache))
    os.rename(str(extracted / 'cifar-10-batches-py'), str(elsewhere / 'cifar-10-batches-py'))
    message = _one_error(capsys, 2, '--model', model_file, '--json',
                         'cifar-10-batches-py/report.json')
    assert message == ('--json cifar-10-batches-py/report.json is inside the CIFAR-10 copy '
                       'folder {}: write outputs outside the inputs'.format(
                           elsewhere / 'cifar-10-batches-py'))
    shutil.rmtree(str(elsewhere / 'cifar-10-batches-py'))
    os.remove(str(cache))
    destination = cifar10.download_path()
    message = _one_error(capsys, 2, '--model', model_file, '--json', destination)
    assert message.startswith('--json {} is the CIFAR-10 copy {}'.format(destination,
                                                                          destination))
    assert not os.path.exists(destination)  # refused before any download was tried
    del before[cache]
    assert {p: _sha(p) for p in before} == before
    assert sorted(os.listdir(str(work))) == ['cifar-10-python.tar.gz', 'inception_score.model']


# ---------------------------------------------------------------------------------------------
# CIFAR-10 archives: read whole through fetch.read_archive, so the gzip CRC and length count.

def _stored_archive(path, train):
    """The python layout, gzip-compressed at level 0: the pixels lie in stored blocks."""
    with tarfile.open(str(path), 'w:gz', compresslevel=0) as tar:
        for name, data in cifar_files.batches(train, train[:2], 'python').items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _damaged(data, how, train):
    data = bytearray(data)
    if how == 'cut trailer':
        return bytes(data[:-4])
    if how == 'flipped CRC':
        data[-8] ^= 0x01
    elif how == 'wrong ISIZE':
        data[-1] ^= 0x01
    else:  # one pixel byte of the first image, inside a stored block
        at = bytes(data).find(train[0].tobytes()[:256])
        assert at > 0
        data[at + 100] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize('how', ['cut trailer', 'flipped CRC', 'wrong ISIZE',
                                 'flipped pixel in a stored block'])
def test_damaged_gzip_stream_is_refused_not_scored(cifar, model_file, tmp_path, offline,
                                                   capsys, how):
    train, _ = cifar
    original = _stored_archive(tmp_path / 'original.tar.gz', train)
    damaged = tmp_path / 'cifar-10-python.tar.gz'
    damaged.write_bytes(_damaged(original.read_bytes(), how, train))
    message = _one_error(capsys, 1, '--model', model_file, '--data', damaged, '--samples', '2')
    assert message.startswith('{} is truncated or corrupt ('.format(damaged)), message
    assert message.endswith('): download it again')


def test_archive_members_are_checked_against_what_cifar10_holds(cifar, model_file, tmp_path,
                                                                offline, capsys):
    train, _ = cifar
    records = cifar_files.batches(train, train[:2], 'binary')
    bad_label = dict(records)
    first = bytearray(bad_label['cifar-10-batches-bin/data_batch_1.bin'])
    first[0] = 10  # CIFAR-10 has labels 0-9
    bad_label['cifar-10-batches-bin/data_batch_1.bin'] = bytes(first)
    make_tgz(tmp_path / 'label.tar.gz', bad_label)
    message = _one_error(capsys, 1, '--model', model_file, '--data', tmp_path / 'label.tar.gz')
    assert message == ('{}: cifar-10-batches-bin/data_batch_1.bin has labels outside 0-9: it is '
                       'not CIFAR-10'.format(tmp_path / 'label.tar.gz'))

    # 10,001 records: one more than a batch holds; refused from the tar header, unread.
    big = dict(records)
    big['cifar-10-batches-bin/data_batch_2.bin'] = bytes(10001 * 3073)
    make_tgz(tmp_path / 'big.tar.gz', big)
    message = _one_error(capsys, 1, '--model', model_file, '--data', tmp_path / 'big.tar.gz')
    assert message.startswith('{}: cifar-10-batches-bin/data_batch_2.bin claims 30733073 bytes, '
                              'more than the 30730000 bytes cap'.format(tmp_path / 'big.tar.gz'))

    python = cifar_files.batches(train, train[:2], 'python')
    python['cifar-10-batches-py/data_batch_1'] = cifar_files.python_batch(train[:2], [0])
    make_tgz(tmp_path / 'labels.tar.gz', python)
    message = _one_error(capsys, 1, '--model', model_file, '--data', tmp_path / 'labels.tar.gz')
    assert message == ("{}: cifar-10-batches-py/data_batch_1 is not a CIFAR-10 batch: b'labels' "
                       'is not a list of 2 integers'.format(tmp_path / 'labels.tar.gz'))


def test_batch_file_over_the_size_of_a_batch_is_refused_unread(cifar, model_file, tmp_path,
                                                              offline, capsys):
    train, _ = cifar
    folder = cifar_files.write_folder(tmp_path, train, train[:2], 'binary')
    big = os.path.join(folder, 'data_batch_3.bin')
    os.truncate(big, 10001 * 3073)  # sparse: nothing is written, nothing must be read
    message = _one_error(capsys, 1, '--model', model_file, '--data', folder)
    assert message == ('{} is 30733073 bytes, more than a CIFAR-10 batch (30730000 at '
                       'most)'.format(big))


# ---------------------------------------------------------------------------------------------
# Chainer's cifar-10.npz: read through arrayfile's checked, lazy reader.

def _npy(shape, data=b'', dtype='|u1'):
    out = io.BytesIO()
    npy_format.write_array_header_1_0(out, {'descr': dtype, 'fortran_order': False,
                                            'shape': shape})
    return out.getvalue() + data


def test_npz_whose_arrays_do_not_fit_cifar10_is_one_line(tmp_path, model_file, offline,
                                                         capsys):
    huge = tmp_path / 'huge.npz'  # a header claiming 30 GB over 6 KB of data
    with zipfile.ZipFile(str(huge), 'w') as z:
        z.writestr('train_y.npy', _npy((2,), bytes(2)))
        z.writestr('train_x.npy', _npy((10 ** 7, 3072), bytes(2 * 3072)))
    message = _one_error(capsys, 1, '--model', model_file, '--data', huge)
    assert message.startswith("{} (array 'train_x') is truncated or damaged: its header promises "
                              'a uint8 array of shape (10000000, 3072)'.format(huge)), message

    uneven = tmp_path / 'uneven.npz'
    numpy.savez(str(uneven), train_x=numpy.zeros((2, 3072), numpy.uint8),
                train_y=numpy.zeros(3, numpy.int32))
    message = _one_error(capsys, 1, '--model', model_file, '--data', uneven)
    assert message == ("{}: 'train_x' has shape (2, 3072) and dtype uint8, expected (3, 3072) "
                       "uint8 (one row per label in 'train_y')".format(uneven))

    foreign = tmp_path / 'foreign.npz'
    numpy.savez(str(foreign), x=numpy.zeros((2, 3072), numpy.uint8))
    message = _one_error(capsys, 1, '--model', model_file, '--data', foreign)
    assert message == ("{} has no array 'train_y' (it has x): it is not Chainer's "
                       'cifar-10.npz'.format(foreign))


def _zip_bomb(path, rows):
    """An .npz whose train_x is `rows` x 3072 zero bytes, deflated to about 1/1000: a valid
    archive (sizes, CRC) built from one repeated compressed block, without 2 GB of work."""
    header = _npy((rows, 3072))
    block = bytes(16 << 20)
    size = rows * 3072
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)]
    full_block = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)  # no history
    crc = zlib.crc32(header)
    left = size
    while left >= len(block):
        parts.append(full_block)
        crc = zlib.crc32(block, crc)
        left -= len(block)
    parts.append(deflate.compress(bytes(left)) + deflate.flush())
    crc = zlib.crc32(bytes(left), crc)
    compressed = b''.join(parts)
    labels = _npy((50000,), bytes(50000))
    members = [('train_y.npy', labels, zlib.crc32(labels), 0, labels),
               ('train_x.npy', compressed, crc, 8, None)]
    out, directory = io.BytesIO(), []
    for name, data, member_crc, method, raw in members:
        usize = len(raw) if raw is not None else len(header) + size
        local = struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, 0, method, 0, 0x21, member_crc,
                            len(data), usize, len(name), 0)
        directory.append(struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, 0, method, 0,
                                     0x21, member_crc, len(data), usize, len(name), 0, 0, 0, 0,
                                     0, out.tell()) + name.encode())
        out.write(local + name.encode() + data)
    start = out.tell()
    out.write(b''.join(directory))
    out.write(struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 2, 2, out.tell() - start, start, 0))
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.slow
def test_npz_bomb_is_refused_from_its_headers_in_bounded_memory(tmp_path, model_file):
    bomb = _zip_bomb(tmp_path / 'cifar-10.npz', 700000)  # 2.15 GB of images in ~2 MB
    assert bomb.stat().st_size < 3 << 20
    with zipfile.ZipFile(str(bomb)) as z:  # a valid archive: what it claims is what it holds
        assert z.getinfo('train_x.npy').file_size > 2 << 30
    code = ('import resource, sys\nsys.path.insert(0, {root!r})\nimport example\n'
            'sys.stderr = sys.stdout\n'
            'print(example.cli_main(["--model", {model!r}, "--data", {bomb!r}, "--samples", '
            '"2"]))\n'
            'print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) // 1024)\n'
            .format(root=ROOT, model=model_file, bomb=str(bomb)))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path))
    *lines, code_line, peak = proc.stdout.strip().splitlines()
    assert code_line == '1', proc.stdout + proc.stderr
    assert lines == ["example.py: error: {}: 'train_x' has shape (700000, 3072) and dtype uint8, "
                     "expected (50000, 3072) uint8 (one row per label in 'train_y')".format(bomb)]
    assert int(peak) < 400  # MiB; numpy.load inflated the 2 GB array before (2.3 GB RSS)


# ---------------------------------------------------------------------------------------------
# Files that are no regular files, and files that cannot be read.

def test_fifo_as_data_found_or_inside_a_folder_is_one_line_never_a_hang(
        cifar, model_file, tmp_path, offline, monkeypatch, capsys, no_hang):
    train, _ = cifar
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    message = _one_error(capsys, 2, '--model', model_file, '--data', fifo)
    assert message.startswith('{} is not a regular file (a FIFO): expected '
                              'cifar-10-python.tar.gz'.format(fifo))
    here = tmp_path / 'here'
    here.mkdir()
    os.mkfifo(str(here / 'cifar-10-python.tar.gz'))
    monkeypatch.chdir(str(here))
    message = _one_error(capsys, 2, '--model', model_file)
    assert message.startswith('{} is not a regular file (a FIFO)'.format(
        here / 'cifar-10-python.tar.gz'))
    folder = cifar_files.write_folder(tmp_path / 'x', train, train[:2], 'python')
    os.remove(os.path.join(folder, 'data_batch_2'))
    os.mkfifo(os.path.join(folder, 'data_batch_2'))
    message = _one_error(capsys, 1, '--model', model_file, '--data', folder)
    assert message == ('{} is not a regular file (a FIFO): expected a CIFAR-10 batch'.format(
        os.path.join(folder, 'data_batch_2')))


def test_unreadable_archive_batch_or_folder_is_one_line(cifar):
    """Run as an unprivileged user: root reads everything, so a root test run drops to nobody
    in the child once its imports are done."""
    train, archives = cifar
    top = tempfile.mkdtemp(prefix='inception_score_test_')
    try:
        os.chmod(top, 0o755)
        archive = os.path.join(top, 'cifar-10-python.tar.gz')
        shutil.copy(archives['python'], archive)
        batches = cifar_files.write_folder(os.path.join(top, 'a'), train, train[:2], 'python')
        locked_folder = cifar_files.write_folder(os.path.join(top, 'b'), train, train[:2],
                                                 'binary')
        for root, dirs, names in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for name in names:
                os.chmod(os.path.join(root, name), 0o644)
        os.chmod(archive, 0)
        os.chmod(os.path.join(batches, 'data_batch_4'), 0)
        os.chmod(locked_folder, 0)
        code = ('import os, sys\nsys.path.insert(0, {root!r})\nimport example\n'
                'import inception_score.cifar10, inception_score.fetch, inception_score.report\n'
                'import inception_score.scoring, inception_score.sources\n'
                'example.parser().parse_args([])\n'  # argparse imports gettext, locale lazily
                'if os.geteuid() == 0:\n    os.setgid(65534)\n    os.setuid(65534)\n'
                'sys.stderr = sys.stdout\n'
                'for data in {data!r}:\n'
                '    print(example.cli_main(["--model", "/nonexistent.model", "--data", data]))\n'
                .format(root=ROOT, data=[archive, batches, os.path.join(top, 'b')]))
        proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                              timeout=120, cwd=top)
        fix = 'cannot be read (Permission denied): check its permissions'
        assert proc.stdout.splitlines() == [
            'example.py: error: {} {}'.format(archive, fix), '1',
            'example.py: error: {} {}'.format(os.path.join(batches, 'data_batch_4'), fix), '1',
            'example.py: error: {} {}'.format(locked_folder, fix), '1'], proc.stderr
    finally:
        for root, dirs, names in os.walk(top):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        os.chmod(locked_folder, 0o755)
        shutil.rmtree(top)


# ---------------------------------------------------------------------------------------------
# A closed stdout costs nothing: the report is written before the score line.

@pytest.mark.slow
def test_report_is_written_when_stdout_is_closed(cifar, model_file, tmp_path):
    _, archives = cifar
    read, write = os.pipe()
    os.close(read)  # like `| head -c0`: the first write to stdout fails
    try:
        proc = subprocess.run(
            [sys.executable, os.path.join(ROOT, 'example.py'), '--model', model_file, '--data',
             archives['python'], '--samples', '2', '--splits', '1', '--quiet', '--json',
             str(tmp_path / 'r.json')], stdout=write, stderr=subprocess.PIPE, text=True,
            cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ''
    report = json.loads((tmp_path / 'r.json').read_text())
    assert report['n'] == 2 and report['inputs'] == [archives['python']]


# ---------------------------------------------------------------------------------------------
# The default model: ./inception_score.model, else the dataset cache, for every command.

@pytest.mark.slow
def test_every_command_finds_the_model_here_first_then_in_the_cache_or_names_both(
        cifar, model_file, network, tmp_path, offline, monkeypatch, capsys):
    train, archives = cifar
    here, cache = tmp_path / 'here', offline / 'inception_score' / 'inception_score.model'
    here.mkdir()
    monkeypatch.chdir(str(here))
    expected = ('model file not found: looked for {0} and {1}: create it with: '
                'inception-score-download --outfile {1} (or pass --model PATH)'.format(
                    here / 'inception_score.model', cache))
    assert _one_error(capsys, 2, '--data', archives['python'], '--samples', '2', '--splits',
                      '1') == expected
    images = tmp_path / 'images.npy'
    numpy.save(str(images), train[:2])
    assert cli.score_main([str(images), '--splits', '1', '--quiet']) == 2
    assert capsys.readouterr().err == 'inception-score: error: {}\n'.format(expected)

    cache.parent.mkdir(parents=True)
    os.symlink(model_file, str(cache))
    assert modelfile.find_model() == str(cache)
    os.symlink(model_file, str(here / 'inception_score.model'))
    assert modelfile.find_model() == str(here / 'inception_score.model')  # here comes first
    line = 'Inception Score: {:.4f}'.format(inception_score(network, train[:2], splits=1)[0])
    assert example.cli_main(['--data', archives['python'], '--samples', '2', '--splits', '1',
                             '--quiet', '--json', 'r.json']) == 0
    out, err = capsys.readouterr()
    assert out.startswith(line) and err == ''
    assert json.loads((here / 'r.json').read_text())['model_file'] == str(
        here / 'inception_score.model')
    assert cli.score_main([str(images), '--splits', '1', '--quiet']) == 0
    assert capsys.readouterr().out.startswith(line)


@pytest.mark.slow
def test_extension_finds_the_model_by_the_same_rule(model_file, tmp_path, offline, monkeypatch):
    pytest.importorskip('chainer')
    from inception_score import InceptionScoreExtension
    from inception_score.errors import ModelNotFoundError
    monkeypatch.chdir(str(tmp_path))
    with pytest.raises(ModelNotFoundError, match='model file not found: looked for {} and'.format(
            tmp_path / 'inception_score.model')):
        InceptionScoreExtension(lambda n: None, None, n_samples=2, splits=1)
    os.symlink(model_file, str(tmp_path / 'inception_score.model'))
    ext = InceptionScoreExtension(lambda n: None, None, n_samples=2, splits=1)
    assert ext.model.weights_loaded


def test_download_without_outfile_warns_that_the_model_here_comes_first(tmp_path, offline,
                                                                       monkeypatch, capsys):
    monkeypatch.chdir(str(tmp_path))
    (tmp_path / 'inception_score.model').write_bytes(b'kept')
    (tmp_path / 'notes.txt').write_text('not a graph\n')
    assert cli.download_main(['--graph', 'notes.txt', '--quiet']) != 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == ('inception-score-download: warning: {} is used before {} by the commands '
                        'run in this folder (when no model is given)'.format(
                            tmp_path / 'inception_score.model',
                            offline / 'inception_score' / 'inception_score.model'))
    assert len(lines) == 2 and lines[1].startswith('inception-score-download: error: ')
    assert (tmp_path / 'inception_score.model').read_bytes() == b'kept'
