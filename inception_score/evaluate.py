"""Score images with an `Inception` model: batches through the network, logits into the score."""
import chainer
import numpy

from inception_score.errors import InputError
from inception_score.io import check_images, to_pixel_range
from inception_score.score import ScoreAccumulator, check_splits


def _check_batch_size(batch_size):
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, numpy.integer))
            or batch_size < 1):
        raise InputError('batch_size must be an integer >= 1, got {!r}'.format(batch_size))


def inception_score(model, ims, batch_size=100, splits=10, value_range=(0, 255),
                    progress=None):
    """Inception Score (mean, std) of `ims` exactly as openai/improved-gan computes it.

    model: an `Inception` (on CPU or GPU; each batch is moved to its device).
    ims: numpy or cupy array (N, 3, H, W), uint8 or float in `value_range` (default [0, 255]),
        any H and W (resized to 299x299 as the TF graph does). It is never modified.
    splits: contiguous parts, preds[i*N//splits:(i+1)*N//splits], no shuffling.
    progress: optional callable(done, total) called after each batch.
    Returns (mean, std) with std over the splits with ddof=0.
    """
    check_images(ims, value_range)
    _check_batch_size(batch_size)
    n = len(ims)
    check_splits(n, splits)
    acc = ScoreAccumulator(n, splits)
    cpu = chainer.backend.CpuDevice()
    for start in range(0, n, batch_size):
        batch = to_pixel_range(ims[start:start + batch_size], value_range)
        acc.update(cpu.send(model.logits(batch).array), start)
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return acc.result()
