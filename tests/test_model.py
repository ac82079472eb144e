"""The Chainer face: Inception holds the parameters and runs the core; its API as before."""
import numpy
import pytest

chainer = pytest.importorskip('chainer')

from inception_score import Inception, InputError, inception_score  # noqa: E402
from inception_score.model import load_model  # noqa: E402
from conftest import FIDELITY_SIZES  # noqa: E402


def _rel(a, b):
    return numpy.abs(a - b).max() / numpy.abs(b).max()


@pytest.mark.slow
def test_chain_and_core_give_identical_logits(model, network, fidelity_images):
    x = numpy.ascontiguousarray(fidelity_images[3][:4].transpose(0, 3, 1, 2))
    assert numpy.array_equal(model.logits(x).array, network.logits(x))
    assert numpy.array_equal(model.features(x).array, network.features(x))


@pytest.mark.slow
def test_logits_are_unbiased_and_softmax_covers_1008(model, fidelity_images, tf_outputs):
    x = numpy.ascontiguousarray(fidelity_images[1][:4].transpose(0, 3, 1, 2))
    n0 = FIDELITY_SIZES[0][0]
    logits = model.logits(x).array
    assert logits.shape == (4, 1008)
    assert _rel(logits, tf_outputs[1][n0:n0 + 4]) <= 1e-3
    probs = model(x).array
    assert numpy.allclose(probs.sum(1), 1, atol=1e-5)
    e = numpy.exp(logits.astype(numpy.float64) - logits.max(1, keepdims=True))
    assert numpy.allclose(probs, e / e.sum(1, keepdims=True), rtol=1e-4, atol=1e-7)
    assert numpy.array_equal(model(x, get_feature=True).array, model.features(x).array)


@pytest.mark.slow
def test_a_converter_ignoring_scale_after_normalization_would_be_caught(
        model, synthetic_params, fidelity_images, tf_outputs):
    # The synthetic graph's gammas are random and some layers set the flag False: applying
    # gamma there anyway must move the logits far beyond the tolerance used above.
    x = numpy.ascontiguousarray(fidelity_images[0][:4].transpose(0, 3, 1, 2))
    wrong = model.copy(mode='copy')
    flagged = [name for name, p in synthetic_params.items()
               if isinstance(p, dict) and not p['scale']]
    assert flagged
    for name in flagged:
        wrong.unit(name)[1].gamma.array[...] = synthetic_params[name]['gamma']
    assert _rel(wrong.logits(x).array, tf_outputs[1][:4]) > 1e-2
    assert _rel(model.logits(x).array, tf_outputs[1][:4]) <= 1e-3


@pytest.mark.slow
def test_plain_chainer_functions_agree_with_the_core(model, fidelity_images, tf_outputs,
                                                    core_outputs):
    # An independent forward pass (chainer.functions) against the core's GEMM kernels.
    import chainer_reference
    x = numpy.ascontiguousarray(fidelity_images[0][:6].transpose(0, 3, 1, 2))
    plain_logits = chainer_reference.logits(model, x)
    assert _rel(plain_logits, tf_outputs[1][:6]) <= 1e-3
    assert _rel(core_outputs[1][:6], plain_logits) <= 1e-4




def test_score_ignores_chainer_train_config(model, fidelity_images):
    x = numpy.ascontiguousarray(fidelity_images[0][:2].transpose(0, 3, 1, 2))
    with chainer.using_config('train', True):
        trained = model.logits(x).array
    assert numpy.array_equal(trained, model.logits(x).array)


@pytest.mark.slow
def test_unloaded_model_is_refused_unless_asked_for(fidelity_images):
    x = numpy.ascontiguousarray(fidelity_images[0][:2].transpose(0, 3, 1, 2))
    with pytest.raises(InputError, match='never loaded: use load_model'):
        inception_score(Inception(), x, splits=1)
    assert Inception(allow_unloaded=True).logits(x).shape == (2, 1008)


@pytest.mark.slow
def test_load_hdf5_counts_as_loading(model_file, fidelity_images, network):
    x = numpy.ascontiguousarray(fidelity_images[0][:2].transpose(0, 3, 1, 2))
    m = Inception()
    chainer.serializers.load_hdf5(model_file, m)
    assert numpy.array_equal(m.logits(x).array, network.logits(x))


@pytest.mark.slow
def test_a_model_path_is_accepted_where_a_model_is_expected(model_file, network,
                                                            fidelity_images):
    x = numpy.ascontiguousarray(fidelity_images[0][:8].transpose(0, 3, 1, 2))
    assert inception_score(model_file, x, splits=2) == inception_score(network, x, splits=2)
    with pytest.raises(InputError, match='model must be an Inception'):
        inception_score(object(), x, splits=2)


@pytest.mark.slow
def test_earlier_port_file_loads_with_plain_chainer_and_gives_bias_free_logits(
        network, model_file, tmp_path):
    from test_modelfile import write_earlier_port_file
    from inception_score import load_arrays
    path = str(tmp_path / 'earlier.model')
    write_earlier_port_file(path, load_arrays(model_file), numpy.random.RandomState(0))
    loaded = Inception()
    chainer.serializers.load_hdf5(path, loaded)  # plain Chainer, as the earlier port's users do
    via_loader = load_model(path)
    x = numpy.random.RandomState(1).uniform(0, 255, (2, 3, 32, 32)).astype(numpy.float32)
    assert numpy.array_equal(loaded.logits(x).array, via_loader.logits(x).array)
    for unit in __import__('inception_score').topology.convs():
        assert loaded.unit(unit.name)[1].eps == float(numpy.float32(0.001))
