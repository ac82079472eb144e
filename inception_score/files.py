"""Output files: decided at the edge, written atomically, cleaned up on every exit path.

- `check_outputs` resolves every output and input (through symbolic and hard links) before any
  work and refuses an output that would land on an input, the model, the graph or another output.
- `atomic_output` writes beside the target under a hidden `.NAME.XXXX.part` name and renames it
  into place only when the writer finished; the file gets the mode a plain `open()` would give
  (0644 under the usual umask 022), or keeps the permission bits of the file it replaces.
  `atomic_outputs` does it for all the outputs of a run together: all of them or none.
- `scratch_dir` is a temporary folder removed afterwards.
- Whatever happens (an exception, Ctrl-C, SIGTERM, SIGHUP), no `.part` file and no scratch folder
  stays behind: while any is pending, signal handlers remove them and exit (128 + signal number).
- In a command (`interrupt_once`), the first Ctrl-C stops the run and later ones are ignored, so
  that the way out is never cut short.
- A full disk, a quota, a file size limit or a read-only file system while writing becomes one
  `OutputError` line (exit 1), not a traceback.
"""
import contextlib
import errno
import os
import re
import shutil
import signal
import stat
import tempfile
import threading

from inception_score.errors import OutputError, UsageError

# errno values that mean "this destination cannot take the data", whatever the writer was.
_WRITE_ERRNOS = {
    errno.ENOSPC: 'free some space or write elsewhere',
    errno.EDQUOT: 'the disk quota is exceeded; free some space or write elsewhere',
    errno.EFBIG: 'the file size limit (ulimit -f) is too small',
    errno.EROFS: 'the file system is read-only; write elsewhere',
}


class Terminated(SystemExit):
    """SIGTERM or SIGHUP arrived while outputs were pending: they are removed, exit 128 + signal."""

    def __init__(self, signum):
        super().__init__(128 + signum)
        self.signum = signum


# ---------------------------------------------------------------------------------------------
# Pending temporary paths and the signal handlers that remove them.
#
# The handlers are installed only while something is pending, and only over the default
# handlers: a program that set its own SIGTERM handler keeps it (our try/finally blocks still
# clean up if that handler raises). Creation and registration of a path, and the final rename,
# run with the handlers "held": a signal arriving then is acted upon right after, so a path is
# never created unregistered nor removed after it was renamed into place. Once SIGTERM or
# SIGHUP has started the exit, a second one (as `timeout` or a service manager sends) only
# removes what is pending again: it neither raises into the cleanup under way nor, while our
# handlers are in place, kills the process by the default action (`exit_quietly` then keeps
# it from doing so until the process has ended).

_pending = {}          # temporary path -> True for a folder
_lock = threading.Lock()
_users = 0             # open atomic_output/scratch_dir contexts
_previous = {}         # signal number -> handler we replaced
_held = 0
_deferred = []
_terminating = []      # the signal that started the exit, once one has
_once = []             # previous SIGINT handlers of the open interrupt_once blocks
_interrupted = []      # a Ctrl-C came in the current (or last) interrupt_once block
_program = []          # open as_program blocks: this process ends once Terminated is raised


def _handled_signals():
    names = ('SIGINT', 'SIGTERM', 'SIGHUP')
    return [getattr(signal, name) for name in names if hasattr(signal, name)]


def _is_default(signum, handler):
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler == signal.SIG_DFL


def _remove_pending():
    for path, is_dir in list(_pending.items()):
        _remove(path, is_dir)


def _remove(path, is_dir):
    if is_dir:
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.remove(path)


def _on_signal(signum, frame):
    if _held:
        _deferred.append(signum)
        return
    if signum == signal.SIGINT:
        if _once:  # stopping now: a second Ctrl-C must not cut the cleanup short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _interrupted.append(True)
        raise KeyboardInterrupt  # as Python's own handler: the finally blocks clean up
    _remove_pending()  # now, in case some caller swallows the exit on its way up
    if _terminating:
        return  # the exit is under way: let its cleanup finish
    _terminating.append(signum)
    raise Terminated(signum)


def exit_quietly():
    """For a command line ending on Terminated (its outputs already removed): ignore SIGTERM
    and SIGHUP from now on, so that a second one cannot end the process by the signal while
    it unwinds and shuts down (the interpreter's shutdown resets Python handlers, not SIG_IGN);
    the exit status stays 128 + the first signal's number."""
    if _in_main_thread():
        for signum in _handled_signals():
            if signum != signal.SIGINT:
                signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def as_program():
    """For a command line run as the program (it exits when Terminated reaches it): once SIGTERM
    or SIGHUP has started the exit inside the block, the removed handlers leave those signals
    ignored instead of restoring their default action, so no second signal can kill the process
    between the cleanup and the exit, however long the way up is."""
    _program.append(True)
    try:
        yield
    finally:
        _program.pop()


def terminated_by(exc):
    """The Terminated that `exc` is, or that it was raised from or while handling (a library
    such as h5py may replace an exception raised in its callbacks with one of its own), else
    None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, Terminated):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__
    return None


def _in_main_thread():
    # Python runs signal handlers in the main thread only, and only it may set them.
    return threading.current_thread() is threading.main_thread()


def _install():
    global _users
    with _lock:
        _users += 1
        if not _in_main_thread() or _previous:
            return
        for signum in _handled_signals():
            current = signal.getsignal(signum)
            if _is_default(signum, current):
                _previous[signum] = current
                signal.signal(signum, _on_signal)


def _uninstall():
    global _users
    with _lock:
        _users -= 1
        if _users or not _in_main_thread():
            return
        # A program on its way out keeps ignoring SIGTERM and SIGHUP: restoring the default
        # action would let a second one (`timeout -k`) kill it before exit_quietly is reached.
        ending = bool(_terminating and _program)
        for signum, handler in list(_previous.items()):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, signal.SIG_IGN if ending else handler)
            del _previous[signum]
        del _terminating[:]  # whoever catches Terminated and goes on gets the usual handlers


@contextlib.contextmanager
def interrupt_once(keep=False):
    """Within the block, the first Ctrl-C raises KeyboardInterrupt and later ones are ignored:
    the way out (joining threads, removing `.part` files, printing one line) is never cut short.

    On leaving, the previous handler comes back, unless `keep`: a program about to exit goes on
    ignoring Ctrl-C (one arriving during the interpreter's shutdown would print a traceback).
    Outside the main thread this does nothing (only it receives signals).
    """
    if not _in_main_thread():
        yield
        return
    del _interrupted[:]
    _once.append(signal.getsignal(signal.SIGINT))
    signal.signal(signal.SIGINT, _on_signal)  # not a default handler: _install leaves it be
    try:
        yield
    finally:
        previous = _once.pop()
        if keep:
            previous = signal.SIG_IGN
        elif previous is None:  # a handler set outside Python: the default is the nearest
            previous = signal.default_int_handler
        signal.signal(signal.SIGINT, previous)


def interrupted():
    """Whether a Ctrl-C came in the last interrupt_once block. What it raised may have been
    replaced on its way up: numpy's C start-up reports an interrupted import as an ImportError.
    """
    return bool(_interrupted)


@contextlib.contextmanager
def _holding_signals():
    global _held
    if not _in_main_thread():
        yield
        return
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held and _deferred:
            signum = _deferred.pop()
            del _deferred[:]
            _on_signal(signum, None)


@contextlib.contextmanager
def _pending_path(create, is_dir):
    """Create a temporary path with `create()`; it is removed on every way out of the block."""
    _install()
    try:
        with _holding_signals():
            path = create()
            _pending[path] = is_dir
        try:
            yield path
        finally:
            with _holding_signals():
                _remove(path, is_dir)
                _pending.pop(path, None)
    finally:
        _uninstall()


# ---------------------------------------------------------------------------------------------
# Errors of the destination, as one line.

def _errno_of(exc):
    """The errno of an OSError, also when a library (HDF5) only quotes it in its message."""
    if getattr(exc, 'errno', None) in _WRITE_ERRNOS:
        return exc.errno
    found = re.search(r'errno = (\d+)', str(exc))
    if found and int(found.group(1)) in _WRITE_ERRNOS:
        return int(found.group(1))
    if 'No space left on device' in str(exc):
        return errno.ENOSPC
    return None


def output_error(path, exc, space_hint=None):
    """An OutputError for `exc` if it says that `path`'s destination cannot take data, else None.
    `space_hint` replaces the advice for a full disk or quota (e.g. "set TMPDIR")."""
    code = _errno_of(exc)
    if code is None:
        return None
    hint = _WRITE_ERRNOS[code]
    if space_hint and code in (errno.ENOSPC, errno.EDQUOT):
        hint = space_hint
    return OutputError('cannot write {}: {}; {}'.format(path, os.strerror(code).lower(), hint))


@contextlib.contextmanager
def writing(path, space_hint=None):
    """Turn a full disk, quota, size limit or read-only file system inside the block into one
    OutputError line naming `path`."""
    try:
        yield
    except (OSError, RuntimeError) as e:  # HDF5 reports some failed writes as RuntimeError
        error = output_error(path, e, space_hint)
        if error is None:
            raise
        raise error from None


# ---------------------------------------------------------------------------------------------
# Atomic outputs and scratch folders.

def current_umask():
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _final_mode(target, mode):
    if mode is not None:
        return mode & ~current_umask() & 0o7777
    try:  # a replaced file keeps its permission bits (like `>` in a shell, or an editor)
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_output(path, mode=None):
    """Yield a temporary path beside `path` to write; on success it becomes `path`.

    The file's mode is `mode` (default 0o666) less the umask, like `open()` would create it;
    with mode=None a file that is replaced keeps its permission bits. An output that is a
    symbolic link is written through it (the link stays, its target is replaced). On any
    exception, Ctrl-C or SIGTERM the temporary file is removed and `path` is untouched;
    a full disk or similar is raised as one OutputError line.
    """
    with atomic_outputs([path], mode) as tmps, writing(path):
        yield tmps[path]


@contextlib.contextmanager
def atomic_outputs(paths, mode=None):
    """atomic_output for several outputs of one run: yields {path: temporary path}. They are
    renamed into place together (one after the other, signals held) only when the block
    completes, so a run that fails or is interrupted leaves none of them, not some."""
    paths = list(dict.fromkeys(paths))
    for path in paths:
        check_writable(path)
    targets = {path: os.path.realpath(path) for path in paths}

    def creator(path):
        directory, name = os.path.split(targets[path])

        def create():
            try:
                fd, tmp = tempfile.mkstemp(prefix='.{}.'.format(name), suffix='.part',
                                           dir=directory)
            except OSError as e:
                raise output_error(path, e) or OutputError('cannot write {}: {}'.format(
                    path, e.strerror or e)) from None
            os.close(fd)
            return tmp
        return create

    with contextlib.ExitStack() as stack:
        tmps = {path: stack.enter_context(_pending_path(creator(path), is_dir=False))
                for path in paths}
        yield tmps
        for path in paths:
            with writing(path):
                os.chmod(tmps[path], _final_mode(targets[path], mode))
                _fsync(tmps[path])
        with _holding_signals():
            for path in paths:
                with writing(path):
                    os.replace(tmps[path], targets[path])
                _pending.pop(tmps[path], None)
    for directory in {os.path.dirname(target) for target in targets.values()}:
        with contextlib.suppress(OSError):  # the rename itself is durable: best effort
            _fsync(directory)


def _fsync(path):
    """Flush to disk, so that a crash right after the rename cannot leave an empty file (and
    a full disk, on some file systems, surfaces only here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_free_space(folder, nbytes, what, hint='free some space or write elsewhere'):
    """Fail (OutputError) before writing `nbytes` into `folder` if its file system has less
    free space; `what` names the data in the message."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < nbytes:
        raise OutputError('cannot write {}: it needs {:.1f} MB but only {:.1f} MB are free in {}; '
                          '{}'.format(what, nbytes / 1e6, free / 1e6, folder, hint))


@contextlib.contextmanager
def scratch_dir(prefix='inception_score.'):
    """A temporary folder (in $TMPDIR) removed on every way out, signals included."""
    def create():
        try:
            return tempfile.mkdtemp(prefix=prefix)
        except OSError as e:
            raise OutputError('cannot create a temporary folder in {} ({}): set TMPDIR to a '
                              'writable folder with free space'.format(
                                  tempfile.gettempdir(), e.strerror or e)) from None

    with _pending_path(create, is_dir=True) as path:
        yield path


# ---------------------------------------------------------------------------------------------
# Checks before any work.

def check_writable(path):
    """Fail (UsageError) before any work if `path` cannot be written as a regular file."""
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise UsageError('cannot write {}: it is a directory'.format(path))
    if os.path.exists(target) and not stat.S_ISREG(os.stat(target).st_mode):
        raise UsageError('cannot write {}: it is not a regular file (a device, FIFO or socket); '
                         'give the path of a file'.format(path))
    if not os.path.isdir(directory):
        raise UsageError('cannot write {}: directory {} does not exist'.format(path, directory))
    if not os.access(directory, os.W_OK | os.X_OK):
        reason = 'is on a read-only file system' if _read_only(directory) else 'is not writable'
        raise UsageError('cannot write {}: directory {} {}'.format(path, directory, reason))


def _read_only(directory):
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _identity(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _inside(path, folder):
    return path != folder and os.path.commonpath([path, folder]) == folder


def _hard_link_in(identity, folder):
    """Whether a file below `folder` is the inode `identity` (only asked for files with several
    links, so the common case walks nothing)."""
    for root, _, names in os.walk(folder):
        for name in names:
            if _identity(os.path.join(root, name)) == identity:
                return os.path.join(root, name)
    return None


def check_outputs(outputs, inputs):
    """Refuse, before any work, outputs that would destroy an input or each other.

    outputs: {flag: path} such as {'--json': 'report.json'}; None paths are ignored.
    inputs:  {description: path} such as {'input': 'imgs/', '--model': 'm.model'}, or a list
             of (description, path) pairs when several share a description; a folder stands
             for every file below it; None paths are ignored.
    Paths are compared after resolving symbolic links and `..`, and by inode (hard links).
    An output may not be an input file, lie inside an input folder, or be another output;
    each output must also be writable (check_writable). Raises UsageError (exit 2) naming both.
    """
    outputs = {flag: path for flag, path in outputs.items() if path is not None}
    inputs = [(what, path) for what, path in (inputs.items() if hasattr(inputs, 'items')
                                              else inputs) if path is not None]
    seen = {}
    for flag, path in outputs.items():
        real, identity = os.path.realpath(path), _identity(path)
        for other_flag, (other_real, other_identity) in seen.items():
            if real == other_real or (identity is not None and identity == other_identity):
                raise UsageError('{} {} and {} {} are the same file: give each output its own '
                                 'path'.format(other_flag, outputs[other_flag], flag, path))
        seen[flag] = (real, identity)
        for what, source in inputs:
            _refuse_clash(flag, path, real, identity, what, source)
        check_writable(path)


def check_output_folder(flag, folder, names, inputs):
    """check_outputs for a folder a writer fills with the files `names` (creating it, with its
    parents, when absent): none may land on an input, and the folder may not lie inside an
    input folder. Raises UsageError (exit 2) before any work."""
    if os.path.isdir(folder):
        check_outputs({"{}'s {}".format(flag, name): os.path.join(folder, name)
                       for name in names}, inputs)
        return
    if os.path.lexists(folder):
        raise UsageError('{} {} is not a folder: give a folder for the outputs'.format(
            flag, folder))
    real = os.path.realpath(folder)
    for what, source in (inputs.items() if hasattr(inputs, 'items') else inputs):
        if source is not None and os.path.isdir(source) and _inside(
                real, os.path.realpath(source)):
            raise UsageError('{} {} is inside the {} folder {}: write outputs outside the '
                             'inputs'.format(flag, folder, what, source))
    ancestor = os.path.dirname(real)
    while not os.path.isdir(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError('cannot create {} {}: directory {} is not writable'.format(
            flag, folder, ancestor))


def _refuse_clash(flag, path, real, identity, what, source):
    source_real = os.path.realpath(source)
    if os.path.isdir(source_real):
        if _inside(real, source_real):
            raise UsageError('{} {} is inside the {} folder {}: write outputs outside the '
                             'inputs'.format(flag, path, what, source))
        if identity is not None and os.stat(path).st_nlink > 1:
            twin = _hard_link_in(identity, source_real)
            if twin is not None:
                raise UsageError('{} {} is a hard link to {}, in the {} folder {}: choose another '
                                 'path'.format(flag, path, twin, what, source))
        return
    same_path = real == source_real
    if same_path or (identity is not None and identity == _identity(source_real)):
        if os.path.abspath(path) == os.path.abspath(source):
            how = ': writing it would destroy that file'
        elif same_path:
            how = ' (through a symbolic link): writing it would destroy that file'
        else:
            how = ' (a hard link to it)'
        raise UsageError('{} {} is the {} {}{}; choose another path'.format(
            flag, path, what, source, how))


__all__ = ['OutputError', 'Terminated', 'atomic_output', 'atomic_outputs', 'check_free_space',
           'check_output_folder', 'check_outputs', 'check_writable', 'current_umask',
           'as_program', 'exit_quietly', 'output_error', 'scratch_dir', 'terminated_by',
           'writing']
