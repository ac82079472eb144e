"""The reference set of FID, sFID and precision/recall, decided by what a path holds:

- a folder of images, an .npy of images, or an .npz whose `arr_0` holds images and no
  statistics: its features are computed in the same run, with the same options as the images
  scored;
- an .npz with `mu` and `sigma`: TTUR's statistics (e.g. fid_stats_cifar10_train.npz, or what
  `--save-stats` wrote);
- OpenAI's ADM reference batch: an .npz with `arr_0` images and precomputed `mu`, `sigma`,
  `mu_s`, `sigma_s`: its statistics are used as they are (as ADM's evaluator does), its images
  only where they are needed (precision/recall, or statistics it lacks);
- a named set (named.py): `cifar10-train` or `cifar10-test`, whose numbers are read from the
  dataset cache, or built there from CIFAR-10 once, when the run's model is known (prepare);
- statistics written with `--save-stats OUT.npz --save-features`: `mu`, `sigma` and the
  images' pool_3 feature vectors (`pool_3`, N x 2048), which give KID and precision/recall
  without the images. Statistics alone cannot give KID: it needs the feature vectors.

Everything is read and checked when the reference is opened, before any image is scored.
"""
import os

import numpy

from inception_score import adm, topology
from inception_score.errors import InputError, UsageError

METRICS = ('fid', 'sfid', 'precision_recall', 'kid')
METRIC_NAMES = {'fid': 'FID', 'sfid': 'sFID', 'precision_recall': 'precision/recall',
                'kid': 'KID'}
# Fewest reference images each metric can use: a covariance needs 2, k = 3 neighbours need 4,
# KID's unbiased estimator 2 per subset.
MIN_IMAGES = {'fid': 2, 'sfid': 2, 'precision_recall': adm.NHOOD_SIZE + 1, 'kid': 2}
# The metrics computed from every pool_3 feature vector (not from statistics).
FEATURE_METRICS = ('precision_recall', 'kid')
FEATURES_KEY = 'pool_3'  # the feature vectors' array in a statistics file (--save-features)
FEATURES_CHUNK_BYTES = 64 << 20  # feature rows read and checked at once


def check_metrics(metrics):
    """`metrics` as a tuple of names from METRICS (one-line UsageError otherwise)."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UsageError('unknown metric {!r}: choose from {}'.format(
            unknown[0], ', '.join(METRICS)))
    return metrics


class Reference:
    """What is known of a reference set.

    source: its images (a source from sources.py), or None when only statistics are known.
    statistics, spatial: (mu, sigma) of pool_3 and of ADM's spatial features as read from a
        file (float64), or None: then they are computed from `source`.
    provenance: plain values for the report (path, sha256, format, ...).
    features: the (N, 2048) float32 pool_3 feature vectors read from a file, or None: then
        KID and precision/recall compute them from `source`.
    """

    def __init__(self, source=None, statistics=None, spatial=None, provenance=None,
                 features=None):
        self.source = source
        self.statistics = statistics
        self.spatial = spatial
        self.provenance = dict(provenance or {})
        self.features = features

    @property
    def name(self):
        return self.provenance.get('path') or 'the reference'

    def needs_images(self, metrics):
        """Whether `metrics` need a pass over the reference images."""
        return ((self.features is None and any(m in metrics for m in FEATURE_METRICS))
                or ('fid' in metrics and self.statistics is None)
                or ('sfid' in metrics and self.spatial is None))

    def check(self, metrics, kid_subset_size=None):
        """Fail (one line) unless everything `metrics` need is here; returns self.
        kid_subset_size: KID's subsets must fit in the reference's feature vectors."""
        for metric in check_metrics(metrics):
            if metric in FEATURE_METRICS and self.features is not None:
                count, what = len(self.features), 'reference feature vectors'
            elif {'fid': self.statistics, 'sfid': self.spatial}.get(metric) is not None:
                continue
            elif self.source is None and metric == 'kid':
                raise UsageError(
                    '{}: KID needs the reference\'s pool_3 feature vectors, which statistics '
                    '(mu, sigma) do not hold: give its images, or statistics saved with '
                    '--save-stats OUT.npz --save-features'.format(self.name))
            elif self.source is None:
                raise InputError('{}: {} needs the reference images (or their statistics), '
                                 'which it does not hold'.format(self.name, METRIC_NAMES[metric]))
            else:
                count, what = len(self.source), 'reference images'
            if count < MIN_IMAGES[metric]:
                raise InputError('{}: {} needs at least {} {}, got {}'.format(
                    self.name, METRIC_NAMES[metric], MIN_IMAGES[metric], what, count))
            if metric == 'kid' and kid_subset_size is not None:
                from inception_score.kid import check_subset_size
                try:
                    check_subset_size(count, kid_subset_size, what)
                except UsageError as e:
                    raise UsageError('{}: {}'.format(self.name, e)) from None
        return self

    def describe(self, metrics):
        """The provenance, with where each statistic came from, for the report."""
        info = dict(self.provenance)
        if self.source is not None and self.needs_images(metrics):
            info['images'] = len(self.source)
            skipped = list(getattr(self.source, 'skipped', []))
            if skipped:
                info['skipped_files'] = skipped
        for metric, known in (('fid', self.statistics), ('sfid', self.spatial)):
            if metric in metrics:
                info[metric + '_statistics'] = 'file' if known is not None else 'images'
        if any(m in metrics for m in FEATURE_METRICS):
            info['pool_3_features'] = 'file' if self.features is not None else 'images'
            if self.features is not None:
                info['feature_vectors'] = len(self.features)
        return info


def _magic(path):
    from inception_score.io import open_regular
    with open_regular(path) as f:  # a FIFO fails at once instead of blocking
        return f.read(6)


def _file_provenance(path):
    from inception_score.fetch import sha256_file
    return {'path': path, 'sha256': sha256_file(path)}


def open_reference(path, metrics=('fid',), value_range=(0, 255), skip_bad=False,
                   allow_16bit=False, layout=None):
    """The Reference at `path` for `metrics` (see METRICS), read and checked now.

    Images are opened with the given options (those of the images scored); statistics files
    are checked by statsfile.StatisticsFile. Errors are one line naming the file.
    """
    from inception_score import named
    from inception_score.sources import FolderSource, load_array_file
    from inception_score.statsfile import open_statistics
    metrics = check_metrics(metrics)
    path = os.fspath(path)
    ref = named.open_named(path)  # a name of a set (named.SETS) that no path here shadows
    if ref is not None:
        return ref.check(metrics)
    if os.path.isdir(path):
        source = FolderSource(path, skip_bad=skip_bad, allow_16bit=allow_16bit)
        return Reference(source, provenance={'path': path, 'sha256': None,
                                             'format': 'image-folder'}).check(metrics)
    if not os.path.exists(path):
        raise UsageError('reference {} does not exist{}'.format(path, named.hint(path)))
    magic = _magic(path)
    if magic == b'\x93NUMPY':
        source = load_array_file(path, layout=layout, value_range=value_range)
        return Reference(source, provenance=dict(_file_provenance(path),
                                                 format='image-array')).check(metrics)
    if not magic.startswith(b'PK'):
        raise InputError('{}: neither a folder of images, an .npy/.npz of images nor an .npz '
                         'of FID statistics (mu, sigma)'.format(path))
    # One checked reading of the archive: its directory, then only the arrays needed.
    with open_statistics(path) as f:
        keys = f.keys
        reference = Reference(provenance=dict(f.provenance(), **_file_provenance(path)))
        if 'fid' in metrics and ({'mu', 'sigma'} & keys or 'arr_0' not in keys):
            reference.statistics = f.statistics(dim=topology.NUM_FEATURES)
        if 'sfid' in metrics and {'mu_s', 'sigma_s'} & keys:
            reference.spatial = f.statistics(spatial=True, dim=adm.SPATIAL_FEATURES)
    if any(m in metrics for m in FEATURE_METRICS) and FEATURES_KEY in keys:
        reference.features = load_features(path)
    if reference.needs_images(metrics) and 'arr_0' in keys:
        reference.source = load_array_file(path, key='arr_0', layout=layout,
                                           value_range=value_range)
    return reference.check(metrics)


def load_features(path, key=FEATURES_KEY, dim=topology.NUM_FEATURES):
    """The (N, dim) float feature vectors `key` of an .npz (what --save-features writes), as
    float32: the header is checked against the file before memory is spent (arrayfile.py),
    then the rows are read in chunks, each checked for NaN/Inf. N x dim x 4 bytes (8 KB a
    vector for pool_3)."""
    from inception_score.arrayfile import ArrayFile
    with ArrayFile(path, key=key) as f:
        if len(f.shape) != 2 or f.shape[1] != dim or f.dtype.kind != 'f':
            raise InputError('{} has dtype {} and shape {}: expected float pool_3 feature '
                             'vectors (N, {}), as --save-features writes them'.format(
                                 f.label, f.dtype, f.shape, dim))
        out = numpy.empty(f.shape, numpy.float32)
        step = max(1, FEATURES_CHUNK_BYTES // (dim * f.dtype.itemsize))
        for start in range(0, f.shape[0], step):
            rows = f.read(start, min(start + step, f.shape[0]))
            if not numpy.isfinite(rows).all():
                raise InputError('{} contains NaN or Inf (rows {}..{})'.format(
                    f.label, start, start + len(rows) - 1))
            out[start:start + len(rows)] = rows
    return out


def as_reference(reference, metrics=('fid',), value_range=(0, 255)):
    """A Reference from what the Python API accepts: None, a Reference, a path (see
    open_reference), a (mu, sigma) pair of pool_3 statistics, an (N, 2048) array of pool_3
    feature vectors (KID, precision/recall), or an (N, 3, H, W) image array in
    `value_range`."""
    from inception_score.fid import check_statistics
    from inception_score.sources import ArraySource
    metrics = check_metrics(metrics)
    if reference is None:
        return None
    if isinstance(reference, Reference):
        return reference.check(metrics)
    if isinstance(reference, (str, os.PathLike)):
        return open_reference(reference, metrics, value_range)
    if isinstance(reference, (tuple, list)) and len(reference) == 2:
        statistics = check_statistics(*reference, dim=topology.NUM_FEATURES,
                                      where='reference statistics')
        return Reference(statistics=statistics,
                         provenance={'format': 'statistics'}).check(metrics)
    if getattr(reference, 'ndim', None) == 2:
        return Reference(features=_checked_features(reference),
                         provenance={'format': 'features'}).check(metrics)
    if getattr(reference, 'ndim', None) == 4:
        source = ArraySource(reference, value_range, name='reference images')
        return Reference(source, provenance={'format': 'image-array'}).check(metrics)
    raise InputError('the reference must be a path, a (mu, sigma) pair or an (N, 3, H, W) '
                     'image array (or (N, 2048) pool_3 features), got {}'.format(
                         type(reference).__name__))


def _checked_features(features):
    from inception_score.backend import to_numpy
    x = to_numpy(features)
    if x.shape[1] != topology.NUM_FEATURES or x.dtype.kind not in 'fiu':
        raise InputError('reference features must be real pool_3 feature vectors (N, {}), got '
                         '{} of shape {}'.format(topology.NUM_FEATURES, x.dtype, x.shape))
    x = numpy.asarray(x, numpy.float32)
    if not numpy.isfinite(x).all():
        raise InputError('reference features contain NaN or Inf')
    return x


def load_fid_statistics(reference):
    """pool_3 (mu, sigma) from a statistics file path or a (mu, sigma) pair, checked."""
    ref = as_reference(reference, ('fid',))
    if ref.statistics is None:
        raise InputError('{}: give FID statistics (an .npz with mu and sigma, or a (mu, sigma) '
                         'pair), not images'.format(ref.name))
    return ref.statistics
