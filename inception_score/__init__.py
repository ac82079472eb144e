"""Inception Score for Chainer, exactly as openai/improved-gan computes it.

The numbers come from a Chainer-free core (numpy or cupy); Chainer is imported only when a
Chainer-facing name (Inception, load_model, InceptionScoreExtension,
inception_score_from_generator) is first used.

Every other name is imported on first use too: `import inception_score` costs nothing until a
number is asked for, so that the commands start at once (and a Ctrl-C while they load numpy
is their one `interrupted` line, not a traceback from an import).
"""
from inception_score.errors import (ConversionError, DownloadError, InceptionScoreError,  # noqa
                                    InputError, InputWarning, MissingDependencyError,
                                    ModelFileError)

__version__ = '0.2.0'

_CORE_NAMES = {
    'evaluate_images': 'inception_score.scoring',
    'inception_score': 'inception_score.scoring',
    'inception_score_from_batches': 'inception_score.scoring',
    'ScoreAccumulator': 'inception_score.score',
    'inception_score_from_logits': 'inception_score.score',
    'default_model_path': 'inception_score.modelfile',
    'load_arrays': 'inception_score.modelfile',
    'load_network': 'inception_score.modelfile',
    'Network': 'inception_score.network',
}
_CHAINER_NAMES = {
    'Inception': 'inception_score.model',
    'load_model': 'inception_score.model',
    'InceptionScoreExtension': 'inception_score.extension',
    'inception_score_from_generator': 'inception_score.extension',
}


def _importing_from(frame):
    """Whether `frame` is running `from inception_score import NAME`: it turns any
    AttributeError into a bare "cannot import name", losing the install hint."""
    import dis
    try:
        return frame.f_code.co_code[frame.f_lasti] == dis.opmap['IMPORT_FROM']
    except Exception:  # another interpreter's frames: attribute access still names the fix
        return False


def __getattr__(name):
    import importlib
    module = _CORE_NAMES.get(name) or _CHAINER_NAMES.get(name)
    if module is None:
        raise AttributeError('module {!r} has no attribute {!r}'.format(__name__, name))
    try:
        value = getattr(importlib.import_module(module), name)
    except ImportError as e:
        if name not in _CHAINER_NAMES or 'chainer' not in str(e):
            raise
        import sys
        from inception_score.errors import MissingChainerError
        error = (MissingDependencyError if _importing_from(sys._getframe(1))
                 else MissingChainerError)
        raise error(
            '{} needs Chainer: pip install "inception_score[chainer]" (Chainer 7.8.1 needs '
            'Python <= 3.11 and numpy < 2); the command line and Network work without '
            'it'.format(name)) from None
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_CORE_NAMES) | set(_CHAINER_NAMES))


# `from inception_score import *` gives what it gave when the core was imported eagerly (the
# Chainer names never came with it: they need Chainer).
__all__ = ['ConversionError', 'DownloadError', 'InceptionScoreError', 'InputError',
           'InputWarning', 'MissingDependencyError', 'ModelFileError'] + sorted(_CORE_NAMES)
