"""FID against a float64 transcription of TTUR's fid.py; streamed statistics against the batch
formula; statistics files in and out."""
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import linalg

from inception_score.errors import InputError
from inception_score.fid import (FIDAccumulator, frechet_distance, load_statistics,
                                 read_provenance, save_statistics)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ttur_sqrtm(a, **kwargs):
    # scipy 1.16 deprecates `disp` and 1.18 removes it; the matrix is the same.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        try:
            return linalg.sqrtm(a, **kwargs)
        except TypeError:
            out = linalg.sqrtm(a)
            return (out, None) if kwargs.get('disp') is False else out


def ttur_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """bioinf-jku/TTUR fid.py, calculate_frechet_distance, in float64."""
    mu1 = np.atleast_1d(mu1)
    mu2 = np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape
    diff = mu1 - mu2
    covmean, _ = ttur_sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = ttur_sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise ValueError('Imaginary component {}'.format(m))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def ttur_statistics(features):
    return np.mean(features, axis=0), np.cov(features, rowvar=False)


def streamed(features, batch=97):
    acc = FIDAccumulator(features.shape[1])
    for i in range(0, len(features), batch):
        acc.update(features[i:i + batch])
    return acc


def pool3_like(rng, n, dim, shift):
    """Non-negative, correlated features (pool_3 is a mean of ReLUs)."""
    mixing = rng.normal(0, 1.0 / np.sqrt(dim), (dim, dim))
    return np.abs(rng.normal(shift, 1, (n, dim)) @ mixing).astype(np.float32)


@pytest.mark.slow
def test_full_rank_2048_features_match_ttur():
    # N > dim: both covariances have full rank; sqrtm of 2048 x 2048 is what takes the time.
    rng = np.random.RandomState(0)
    a = pool3_like(rng, 2100, 2048, 0.0)
    b = pool3_like(rng, 2100, 2048, 0.3)
    ours = frechet_distance(*streamed(a, 500).statistics(), *streamed(b, 700).statistics())
    ref = ttur_frechet_distance(*ttur_statistics(a), *ttur_statistics(b))
    assert isinstance(ours, float)
    assert abs(ours - ref) <= 1e-6 * abs(ref)
    assert ref > 1.0


def test_identical_statistics_give_zero():
    rng = np.random.RandomState(1)
    stats = streamed(pool3_like(rng, 300, 64, 0.0)).statistics()
    assert abs(frechet_distance(*stats, *stats)) < 1e-8


def singular_case_with_non_finite_sqrtm():
    """N < dim integer features whose product sigma1 sigma2 scipy's sqrtm cannot take
    (Jordan-like zero blocks give inf/nan): TTUR's eps retry is the only way through."""
    for seed in range(400):
        rng = np.random.RandomState(seed)
        a = rng.randint(0, 3, (3, 8)).astype(np.float64)
        b = rng.randint(0, 3, (3, 8)).astype(np.float64)
        s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        if not np.isfinite(ttur_sqrtm(s1.dot(s2))).all():
            return a, b
    raise AssertionError('scipy.linalg.sqrtm no longer fails on any singular product tried: '
                         'the eps path cannot be reached this way')


def exact_trace_sqrt_product(s1, s2):
    """tr sqrtm(s1 s2) by another road than fid.py's: the nuclear norm (sum of singular
    values) of s2^(1/2) s1^(1/2), the square roots from symmetric eigendecompositions."""
    def root(s):
        w, v = np.linalg.eigh(s)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    return np.linalg.svd(root(s2) @ root(s1), compute_uv=False).sum()


def test_singular_product_where_ttur_retries_with_eps():
    # TTUR retries with eps on both diagonals when sqrtm fails; whether it fails hinges on
    # exact zeros in the Schur form (scipy 1.17 and 1.18 disagree on such products), so
    # frechet_distance does not copy the retry: it gives the exact trace, which is TTUR's
    # number whenever sqrtm succeeds.
    a, b = singular_case_with_non_finite_sqrtm()
    (mu1, s1), (mu2, s2) = ttur_statistics(a), ttur_statistics(b)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no warning either: nothing was retried
        ours = frechet_distance(mu1, s1, mu2, s2)
    exact = (mu1 - mu2).dot(mu1 - mu2) + np.trace(s1) + np.trace(s2) \
        - 2 * exact_trace_sqrt_product(s1, s2)
    # Both roads take square roots of rounding-sized eigenvalues (about 1e-16 of the scale):
    # 1e-8 each, a few of them.
    assert abs(ours - exact) <= 1e-7 * abs(exact)
    # TTUR's retry is off by the eps it adds: |tr sqrtm differs| <= d sqrt(eps) (sqrt|s1| +
    # sqrt|s2|) (|(s + eps)^(1/2) - s^(1/2)| <= sqrt(eps) in the spectral norm).
    eps, d = 1e-6, len(mu1)
    bound = 2 * d * np.sqrt(eps) * (np.sqrt(np.linalg.norm(s1, 2) + eps)
                                    + np.sqrt(np.linalg.norm(s2, 2)))
    ttur = ttur_frechet_distance(mu1, s1, mu2, s2, eps=eps)
    assert 1e-5 * abs(exact) < abs(ttur - exact) <= bound


def test_fewer_images_than_features_match_ttur():
    # Rank-deficient covariances: sqrtm is finite but complex; the real part is used.
    rng = np.random.RandomState(2)
    a = pool3_like(rng, 100, 256, 0.0)
    b = pool3_like(rng, 120, 256, 0.2)
    ours = frechet_distance(*streamed(a).statistics(), *streamed(b).statistics())
    ref = ttur_frechet_distance(*ttur_statistics(a), *ttur_statistics(b))
    assert abs(ours - ref) <= 1e-6 * abs(ref)


def ttur_program_activations(features, batch_size=50):
    """The rows TTUR's fid.py uses when run as a program: get_activations runs whole batches
    only (n_batches = n_images // batch_size), so a last partial batch is dropped."""
    if batch_size > len(features):
        batch_size = len(features)
    return features[:len(features) // batch_size * batch_size]


def test_every_image_counts_where_ttur_program_drops_the_partial_batch():
    # docs/metrics.md's footnote: 120 images, batches of 50 (the last one partial, as TTUR's
    # program would see them). Ours is TTUR's formula on all 120; TTUR's program gives the
    # FID of the first 100, a different sample: 20% fewer rows move the covariance of 64
    # features far more than the 1e-3 asserted (13% here).
    rng = np.random.RandomState(3)
    a = pool3_like(rng, 120, 64, 0.0)
    b = pool3_like(rng, 500, 64, 0.2)
    assert len(ttur_program_activations(a)) == 100 and len(ttur_program_activations(a[:30])) == 30
    ours = frechet_distance(*streamed(a, batch=50).statistics(), *ttur_statistics(b))
    formula = ttur_frechet_distance(*ttur_statistics(a), *ttur_statistics(b))
    program = ttur_frechet_distance(*ttur_statistics(ttur_program_activations(a)),
                                    *ttur_statistics(b))
    assert abs(ours - formula) <= 1e-6 * abs(formula)
    assert abs(ours - program) > 1e-3 * abs(formula)


def test_imaginary_component_is_one_line_error_like_ttur():
    # A "covariance" with a negative eigenvalue: sqrtm has i on its diagonal.
    mu = np.zeros(3)
    sigma1 = np.diag([1.0, 2.0, 3.0])
    sigma2 = np.diag([1.0, -4.0, 1.0])
    with pytest.raises(ValueError, match='Imaginary component'):
        ttur_frechet_distance(mu, sigma1, mu, sigma2)
    with pytest.raises(InputError, match='imaginary component of 2.83') as e:
        frechet_distance(mu, sigma1, mu, sigma2)
    assert '\n' not in str(e.value)


@pytest.mark.parametrize('args,message', [
    ((np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), 'different lengths'),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.eye(2)), 'covariances have shapes'),
    ((np.full(3, np.nan), np.eye(3), np.zeros(3), np.eye(3)), 'mu1 contains NaN'),
])
def test_inconsistent_statistics_are_one_line_errors(args, message):
    with pytest.raises(InputError, match=message):
        frechet_distance(*args)


def test_streamed_and_merged_statistics_equal_batch_formula():
    rng = np.random.RandomState(3)
    # A large mean next to a small spread is where sum-of-squares formulas lose digits.
    x = (rng.normal(3.0, 0.5, (1003, 48)) @ rng.normal(0, 0.3, (48, 48)) + 2.0)
    x = x.astype(np.float32)
    mu_ref, sigma_ref = np.mean(x.astype(np.float64), 0), np.cov(x.astype(np.float64),
                                                                   rowvar=False)
    scale = np.abs(sigma_ref).max()
    one = streamed(x, 64)
    a, b, c = FIDAccumulator(48), FIDAccumulator(48), FIDAccumulator(48)
    a.update(x[:10])
    b.update(x[10:700])
    c.update(x[700:])
    merged = a.merge(b).merge(c)
    for acc in (one, merged):
        mu, sigma = acc.statistics()
        assert acc.n == 1003
        assert mu.dtype == sigma.dtype == np.float64
        assert np.abs(mu - mu_ref).max() <= 1e-10 * scale
        assert np.abs(sigma - sigma_ref).max() <= 1e-10 * scale
        assert np.array_equal(sigma, sigma.T)


@pytest.mark.slow
def test_allreduce_over_two_mpi_processes_equals_one_process():
    pytest.importorskip('chainermn')
    mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([mpiexec, '-n', '2', sys.executable,
                           os.path.join(ROOT, 'tests', 'mpi_metrics.py')],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # The two ranks' lines can arrive glued together through mpiexec.
    assert sorted(re.findall(r'rank \d ok', proc.stdout)) == ['rank 0 ok', 'rank 1 ok'], \
        proc.stdout


@pytest.mark.parametrize('features,message', [
    (np.zeros((4, 5)), r'must be \(N, 6\), got shape \(4, 5\)'),
    (np.zeros(6), r'must be \(N, 6\)'),
    (np.array([[0, 1, 2, 3, 4, np.inf]]), 'NaN or Inf'),
])
def test_bad_features_are_refused(features, message):
    with pytest.raises(InputError, match=message):
        FIDAccumulator(6).update(features)


def test_statistics_need_two_images():
    acc = FIDAccumulator(4).update(np.ones((1, 4)))
    with pytest.raises(InputError, match='at least 2 images, got 1'):
        acc.statistics()


def test_saved_statistics_round_trip_at_the_exact_path(tmp_path):
    rng = np.random.RandomState(4)
    mu, sigma = streamed(pool3_like(rng, 200, 32, 0.0)).statistics()
    path = tmp_path / 'stats.out'  # no .npz: numpy.savez alone would write stats.out.npz
    save_statistics(str(path), mu, sigma, n=200, source='folder a', model_sha256='ab' * 32)
    assert sorted(os.listdir(str(tmp_path))) == ['stats.out']
    mu2, sigma2 = load_statistics(str(path), dim=32)
    assert np.array_equal(mu, mu2) and np.array_equal(sigma, sigma2)
    info = read_provenance(str(path))
    assert info['format'] == 'ttur-statistics'
    assert (info['n'], info['source'], info['model_sha256']) == (200, 'folder a', 'ab' * 32)
    # TTUR reads it: plain arrays, nothing pickled.
    with np.load(str(path), allow_pickle=False) as data:
        assert data['mu'].dtype == np.float64 and data['sigma'].shape == (32, 32)


def test_float32_statistics_files_are_accepted(tmp_path):
    # Tools that save float32 covariances are symmetric/PSD only up to float32 rounding.
    rng = np.random.RandomState(5)
    mu, sigma = ttur_statistics(pool3_like(rng, 80, 128, 0.0))
    path = str(tmp_path / 'f32.npz')
    np.savez(path, mu=mu.astype(np.float32), sigma=sigma.astype(np.float32))
    mu2, sigma2 = load_statistics(path)
    assert mu2.dtype == np.float64 and np.allclose(sigma2, sigma, rtol=1e-6, atol=1e-7)


def test_adm_reference_batch_statistics(tmp_path):
    rng = np.random.RandomState(6)
    path = str(tmp_path / 'VIRTUAL_ref.npz')
    pool, spatial = rng.normal(size=(30, 6)), rng.normal(size=(30, 4))
    np.savez(path, arr_0=rng.randint(0, 256, (2, 8, 8, 3)).astype(np.uint8),
             mu=pool.mean(0), sigma=np.cov(pool, rowvar=False),
             mu_s=spatial.mean(0), sigma_s=np.cov(spatial, rowvar=False))
    mu, sigma = load_statistics(path)
    mu_s, sigma_s = load_statistics(path, spatial=True)
    assert mu.shape == (6,) and sigma_s.shape == (4, 4)
    assert np.array_equal(mu_s, spatial.mean(0))
    assert read_provenance(path)['format'] == 'adm-reference-batch'


def write_npz(**arrays):
    def make(path):
        np.savez(path, **arrays)
    return make


def write_bytes(data):
    def make(path):
        with open(path, 'wb') as f:
            f.write(data)
    return make


def _non_symmetric():
    s = np.eye(4)
    s[0, 1] = 0.5
    return s


BAD_FILES = [
    (write_npz(mu=np.zeros(5), sigma=np.eye(4)), r"'sigma' has shape \(4, 4\), expected \(5, 5\)"),
    (write_npz(mu=np.zeros((5, 1)), sigma=np.eye(5)),
     r"'mu' has shape \(5, 1\), expected a vector"),
    (write_npz(mu=np.zeros(3), sigma=np.diag([1.0, np.nan, 1.0])), "'sigma' contains NaN or Inf"),
    (write_npz(mu=np.array([0.0, np.inf]), sigma=np.eye(2)), "'mu' contains NaN or Inf"),
    (write_npz(mu=np.zeros(4), sigma=_non_symmetric()), "'sigma' is not symmetric"),
    (write_npz(mu=np.zeros(3), sigma=np.diag([1.0, -0.5, 1.0])),
     "'sigma' is not positive semi-definite"),
    (write_npz(mu=np.array([{'a': 1}, None], dtype=object), sigma=np.eye(2)),
     r"\(array 'mu'\) holds pickled Python objects, which are never loaded"),
    (write_npz(mu=np.array(['a', 'b']), sigma=np.eye(2)), "'mu' has dtype <U1"),
    (write_npz(arr_0=np.zeros((2, 8, 8, 3), np.uint8)),
     "an ADM reference batch without precomputed 'mu' and 'sigma'"),
    (write_npz(images=np.zeros(3)), "neither 'mu' and 'sigma' statistics nor arr_0 images"),
    (write_bytes(b'mu,sigma\n1,2\n'), 'not an .npz file'),
    (write_bytes(b'PK\x03\x04 truncated'), r'is a damaged .npz \(zip\) archive'),
    (lambda path: np.save(open(path, 'wb'), np.zeros(3)), 'a single .npy array'),
]


@pytest.mark.parametrize('make,message', BAD_FILES, ids=[m[:30] for _, m in BAD_FILES])
def test_bad_statistics_files_are_one_line_errors(tmp_path, make, message):
    path = str(tmp_path / 'ref.npz')
    make(path)
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(InputError) as e:
        load_statistics(path)
    assert '\n' not in str(e.value) and str(e.value).startswith(path), str(e.value)
    assert re.search(message, str(e.value)), str(e.value)
    assert sorted(os.listdir(str(tmp_path))) == before


def test_missing_file_and_wrong_dimension(tmp_path):
    with pytest.raises(InputError, match='no such statistics file'):
        load_statistics(str(tmp_path / 'nothing.npz'))
    path = str(tmp_path / 's.npz')
    np.savez(path, mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(InputError, match='statistics are of 3 features, expected 2048'):
        load_statistics(path, dim=2048)


@pytest.mark.parametrize('kwargs,message', [
    ({'note': object()}, "provenance 'note' must be a string or a number"),
    ({'arr_0': 'x'}, "provenance cannot be named 'arr_0'"),
])
def test_bad_provenance_writes_nothing(tmp_path, kwargs, message):
    path = tmp_path / 'out.npz'
    with pytest.raises(InputError, match=message):
        save_statistics(str(path), np.zeros(2), np.eye(2), **kwargs)
    assert not path.exists()


def test_mismatched_statistics_are_not_saved(tmp_path):
    path = tmp_path / 'out.npz'
    with pytest.raises(InputError, match='mu \\(d,\\) and sigma \\(d, d\\)'):
        save_statistics(str(path), np.zeros(3), np.eye(2))
    assert not path.exists()
