"""`--samples N --shuffle`: N images drawn at random from all the inputs.

The rule, for M images in all (every input, in the order given):

    drawn = numpy.random.RandomState(seed).permutation(M)[:N]     # seed 2020 unless given

and the images drawn[0], drawn[1], ..., drawn[N-1] are scored in that order, cut into the
reference's contiguous splits. With N = M this is exactly torch-fidelity's shuffle (its
predictions permuted by RandomState(seed).permutation(M) before splitting), i.e. the same as
`inception_score(..., shuffle=True, seed=seed)` on all M images.

The drawn images are not read in drawn order (that would jump around files and restart
compressed arrays): they are read in increasing index order, in one forward pass, and each
prediction is put at its drawn position by the score (ScoreAccumulator's `permutation`), so
memory stays bounded by the batch whatever N and M are. The sources are read through their
public interface only (len and batches(batch_size, stop, resize, start=...)).
"""
import numpy

from inception_score.sources import ConcatSource, FolderSource


def draw(total, samples, seed):
    """(indices, order) for `samples` of `total` images drawn with RandomState(seed).

    indices: the drawn images' original indices, sorted: the order they are read in.
    order: indices[order[k]] is drawn[k], the image scored at position k; over the images
        as read, it is the `permutation` that ScoreAccumulator takes.
    """
    drawn = numpy.random.RandomState(seed).permutation(total)[:samples]
    indices = numpy.sort(drawn)
    return indices, numpy.searchsorted(indices, drawn)


def shuffled(source, samples, seed):
    """(source to read, permutation for the score) for `samples` images of `source` drawn
    at random by the rule above; the source itself when every image is drawn."""
    if samples == len(source):
        return source, numpy.random.RandomState(seed).permutation(samples)
    indices, order = draw(len(source), samples, seed)
    return SubsetSource(source, indices), order


def _reads(source, indices):
    """(source, lo, hi, keep): read images lo..hi-1 of `source` and keep those at offsets
    `keep` (None: all of them), covering the sorted `indices` in order.

    Image files are decoded one by one, so a skipped file costs nothing: runs of consecutive
    indices are read exactly. Arrays (in memory or in files) are read forward in row chunks
    and a new read of a compressed .npz restarts its stream, so they are read in one window
    from the first index to the last, and the rows in between are dropped.
    """
    if isinstance(source, ConcatSource):
        offset = 0
        for part in source.sources:
            inside = indices[(indices >= offset) & (indices < offset + len(part))] - offset
            if len(inside):
                yield from _reads(part, inside)
            offset += len(part)
    elif isinstance(source, FolderSource):
        for run in numpy.split(indices, numpy.flatnonzero(numpy.diff(indices) != 1) + 1):
            yield source, int(run[0]), int(run[-1]) + 1, None
    else:
        lo = int(indices[0])
        yield source, lo, int(indices[-1]) + 1, indices - lo


class SubsetSource:
    """The images `indices` (sorted, distinct) of `source`, as a source of their own: image k
    is image indices[k] of `source`. Batches never mix images of different sizes or dtypes
    (as ConcatSource's never span two sources)."""

    def __init__(self, source, indices):
        self.source = source
        self.indices = numpy.asarray(indices, dtype=numpy.int64)
        self.skipped = source.skipped
        self.name = getattr(source, 'name', 'images')

    def __len__(self):
        return len(self.indices)

    def batches(self, batch_size, stop=None, resize='tf1', start=0):
        stop = len(self) if stop is None else stop
        indices = self.indices[start:stop]
        if not len(indices):
            return
        pending, count = [], 0
        for source, lo, hi, keep in _reads(self.source, indices):
            done = 0  # offset in lo..hi of the next row read
            for batch in source.batches(batch_size, hi, resize, start=lo):
                rows = batch
                if keep is not None:
                    mine = keep[(keep >= done) & (keep < done + len(batch))] - done
                    rows = batch[mine]
                done += len(batch)
                while len(rows):
                    if pending and (rows.shape[1:] != pending[0].shape[1:]
                                    or rows.dtype != pending[0].dtype):
                        yield _joined(pending)
                        pending, count = [], 0
                    take = rows[:batch_size - count]
                    pending.append(take)
                    count += len(take)
                    rows = rows[len(take):]
                    if count == batch_size:
                        yield _joined(pending)
                        pending, count = [], 0
        if pending:
            yield _joined(pending)


def _joined(parts):
    if len(parts) == 1:
        return parts[0]
    from inception_score.backend import get_array_module
    return get_array_module(parts[0]).concatenate(parts)
