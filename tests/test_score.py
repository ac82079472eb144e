"""The score formula against a plain float64 transcription of the reference code."""
import numpy
import pytest

from inception_score import InputError, ScoreAccumulator, inception_score_from_logits


def reference_score(logits, splits):
    """openai/improved-gan inception_score/model.py, lines 44-52, in float64."""
    logits = numpy.asarray(logits, numpy.float64)
    e = numpy.exp(logits - logits.max(1, keepdims=True))
    preds = e / e.sum(1, keepdims=True)
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits):((i + 1) * preds.shape[0] // splits), :]
        kl = part * (numpy.log(part) - numpy.log(numpy.expand_dims(numpy.mean(part, 0), 0)))
        kl = numpy.mean(numpy.sum(kl, 1))
        scores.append(numpy.exp(kl))
    return numpy.mean(scores), numpy.std(scores)


@pytest.mark.parametrize('n,splits,scale', [(1000, 10, 3.0), (1003, 10, 5.0), (57, 7, 1.0),
                                            (10, 10, 2.0), (500, 1, 4.0)])
def test_matches_reference_transcription(n, splits, scale):
    logits = numpy.random.RandomState(n).normal(0, scale, (n, 1008))
    ours = inception_score_from_logits(logits, splits)
    ref = reference_score(logits, splits)
    assert numpy.allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_identical_rows_give_one():
    logits = numpy.tile(numpy.random.RandomState(0).normal(0, 3, 1008), (100, 1))
    mean, std = inception_score_from_logits(logits, 10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize('k', [2, 10, 100])
def test_k_equally_frequent_confident_classes_give_k(k):
    logits = numpy.zeros((k * 20, 1008))
    logits[numpy.arange(k * 20), numpy.arange(k * 20) % k] = 60.0
    mean, std = inception_score_from_logits(logits, 10 if k <= 20 else 1)
    assert mean == pytest.approx(k, rel=1e-6)


def test_underflowing_probabilities_give_a_finite_score():
    # The reference gives NaN here (0 * log 0); log-softmax in float64 gives the limit.
    logits = numpy.zeros((20, 1008))
    logits[:, 0] = 1000.0
    logits[10:, 0] = 0.0
    logits[10:, 1] = 1000.0
    mean, std = inception_score_from_logits(logits, 1)
    assert mean == pytest.approx(2.0, rel=1e-9)


def test_streaming_and_merging_equal_the_batch_formula():
    logits = numpy.random.RandomState(3).normal(0, 4, (1234, 1008))
    whole = inception_score_from_logits(logits, 10)
    acc = ScoreAccumulator(1234, 10)
    for i in range(0, 1234, 97):
        acc.update(logits[i:i + 97])
    assert numpy.allclose(acc.result(), whole, rtol=1e-10, atol=0)
    a, b = ScoreAccumulator(1234, 10), ScoreAccumulator(1234, 10)
    a.update(logits[:600], start=0)
    b.update(logits[600:], start=600)
    assert numpy.allclose(a.merge(b).result(), whole, rtol=1e-10, atol=0)


def test_permutation_equals_scoring_the_permuted_rows():
    logits = numpy.random.RandomState(4).normal(0, 4, (500, 1008))
    perm = numpy.random.RandomState(2020).permutation(500)
    ours = inception_score_from_logits(logits, 10, permutation=perm)
    assert numpy.allclose(ours, reference_score(logits[perm], 10), rtol=1e-12)


@pytest.mark.parametrize('n,splits,match', [(5, 10, 'cannot be cut into 10 splits'),
                                            (5, 0, 'splits must be an integer >= 1'),
                                            (5, 2.5, 'splits must be an integer >= 1')])
def test_bad_splits(n, splits, match):
    with pytest.raises(InputError, match=match):
        inception_score_from_logits(numpy.zeros((n, 1008)), splits)


def test_incomplete_accumulator_is_an_error():
    acc = ScoreAccumulator(100, 10).update(numpy.zeros((50, 1008)))
    with pytest.raises(InputError, match='50 of 100 predictions'):
        acc.result()
    with pytest.raises(InputError, match='outside the 100 predictions'):
        acc.update(numpy.zeros((51, 1008)))


def adm_reference_score(logits, split_size):
    """guided-diffusion evaluations/evaluator.py compute_inception_score, in float64: parts
    preds[i:i + split_size], the mean of the part scores only."""
    logits = numpy.asarray(logits, numpy.float64)
    e = numpy.exp(logits - logits.max(1, keepdims=True))
    preds = e / e.sum(1, keepdims=True)
    scores = []
    for i in range(0, len(preds), split_size):
        part = preds[i:i + split_size]
        kl = part * (numpy.log(part) - numpy.log(numpy.expand_dims(numpy.mean(part, 0), 0)))
        kl = numpy.mean(numpy.sum(kl, 1))
        scores.append(numpy.exp(kl))
    return float(numpy.mean(scores)), numpy.array(scores)


@pytest.mark.parametrize('n,split_size', [(1000, 100), (1030, 100), (57, 5000), (230, 50)])
def test_split_size_matches_adm_transcription(n, split_size):
    # 1030 and 230: ADM's last part is shorter (30 predictions) and still counts as one part.
    logits = numpy.random.RandomState(n).normal(0, 4, (n, 1008))
    acc = ScoreAccumulator(n, split_size=split_size).update(logits)
    mean_ref, parts_ref = adm_reference_score(logits, split_size)
    assert acc.splits == len(parts_ref) and acc.split_size == split_size
    assert numpy.allclose(acc.split_scores(), parts_ref, rtol=1e-12)
    mean, std = inception_score_from_logits(logits, split_size=split_size)
    assert mean == pytest.approx(mean_ref, rel=1e-12)
    assert std == pytest.approx(numpy.std(parts_ref), rel=1e-9, abs=1e-12)


def test_split_size_dividing_n_equals_that_many_splits():
    logits = numpy.random.RandomState(5).normal(0, 4, (1000, 1008))
    assert numpy.allclose(inception_score_from_logits(logits, split_size=100),
                          inception_score_from_logits(logits, 10), rtol=1e-12)


def test_split_size_streams_and_merges():
    logits = numpy.random.RandomState(6).normal(0, 4, (1030, 1008))
    whole = inception_score_from_logits(logits, split_size=100)
    a = ScoreAccumulator(1030, split_size=100).update(logits[:555], start=0)
    b = ScoreAccumulator(1030, split_size=100).update(logits[555:], start=555)
    assert numpy.allclose(a.merge(b).result(), whole, rtol=1e-10, atol=0)
    with pytest.raises(InputError, match='cannot merge scores of different set-ups'):
        ScoreAccumulator(1030, split_size=100).merge(ScoreAccumulator(1030, splits=11))


def test_default_is_ten_splits():
    assert ScoreAccumulator(100).splits == 10 and ScoreAccumulator(100).split_size is None


def test_marginal_is_the_mean_prediction():
    logits = numpy.random.RandomState(7).normal(0, 2, (300, 1008))
    p = numpy.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    marginal = ScoreAccumulator(300, 3).update(logits).marginal()
    assert numpy.allclose(marginal, p.mean(0), rtol=1e-12)


@pytest.mark.parametrize('kwargs,match', [
    ({'splits': 10, 'split_size': 5}, 'give splits or split_size, not both'),
    ({'split_size': 0}, 'split_size must be an integer >= 1'),
    ({'split_size': 2.5}, 'split_size must be an integer >= 1'),
])
def test_bad_split_size(kwargs, match):
    with pytest.raises(InputError, match=match):
        inception_score_from_logits(numpy.zeros((5, 1008)), **kwargs)
