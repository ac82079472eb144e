"""files.py: outputs refused before any work when they would land on an input, written
atomically with the user's umask, and nothing left behind on any way out (an exception, a full
disk, a file size limit, Ctrl-C, SIGTERM)."""
import hashlib
import os
import shutil
import signal
import stat
import tempfile
import time

import pytest

import fetch_tool
from inception_score import files
from inception_score.errors import OutputError, UsageError

GRAPH = fetch_tool.fake_graph()


def one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in text, text
    return lines[0]


def error_after_warning(err):
    """The error line of a run that first warned (once) about the unreleased test graph."""
    lines = err.strip().splitlines()
    assert len(lines) == 2 and 'Traceback' not in err, err
    assert lines[0].startswith('fetch_tool: warning: the graph from ')
    return lines[1]


def leftovers(folder):
    return sorted(name for name in os.listdir(str(folder)) if name.endswith('.part'))


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


# ---------------------------------------------------------------------------------------------
# atomic_output

def test_output_appears_only_when_the_writer_finished(tmp_path):
    target = tmp_path / 'm.model'
    with files.atomic_output(str(target)) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith('.m.model.') and tmp.endswith('.part')
        with open(tmp, 'wb') as f:
            f.write(b'complete')
        assert not target.exists()
    assert target.read_bytes() == b'complete'
    assert os.listdir(str(tmp_path)) == ['m.model']


def test_failed_writer_leaves_the_old_file_and_no_part(tmp_path):
    target = tmp_path / 'r.json'
    target.write_bytes(b'old')
    with pytest.raises(ZeroDivisionError):
        with files.atomic_output(str(target)) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            1 / 0
    assert target.read_bytes() == b'old'
    assert os.listdir(str(tmp_path)) == ['r.json']


@pytest.mark.parametrize('mask,mode', [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_gets_the_mode_of_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    with files.atomic_output(str(tmp_path / 'm.model')) as tmp:
        open(tmp, 'wb').close()
    assert stat.S_IMODE(os.stat(str(tmp_path / 'm.model')).st_mode) == mode
    assert files.current_umask() == mask


def test_replaced_file_keeps_its_permission_bits(tmp_path, umask):
    target = tmp_path / 'shared.model'
    target.write_bytes(b'old')
    os.chmod(str(target), 0o640)
    umask(0o077)
    with files.atomic_output(str(target)) as tmp:
        open(tmp, 'wb').close()
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o640


def test_explicit_mode_is_masked_like_open(tmp_path, umask):
    umask(0o027)
    with files.atomic_output(str(tmp_path / 'run.sh'), mode=0o777) as tmp:
        open(tmp, 'wb').close()
    assert stat.S_IMODE(os.stat(str(tmp_path / 'run.sh')).st_mode) == 0o750


def test_symlinked_output_is_written_through_the_link(tmp_path):
    (tmp_path / 'real').mkdir()
    target = tmp_path / 'real' / 'r.json'
    target.write_bytes(b'old')
    link = tmp_path / 'link.json'
    link.symlink_to(target)
    with files.atomic_output(str(link)) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path / 'real')
        with open(tmp, 'wb') as f:
            f.write(b'new')
    assert link.is_symlink() and target.read_bytes() == b'new'


def test_sigterm_removes_the_part_and_exits_143(tmp_path):
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with pytest.raises(files.Terminated) as e:
        with files.atomic_output(str(tmp_path / 'm.model')) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half')
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert e.value.code == 143
    assert os.listdir(str(tmp_path)) == []
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_signal_while_a_path_is_created_acts_after_it_is_registered(tmp_path):
    with pytest.raises(files.Terminated):
        with files.atomic_output(str(tmp_path / 'm.model')) as tmp:
            with files._holding_signals():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)
                assert os.path.exists(tmp)  # deferred, not lost
            pytest.fail('the deferred SIGTERM was not acted upon')
    assert os.listdir(str(tmp_path)) == []


def test_handlers_exist_only_while_outputs_are_pending_and_custom_ones_stay(tmp_path):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with files.atomic_output(str(tmp_path / 'a')) as tmp, files.scratch_dir():
        assert signal.getsignal(signal.SIGTERM) is files._on_signal
        open(tmp, 'wb').close()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def mine(signum, frame):
        pass
    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with files.atomic_output(str(tmp_path / 'b')) as tmp:
            assert signal.getsignal(signal.SIGTERM) is mine
            open(tmp, 'wb').close()
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------------------------
# scratch_dir

def test_scratch_dir_is_removed_after_success_and_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    with files.scratch_dir() as scratch:
        open(os.path.join(scratch, 'download'), 'wb').close()
    with pytest.raises(KeyboardInterrupt):
        with files.scratch_dir() as scratch:
            open(os.path.join(scratch, 'download'), 'wb').close()
            raise KeyboardInterrupt
    assert os.listdir(str(tmp_path)) == []


def test_unusable_tmpdir_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path / 'absent'))
    with pytest.raises(OutputError) as e:
        with files.scratch_dir():
            pass
    assert 'cannot create a temporary folder in {}'.format(tmp_path / 'absent') in one_line(
        str(e.value)) and 'set TMPDIR' in str(e.value)


# ---------------------------------------------------------------------------------------------
# check_writable

def test_unwritable_destinations_are_usage_errors(tmp_path):
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    for path, says in ((tmp_path, 'it is a directory'),
                       (tmp_path / 'no' / 'm.model', 'directory {} does not exist'.format(
                           tmp_path / 'no')),
                       (fifo, 'it is not a regular file'),
                       ('/dev/null', 'it is not a regular file')):
        with pytest.raises(UsageError) as e:
            files.check_writable(str(path))
        assert says in one_line(str(e.value))
    with pytest.raises(UsageError, match='it is not a regular file'):
        with files.atomic_output('/dev/null'):
            pass
    assert stat.S_ISCHR(os.stat('/dev/null').st_mode)


def test_too_little_free_space_is_decided_before_writing(tmp_path):
    free = shutil.disk_usage(str(tmp_path)).free
    files.check_free_space(str(tmp_path), 1000, 'the model')
    with pytest.raises(OutputError) as e:
        files.check_free_space(str(tmp_path), free + (1 << 40), 'the model')
    assert one_line(str(e.value)).startswith('cannot write the model: it needs ')
    assert 'MB are free in {}; free some space or write elsewhere'.format(tmp_path) in str(e.value)


@pytest.fixture
def tiny_disk(tmp_path):
    with fetch_tool.tiny_disk(str(tmp_path / 'tiny'), 64 * 1024,
                              'the RLIMIT_FSIZE tests cover the write path') as path:
        yield path


def test_read_only_file_system_is_refused_before_any_work(tiny_disk):
    import subprocess
    subprocess.run(['mount', '-o', 'remount,ro', tiny_disk], check=True)
    with pytest.raises(UsageError) as e:
        files.check_outputs({'--json': os.path.join(tiny_disk, 'r.json')}, {})
    assert 'is on a read-only file system' in one_line(str(e.value))


# ---------------------------------------------------------------------------------------------
# check_outputs

@pytest.fixture
def inputs(tmp_path):
    """An array file, an image folder and a model, as a scoring run would name them."""
    (tmp_path / 'in.npy').write_bytes(b'array')
    (tmp_path / 'imgs').mkdir()
    (tmp_path / 'imgs' / '0.png').write_bytes(b'image')
    (tmp_path / 'M.model').write_bytes(b'model')
    (tmp_path / 'out').mkdir()
    os.symlink(str(tmp_path / 'in.npy'), str(tmp_path / 'out' / 'link.json'))
    os.symlink(str(tmp_path / 'imgs' / '0.png'), str(tmp_path / 'out' / 'img-link.json'))
    os.link(str(tmp_path / 'imgs' / '0.png'), str(tmp_path / 'out' / 'hard.json'))
    os.link(str(tmp_path / 'in.npy'), str(tmp_path / 'out' / 'hard.npy'))
    os.symlink(str(tmp_path / 'imgs'), str(tmp_path / 'out' / 'imgs-link'))
    return [('input', str(tmp_path / 'in.npy')), ('input', str(tmp_path / 'imgs')),
            ('--model', str(tmp_path / 'M.model'))]


def _snapshot(folder):
    return {os.path.join(root, name): hashlib.sha256(
        open(os.path.join(root, name), 'rb').read()).hexdigest()
        for root, _, names in os.walk(str(folder)) for name in names}


@pytest.mark.parametrize('output,says', [
    ('in.npy', '--json {t}/in.npy is the input {t}/in.npy: writing it would destroy that file'),
    ('out/../in.npy', 'is the input {t}/in.npy: writing'),
    ('out/link.json', 'is the input {t}/in.npy (through a symbolic link)'),
    ('out/hard.npy', 'is the input {t}/in.npy (a hard link to it)'),
    ('imgs/0.png', 'is inside the input folder {t}/imgs: write outputs outside'),
    ('imgs/report.json', 'is inside the input folder {t}/imgs'),
    ('out/img-link.json', 'is inside the input folder {t}/imgs'),
    ('out/imgs-link/new.json', 'is inside the input folder {t}/imgs'),
    ('out/hard.json', 'is a hard link to {t}/imgs/0.png, in the input folder {t}/imgs'),
    ('M.model', 'is the --model {t}/M.model'),
])
def test_output_on_an_input_is_refused_naming_both(tmp_path, inputs, output, says):
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as e:
        files.check_outputs({'--json': str(tmp_path / output)}, inputs)
    line = one_line(str(e.value))
    assert line.startswith('--json {}'.format(tmp_path / output))
    assert says.format(t=tmp_path) in line, line
    assert _snapshot(tmp_path) == before


def test_two_outputs_on_one_file_are_refused(tmp_path, inputs):
    with pytest.raises(UsageError) as e:
        files.check_outputs({'--json': str(tmp_path / 'r.json'),
                             '--plot': str(tmp_path / 'out' / '..' / 'r.json')}, inputs)
    assert 'are the same file: give each output its own path' in one_line(str(e.value))


def test_separate_outputs_pass(tmp_path, inputs):
    files.check_outputs({'--json': str(tmp_path / 'out' / 'r.json'), '--plot': None,
                         '--save-stats': str(tmp_path / 'stats.npz')},
                        inputs + [('--graph', None), ('absent', str(tmp_path / 'nope'))])


def test_command_line_refuses_outfile_on_graph(tmp_path):
    graph = tmp_path / 'g.pb'
    graph.write_bytes(GRAPH)
    os.symlink(str(graph), str(tmp_path / 'alias.pb'))
    for outfile in (graph, tmp_path / 'alias.pb'):
        code, out, err, _, _ = fetch_tool.Process(['--graph', str(graph), '--outfile',
                                                   str(outfile)]).finish()
        assert code == 2
        assert one_line(err).startswith('fetch_tool: error: --outfile {} is the --graph {}'
                                        .format(outfile, graph))
        assert out == ''  # refused before any work
    assert graph.read_bytes() == GRAPH
    assert sorted(os.listdir(str(tmp_path))) == ['alias.pb', 'g.pb']


# ---------------------------------------------------------------------------------------------
# A full disk and a file size limit, in a real process (raw writes and HDF5 through h5py)

@pytest.mark.parametrize('fmt', ['raw', 'hdf5'])
def test_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path, tiny_disk, fmt):
    graph = tmp_path / 'g.pb'
    graph.write_bytes(GRAPH)
    code, _, err, _, _ = fetch_tool.Process(['--graph', str(graph), '--outfile',
                                             os.path.join(tiny_disk, 'm.model'),
                                             '--format', fmt]).finish()
    assert code == 1, err
    assert error_after_warning(err) == (
        'fetch_tool: error: cannot write {}: no space left on device; free some space or write '
        'elsewhere'.format(os.path.join(tiny_disk, 'm.model')))
    assert os.listdir(tiny_disk) == []
    assert graph.read_bytes() == GRAPH


@pytest.mark.parametrize('fmt', ['raw', 'hdf5'])
def test_file_size_limit_while_writing_is_one_line_and_leaves_nothing(tmp_path, fmt):
    graph, out = tmp_path / 'g.pb', tmp_path / 'out'
    graph.write_bytes(GRAPH)
    out.mkdir()
    code, _, err, _, _ = fetch_tool.Process(['--graph', str(graph), '--outfile',
                                             str(out / 'm.model'), '--format', fmt,
                                             '--limit-fsize', '65536']).finish()
    assert code == 1, err
    assert error_after_warning(err) == (
        'fetch_tool: error: cannot write {}: file too large; the file size limit (ulimit -f) is '
        'too small'.format(out / 'm.model'))
    assert os.listdir(str(out)) == []


# ---------------------------------------------------------------------------------------------
# Signals during a slow write, in a real process

@pytest.mark.parametrize('signum,code,says', [(signal.SIGTERM, 143, None),
                                              (signal.SIGINT, 130, 'fetch_tool: interrupted'),
                                              (signal.SIGHUP, 129, None)])
def test_signal_during_a_slow_write_leaves_no_part(tmp_path, signum, code, says):
    graph, out = tmp_path / 'g.pb', tmp_path / 'out'
    graph.write_bytes(GRAPH)
    out.mkdir()
    proc = fetch_tool.Process(['--graph', str(graph), '--outfile', str(out / 'm.model'),
                               '--write-delay', '0.05'])
    deadline = time.monotonic() + 60
    while not leftovers(out):
        assert time.monotonic() < deadline and proc.proc.poll() is None
        time.sleep(0.05)
    os.kill(proc.proc.pid, signum)
    got, _, err, _, _ = proc.finish()
    assert got == code
    if says is None:
        assert err.strip() == '' or 'warning:' in one_line(err)
    else:
        assert err.strip().splitlines()[-1] == says and 'Traceback' not in err
    assert os.listdir(str(out)) == []
    assert graph.read_bytes() == GRAPH


# A SIGTERM can land in a library's callback (h5py's attribute iteration, as the report reads
# the model file's metadata while the outputs are pending): h5py replaces the Terminated raised
# there with its own SystemError. The command must still exit 143 with nothing on stderr, and
# a second SIGTERM after the cleanup (as `timeout -k` sends) must not kill it by the signal.
_CALLBACK_PROGRAM = '''
import os, signal, sys
import h5py
from inception_score import cli, files


def main(args):
    try:
        with files.atomic_output(args.out) as tmp:
            with h5py.File(tmp, 'w') as f:
                f.attrs['a'] = 1
            with h5py.File(tmp, 'r') as f:
                def visit(name, *rest):
                    os.kill(os.getpid(), signal.SIGTERM)  # Terminated, inside h5py's callback
                h5py.h5a.iterate(f.id, visit)
    finally:
        if args.second:  # the handlers are gone by now: the default action would kill
            os.kill(os.getpid(), signal.SIGTERM)
    print('not reached')


def parser():
    p = cli.Parser(prog='callback')
    p.add_argument('out')
    p.add_argument('--second', action='store_true')
    return p


sys.exit(cli.run(main, None, parser))
'''


@pytest.mark.parametrize('second', [False, True])
def test_sigterm_inside_a_library_callback_exits_143_quietly(tmp_path, second):
    import subprocess
    import sys
    program, out = tmp_path / 'callback.py', tmp_path / 'out'
    program.write_text(_CALLBACK_PROGRAM)
    out.mkdir()
    proc = subprocess.run([sys.executable, str(program), str(out / 'o.h5')]
                          + ['--second'] * second, capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (143, '', '')
    assert os.listdir(str(out)) == []
