"""download.py against a real HTTP server on 127.0.0.1 serving archives made here."""
import hashlib
import http.server
import os
import subprocess
import sys
import tempfile
import threading

import h5py
import numpy
import pytest

from conftest import ROOT, make_tgz
from inception_score import load_network
from inception_score.cli import download_main
from inception_score.modelfile import read_class_names, read_metadata


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (body bytes, bytes actually sent before closing or None)

    def do_GET(self):
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, cut = self.routes[self.path]
        self.send_response(200)
        self.send_header('Content-Type', 'application/x-gzip')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:{}'.format(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def _mutated_tgz(graph_def, tmp_path_factory, mutate):
    mutated = type(graph_def)()
    mutated.CopyFrom(graph_def)
    mutate(mutated)
    path = tmp_path_factory.mktemp('mutated') / 'inception-2015-12-05.tgz'
    make_tgz(path, {'classify_image_graph_def.pb': mutated.SerializeToString()})
    return path.read_bytes()


def _drop_node(name):
    def mutate(gd):
        index = [n.name for n in gd.node].index(name)
        del gd.node[index]
    return mutate


def _reshape_const(name, shape):
    def mutate(gd):
        import tensorflow as tf
        node = [n for n in gd.node if n.name == name][0]
        value = tf.make_ndarray(node.attr['value'].tensor).reshape(shape)
        node.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(value))
    return mutate


@pytest.fixture(scope='module')
def routes(server, graph_files, graph_def, tmp_path_factory):
    with open(graph_files['tgz'], 'rb') as f:
        tgz = f.read()
    no_member = tmp_path_factory.mktemp('nomember') / 'a.tgz'
    make_tgz(no_member, {'LICENSE': b'no graph here\n'})
    _Handler.routes.update({
        '/ok.tgz': (tgz, None),
        '/truncated.tgz': (tgz[:len(tgz) // 2], None),
        '/dropped.tgz': (tgz, len(tgz) // 3),
        '/nomember.tgz': (no_member.read_bytes(), None),
        '/missing-node.tgz': (_mutated_tgz(graph_def, tmp_path_factory,
                                           _drop_node('mixed_4/tower/conv_1/conv2d_params')),
                              None),
        '/wrong-shape.tgz': (_mutated_tgz(graph_def, tmp_path_factory, _reshape_const(
            'mixed_5/tower/conv_1/conv2d_params', (7, 1, 160, 160))), None),
    })
    return {'url': server, 'sha256': hashlib.sha256(tgz).hexdigest()}


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """An empty output directory, and the temp directory watched for leftovers."""
    out = tmp_path / 'out'
    tmp = tmp_path / 'tmp'
    out.mkdir()
    tmp.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp))
    return out, tmp


def _run(args, capsys):
    code = download_main(args + ['--quiet'])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_download_converts_and_records_the_hash(routes, scratch, capsys, model_file):
    out, tmp = scratch
    target = out / 'inception_score.model'
    code, stdout, err = _run(['--outfile', str(target), '--url', routes['url'] + '/ok.tgz',
                              '--sha256', routes['sha256'].upper()], capsys)
    assert code == 0, err
    assert routes['sha256'] in stdout
    meta = read_metadata(str(target))
    assert meta['source_sha256'] == routes['sha256']
    assert meta['inception_score_converter_version']
    assert sorted(os.listdir(str(out))) == ['inception_score.model']
    assert os.listdir(str(tmp)) == []
    # The same weights as converting the local archive.
    with h5py.File(str(target), 'r') as a, h5py.File(model_file, 'r') as b:
        for key in ('mixed_10/tower_2/conv/W', 'logit/W', 'mixed_4/tower/bn_conv_1/avg_var'):
            assert numpy.array_equal(a[key][()], b[key][()])
    load_network(str(target))


@pytest.mark.slow
@pytest.mark.parametrize('route,extra,message', [
    ('/ok.tgz', ['--sha256', '0' * 64], 'SHA-256 of'),
    ('/truncated.tgz', [], 'truncated or corrupt'),
    ('/dropped.tgz', [], 'dropped after'),
    ('/nomember.tgz', [], 'holds no classify_image_graph_def.pb'),
    ('/missing-node.tgz', [], "node 'mixed_4/tower/conv_1/conv2d_params' is missing"),
    ('/wrong-shape.tgz', [], "node 'mixed_5/tower/conv_1/conv2d_params' has shape "
                             "(7, 1, 160, 160), expected (1, 7, 160, 160)"),
    ('/absent.tgz', [], 'HTTP 404'),
])
def test_bad_source_gives_one_line_error_and_leaves_no_file(routes, scratch, capsys, route,
                                                             extra, message):
    out, tmp = scratch
    code, _, err = _run(['--outfile', str(out / 'm.model'), '--url', routes['url'] + route]
                        + extra, capsys)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert os.listdir(str(out)) == []
    assert os.listdir(str(tmp)) == []


@pytest.mark.slow
def test_local_pb_and_tgz_convert_to_the_same_model(graph_files, scratch, capsys, model_file,
                                                    class_names):
    out, _ = scratch
    target = out / 'from_pb.model'
    code, stdout, err = _run(['--graph', graph_files['pb'], '--outfile', str(target)], capsys)
    assert code == 0, err
    assert hashlib.sha256(graph_files['bytes']).hexdigest() in stdout
    with h5py.File(str(target), 'r') as a, h5py.File(model_file, 'r') as b:
        keys = []
        a.visit(lambda k: keys.append(k) if isinstance(a[k], h5py.Dataset) else None)
        assert len(keys) > 400
        for key in keys:
            if key != 'meta/class_names':
                assert numpy.array_equal(a[key][()], b[key][()]), key
    # The archive's label files name the outputs; a bare graph has none: placeholders.
    assert read_class_names(model_file) == class_names
    assert read_class_names(str(target)) == ['class {}'.format(i) for i in range(1008)]


def test_usage_errors_exit_2(scratch):
    out, _ = scratch
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'download.py'), '--bogus'],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    code = subprocess.run([sys.executable, os.path.join(ROOT, 'download.py'), '--graph',
                           str(out / 'absent.tgz'), '--outfile', str(out / 'm.model')],
                          capture_output=True, text=True)
    assert code.returncode == 2
    assert code.stderr.strip().splitlines() == [
        'download.py: error: --graph {} does not exist: give the path of '
        'inception-2015-12-05.tgz or classify_image_graph_def.pb'.format(out / 'absent.tgz')]


def test_missing_tensorflow_says_how_to_install(graph_files, scratch):
    out, _ = scratch
    code = ("import sys; sys.modules['tensorflow'] = None; "
            "from inception_score.cli import download_main; "
            "sys.exit(download_main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, '-c', code, '--graph', graph_files['pb'],
                           '--outfile', str(out / 'm.model'), '--quiet'],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "inception_score[convert]"' in lines[0]
    assert os.listdir(str(out)) == []


_INTERRUPT_IMPORT = '''
import os, sys
class _CtrlC:
    """Ctrl-C pressed while `module` is being imported."""
    def find_spec(self, name, path=None, target=None):
        if name == os.environ['INTERRUPT_IMPORT_OF']:
            raise KeyboardInterrupt
sys.meta_path.insert(0, _CtrlC())
'''


@pytest.mark.parametrize('module', ['inception_score', 'inception_score.cli', 'argparse'])
def test_ctrl_c_during_imports_is_one_line(scratch, tmp_path, module):
    out, _ = scratch
    hook = tmp_path / 'hook'
    hook.mkdir()
    (hook / 'sitecustomize.py').write_text(_INTERRUPT_IMPORT)
    env = dict(os.environ, PYTHONPATH=str(hook), INTERRUPT_IMPORT_OF=module)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'download.py'), '--graph',
                           str(out / 'absent.tgz'), '--outfile', str(out / 'm.model')],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 130
    assert proc.stderr.strip().splitlines() == ['download.py: interrupted']
    assert os.listdir(str(out)) == []


@pytest.mark.slow
def test_outfile_onto_the_graph_is_refused_before_any_work(graph_files, tmp_path):
    graph = tmp_path / 'g.pb'
    graph.write_bytes(graph_files['bytes'])
    link = tmp_path / 'alias.pb'
    link.symlink_to(graph)
    for outfile in (graph, link):
        proc = subprocess.run([sys.executable, os.path.join(ROOT, 'download.py'), '--graph',
                               str(graph), '--outfile', str(outfile), '--quiet'],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith('download.py: error: ') and \
            '--outfile' in lines[0], lines
    assert graph.read_bytes() == graph_files['bytes']
    assert sorted(os.listdir(str(tmp_path))) == ['alias.pb', 'g.pb']


@pytest.mark.slow
def test_model_file_on_a_full_disk_is_one_line_and_leaves_nothing(graph_files, tmp_path):
    import fetch_tool
    with fetch_tool.tiny_disk(str(tmp_path / 'tiny'), 1 << 20) as disk:
        proc = subprocess.run([sys.executable, os.path.join(ROOT, 'download.py'), '--graph',
                               graph_files['tgz'], '--outfile', os.path.join(disk, 'm.model'),
                               '--quiet'], capture_output=True, text=True)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            'download.py: error: cannot write the model file: it needs'), lines
        assert os.listdir(disk) == []
