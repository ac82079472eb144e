"""Statistics files and ADM reference batches, hostile ones included: sniffed, size-checked
against their real bytes, dtype- and shape-checked from their headers before anything is read,
only the arrays needed read, one line naming the file and the problem. Through the real
command (`inception-score IMAGES --fid/--adm REF`, in-process) and, for memory, in a child
process with an address-space limit."""
import io
import os
import resource
import struct
import subprocess
import sys
import time
import zipfile

import numpy
import pytest
from numpy.lib import format as npy_format
from PIL import Image

import synthetic_graph
from conftest import ROOT
from inception_score import statsfile
from inception_score.arrayfile import MAX_MEMBERS
from inception_score.cli import score_main
from inception_score.errors import InputError

DIM = 2048
MEMORY_LIMIT = 1 << 30
BOMB_BYTES = 400 << 20  # an unused member inflating to 400 MB (from about 1.7 MB)


def npy(array):
    buffer = io.BytesIO()
    npy_format.write_array(buffer, numpy.asanyarray(array), allow_pickle=True)
    return buffer.getvalue()


def npy_header(shape, descr='<f8'):
    buffer = io.BytesIO()
    npy_format.write_array_header_1_0(buffer, {'descr': descr, 'fortran_order': False,
                                               'shape': shape})
    return buffer.getvalue()


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """An .npz as numpy writes one, from {member name: bytes}."""
    with zipfile.ZipFile(str(path), 'w', compression=compression, compresslevel=1) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return str(path)


def statistics(dim=DIM, n=3, seed=0):
    """TTUR statistics (float64 mu, sigma) of n random feature vectors."""
    x = numpy.random.RandomState(seed).normal(size=(n, dim))
    return x.mean(axis=0), numpy.cov(x, rowvar=False)


def ttur_members(mu, sigma):
    return {'mu.npy': npy(mu), 'sigma.npy': npy(sigma)}


@pytest.fixture(scope='module')
def good():
    return statistics()


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    """Two tiny PNGs: the network costs nothing, the reference is what is tested."""
    return synthetic_graph.noise_png_folder(tmp_path_factory.mktemp('two'), 2, 1)


def with_bomb(path, members, name):
    """An .npz holding `members` and, under `name` (a .npy key, or a raw member numpy never
    writes), a .npy of BOMB_BYTES zeros deflated to about 1.7 MB."""
    with zipfile.ZipFile(str(path), 'w', compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as z:
        for member, data in members.items():
            z.writestr(member, data)
        with z.open(name, 'w', force_zip64=True) as f:
            f.write(npy_header((BOMB_BYTES,), '|u1'))
            chunk = bytes(16 << 20)
            for _ in range(BOMB_BYTES // len(chunk)):
                f.write(chunk)
    return str(path)


def cli(capsys, images, model_file, *args):
    started = time.monotonic()
    parts = [] if '--adm' in args else ['--splits', '1']
    code = score_main([images, '--model', model_file, '--quiet'] + parts
                      + [str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err, time.monotonic() - started


def error_line(err):
    lines = [line for line in err.strip().splitlines() if ': warning: ' not in line]
    assert len(lines) == 1 and lines[0].startswith('inception-score: error: '), err
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Refused from the headers and the zip directory, before the data is read

def _patched_size(path, member, size):
    """The zip directory (local header and central directory) of `member` claiming `size`
    uncompressed bytes."""
    data = bytearray(open(path, 'rb').read())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(member).header_offset
    assert data[local:local + 4] == b'PK\x03\x04'
    data[local + 22:local + 26] = struct.pack('<I', size)
    central = data.find(b'PK\x01\x02')
    while data[central + 46:central + 46 + len(member)] != member.encode():
        central = data.find(b'PK\x01\x02', central + 1)
    data[central + 24:central + 28] = struct.pack('<I', size)
    open(path, 'wb').write(bytes(data))
    return path


HOSTILE = {
    'mu header claims a billion features': (
        lambda t, mu, s: write_zip(t / 'r.npz', {'mu.npy': npy_header((10 ** 9,)) + bytes(64),
                                                 'sigma.npy': npy(s)}),
        "(array 'mu') is truncated or damaged: its header promises a float64 array of shape "
        "(1000000000,) (8000000000 bytes)"),
    'sigma header claims 50000 x 50000': (
        lambda t, mu, s: write_zip(t / 'r.npz', {'mu.npy': npy(mu),
                                                 'sigma.npy': npy_header((50000, 50000))}),
        "(array 'sigma') is truncated or damaged: its header promises a float64 array of shape "
        "(50000, 50000)"),
    'zip directory claims more than the member holds': (
        lambda t, mu, s: _patched_size(write_zip(t / 'r.npz', ttur_members(mu, s)),
                                       'sigma.npy', 3 << 30),
        "its member 'sigma.npy' claims 3221225472 bytes, more than its 33554560 compressed "
        "bytes can hold"),
    'float16 sigma': (
        lambda t, mu, s: write_zip(t / 'r.npz', ttur_members(mu, s.astype(numpy.float16))),
        "'sigma' has dtype float16, expected float32 or float64"),
    'integer sigma': (
        lambda t, mu, s: write_zip(t / 'r.npz', ttur_members(mu, (s * 100).astype(numpy.int64))),
        "'sigma' has dtype int64, expected float32 or float64"),
    'pickled object sigma': (
        lambda t, mu, s: write_zip(t / 'r.npz', ttur_members(
            mu, numpy.array([{'x': 1}] * 4, dtype=object))),
        "(array 'sigma') holds pickled Python objects, which are never loaded"),
    'asymmetric sigma': (
        lambda t, mu, s: write_zip(t / 'r.npz', ttur_members(mu, s + numpy.triu(
            numpy.full(s.shape, 0.01), 1))),
        "'sigma' is not symmetric"),
    'sigma of the wrong shape': (
        lambda t, mu, s: write_zip(t / 'r.npz', ttur_members(mu, s[:100])),
        "'sigma' has shape (100, 2048), expected (2048, 2048) to match 'mu'"),
    'too many members': (
        lambda t, mu, s: write_zip(t / 'r.npz', dict(
            ttur_members(mu[:4], numpy.eye(4)),
            **{'p{}.npy'.format(i): npy(i) for i in range(MAX_MEMBERS)})),
        'its zip directory lists 4098 members (numpy writes one per array; at most 4096 are '
        'read)'),
    'text named .npz': (
        lambda t, mu, s: (t / 'r.npz').write_text('mu,sigma\n') and str(t / 'r.npz'),
        'neither a folder of images, an .npy/.npz of images nor an .npz of FID statistics'),
    'ADM batch with mu_s but no sigma_s': (
        lambda t, mu, s: write_zip(t / 'r.npz', dict(
            ttur_members(mu, s), **{'arr_0.npy': npy(numpy.zeros((4, 8, 8, 3), numpy.uint8)),
                                    'mu_s.npy': npy(numpy.zeros(2023))})),
        "has 'mu_s' but not 'sigma_s': incomplete statistics"),
}


@pytest.mark.parametrize('case', sorted(HOSTILE))
def test_hostile_reference_is_one_line_before_any_work(case, good, images, model_file,
                                                       tmp_path, capsys):
    make, message = HOSTILE[case]
    path = make(tmp_path, *good)
    flag = '--adm' if case.startswith('ADM') else '--fid'
    extra = ['--split-size', '1'] if flag == '--adm' else []
    before = sorted(os.listdir(str(tmp_path)))
    code, out, err, seconds = cli(capsys, images, model_file, flag, path, '--json',
                                  tmp_path / 'r.json', *extra)
    line = error_line(err)
    assert code == 1 and out == ''
    assert line.startswith('inception-score: error: ' + path), line
    assert message in line, line
    assert seconds < 10, seconds  # refused while opening the reference: no model, no scoring
    assert sorted(os.listdir(str(tmp_path))) == before


def test_too_few_reference_images_stay_one_line(good, images, model_file, tmp_path, capsys):
    one = tmp_path / 'one'
    one.mkdir()
    Image.fromarray(numpy.zeros((8, 8, 3), numpy.uint8)).save(str(one / 'a.png'))
    code, _, err, _ = cli(capsys, images, model_file, '--fid', one)
    assert code == 1 and error_line(err).endswith(
        '{}: FID needs at least 2 reference images, got 1'.format(one))
    batch = write_zip(tmp_path / 'b.npz', {'arr_0.npy': npy(numpy.zeros((3, 8, 8, 3),
                                                                        numpy.uint8))})
    code, _, err, _ = cli(capsys, images, model_file, '--adm', batch, '--split-size', '1')
    assert code == 1 and error_line(err).endswith(
        '{}: precision/recall needs at least 4 reference images, got 3'.format(batch))


# ---------------------------------------------------------------------------------------------
# Only what is needed is read

@pytest.mark.slow
def test_unused_members_are_never_read_the_file_is_accepted(good, images, model_file, tmp_path,
                                                            capsys):
    mu, sigma = good
    members = dict(ttur_members(mu, sigma), **{'note.npy': npy('two images'),
                                               'big_note.npy': npy('x' * 5000),
                                               'matrix.npy': npy(numpy.eye(3))})
    for name in ('extra.npy', 'raw_member.bin'):  # an extra key; a member numpy never wrote
        path = with_bomb(tmp_path / (name + '.npz'), members, name)
        assert os.path.getsize(path) < 40 << 20  # sigma and the bomb, compressed
        code, out, err, seconds = cli(capsys, images, model_file, '--fid', path)
        assert code == 0, err
        assert out.splitlines()[1].startswith('FID: ')
        info = statsfile.read_provenance(path)
        assert info['keys'] == sorted(['mu', 'sigma', 'note', 'big_note', 'matrix',
                                       name[:-4] if name.endswith('.npy') else name])
        # Scalars of at most PROVENANCE_BYTES are read; the 20 KB string and arrays are not.
        assert info['note'] == 'two images' and 'big_note' not in info and 'matrix' not in info


def _run_limited(code):
    """`code` in a fresh Python limited to MEMORY_LIMIT of address space: (its stdout lines,
    its peak RSS in MiB from VmHWM)."""
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1')

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    code += '\nprint("peak", int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])' \
            ' // 1024)\n'
    proc = subprocess.run([sys.executable, '-c', code], env=env, preexec_fn=limit, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *lines, last = proc.stdout.strip().splitlines()
    return lines, int(last.split()[1])


@pytest.mark.slow
def test_memory_follows_what_is_needed_not_what_the_file_claims(good, tmp_path):
    mu, sigma = good
    bombed = with_bomb(tmp_path / 'bombed.npz', ttur_members(mu, sigma), 'extra.npy')
    claims = HOSTILE['sigma header claims 50000 x 50000'][0](tmp_path, mu, sigma)
    lines, peak = _run_limited(
        'from inception_score.reference import open_reference\n'
        'from inception_score.errors import InputError\n'
        'ref = open_reference({!r})\n'
        'print("read", ref.statistics[1].shape, sorted(ref.provenance["keys"]))\n'
        'try:\n'
        '    open_reference({!r})\n'
        'except InputError as e:\n'
        '    print("refused", str(e))\n'.format(bombed, claims))
    assert lines[0] == "read (2048, 2048) ['extra', 'mu', 'sigma']"
    assert lines[1].startswith('refused ' + claims) and 'promises a float64 array' in lines[1]
    # numpy and scipy loaded, a 32 MB sigma read and checked: far from the 400 MB bomb or the
    # 20 GB the header claims.
    assert peak < 400, peak


# ---------------------------------------------------------------------------------------------
# The reader itself, on small files (no network)

def test_a_single_npy_is_not_a_statistics_file(tmp_path):
    with open(str(tmp_path / 's.npz'), 'wb') as f:
        numpy.save(f, numpy.zeros(3))
    with pytest.raises(InputError) as e:
        statsfile.load_statistics(str(tmp_path / 's.npz'))
    assert str(e.value) == '{}: a single .npy array, expected an .npz with mu and sigma'.format(
        tmp_path / 's.npz')


def test_float32_big_endian_and_fortran_order_statistics_are_read(tmp_path):
    mu, sigma = statistics(dim=16, n=40)
    path = write_zip(tmp_path / 's.npz', {
        'mu.npy': npy(mu.astype('>f4')), 'sigma.npy': npy(numpy.asfortranarray(sigma))})
    mu2, sigma2 = statsfile.load_statistics(path)
    assert mu2.dtype == sigma2.dtype == numpy.float64
    assert numpy.allclose(mu2, mu, rtol=1e-6) and numpy.array_equal(sigma2, sigma)


def test_more_features_than_read_without_an_expected_size_is_refused_from_the_header(tmp_path):
    d = statsfile.MAX_FEATURES + 1
    path = write_zip(tmp_path / 's.npz', {'mu.npy': npy(numpy.zeros(d)),
                                          'sigma.npy': npy_header((d, d)) + bytes(8 * d * d)},
                     compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(InputError) as e:
        statsfile.load_statistics(path)
    assert str(e.value) == ('{}: statistics of {} features are more than the {} read (pool_3 '
                            'has 2048)'.format(path, d, d - 1))


def test_saved_provenance_is_small_enough_to_be_read_back(tmp_path):
    with pytest.raises(InputError, match="provenance 'note' takes 20000 bytes, more than the "
                                         "4096 read back"):
        statsfile.save_statistics(str(tmp_path / 's.npz'), numpy.zeros(2), numpy.eye(2),
                                  note='x' * 5000)
    long_inputs = statsfile.inputs_provenance(['/some/folder/{:04d}'.format(i)
                                               for i in range(500)])
    assert len(long_inputs) == 1023 and long_inputs.endswith('...')
    statsfile.save_statistics(str(tmp_path / 's.npz'), numpy.zeros(2), numpy.eye(2),
                              inputs=long_inputs)
    assert statsfile.read_provenance(str(tmp_path / 's.npz'))['inputs'] == long_inputs
