"""What one pass over the images feeds: every number comes from the nodes the network returns
for each batch, and the network is asked only for the nodes some feed reads.

A feed has
- `nodes`: the graph names it reads ('logits', 'pool_3', 'mixed_6/conv', ...);
- `update(outputs, start)`: outputs is {node: array} (numpy or cupy, on the network's device)
  for the rows with original indices start, start+1, ...;
- `allreduce(comm)`: sums its statistics over the processes of a ChainerMN communicator, in
  place (every process must call it; each then holds those of all rows).

Memory: the score, the class counts and the FID statistics are O(classes) or O(dim^2) whatever
the number of images; only `FeatureFeed` (precision/recall needs every feature vector) grows
with N: N x 2048 float32 = 8 KB an image for pool_3 (400 MB for 50,000 images).
"""
import numpy

from inception_score import adm, topology
from inception_score.backend import to_numpy
from inception_score.errors import InputError
from inception_score.fid import FIDAccumulator

LOGITS = 'logits'
POOL_3 = topology.FEATURE_NODE  # 'pool_3'


def nodes_of(feeds):
    """The nodes `feeds` read, each once, in the order first asked."""
    nodes = []
    for feed in feeds:
        nodes += [n for n in feed.nodes if n not in nodes]
    return tuple(nodes)


class ScoreFeed:
    """Logits into a score.ScoreAccumulator (the Inception Score's split statistics), and to
    each of `observers` (`update(logits, row)` with the same CPU logits, e.g. SpreadCheck)."""
    nodes = (LOGITS,)

    def __init__(self, accumulator, observers=()):
        self.accumulator = accumulator
        self.observers = list(observers)

    def update(self, outputs, start):
        logits = to_numpy(outputs[LOGITS])
        self.accumulator.update(logits, start)
        for observer in self.observers:
            observer.update(logits, start)

    def allreduce(self, comm):
        self.accumulator.allreduce(comm)


class ClassFeed:
    """Logits into a labels.ClassCounter (how many images each class won)."""
    nodes = (LOGITS,)

    def __init__(self, counter):
        self.counter = counter

    def update(self, outputs, start):
        self.counter.update(outputs[LOGITS])

    def allreduce(self, comm):
        self.counter.allreduce(comm)


class StatisticsFeed:
    """A node's features (optionally transformed) into FID statistics (fid.FIDAccumulator).

    `StatisticsFeed.pool_3()` gives FID's, `StatisticsFeed.spatial()` ADM's sFID's.
    """

    def __init__(self, node, dim, transform=None):
        self.nodes = (node,)
        self.transform = transform
        self.accumulator = FIDAccumulator(dim)

    @classmethod
    def pool_3(cls):
        return cls(POOL_3, topology.NUM_FEATURES)

    @classmethod
    def spatial(cls):
        """ADM's sFID features: mixed_6/conv's first 7 channels, flattened (2023 features)."""
        return cls(adm.SPATIAL_NODE, adm.SPATIAL_FEATURES, adm.spatial_features)

    def update(self, outputs, start):
        x = outputs[self.nodes[0]]
        self.accumulator.update(x if self.transform is None else self.transform(x))

    def allreduce(self, comm):
        self.accumulator.allreduce(comm)

    def statistics(self):
        """(mu, sigma) in float64 of every row added."""
        return self.accumulator.statistics()


class FeatureFeed:
    """Every row's features kept, in original order: an (n, dim) float32 array, n * dim * 4
    bytes (8 KB an image for pool_3). Only precision/recall needs them."""

    def __init__(self, n, node=POOL_3, dim=topology.NUM_FEATURES):
        self.nodes = (node,)
        self.n = int(n)
        self.features = numpy.zeros((self.n, dim), numpy.float32)
        self.count = 0

    def update(self, outputs, start):
        x = to_numpy(outputs[self.nodes[0]]).reshape(-1, self.features.shape[1])
        if start < 0 or start + len(x) > self.n:
            raise InputError('rows {}..{} fall outside the {} feature vectors this pass was '
                             'set up for'.format(start, start + len(x) - 1, self.n))
        self.features[start:start + len(x)] = x
        self.count += len(x)

    def allreduce(self, comm):
        # Each process filled its own rows and left zeros elsewhere: the sum is every row,
        # exactly (x + 0 = x).
        self.features = numpy.asarray(to_numpy(comm.allreduce(self.features)), numpy.float32)
        total = comm.allreduce(numpy.array([self.count], numpy.float64))
        self.count = int(numpy.rint(to_numpy(total)[0]))

    def result(self):
        """The (n, dim) features; an error if some rows were never added."""
        if self.count != self.n:
            raise InputError('{} of {} feature vectors were added'.format(self.count, self.n))
        return self.features
