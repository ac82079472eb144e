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
               start=0, total=None, comm=None, split_size=None, feeds=()):
    """Run `batches` (NCHW arrays in [0, 255]) through `model` into a ScoreAccumulator.

    The rows are the predictions start..start+n-1 of `total` (default n) in all; each batch
    is moved to the network's device by the network, its logits come back to the CPU. With a
    ChainerMN `comm`, the statistics of all processes are summed at the end.
    split_size: ADM's parts of this many predictions instead of `splits` equal parts.
    feeds: more feeds (see feeds.py) filled from the same pass, e.g. FID statistics.
    """
    network = as_network(model)
    total = n if total is None else total
    if split_size is None:
        check_splits(total, splits)
    acc = ScoreAccumulator(total, None if split_size is not None else splits,
                           num_classes=topology.NUM_CLASSES,
                           permutation=_permutation(total, shuffle, seed), split_size=split_size)
    from inception_score.feeds import ScoreFeed
    run_pass(network, batches, n, [ScoreFeed(acc)] + list(feeds), start=start,
             progress=progress, comm=comm)
    return acc


def score_source(model, source, batch_size=100, splits=10, samples=None, shuffle=False,
                 seed=None, resize='tf1', progress=None, comm=None, split_size=None, feeds=()):
    """Score a source (see sources.py); returns the accumulator holding the split scores.

    With a ChainerMN `comm`, each process scores its own shard (see `shard`) and all get the
    score of the whole. `split_size` and `feeds` as in `accumulate`.
    """
    check_batch_size(batch_size)
    n = len(source) if samples is None else samples
    if samples is not None and not 1 <= samples <= len(source):
        raise UsageError('--samples {} but only {} images are available'.format(
            samples, len(source)))
    if split_size is None:
        check_splits(n, splits)
    else:
        check_split_size(n, split_size)
    start, stop = shard(n, comm.rank, comm.size) if comm is not None else (0, n)
    return accumulate(as_network(model), source.batches(batch_size, stop, resize, start=start),
                      stop - start, splits, shuffle, seed, progress, start=start, total=n,
                      comm=comm, split_size=split_size, feeds=feeds)


def inception_score(model, ims, batch_size=100, splits=10, value_range=(0, 255),
                    shuffle=False, seed=None, resize='tf1', progress=None, comm=None):
    """Inception Score (mean, std) of `ims` exactly as openai/improved-gan computes it.

    model: an `Inception` (on CPU or GPU; each batch is moved to its device), a core
        `Network` or the path of a model file.
    ims: numpy or cupy array (N, 3, H, W), uint8 or float in `value_range` (default [0, 255]),
        any H and W (resized to 299x299 as the TF graph does). It is never modified.
    splits: contiguous parts, preds[i*N//splits:(i+1)*N//splits]; `shuffle=True` permutes the
        predictions first with RandomState(seed) (seed 2020 by default, as torch-fidelity).
    resize: 'tf1' (the graph's own, default), 'pil' or 'nearest' (to reproduce other tools).
    progress: optional callable(done, total) called after each batch.
    comm: a ChainerMN communicator: each process scores its shard of `ims` (in rank order),
        and every process returns the score of all of them.
    Returns (mean, std) with std over the splits with ddof=0.
    """
    from inception_score.sources import ArraySource
    source = ArraySource(ims, value_range)
    acc = score_source(model, source, batch_size, splits, shuffle=shuffle, seed=seed,
                       resize=resize, progress=progress, comm=comm)
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
    for batch in batches:
        if done + len(batch) > n:
            raise InputError('the images yield more than the {} announced'.format(n))
        outputs = network.forward(batch, nodes)
        for feed in feeds:
            feed.update(outputs, start + done)
        done += len(batch)
        if progress is not None:
            progress(done, n)
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
    metrics: the metrics asked for. `fid`, `sfid`, `precision` and `recall` are floats (None
    when not asked for), computed when first read: the matrix square roots and the distance
    blocks are the expensive part.
    """

    def __init__(self, score, classes, metrics=(), reference=None, statistics=None):
        self.score = score
        self.classes = classes
        self.metrics = tuple(metrics)
        self.reference = reference
        self.statistics = statistics
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
        if self.reference is not None:
            out['reference'] = self.reference.describe(self.metrics)
        return out


def _reference_numbers(network, reference, metrics, batch_size, resize, progress, comm):
    """{'fid': (mu, sigma), 'sfid': (mu_s, sigma_s), 'features': pool_3 rows} of the
    reference for `metrics`: from its file where it has them, the rest from one pass over
    its images."""
    from inception_score.feeds import FeatureFeed, StatisticsFeed
    numbers = {'fid': reference.statistics, 'sfid': reference.spatial}
    feeds = {}
    if 'fid' in metrics and reference.statistics is None:
        feeds['fid'] = StatisticsFeed.pool_3()
    if 'sfid' in metrics and reference.spatial is None:
        feeds['sfid'] = StatisticsFeed.spatial()
    if 'precision_recall' in metrics:
        feeds['features'] = FeatureFeed(len(reference.source))
    if feeds:
        run_source(network, reference.source, list(feeds.values()), batch_size, resize,
                   progress, comm)
    for key, feed in feeds.items():
        numbers[key] = feed.result() if key == 'features' else feed.statistics()
    return numbers


def evaluate_source(model, source, reference=None, metrics=None, batch_size=100, splits=None,
                    split_size=None, samples=None, shuffle=False, seed=None, resize='tf1',
                    statistics=False, progress=None, reference_progress=None, comm=None):
    """Score `source` and compare it with `reference` from one pass over its images.

    reference: see reference.as_reference (a path: folder, image file, TTUR statistics or
        ADM reference batch; a (mu, sigma) pair; an image array in [0, 255]).
    metrics: some of 'fid', 'sfid', 'precision_recall' (default: 'fid' when a reference is
        given). The Inception Score and the class counts always come.
    splits / split_size: the reference's equal parts (10 by default) or ADM's fixed-size ones.
    statistics: also compute the images' pool_3 statistics without a reference (to save them).
    The network is asked for logits, plus pool_3 for FID or precision/recall, plus
    mixed_6/conv for sFID; precision/recall keeps every pool_3 vector (8 KB an image, for the
    images and the reference). The reference's images, when needed, are scored afterwards with
    the same batch size and resize. Returns an Evaluation.
    """
    from inception_score.feeds import ClassFeed, FeatureFeed, StatisticsFeed
    from inception_score.labels import ClassCounter
    from inception_score.reference import MIN_IMAGES, METRIC_NAMES, as_reference, check_metrics
    metrics = check_metrics(('fid',) if metrics is None and reference is not None
                            else metrics or ())
    if metrics and reference is None:
        raise UsageError('{} needs a reference'.format(', '.join(metrics)))
    if splits is not None and split_size is not None:
        raise UsageError('give splits or split_size, not both')
    splits = 10 if splits is None and split_size is None else splits
    reference = as_reference(reference, metrics,
                             getattr(source, 'value_range', (0, 255)))
    n = len(source) if samples is None else samples
    least, what = max([(MIN_IMAGES[m], METRIC_NAMES[m]) for m in metrics]
                      + [(MIN_IMAGES['fid'] if statistics else 1, 'FID statistics')])
    if n < least:
        raise InputError('{} images are too few: {} needs at least {}'.format(n, what, least))
    network = as_network(model)
    counter = ClassCounter()
    feeds = {'classes': ClassFeed(counter)}
    if 'fid' in metrics or statistics:
        feeds['fid'] = StatisticsFeed.pool_3()
    if 'sfid' in metrics:
        feeds['sfid'] = StatisticsFeed.spatial()
    if 'precision_recall' in metrics:
        feeds['features'] = FeatureFeed(n)
    acc = score_source(network, source, batch_size, splits, samples=samples, shuffle=shuffle,
                       seed=seed, resize=resize, progress=progress, comm=comm,
                       split_size=split_size, feeds=list(feeds.values()))
    result = Evaluation(acc, counter, metrics, reference,
                        feeds['fid'].statistics() if 'fid' in feeds else None)
    if not metrics:
        return result
    ref = _reference_numbers(network, reference, metrics, batch_size, resize,
                             reference_progress, comm)
    if 'fid' in metrics:
        result.compare('fid', result.statistics, ref['fid'])
    if 'sfid' in metrics:
        result.compare('sfid', feeds['sfid'].statistics(), ref['sfid'])
    if 'precision_recall' in metrics:
        result.compare('precision_recall', feeds['features'].result(), ref['features'])
    return result


def evaluate_images(model, ims, reference=None, metrics=None, batch_size=100, splits=None,
                    split_size=None, value_range=(0, 255), shuffle=False, seed=None,
                    resize='tf1', class_names=None, top=10, statistics=False, progress=None,
                    comm=None):
    """The Inception Score, FID and the rest of `ims` from one pass, as a dict.

    ims, value_range, shuffle, seed, resize, progress, comm: as `inception_score`.
    reference, metrics, splits, split_size, statistics: as `evaluate_source`; e.g.
        evaluate_images(model, ims, reference='fid_stats_cifar10_train.npz')['fid']
        evaluate_images(model, ims, reference='VIRTUAL_imagenet256_labeled.npz',
                        metrics=('fid', 'sfid', 'precision_recall'), split_size=5000)
    class_names: one name per output for the top classes (default: those stored in the model
        file when `model` is its path, else index placeholders); top: how many to list.
    Returns {'inception_score': {'mean', 'std'}, 'split_scores', 'split_rule', 'n', 'splits',
    'predictions': {...}, and 'fid', 'sfid', 'precision', 'recall', 'reference' when computed};
    with statistics=True also 'statistics': {'mu', 'sigma'} (float64 arrays).
    """
    from inception_score.sources import ArraySource
    source = ArraySource(ims, value_range)
    if class_names is None and isinstance(model, (str, os.PathLike)):
        from inception_score.modelfile import read_class_names
        class_names = read_class_names(os.fspath(model))
    result = evaluate_source(model, source, reference, metrics, batch_size, splits, split_size,
                             shuffle=shuffle, seed=seed, resize=resize, statistics=statistics,
                             progress=progress, comm=comm)
    out = result.summary(class_names, top)
    if statistics:
        out['statistics'] = {'mu': result.statistics[0], 'sigma': result.statistics[1]}
    return out
