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
               start=0, total=None, comm=None):
    """Run `batches` (NCHW arrays in [0, 255]) through `model` into a ScoreAccumulator.

    The rows are the predictions start..start+n-1 of `total` (default n) in all; each batch
    is moved to the network's device by the network, its logits come back to the CPU. With a
    ChainerMN `comm`, the statistics of all processes are summed at the end.
    """
    network = as_network(model)
    total = n if total is None else total
    check_splits(total, splits)
    acc = ScoreAccumulator(total, splits, num_classes=topology.NUM_CLASSES,
                           permutation=_permutation(total, shuffle, seed))
    done = 0
    for batch in batches:
        if done + len(batch) > n:
            raise InputError('the images yield more than the {} announced'.format(n))
        acc.update(to_numpy(network.logits(batch)), start + done)
        done += len(batch)
        if progress is not None:
            progress(done, n)
    if done != n:
        raise InputError('the images yielded {} of the {} announced'.format(done, n))
    if comm is not None:
        acc.allreduce(comm)
    return acc


def score_source(model, source, batch_size=100, splits=10, samples=None, shuffle=False,
                 seed=None, resize='tf1', progress=None, comm=None):
    """Score a source (see sources.py); returns the accumulator holding the split scores.

    With a ChainerMN `comm`, each process scores its own shard (see `shard`) and all get the
    score of the whole.
    """
    check_batch_size(batch_size)
    n = len(source) if samples is None else samples
    if samples is not None and not 1 <= samples <= len(source):
        raise UsageError('--samples {} but only {} images are available'.format(
            samples, len(source)))
    check_splits(n, splits)
    start, stop = shard(n, comm.rank, comm.size) if comm is not None else (0, n)
    return accumulate(as_network(model), source.batches(batch_size, stop, resize, start=start),
                      stop - start, splits, shuffle, seed, progress, start=start, total=n,
                      comm=comm)


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
