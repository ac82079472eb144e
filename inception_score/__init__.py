"""Inception Score for Chainer, exactly as openai/improved-gan computes it.

The numbers come from a Chainer-free core (numpy or cupy); Chainer is imported only when a
Chainer-facing name (Inception, load_model, InceptionScoreExtension,
inception_score_from_generator) is first used.
"""
from inception_score.errors import (ConversionError, DownloadError, InceptionScoreError,  # noqa
                                    InputError, InputWarning, MissingDependencyError,
                                    ModelFileError)
from inception_score.scoring import (evaluate_images, inception_score,  # noqa: F401
                                     inception_score_from_batches)
from inception_score.score import ScoreAccumulator, inception_score_from_logits  # noqa: F401
from inception_score.modelfile import default_model_path, load_arrays, load_network  # noqa
from inception_score.network import Network  # noqa: F401

__version__ = '0.2.0'

_CHAINER_NAMES = {
    'Inception': 'inception_score.model',
    'load_model': 'inception_score.model',
    'InceptionScoreExtension': 'inception_score.extension',
    'inception_score_from_generator': 'inception_score.extension',
}


def __getattr__(name):
    module = _CHAINER_NAMES.get(name)
    if module is None:
        raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))
    import importlib
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as e:
        if 'chainer' not in str(e):
            raise
        raise MissingDependencyError(
            '{} needs Chainer: pip install "inception_score[chainer]" (Chainer 7.8.1 needs '
            'Python <= 3.11 and numpy < 2); the command line and Network work without '
            'it'.format(name)) from None
    globals()[name] = value
    return value
