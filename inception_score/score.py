"""The Inception Score from logits: one formula, streaming and mergeable.

Reference (openai/improved-gan): p = softmax(logits) over all 1008 outputs; N predictions cut
into `splits` contiguous parts preds[i*N//splits:(i+1)*N//splits]; per part
exp(mean_x sum_y p(y|x) (log p(y|x) - log mean_x p(y|x))); return the mean and the population
std (ddof=0) of the part scores.

OpenAI's guided-diffusion evaluator ("ADM") cuts instead into parts of a fixed size,
preds[i:i+split_size] for i = 0, split_size, ... (the last part may be shorter), and reports the
mean of the part scores only. `split_size=` selects that rule; the formula per part is the same.

Per part, mean_x KL = (sum_x sum_y p log p) / n - sum_y m_y log m_y with m = (sum_x p) / n, so
three sums per part (sum of p, sum of p log p, n) carry everything: they are updated batch by
batch, added across processes, and memory is O(splits x classes) whatever N is. Everything is
float64 with log-softmax, so p = 0 contributes 0 instead of the reference's NaN.
"""
import numpy

from inception_score.errors import InputError
from inception_score.fixes import fix


def split_bounds(n, splits):
    """Start of each part and the end: the reference's i * N // splits."""
    return numpy.array([i * n // splits for i in range(splits + 1)], dtype=numpy.int64)


def size_bounds(n, split_size):
    """Start of each part and the end: ADM's range(0, N, split_size), then N."""
    return numpy.array(list(range(0, n, split_size)) + [n], dtype=numpy.int64)


def check_split_size(n, split_size):
    if (isinstance(split_size, bool) or not isinstance(split_size, (int, numpy.integer))
            or split_size < 1):
        raise InputError('split_size must be an integer >= 1, got {!r}'.format(split_size))
    if n < 1:
        raise InputError('no predictions to score')


def check_splits(n, splits):
    if isinstance(splits, bool) or not isinstance(splits, (int, numpy.integer)) or splits < 1:
        raise InputError('splits must be an integer >= 1, got {!r}'.format(splits))
    if n < splits:
        raise InputError('{} images cannot be cut into {} splits: pass {} or score at least {} '
                         'images (the reference uses 50000 and 10)'.format(
                             n, splits, fix('splits', max(n, 1)), splits))


def log_softmax64(logits):
    logits = numpy.asarray(logits, dtype=numpy.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))


class ScoreAccumulator:
    """Per-split sufficient statistics of the score for `n` predictions in `splits` parts.

    The parts are the reference's `splits` (10 unless given) equal cuts, or, with `split_size`,
    ADM's consecutive parts of `split_size` predictions; `splits` then holds their number.
    `update(logits, start)` adds the rows with original indices start, start+1, ... (by
    default, the rows after the last update). `permutation`, if given, reorders before
    splitting as torch-fidelity's shuffle does: position k holds original index permutation[k].
    """

    def __init__(self, n, splits=None, num_classes=None, permutation=None, split_size=None):
        if split_size is not None:
            if splits is not None:
                raise InputError('give splits or split_size, not both')
            check_split_size(n, split_size)
            self.split_size = int(split_size)
            self.bounds = size_bounds(int(n), self.split_size)
        else:
            splits = 10 if splits is None else splits
            check_splits(n, splits)
            self.split_size = None
            self.bounds = split_bounds(int(n), int(splits))
        self.n = int(n)
        self.splits = len(self.bounds) - 1
        self.num_classes = num_classes
        # Rows arrive by original index; their split follows from their position.
        self._position = None
        if permutation is not None:
            permutation = numpy.asarray(permutation)
            if sorted(permutation.tolist()) != list(range(self.n)):
                raise InputError('permutation must be a permutation of range({})'.format(n))
            self._position = numpy.empty(self.n, numpy.int64)
            self._position[permutation] = numpy.arange(self.n)
        self.sum_p = None
        self.sum_plogp = numpy.zeros(self.splits)
        self.count = numpy.zeros(self.splits, numpy.int64)
        self._cursor = 0

    def update(self, logits, start=None):
        """Add predictions given as logits (N, C) for original indices start..start+N-1."""
        logits = numpy.asarray(logits)
        if logits.ndim != 2:
            raise InputError('logits must be (N, classes), got shape {}'.format(logits.shape))
        start = self._cursor if start is None else int(start)
        stop = start + len(logits)
        if start < 0 or stop > self.n:
            raise InputError('rows {}..{} fall outside the {} predictions this score was '
                             'set up for'.format(start, stop - 1, self.n))
        if self.num_classes is None:
            self.num_classes = logits.shape[1]
        if logits.shape[1] != self.num_classes:
            raise InputError('logits have {} classes, expected {}'.format(
                logits.shape[1], self.num_classes))
        if self.sum_p is None:
            self.sum_p = numpy.zeros((self.splits, self.num_classes))
        logp = log_softmax64(logits)
        if not numpy.isfinite(logp).all():
            raise InputError('logits contain NaN or Inf')
        p = numpy.exp(logp)
        plogp = (p * logp).sum(axis=1)
        index = numpy.arange(start, stop)
        if self._position is not None:
            index = self._position[index]
        part = numpy.searchsorted(self.bounds, index, side='right') - 1
        for s in numpy.unique(part):
            rows = part == s
            self.sum_p[s] += p[rows].sum(axis=0)
            self.sum_plogp[s] += plogp[rows].sum()
            self.count[s] += rows.sum()
        self._cursor = stop
        return self

    def merge(self, other):
        """Add another accumulator's statistics (same n and splits, disjoint rows)."""
        if other.n != self.n or not numpy.array_equal(other.bounds, self.bounds):
            raise InputError('cannot merge scores of different set-ups')
        if other.sum_p is not None:
            if self.sum_p is None:
                self.num_classes = other.num_classes
                self.sum_p = numpy.zeros_like(other.sum_p)
            self.sum_p += other.sum_p
        self.sum_plogp += other.sum_plogp
        self.count += other.count
        return self

    def allreduce(self, comm):
        """Sum the statistics over all processes of a ChainerMN communicator, in place.

        Every process must call it; each then holds the statistics of all predictions.
        """
        if self.sum_p is None:
            if self.num_classes is None:
                raise InputError('the number of classes is unknown: give num_classes')
            self.sum_p = numpy.zeros((self.splits, self.num_classes))
        flat = numpy.concatenate([self.sum_p.ravel(), self.sum_plogp,
                                  self.count.astype(numpy.float64)])
        total = numpy.asarray(comm.allreduce(flat), dtype=numpy.float64)
        k = self.sum_p.size
        self.sum_p = total[:k].reshape(self.sum_p.shape)
        self.sum_plogp = total[k:k + self.splits]
        self.count = numpy.rint(total[k + self.splits:]).astype(numpy.int64)
        return self

    def split_scores(self):
        expected = numpy.diff(self.bounds)
        if not numpy.array_equal(self.count, expected):
            raise InputError('the score is incomplete: {} of {} predictions were added'.format(
                int(self.count.sum()), self.n))
        n = self.count.astype(numpy.float64)
        mean_p = self.sum_p / n[:, None]
        with numpy.errstate(divide='ignore', invalid='ignore'):
            m_log_m = numpy.where(mean_p > 0, mean_p * numpy.log(mean_p), 0.0)
        kl = self.sum_plogp / n - m_log_m.sum(axis=1)
        return numpy.exp(kl)

    def result(self):
        """(mean, std) over the parts, std with ddof=0 as the reference.

        With `split_size` (ADM's rule) the mean is ADM's number (ADM reports no std): each
        part counts once, whatever its size.
        """
        scores = self.split_scores()
        return float(numpy.mean(scores)), float(numpy.std(scores))

    def marginal(self):
        """The mean predicted distribution p(y) over all predictions added (float64)."""
        if self.sum_p is None or self.count.sum() == 0:
            raise InputError('no predictions were added')
        return self.sum_p.sum(axis=0) / self.count.sum()


def inception_score_from_logits(logits, splits=None, permutation=None, split_size=None):
    """(mean, std) of the Inception Score of (N, C) logits, in the reference's split order
    (`splits` equal parts, 10 unless given) or in ADM's parts of `split_size`."""
    logits = numpy.asarray(logits)
    acc = ScoreAccumulator(len(logits), splits, permutation=permutation, split_size=split_size)
    return acc.update(logits).result()
