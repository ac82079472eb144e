"""A command line shaped like download.py over fetch.py and files.py (obtain the graph, refuse
clashing outputs, write the output atomically), for tests that need a real process: exit codes,
stderr, signals, resource limits. Errors go through the package's own `cli.run`.

    python tests/fetch_tool.py --url URL --outfile OUT [--graph PATH] [--fallback-url URL] ...
"""
import argparse
import contextlib
import os
import resource
import signal
import sys
import time


def parser():
    p = argparse.ArgumentParser(prog='fetch_tool')
    p.add_argument('--outfile', required=True)
    p.add_argument('--url')
    p.add_argument('--graph')
    p.add_argument('--sha256')
    p.add_argument('--fallback-url')
    p.add_argument('--fallback-sha256')
    p.add_argument('--timeout', type=float, default=60)
    p.add_argument('--min-rate', type=float, default=1024)
    p.add_argument('--window', type=float, default=60)
    p.add_argument('--write-delay', type=float, default=0,
                   help='seconds between 4 KiB writes of the output (a slow writer)')
    p.add_argument('--format', choices=('raw', 'hdf5'), default='raw')
    p.add_argument('--limit-as', type=int, help='RLIMIT_AS in bytes for this process')
    p.add_argument('--limit-fsize', type=int, help='RLIMIT_FSIZE in bytes for this process')
    p.add_argument('--peak-fd', type=int, help='write the peak RSS in bytes there at exit')
    p.add_argument('--debug', action='store_true')
    return p


def main(args):
    from inception_score import fetch, files
    files.check_outputs({'--outfile': args.outfile}, {'--graph': args.graph})
    info = fetch.obtain_graph(
        url=args.url, graph=args.graph, sha256=args.sha256, fallback_url=args.fallback_url,
        fallback_sha256=args.fallback_sha256, progress=False, log=print, timeout=args.timeout,
        min_rate=args.min_rate, window=args.window)
    warning = fetch.unreleased_graph_warning(info['graph_sha256'], info['source'])
    if warning:
        from inception_score.checks import warn
        warn(warning)
    with files.atomic_output(args.outfile) as tmp:
        if args.format == 'hdf5':
            # The model-file pattern: HDF5 built in memory, then written as plain bytes. (HDF5
            # writing to a full disk itself fails at close, prints unraisable errors from
            # h5py's deallocators and may crash the interpreter.)
            import io
            import h5py
            import numpy
            buf = io.BytesIO()
            with h5py.File(buf, 'w') as f:
                for i in range(0, len(info['graph']), 4096):  # many datasets, like a model
                    f['part{}'.format(i)] = numpy.frombuffer(info['graph'][i:i + 4096],
                                                             dtype=numpy.uint8)
                f.attrs['released_graph'] = info['released_graph']
            with open(tmp, 'wb') as out:
                out.write(buf.getbuffer())
        else:
            with open(tmp, 'wb') as f:
                for i in range(0, len(info['graph']), 4096):
                    f.write(info['graph'][i:i + 4096])
                    if args.write_delay:
                        f.flush()
                        time.sleep(args.write_delay)
    print('wrote {} released_graph={}'.format(args.outfile, info['released_graph']))


def run(argv=None):
    args = parser().parse_args(argv)
    if args.peak_fd is not None:
        import atexit
        atexit.register(_write_peak_rss, args.peak_fd)
    if args.limit_as:
        resource.setrlimit(resource.RLIMIT_AS, (args.limit_as, args.limit_as))
    if args.limit_fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then writes fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.limit_fsize, args.limit_fsize))
    from inception_score.cli import run as run_main
    return run_main(main, argv, parser())


def fake_graph(size=200000, seed=0):
    """Bytes that start like a serialized GraphDef (field 1, a node); fetch and files never
    parse them. The random tail is incompressible, so a flipped byte in a .tgz changes data."""
    import random
    return (b'\n\x13\n\x05input\x12\nPlaceholder'
            + random.Random(seed).getrandbits(8 * size).to_bytes(size, 'little'))


@contextlib.contextmanager
def tiny_disk(path, size, elsewhere=None):
    """A tmpfs of `size` bytes mounted at `path` for the block (a real full disk: ENOSPC).
    Where it cannot be mounted (mounting needs root) the test is skipped, saying why and, in
    `elsewhere`, what covers the path then."""
    import pytest
    reason = mount_tiny_disk(path, size)
    if reason is not None:
        pytest.skip('cannot mount a tmpfs here ({}){}'.format(
            reason, '; ' + elsewhere if elsewhere else ''))
    try:
        yield path
    finally:
        unmount(path)


def mount_tiny_disk(path, size):
    """Mount a tmpfs of `size` bytes at `path`; the reason if not possible."""
    import subprocess
    os.makedirs(path, exist_ok=True)
    try:
        proc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size={}'.format(size), 'tmpfs',
                               path], capture_output=True, text=True)
    except OSError as e:
        return str(e)
    return None if proc.returncode == 0 else (proc.stderr.strip() or 'mount failed')


def fill_disk(folder):
    """Write a filler file into `folder` until its file system is full."""
    fd = os.open(os.path.join(folder, 'filler'), os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b'x' * 4096):
            pass
    except OSError:  # the disk is full now
        pass
    finally:
        os.close(fd)


def unmount(path):
    import subprocess
    subprocess.run(['umount', path], capture_output=True)


class Process:
    """fetch_tool.py in a child process, which reports its peak RSS (VmHWM: unlike ru_maxrss,
    it starts afresh at exec instead of counting the forking parent)."""

    def __init__(self, argv, env=None):
        import subprocess
        import tempfile
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        self.peak_in, peak_out = os.pipe()
        environment = dict(os.environ, **(env or {}))
        environment.setdefault('OPENBLAS_NUM_THREADS', '1')
        try:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), '--peak-fd', str(peak_out)]
                + list(argv), stdout=self.out, stderr=self.err, env=environment,
                pass_fds=(peak_out,))
        finally:
            os.close(peak_out)

    def finish(self, timeout=120):
        """(exit code, stdout, stderr, peak RSS in bytes or None, seconds waited)."""
        import subprocess
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read().decode('utf-8', 'replace'))
            f.close()
        with os.fdopen(self.peak_in) as f:
            peak = f.read().strip()
        return code, texts[0], texts[1], int(peak) if peak else None, \
            time.monotonic() - started


def _write_peak_rss(fd):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                os.write(fd, str(int(line.split()[1]) * 1024).encode())


if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(run())
