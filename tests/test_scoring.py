"""inception_score(network, ims, ...): input checks, no modification of the caller's data."""
import numpy
import pytest

from inception_score import InputError, inception_score, inception_score_from_logits


@pytest.fixture(scope='module')
def small_uint8():
    rng = numpy.random.RandomState(5)
    return rng.randint(0, 256, (6, 3, 32, 32)).astype(numpy.uint8)


@pytest.mark.slow
def test_uint8_float_and_value_ranges_agree_and_inputs_are_untouched(network, small_uint8):
    as_float = small_uint8.astype(numpy.float32)
    minus_one_one = as_float / numpy.float32(127.5) - 1
    copies = [a.copy() for a in (small_uint8, as_float, minus_one_one)]
    from_uint8 = inception_score(network, small_uint8, batch_size=6, splits=2)
    other_batches = inception_score(network, small_uint8, batch_size=4, splits=2)
    from_float = inception_score(network, as_float, batch_size=6, splits=2)
    from_pm1 = inception_score(network, minus_one_one, batch_size=6, splits=2,
                               value_range=(-1, 1))
    for before, after in zip(copies, (small_uint8, as_float, minus_one_one)):
        assert numpy.array_equal(before, after)
    assert from_uint8 == from_float
    # Other batches: float32 rounding only (GEMM blocking differs with the batch, and by CPU).
    # The std of two split scores is half their difference, so its rounding is that of the
    # scores: both are bounded relative to the mean (on an AMD EPYC the std moved 1.6e-4 of
    # itself, 2.1e-5 of the mean).
    mean = from_float[0]
    for other in (other_batches, from_pm1):  # (-1, 1) input rounds differently too
        assert all(abs(a - b) <= 1e-4 * mean for a, b in zip(other, from_float))
    logits = network.logits(small_uint8)
    assert numpy.allclose(from_float, inception_score_from_logits(logits, 2), rtol=1e-6)


GOOD = numpy.full((12, 3, 8, 8), 100, numpy.float32)


def _with(value, index=(0, 0, 0, 0)):
    x = GOOD.copy()
    x[index] = value
    return x


@pytest.mark.parametrize('ims,kwargs,message', [
    (GOOD[0], {}, 'must be a 4-D array (N, 3, H, W), got shape (3, 8, 8)'),
    (GOOD.transpose(0, 2, 3, 1)[:, :, :3].copy().transpose(0, 1, 3, 2)[:, :5],
     {}, 'must have 3 channels'),
    (numpy.zeros((12, 8, 8, 3), numpy.float32), {}, 'pass ims.transpose(0, 3, 1, 2)'),
    (numpy.zeros((12, 1, 8, 8), numpy.float32), {}, 'must have 3 channels on axis 1'),
    (_with(numpy.nan), {}, 'contain NaN or Inf'),
    (_with(numpy.inf), {}, 'contain NaN or Inf'),
    (_with(256.0), {}, 'outside value_range (0, 255)'),
    (_with(-3.0), {}, 'clip or rescale'),
    (GOOD / 255, {}, 'pass value_range=(0, 1)'),
    (GOOD / 127.5 - 1, {}, 'pass value_range=(-1, 1)'),
    (GOOD, {'value_range': (0, 1)}, 'outside value_range (0, 1)'),
    (GOOD, {'value_range': (0, 2)}, 'value_range must be one of'),
    (GOOD.astype(numpy.complex64), {}, 'must be uint8 or float'),
    (GOOD.tolist(), {}, 'must be a numpy or cupy array'),
    (GOOD, {'splits': 13}, '12 images cannot be cut into 13 splits'),
    (GOOD, {'splits': 0}, 'splits must be an integer >= 1'),
    (GOOD, {'batch_size': 0}, 'batch_size must be an integer >= 1'),
])
def test_bad_input_is_rejected_before_any_work(ims, kwargs, message):
    class Untouchable:
        def logits(self, x):
            raise AssertionError('the network must not run on bad input')

    with pytest.raises(InputError) as info:
        inception_score(Untouchable(), ims, **kwargs)
    assert message in str(info.value)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.slow
def test_batches_from_a_generator_equal_the_array_score(network, small_uint8):
    from inception_score import inception_score_from_batches
    expected = inception_score(network, small_uint8, batch_size=3, splits=2)
    got = inception_score_from_batches(
        network, lambda: (small_uint8[i:i + 3] for i in range(0, 6, 3)), 6, splits=2)
    assert got == expected


def test_generator_with_bad_range_fails_at_the_first_batch(network):
    from inception_score import inception_score_from_batches
    seen = []

    def batches():
        for i in range(1000):
            seen.append(i)
            yield numpy.full((2, 3, 8, 8), 0.5, numpy.float32)  # [0, 1] data, range not said

    with pytest.raises(InputError, match='pass value_range=\\(0, 1\\)'):
        inception_score_from_batches(network, batches, 2000, splits=10)
    assert seen == [0]
    with pytest.raises(InputError, match='yielded 2 of the 4 announced'):
        inception_score_from_batches(network, [numpy.full((2, 3, 8, 8), 9, numpy.uint8)], 4,
                                     splits=2)


@pytest.mark.slow
def test_evaluate_images_gives_the_score_classes_and_statistics_of_one_pass(network,
                                                                          small_uint8):
    from inception_score import evaluate_images
    result = evaluate_images(network, small_uint8, batch_size=4, splits=2, statistics=True)
    assert (result['inception_score']['mean'], result['inception_score']['std']) == \
        inception_score(network, small_uint8, batch_size=4, splits=2)
    assert result['split_rule'] == 'splits=2' and 'fid' not in result
    # The network's own outputs, batch by batch as the pass ran them.
    outs = [network.forward(small_uint8[i:i + 4], ('logits', 'pool_3')) for i in (0, 4)]
    logits = numpy.concatenate([o['logits'] for o in outs])
    counts = numpy.bincount(logits.argmax(axis=1), minlength=1008)
    assert result['predictions']['distinct_classes'] == int((counts > 0).sum())
    assert {t['index']: t['count'] for t in result['predictions']['top_classes']} == \
        {i: c for i, c in enumerate(counts) if c}
    features = numpy.concatenate([o['pool_3'] for o in outs]).astype(numpy.float64)
    direct = features.mean(axis=0), numpy.cov(features, rowvar=False)
    for ours, theirs in zip((result['statistics']['mu'], result['statistics']['sigma']),
                            direct):
        assert numpy.abs(ours - theirs).max() <= 1e-10 * numpy.abs(theirs).max()


@pytest.mark.slow
def test_evaluate_images_names_classes_from_the_model_file(model_file, small_uint8,
                                                         class_names):
    from inception_score import evaluate_images
    result = evaluate_images(model_file, small_uint8, splits=1, split_size=None)
    for entry in result['predictions']['top_classes']:
        assert entry['name'] == class_names[entry['index']]


@pytest.mark.parametrize('kwargs,error,message', [
    ({'metrics': ('fid',)}, 'UsageError', 'fid needs a reference'),
    ({'splits': 2, 'split_size': 3}, 'UsageError', 'give splits or split_size, not both'),
    ({'reference': numpy.zeros((5, 3, 8, 8), numpy.uint8), 'metrics': 'precision_recall',
      'splits': 1}, 'InputError', '3 images are too few: precision/recall needs at least 4'),
])
def test_evaluate_images_refuses_before_any_work(kwargs, error, message):
    from inception_score import evaluate_images

    class Untouchable:
        def network(self):
            raise AssertionError('the network must not be needed')

    with pytest.raises(Exception) as info:
        evaluate_images(Untouchable(), numpy.zeros((3, 3, 8, 8), numpy.uint8), **kwargs)
    assert type(info.value).__name__ == error and str(info.value) == message


@pytest.mark.slow  # not `once`: ChainerMN is in .venv only
def test_distributed_evaluation_equals_one_process_under_mpiexec(model_file):
    pytest.importorskip('chainermn')
    import os
    import subprocess
    import sys
    from conftest import ROOT
    mpiexec = os.path.join(os.path.dirname(sys.executable), 'mpiexec')
    proc = subprocess.run([mpiexec, '-n', '2', sys.executable,
                           os.path.join(ROOT, 'tests', 'mpi_evaluate.py'), model_file],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))  # this checkout's package
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = sorted(l for l in proc.stdout.splitlines() if l.startswith('rank'))
    assert [l.split()[:3] for l in lines] == [['rank', '0', 'ok'], ['rank', '1', 'ok']]
