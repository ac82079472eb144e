"""Errors with messages meant for users: one line saying what is wrong and how to fix it."""


class InceptionScoreError(Exception):
    """Base class: the command line prints these as one line (exit 1) without a traceback."""


class ConversionError(InceptionScoreError):
    """The TensorFlow graph is not the expected inception-2015-12-05 graph."""


class DownloadError(InceptionScoreError):
    """Fetching or checking the archive failed."""


class ModelFileError(InceptionScoreError):
    """A model file is missing, truncated, not HDF5 or not this network."""


class MissingDependencyError(InceptionScoreError):
    """An optional dependency (tensorflow for conversion) is not installed."""


class MissingChainerError(MissingDependencyError, AttributeError):
    """A Chainer name used without Chainer: also an AttributeError, so that `hasattr()` says
    False where Chainer is missing."""


class InputWarning(UserWarning):
    """Something that is scored as given but is probably not what was meant: the command line
    prints it as one line on stderr (`prog: warning: ...`) and lists it in the JSON report."""


class InputError(InceptionScoreError, ValueError):
    """Images, arrays or arguments that cannot be scored as given."""


class UsageError(InceptionScoreError):
    """A bad argument (missing path, unwritable output, too many samples): exit code 2."""


class ModelNotFoundError(ModelFileError, UsageError):
    """No model file where one was asked for (or the graph given in its place): exit code 2,
    like a missing input; a model file that exists but is broken is a ModelFileError (1)."""


class GraphNotFoundError(DownloadError, UsageError):
    """No graph file where one was given (or a folder there): exit code 2, like a missing
    input; a graph file that exists but is broken is a DownloadError or ConversionError (1)."""


class OutputError(InceptionScoreError):
    """An output could not be written (disk full, quota, size limit, read-only): exit 1."""
