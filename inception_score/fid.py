"""FID exactly as bioinf-jku/TTUR's fid.py computes it, from streamed statistics.

TTUR: mu = mean of the pool_3 features, sigma = np.cov(features, rowvar=False) (ddof=1),
FID = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2)) with scipy's sqrtm in
float64; a non-finite square root is retried with eps on both diagonals; an imaginary part on
the diagonal above 1e-3 is an error, below it the real part is used.

The statistics are three float64 sums (n, sum x, sum x x^T): they are updated batch by batch,
added across processes, and memory is O(dim^2) whatever the number of images.
Statistics files (TTUR's `.npz`, OpenAI's ADM reference batches) are read and written by
statsfile.py.
"""
import re
import warnings

import numpy

from inception_score.backend import to_numpy
from inception_score.errors import InputError

# Relative tolerances for statistics read from files: float32-saved covariances are symmetric
# and PSD only up to their rounding (about 1e-7 of the scale, times sqrt(dim) for eigenvalues).
SYMMETRY_TOLERANCE = 1e-5
PSD_TOLERANCE = 1e-5
# The statistics of n < d images computed in float64 have rank n - 1 up to rounding (about
# 1e-16 of the scale): a pivoted Cholesky factor of that rank leaves out no more than this.
EXACT_RANK_TOLERANCE = 1e-9


class FIDAccumulator:
    """Float64 sums of features (n, sum x, sum x x^T): streaming and mergeable FID statistics."""

    def __init__(self, dim=2048):
        if isinstance(dim, bool) or not isinstance(dim, (int, numpy.integer)) or dim < 1:
            raise InputError('dim must be an integer >= 1, got {!r}'.format(dim))
        self.dim = int(dim)
        self.n = 0
        self.sum_x = numpy.zeros(self.dim)
        self.sum_xxt = numpy.zeros((self.dim, self.dim))

    def update(self, features):
        """Add (N, dim) features (numpy or cupy)."""
        x = to_numpy(features)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InputError('FID features must be (N, {}), got shape {}'.format(
                self.dim, x.shape))
        x = x.astype(numpy.float64, copy=False)
        if not numpy.isfinite(x).all():
            raise InputError('FID features contain NaN or Inf')
        self.n += len(x)
        self.sum_x += x.sum(axis=0)
        self.sum_xxt += x.T @ x
        return self

    def merge(self, other):
        """Add another accumulator's sums (same dim, disjoint features)."""
        if other.dim != self.dim:
            raise InputError('cannot merge FID statistics of {} and {} features'.format(
                self.dim, other.dim))
        self.n += other.n
        self.sum_x += other.sum_x
        self.sum_xxt += other.sum_xxt
        return self

    def allreduce(self, comm):
        """Sum the statistics over all processes of a ChainerMN communicator, in place.

        Every process must call it; each then holds the statistics of all features.
        """
        flat = numpy.concatenate([[float(self.n)], self.sum_x, self.sum_xxt.ravel()])
        total = numpy.asarray(comm.allreduce(flat), dtype=numpy.float64)
        self.n = int(numpy.rint(total[0]))
        self.sum_x = total[1:1 + self.dim].copy()
        self.sum_xxt = total[1 + self.dim:].reshape(self.dim, self.dim).copy()
        return self

    def statistics(self):
        """(mu, sigma) in float64: numpy.mean and numpy.cov(rowvar=False) (ddof=1) of all
        features added."""
        if self.n < 2:
            raise InputError('FID statistics need at least 2 images, got {}'.format(self.n))
        mu = self.sum_x / self.n
        sigma = (self.sum_xxt - self.n * numpy.outer(mu, mu)) / (self.n - 1)
        # x^T x is symmetric in exact arithmetic; make the rounding symmetric too.
        sigma = (sigma + sigma.T) / 2
        return mu, sigma


def _sqrtm(a):
    """scipy.linalg.sqrtm's matrix. TTUR passes disp=False so that old scipy prints nothing;
    scipy 1.16 deprecated `disp` (it never prints) and 1.18 removes it: same matrix."""
    import scipy
    from scipy import linalg
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', linalg.LinAlgWarning)
        if _version_tuple(scipy.__version__) < (1, 16):
            return linalg.sqrtm(a, disp=False)[0]
        return linalg.sqrtm(a)


def _version_tuple(version):
    return tuple(int(p) for p in re.findall(r'\d+', version)[:2])


def psd_factor(sigma):
    """(B, fits) with B B^T = sigma, or sigma's positive part: B is (d, rank); `fits` is
    whether sigma is positive semi-definite within PSD_TOLERANCE of its scale (its lowest
    eigenvalue no further below zero).

    A Cholesky factorization when sigma is positive definite; for the statistics of fewer
    images than features, LAPACK's pivoted one (rank r, cost O(d^2 r)), which stops at pivots
    below d * 2^-52 of the largest variance. Only when that leaves out more than rounding
    (float32 files, whose rounding makes exact zeros slightly negative, or no covariance at all)
    is sigma decomposed into eigenvectors: the most negative eigenvalue shows the rounding
    level, and the directions above twice it make B.
    """
    from scipy.linalg import lapack
    try:
        return numpy.linalg.cholesky(sigma), True
    except numpy.linalg.LinAlgError:
        pass
    scale = max(float(numpy.abs(sigma).max()), numpy.finfo(numpy.float64).tiny)
    factor, pivots, rank, info = lapack.dpstrf(sigma, lower=1)
    if info >= 0:
        b = numpy.empty((len(sigma), rank))
        b[pivots - 1] = numpy.tril(factor[:, :rank])
        # The Frobenius norm of what is left out bounds its eigenvalues.
        if numpy.linalg.norm(sigma - b @ b.T) <= EXACT_RANK_TOLERANCE * scale:
            return b, True
    w, v = numpy.linalg.eigh(sigma)
    keep = w > max(-2 * w[0], 0)
    return v[:, keep] * numpy.sqrt(w[keep]), bool(w[0] >= -PSD_TOLERANCE * scale)


def trace_sqrt_product(sigma1, sigma2):
    """tr sqrtm(sigma1 sigma2) for positive semi-definite sigma1, sigma2, or None when one of
    them is not (then only TTUR's own computation says what it gives).

    With sigma1 = B B^T, sigma1 sigma2 = B (B^T sigma2) has the eigenvalues of the symmetric
    positive semi-definite M = B^T sigma2 B (and zeros), so tr sqrtm(sigma1 sigma2) is the sum
    of the square roots of M's eigenvalues: a Cholesky factorization and a symmetric
    eigenvalue problem instead of a Schur decomposition of a non-symmetric matrix (seconds
    instead of a minute at 2048 features). The factor of lower rank is used: with n < d
    images, M is n x n. Eigenvalues below zero are rounding of zeros: the square root of such
    an eigenvalue is imaginary, and TTUR keeps only the real part, 0.
    """
    b1, psd1 = psd_factor(sigma1)
    b2, psd2 = psd_factor(sigma2)
    if not (psd1 and psd2):
        return None
    b, other = (b1, sigma2) if b1.shape[1] <= b2.shape[1] else (b2, sigma1)
    if not b.shape[1]:
        return 0.0
    m = b.T @ other @ b
    eigenvalues = numpy.linalg.eigvalsh((m + m.T) / 2)
    scale = max(float(numpy.abs(eigenvalues).max()), numpy.finfo(numpy.float64).tiny)
    if eigenvalues[0] < -PSD_TOLERANCE * scale:
        return None
    return float(numpy.sqrt(numpy.clip(eigenvalues, 0, None)).sum())


def _ttur_trace(sigma1, sigma2, eps):
    """TTUR's own computation of tr sqrtm(sigma1 sigma2), for what is not a pair of
    covariances: scipy's sqrtm, the eps retry and the check of the imaginary part."""
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not numpy.isfinite(covmean).all():
        warnings.warn('fid calculation produces singular product; adding {} to diagonal of '
                      'cov estimates'.format(eps))
        offset = numpy.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if numpy.iscomplexobj(covmean):
        if not numpy.allclose(numpy.diagonal(covmean).imag, 0, atol=1e-3):
            raise InputError('FID: the square root of sigma1 sigma2 has an imaginary component '
                             'of {:.3g} (statistics of different features, or degenerate '
                             'ones?)'.format(numpy.max(numpy.abs(covmean.imag))))
        covmean = covmean.real
    return float(numpy.trace(covmean))


def _symmetric(sigma):
    """sigma made exactly symmetric if it is within SYMMETRY_TOLERANCE of its scale, else None."""
    if numpy.array_equal(sigma, sigma.T):  # computed statistics are
        return sigma
    scale = max(float(numpy.abs(sigma).max()), numpy.finfo(numpy.float64).tiny)
    if float(numpy.abs(sigma - sigma.T).max()) > SYMMETRY_TOLERANCE * scale:
        return None
    return (sigma + sigma.T) / 2


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """TTUR's calculate_frechet_distance in float64; returns a float.

    |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrtm(sigma1 sigma2), with the trace of the
    square root from trace_sqrt_product: TTUR's number to rounding (1e-12 relative with full
    rank covariances, about 1e-7 with fewer images than features, where TTUR's own number
    carries the square roots of rounding eigenvalues). TTUR's eps retry (sqrtm giving NaN or
    Inf, then eps added to both diagonals) is not taken: that failure comes from exact zeros
    in the Schur form of a singular product, a rounding accident that scipy releases do not
    even agree on; the trace computed here is the one TTUR gives whenever sqrtm succeeds.
    Inputs that are not covariances (not positive semi-definite) go through TTUR's own
    computation, its error for an imaginary component included.
    """
    mu1 = numpy.atleast_1d(numpy.asarray(mu1, dtype=numpy.float64))
    mu2 = numpy.atleast_1d(numpy.asarray(mu2, dtype=numpy.float64))
    sigma1 = numpy.atleast_2d(numpy.asarray(sigma1, dtype=numpy.float64))
    sigma2 = numpy.atleast_2d(numpy.asarray(sigma2, dtype=numpy.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise InputError('FID: the mean vectors have different lengths: {} and {}'.format(
            mu1.shape, mu2.shape))
    if sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise InputError('FID: the covariances have shapes {} and {}, expected {}'.format(
            sigma1.shape, sigma2.shape, mu1.shape * 2))
    for name, a in (('mu1', mu1), ('sigma1', sigma1), ('mu2', mu2), ('sigma2', sigma2)):
        if not numpy.isfinite(a).all():
            raise InputError('FID: {} contains NaN or Inf'.format(name))
    diff = mu1 - mu2
    symmetric = [_symmetric(s) for s in (sigma1, sigma2)]
    trace = None
    if all(s is not None for s in symmetric):
        trace = trace_sqrt_product(*symmetric)
    if trace is None:
        trace = _ttur_trace(sigma1, sigma2, eps)
    return float(diff.dot(diff) + numpy.trace(sigma1) + numpy.trace(sigma2) - 2 * trace)


def _check_real(a, path, key):
    if a.dtype.kind not in 'fiu' or a.dtype.hasobject:
        raise InputError('{}: {!r} has dtype {}, expected real numbers'.format(path, key, a.dtype))
    a = a.astype(numpy.float64)
    if not numpy.isfinite(a).all():
        raise InputError('{}: {!r} contains NaN or Inf'.format(path, key))
    return a


def check_statistics_shapes(mu_shape, sigma_shape, dim=None, where='statistics',
                            names=('mu', 'sigma')):
    """d, when `mu_shape` is (d,) and `sigma_shape` (d, d) with d == `dim` (any d >= 1 if
    None); else an InputError starting with `where` and naming the array. Shapes only, so
    that a file's headers are checked before its data is read (statsfile)."""
    mu_key, sigma_key = names
    if len(mu_shape) != 1 or mu_shape[0] < 1:
        raise InputError('{}: {!r} has shape {}, expected a vector (d,)'.format(
            where, mu_key, tuple(mu_shape)))
    d = mu_shape[0]
    if dim is not None and d != dim:
        raise InputError('{}: the statistics are of {} features, expected {}'.format(
            where, d, dim))
    if tuple(sigma_shape) != (d, d):
        raise InputError('{}: {!r} has shape {}, expected ({}, {}) to match {!r}'.format(
            where, sigma_key, tuple(sigma_shape), d, d, mu_key))
    return d


def check_statistics(mu, sigma, dim=None, where='statistics', names=('mu', 'sigma')):
    """(mu, sigma) in float64 if they are statistics of `dim` features (any size if None):
    shapes (d,) and (d, d), real and finite, sigma symmetric and positive semi-definite within
    float32 rounding; else an InputError starting with `where` and naming the array."""
    mu_key, sigma_key = names
    mu = _check_real(to_numpy(mu), where, mu_key)
    sigma = _check_real(to_numpy(sigma), where, sigma_key)
    check_statistics_shapes(mu.shape, sigma.shape, dim, where, names)
    scale = max(float(numpy.abs(sigma).max()), numpy.finfo(numpy.float64).tiny)
    asymmetry = float(numpy.abs(sigma - sigma.T).max())
    if asymmetry > SYMMETRY_TOLERANCE * scale:
        raise InputError('{}: {!r} is not symmetric (largest difference {:.3g} of {:.3g}): not a '
                         'covariance matrix'.format(where, sigma_key, asymmetry, scale))
    if asymmetry:
        sigma = (sigma + sigma.T) / 2
    if not psd_factor(sigma)[1]:
        lowest = float(numpy.linalg.eigvalsh(sigma)[0])  # for the message only
        raise InputError('{}: {!r} is not positive semi-definite (eigenvalue {:.3g} for a scale '
                         'of {:.3g}): not a covariance matrix'.format(
                             where, sigma_key, lowest, scale))
    return mu, sigma


def __getattr__(name):
    # The statistics files are read and written by statsfile.py; their names stay here too.
    if name in ('load_statistics', 'read_provenance', 'npz_keys', 'save_statistics',
                'STATISTICS_KEYS'):
        from inception_score import statsfile
        return getattr(statsfile, name)
    raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))
