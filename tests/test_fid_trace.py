"""FID's trace of the matrix square root (fid.trace_sqrt_product: a Cholesky factor and one
symmetric eigenvalue problem) against TTUR's program path (scipy's sqrtm, its eps retry and
its check of the imaginary part: test_fid.ttur_frechet_distance), on full-rank, near-singular
and rank-deficient covariances, with and without constant features.

Tolerance: 1e-6 relative, the issue's bound. With full-rank covariances both roads are exact to
rounding (1e-12 here). With fewer images than features, TTUR's own number carries the square
roots of the rounding eigenvalues of its singular product (each about sqrt(2^-52) of the
scale, positive or negative at random, the negative ones contributing 0): measured 1e-7
relative at these sizes, 9e-7 on the 2-image CLI run at 2048 features.
"""
import time
import warnings

import numpy as np
import pytest

from inception_score import fid
from inception_score.errors import InputError
from test_fid import (exact_trace_sqrt_product, pool3_like, ttur_frechet_distance, ttur_sqrtm,
                      ttur_statistics)


def _pair(d, n1, n2, dead=(0, 0), seed=0):
    """Statistics of n1 and n2 pool_3-like feature vectors; `dead` features constant in each
    set (exactly zero rows and columns in its covariance, as dead ReLUs give)."""
    rng = np.random.RandomState(seed)
    a = pool3_like(rng, n1, d, 0.0).astype(np.float64)
    b = pool3_like(rng, n2, d, 0.3).astype(np.float64)
    a[:, rng.choice(d, dead[0], replace=False)] = 0
    b[:, rng.choice(d, dead[1], replace=False)] = 0
    return ttur_statistics(a) + ttur_statistics(b)


def _compare(mu1, s1, mu2, s2):
    """(ours, TTUR's, whether TTUR's first sqrtm succeeded)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        finite = bool(np.isfinite(ttur_sqrtm(s1.dot(s2))).all())
        theirs = ttur_frechet_distance(mu1, s1, mu2, s2)
    return fid.frechet_distance(mu1, s1, mu2, s2), theirs, finite


CASES = {
    'full rank': (256, 400, 500, (0, 0)),
    'full rank, constant features in both': (256, 600, 400, (3, 2)),
    'near-singular: n = d + 1': (256, 257, 300, (0, 0)),
    'rank-deficient: 2 and 3 images': (256, 2, 3, (0, 0)),
    'rank-deficient: 100 and 120 images': (256, 100, 120, (0, 0)),
    'rank-deficient against full rank': (256, 2, 500, (0, 0)),
    'rank-deficient with constant features': (256, 20, 30, (4, 3)),
    'odd size (sFID-like)': (131, 40, 35, (0, 0)),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_equals_ttur_where_its_sqrtm_succeeds(case):
    d, n1, n2, dead = CASES[case]
    ours, theirs, finite = _compare(*_pair(d, n1, n2, dead))
    # These cases are ones where scipy's sqrtm succeeds; were it to fail on some other scipy,
    # TTUR would retry with eps (see test_fid's test_singular_product_where_ttur_retries...).
    assert finite, 'TTUR retried with eps: pick another case'
    assert abs(ours - theirs) <= 1e-6 * abs(theirs), (ours, theirs)


def test_ill_conditioned_full_rank_covariances_equal_ttur():
    # Eigenvalues from 1 down to 1e-10: Cholesky succeeds, sqrtm is finite and real.
    rng = np.random.RandomState(3)
    d = 200
    q1, _ = np.linalg.qr(rng.normal(size=(d, d)))
    q2, _ = np.linalg.qr(rng.normal(size=(d, d)))
    s1 = (q1 * np.logspace(0, -10, d)) @ q1.T
    s2 = (q2 * np.logspace(0, -8, d)) @ q2.T
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    mu1, mu2 = rng.normal(size=d) * 0.1, rng.normal(size=d) * 0.1
    ours, theirs, finite = _compare(mu1, s1, mu2, s2)
    assert finite and abs(ours - theirs) <= 1e-6 * abs(theirs), (ours, theirs)


def test_trace_equals_the_nuclear_norm_road_and_identical_statistics_give_zero():
    mu1, s1, mu2, s2 = _pair(128, 30, 200, (2, 0), seed=4)
    # tr sqrtm(s1 s2) = sum of the singular values of s2^(1/2) s1^(1/2): another road; both
    # take square roots of rounding eigenvalues (sqrt(1e-16) of the scale, a few dozen).
    exact = exact_trace_sqrt_product(s1, s2)
    assert abs(fid.trace_sqrt_product(s1, s2) - exact) <= 1e-6 * exact
    assert fid.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9 * np.trace(s1))
    # TTUR's sqrtm on the same singular statistics is off zero by its rounding eigenvalues.
    zeros = np.zeros((5, 5))
    assert fid.frechet_distance(np.zeros(5), zeros, np.ones(5), zeros) == 5.0


class _CountingSqrtm:
    """fid._sqrtm, counting its calls (it still runs)."""

    def __init__(self):
        self.calls, self.real = 0, fid._sqrtm

    def __call__(self, a):
        self.calls += 1
        return self.real(a)


def test_covariances_never_take_scipys_sqrtm_other_matrices_take_tturs_path(monkeypatch):
    counter = _CountingSqrtm()
    monkeypatch.setattr(fid, '_sqrtm', counter)
    for d, n1, n2, dead in CASES.values():
        fid.frechet_distance(*_pair(d, n1, n2, dead))
    assert counter.calls == 0
    # Not a covariance (a negative eigenvalue): TTUR's computation, its error included.
    mu = np.zeros(3)
    with pytest.raises(InputError, match='imaginary component of 2.83'):
        fid.frechet_distance(mu, np.diag([1.0, 2.0, 3.0]), mu, np.diag([1.0, -4.0, 1.0]))
    assert counter.calls == 1
    # Not symmetric beyond float32 rounding: TTUR's computation, and TTUR's number.
    rng = np.random.RandomState(5)
    a = rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + np.triu(np.full((6, 6), 0.01), 1), np.eye(6) * 2
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        theirs = ttur_frechet_distance(mu[:1].repeat(6), s1, mu[:1].repeat(6), s2)
    assert fid.frechet_distance(np.zeros(6), s1, np.zeros(6), s2) == pytest.approx(theirs,
                                                                                   rel=1e-9)
    assert counter.calls == 2


def test_rounding_below_zero_is_a_covariance_far_below_zero_is_not():
    # A PSD matrix with float32-sized noise (symmetric) is a covariance; -1e-3 of the scale is
    # not.
    rng = np.random.RandomState(6)
    x = rng.normal(size=(10, 40))
    s = np.cov(x, rowvar=False)
    noise = rng.normal(scale=1e-8, size=s.shape)
    b, fits = fid.psd_factor(s + (noise + noise.T) / 2)
    assert fits and b.shape[1] <= 40
    w, v = np.linalg.eigh(s)
    w[0] = -1e-3 * w[-1]
    assert not fid.psd_factor((v * w) @ v.T)[1]


@pytest.mark.slow
@pytest.mark.parametrize('n1,n2', [(2, 3), (2100, 2)])
def test_2048_features_with_few_images_equal_ttur_in_seconds(n1, n2):
    # The case that took minutes: rank-deficient 2048 x 2048 covariances (TTUR's sqrtm runs
    # here once, as the reference: 20-70 s on a shared 2-core machine).
    mu1, s1, mu2, s2 = _pair(2048, n1, n2, seed=7)
    started = time.perf_counter()
    ours = fid.frechet_distance(mu1, s1, mu2, s2)
    seconds = time.perf_counter() - started
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        theirs = ttur_frechet_distance(mu1, s1, mu2, s2)
    assert abs(ours - theirs) <= 1e-6 * abs(theirs), (ours, theirs)
    assert seconds < 15, seconds  # generous for a loaded machine: sqrtm alone takes 20-70 s
