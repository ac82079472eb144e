"""One pass feeds every number: the network is asked once per batch, for the nodes the
requested numbers read and no others; feeds place rows by their original index."""
import numpy
import pytest

from inception_score import adm
from inception_score.errors import InputError
from inception_score.feeds import FeatureFeed, StatisticsFeed, nodes_of
from inception_score.fid import FIDAccumulator
from inception_score.scoring import evaluate_source, inception_score
from inception_score.sources import ArraySource


class Recording:
    """The real network, with every forward call's batch size and nodes written down."""

    def __init__(self, network):
        self.inner = network
        self.calls = []

    def network(self):  # what scoring.as_network asks of a model wrapper
        return self

    def forward(self, x, nodes):
        self.calls.append((len(x), tuple(nodes)))
        return self.inner.forward(x, nodes)


@pytest.fixture(scope='module')
def ims():
    rng = numpy.random.RandomState(3)
    return rng.randint(0, 256, (7, 3, 24, 24)).astype(numpy.uint8)


@pytest.fixture(scope='module')
def ref_ims():
    rng = numpy.random.RandomState(4)
    return rng.randint(0, 256, (5, 3, 40, 32)).astype(numpy.uint8)


def test_nodes_of_is_the_union_in_first_asked_order():
    feeds = [StatisticsFeed.spatial(), StatisticsFeed.pool_3(), FeatureFeed(3)]
    assert nodes_of(feeds) == ('mixed_6/conv', 'pool_3')
    assert nodes_of([]) == ()


@pytest.mark.slow
@pytest.mark.parametrize('metrics,statistics,nodes,reference_nodes', [
    ((), False, ('logits',), None),
    ((), True, ('logits', 'pool_3'), None),
    (('fid',), False, ('logits', 'pool_3'), ('pool_3',)),
    (('sfid',), False, ('logits', 'mixed_6/conv'), ('mixed_6/conv',)),
    (('fid', 'sfid', 'precision_recall'), False, ('logits', 'pool_3', 'mixed_6/conv'),
     ('pool_3', 'mixed_6/conv')),
])
def test_one_forward_per_batch_asking_only_the_needed_nodes(network, ims, ref_ims, metrics,
                                                            statistics, nodes,
                                                            reference_nodes):
    spy = Recording(network)
    reference = ref_ims if metrics else None
    if metrics == ('fid',):
        reference = (numpy.zeros(2048), numpy.eye(2048))  # statistics: no reference pass
        reference_nodes = None
    result = evaluate_source(spy, ArraySource(ims), reference, metrics, batch_size=3,
                             splits=2, statistics=statistics)
    expected = [(3, nodes), (3, nodes), (1, nodes)]
    if reference_nodes is not None:
        expected += [(3, reference_nodes), (2, reference_nodes)]
    assert spy.calls == expected
    assert result.score.result() == inception_score(network, ims, batch_size=3, splits=2)
    assert result.classes.counts.sum() == 7


def test_feature_feed_places_rows_by_original_index_and_checks_completeness():
    feed = FeatureFeed(5, dim=3)
    rows = numpy.arange(15, dtype=numpy.float32).reshape(5, 3)
    feed.update({'pool_3': rows[3:]}, 3)
    with pytest.raises(InputError, match='2 of 5 feature vectors were added'):
        feed.result()
    feed.update({'pool_3': rows[:3]}, 0)
    assert numpy.array_equal(feed.result(), rows)
    with pytest.raises(InputError, match='rows 4..5 fall outside the 5'):
        feed.update({'pool_3': rows[:2]}, 4)


def test_spatial_feed_is_fid_statistics_of_adms_spatial_features():
    rng = numpy.random.RandomState(5)
    conv = rng.normal(size=(9, 17, 17, 192)).astype(numpy.float32)
    feed = StatisticsFeed.spatial()
    assert feed.nodes == ('mixed_6/conv',)
    feed.update({'mixed_6/conv': conv[:4]}, 0)
    feed.update({'mixed_6/conv': conv[4:]}, 4)
    direct = FIDAccumulator(2023).update(adm.spatial_features(conv)).statistics()
    for ours, theirs in zip(feed.statistics(), direct):
        assert numpy.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
