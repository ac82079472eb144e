"""KID (Binkowski et al. 2018) exactly as torch-fidelity 0.4's metric_kid.py computes it.

torch-fidelity (`kid_features_to_metric`, defaults): `subsets` = 100 times, draw
`subset_size` = 1000 rows of the samples' features and then 1000 rows of the reference's,
each with `rng.choice(n, subset_size, replace=False)` of one `numpy.random.RandomState(2020)`;
on each pair, the polynomial kernel k(x, y) = (gamma x.y + coef0)^degree with degree 3,
gamma = 1 / dim (1/2048 for pool_3) and coef0 = 1, and the unbiased MMD^2 estimator

    (sum_{a != b} k(x_a, x_b) + sum_{a != b} k(y_a, y_b)) / (m (m - 1)) - 2 sum k(x_a, y_b) / m^2;

KID is the mean of the `subsets` estimates, and its std their numpy.std (ddof=0).

Here everything is float64 (torch-fidelity computes in the features' dtype: float64 features
give the same numbers to rounding). Two ways to the same sums, chosen by cost:
- per subset (torch-fidelity's way): three kernel blocks of m x m per subset;
- all pairs: every kernel value of the two sets once, tile by tile, each subset's sums taken
  with its 0/1 indicator vectors. For 2,000 + 2,000 images this is 25x less arithmetic than
  100 subsets of 1,000.
Either way memory is bounded by TILE_ROWS (a few tens of MB) besides the features themselves,
and all pairs are taken only while the indicators (subsets x N float64) fit INDICATOR_BYTES.
"""
import numpy

from inception_score.backend import to_numpy
from inception_score.errors import InputError, UsageError
from inception_score.fixes import fix, option

SUBSETS = 100
SUBSET_SIZE = 1000
SEED = 2020  # torch-fidelity's rng_seed
DEGREE = 3
COEF0 = 1.0
# Rows of each kernel tile: two float64 tiles of 1024 x 2048 (16 MB each) and a 1024 x 1024
# kernel block at a time.
TILE_ROWS = 1024
INDICATOR_BYTES = 64 << 20


def check_subsets(subsets, subset_size):
    """`subsets` >= 1 and `subset_size` >= 2 (the unbiased estimator divides by m (m - 1))."""
    for name, value, least in (('subsets', subsets, 1), ('subset_size', subset_size, 2)):
        if (isinstance(value, bool) or not isinstance(value, (int, numpy.integer))
                or value < least):
            raise UsageError('KID {} must be an integer >= {}, got {!r} ({})'.format(
                name, least, value, option('kid_' + name)))
    return int(subsets), int(subset_size)


def check_subset_size(n, subset_size, what='images'):
    """One line naming both numbers and the flag when `n` rows cannot give subsets of
    `subset_size` (drawn without replacement)."""
    if n < subset_size:
        raise UsageError('{} {} are too few for KID subsets of {}: pass {} or less'.format(
            n, what, subset_size, fix('kid_subset_size', n)))


def draw_subsets(n1, n2, subsets=SUBSETS, subset_size=SUBSET_SIZE, seed=SEED):
    """torch-fidelity's subsets: (rows of the samples, rows of the reference) for each, drawn
    in its order from one RandomState(seed) (RandomState's stream is fixed across numpy
    versions, so the subsets are too)."""
    rng = numpy.random.RandomState(seed)
    for _ in range(subsets):
        rows_1 = rng.choice(n1, subset_size, replace=False)
        rows_2 = rng.choice(n2, subset_size, replace=False)
        yield rows_1, rows_2


def _kernel(a, b, gamma, degree, coef0):
    """torch-fidelity's kernel_poly in float64: (a b^T * gamma + coef0) ** degree. `a @ a.T`
    (b is a) runs as BLAS's symmetric product, half the work."""
    k = a @ (a if b is a else b).T
    k *= gamma
    k += coef0
    return k ** degree


def _f64(x):
    return numpy.asarray(x, dtype=numpy.float64)


def _pair_sums(x, y, ind_x, ind_y, same, kernel):
    """For each row i of the 0/1 indicators: the sum of k(x_a, y_b) over a in ind_x[i] and b
    in ind_y[i], pairs a == b left out when `same` (then x is y and ind_x is ind_y). Tile by
    tile: a symmetric kernel's tiles above the diagonal are counted twice, those below skipped.
    """
    total = numpy.zeros(len(ind_x))
    for a0 in range(0, len(x), TILE_ROWS):
        a = _f64(x[a0:a0 + TILE_ROWS])
        for b0 in range(a0 if same else 0, len(y), TILE_ROWS):
            b = a if same and b0 == a0 else _f64(y[b0:b0 + TILE_ROWS])
            k = kernel(a, b)
            weight = 1.0
            if same and b0 == a0:
                numpy.fill_diagonal(k, 0.0)  # torch-fidelity's Kt sums drop the diagonal
            elif same:
                weight = 2.0
            part = numpy.einsum('ij,ij->i', ind_x[:, a0:a0 + len(a)] @ k,
                                ind_y[:, b0:b0 + len(b)])
            total += weight * part
    return total


def _indicators(draws, subsets, n1, n2):
    ind_x, ind_y = numpy.zeros((subsets, n1)), numpy.zeros((subsets, n2))
    for i, (rows_1, rows_2) in enumerate(draws):
        ind_x[i, rows_1] = 1.0
        ind_y[i, rows_2] = 1.0
    return ind_x, ind_y


def _mmd2(sum_xx, sum_yy, sum_xy, m):
    # torch-fidelity's mmd2(..., mmd_est='unbiased'), in its order of operations.
    mmd2 = (sum_xx + sum_yy) / (m * (m - 1))
    mmd2 -= 2 * sum_xy / (m * m)
    return mmd2


def _cheaper(n1, n2, subsets, m):
    """The way with fewer multiply-adds per feature (symmetric products counted half), all
    pairs only while its indicators fit INDICATOR_BYTES."""
    all_pairs = (n1 * n1 + n2 * n2) / 2 + n1 * n2
    fits = subsets * (n1 + n2) * 8 <= INDICATOR_BYTES
    return 'all_pairs' if fits and all_pairs < subsets * 2 * m * m else 'per_subset'


def kid_subsets(features, reference, subsets=SUBSETS, subset_size=SUBSET_SIZE, seed=SEED,
                degree=DEGREE, gamma=None, coef0=COEF0, method='auto'):
    """The unbiased MMD^2 of each of torch-fidelity's subsets, float64 (subsets,).

    features: the samples' (n1, dim) features (torch-fidelity's input 1); reference: the
        reference's (n2, dim) (its input 2). numpy or cupy, any real dtype; not modified.
    gamma: 1 / dim when None (torch-fidelity's default).
    method: 'per_subset', 'all_pairs' or 'auto' (the one with less arithmetic); the same
        numbers up to float64 rounding.
    """
    x, y = to_numpy(features), to_numpy(reference)
    for name, f in (('sample features', x), ('reference features', y)):
        if f.ndim != 2 or f.dtype.kind not in 'fiu':
            raise InputError('KID: {} must be a real (N, dim) array, got {} of shape {}'.format(
                name, f.dtype, f.shape))
    if x.shape[1] != y.shape[1]:
        raise InputError('KID: the sample and reference features differ in size: {} and '
                         '{}'.format(x.shape[1], y.shape[1]))
    for name, f in (('sample features', x), ('reference features', y)):
        if not numpy.isfinite(f).all():
            raise InputError('KID: the {} contain NaN or Inf'.format(name))
    subsets, m = check_subsets(subsets, subset_size)
    check_subset_size(len(x), m)
    check_subset_size(len(y), m, 'reference feature vectors')
    gamma = 1.0 / x.shape[1] if gamma is None else float(gamma)

    def kernel(a, b):
        return _kernel(a, b, gamma, degree, coef0)

    draws = draw_subsets(len(x), len(y), subsets, m, seed)
    if method == 'auto':
        method = _cheaper(len(x), len(y), subsets, m)
    if method == 'all_pairs':
        ind_x, ind_y = _indicators(draws, subsets, len(x), len(y))
        return _mmd2(_pair_sums(x, x, ind_x, ind_x, True, kernel),
                     _pair_sums(y, y, ind_y, ind_y, True, kernel),
                     _pair_sums(x, y, ind_x, ind_y, False, kernel), m)
    if method != 'per_subset':
        raise InputError("KID method must be 'auto', 'all_pairs' or 'per_subset', got "
                         '{!r}'.format(method))
    ones = numpy.ones((1, m))
    mmds = numpy.empty(subsets)
    for i, (rows_1, rows_2) in enumerate(draws):
        a, b = x[rows_1], y[rows_2]
        mmds[i] = _mmd2(_pair_sums(a, a, ones, ones, True, kernel)[0],
                        _pair_sums(b, b, ones, ones, True, kernel)[0],
                        _pair_sums(a, b, ones, ones, False, kernel)[0], m)
    return mmds


def kid(features, reference, subsets=SUBSETS, subset_size=SUBSET_SIZE, seed=SEED,
        degree=DEGREE, gamma=None, coef0=COEF0, method='auto'):
    """KID (mean, std) over torch-fidelity's subsets, as Python floats; see kid_subsets."""
    mmds = kid_subsets(features, reference, subsets, subset_size, seed, degree, gamma, coef0,
                       method)
    return float(numpy.mean(mmds)), float(numpy.std(mmds))
