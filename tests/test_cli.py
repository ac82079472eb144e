"""The inception-score command line on real files: results, report, and every bad input."""
import hashlib
import json
import os
import subprocess
import sys

import numpy
import pytest
from PIL import Image

import synthetic_graph
from conftest import ROOT
from inception_score import inception_score
from inception_score.cli import score_main
from inception_score.modelfile import arrays_digest, load_arrays


@pytest.fixture(scope='module')
def images():
    """12 structured 32x32 RGB images (uint8, NCHW)."""
    rng = numpy.random.RandomState(11)
    ims = synthetic_graph.smooth_images(rng, 12, 32, 32).round().astype(numpy.uint8)
    return ims.transpose(0, 3, 1, 2).copy()


@pytest.fixture
def png_folder(tmp_path, images):
    folder = tmp_path / 'samples'
    for i, im in enumerate(images):
        sub = folder / ('a' if i < 6 else 'b')
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im.transpose(1, 2, 0)).save(str(sub / '{:03d}.png'.format(i)))
    return folder


def _digest(folder):
    return {p: hashlib.sha256(open(os.path.join(r, p), 'rb').read()).hexdigest()
            for r, _, files in os.walk(str(folder)) for p in files}


def _cli(capsys, *args):
    code = score_main([str(a) for a in args] + ['--quiet'])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_folder_score_equals_api_score_on_the_same_array(network, model_file, png_folder,
                                                         images, tmp_path, capsys):
    before = _digest(png_folder)
    report_path = tmp_path / 'report.json'
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--splits', '3',
                          '--batch-size', '5', '--json', report_path)
    assert code == 0, err
    expected = inception_score(network, images, batch_size=5, splits=3)
    assert out == 'Inception Score: {:.4f} \u00b1 {:.4f} (N=12, splits=3)\n'.format(*expected)
    report = json.loads(report_path.read_text())
    assert numpy.allclose([report['inception_score']['mean'], report['inception_score']['std']],
                          expected, rtol=1e-9)
    assert len(report['split_scores']) == 3
    assert numpy.isclose(numpy.mean(report['split_scores']), expected[0], rtol=1e-12)
    assert report['n'] == 12 and report['batch_size'] == 5 and report['resize'] == 'tf1'
    # The weights' identity (the same for every conversion of them), not the file's bytes.
    assert report['model_sha256'] == arrays_digest(load_arrays(model_file))
    assert len(report['source_graph_sha256']) == 64
    assert report['device'] == 'cpu' and report['versions']['numpy'] == numpy.__version__
    assert report['math'] == 'fp32 (numpy)'
    assert report['shuffle'] is False and report['seed'] is None
    assert sorted(os.listdir(str(tmp_path))) == ['report.json', 'samples']
    assert _digest(png_folder) == before  # user files are never modified


@pytest.mark.slow
def test_npz_shuffle_and_samples(network, model_file, images, tmp_path, capsys):
    path = tmp_path / 'dump.npz'
    numpy.savez(str(path), images.transpose(0, 2, 3, 1))  # NHWC, key arr_0, as sample dumps
    code, out, err = _cli(capsys, path, '--model', model_file, '--splits', '2', '--shuffle',
                          '--seed', '3', '--samples', '10', '--batch-size', '1')
    assert code == 0, err
    # 10 of all 12 drawn by RandomState(3).permutation(12)[:10], scored in that order.
    drawn = numpy.random.RandomState(3).permutation(12)[:10]
    expected = inception_score(network, images[drawn], splits=2, batch_size=1)
    assert out.startswith('Inception Score: {:.4f} \u00b1 {:.4f} (N=10, splits=2)'.format(
        *expected))
    first_ten = inception_score(network, images[:10], splits=2, shuffle=True, seed=3)
    assert not numpy.allclose(expected, first_ten)


def test_mixed_formats_sizes_and_channels_in_one_folder(model_file, tmp_path, capsys):
    rng = numpy.random.RandomState(4)
    folder = tmp_path / 'mixed'
    folder.mkdir()
    Image.fromarray(rng.randint(0, 256, (20, 30, 3)).astype(numpy.uint8)).save(
        str(folder / 'a.jpg'), quality=90)
    Image.fromarray(rng.randint(0, 256, (40, 40)).astype(numpy.uint8)).save(str(folder / 'b.png'))
    Image.fromarray(rng.randint(0, 256, (33, 17, 4)).astype(numpy.uint8)).save(
        str(folder / 'c.webp'))
    Image.fromarray(rng.randint(0, 256, (64, 48, 3)).astype(numpy.uint8)).save(
        str(folder / 'd.bmp'))
    report = tmp_path / 'r.json'
    code, out, err = _cli(capsys, folder, '--model', model_file, '--splits', '2',
                          '--json', report, '--resize', 'pil')
    assert code == 0, err
    assert '(N=4, splits=2)' in out
    assert json.loads(report.read_text())['resize'] == 'pil'


@pytest.mark.slow
def test_skip_bad_counts_bad_files_in_the_report(model_file, png_folder, tmp_path, capsys):
    (png_folder / 'a' / '000.png').write_bytes(b'')  # zero bytes
    data = (png_folder / 'b' / '007.png').read_bytes()
    (png_folder / 'b' / '007.png').write_bytes(data[:len(data) // 2])  # truncated
    report = tmp_path / 'r.json'
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--splits', '2',
                          '--skip-bad', '--json', report)
    assert code == 0, err
    assert '(N=10, splits=2)' in out
    r = json.loads(report.read_text())
    assert r['skipped_count'] == 2
    assert [os.path.basename(p) for p in r['skipped_files']] == ['000.png', '007.png']


def _bad_npz(tmp_path, array, name='bad.npz'):
    path = tmp_path / name
    numpy.savez(str(path), array)
    return path


def _model_variant(tmp_path, model_file, kind):
    path = tmp_path / 'broken.model'
    if kind == 'truncated':
        path.write_bytes(open(model_file, 'rb').read()[:1 << 20])
    elif kind == 'text':
        path.write_text('hello')
    else:  # an HDF5 file of another network
        import h5py
        with h5py.File(str(path), 'w') as f:
            f['W'] = numpy.zeros((2, 3), numpy.float32)
    return path


BAD = [
    # (how to build the arguments, exit code, message)
    (lambda t, f, m: [t / 'nowhere'], 2, 'does not exist'),
    (lambda t, f, m: [(t / 'empty').mkdir() or t / 'empty'], 1, 'holds no images'),
    (lambda t, f, m: [(t / 'txt').mkdir() or (t / 'txt' / 'a.txt').write_text('x') and
                      t / 'txt'], 1, 'holds no images'),
    (lambda t, f, m: [(f / 'a' / '001.png').write_bytes(b'\x89PNG garbage') and f], 1,
     '001.png is not a readable image'),
    (lambda t, f, m: [(f / 'b' / '008.png').write_bytes(b'') == 0 and f], 1,
     '008.png is not a readable image'),
    (lambda t, f, m: [_bad_npz(t, numpy.array([{'x': 1}], dtype=object))], 1,
     'pickled Python objects'),
    (lambda t, f, m: [_bad_npz(t, numpy.zeros((12, 8, 8, 3), numpy.int32))], 1, 'dtype int32'),
    (lambda t, f, m: [_bad_npz(t, numpy.zeros((12, 8, 8), numpy.uint8))], 1, 'must be 4-D'),
    (lambda t, f, m: [_bad_npz(t, numpy.zeros((12, 8, 8, 4), numpy.uint8))], 1,
     'neither (N, C, H, W) nor (N, H, W, C)'),
    (lambda t, f, m: [_bad_npz(t, numpy.full((12, 8, 8, 3), numpy.inf, numpy.float32))], 1,
     'NaN or Inf'),
    (lambda t, f, m: [_bad_npz(t, numpy.full((12, 8, 8, 3), 2.0, numpy.float32)),
                      '--input-range=-1,1'], 1, 'outside --input-range=-1,1'),
    (lambda t, f, m: [_bad_npz(t, numpy.full((12, 8, 8, 3), 0.5, numpy.float32))], 1,
     'pass --input-range=0,1'),
    (lambda t, f, m: [f, '--splits', '13'], 2, '12 images cannot be cut into 13 splits'),
    (lambda t, f, m: [f, '--samples', '13'], 2, '--samples 13 but only 12 images'),
    (lambda t, f, m: [f, '--json', t / 'no' / 'dir' / 'r.json'], 2, 'cannot write'),
    (lambda t, f, m: [f, '--model', _model_variant(t, m, 'truncated')], 1, 'probably truncated'),
    (lambda t, f, m: [f, '--model', _model_variant(t, m, 'text')], 1, 'not an HDF5 model file'),
    (lambda t, f, m: [f, '--model', _model_variant(t, m, 'other')], 1,
     'does not hold the Inception network'),
]


@pytest.mark.slow
@pytest.mark.parametrize('make,code,message', BAD, ids=[b[2][:40] for b in BAD])
def test_bad_input_is_one_line_with_the_right_exit_code_and_no_report(
        model_file, png_folder, tmp_path, capsys, make, code, message):
    args = make(tmp_path, png_folder, model_file)
    if '--model' not in args:
        args += ['--model', model_file]
    if '--json' not in args:
        args += ['--json', tmp_path / 'report.json']
    got, out, err = _cli(capsys, *args)
    assert got == code
    assert message in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('inception-score: error: '), err
    assert 'Traceback' not in err and out == ''
    assert not (tmp_path / 'report.json').exists()
    assert not [p for p in os.listdir(str(tmp_path)) if p.endswith('.part')]


def test_unwritable_json_location(model_file, png_folder, tmp_path, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(str(locked), os.W_OK):  # root ignores permissions: use a directory path
            target, reason = tmp_path, 'it is a directory'
        else:
            target, reason = locked / 'r.json', 'is not writable'
        got, _, err = _cli(capsys, png_folder, '--model', model_file, '--json', target)
    finally:
        locked.chmod(0o700)
    assert got == 2 and 'cannot write' in err and reason in err


def test_module_entry_point_and_debug_traceback(model_file, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'inception_score', str(tmp_path / 'x'),
                           '--model', model_file], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        'inception-score: error: {} does not exist'.format(tmp_path / 'x')
    proc = subprocess.run([sys.executable, '-m', 'inception_score', str(tmp_path / 'x'),
                           '--debug'], capture_output=True, text=True)
    assert proc.returncode != 0 and 'Traceback' in proc.stderr


def _other_environment_python():
    """The interpreter of CI's other environment (with Chainer <-> without), if there is one."""
    here = os.path.realpath(sys.executable)
    for venv in ('.venv', '.venv-core'):
        python = os.path.join(ROOT, venv, 'bin', 'python')
        if os.path.exists(python) and os.path.realpath(python) != here:
            return python
    if os.environ.get('CI'):
        pytest.fail('CI needs both environments (.venv and .venv-core) for this comparison')
    pytest.skip('the other environment (.venv or .venv-core) is not installed')


@pytest.mark.slow
@pytest.mark.once
def test_cli_score_is_the_same_with_and_without_chainer(model_file, png_folder, tmp_path):
    other = _other_environment_python()
    reports = []
    for python in (sys.executable, other):
        out = tmp_path / 'r{}.json'.format(len(reports))
        proc = subprocess.run([python, '-m', 'inception_score', str(png_folder), '--model',
                               model_file, '--splits', '3', '--quiet', '--json', str(out)],
                              capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads(out.read_text()))
    a, b = reports
    assert {a['versions']['chainer'] is None, b['versions']['chainer'] is None} == {True, False}
    assert a['versions']['numpy'] != b['versions']['numpy']
    assert abs(a['inception_score']['mean'] - b['inception_score']['mean']) <= \
        1e-6 * a['inception_score']['mean']
    assert numpy.allclose(a['split_scores'], b['split_scores'], rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------------
# FID, statistics files, split size, what the classifier saw, the plot

@pytest.fixture(scope='module')
def reference_folder(tmp_path_factory):
    """10 other images (48x40 PNGs) as a reference set; returns (folder, NCHW uint8)."""
    rng = numpy.random.RandomState(12)
    ims = synthetic_graph.smooth_images(rng, 10, 48, 40).round().astype(numpy.uint8)
    folder = tmp_path_factory.mktemp('reference') / 'real'
    folder.mkdir()
    for i, im in enumerate(ims):
        Image.fromarray(im).save(str(folder / '{:02d}.png'.format(i)))
    return folder, ims.transpose(0, 3, 1, 2).copy()


def _ttur_statistics(features):
    """TTUR's numbers, straight from the features: numpy's mean and cov in float64."""
    features = numpy.asarray(features, numpy.float64)
    return features.mean(axis=0), numpy.cov(features, rowvar=False)


@pytest.mark.slow
def test_fid_against_a_folder_and_its_saved_statistics(network, model_file, png_folder,
                                                       images, reference_folder, class_names,
                                                       tmp_path, capsys):
    from inception_score.fid import FIDAccumulator, frechet_distance, load_statistics, \
        read_provenance
    ref_folder, ref_images = reference_folder
    stats, plot, report_path = (tmp_path / 'samples_stats.npz', tmp_path / 'summary.png',
                                tmp_path / 'report.json')
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--splits', '3',
                          '--fid', ref_folder, '--save-stats', stats, '--plot', plot,
                          '--json', report_path)
    assert code == 0, err
    features = network.features(images)
    expected = frechet_distance(*_ttur_statistics(features),
                                *_ttur_statistics(network.features(ref_images)))
    report = json.loads(report_path.read_text())
    assert report['fid'] == pytest.approx(expected, rel=1e-6)
    is_line, fid_line = out.splitlines()
    assert is_line.endswith('(N=12, splits=3)') and fid_line == 'FID: {:.4f}'.format(
        report['fid'])
    assert report['reference'] == {'path': str(ref_folder), 'sha256': None,
                                   'format': 'image-folder', 'images': 10,
                                   'fid_statistics': 'images'}
    assert report['split_rule'] == 'splits=3' and report['mode'] == 'default'
    assert (report['statistics_file'], report['plot']) == (str(stats), str(plot))

    # --save-stats: the statistics of the scored images, as an accumulator fed directly.
    mu, sigma = load_statistics(str(stats), dim=2048)
    direct_mu, direct_sigma = FIDAccumulator().update(features).statistics()
    scale = numpy.abs(direct_sigma).max()
    assert numpy.abs(mu - direct_mu).max() <= 1e-6 * numpy.abs(direct_mu).max()
    assert numpy.abs(sigma - direct_sigma).max() <= 1e-6 * scale
    info = read_provenance(str(stats))
    assert info['format'] == 'ttur-statistics' and info['n'] == 12
    assert info['features'] == 'pool_3' and json.loads(info['inputs']) == [str(png_folder)]
    assert info['model_sha256'] == arrays_digest(load_arrays(model_file))

    # What the classifier saw: argmax counts of the network's own logits, with the names
    # the archive's label files give.
    logits = network.logits(images).astype(numpy.float64)
    # The command line ran other batches (other GEMM shapes, other rounding): the argmax is
    # comparable only because no image's two top logits are within rounding of each other.
    top_two = numpy.sort(logits, axis=1)[:, -2:]
    assert (top_two[:, 1] - top_two[:, 0]).min() > 1e-4 * numpy.abs(logits).max()
    counts = numpy.bincount(logits.argmax(axis=1), minlength=1008)
    summary = report['predictions']
    assert summary['predictions'] == 12
    assert summary['distinct_classes'] == int((counts > 0).sum())
    top = summary['top_classes']
    assert [t['count'] for t in top] == sorted(counts[counts > 0], reverse=True)[:10]
    for entry in top:
        assert counts[entry['index']] == entry['count']
        assert entry['name'] == class_names[entry['index']]
    assert report['class_names'] == 'model file'
    p = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    marginal = (p / p.sum(axis=1, keepdims=True)).mean(axis=0)
    assert summary['marginal_entropy_nats'] == pytest.approx(
        -(marginal * numpy.log(marginal)).sum(), rel=1e-9)
    with Image.open(str(plot)) as picture:
        assert picture.format == 'PNG' and picture.size == (1200, 500)

    # The reference's statistics saved once, then used as a TTUR statistics file.
    ref_stats = tmp_path / 'real_stats.npz'
    code, _, err = _cli(capsys, ref_folder, '--model', model_file, '--splits', '2',
                        '--save-stats', ref_stats)
    assert code == 0, err
    again = tmp_path / 'again.json'
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--splits', '3',
                          '--fid', ref_stats, '--json', again)
    assert code == 0, err
    second = json.loads(again.read_text())
    assert second['fid'] == pytest.approx(report['fid'], rel=1e-9)
    assert second['reference']['fid_statistics'] == 'file'
    assert second['reference']['format'] == 'ttur-statistics'
    assert second['reference']['n'] == 10
    assert second['reference']['sha256'] == hashlib.sha256(ref_stats.read_bytes()).hexdigest()


@pytest.mark.slow
def test_split_size_cuts_adms_parts(network, model_file, png_folder, images, tmp_path, capsys):
    from inception_score import inception_score_from_logits
    report_path = tmp_path / 'r.json'
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--split-size', '5',
                          '--json', report_path)
    assert code == 0, err
    mean, std = inception_score_from_logits(network.logits(images), split_size=5)
    report = json.loads(report_path.read_text())
    assert out == 'Inception Score: {:.4f} \u00b1 {:.4f} (N=12, split_size=5)\n'.format(
        report['inception_score']['mean'], report['inception_score']['std'])
    assert report['inception_score']['mean'] == pytest.approx(mean, rel=1e-9)
    assert report['split_rule'] == 'split_size=5' and report['splits'] == 3  # 5, 5, 2
    assert 'fid' not in report and 'reference' not in report


@pytest.mark.slow
def test_model_file_without_class_names_scores_with_placeholders(model_file, png_folder,
                                                                 tmp_path, capsys):
    import shutil
    import h5py
    old = tmp_path / 'old.model'  # as converted before names were stored, or from a bare .pb
    shutil.copy(model_file, str(old))
    with h5py.File(str(old), 'a') as f:
        del f['meta/class_names']
    report_path = tmp_path / 'r.json'
    code, _, err = _cli(capsys, png_folder, '--model', old, '--splits', '2', '--json',
                        report_path)
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert report['class_names'] == 'placeholders'
    for entry in report['predictions']['top_classes']:
        assert entry['name'] == 'class {}'.format(entry['index'])


def _stats_file(tmp_path, dim=2048, **changes):
    rng = numpy.random.RandomState(0)
    x = rng.normal(size=(40, dim))
    arrays = {'mu': x.mean(0), 'sigma': numpy.cov(x, rowvar=False)}
    arrays.update(changes)
    path = tmp_path / 'stats.npz'
    numpy.savez(str(path), **{k: v for k, v in arrays.items() if v is not None})
    return path


def _nan_sigma(tmp_path):
    sigma = numpy.eye(2048)
    sigma[5, 5] = numpy.nan
    return _stats_file(tmp_path, sigma=sigma)


BAD_REFERENCES = [
    # (flags, exit code, message)
    (lambda t: ['--fid', t / 'absent.npz'], 2, 'reference {} does not exist'),
    (lambda t: ['--fid', (t / 'r.txt').write_text('x') and t / 'r.txt'], 1,
     'neither a folder of images, an .npy/.npz of images nor an .npz of FID statistics'),
    (lambda t: ['--fid', _stats_file(t, dim=3)], 1, 'statistics are of 3 features, expected 2048'),
    (lambda t: ['--fid', _nan_sigma(t)], 1, "'sigma' contains NaN or Inf"),
    (lambda t: ['--fid', _stats_file(t, mu=numpy.array([{}], dtype=object))], 1,
     "(array 'mu') holds pickled Python objects, which are never loaded"),
    (lambda t: ['--fid', _stats_file(t, sigma=None)], 1, "has 'mu' but not 'sigma'"),
    (lambda t: ['--adm', _stats_file(t)], 1,
     'sFID needs the reference images (or their statistics), which it does not hold'),
    (lambda t: ['--adm', _bad_npz(t, numpy.zeros((3, 8, 8, 3), numpy.uint8))], 1,
     'precision/recall needs at least 4 reference images, got 3'),
    (lambda t: ['--adm', _bad_npz(t, numpy.zeros((9, 8, 8, 3), numpy.uint8)), '--splits', '2'],
     2, '--adm cuts the predictions as ADM does, into parts of 5000: give --split-size N'),
]


@pytest.mark.parametrize('make,code,message', BAD_REFERENCES,
                         ids=[b[2][:40] for b in BAD_REFERENCES])
def test_bad_reference_is_one_line_and_nothing_is_written(model_file, png_folder, tmp_path,
                                                          capsys, make, code, message):
    args = make(tmp_path)
    outputs = {'--json': tmp_path / 'r.json', '--save-stats': tmp_path / 's.npz',
               '--plot': tmp_path / 'p.png'}
    before = sorted(os.listdir(str(tmp_path)))
    got, out, err = _cli(capsys, png_folder, '--model', model_file, *args,
                         *[a for flag, path in outputs.items() for a in (flag, path)])
    assert got == code
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('inception-score: error: '), err
    assert message.format(tmp_path / 'absent.npz') in lines[0] and out == ''
    assert sorted(os.listdir(str(tmp_path))) == before  # no output, no .part file


@pytest.mark.parametrize('flags,message', [
    (['--splits', '3', '--split-size', '5'], 'argument --split-size: not allowed with '
                                             'argument --splits'),
    (['--fid', 'a.npz', '--adm', 'b.npz'], 'argument --adm: not allowed with argument --fid'),
])
def test_exclusive_flags_are_one_usage_line(png_folder, capsys, flags, message):
    with pytest.raises(SystemExit) as e:
        score_main([str(png_folder)] + flags)
    assert e.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        'inception-score: error: {} (see inception-score --help)'.format(message)]


def test_outputs_clash_with_inputs_before_any_work(model_file, png_folder, reference_folder,
                                                   tmp_path, capsys):
    ref_folder, _ = reference_folder
    code, _, err = _cli(capsys, png_folder, '--model', model_file, '--fid', ref_folder,
                        '--save-stats', ref_folder / 'stats.npz')
    assert code == 2 and 'is inside the reference folder' in err
    code, _, err = _cli(capsys, png_folder, '--model', model_file, '--plot',
                        tmp_path / 'x.json', '--json', tmp_path / 'x.json')
    assert code == 2 and 'are the same file' in err
    assert not (ref_folder / 'stats.npz').exists() and os.listdir(str(tmp_path)) == ['samples']


def test_plot_without_matplotlib_is_one_line_before_any_work(model_file, png_folder, tmp_path,
                                                             capsys, monkeypatch):
    for name in [m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'matplotlib', None)  # import matplotlib -> ImportError
    code, out, err = _cli(capsys, png_folder, '--model', model_file, '--plot',
                          tmp_path / 'p.png', '--json', tmp_path / 'r.json')
    assert code == 1 and out == ''
    assert err.strip() == ('inception-score: error: plotting needs matplotlib: pip install '
                           'matplotlib')
    assert os.listdir(str(tmp_path)) == ['samples']


def _score_process(*args, **kwargs):
    return subprocess.run([sys.executable, '-m', 'inception_score'] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=ROOT, **kwargs)


@pytest.mark.parametrize('seed', ['-1', str(2 ** 40), 'x'])
def test_bad_seed_is_one_usage_line(model_file, png_folder, seed):
    proc = _score_process(png_folder, '--model', model_file, '--shuffle', '--seed=' + seed)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "inception-score: error: argument --seed: must be an integer from 0 to 4294967295, "
        "got '{}' (see inception-score --help)".format(seed)]


@pytest.mark.slow
def test_closed_stdout_still_writes_the_report_without_a_traceback(model_file, png_folder,
                                                                   tmp_path):
    report = tmp_path / 'r.json'
    proc = subprocess.Popen([sys.executable, '-m', 'inception_score', str(png_folder), '--model',
                             model_file, '--splits', '2', '--quiet', '--json', str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # as `| head -0` would
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert err == ('inception-score: warning: 12 images in 2 splits: a part of 6 images scores '
                   'at most 6, so the Inception Score says little about the images: score '
                   'more images (the reference scores 50,000 in 10 splits of 5,000) or give '
                   'fewer --splits\n')
    assert json.loads(report.read_text())['n'] == 12


@pytest.mark.slow
def test_full_disk_for_the_report_is_one_line_and_leaves_nothing(model_file, png_folder,
                                                                tmp_path):
    import fetch_tool
    with fetch_tool.tiny_disk(str(tmp_path / 'tiny'), 64 * 1024) as disk:
        fetch_tool.fill_disk(disk)
        target = os.path.join(disk, 'r.json')
        proc = _score_process(png_folder, '--model', model_file, '--splits', '2', '--quiet',
                              '--json', target)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines()[-1:] == [
            'inception-score: error: cannot write {}: no space left on device; free some space '
            'or write elsewhere'.format(target)]
        assert all(line.startswith('inception-score: warning: ')
                   for line in proc.stderr.strip().splitlines()[:-1])
        assert os.listdir(disk) == ['filler']


@pytest.mark.parametrize('target', ['input_npy', 'input_png', 'model', 'model_link'])
def test_json_onto_an_input_or_the_model_is_refused_and_nothing_changes(
        target, model_file, png_folder, images, tmp_path):
    npy = tmp_path / 'in.npy'
    numpy.save(str(npy), images.transpose(0, 2, 3, 1))
    link = tmp_path / 'model.link'
    link.symlink_to(model_file)
    out = {'input_npy': npy, 'input_png': png_folder / 'a' / '000.png', 'model': model_file,
           'model_link': link}[target]
    before = _digest(tmp_path), hashlib.sha256(open(model_file, 'rb').read()).hexdigest()
    proc = _score_process(npy, png_folder, '--model', model_file, '--json', out, '--quiet')
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('inception-score: error: ') and \
        '--json' in lines[0], lines
    assert (_digest(tmp_path), hashlib.sha256(open(model_file, 'rb').read()).hexdigest()) == \
        before
