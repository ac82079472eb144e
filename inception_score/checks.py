"""Checks of what the caller asked for, before any work, and warnings on what was scored.

Errors are one line saying how to fix it (InputError, or UsageError for command-line
arguments); warnings are `InputWarning`s: the run goes on, the command line prints each as one
line on stderr and lists it in the JSON report.
"""
import warnings

import numpy

from inception_score.errors import InputError, InputWarning, UsageError
from inception_score.fixes import fix, option
from inception_score.resize import RESIZE_MODES


def check_resize(resize):
    """`resize` must name one of RESIZE_MODES ('bilinear' is TensorFlow's: 'tf1')."""
    if not isinstance(resize, str) or resize not in RESIZE_MODES:
        hint = (": the graph's own bilinear resize is 'tf1'" if resize in ('bilinear', 'tf')
                else '')
        raise InputError('resize must be one of {}, got {!r}{}'.format(
            ', '.join(repr(m) for m in RESIZE_MODES), resize, hint))
    return resize


def check_samples(samples, available):
    """The number of images to score: all of them, or `samples` (1 <= samples <= available)."""
    if samples is None:
        return available
    if (isinstance(samples, bool) or not isinstance(samples, (int, numpy.integer))
            or samples < 1):
        raise UsageError('{} must be an integer >= 1, got {!r}'.format(option('samples'),
                                                                        samples))
    if samples > available:
        raise UsageError('{} but only {} images are available'.format(
            fix('samples', samples), available))
    return int(samples)


def check_splits_usage(n, splits):
    """check_splits for command-line arguments: more splits than images is a usage error
    (exit 2), like --samples above what is there."""
    from inception_score.score import check_splits
    try:
        check_splits(n, splits)
    except InputError as e:
        raise UsageError(str(e)) from None


def images_from_list(ims):
    """A list or tuple of (H, W, 3) arrays (how the OpenAI reference takes images) as one
    (N, 3, H, W) array; anything else is returned unchanged for the usual checks."""
    if not isinstance(ims, (list, tuple)) or not ims:
        return ims
    if not all(hasattr(im, 'ndim') and hasattr(im, 'shape') for im in ims):
        return ims  # nested Python lists: the usual "must be an array" message
    shapes = {tuple(im.shape) for im in ims}
    if len(shapes) != 1:
        raise InputError('a list of images must hold arrays of one shape, got {} shapes (e.g. '
                         '{}): resize them to one size first, or save them as image files '
                         'in a folder and score the folder'.format(
                             len(shapes), ', '.join(str(s) for s in sorted(shapes)[:2])))
    shape = shapes.pop()
    if len(shape) != 3 or shape[2] != 3:
        raise InputError('a list of images must hold (H, W, 3) arrays, as the OpenAI reference '
                         'takes them; got {} of shape {}: pass one (N, 3, H, W) array '
                         'instead'.format(len(ims), shape))
    from inception_score.backend import get_array_module
    xp = get_array_module(ims[0])
    return xp.stack(ims).transpose(0, 3, 1, 2)


def warn(message):
    """Emit an InputWarning (the command line prints it as one line)."""
    warnings.warn(message, InputWarning, stacklevel=2)


# A part of m predictions scores at most m (each image's KL divergence from the part's mean
# prediction is at most log m): below this, the cap binds on the scores models reach (CIFAR-10's
# own images score 11.2) and the number says more about m than about the images.
MIN_SPLIT_IMAGES = 100


def _covariance_features():
    """(metric, label, features) of each metric comparing covariances: n images give a
    covariance of rank at most n - 1, full rank only from features + 1 images on."""
    from inception_score import adm, topology
    return (('fid', 'FID', topology.NUM_FEATURES), ('sfid', 'sFID', adm.SPATIAL_FEATURES))


def _covariance_note(dim):
    return ('the covariance of {} features needs {} images for full rank; from fewer, the '
            'distance is biased upward and comparable only with one from as many '
            'images'.format(dim, dim + 1))


def warn_small_samples(n, splits=None, split_size=None, metrics=(), statistics=False,
                       reference=None):
    """One InputWarning for each side whose numbers `n` images are too few to mean much: the
    Inception Score's parts, the covariances of the images scored (for `metrics`, and for the
    FID statistics saved when `statistics`), and those of the `reference` (a
    reference.Reference: its images, or the rank of the statistics read from its file)."""
    part = min(n, split_size) if split_size is not None else n // splits
    if part < MIN_SPLIT_IMAGES:
        rule = ('{} split{}'.format(splits, 's' if splits > 1 else '') if split_size is None
                else 'parts of {}'.format(split_size))
        warn('{} images in {}: a part of {} images scores at most {}, so the Inception Score '
             'says little about the images: score more images (the reference scores 50,000 '
             'in 10 splits of 5,000) or give {}'.format(
                 n, rule, part, part, 'fewer ' + option('splits') if split_size is None
                 else 'a larger ' + option('split_size')))
    needs = [(label, dim) for metric, label, dim in _covariance_features()
             if metric in metrics or (metric == 'fid' and statistics)]
    few = [(label, dim) for label, dim in needs if n <= dim]
    if few:
        dim = max(d for _, d in few)
        warn('{} images are too few for {}: {}: score at least {} images (50,000 is '
             'usual)'.format(n, ' and '.join(label for label, _ in few), _covariance_note(dim),
                             dim + 1))
    if reference is not None:
        _warn_small_reference(reference, metrics)


def _warn_small_reference(reference, metrics):
    from inception_score.fid import psd_factor
    images, ranks = [], []
    for metric, label, dim in _covariance_features():
        if metric not in metrics:
            continue
        known = {'fid': reference.statistics, 'sfid': reference.spatial}[metric]
        if known is not None:
            rank = psd_factor(known[1])[0].shape[1]
            if rank < dim:
                ranks.append((label, dim, rank))
        elif reference.source is not None and len(reference.source) <= dim:
            images.append((label, dim))
    if images:
        dim = max(d for _, d in images)
        warn('{}: {} reference images are too few for {}: {}: use at least {} reference '
             'images'.format(reference.name, len(reference.source),
                             ' and '.join(label for label, _ in images), _covariance_note(dim),
                             dim + 1))
    if ranks:
        warn('{}: its statistics for {} have rank {} (from at most {} images): {}: use '
             'statistics of at least {} images'.format(
                 reference.name, ' and '.join(label for label, _, _ in ranks),
                 ' and '.join('{} of {}'.format(r, d) for _, d, r in ranks),
                 max(r for _, _, r in ranks) + 1,
                 _covariance_note(max(d for _, d, _ in ranks)),
                 max(d for _, d, _ in ranks) + 1))


class UnitRangeWatch:
    """A source whose images, given in [-1, 1], are watched for never going below 0.

    Images in [0, 1] passed as [-1, 1] pass every range check but are scored as light,
    washed-out images: after the last batch of a full pass this warns (once) when no value
    was below 0. The batches themselves are passed on unchanged.
    """

    # 0 in [-1, 1] is 127.5 in the network's [0, 255] (exact in float32; resizes interpolate,
    # so they keep the minimum at or above it).
    _ZERO = 127.5

    def __init__(self, source, name, fix=None):
        self.source, self.name, self.fix = source, name, fix
        self.skipped = source.skipped

    def __len__(self):
        return len(self.source)

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        stop = len(self) if stop is None else stop
        lowest = numpy.inf
        for batch in self.source.batches(batch_size, stop, resize, start=start):
            lowest = min(lowest, float(batch.min()))
            yield batch
        if start == 0 and stop == len(self) and lowest >= self._ZERO:
            warn('{}: no value is below 0 although the range is [-1, 1]: images in [0, 1] '
                 'are scored as washed-out light images; if that is what they are, pass '
                 '{}'.format(self.name, self.fix or fix('value_range', (0, 1))))


def watch_unit_range(source, value_range, name, fix=None):
    """`source` wrapped in a UnitRangeWatch when its values are said to lie in [-1, 1]."""
    if tuple(float(v) for v in value_range) != (-1.0, 1.0):
        return source
    return UnitRangeWatch(source, name, fix)
