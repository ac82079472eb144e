"""The TensorFlow graph to convert: downloaded or local, read from its archive, checked.

Everything about the source is decided before any conversion:
- the transfer: a per-read timeout and a minimum rate (a stalled or trickling server ends in one
  line), a size cap, redirect loops and HTTP errors as one line, and a fallback URL serving the
  bare released graph when the primary fails;
- the format: an HTML page, a zip, a bzip2 or xz tar, an HDF5 model file, an empty file or a
  folder is named as what it is, instead of failing later as "a truncated graph";
- the integrity: the whole gzip stream is read, so a flipped byte or trailer fails its CRC;
- the sizes: caps far above the real archive's, so a gzip bomb costs neither memory nor time;
- the provenance: whether the graph is the released one (pinned SHA-256), since only then are
  the scores comparable with published ones.
"""
import contextlib
import gzip
import hashlib
import http.client
import os
import posixpath
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from inception_score.errors import (ConversionError, DownloadError, GraphNotFoundError,
                                    UsageError)
from inception_score.files import check_free_space, scratch_dir, writing
from inception_score.fixes import fix, setting
from inception_score.io import file_kind

DEFAULT_URL = ('https://storage.googleapis.com/download.tensorflow.org/models/image/imagenet/'
               'inception-2015-12-05.tgz')
# OpenAI's guided-diffusion evaluator serves the same graph, bare (no archive, no label files).
FALLBACK_URL = ('https://openaipublic.blob.core.windows.net/diffusion/jul-2021/ref_batches/'
                'classify_image_graph_def.pb')
GRAPH_MEMBER = 'classify_image_graph_def.pb'
LABEL_MEMBERS = ('imagenet_2012_challenge_label_map_proto.pbtxt',
                 'imagenet_synset_to_human_label_map.txt')
# classify_image_graph_def.pb of inception-2015-12-05, as recorded by several independent users.
RELEASED_GRAPH_SHA256 = '009d6814d1bc560d4e7b236e170e9b2d5ca6f4b57bd8037f6db05776204415c6'
RELEASED_GRAPH_SIZE = 95673916

# Caps: several times what the real files need (archive 88.9 MB, graph 95.7 MB, labels < 1 MB,
# 5 members), so that only a hostile or wrong file reaches them.
MAX_GRAPH_BYTES = 256 << 20
MAX_LABEL_BYTES = 16 << 20
MAX_ARCHIVE_BYTES = 320 << 20     # everything decompressed from one archive
MAX_MEMBERS = 1000
MAX_DOWNLOAD_BYTES = 1 << 30
# A transfer under MIN_RATE bytes/s over a RATE_WINDOW-second stretch is abandoned.
READ_TIMEOUT = 60
MIN_RATE = 1024
RATE_WINDOW = 60

_CHUNK = 1 << 20
_SPACE_HINT = 'free some space or set TMPDIR to a folder with room for the download'
_EXPECTED = 'inception-2015-12-05.tgz or classify_image_graph_def.pb'


# ---------------------------------------------------------------------------------------------
# Hashes

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(_CHUNK), b''):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path, actual, expected):
    if expected and actual != expected.strip().lower():
        raise DownloadError('SHA-256 of {} is {}, expected {}: the file is corrupt or not the '
                            'pinned archive'.format(path, actual, expected.strip().lower()))


def is_released_graph(graph_bytes):
    """Whether these are the bytes of the released inception-2015-12-05 graph."""
    return _released(len(graph_bytes), hashlib.sha256(graph_bytes).hexdigest())


def _released(size, sha256):
    return size == RELEASED_GRAPH_SIZE and sha256 == RELEASED_GRAPH_SHA256


def unreleased_graph_warning(graph_sha256, source):
    """The one-line warning to give once when converting a graph other than the released one
    (an InputWarning: the command line prints it as `prog: warning: ...`), or None for the
    released graph."""
    if graph_sha256 == RELEASED_GRAPH_SHA256:
        return None
    return ('the graph from {} is not the released inception-2015-12-05 graph (SHA-256 '
            '{}, expected {}): its scores are not comparable with published Inception Scores'
            .format(source, graph_sha256, RELEASED_GRAPH_SHA256))


# ---------------------------------------------------------------------------------------------
# Downloads

class _Watchdog:
    """Ends a transfer that makes no real progress: fewer than `min_rate` bytes/s over a stretch
    of `window` seconds, response headers included. A per-read timeout alone does not: a server
    that sends one byte every few seconds never times out. A thread measures the rate and shuts
    the connection's socket down, which wakes the blocked read with an end of file."""

    def __init__(self, min_rate, window):
        self.min_rate, self.window = min_rate, window
        self.received = 0
        self.expired = None  # (bytes, seconds) of the stretch that was too slow
        self._sockets = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='download-watchdog', daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def watch(self, sock):
        self._sockets.append(sock)

    def _run(self):
        start, start_bytes = time.monotonic(), self.received
        while not self._stop.wait(min(1.0, self.window / 4)):
            now = time.monotonic()
            if now - start < self.window:
                continue
            got = self.received - start_bytes
            if got < self.min_rate * (now - start):
                self.expired = (got, now - start)
                for sock in self._sockets:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return
            start, start_bytes = now, self.received

    def error(self, url):
        got, seconds = self.expired
        return DownloadError('the download from {} stalled: {} bytes in {:.0f} s, under the '
                             'minimum of {} bytes/s; run again later, or download the file '
                             'another way and convert it with {}'.format(
                                 url, got, seconds, self.min_rate, fix('graph', 'PATH')))


def _opener(watchdog):
    """urllib's opener (proxies, redirects, TLS), with every connection's socket watched."""
    class Connection(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            watchdog.watch(self.sock)

    class SecureConnection(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            watchdog.watch(self.sock)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            options = {'context': self._context}
            if hasattr(self, '_check_hostname'):  # Python < 3.12
                options['check_hostname'] = self._check_hostname
            return self.do_open(SecureConnection, req, **options)

    return urllib.request.build_opener(Handler, SecureHandler)


def _mb(n):
    return '{:.1f} MB'.format(n / 1e6)


def _first_line(value):
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def _open(url, timeout, watchdog):
    try:
        return _opener(watchdog).open(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        if watchdog.expired:
            raise watchdog.error(url) from None
        if 300 <= e.code < 400:
            loop = 'infinite loop' in str(e.reason) or 'infinite loop' in str(e)
            raise DownloadError('cannot download {}: {}'.format(
                url, 'the server redirects in a loop (HTTP {})'.format(e.code) if loop else
                'HTTP {} redirect not followed ({})'.format(e.code, _first_line(e.reason)))) \
                from None
        raise DownloadError('cannot download {}: HTTP {} {}'.format(
            url, e.code, _first_line(e.reason))) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
        if watchdog.expired:
            raise watchdog.error(url) from None
        reason = getattr(e, 'reason', e)
        if isinstance(reason, socket.timeout):
            reason = 'no answer for {} s'.format(timeout)
        raise DownloadError('cannot download {} ({}); offline? convert a local copy with '
                            '{}'.format(url, _first_line(reason), fix('graph', 'PATH'))) \
            from None


def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but a bar is not worth failing for
        return contextlib.nullcontext(None)
    return tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, leave=False)


def check_url(url):
    """Only http(s): a local file is converted with --graph, which reads it in place."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ('http', 'https') or not urllib.parse.urlsplit(url).netloc:
        raise UsageError('{} is not an http:// or https:// URL; to convert a local file use '
                         '{}'.format(setting('url', url), fix('graph', 'PATH')))


def download(url, dest, progress=True, timeout=READ_TIMEOUT, min_rate=MIN_RATE,
             window=RATE_WINDOW, max_bytes=MAX_DOWNLOAD_BYTES):
    """Stream `url` into the file `dest` and return the SHA-256 of the bytes received.

    One DownloadError line for an HTTP error, a redirect loop, a dropped connection, no data
    for `timeout` seconds, fewer than `min_rate` bytes/s over `window` seconds, or more than
    `max_bytes`; one OutputError line if `dest`'s disk is full (checked first when the server
    gives the length).
    """
    check_url(url)
    with _Watchdog(min_rate, window) as watchdog:
        response = _open(url, timeout, watchdog)
        with response:
            length = response.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise DownloadError('{} is {}, more than the {} cap: not the inception graph '
                                    'or archive'.format(url, _mb(total), _mb(max_bytes)))
            if total is not None:
                check_free_space(os.path.dirname(os.path.abspath(dest)), total,
                                 'the download of {}'.format(url), hint=_SPACE_HINT)
            bar = _progress_bar(total, posixpath.basename(urllib.parse.urlsplit(url).path)) \
                if progress else contextlib.nullcontext(None)
            digest, received = hashlib.sha256(), 0
            with writing(dest, space_hint=_SPACE_HINT), open(dest, 'wb') as out, bar as bar:
                while True:
                    try:
                        # read1: returns what arrived, so the watchdog's verdict is seen at once
                        chunk = response.read1(_CHUNK)
                    except socket.timeout:
                        raise DownloadError('{} sent nothing for {} s after {} of {} bytes; run '
                                            'again later'.format(url, timeout, received,
                                                                 total or '?')) from None
                    except (http.client.HTTPException, OSError, ValueError) as e:
                        if watchdog.expired:
                            raise watchdog.error(url) from None
                        raise DownloadError('connection to {} dropped after {} of {} bytes '
                                            '({}); run again'.format(url, received, total or '?',
                                                                     type(e).__name__)) from None
                    if watchdog.expired:
                        raise watchdog.error(url)
                    if not chunk:
                        break
                    watchdog.received = received = received + len(chunk)
                    if received > max_bytes:
                        raise DownloadError('{} sent more than {}: not the inception graph or '
                                            'archive'.format(url, _mb(max_bytes)))
                    out.write(chunk)
                    digest.update(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError('connection to {} dropped after {} of {} bytes; run again'.format(
            url, received, total))
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Reading the graph (and the label files) from what was fetched

_SIGNATURES = (
    (b'PK\x03\x04', 'a zip archive'),
    (b'PK\x05\x06', 'an empty zip archive'),
    (b'BZh', 'a bzip2-compressed file (a .tar.bz2?)'),
    (b'\xfd7zXZ\x00', 'an xz-compressed file (a .tar.xz?)'),
    (b'\x28\xb5\x2f\xfd', 'a zstd-compressed file'),
    (b"7z\xbc\xaf'\x1c", 'a 7-Zip archive'),
    (b'\x89HDF\r\n\x1a\n', 'an HDF5 file (a converted model file?)'),
)
# The first byte of a serialized GraphDef: the tag of field 1 (node), 2 (library),
# 3 (version) or 4 (versions); TensorFlow writes them in that order.
_GRAPHDEF_TAGS = (0x0a, 0x12, 0x18, 0x22)


def sniff(path, name=None):
    """'gzip', 'tar' or 'pb' for what `path` holds; DownloadError naming anything else."""
    name = name or path
    if os.path.isdir(path):
        raise GraphNotFoundError('{} is a folder: give the path of {}'.format(name, _EXPECTED))
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is not None:  # opening a FIFO would wait for a writer forever
            raise DownloadError('{} is not a regular file ({}): give the path of {}'.format(
                name, kind, _EXPECTED))
        with open(path, 'rb') as f:
            head = f.read(512)
    except FileNotFoundError:
        raise GraphNotFoundError('{} does not exist: give the path of {}'.format(
            name, _EXPECTED)) from None
    except OSError as e:
        raise DownloadError('cannot read {}: {}'.format(name, e.strerror or e)) from None
    if not head:
        raise DownloadError('{} is empty: expected {}'.format(name, _EXPECTED))
    if head[:2] == b'\x1f\x8b':
        return 'gzip'
    if head[257:262] == b'ustar':
        return 'tar'
    what = _describe(head)
    if what is not None:
        raise DownloadError('{} is {}; expected {}'.format(name, what, _EXPECTED))
    return 'pb'


def _describe(head):
    """What a file that is not a tar archive is, or None if it may be a GraphDef."""
    for magic, what in _SIGNATURES:
        if head.startswith(magic):
            return what
    text = head.lstrip(b'\xef\xbb\xbf \t\r\n').lower()
    if text.startswith((b'<!doctype html', b'<html', b'<head', b'<body', b'<!--')):
        return 'an HTML page (an error or sign-in page?)'
    if text.startswith(b'<?xml'):
        return 'an XML document (a server error message?)'
    try:
        decoded = head.decode('utf-8')
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and all(c.isprintable() or c in '\t\r\n' for c in decoded):
        return 'a text file (it starts with {!r})'.format(decoded.strip()[:40])
    if head[0] not in _GRAPHDEF_TAGS:
        return 'a binary file that is no TensorFlow graph (it starts with {})'.format(
            head[:4].hex(' '))
    return None


def read_graph(path, name=None, max_graph_bytes=MAX_GRAPH_BYTES,
               max_label_bytes=MAX_LABEL_BYTES, max_total_bytes=MAX_ARCHIVE_BYTES):
    """{'graph': bytes, 'labels': {member: bytes}} from a .tgz/.tar or a bare .pb at `path`.

    `name` is what messages call the file (the URL it came from). Archives are read in memory
    (no member is written to disk) and whole: a gzip stream's CRC and length are checked even
    past the graph. The label files are returned when the archive holds them (a bare .pb has
    none). Sizes beyond the caps are errors, decided from the tar headers before reading.
    """
    name = name or path
    kind = sniff(path, name)
    if kind == 'pb':
        size = os.path.getsize(path)
        if size > max_graph_bytes:
            raise DownloadError('{} is {}, more than the {} cap for a graph (the released one '
                                'is {})'.format(name, _mb(size), _mb(max_graph_bytes),
                                                _mb(RELEASED_GRAPH_SIZE)))
        with open(path, 'rb') as f:
            return {'graph': f.read(), 'labels': {}}
    caps = dict.fromkeys(LABEL_MEMBERS, max_label_bytes)
    caps[GRAPH_MEMBER] = max_graph_bytes
    found = {posixpath.basename(member): data for member, data in read_archive(
        path, caps, name=name, kind=kind, max_total_bytes=max_total_bytes).items()}
    if GRAPH_MEMBER not in found:
        raise ConversionError('{} holds no {}: it is not the inception-2015-12-05 archive'.format(
            name, GRAPH_MEMBER))
    return {'graph': found.pop(GRAPH_MEMBER), 'labels': found}


def read_archive(path, caps, name=None, kind=None, what='the inception-2015-12-05 archive',
                 expected=_EXPECTED, error=DownloadError, max_total_bytes=MAX_ARCHIVE_BYTES,
                 max_members=None):
    """{member name: bytes} of the members of the .tgz/.tar at `path` whose base names are keys
    of `caps` ({base name: most bytes allowed}); the one archive reader (the graph's and
    CIFAR-10's).

    Read in memory, sequentially and whole: a gzip stream's CRC and length (ISIZE) are checked
    even past the last member wanted, so a cut trailer or a flipped byte anywhere fails. A
    member over its cap, more than `max_total_bytes` decompressed, more than `max_members`
    members or a wanted name twice is refused from the tar headers, before reading. `kind`:
    'gzip' or 'tar' (default: told by the first bytes). Problems are one `error` line naming
    `name` (default `path`); `what` and `expected` say what the archive should have been.
    """
    from inception_score.io import open_regular
    name = name or path
    max_members = MAX_MEMBERS if max_members is None else max_members
    try:
        with open_regular(path) as raw:
            if kind is None:
                head = raw.read(512)
                raw.seek(0)
                kind = ('gzip' if head[:2] == b'\x1f\x8b' else
                        'tar' if head[257:262] == b'ustar' else None)
                if kind is None:
                    raise error('{} is neither a .tar.gz nor a .tar archive; expected {}'.format(
                        name, expected))
            with (gzip.GzipFile(fileobj=raw, mode='rb') if kind == 'gzip'
                  else contextlib.nullcontext(raw)) as stream:
                capped = _CappedReader(stream, max_total_bytes, name, what, error)
                try:
                    tar = tarfile.open(fileobj=capped, mode='r|')  # sequential: nothing seeked
                except tarfile.ReadError as e:
                    _drain(capped)  # a corrupt stream says so here; an intact one is no tar
                    raise error('{} is {} but holds no tar archive ({}); expected {}'.format(
                        name, 'gzip-compressed' if kind == 'gzip' else 'a tar header',
                        _first_line(e), expected)) from None
                with tar:
                    found = _read_members(tar, caps, name, what, error, max_members)
                _drain(capped)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:  # BadGzipFile is an OSError
        raise error('{} is truncated or corrupt ({}): download it again'.format(
            name, _first_line(e))) from None
    return found


class _CappedReader:
    """A file-like reader that fails once more than `limit` bytes came through."""

    def __init__(self, raw, limit, name, what, error):
        self.raw, self.limit, self.name, self.count = raw, limit, name, 0
        self.what, self.error = what, error

    def read(self, size=-1):
        room = self.limit - self.count + 1
        data = self.raw.read(room if size is None or size < 0 else min(size, room))
        self.count += len(data)
        if self.count > self.limit:
            raise self.error('{} decompresses to more than {}: not {} (a decompression '
                             'bomb?)'.format(self.name, _mb(self.limit), self.what))
        return data


def _drain(stream):
    """Read to the end: a gzip stream's CRC and length are checked only there."""
    while stream.read(_CHUNK):
        pass


def _read_members(tar, caps, name, what, error, max_members):
    found, bases = {}, set()
    for count, member in enumerate(tar, 1):
        if count > max_members:
            raise error('{} holds more than {} files: not {}'.format(name, max_members, what))
        base = posixpath.basename(member.name)
        if base not in caps or not member.isfile():
            continue
        if base in bases:
            raise error('{} holds {} twice: not {}'.format(name, base, what))
        bases.add(base)
        if member.size > caps[base]:
            claimed, cap = _mb(member.size), _mb(caps[base])
            if claimed == cap:  # just over the cap (a CIFAR-10 batch's is exact): in bytes
                claimed, cap = '{} bytes'.format(member.size), '{} bytes'.format(caps[base])
            raise error('{}: {} claims {}, more than the {} cap: not {} (a decompression '
                        'bomb?)'.format(name, member.name, claimed, cap, what))
        data = tar.extractfile(member).read()
        if len(data) != member.size:
            raise EOFError('{} ends after {} of its {} bytes'.format(
                member.name, len(data), member.size))
        found[member.name] = data
    return found


def read_graph_bytes(path):
    """The bytes of classify_image_graph_def.pb from a .tgz/.tar holding it or a bare .pb."""
    return read_graph(path)['graph']


# ---------------------------------------------------------------------------------------------
# The whole decision: where the graph comes from and what it is

def obtain_graph(url=DEFAULT_URL, graph=None, sha256=None, fallback_url=FALLBACK_URL,
                 fallback_sha256=RELEASED_GRAPH_SHA256, progress=True, log=print,
                 timeout=READ_TIMEOUT, min_rate=MIN_RATE, window=RATE_WINDOW):
    """The graph to convert, read from the local file `graph` or downloaded from `url`.

    If the download or the archive from `url` fails and no `sha256` pins it, the bare graph at
    `fallback_url` (None: no fallback) is tried, saying so through `log`; it must have the SHA-256
    `fallback_sha256`. Downloads go to a scratch folder removed afterwards (signals included).
    Returns {'graph': bytes, 'labels': {member: bytes}, 'source': URL or absolute path,
    'source_sha256': hex of the file fetched or read, 'graph_sha256': hex,
    'released_graph': bool}; print `unreleased_graph_warning(...)` when it is not released.
    """
    if graph is not None:
        found = read_graph(graph, name=setting('graph', graph))  # fails fast on a wrong file
        digest = sha256_file(graph)
        log('SHA-256 of {}: {}'.format(os.path.basename(graph), digest))
        check_sha256(graph, digest, sha256)
        return _described(found, os.path.abspath(graph), digest)
    check_url(url)
    options = dict(progress=progress, timeout=timeout, min_rate=min_rate, window=window)
    with scratch_dir() as scratch:
        dest = os.path.join(scratch, 'download')  # never named after the URL (`--url .../..`)
        log('Downloading {}'.format(url))
        try:
            digest = download(url, dest, **options)
        except DownloadError as e:
            failure = e
        else:
            log('SHA-256 of {}: {}'.format(posixpath.basename(urllib.parse.urlsplit(url).path),
                                           digest))
            check_sha256(url, digest, sha256)  # the user's pin: nothing else may stand in
            try:
                return _described(read_graph(dest, name=url), url, digest)
            except (DownloadError, ConversionError) as e:
                failure = e
        if fallback_url is None or sha256:
            raise failure
        log('{}; trying {}'.format(failure, fallback_url))
        try:
            check_url(fallback_url)
            digest = download(fallback_url, dest, **options)
            if digest != fallback_sha256:
                raise DownloadError('{} served a file with SHA-256 {}, not the released graph '
                                    '({})'.format(fallback_url, digest, fallback_sha256))
            found = read_graph(dest, name=fallback_url)
        except (DownloadError, ConversionError, UsageError) as e:
            raise DownloadError('{}; the fallback failed too: {}'.format(failure, e)) from None
        log('SHA-256 of {}: {}'.format(posixpath.basename(urllib.parse.urlsplit(
            fallback_url).path), digest))
        return _described(found, fallback_url, digest)


def _described(found, source, digest):
    graph_sha256 = hashlib.sha256(found['graph']).hexdigest()
    return {'graph': found['graph'], 'labels': found['labels'], 'source': source,
            'source_sha256': digest, 'graph_sha256': graph_sha256,
            'released_graph': _released(len(found['graph']), graph_sha256)}


__all__ = ['DEFAULT_URL', 'FALLBACK_URL', 'GRAPH_MEMBER', 'LABEL_MEMBERS', 'RELEASED_GRAPH_SHA256',
           'RELEASED_GRAPH_SIZE', 'check_sha256', 'check_url', 'download', 'is_released_graph',
           'obtain_graph', 'read_archive', 'read_graph', 'read_graph_bytes', 'sha256_file',
           'sniff', 'unreleased_graph_warning']
