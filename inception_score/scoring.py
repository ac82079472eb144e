"""Score images: batches through the core network, logits into the score (no Chainer needed).

`model` may be a core `Network`, a Chainer `Inception` (its current parameters are used) or
the path of a model file.
"""
import os

import numpy

from inception_score import topology
from inception_score.backend import to_numpy
from inception_score.errors import InputError, UsageError
from inception_score.score import ScoreAccumulator, check_splits

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
               start=0, total=None, comm=None, permutation=None, observers=()):
    """Run `batches` (NCHW arrays in [0, 255]) through `model` into a ScoreAccumulator.

    The rows are the predictions start..start+n-1 of `total` (default n) in all; each batch
    is moved to the network's device by the network, its logits come back to the CPU. With a
    ChainerMN `comm`, the statistics of all processes are summed at the end. `permutation`
    (instead of shuffle/seed) orders the rows before splitting as ScoreAccumulator's does;
    each of `observers` gets `update(logits, row)` with every batch's logits too.
    """
    network = as_network(model)
    total = n if total is None else total
    check_splits(total, splits)
    if permutation is None:
        permutation = _permutation(total, shuffle, seed)
    acc = ScoreAccumulator(total, splits, num_classes=topology.NUM_CLASSES,
                           permutation=permutation)
    done = 0
    for batch in batches:
        if done + len(batch) > n:
            raise InputError('the images yield more than the {} announced'.format(n))
        logits = to_numpy(network.logits(batch))
        acc.update(logits, start + done)
        for observer in observers:
            observer.update(logits, start + done)
        done += len(batch)
        if progress is not None:
            progress(done, n)
    if done != n:
        raise InputError('the images yielded {} of the {} announced'.format(done, n))
    if comm is not None:
        acc.allreduce(comm)
    return acc


def score_source(model, source, batch_size=100, splits=10, samples=None, shuffle=False,
                 seed=None, resize='tf1', progress=None, comm=None, observers=(),
                 sharded=False):
    """Score a source (see sources.py); returns the accumulator holding the split scores.

    samples: score N images: the first N, or with `shuffle` N drawn at random from all of
        them (see subset.py for the exact rule); all of them by default.
    comm: a ChainerMN communicator: each process scores its own shard (see `shard`) of the
        same source and all get the score of the whole; with `sharded=True` each process
        passes its own part instead (see `score_shards`).
    observers: objects fed every batch's logits (`update(logits, row)`), e.g. SpreadCheck.
    """
    from inception_score.checks import check_resize, check_samples
    check_batch_size(batch_size)
    check_resize(resize)
    if sharded:
        if samples is not None:
            raise InputError('samples cannot be combined with sharded=True: pass each '
                             "process's part as it should be scored")
        return score_shards(model, source, comm, batch_size, splits, shuffle, seed, resize,
                            progress)
    n = check_samples(samples, len(source))
    check_splits(n, splits)
    permutation = None
    if shuffle:
        from inception_score import subset
        source, permutation = subset.shuffled(source, n, SHUFFLE_SEED if seed is None else seed)
    if comm is not None:
        check_same_inputs(source, comm)
    start, stop = shard(n, comm.rank, comm.size) if comm is not None else (0, n)
    return accumulate(as_network(model), source.batches(batch_size, stop, resize, start=start),
                      stop - start, splits, progress=progress, start=start, total=n,
                      comm=comm, permutation=permutation, observers=observers)


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
                 resize='tf1', progress=None):
    """Each process of `comm` scores its own `source`; the result is the score of all of
    them concatenated in rank order (rank 0's images first), on every process."""
    if comm is None:
        raise InputError('sharded=True needs comm (a ChainerMN communicator)')
    lengths = _gathered(comm, [len(source)])[:, 0].astype(numpy.int64)
    total, start = int(lengths.sum()), int(lengths[:comm.rank].sum())
    check_splits(total, splits)
    return accumulate(as_network(model), source.batches(batch_size, resize=resize),
                      len(source), splits, shuffle, seed, progress, start=start, total=total,
                      comm=comm)


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
    resize: 'tf1' (the graph's own bilinear, default), 'pil' or 'nearest' (to reproduce
        other tools); anything else is an InputError.
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
