"""Inception Score of a generator during Chainer training: a function and a Trainer extension.

The model is loaded once; samples are drawn in inference mode with their own random state, so
neither the trainer's config, the generator's parameters nor the training randomness change.
With ChainerMN, every process draws and scores its own share and all get the same result.
"""
import sys
import time

import chainer
import numpy
from chainer import training

from inception_score.errors import InputError
from inception_score.scoring import accumulate, as_network, check_batch_size, shard
from inception_score.io import check_images, check_value_range, to_pixel_range


class _OwnNumpyRandom:
    """Run code with numpy's global random state set to our own, then put the caller's back."""

    def __init__(self, seed):
        self.state = numpy.random.RandomState(seed).get_state()

    def __enter__(self):
        self.saved = numpy.random.get_state()
        numpy.random.set_state(self.state)

    def __exit__(self, *exc):
        self.state = numpy.random.get_state()
        numpy.random.set_state(self.saved)


def _draw(generator, n, batch_size, value_range, seed):
    """Yield n images from `generator` in batches, each checked at once (first batch first)."""
    rng = _OwnNumpyRandom(seed)
    done, lowest = 0, numpy.inf
    while done < n:
        want = min(batch_size, n - done)
        with rng, chainer.using_config('train', False), chainer.no_backprop_mode():
            out = generator(want)
        batch = out.array if isinstance(out, chainer.Variable) else out
        if getattr(batch, 'ndim', None) != 4 or len(batch) != want:
            raise InputError('generator({}) returned shape {}: it must return {} images as an '
                             '(N, 3, H, W) array or Variable'.format(
                                 want, getattr(batch, 'shape', type(batch).__name__), want))
        try:
            check_images(batch, value_range)
        except InputError as e:
            raise InputError('generator output: {}'.format(e)) from None
        lowest = min(lowest, float(batch.min()))
        yield to_pixel_range(batch, value_range)
        done += want
    if check_value_range(value_range) == (-1.0, 1.0) and lowest >= 0:
        from inception_score.checks import warn
        from inception_score.fixes import fix  # a Python API: keywords, but one mechanism
        warn('generator output: no value is below 0 although value_range is (-1, 1): images '
             'in [0, 1] (e.g. after a sigmoid) are scored as washed-out light images; if that '
             'is what they are, pass {}'.format(fix('value_range', (0, 1))))


def inception_score_from_generator(generator, model, n_samples=50000, batch_size=100,
                                   splits=10, value_range=(-1, 1), comm=None, seed=0,
                                   progress=None):
    """Inception Score (mean, std) of `n_samples` images drawn from `generator`.

    generator: callable(batch_size) -> (batch_size, 3, H, W) array or Variable with values
        in `value_range` (GAN outputs are usually in [-1, 1]). It runs with train=False and
        without backprop; numpy's global random state is replaced by RandomState(seed) while
        it runs (cupy's is not: a generator drawing noise with cupy should seed it itself).
    comm: ChainerMN communicator: process r draws its n_samples / size share with seed
        `seed + r`; the statistics are summed with comm.allreduce and every process returns
        the score of all samples.
    """
    return _score_generator(generator, model, n_samples, batch_size, splits, value_range,
                            comm, seed, progress).result()


def _score_generator(generator, model, n_samples, batch_size, splits, value_range, comm, seed,
                     progress, feeds=()):
    """The ScoreAccumulator of `n_samples` drawn images; `feeds` are filled from the same
    pass (see feeds.py)."""
    check_value_range(value_range)
    check_batch_size(batch_size)
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    start, stop = shard(n_samples, rank, size)
    batches = _draw(generator, stop - start, batch_size, value_range, seed + rank)
    return accumulate(model, batches, stop - start, splits, progress=progress, start=start,
                      total=n_samples, comm=comm, feeds=feeds)


class InceptionScoreExtension(training.Extension):
    """Reports `inception_score/mean` and `inception_score/std` of a generator's samples, and
    `inception_score/fid` when given a `fid_reference`, `inception_score/kid` and
    `inception_score/kid_std` when given a `kid_reference`.

    trainer.extend(InceptionScoreExtension(gen_fn, 'inception_score.model', n_samples=5000),
                   trigger=(1, 'epoch'))

    generator: callable(batch_size) -> images, as `inception_score_from_generator`.
    model: an `Inception` (already on the right device), the path of a model file, or None for
        the default model file (modelfile.default_model_path()); a file is loaded once here.
    device: where to put the model (e.g. 0 or '@cupy:0'); None keeps it.
    comm: ChainerMN communicator: all processes share the sampling and report the result.
    seed: the samples' random state; the same at every evaluation, so scores are comparable.
    progress: a progress bar (images/s, time left) on stderr during each evaluation; None
        (default): only when stderr is a terminal (never in logs of batch jobs), and only
        on rank 0 under ChainerMN.
    fid_reference: FID statistics of the real data: the path of a TTUR statistics file (e.g.
        fid_stats_cifar10_train.npz, or what `inception-score --save-stats` wrote) or ADM
        reference batch, a (mu, sigma) pair, or a named set ('cifar10-train', 'cifar10-test':
        read from the dataset cache for this model, or built there once from CIFAR-10; see
        named.py); read and checked once here. The FID then comes
        from the same pass as the score (the samples' pool_3 statistics, O(2048^2) memory).
    kid_reference: the real data for KID (kid.py, torch-fidelity's): a statistics file
        written with `inception-score --save-stats OUT.npz --save-features`, an (N, 2048) array
        of pool_3 features, images (a folder, an image file, an (N, 3, H, W) array in
        [0, 255]) whose features are computed once here, or a named set (as fid_reference); read and checked once here. Each
        evaluation keeps the samples' pool_3 vectors (8 KB a sample) for it.
    kid_subsets, kid_subset_size: KID's subsets (100 of 1000 by default; n_samples and the
        reference must both hold kid_subset_size).
    Besides `inception_score/mean` and `/std` it reports `inception_score/time`, the seconds
    an evaluation took (n_samples costs about n_samples / 9 s on a 2-core CPU: see README),
    and `inception_score/fid` when given a `fid_reference`.
    """
    trigger = 1, 'epoch'
    priority = training.PRIORITY_WRITER
    name = 'inception_score'

    def __init__(self, generator, model, n_samples=50000, batch_size=100, splits=10,
                 value_range=(-1, 1), device=None, comm=None, seed=0, progress=None,
                 fid_reference=None, kid_reference=None, kid_subsets=None,
                 kid_subset_size=None):
        from inception_score.model import load_model
        from inception_score.score import check_splits
        check_value_range(value_range)
        check_batch_size(batch_size)
        check_splits(n_samples, splits)
        if not callable(generator):
            raise InputError('generator must be a callable taking a batch size')
        # None: the default model file, where inception-score-download puts it.
        self.model = load_model(model) if model is None or isinstance(model, str) else model
        if device is not None:
            self.model.to_device(device)
        self.generator = generator
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.splits = splits
        self.value_range = value_range
        self.comm = comm
        self.seed = seed
        self.progress = progress
        self.fid_statistics = None
        if fid_reference is not None:
            from inception_score import named
            from inception_score.reference import load_fid_statistics
            if named.lookup(fid_reference):  # a named set: read from the cache, or built
                fid_reference = named.reference(fid_reference)
            self.fid_statistics = load_fid_statistics(
                named.prepared(fid_reference, self.model, ('fid',), batch_size, comm=comm))
        self.kid_features = None
        if kid_reference is not None:
            self.kid_subsets, self.kid_subset_size, self.kid_features = _kid_reference(
                self.model, kid_reference, n_samples, batch_size, comm, kid_subsets,
                kid_subset_size)

    def _shows_progress(self):
        if self.comm is not None and self.comm.rank != 0:
            return False
        if self.progress is not None:
            return bool(self.progress)
        return sys.stderr.isatty()

    def __call__(self, trainer=None):
        from inception_score.report import progress_bar
        started = time.perf_counter()
        rank, size = (self.comm.rank, self.comm.size) if self.comm is not None else (0, 1)
        start, stop = shard(self.n_samples, rank, size)
        fid = features = None
        if self.fid_statistics is not None:
            from inception_score.feeds import StatisticsFeed
            fid = StatisticsFeed.pool_3()
        if self.kid_features is not None:
            from inception_score.feeds import FeatureFeed
            features = FeatureFeed(self.n_samples)
        with progress_bar(stop - start, disable=not self._shows_progress(),
                          desc='inception_score', leave=False) as bar:
            acc = _score_generator(self.generator, self.model, self.n_samples,
                                   self.batch_size, self.splits, self.value_range, self.comm,
                                   self.seed, bar,
                                   feeds=[f for f in (fid, features) if f is not None])
        mean, std = acc.result()
        observation = {'inception_score/mean': mean, 'inception_score/std': std}
        if fid is not None:
            from inception_score.fid import frechet_distance
            observation['inception_score/fid'] = frechet_distance(*fid.statistics(),
                                                                  *self.fid_statistics)
        if features is not None:
            from inception_score.kid import kid
            observation['inception_score/kid'], observation['inception_score/kid_std'] = kid(
                features.result(), self.kid_features, self.kid_subsets, self.kid_subset_size)
        observation['inception_score/time'] = time.perf_counter() - started
        chainer.reporter.report(observation)


def _kid_reference(model, reference, n_samples, batch_size, comm, subsets, subset_size):
    """(subsets, subset_size, the reference's pool_3 features) for KID, checked; images are
    scored once here (each process its shard under ChainerMN)."""
    from inception_score import kid
    from inception_score.reference import as_reference
    from inception_score.scoring import reference_features
    subsets, subset_size = kid.check_subsets(kid.SUBSETS if subsets is None else subsets,
                                             kid.SUBSET_SIZE if subset_size is None
                                             else subset_size)
    kid.check_subset_size(n_samples, subset_size, 'samples (n_samples)')
    from inception_score.named import prepared
    ref = prepared(as_reference(reference, ('kid',)), model, ('kid',), batch_size, comm=comm)
    ref.check(('kid',), subset_size)
    return subsets, subset_size, reference_features(model, ref, batch_size, comm=comm)
