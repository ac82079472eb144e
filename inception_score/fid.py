"""FID exactly as bioinf-jku/TTUR's fid.py computes it, from streamed statistics.

TTUR: mu = mean of the pool_3 features, sigma = np.cov(features, rowvar=False) (ddof=1),
FID = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 sigma2)) with scipy's sqrtm in
float64; a non-finite square root is retried with eps on both diagonals; an imaginary part on
the diagonal above 1e-3 is an error, below it the real part is used.

The statistics are three float64 sums (n, sum x, sum x x^T): they are updated batch by batch,
added across processes, and memory is O(dim^2) whatever the number of images.
Statistics files are TTUR's `.npz` (`mu`, `sigma`) or OpenAI's ADM reference batches (`mu`,
`sigma`, `mu_s`, `sigma_s` next to `arr_0` images); they are read without pickle.
"""
import re
import warnings
import zipfile

import numpy

from inception_score.backend import to_numpy
from inception_score.errors import InputError

# Relative tolerances for statistics read from files: float32-saved covariances are symmetric
# and PSD only up to their rounding (about 1e-7 of the scale, times sqrt(dim) for eigenvalues).
SYMMETRY_TOLERANCE = 1e-5
PSD_TOLERANCE = 1e-5
# Names our statistics and ADM's reference batches use for the arrays themselves ('pool_3':
# the feature vectors that --save-features keeps).
STATISTICS_KEYS = ('mu', 'sigma', 'mu_s', 'sigma_s', 'arr_0', 'pool_3')


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


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """TTUR's calculate_frechet_distance in float64; returns a float."""
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
    return float(diff.dot(diff) + numpy.trace(sigma1) + numpy.trace(sigma2)
                 - 2 * numpy.trace(covmean))


def _open_npz(path):
    try:
        with open(path, 'rb') as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise InputError('{}: no such statistics file'.format(path)) from None
    except IsADirectoryError:
        raise InputError('{}: is a directory, not a statistics file'.format(path)) from None
    except OSError as e:
        raise InputError('{}: cannot be read ({})'.format(path, e.strerror or e)) from None
    if magic == b'\x93NUMPY':
        raise InputError('{}: a single .npy array, expected an .npz with mu and sigma'.format(
            path))
    if not magic.startswith(b'PK'):
        raise InputError('{}: not an .npz file (TTUR statistics are an .npz with mu and '
                         'sigma)'.format(path))
    try:
        data = numpy.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError('{}: not a readable .npz file ({})'.format(
            path, str(e).splitlines()[0] if str(e) else type(e).__name__)) from None
    return data


def npz_keys(path):
    """The array names in an .npz (nothing is unpickled); one-line errors as load_statistics."""
    with _open_npz(path) as data:
        return set(data.files)


def _read_array(data, path, key):
    try:
        return data[key]
    except ValueError as e:
        if 'allow_pickle' in str(e):
            raise InputError('{}: {!r} is a pickled object array; refusing to unpickle it'.format(
                path, key)) from None
        raise InputError('{}: {!r} cannot be read ({})'.format(path, key, e)) from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise InputError('{}: {!r} is damaged ({})'.format(path, key, e)) from None


def _check_real(a, path, key):
    if a.dtype.kind not in 'fiu':
        raise InputError('{}: {!r} has dtype {}, expected real numbers'.format(path, key, a.dtype))
    a = a.astype(numpy.float64)
    if not numpy.isfinite(a).all():
        raise InputError('{}: {!r} contains NaN or Inf'.format(path, key))
    return a


def load_statistics(path, spatial=False, dim=None):
    """(mu, sigma) in float64 from a TTUR statistics file or an ADM reference batch.

    spatial=True reads ADM's sFID statistics (`mu_s`, `sigma_s`). `dim`, if given, is the
    feature size they must have (2048 for pool_3, 2023 for ADM's spatial features). The
    arrays are checked: shapes (d,) and (d, d), finite, sigma symmetric and positive
    semi-definite within float32 rounding; pickled arrays are refused.
    """
    mu_key, sigma_key = ('mu_s', 'sigma_s') if spatial else ('mu', 'sigma')
    with _open_npz(path) as data:
        keys = set(data.files)
        if (mu_key in keys) != (sigma_key in keys):
            present, absent = (mu_key, sigma_key) if mu_key in keys else (sigma_key, mu_key)
            raise InputError('{}: has {!r} but not {!r}: incomplete statistics'.format(
                path, present, absent))
        if mu_key not in keys:
            if 'arr_0' in keys:
                raise InputError('{}: an ADM reference batch without precomputed {!r} and {!r}: '
                                 'score its arr_0 images as the reference instead'.format(
                                     path, mu_key, sigma_key))
            raise InputError('{}: has neither {!r} and {!r} statistics nor arr_0 images '
                             '(found: {})'.format(path, mu_key, sigma_key,
                                                  ', '.join(sorted(keys)) or 'nothing'))
        mu = _read_array(data, path, mu_key)
        sigma = _read_array(data, path, sigma_key)
    return check_statistics(mu, sigma, dim=dim, where=path, names=(mu_key, sigma_key))


def check_statistics(mu, sigma, dim=None, where='statistics', names=('mu', 'sigma')):
    """(mu, sigma) in float64 if they are statistics of `dim` features (any size if None):
    shapes (d,) and (d, d), real and finite, sigma symmetric and positive semi-definite within
    float32 rounding; else an InputError starting with `where` and naming the array."""
    mu_key, sigma_key = names
    mu = _check_real(to_numpy(mu), where, mu_key)
    sigma = _check_real(to_numpy(sigma), where, sigma_key)
    if mu.ndim != 1 or mu.shape[0] < 1:
        raise InputError('{}: {!r} has shape {}, expected a vector (d,)'.format(
            where, mu_key, mu.shape))
    d = mu.shape[0]
    if dim is not None and d != dim:
        raise InputError('{}: the statistics are of {} features, expected {}'.format(
            where, d, dim))
    if sigma.shape != (d, d):
        raise InputError('{}: {!r} has shape {}, expected ({}, {}) to match {!r}'.format(
            where, sigma_key, sigma.shape, d, d, mu_key))
    scale = max(float(numpy.abs(sigma).max()), numpy.finfo(numpy.float64).tiny)
    asymmetry = float(numpy.abs(sigma - sigma.T).max())
    if asymmetry > SYMMETRY_TOLERANCE * scale:
        raise InputError('{}: {!r} is not symmetric (largest difference {:.3g} of {:.3g}): not a '
                         'covariance matrix'.format(where, sigma_key, asymmetry, scale))
    lowest = float(numpy.linalg.eigvalsh(sigma)[0])
    if lowest < -PSD_TOLERANCE * scale:
        raise InputError('{}: {!r} is not positive semi-definite (eigenvalue {:.3g} for a scale '
                         'of {:.3g}): not a covariance matrix'.format(
                             where, sigma_key, lowest, scale))
    return mu, sigma


def read_provenance(path):
    """The small entries next to the statistics (what `save_statistics` wrote, and the kind of
    file), as plain Python values; arrays are named by key only."""
    with _open_npz(path) as data:
        keys = list(data.files)
        info = {'format': 'adm-reference-batch' if 'arr_0' in keys else 'ttur-statistics',
                'keys': sorted(keys)}
        for key in keys:
            if key in STATISTICS_KEYS:
                continue
            a = _read_array(data, path, key)
            if a.ndim == 0 and a.dtype.kind in 'biufU':
                info[key] = a.item()
    return info


def _provenance_array(key, value):
    if isinstance(value, (bool, numpy.bool_, int, float, str, numpy.integer, numpy.floating)):
        return numpy.array(value)
    raise InputError('statistics provenance {!r} must be a string or a number, got {}'.format(
        key, type(value).__name__))


def save_statistics(path, mu, sigma, pool_3=None, **provenance):
    """Write TTUR-format statistics (`mu`, `sigma` in float64, plus scalar provenance entries)
    to exactly `path` (numpy.savez would append .npz to a name without it). `pool_3`: the
    (N, d) feature vectors too, float32, for KID and precision/recall against this file."""
    mu = numpy.asarray(mu, dtype=numpy.float64)
    sigma = numpy.asarray(sigma, dtype=numpy.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape * 2:
        raise InputError('statistics must be mu (d,) and sigma (d, d), got {} and {}'.format(
            mu.shape, sigma.shape))
    extra = {}
    if pool_3 is not None:
        extra['pool_3'] = numpy.asarray(pool_3, dtype=numpy.float32)
        if extra['pool_3'].ndim != 2 or extra['pool_3'].shape[1] != mu.shape[0]:
            raise InputError('feature vectors must be (N, {}), got {}'.format(
                mu.shape[0], extra['pool_3'].shape))
    for key, value in provenance.items():
        if key in STATISTICS_KEYS:
            raise InputError('statistics provenance cannot be named {!r}'.format(key))
        extra[key] = _provenance_array(key, value)
    with open(path, 'wb') as f:
        numpy.savez(f, mu=mu, sigma=sigma, **extra)
