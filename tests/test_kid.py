"""KID against torch-fidelity 0.4's own kid_features_to_metric and a float64 transcription of
it; the command line's --kid, --kid-subsets, --kid-subset-size and --save-features on real
files; the Trainer extension's kid_reference."""
import hashlib
import importlib.util
import json
import os
import sys
import types

import numpy as np
import pytest
from PIL import Image

import synthetic_graph
from conftest import oracle_missing
from inception_score import evaluate_images
from inception_score.cli import score_main
from inception_score.errors import InputError, UsageError
from inception_score.kid import SEED, draw_subsets, kid, kid_subsets
from inception_score.reference import as_reference, open_reference

FEATURE_METHODS = ('all_pairs', 'per_subset')


@pytest.fixture(scope='module')
def torch_fidelity_kid():
    """torch-fidelity 0.4's metric_kid.py, unmodified, from the installed package.

    The package's __init__ imports every feature extractor, and they import torchvision,
    which does not install beside the CPU build of torch that scripts/install-venv.sh puts in
    .venv. So the package is entered without running its __init__ (its own helpers.py,
    defaults.py and deprecations.py load as they are), and metric_kid.py's one import of
    torch_fidelity.utils (the feature-extraction helpers of calculate_kid, which import
    torchvision) gets a module whose four names raise if called: kid_features_to_metric,
    kernel_mmd, kernel_poly and mmd2, the code compared here, never call them.
    """
    spec = importlib.util.find_spec('torch_fidelity')
    if spec is None or importlib.util.find_spec('torch') is None:
        oracle_missing('torch-fidelity 0.4.0 on torch', 'the KID oracle')
    from importlib import metadata
    assert metadata.version('torch-fidelity') == '0.4.0'
    folder = os.path.dirname(spec.origin)
    names = ('torch_fidelity', 'torch_fidelity.utils', 'torch_fidelity.metric_kid',
             'torch_fidelity.helpers', 'torch_fidelity.defaults', 'torch_fidelity.deprecations')
    saved = {name: sys.modules.pop(name, None) for name in names}
    try:
        package = types.ModuleType('torch_fidelity')
        package.__path__ = [folder]
        sys.modules['torch_fidelity'] = package
        utils = types.ModuleType('torch_fidelity.utils')

        def not_used(*args, **kwargs):
            raise AssertionError('feature extraction is not part of this comparison')

        for name in ('create_feature_extractor', 'extract_featuresdict_from_input_id_cached',
                     'resolve_feature_extractor', 'resolve_feature_layer_for_metric'):
            setattr(utils, name, not_used)
        sys.modules['torch_fidelity.utils'] = utils
        kid_spec = importlib.util.spec_from_file_location(
            'torch_fidelity.metric_kid', os.path.join(folder, 'metric_kid.py'))
        module = importlib.util.module_from_spec(kid_spec)
        kid_spec.loader.exec_module(module)
        defaults = sys.modules['torch_fidelity.defaults'].DEFAULTS
    finally:
        for name in names:
            sys.modules.pop(name, None)
            if saved[name] is not None:
                sys.modules[name] = saved[name]
    return module, defaults


def run_torch_fidelity(torch_fidelity_kid, samples, reference, **kwargs):
    """torch-fidelity's numbers on float64 tensors (its kernels then run in float64 too)."""
    import torch
    module, _ = torch_fidelity_kid
    out = module.kid_features_to_metric(torch.from_numpy(np.asarray(samples, np.float64)),
                                        torch.from_numpy(np.asarray(reference, np.float64)),
                                        verbose=False, **kwargs)
    return out['kernel_inception_distance_mean'], out['kernel_inception_distance_std']


def pool3_like(rng, n, dim, shift):
    """Non-negative, correlated features (pool_3 is a mean of ReLUs)."""
    mixing = rng.normal(0, 1.0 / np.sqrt(dim), (dim, dim))
    return np.abs(rng.normal(shift, 1, (n, dim)) @ mixing).astype(np.float32)


def assert_same_kid(ours, theirs, rel=1e-6):
    # Both sides sum the same float64 kernel values (dot products of the same float32 rows)
    # in different orders: the sums of m^2 terms agree to ~1e-14 of themselves, and the MMD,
    # their difference, is here at least 1e-3 of them: ~1e-11 relative. 1e-6 leaves room for
    # any BLAS (measured: ~2e-13).
    assert abs(ours[0] - theirs[0]) <= rel * abs(theirs[0])
    assert abs(ours[1] - theirs[1]) <= rel * abs(theirs[1])


@pytest.mark.parametrize('method', FEATURE_METHODS)
def test_kid_equals_torch_fidelitys_own_function_on_the_same_features(torch_fidelity_kid,
                                                                      method):
    rng = np.random.RandomState(0)
    samples = pool3_like(rng, 300, 2048, 0.0)
    reference = pool3_like(rng, 250, 2048, 0.1)
    theirs = run_torch_fidelity(torch_fidelity_kid, samples, reference, kid_subsets=20,
                                kid_subset_size=100)
    ours = kid(samples, reference, subsets=20, subset_size=100, method=method)
    assert theirs[0] > 1e-3 and theirs[1] > 0  # different sets, subsets that differ
    assert_same_kid(ours, theirs)
    # torch-fidelity's order: input 1 (the samples) first in each draw. Swapped, the numbers
    # are those of other subsets.
    swapped = kid(reference, samples, subsets=20, subset_size=100, method=method)
    assert abs(swapped[0] - theirs[0]) > 1e-3 * theirs[0]


def test_defaults_are_torch_fidelitys(torch_fidelity_kid):
    _, defaults = torch_fidelity_kid
    import inception_score.kid as k
    assert (defaults['kid_subsets'], defaults['kid_subset_size']) == (k.SUBSETS, k.SUBSET_SIZE)
    assert defaults['kid_kernel'] == 'poly'
    assert (defaults['kid_kernel_poly_degree'], defaults['kid_kernel_poly_coef0']) == \
        (k.DEGREE, k.COEF0)
    assert defaults['kid_kernel_poly_gamma'] is None  # 1 / dim: 1/2048 for pool_3
    assert defaults['rng_seed'] == k.SEED == 2020


def transcribed_kid(samples, reference, subsets=100, subset_size=1000, seed=2020):
    """torch-fidelity 0.4's kid_features_to_metric, kernel_poly and mmd2 (unbiased) at their
    defaults, in float64 with numpy alone (so it also runs where torch is not installed).
    Each subset's kernel blocks are taken from the kernel of all rows (the same float64 dot
    products; computing them again for each of 100 subsets of 1000 takes a minute here)."""
    x = np.asarray(samples, np.float64)
    y = np.asarray(reference, np.float64)
    gamma = 1.0 / x.shape[1]
    k_xx = (x @ x.T * gamma + 1) ** 3
    k_yy = (y @ y.T * gamma + 1) ** 3
    k_xy = (x @ y.T * gamma + 1) ** 3
    rng = np.random.RandomState(seed)
    m = subset_size
    mmds = np.zeros(subsets)
    for i in range(subsets):
        f1 = rng.choice(len(x), m, replace=False)
        f2 = rng.choice(len(y), m, replace=False)
        K_XX, K_YY, K_XY = k_xx[np.ix_(f1, f1)], k_yy[np.ix_(f2, f2)], k_xy[np.ix_(f1, f2)]
        diag_X, diag_Y = np.diagonal(K_XX), np.diagonal(K_YY)
        Kt_XX_sum = (K_XX.sum(axis=1) - diag_X).sum()
        Kt_YY_sum = (K_YY.sum(axis=1) - diag_Y).sum()
        K_XY_sum = K_XY.sum(axis=0).sum()
        mmd2 = (Kt_XX_sum + Kt_YY_sum) / (m * (m - 1))
        mmd2 -= 2 * K_XY_sum / (m * m)
        mmds[i] = mmd2
    return float(np.mean(mmds)), float(np.std(mmds))


@pytest.mark.slow
@pytest.mark.once
def test_defaults_equal_a_float64_transcription_100_subsets_of_1000():
    rng = np.random.RandomState(1)
    samples = pool3_like(rng, 1100, 2048, 0.0)
    reference = pool3_like(rng, 1200, 2048, 0.05)
    theirs = transcribed_kid(samples, reference)
    assert theirs[0] > 1e-4 and theirs[1] > 0
    assert_same_kid(kid(samples, reference), theirs)


def test_subsets_are_drawn_as_torch_fidelity_draws_them():
    rng = np.random.RandomState(SEED)
    for rows_1, rows_2 in draw_subsets(30, 40, subsets=3, subset_size=7):
        assert np.array_equal(rows_1, rng.choice(30, 7, replace=False))
        assert np.array_equal(rows_2, rng.choice(40, 7, replace=False))


def test_both_ways_give_the_same_subsets_and_auto_picks_the_cheaper(monkeypatch):
    rng = np.random.RandomState(2)
    samples, reference = pool3_like(rng, 60, 64, 0.0), pool3_like(rng, 50, 64, 0.2)
    a = kid_subsets(samples, reference, subsets=7, subset_size=20, method='all_pairs')
    b = kid_subsets(samples, reference, subsets=7, subset_size=20, method='per_subset')
    assert a.shape == (7,) and np.allclose(a, b, rtol=1e-9, atol=0)
    # Multiply-adds per feature: all pairs (60^2 + 50^2) / 2 + 60 * 50 = 6050 whatever the
    # subsets; per subset 2 * 20^2 = 800 for each.
    for subsets, method in ((2, 'per_subset'), (20, 'all_pairs')):
        assert np.array_equal(kid_subsets(samples, reference, subsets, 20),
                              kid_subsets(samples, reference, subsets, 20, method=method))
    # All pairs only while the 0/1 indicators (subsets x (60 + 50) float64) fit the cap.
    import inception_score.kid as kid_module
    monkeypatch.setattr(kid_module, 'INDICATOR_BYTES', 20 * 110 * 8 - 1)
    assert np.array_equal(kid_subsets(samples, reference, 20, 20),
                          kid_subsets(samples, reference, 20, 20, method='per_subset'))
    with pytest.raises(InputError, match="KID method must be 'auto', 'all_pairs' or "):
        kid(samples, reference, 2, 20, method='exact')


BAD_CALLS = [
    (dict(subset_size=1000), UsageError,
     '60 images are too few for KID subsets of 1000: pass kid_subset_size=60 or less'),
    (dict(subset_size=55), UsageError,
     '50 reference feature vectors are too few for KID subsets of 55: pass kid_subset_size=50 '
     'or less'),
    (dict(subset_size=1), UsageError, 'KID subset_size must be an integer >= 2, got 1 '
                                      '(kid_subset_size)'),
    (dict(subsets=0), UsageError, 'KID subsets must be an integer >= 1, got 0 (kid_subsets)'),
    (dict(reference=np.ones((50, 63))), InputError,
     'the sample and reference features differ in size: 64 and 63'),
    (dict(reference=np.full((50, 64), np.nan)), InputError,
     'the reference features contain NaN or Inf'),
]


@pytest.mark.parametrize('kwargs,error,message', BAD_CALLS, ids=[b[2][:30] for b in BAD_CALLS])
def test_bad_calls_are_one_line_errors(kwargs, error, message):
    rng = np.random.RandomState(3)
    args = dict(features=pool3_like(rng, 60, 64, 0.0), reference=pool3_like(rng, 50, 64, 0.0),
                subsets=3, subset_size=10)
    args.update(kwargs)
    with pytest.raises(error) as e:
        kid(**args)
    assert message in str(e.value) and '\n' not in str(e.value)


# ---------------------------------------------------------------------------------------------
# The command line and the API on real files, with the synthetic graph's network.

@pytest.fixture(scope='module')
def sets(tmp_path_factory, network):
    """8 sample and 6 reference 32x32 PNGs, with their uint8 NCHW arrays and the network's
    pool_3 features of each set (one batch each, as a run with --batch-size 100 has them)."""
    d = tmp_path_factory.mktemp('kid_sets')
    rng = np.random.RandomState(21)
    out = {}
    for name, n in (('samples', 8), ('real', 6)):
        ims = synthetic_graph.smooth_images(rng, n, 32, 32).round().astype(np.uint8)
        (d / name).mkdir()
        for i, im in enumerate(ims):
            Image.fromarray(im).save(str(d / name / '{:02d}.png'.format(i)))
        ims = np.ascontiguousarray(ims.transpose(0, 3, 1, 2))
        out[name] = (d / name, ims, network.features(ims))
    return out


def _cli(capsys, *args):
    code = score_main([str(a) for a in args] + ['--quiet'])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_cli_kid_against_a_folder_and_against_saved_features(model_file, sets, tmp_path,
                                                             capsys):
    samples, _, sample_features = sets['samples']
    real, _, real_features = sets['real']
    report_path, stats = tmp_path / 'report.json', tmp_path / 'samples_stats.npz'
    code, out, err = _cli(capsys, samples, '--model', model_file, '--splits', '2',
                          '--kid', real, '--kid-subsets', '10',
                          '--kid-subset-size', '5', '--json', report_path,
                          '--save-stats', stats, '--save-features')
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert (report['kid']['subsets'], report['kid']['subset_size']) == (10, 5)
    # The same features as the run's (one batch each), the same float64 kernels.
    expected = transcribed_kid(sample_features, real_features, 10, 5)
    assert_same_kid((report['kid']['mean'], report['kid']['std']), expected)
    assert 'fid' not in report and report['reference']['pool_3_features'] == 'images'
    assert report['statistics_features'] is True
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith('(N=8, splits=2)')
    assert lines[1] == 'KID: {:.7g} \u00b1 {:.7g} (subsets=10, subset_size=5)'.format(
        report['kid']['mean'], report['kid']['std'])
    # --save-features: the images' vectors beside mu and sigma, float32.
    with np.load(str(stats)) as saved:
        assert {'mu', 'sigma', 'pool_3'} <= set(saved.files)
        assert saved['pool_3'].dtype == np.float32
        assert np.array_equal(saved['pool_3'], sample_features)

    # That file as the reference of the other set: its vectors stand in for the images.
    again = tmp_path / 'again.json'
    code, out, err = _cli(capsys, real, '--model', model_file, '--splits', '2',
                          '--kid', stats, '--kid-subsets', '10', '--kid-subset-size', '5',
                          '--json', again)
    assert code == 0, err
    second = json.loads(again.read_text())
    expected = transcribed_kid(real_features, sample_features, 10, 5)
    assert_same_kid((second['kid']['mean'], second['kid']['std']), expected)
    ref = second['reference']
    assert (ref['pool_3_features'], ref['feature_vectors'], ref['n']) == ('file', 8, 8)
    assert ref['sha256'] == hashlib.sha256(stats.read_bytes()).hexdigest()
    assert 'fid' not in second and out.splitlines()[1].startswith('KID: ')


@pytest.mark.slow
def test_api_kid_from_one_pass(network, sets):
    _, sample_ims, sample_features = sets['samples']
    _, real_ims, real_features = sets['real']
    out = evaluate_images(network, sample_ims, reference=real_ims, metrics=('kid',),
                          splits=2, kid_subsets=4, kid_subset_size=6)
    expected = transcribed_kid(sample_features, real_features, 4, 6)
    assert_same_kid((out['kid']['mean'], out['kid']['std']), expected)
    assert 'fid' not in out and out['reference']['pool_3_features'] == 'images'
    with pytest.raises(UsageError, match='^8 images are too few for KID subsets of 1000: '
                                         'pass kid_subset_size=8 or less'):
        evaluate_images(network, sample_ims, reference=real_ims, metrics=('kid',), splits=2)


def test_feature_arrays_are_references_for_kid_and_precision_recall(sets):
    _, _, real_features = sets['real']
    ref = as_reference(real_features.astype(np.float64), ('kid', 'precision_recall'))
    assert ref.features.dtype == np.float32 and np.array_equal(ref.features, real_features)
    assert not ref.needs_images(('kid', 'precision_recall'))
    assert ref.describe(('kid',)) == {'format': 'features', 'pool_3_features': 'file',
                                      'feature_vectors': 6}
    with pytest.raises(InputError, match=r'needs the reference images \(or their statistics\)'):
        as_reference(real_features, ('fid',))
    with pytest.raises(InputError, match=r'must be real pool_3 feature vectors \(N, 2048\), '
                                         r'got float64 of shape \(6, 3\)'):
        as_reference(np.zeros((6, 3)), ('kid',))


def _ttur_stats(path):
    np.savez(str(path), mu=np.zeros(2048), sigma=np.eye(2048))


CLI_ERRORS = [
    (lambda t, s, r: ['--kid', _ttur_stats(t / 'stats.npz') or t / 'stats.npz',
                      '--kid-subset-size', '5'], 2,
     "stats.npz: KID needs the reference's pool_3 feature vectors, which statistics (mu, "
     'sigma) do not hold: give its images, or statistics saved with --save-stats OUT.npz '
     '--save-features'),
    (lambda t, s, r: ['--kid', r], 2,
     '8 images are too few for KID subsets of 1000: pass --kid-subset-size 8 or less'),
    (lambda t, s, r: ['--kid', r, '--kid-subset-size', '7'], 2,
     '{r}: 6 reference images are too few for KID subsets of 7: pass --kid-subset-size 6 '
     'or less'),
    (lambda t, s, r: ['--kid', r, '--kid-subset-size', '1'], 2,
     'KID subset_size must be an integer >= 2, got 1 (--kid-subset-size)'),
    (lambda t, s, r: ['--kid', r, '--fid', s], 2,
     '--kid {r} and --fid {s} name different references: one run compares with one reference'),
    (lambda t, s, r: ['--save-features'], 2,
     '--save-features keeps the feature vectors in the --save-stats file: give --save-stats '
     'OUT.npz too'),
]


@pytest.mark.parametrize('make,code,message', CLI_ERRORS, ids=[c[2][:30] for c in CLI_ERRORS])
def test_cli_errors_are_one_line_before_any_work(model_file, sets, tmp_path, capsys, make,
                                                 code, message):
    samples, real = sets['samples'][0], sets['real'][0]
    report = tmp_path / 'r.json'
    got, out, err = _cli(capsys, samples, '--model', model_file, '--json', report,
                         '--splits', '2', *make(tmp_path, samples, real))
    assert got == code and out == ''
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('inception-score: error: '), err
    assert message.format(r=real, s=samples) in lines[0]
    assert not report.exists()


def test_kid_flags_without_kid_warn_and_are_ignored(model_file, sets, capsys):
    samples = sets['samples'][0]
    # The warnings come before any work: an error after them (--samples) shows it for free.
    code, out, err = _cli(capsys, samples, '--model', model_file, '--kid-subsets', '3',
                          '--kid-subset-size', '1', '--samples', '100')
    assert code == 2 and out == ''
    assert err.splitlines() == [
        'inception-score: warning: --kid-subsets applies to --kid only: ignored',
        'inception-score: warning: --kid-subset-size applies to --kid only: ignored',
        'inception-score: error: --samples 100 but only 8 images are available']


def _features_file(rows, **extra):
    def make(path):
        np.savez(str(path), mu=np.zeros(2048), sigma=np.eye(2048), pool_3=rows, **extra)
    return make


BAD_FEATURES = [
    (_features_file(np.zeros((5, 100), np.float32)),
     "(array 'pool_3') has dtype float32 and shape (5, 100): expected float pool_3 feature "
     'vectors (N, 2048), as --save-features writes them'),
    (_features_file(np.zeros((5, 2048), np.int64)), 'has dtype int64 and shape (5, 2048)'),
    (_features_file(np.full((5, 2048), np.inf, np.float32)),
     "(array 'pool_3') contains NaN or Inf (rows 0..4)"),
    (_features_file(np.array([{'a': 1}], dtype=object)),
     "(array 'pool_3') holds pickled Python objects, which are never loaded"),
    (_features_file(np.zeros((1, 2048), np.float32)),
     'KID needs at least 2 reference feature vectors, got 1'),
]


@pytest.mark.parametrize('make,message', BAD_FEATURES, ids=[b[1][:30] for b in BAD_FEATURES])
def test_bad_feature_files_are_one_line_errors_naming_the_file(tmp_path, make, message):
    path = str(tmp_path / 'stats.npz')
    make(path)
    with pytest.raises(InputError) as e:
        open_reference(path, ('kid',))
    text = str(e.value)
    assert '\n' not in text and text.startswith(path) and message in text, text


def test_truncated_feature_file_is_refused_before_reading(tmp_path):
    path = tmp_path / 'stats.npz'
    _features_file(np.ones((50, 2048), np.float32))(str(path))
    cut = tmp_path / 'cut.npz'
    # Keep the archive readable but the member short: rewrite it with a header that claims
    # more rows than it holds.
    import zipfile
    with zipfile.ZipFile(str(path)) as z, zipfile.ZipFile(str(cut), 'w') as out:
        for info in z.infolist():
            member = z.read(info)
            if info.filename == 'pool_3.npy':
                member = member.replace(b"(50, 2048)", b"(90, 2048)")
            out.writestr(info, member)
    with pytest.raises(InputError, match=r"cut.npz \(array 'pool_3'\) is truncated or damaged: "
                                         r'its header promises .* \(737280 bytes\)'):
        open_reference(str(cut), ('kid',))


# ---------------------------------------------------------------------------------------------
# The Trainer extension.

@pytest.mark.slow
def test_trainer_reports_kid_against_saved_features_and_images(model, tmp_path):
    chainer = pytest.importorskip('chainer')
    from chainer import training
    from chainer.training import extensions
    from inception_score import InceptionScoreExtension
    from inception_score.io import to_pixel_range
    network = model.network()
    real = np.random.RandomState(3).uniform(0, 255, (5, 3, 20, 20)).astype(np.float32)

    def features(ims):  # in the extension's batches of 3: the same float32 rounding
        return np.concatenate([network.features(ims[i:i + 3]) for i in range(0, len(ims), 3)])

    real_features = features(real)

    def generator(n):
        z = np.random.normal(0, 1, (n, 3, 16, 16)).astype(np.float32)  # the global state
        return np.tanh(z)

    def run(reference):
        target = chainer.links.Classifier(chainer.links.Linear(4, 2))
        optimizer = chainer.optimizers.SGD()
        optimizer.setup(target)
        data = chainer.datasets.TupleDataset(np.ones((4, 4), np.float32),
                                             np.zeros(4, np.int32))
        updater = training.updaters.StandardUpdater(
            chainer.iterators.SerialIterator(data, 4), optimizer)
        out = tmp_path / str(len(os.listdir(str(tmp_path))))
        trainer = training.Trainer(updater, (1, 'iteration'), out=str(out))
        trainer.extend(InceptionScoreExtension(generator, model, n_samples=6, batch_size=3,
                                               splits=2, seed=5, kid_reference=reference,
                                               kid_subsets=6, kid_subset_size=5),
                       trigger=(1, 'iteration'))
        trainer.extend(extensions.LogReport(trigger=(1, 'iteration')))
        trainer.run()
        (entry,) = json.load(open(str(out / 'log')))
        return entry

    from_features = run(real_features)
    from_images = run(real)
    # The samples the extension drew: the generator under RandomState(5), batches of 3.
    rng = np.random.RandomState(5)
    ims = np.concatenate([np.tanh(rng.normal(0, 1, (3, 3, 16, 16)).astype(np.float32))
                          for _ in range(2)])
    expected = transcribed_kid(features(to_pixel_range(ims, (-1, 1))), real_features, 6, 5)
    for entry in (from_features, from_images):
        assert_same_kid((entry['inception_score/kid'], entry['inception_score/kid_std']),
                        expected)
    with pytest.raises(UsageError, match='^6 samples \\(n_samples\\) are too few for KID '
                                         'subsets of 1000'):
        InceptionScoreExtension(generator, model, n_samples=6, splits=2,
                                kid_reference=real_features)
