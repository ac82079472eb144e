"""Score images: batches through the core network, logits into the score (no Chainer needed).

`model` may be a core `Network`, a Chainer `Inception` (its current parameters are used) or
the path of a model file.
"""
import os

import numpy

from inception_score import topology
from inception_score.backend import to_numpy
from inception_score.errors import InputError, UsageError
from inception_score.score import ScoreAccumulator, check_split_size, check_splits

SHUFFLE_SEED = 2020  # torch-fidelity's default, so shuffled numbers are comparable


def as_network(model):
    """The core `Network` behind `model` (a Network, an Inception, or a model file path)."""
    from inception_score.network import Network
    if isinstance(model, Network):
        return model
    if isinstance(model, (str, os.PathLike)):
        from inception_score.modelfile import load_network
        return load_network(os.fspath(model))
    if callable(getattr(model, 'network', None)):
        return model.network()
    raise InputError('model must be an Inception (load_model(path)), a Network or the path of '
                     'a model file, got {}'.format(type(model).__name__))


def check_batch_size(batch_size):
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer))
            or batch_size < 1):
        raise InputError('batch_size must be an integer >= 1, got {!r}'.format(batch_size))


def _permutation(n, shuffle, seed):
    if not shuffle:
        return None
    return numpy.random.RandomState(SHUFFLE_SEED if seed is None else seed).permutation(n)


def shard(n, rank, size):
    """[start, stop) of process `rank`'s part of n items: contiguous, in rank order, sizes
    differing by at most one, no item duplicated (unlike scatter_dataset's equal lengths)."""
    start = rank * (n // size) + min(rank, n % size)
    return start, start + n // size + (rank < n % size)


def accumulate(model, batches, n, splits=10, shuffle=False, seed=None, progress=None,
               start=0, total=None, comm=None, permutation=None, observers=(),
               split_size=None, feeds=()):
    """Run `batches` (NCHW arrays in [0, 255]) through `model` into a ScoreAccumulator.

    The rows are the predictions start..start+n-1 of `total` (default n) in all; each batch
    is moved to the network's device by the network, its logits come back to the CPU. With a
    ChainerMN `comm`, the statistics of all processes are summed at the end. `permutation`
    (instead of shuffle/seed) orders the rows before splitting as ScoreAccumulator's does;
    each of `observers` gets `update(logits, row)` with every batch's logits too.
    split_size: ADM's parts of this many predictions instead of `splits` equal parts.
    feeds: more feeds (see feeds.py) filled from the same pass, e.g. FID statistics.
    """
    from inception_score.feeds import ScoreFeed
    network = as_network(model)
    total = n if total is None else total
    if split_size is None:
        check_splits(total, splits)
    if permutation is None:
        permutation = _permutation(total, shuffle, seed)
    acc = ScoreAccumulator(total, None if split_size is not None else splits,
                           num_classes=topology.NUM_CLASSES, permutation=permutation,
                           split_size=split_size)
    run_pass(network, batches, n, [ScoreFeed(acc, observers)] + list(feeds), start=start,
             progress=progress, comm=comm)
    return acc


def score_source(model, source, batch_size=100, splits=10, samples=None, shuffle=False,
                 seed=None, resize='tf1', progress=None, comm=None, observers=(),
                 sharded=False, split_size=None, feeds=()):
    """Score a source (see sources.py); returns the accumulator holding the split scores.

    samples: score N images: the first N, or with `shuffle` N drawn at random from all of
        them (see subset.py for the exact rule); all of them by default.
    comm: a ChainerMN communicator: each process scores its own shard (see `shard`) of the
        same source and all get the score of the whole; with `sharded=True` each process
        passes its own part instead (see `score_shards`).
    observers: objects fed every batch's logits (`update(logits, row)`), e.g. SpreadCheck.
    split_size, feeds: as in `accumulate` (ADM's fixed-size parts; more numbers from the
        same pass).
    """
    from inception_score.checks import check_resize, check_samples
    check_batch_size(batch_size)
    check_resize(resize)
    if sharded:
        if samples is not None:
            raise InputError('samples cannot be combined with sharded=True: pass each '
                             "process's part as it should be scored")
        return score_shards(model, source, comm, batch_size, splits, shuffle, seed, resize,
                            progress, split_size=split_size, feeds=feeds)
    n = check_samples(samples, len(source))
    if split_size is None:
        check_splits(n, splits)
    else:
        check_split_size(n, split_size)
    permutation = None
    if shuffle:
        from inception_score import subset
        source, permutation = subset.shuffled(source, n, SHUFFLE_SEED if seed is None else seed)
    if comm is not None:
        check_same_inputs(source, comm)
    start, stop = shard(n, comm.rank, comm.size) if comm is not None else (0, n)
    return accumulate(as_network(model), source.batches(batch_size, stop, resize, start=start),
                      stop - start, splits, progress=progress, start=start, total=n,
                      comm=comm, permutation=permutation, observers=observers,
                      split_size=split_size, feeds=feeds)


def _gathered(comm, values):
    """Every process's `values` (a short float vector), as rows in rank order, on every
    process (one allreduce, as the score's statistics are summed)."""
    mine = numpy.zeros((comm.size, len(values)))
    mine[comm.rank] = values
    return numpy.asarray(comm.allreduce(mine), dtype=numpy.float64).reshape(mine.shape)


def _fingerprint(source):
    """A checksum of the first and last images (0 for an empty source)."""
    import zlib
    if not len(source):
        return 0.0
    first = next(iter(source.batches(1, 1)))
    last = next(iter(source.batches(1, len(source), start=len(source) - 1)))
    return float(zlib.crc32(to_numpy(last).tobytes(), zlib.crc32(to_numpy(first).tobytes())))


def check_same_inputs(source, comm):
    """Without sharded=True every process must pass the same images: say what to pass when
    the processes' images differ in number (or in their first or last image)."""
    rows = _gathered(comm, [len(source), _fingerprint(source)])
    lengths = [int(n) for n in rows[:, 0]]
    if len(set(lengths)) > 1:
        raise InputError(
            'the processes passed different numbers of images ({}): if each passes its own '
            'part (as scatter_dataset gives), pass sharded=True; otherwise pass the same '
            'images on every process'.format(', '.join(str(n) for n in lengths)))
    if len(set(rows[:, 1])) > 1:
        raise InputError(
            'the processes passed different images ({} each): if each passes its own part, '
            'pass sharded=True; otherwise pass the same images on every process'.format(
                lengths[0]))


class _NoImages:
    skipped = []

    def __len__(self):
        return 0

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        return iter(())


def _built_everywhere(build, comm):
    """build() on every process of `comm`; an InputError on one of them is raised on all
    (a process must not wait forever in a collective call for one that failed)."""
    try:
        source, failed = build(), None
    except InputError as e:
        source, failed = None, e
    refused = _gathered(comm, [failed is not None])[:, 0]
    if failed is not None:
        raise failed
    if refused.any():
        raise InputError('process {} refused its images (see its message): nothing was '
                         'scored'.format(', '.join(str(r) for r in numpy.flatnonzero(refused))))
    return source


def score_shards(model, source, comm, batch_size=100, splits=10, shuffle=False, seed=None,
                 resize='tf1', progress=None, split_size=None, feeds=()):
    """Each process of `comm` scores its own `source`; the result is the score of all of
    them concatenated in rank order (rank 0's images first), on every process."""
    if comm is None:
        raise InputError('sharded=True needs comm (a ChainerMN communicator)')
    lengths = _gathered(comm, [len(source)])[:, 0].astype(numpy.int64)
    total, start = int(lengths.sum()), int(lengths[:comm.rank].sum())
    if split_size is None:
        check_splits(total, splits)
    else:
        check_split_size(total, split_size)
    return accumulate(as_network(model), source.batches(batch_size, resize=resize),
                      len(source), splits, shuffle, seed, progress, start=start, total=total,
                      comm=comm, split_size=split_size, feeds=feeds)


def inception_score(model, ims, batch_size=100, splits=10, value_range=(0, 255),
                    shuffle=False, seed=None, resize='tf1', progress=None, comm=None,
                    sharded=False):
    """Inception Score (mean, std) of `ims` exactly as openai/improved-gan computes it.

    model: an `Inception` (on CPU or GPU; each batch is moved to its device), a core
        `Network` or the path of a model file.
    ims: numpy or cupy array (N, 3, H, W), uint8 or float in `value_range` (default [0, 255]),
        any H and W (resized to 299x299 as the TF graph does), or a list of (H, W, 3) arrays
        of one size (as the OpenAI reference takes them). It is never modified. Data that
        never goes below 0 passed with value_range=(-1, 1) warns (InputWarning).
    splits: contiguous parts, preds[i*N//splits:(i+1)*N//splits]; `shuffle=True` permutes the
        predictions first with RandomState(seed) (seed 2020 by default, as torch-fidelity).
    resize: 'tf1' (the graph's own bilinear, default), 'clean' (clean-fid's PIL bicubic),
        'pil' or 'nearest' (to reproduce other tools); anything else is an InputError.
    progress: optional callable(done, total) called after each batch.
    comm: a ChainerMN communicator: each process passes the same `ims` and scores its shard
        (in rank order), and every process returns the score of all of them.
    sharded: with `comm`, each process passes its own part instead (as scatter_dataset gives
        it; the lengths may differ): the result is the score of the parts concatenated in
        rank order, the same as one process scoring that concatenation.
    Returns (mean, std) with std over the splits with ddof=0.
    """
    from inception_score.checks import images_from_list, watch_unit_range
    from inception_score.sources import ArraySource

    def build():
        ims_ = images_from_list(ims)
        if sharded and getattr(ims_, 'shape', (1,))[0] == 0:
            return _NoImages()  # a process may have no part (more processes than images)
        return watch_unit_range(ArraySource(ims_, value_range), value_range, 'images')

    source = build() if comm is None else _built_everywhere(build, comm)
    acc = score_source(model, source, batch_size, splits, shuffle=shuffle, seed=seed,
                       resize=resize, progress=progress, comm=comm, sharded=sharded)
    return acc.result()


def inception_score_from_batches(model, batches, n, splits=10, value_range=(0, 255),
                                 shuffle=False, seed=None, progress=None):
    """Score `n` images given as an iterable (or a callable returning one) of NCHW batches.

    For generators in Chainer code: memory stays O(batch), whatever n is. Each batch is
    checked like an array passed to `inception_score`.
    """
    from inception_score.io import check_images, to_pixel_range
    if callable(batches):
        batches = batches()

    def checked():
        for batch in batches:
            yield to_pixel_range(check_images(batch, value_range), value_range)

    return accumulate(model, checked(), n, splits, shuffle, seed, progress).result()


# ---------------------------------------------------------------------------------------------
# One pass, every number: the Inception Score, the class counts, FID, sFID, precision/recall.

def run_pass(network, batches, n, feeds, start=0, progress=None, comm=None):
    """Run `batches` through `network` once, asking only for the nodes `feeds` read, and
    give every feed the outputs of every batch (rows start, start+1, ...). `n` rows must come;
    with a ChainerMN `comm`, the feeds are summed over all processes at the end."""
    from inception_score.feeds import nodes_of
    nodes = nodes_of(feeds)
    done = 0
    try:
        for batch in batches:
            if done + len(batch) > n:
                raise InputError('the images yield more than the {} announced'.format(n))
            outputs = network.forward(batch, nodes)
            for feed in feeds:
                feed.update(outputs, start + done)
            done += len(batch)
            if progress is not None:
                progress(done, n)
    finally:
        # Stopped early (an error, Ctrl-C): a decoding thread behind `batches` ends now, not
        # when the garbage collector (or the interpreter's exit) gets to it.
        close = getattr(batches, 'close', None)
        if close is not None:
            close()
    if done != n:
        raise InputError('the images yielded {} of the {} announced'.format(done, n))
    if comm is not None:
        for feed in feeds:
            feed.allreduce(comm)
    return feeds


def run_source(model, source, feeds, batch_size=100, resize='tf1', progress=None, comm=None):
    """One pass over every image of `source` into `feeds` (each process its shard with a
    ChainerMN `comm`); returns the feeds."""
    check_batch_size(batch_size)
    n = len(source)
    start, stop = shard(n, comm.rank, comm.size) if comm is not None else (0, n)
    return run_pass(as_network(model), source.batches(batch_size, stop, resize, start=start),
                    stop - start, feeds, start=start, progress=progress, comm=comm)


class Evaluation:
    """What one pass over the images gave, and the reference's numbers beside it.

    score: the ScoreAccumulator (split scores); classes: the ClassCounter; statistics: pool_3
    (mu, sigma) of the images when computed; reference: the Reference (reference.py) or None;
    metrics: the metrics asked for; features: the images' pool_3 vectors when kept (N, 2048).
    `fid`, `sfid`, `precision` and `recall` are floats, `kid` a (mean, std) pair (None when
    not asked for), computed when first read: the matrix square roots, the distance blocks
    and the kernels are the expensive part.
    """

    def __init__(self, score, classes, metrics=(), reference=None, statistics=None,
                 features=None, kid_subsets=None, kid_subset_size=None):
        from inception_score import kid
        self.score = score
        self.classes = classes
        self.metrics = tuple(metrics)
        self.reference = reference
        self.statistics = statistics
        self.features = features
        self.kid_subsets = kid.SUBSETS if kid_subsets is None else kid_subsets
        self.kid_subset_size = kid.SUBSET_SIZE if kid_subset_size is None else kid_subset_size
        self._inputs = {}   # metric -> (samples' numbers, reference's numbers)
        self._values = {}

    def compare(self, metric, ours, reference):
        """Set what `metric` compares: the images' numbers (pool_3 or spatial statistics, or
        pool_3 features for 'precision_recall') and the reference's."""
        self._inputs[metric] = (ours, reference)
        self._values.pop(metric, None)

    def _value(self, metric):
        from inception_score import adm
        from inception_score.fid import frechet_distance
        if metric not in self._inputs:
            return None
        if metric not in self._values:
            ours, theirs = self._inputs[metric]
            if metric == 'precision_recall':
                self._values[metric] = adm.precision_recall(theirs, ours)
            elif metric == 'kid':
                from inception_score.kid import kid
                self._values[metric] = kid(ours, theirs, self.kid_subsets,
                                           self.kid_subset_size)
            else:
                self._values[metric] = frechet_distance(*ours, *theirs)
        return self._values[metric]

    @property
    def fid(self):
        return self._value('fid')

    @property
    def sfid(self):
        return self._value('sfid')

    @property
    def precision(self):
        pr = self._value('precision_recall')
        return None if pr is None else pr[0]

    @property
    def recall(self):
        pr = self._value('precision_recall')
        return None if pr is None else pr[1]

    @property
    def kid(self):
        """KID (mean, std) over torch-fidelity's subsets (kid.py), or None."""
        return self._value('kid')

    @property
    def split_rule(self):
        """'splits=10' (the reference's equal parts) or 'split_size=5000' (ADM's parts)."""
        if self.score.split_size is not None:
            return 'split_size={}'.format(self.score.split_size)
        return 'splits={}'.format(self.score.splits)

    def summary(self, names=None, top=10):
        """The numbers as plain Python values (the JSON report's keys): class `names` (one
        per output; index placeholders by default) label the `top` classes predicted."""
        from inception_score.labels import placeholder_names, prediction_summary
        mean, std = self.score.result()
        names = placeholder_names(self.classes.num_classes) if names is None else list(names)
        out = {
            'inception_score': {'mean': mean, 'std': std},
            'split_scores': [float(s) for s in self.score.split_scores()],
            'split_rule': self.split_rule,
            'n': self.score.n,
            'splits': self.score.splits,
            'predictions': prediction_summary(self.classes.counts, names, top=top,
                                              marginal=self.score.marginal()),
        }
        for key in ('fid', 'sfid', 'precision', 'recall'):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.kid is not None:
            out['kid'] = {'mean': self.kid[0], 'std': self.kid[1],
                          'subsets': self.kid_subsets, 'subset_size': self.kid_subset_size}
        if self.reference is not None:
            out['reference'] = self.reference.describe(self.metrics)
        return out


def _reference_numbers(network, reference, metrics, batch_size, resize, progress, comm):
    """{'fid': (mu, sigma), 'sfid': (mu_s, sigma_s), 'features': pool_3 rows} of the
    reference for `metrics`: from its file where it has them, the rest from one pass over
    its images."""
    from inception_score.feeds import FeatureFeed, StatisticsFeed
    from inception_score.reference import FEATURE_METRICS
    numbers = {'fid': reference.statistics, 'sfid': reference.spatial,
               'features': reference.features}
    feeds = {}
    if 'fid' in metrics and reference.statistics is None:
        feeds['fid'] = StatisticsFeed.pool_3()
    if 'sfid' in metrics and reference.spatial is None:
        feeds['sfid'] = StatisticsFeed.spatial()
    if any(m in metrics for m in FEATURE_METRICS) and reference.features is None:
        feeds['features'] = FeatureFeed(len(reference.source))
    if feeds:
        run_source(network, reference.source, list(feeds.values()), batch_size, resize,
                   progress, comm)
    for key, feed in feeds.items():
        numbers[key] = feed.result() if key == 'features' else feed.statistics()
    return numbers


def reference_features(model, reference, batch_size=100, resize='tf1', progress=None,
                       comm=None):
    """The (N, 2048) float32 pool_3 features of a Reference (reference.py): those its file
    holds, else one pass over its images (each process its shard with a ChainerMN comm)."""
    return _reference_numbers(as_network(model), reference, ('kid',), batch_size, resize,
                              progress, comm)['features']


def evaluate_source(model, source, reference=None, metrics=None, batch_size=100, splits=None,
                    split_size=None, samples=None, shuffle=False, seed=None, resize='tf1',
                    statistics=False, progress=None, reference_progress=None, comm=None,
                    observers=(), kid_subsets=None, kid_subset_size=None, features=False):
    """Score `source` and compare it with `reference` from one pass over its images.

    reference: see reference.as_reference (a path: folder, image file, TTUR statistics or
        ADM reference batch; a (mu, sigma) pair; an image array in [0, 255]).
    metrics: some of 'fid', 'sfid', 'precision_recall', 'kid' (default: 'fid' when a
        reference is given). The Inception Score and the class counts always come.
    splits / split_size: the reference's equal parts (10 by default) or ADM's fixed-size ones.
    statistics: also compute the images' pool_3 statistics without a reference (to save them).
    observers: as in `score_source` (fed every batch's logits).
    kid_subsets, kid_subset_size: KID's subsets (torch-fidelity's 100 of 1000 by default);
        both sets must hold at least kid_subset_size images.
    features: also keep the images' pool_3 vectors without KID or precision/recall (to save
        them with the statistics).
    The network is asked for logits, plus pool_3 for FID, KID or precision/recall, plus
    mixed_6/conv for sFID; KID and precision/recall keep every pool_3 vector (float32, 8 KB an
    image, for the images and the reference). The reference's images, when needed, are scored
    afterwards with the same batch size and resize. Returns an Evaluation.
    """
    from inception_score.checks import check_samples
    from inception_score.feeds import ClassFeed, FeatureFeed, StatisticsFeed
    from inception_score.labels import ClassCounter
    from inception_score import kid
    from inception_score.reference import (FEATURE_METRICS, MIN_IMAGES, METRIC_NAMES,
                                           as_reference, check_metrics)
    metrics = check_metrics(('fid',) if metrics is None and reference is not None
                            else metrics or ())
    if metrics and reference is None:
        raise UsageError('{} needs a reference'.format(', '.join(metrics)))
    if splits is not None and split_size is not None:
        raise UsageError('give splits or split_size, not both')
    splits = 10 if splits is None and split_size is None else splits
    reference = as_reference(reference, metrics,
                             getattr(source, 'value_range', (0, 255)))
    n = check_samples(samples, len(source))
    least, what = max([(MIN_IMAGES[m], METRIC_NAMES[m]) for m in metrics]
                      + [(MIN_IMAGES['fid'] if statistics else 1, 'FID statistics')])
    if n < least:
        raise InputError('{} images are too few: {} needs at least {}'.format(n, what, least))
    if 'kid' in metrics:
        kid_subsets, kid_subset_size = kid.check_subsets(
            kid.SUBSETS if kid_subsets is None else kid_subsets,
            kid.SUBSET_SIZE if kid_subset_size is None else kid_subset_size)
        kid.check_subset_size(n, kid_subset_size)
    network = as_network(model)
    if callable(getattr(reference, 'prepare', None)):
        # A named set (named.py): its numbers from the cache of this model's weights and
        # resize, or built there now, before the images are scored.
        reference.prepare(model, metrics, batch_size, resize, reference_progress, comm,
                          network=network)
    if 'kid' in metrics:
        reference.check(metrics, kid_subset_size)
    counter = ClassCounter()
    feeds = {'classes': ClassFeed(counter)}
    if 'fid' in metrics or statistics:
        feeds['fid'] = StatisticsFeed.pool_3()
    if 'sfid' in metrics:
        feeds['sfid'] = StatisticsFeed.spatial()
    if features or any(m in metrics for m in FEATURE_METRICS):
        feeds['features'] = FeatureFeed(n)
    acc = score_source(network, source, batch_size, splits, samples=samples, shuffle=shuffle,
                       seed=seed, resize=resize, progress=progress, comm=comm,
                       observers=observers, split_size=split_size,
                       feeds=list(feeds.values()))
    result = Evaluation(acc, counter, metrics, reference,
                        feeds['fid'].statistics() if 'fid' in feeds else None,
                        feeds['features'].result() if 'features' in feeds else None,
                        kid_subsets, kid_subset_size)
    if not metrics:
        return result
    ref = _reference_numbers(network, reference, metrics, batch_size, resize,
                             reference_progress, comm)
    if 'fid' in metrics:
        result.compare('fid', result.statistics, ref['fid'])
    if 'sfid' in metrics:
        result.compare('sfid', feeds['sfid'].statistics(), ref['sfid'])
    if 'precision_recall' in metrics:
        result.compare('precision_recall', result.features, ref['features'])
    if 'kid' in metrics:
        result.compare('kid', result.features, ref['features'])
    return result


def evaluate_images(model, ims, reference=None, metrics=None, batch_size=100, splits=None,
                    split_size=None, value_range=(0, 255), shuffle=False, seed=None,
                    resize='tf1', class_names=None, top=10, statistics=False, progress=None,
                    comm=None, kid_subsets=None, kid_subset_size=None):
    """The Inception Score, FID and the rest of `ims` from one pass, as a dict.

    ims, value_range, shuffle, seed, resize, progress, comm: as `inception_score`.
    reference, metrics, splits, split_size, statistics, kid_subsets, kid_subset_size: as
        `evaluate_source`; e.g.
        evaluate_images(model, ims, reference='fid_stats_cifar10_train.npz')['fid']
        evaluate_images(model, ims, reference='real/', metrics=('fid', 'kid'))['kid']['mean']
        evaluate_images(model, ims, reference='VIRTUAL_imagenet256_labeled.npz',
                        metrics=('fid', 'sfid', 'precision_recall'), split_size=5000)
    class_names: one name per output for the top classes (default: those stored in the model
        file when `model` is its path, else index placeholders); top: how many to list.
    Returns {'inception_score': {'mean', 'std'}, 'split_scores', 'split_rule', 'n', 'splits',
    'predictions': {...}, and 'fid', 'sfid', 'precision', 'recall', 'kid' ({'mean', 'std',
    'subsets', 'subset_size'}), 'reference' when computed};
    with statistics=True also 'statistics': {'mu', 'sigma'} (float64 arrays).
    """
    from inception_score.sources import ArraySource
    source = ArraySource(ims, value_range)
    if class_names is None and isinstance(model, (str, os.PathLike)):
        from inception_score.modelfile import read_class_names
        class_names = read_class_names(os.fspath(model))
    result = evaluate_source(model, source, reference, metrics, batch_size, splits, split_size,
                             shuffle=shuffle, seed=seed, resize=resize, statistics=statistics,
                             progress=progress, comm=comm, kid_subsets=kid_subsets,
                             kid_subset_size=kid_subset_size)
    out = result.summary(class_names, top)
    if statistics:
        out['statistics'] = {'mu': result.statistics[0], 'sigma': result.statistics[1]}
    return out
