"""fetch.py against real archives made here and a real HTTP server on 127.0.0.1 that misbehaves
on purpose: corrupt and hostile archives, wrong formats, loops, trickles, a full disk, signals."""
import gzip
import hashlib
import http.server
import io
import os
import random
import signal
import socket
import tarfile
import tempfile
import threading
import time
import zipfile

import pytest

import fetch_tool
from inception_score import fetch
from inception_score.errors import ConversionError, DownloadError, UsageError

GRAPH = fetch_tool.fake_graph()
LABELS = {'imagenet_2012_challenge_label_map_proto.pbtxt':
          b'entry {\n  target_class: 449\n  target_class_string: "n01440764"\n}\n',
          'imagenet_synset_to_human_label_map.txt': b'n01440764\ttench, Tinca tinca\n'}


def tar_bytes(members, mode='w:gz'):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


ARCHIVE = tar_bytes(dict({'LICENSE': b'test\n', 'classify_image_graph_def.pb': GRAPH}, **LABELS))


def one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in text, text
    return lines[0]


@pytest.fixture
def write(tmp_path):
    def write(name, data):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)
    return write


@pytest.fixture
def tmpdir_watched(tmp_path, monkeypatch):
    """$TMPDIR for scratch folders, to check that none stays behind."""
    tmp = tmp_path / 'tmp'
    tmp.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp))
    return tmp


# ---------------------------------------------------------------------------------------------
# Reading archives

def test_archive_gives_graph_and_both_label_files(write):
    found = fetch.read_graph(write('a.tgz', ARCHIVE))
    assert found['graph'] == GRAPH
    assert found['labels'] == LABELS


def test_bare_pb_gives_graph_and_no_labels(write):
    assert fetch.read_graph(write('g.pb', GRAPH)) == {'graph': GRAPH, 'labels': {}}


def test_byte_flipped_mid_stream_is_corrupt(write):
    data = bytearray(ARCHIVE)
    data[len(data) // 2] ^= 0x01
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(write('bad.tgz', bytes(data)))
    assert 'is truncated or corrupt' in one_line(str(e.value))


@pytest.mark.parametrize('offset,what', [(-8, 'CRC'), (-5, 'CRC'), (-4, 'length'), (-1, 'length')])
def test_flipped_gzip_trailer_is_corrupt(write, offset, what):
    data = bytearray(ARCHIVE)
    data[len(data) + offset] ^= 0x01
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(write('bad.tgz', bytes(data)))
    assert what in one_line(str(e.value))


def test_seeded_byte_flips_fail_or_change_nothing(write):
    rng = random.Random(1)
    for i in range(30):
        data = bytearray(ARCHIVE)
        data[rng.randrange(10, len(data))] ^= 1 << rng.randrange(8)
        path = write('flip{}.tgz'.format(i), bytes(data))
        try:
            found = fetch.read_graph(path)
        except (DownloadError, ConversionError) as e:
            one_line(str(e))
        else:
            assert found['graph'] == GRAPH


@pytest.mark.parametrize('cut', [100, len(ARCHIVE) // 2, len(ARCHIVE) - 4])
def test_truncated_archive_is_an_error(write, cut):
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(write('cut.tgz', ARCHIVE[:cut]))
    assert 'truncated or corrupt' in one_line(str(e.value))


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize('data,says', [
    (b'', 'is empty'),
    (b'<!DOCTYPE html>\n<html><body>Sign in</body></html>', 'is an HTML page'),
    (b'\n  <html><head><title>404</title>', 'is an HTML page'),
    (b'<?xml version="1.0"?><Error><Code>BlobNotFound</Code></Error>', 'is an XML document'),
    (_zip({'classify_image_graph_def.pb': GRAPH}), 'is a zip archive'),
    (tar_bytes({'classify_image_graph_def.pb': GRAPH}, 'w:bz2'), 'bzip2-compressed'),
    (tar_bytes({'classify_image_graph_def.pb': GRAPH}, 'w:xz'), 'xz-compressed'),
    (b'\x89HDF\r\n\x1a\n' + bytes(100), 'an HDF5 file'),
    (b'version https://git-lfs.github.com/spec/v1\n', 'a text file'),
    (b'\x00\x01\x02\x03' * 10, 'no TensorFlow graph (it starts with 00 01 02 03)'),
    (gzip.compress(GRAPH), 'gzip-compressed but holds no tar archive'),
])
def test_wrong_formats_are_named_as_what_they_are(write, data, says):
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(write('inception-2015-12-05.tgz', data), name='THE-FILE')
    line = one_line(str(e.value))
    assert line.startswith('THE-FILE ') and says in line, line
    assert 'truncated' not in line


def test_folder_and_missing_file_are_named(tmp_path):
    with pytest.raises(DownloadError, match='is a folder: give the path of'):
        fetch.read_graph(str(tmp_path))
    with pytest.raises(DownloadError, match='does not exist: give the path of'):
        fetch.read_graph(str(tmp_path / 'absent.tgz'))
    fifo = str(tmp_path / 'graph.pb')
    os.mkfifo(fifo)  # opened, it would wait for a writer forever
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(fifo)
    assert str(e.value) == ('{} is not a regular file (a FIFO): give the path of '
                            'inception-2015-12-05.tgz or classify_image_graph_def.pb'.format(fifo))


def test_archive_without_the_graph_is_a_conversion_error(write):
    with pytest.raises(ConversionError, match='holds no classify_image_graph_def.pb'):
        fetch.read_graph(write('a.tgz', tar_bytes({'LICENSE': b'x'})))


def test_graph_member_twice_is_refused(write):
    data = tar_bytes({'a/classify_image_graph_def.pb': GRAPH,
                      'b/classify_image_graph_def.pb': b'\n'})
    with pytest.raises(DownloadError, match='holds classify_image_graph_def.pb twice'):
        fetch.read_graph(write('a.tgz', data))


def _claiming_member(name, claimed, actual=b'\n' * 512):
    """A .tgz whose tar header claims `claimed` bytes for `name` (a bomb's header)."""
    info = tarfile.TarInfo(name)
    info.size = claimed
    return gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + actual, compresslevel=1)


def test_member_claiming_more_than_the_cap_fails_before_reading(write):
    path = write('bomb.tgz', _claiming_member('classify_image_graph_def.pb', 3 << 30))
    started = time.monotonic()
    with pytest.raises(DownloadError) as e:
        fetch.read_graph(path)
    assert 'claims 3221.2 MB, more than the 268.4 MB cap' in one_line(str(e.value))
    assert time.monotonic() - started < 2


def test_label_member_over_its_cap_is_refused(write):
    data = tar_bytes({'imagenet_synset_to_human_label_map.txt': b'x' * 2048,
                      'classify_image_graph_def.pb': GRAPH})
    with pytest.raises(DownloadError, match='imagenet_synset_to_human_label_map.txt claims'):
        fetch.read_graph(write('a.tgz', data), max_label_bytes=1024)


def test_total_decompressed_bytes_are_capped(write):
    data = tar_bytes({'LICENSE': bytes(200000), 'classify_image_graph_def.pb': GRAPH})
    with pytest.raises(DownloadError, match='decompresses to more than 0.1 MB'):
        fetch.read_graph(write('a.tgz', data), max_total_bytes=100000)


def test_bare_pb_over_the_cap_is_refused_unread(write):
    with pytest.raises(DownloadError, match=r'is 0.2 MB, more than the 0.0 MB cap for a graph '
                                             r'\(the released one is 95.7 MB\)'):
        fetch.read_graph(write('g.pb', GRAPH), max_graph_bytes=1000)


def test_thousands_of_members_are_refused(write):
    data = tar_bytes({'f{}'.format(i): b'' for i in range(fetch.MAX_MEMBERS + 1)})
    with pytest.raises(DownloadError, match='holds more than 1000 files'):
        fetch.read_graph(write('a.tgz', data))


def _write_gzip_bomb(path, filler_bytes):
    """A .tgz whose first member is `filler_bytes` zeros (a few hundred KB compressed), then
    the graph: streamed, so building it costs no memory."""
    info = tarfile.TarInfo('LICENSE')
    info.size = filler_bytes
    chunk = bytes(1 << 20)
    with gzip.open(path, 'wb', compresslevel=1) as f:
        f.write(info.tobuf(format=tarfile.GNU_FORMAT))
        for _ in range(filler_bytes // len(chunk)):
            f.write(chunk)
        f.write(tar_bytes({'classify_image_graph_def.pb': GRAPH}, mode='w'))


@pytest.mark.slow
def test_gzip_bombs_fail_fast_in_bounded_memory(tmp_path):
    """Real caps, in a process limited to 1 GiB of address space: a member whose header claims
    3 GiB, and a 400 MiB member of zeros that exceeds the total cap while streaming."""
    claims = tmp_path / 'claims.tgz'
    claims.write_bytes(_claiming_member('classify_image_graph_def.pb', 3 << 30,
                                        bytes(8 << 20)))
    streams = tmp_path / 'streams.tgz'
    _write_gzip_bomb(str(streams), 400 << 20)
    assert streams.stat().st_size < 2 << 20
    out = tmp_path / 'out'
    out.mkdir()
    for bomb, says in ((claims, 'claims 3221.2 MB'),
                       (streams, 'decompresses to more than 335.5 MB')):
        code, _, err, rss, seconds = fetch_tool.Process(
            ['--graph', str(bomb), '--outfile', str(out / 'm.pb'),
             '--limit-as', str(1 << 30)]).finish()
        assert code == 1, err
        assert says in one_line(err) and 'decompression bomb' in err
        assert rss < 256 << 20, rss  # about 120 MB to import the package; a bomb adds nothing
        assert seconds < 30
        assert os.listdir(str(out)) == []


# ---------------------------------------------------------------------------------------------
# The released graph

def test_only_the_pinned_hash_and_size_are_the_released_graph(monkeypatch):
    assert not fetch.is_released_graph(GRAPH)
    monkeypatch.setattr(fetch, 'RELEASED_GRAPH_SHA256', hashlib.sha256(GRAPH).hexdigest())
    assert not fetch.is_released_graph(GRAPH)  # the size is pinned too
    monkeypatch.setattr(fetch, 'RELEASED_GRAPH_SIZE', len(GRAPH))
    assert fetch.is_released_graph(GRAPH)


def test_unreleased_graph_warning_is_one_line_and_none_for_the_released_graph():
    assert fetch.unreleased_graph_warning(fetch.RELEASED_GRAPH_SHA256, 'x') is None
    line = one_line(fetch.unreleased_graph_warning('ab' * 32, 'my.pb'))
    assert line.startswith('the graph from my.pb is not the released')
    assert 'not comparable with published' in line and fetch.RELEASED_GRAPH_SHA256 in line


# ---------------------------------------------------------------------------------------------
# The server

class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> callable(handler)

    def do_GET(self):
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def body(data, content_type='application/x-gzip', length=True):
    def send(h):
        h.send_response(200)
        h.send_header('Content-Type', content_type)
        if length:
            h.send_header('Content-Length', str(len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.close_connection = True
    return send


def redirect(to):
    def send(h):
        h.send_response(302)
        h.send_header('Location', to)
        h.send_header('Content-Length', '0')
        h.end_headers()
    return send


def trickle(data, delay, head=0):
    """`head` bytes at once, then one byte every `delay` seconds (for at most 20 s)."""
    def send(h):
        h.send_response(200)
        h.send_header('Content-Length', str(len(data)))
        h.end_headers()
        h.wfile.write(data[:head])
        h.wfile.flush()
        deadline = time.monotonic() + 20
        for i in range(head, len(data)):
            if time.monotonic() > deadline:
                break
            h.wfile.write(data[i:i + 1])
            h.wfile.flush()
            time.sleep(delay)
        h.close_connection = True
    return send


def trickle_headers(delay):
    def send(h):
        deadline = time.monotonic() + 20
        for byte in b'HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n':
            if time.monotonic() > deadline:
                break
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(delay)
        h.close_connection = True
    return send


def stall(data, seconds):
    """The headers and `data` (of a longer body), then nothing for `seconds`."""
    def send(h):
        h.send_response(200)
        h.send_header('Content-Length', str(len(data) * 10))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
        time.sleep(seconds)
        h.close_connection = True
    return send


@pytest.fixture(scope='module')
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = 'http://127.0.0.1:{}'.format(httpd.server_address[1])
    _Handler.routes.update({
        '/ok.tgz': body(ARCHIVE),
        '/graph.pb': body(GRAPH, 'application/octet-stream'),
        '/loop': redirect('/loop'),
        '/ping': redirect('/pong'),
        '/pong': redirect('/ping'),
        '/to-file': redirect('file:///etc/passwd'),
        '/page.html': body(b'<!doctype html><html><body>Please sign in</body></html>',
                           'text/html'),
        '/a.zip': body(_zip({'classify_image_graph_def.pb': GRAPH}), 'application/zip'),
        '/a.tar.bz2': body(tar_bytes({'classify_image_graph_def.pb': GRAPH}, 'w:bz2')),
        '/corrupt.tgz': body(ARCHIVE[:len(ARCHIVE) // 2] + bytes([ARCHIVE[len(ARCHIVE) // 2] ^ 1])
                             + ARCHIVE[len(ARCHIVE) // 2 + 1:]),
        '/dropped.tgz': lambda h: (h.send_response(200), h.send_header(
            'Content-Length', str(len(ARCHIVE))), h.end_headers(), h.wfile.write(
                ARCHIVE[:1000])),
        '/trickle.tgz': trickle(ARCHIVE, 0.05, head=100),
        '/trickle-headers': trickle_headers(0.1),
        '/stall.tgz': stall(ARCHIVE[:1000], 5),
        '/nolength.tgz': body(ARCHIVE, length=False),
        '/big.tgz': body(bytes(300000) + ARCHIVE),
    })
    yield url
    httpd.shutdown()
    httpd.server_close()


def obtain(server, route, **options):
    options.setdefault('fallback_url', None)
    return fetch.obtain_graph(url=server + route, progress=False, log=lambda m: None, **options)


# ---------------------------------------------------------------------------------------------
# Downloads

def test_download_gives_graph_labels_and_provenance(server, tmpdir_watched):
    lines = []
    got = fetch.obtain_graph(url=server + '/ok.tgz', fallback_url=None, progress=False,
                             log=lines.append)
    assert got['graph'] == GRAPH and got['labels'] == LABELS
    assert got['source'] == server + '/ok.tgz'
    assert got['source_sha256'] == hashlib.sha256(ARCHIVE).hexdigest()
    assert got['graph_sha256'] == hashlib.sha256(GRAPH).hexdigest()
    assert got['released_graph'] is False
    assert lines == ['Downloading {}/ok.tgz'.format(server),
                     'SHA-256 of ok.tgz: {}'.format(got['source_sha256'])]
    assert os.listdir(str(tmpdir_watched)) == []


@pytest.mark.parametrize('route,error,says', [
    ('/absent.tgz', DownloadError, 'HTTP 404'),
    ('/loop', DownloadError, 'the server redirects in a loop (HTTP 302)'),
    ('/ping', DownloadError, 'the server redirects in a loop (HTTP 302)'),
    ('/to-file', DownloadError, "HTTP 302 redirect not followed (Found - Redirection to url "
                                "'file:///etc/passwd' is not allowed)"),
    ('/page.html', DownloadError, 'is an HTML page (an error or sign-in page?)'),
    ('/a.zip', DownloadError, 'is a zip archive'),
    ('/a.tar.bz2', DownloadError, 'is a bzip2-compressed file (a .tar.bz2?)'),
    ('/corrupt.tgz', DownloadError, 'is truncated or corrupt (CRC check failed'),
    ('/dropped.tgz', DownloadError, 'dropped after 1000 of'),
    ('/dir/..', DownloadError, 'HTTP 404'),
    ('/dir/', DownloadError, 'HTTP 404'),
])
def test_bad_downloads_are_one_line_and_leave_nothing(server, tmpdir_watched, route, error,
                                                      says):
    with pytest.raises(error) as e:
        obtain(server, route)
    line = one_line(str(e.value))
    assert says in line, line
    assert os.listdir(str(tmpdir_watched)) == []


@pytest.mark.parametrize('url', ['file:///etc/passwd', 'ftp://127.0.0.1/a.tgz', 'http://',
                                 '/tmp/a.tgz'])
def test_url_that_is_not_http_is_a_usage_error(url, tmpdir_watched):
    with pytest.raises(UsageError, match='is not an http:// or https:// URL; to convert a local '
                                         'file use graph=PATH'):
        fetch.obtain_graph(url=url, progress=False, log=lambda m: None)


@pytest.mark.slow
def test_trickling_server_is_abandoned(server, tmpdir_watched):
    started = time.monotonic()
    with pytest.raises(DownloadError) as e:
        obtain(server, '/trickle.tgz', min_rate=200, window=1)
    line = one_line(str(e.value))
    assert 'stalled' in line and 'under the minimum of 200 bytes/s' in line
    assert time.monotonic() - started < 5
    assert os.listdir(str(tmpdir_watched)) == []


@pytest.mark.slow
def test_trickling_headers_are_abandoned(server, tmpdir_watched):
    started = time.monotonic()
    with pytest.raises(DownloadError, match='stalled: 0 bytes in'):
        obtain(server, '/trickle-headers', min_rate=200, window=1)
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_silent_server_times_out(server, tmpdir_watched):
    with pytest.raises(DownloadError) as e:
        obtain(server, '/stall.tgz', timeout=1, window=30)
    assert 'sent nothing for 1 s after 1000 of' in one_line(str(e.value))


@pytest.mark.parametrize('route,says', [('/big.tgz', 'big.tgz is 0.5 MB, more than the 0.1 MB cap'),
                                       ('/nolength.tgz', 'nolength.tgz sent more than 0.1 MB')])
def test_oversized_download_is_cut_off(server, tmp_path, route, says):
    with pytest.raises(DownloadError, match=says):
        fetch.download(server + route, str(tmp_path / 'x'), progress=False, max_bytes=100000)


# ---------------------------------------------------------------------------------------------
# The fallback URL

def test_fallback_serves_the_graph_when_the_primary_fails(server, tmpdir_watched):
    lines = []
    got = fetch.obtain_graph(url=server + '/absent.tgz', fallback_url=server + '/graph.pb',
                             fallback_sha256=hashlib.sha256(GRAPH).hexdigest(), progress=False,
                             log=lines.append)
    assert got['graph'] == GRAPH and got['labels'] == {}
    assert got['source'] == server + '/graph.pb'
    assert lines[1] == ('cannot download {0}/absent.tgz: HTTP 404 Not Found; trying '
                        '{0}/graph.pb'.format(server))
    assert os.listdir(str(tmpdir_watched)) == []


@pytest.mark.parametrize('route', ['/page.html', '/corrupt.tgz', '/loop'])
def test_fallback_also_replaces_a_bad_archive(server, tmpdir_watched, route):
    got = fetch.obtain_graph(url=server + route, fallback_url=server + '/graph.pb',
                             fallback_sha256=hashlib.sha256(GRAPH).hexdigest(), progress=False,
                             log=lambda m: None)
    assert got['graph'] == GRAPH


def test_fallback_with_another_hash_fails_naming_both(server, tmpdir_watched):
    with pytest.raises(DownloadError) as e:
        fetch.obtain_graph(url=server + '/absent.tgz', fallback_url=server + '/graph.pb',
                           progress=False, log=lambda m: None)
    line = one_line(str(e.value))
    assert line.startswith('cannot download {}/absent.tgz: HTTP 404'.format(server))
    assert '; the fallback failed too: {}/graph.pb served a file with SHA-256'.format(
        server) in line and fetch.RELEASED_GRAPH_SHA256 in line
    assert os.listdir(str(tmpdir_watched)) == []


def test_no_fallback_when_the_user_pinned_a_hash(server, tmpdir_watched):
    with pytest.raises(DownloadError, match='HTTP 404 Not Found$'):
        fetch.obtain_graph(url=server + '/absent.tgz', sha256='0' * 64,
                           fallback_url=server + '/graph.pb', progress=False, log=lambda m: None)
    with pytest.raises(DownloadError, match='SHA-256 of .* is .*, expected 0000'):
        fetch.obtain_graph(url=server + '/ok.tgz', sha256='0' * 64,
                           fallback_url=server + '/graph.pb', progress=False, log=lambda m: None)


# ---------------------------------------------------------------------------------------------
# The command line: exit codes, one line, nothing left (fetch_tool: download.py's shape)

def test_command_line_converts_with_a_one_line_warning(server, tmp_path, capsys):
    out = tmp_path / 'm.pb'
    code = fetch_tool.run(['--url', server + '/ok.tgz', '--outfile', str(out)])
    captured = capsys.readouterr()
    assert code == 0
    assert one_line(captured.err).startswith('fetch_tool: warning: the graph from {}/ok.tgz is '
                                             'not the released'.format(server))
    assert out.read_bytes() == GRAPH


@pytest.mark.parametrize('argv,code,says', [
    (['--url', '{server}/loop'], 1, 'fetch_tool: error: cannot download {server}/loop: the '
                                    'server redirects in a loop'),
    (['--url', '{server}/page.html'], 1, 'is an HTML page'),
    (['--url', 'file:///etc/passwd'], 2, 'is not an http:// or https:// URL'),
    (['--graph', '{folder}'], 2, 'fetch_tool: error: --graph {folder} is a folder: give the'),
])
def test_command_line_errors_are_one_line(server, tmp_path, capsys, tmpdir_watched, argv, code,
                                          says):
    fill = dict(server=server, folder=str(tmp_path / 'folder'))
    out = tmp_path / 'out'
    out.mkdir()
    (tmp_path / 'folder').mkdir()
    got = fetch_tool.run([a.format(**fill) for a in argv] + ['--outfile', str(out / 'm.pb')])
    err = capsys.readouterr().err
    assert got == code
    assert says.format(**fill) in one_line(err)
    assert os.listdir(str(out)) == [] and os.listdir(str(tmpdir_watched)) == []


@pytest.fixture
def tiny_tmpdir(tmp_path):
    with fetch_tool.tiny_disk(str(tmp_path / 'tiny'), 64 * 1024,
                              'the RLIMIT_FSIZE test covers the path') as path:
        yield path


@pytest.mark.parametrize('route,says', [
    ('/ok.tgz', 'MB are free in {tmp}/inception_score.'),  # Content-Length: decided at once
    ('/nolength.tgz', 'no space left on device; free some space or set TMPDIR'),  # on write
])
def test_full_tmpdir_is_one_line_and_leaves_nothing(server, tiny_tmpdir, tmp_path, route, says):
    out = tmp_path / 'out'
    out.mkdir()
    code, _, err, _, _ = fetch_tool.Process(
        ['--url', server + route, '--outfile', str(out / 'm.pb')],
        env={'TMPDIR': tiny_tmpdir}).finish()
    assert code == 1
    line = one_line(err)
    assert line.startswith('fetch_tool: error: cannot') and says.format(tmp=tiny_tmpdir) in line
    assert os.listdir(tiny_tmpdir) == [] and os.listdir(str(out)) == []


def test_file_size_limit_while_downloading_is_one_line(server, tmp_path):
    tmp, out = tmp_path / 'tmp', tmp_path / 'out'
    tmp.mkdir()
    out.mkdir()
    code, _, err, _, _ = fetch_tool.Process(
        ['--url', server + '/nolength.tgz', '--outfile', str(out / 'm.pb'),
         '--limit-fsize', '65536'], env={'TMPDIR': str(tmp)}).finish()
    assert code == 1
    assert 'file too large; the file size limit (ulimit -f) is too small' in one_line(err)
    assert os.listdir(str(tmp)) == [] and os.listdir(str(out)) == []


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


@pytest.mark.parametrize('signum,code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_download_removes_the_scratch_folder(server, tmp_path, signum, code):
    tmp, out = tmp_path / 'tmp', tmp_path / 'out'
    tmp.mkdir()
    out.mkdir()
    _Handler.routes['/slow.tgz'] = trickle(ARCHIVE, 0.01, head=2000)
    proc = fetch_tool.Process(['--url', server + '/slow.tgz', '--outfile', str(out / 'm.pb')],
                              env={'TMPDIR': str(tmp)})

    def downloading():
        return any(os.path.exists(os.path.join(str(tmp), d, 'download'))
                   for d in os.listdir(str(tmp)))
    _wait_for(downloading)
    os.kill(proc.proc.pid, signum)
    got, _, err, _, _ = proc.finish()
    assert got == code
    assert 'Traceback' not in err and len(err.strip().splitlines()) <= 1, err
    assert os.listdir(str(tmp)) == [] and os.listdir(str(out)) == []


def test_port_without_server_is_one_line(tmpdir_watched):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(DownloadError) as e:
        fetch.obtain_graph(url='http://127.0.0.1:{}/a.tgz'.format(port), fallback_url=None,
                           progress=False, log=lambda m: None)
    assert 'Connection refused' in one_line(str(e.value))
