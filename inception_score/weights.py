"""Fetch the TF archive, check it and convert it into a model file (no Chainer needed).

Nothing half-written is ever left behind: downloads and model files go to a temporary file in
the target directory and are renamed into place only when complete and checked.
"""
import contextlib
import datetime
import gzip
import hashlib
import http.client
import os
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib

from inception_score.errors import ConversionError, DownloadError
from inception_score.files import atomic_output, check_writable, sha256_file  # noqa: F401
from inception_score.modelfile import (create_command, default_model_path,  # noqa: F401
                                      read_metadata, save_arrays)

DEFAULT_URL = ('https://storage.googleapis.com/download.tensorflow.org/models/image/imagenet/'
               'inception-2015-12-05.tgz')
GRAPH_MEMBER = 'classify_image_graph_def.pb'
CONVERTER_VERSION = '1'
_CHUNK = 1 << 20


def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but a bar is not worth failing for
        return contextlib.nullcontext(None)
    return tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024, desc=desc,
                file=sys.stderr, leave=False)


def fetch(url, dest, progress=True, timeout=60):
    """Download `url` to `dest`, checking the length; return the SHA-256 of the bytes."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise DownloadError('cannot download {}: HTTP {} {}'.format(url, e.code, e.reason)) \
            from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, 'reason', e)
        raise DownloadError('cannot download {} ({}); offline, convert a local copy with '
                            '--graph PATH'.format(url, reason)) from None
    length = response.headers.get('Content-Length')
    total = int(length) if length and length.isdigit() else None
    digest, received = hashlib.sha256(), 0
    bar = _progress_bar(total, os.path.basename(url)) if progress else \
        contextlib.nullcontext(None)
    with response, open(dest, 'wb') as out, bar as bar:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (http.client.IncompleteRead, OSError, socket.timeout) as e:
                raise DownloadError('connection to {} dropped after {} of {} bytes ({}); run '
                                    'again'.format(url, received, total or '?',
                                                   type(e).__name__)) from None
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    if total is not None and received != total:
        raise DownloadError('connection to {} dropped after {} of {} bytes; run again'.format(
            url, received, total))
    return digest.hexdigest()


def check_sha256(path, actual, expected):
    if expected and actual != expected.strip().lower():
        raise DownloadError('SHA-256 of {} is {}, expected {}: the file is corrupt or not the '
                            'pinned archive'.format(path, actual, expected.strip().lower()))


def read_graph_bytes(path):
    """The bytes of classify_image_graph_def.pb from a .tgz/.tar holding it or a bare .pb.

    Archives are read in memory: no member is ever written to disk.
    """
    try:
        with open(path, 'rb') as f:
            magic = f.read(262)
    except OSError as e:
        raise DownloadError('cannot read {}: {}'.format(path, e.strerror)) from None
    is_archive = magic[:2] == b'\x1f\x8b' or magic[257:262] == b'ustar'
    if not is_archive:
        with open(path, 'rb') as f:
            return f.read()
    try:
        with tarfile.open(path, 'r:*') as tar:
            for member in tar:
                if os.path.basename(member.name) == GRAPH_MEMBER and member.isfile():
                    return tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        raise DownloadError('{} is truncated or corrupt ({}): download it again'.format(
            path, e)) from None
    raise ConversionError('{} holds no {}: it is not the inception-2015-12-05 archive'.format(
        path, GRAPH_MEMBER))


def build_model_file(outfile, url=DEFAULT_URL, graph=None, sha256=None, progress=True,
                     log=print):
    """Fetch (or read `graph`), check, convert and save the model; return its metadata."""
    from inception_score.convert import convert_graph_def, parse_graph_def

    check_writable(outfile)
    with tempfile.TemporaryDirectory(prefix='inception_score.') as scratch:
        if graph is None:
            source = url
            archive = os.path.join(scratch, os.path.basename(url) or 'archive')
            log('Downloading {}'.format(url))
            digest = fetch(url, archive, progress=progress)
        else:
            source = os.path.abspath(graph)
            if not os.path.isfile(graph):
                raise DownloadError('--graph {} does not exist: give the path of '
                                    'inception-2015-12-05.tgz or classify_image_graph_def.pb'
                                    .format(graph))
            archive = graph
            digest = sha256_file(graph)
        log('SHA-256 of {}: {}'.format(os.path.basename(source), digest))
        check_sha256(source, digest, sha256)
        data = read_graph_bytes(archive)
    log('Converting {} ({:.1f} MB)'.format(GRAPH_MEMBER, len(data) / 1e6))
    arrays = convert_graph_def(parse_graph_def(data))
    metadata = {
        'inception_score_converter_version': CONVERTER_VERSION,
        'source': source,
        'source_sha256': digest,
        'graph_sha256': hashlib.sha256(data).hexdigest(),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    save_arrays(outfile, arrays, metadata)
    log('Saved {}'.format(outfile))
    return metadata


__all__ = ['DEFAULT_URL', 'GRAPH_MEMBER', 'build_model_file', 'fetch', 'read_graph_bytes',
           'sha256_file']
