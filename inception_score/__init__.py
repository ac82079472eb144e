"""Inception Score for Chainer, exactly as openai/improved-gan computes it."""
from inception_score.errors import (ConversionError, DownloadError, InceptionScoreError,  # noqa
                                    InputError, MissingDependencyError, ModelFileError)
from inception_score.evaluate import inception_score, inception_score_from_batches  # noqa: F401
from inception_score.extension import (InceptionScoreExtension,  # noqa: F401
                                        inception_score_from_generator)
from inception_score.model import Inception  # noqa: F401
from inception_score.score import ScoreAccumulator, inception_score_from_logits  # noqa: F401
from inception_score.weights import default_model_path, load_model  # noqa: F401

__version__ = '0.1.0'
