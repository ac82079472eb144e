"""Do the split scores spread more than random order gives? (class-sorted inputs)

The reference cuts the predictions into contiguous splits, so an input sorted by class (one
folder per class, a dump written class by class) gives splits of one or two classes each and
split scores far apart. Whether that happened is decided from the same run:

- alongside the real splits, the predictions are also cut in `ORDERS` random orders (seeded,
  so the verdict is reproducible); each gives its own split scores: what the split scores
  are when the order carries no information;
- spread: the observed variance of the split scores over the random orders' pooled variance
  (ddof=1) is an F ratio with (splits - 1, ORDERS x (splits - 1)) degrees of freedom;
- level: a sorted input's splits hold few classes each, so they also score lower: the mean
  split score against the random orders' means is a t statistic with ORDERS - 1 degrees of
  freedom (a prediction interval for one more draw);
- either beyond its quantile (ALPHA = 0.001 in all, split evenly between the two tests, the
  t test two-sided: about one false alarm in a thousand runs of an unsorted input) calls the
  order sorted, and the command line suggests --shuffle.

The random orders cost ORDERS bytes per image and ORDERS x splits x 1008 float64 sums (the
softmax is computed once per batch): with more than MAX_SPLITS splits there is no check.
The real score is not changed.
"""
import numpy

from inception_score.fixes import fix
from inception_score.score import ScoreAccumulator, log_softmax64

ORDERS = 16
ALPHA = 1e-3
MAX_SPLITS = 256  # 16 orders x 256 splits x 1008 classes x 8 bytes = 33 MB of sums


def applies(shuffle, splits):
    """Whether a run is checked: unshuffled, with 2 to MAX_SPLITS splits."""
    return not shuffle and 2 <= splits <= MAX_SPLITS


class SpreadCheck:
    """Fed the same logits as the score (`update(logits, start)`), it compares the real
    split scores with random orders' (`verdict(acc)`)."""

    def __init__(self, n, splits, orders=ORDERS, seed=0):
        self.n, self.splits = int(n), int(splits)
        rng = numpy.random.RandomState(seed)
        self.orders = []
        for _ in range(orders):
            acc = ScoreAccumulator(self.n, self.splits)
            # The split of each original image when the images are taken in a random order.
            part = numpy.empty(self.n, numpy.min_scalar_type(max(self.splits - 1, 0)))
            positions = numpy.arange(self.n)
            part[rng.permutation(self.n)] = numpy.searchsorted(
                acc.bounds, positions, side='right') - 1
            self.orders.append((acc, part))

    def update(self, logits, start):
        logp = log_softmax64(logits)
        p = numpy.exp(logp)
        plogp = (p * logp).sum(axis=1)
        stop = start + len(p)
        for acc, part in self.orders:
            if acc.sum_p is None:
                acc.num_classes = p.shape[1]
                acc.sum_p = numpy.zeros((acc.splits, p.shape[1]))
            rows = part[start:stop]
            numpy.add.at(acc.sum_p, rows, p)
            numpy.add.at(acc.sum_plogp, rows, plogp)
            numpy.add.at(acc.count, rows, 1)

    def verdict(self, acc):
        """How the real accumulator `acc`'s split scores compare with random orders' (None
        with fewer than 2 splits, where the order cannot matter)."""
        from scipy.stats import f as f_dist, t as t_dist
        observed = acc.split_scores()
        s, k = len(observed), len(self.orders)
        if s < 2:
            return None
        null = numpy.array([a.split_scores() for a, _ in self.orders])  # (orders, splits)
        # Spread: the observed variance over the random orders' pooled variance, ~F.
        null_var = float(numpy.mean(numpy.var(null, axis=1, ddof=1)))
        var = float(numpy.var(observed, ddof=1))
        spread_ratio = _ratio(var, null_var)
        # Level: the observed mean against the random orders' means, ~t(orders - 1) for a
        # new draw (a sorted input's splits hold fewer classes, so they score lower).
        means = null.mean(axis=1)
        level_t = _ratio(abs(float(observed.mean()) - float(means.mean())),
                         float(means.std(ddof=1)) * (1 + 1 / k) ** 0.5)
        spread_limit = float(f_dist.ppf(1 - ALPHA / 2, s - 1, k * (s - 1)))
        level_limit = float(t_dist.ppf(1 - ALPHA / 4, k - 1))
        return {
            'mean': float(observed.mean()),
            'std': float(observed.std()),
            'random_order_mean': float(means.mean()),
            'random_order_std': (null_var * (s - 1) / s) ** 0.5,  # ddof=0, as reported
            'variance_ratio': spread_ratio,
            'variance_ratio_limit': spread_limit,
            'mean_t': level_t,
            'mean_t_limit': level_limit,
            'orders': k,
            'alpha': ALPHA,
            'sorted': bool(spread_ratio > spread_limit or level_t > level_limit),
        }


def _ratio(a, b):
    return a / b if b > 0 else (float('inf') if a > 0 else 0.0)


def message(verdict):
    """The one-line warning for a sorted verdict."""
    return ('the split scores (mean {:.4f}, std {:.4f}) are not what random order gives '
            '(mean {:.4f}, std {:.4f}): the input looks sorted (e.g. one class per folder), '
            'so each split holds few classes; pass {} to score random splits'.format(
                verdict['mean'], verdict['std'], verdict['random_order_mean'],
                verdict['random_order_std'], fix('shuffle')))
