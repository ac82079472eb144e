"""Model files: HDF5 <-> {HDF5 path: array}, checked dataset by dataset, without Chainer.

The layout is the one `chainer.serializers.save_hdf5` gives the `Inception` chain (so Chainer
loads our files, and we load the earlier Chainer port's): see `topology.expected_arrays()`.
"""
import os

import numpy

from inception_score import topology
from inception_score.errors import ModelFileError, ModelNotFoundError

MODEL_FILENAME = 'inception_score.model'
_GRAPH_EPS = numpy.float32(topology.GRAPH_EPS)


def default_model_path():
    """Where pretrained files live by Chainer's convention, and where inception-score-download
    writes without --outfile: $CHAINER_DATASET_ROOT (default
    ~/.chainer/dataset)/inception_score/inception_score.model."""
    root = os.environ.get('CHAINER_DATASET_ROOT',
                          os.path.join(os.path.expanduser('~'), '.chainer', 'dataset'))
    return os.path.join(root, 'inception_score', MODEL_FILENAME)


def model_search_paths():
    """Where every command (and load_model(None)) looks when no model is given, in order:
    inception_score.model in the current directory (where run.sh and the earlier port's
    download.py write it), then default_model_path()."""
    return [os.path.abspath(MODEL_FILENAME), default_model_path()]


def find_model():
    """The first of model_search_paths() that is a file, else None."""
    return next((path for path in model_search_paths() if os.path.isfile(path)), None)


def default_model_help():
    """The default model, for --help texts."""
    return './{} if present, else {}'.format(MODEL_FILENAME, default_model_path())


def model_not_found_message():
    here, cache = model_search_paths()
    return ('model file not found: looked for {} and {}: create it with: {} (or pass --model '
            'PATH)'.format(here, cache, create_command(cache)))


def create_command(path):
    """The command that writes a model file at `path`, for hints."""
    return 'inception-score-download --outfile {}'.format(path)


CLASS_NAMES = 'meta/class_names'  # the 1008 output names, beside the weights
DIGEST_ATTR = 'arrays_sha256'


def save_arrays(path, arrays, metadata=None, class_names=None):
    """Write `arrays` (as from convert or load_arrays) as an HDF5 model file, atomically,
    with `metadata` as root attributes and the outputs' `class_names` (optional)."""
    import io
    import h5py
    from inception_score.files import atomic_output, writing
    # Built in memory, then written as plain bytes: HDF5 failing on a full disk at close
    # prints unraisable errors and can crash the interpreter; a plain write fails cleanly.
    buffer = io.BytesIO()
    with h5py.File(buffer, 'w') as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=numpy.asarray(value))
        for unit in topology.convs():
            # Chainer's BatchNormalization also persists N; its load_hdf5 requires it.
            f.create_dataset(topology.link_paths(unit.name)[1] + '/N', data=numpy.int64(0))
        if class_names is not None:
            f.create_dataset(CLASS_NAMES, data=list(class_names),
                             dtype=h5py.string_dtype('utf-8'))
        for key, value in (metadata or {}).items():
            f.attrs[key] = value
        f.attrs[DIGEST_ATTR] = arrays_digest(arrays)
    with atomic_output(path) as tmp, writing(path):
        with open(tmp, 'wb') as out:
            out.write(buffer.getbuffer())


def read_class_names(path):
    """The 1008 output names stored in a model file, or 'class N' placeholders."""
    import h5py
    from inception_score.labels import placeholder_names
    try:
        with h5py.File(path, 'r') as f:
            link = f.get(CLASS_NAMES, getlink=True)
            if isinstance(link, h5py.HardLink) and isinstance(f[CLASS_NAMES], h5py.Dataset):
                names = [n.decode('utf-8', 'replace') if isinstance(n, bytes) else str(n)
                         for n in f[CLASS_NAMES][()]]
                if len(names) == topology.NUM_CLASSES:
                    return names
    except Exception:  # names are informative only; the weights were checked on load
        pass
    return placeholder_names()


def _attributes(f, path, fix):
    """The root attributes of an open model file as plain Python values, each checked: text
    must be valid UTF-8 (a flipped byte in a string would otherwise surface as a traceback
    wherever it is printed or written), the weights checksum 64 hex digits; arrays are left
    out (none of ours is one). ModelFileError naming the file and the attribute otherwise."""
    out = {}
    for name in f.attrs:
        value = f.attrs[name]
        if isinstance(value, numpy.ndarray):
            continue
        if isinstance(value, (bytes, numpy.bytes_)):
            try:
                value = bytes(value).decode('utf-8')
            except UnicodeDecodeError:
                value = None
        elif isinstance(value, str):
            try:  # h5py decodes invalid UTF-8 with surrogate escapes
                value.encode('utf-8')
            except UnicodeEncodeError:
                value = None
        elif isinstance(value, numpy.generic):
            value = value.item()
        if value is None:
            raise ModelFileError('{} is damaged: its {!r} attribute is not valid UTF-8 text: '
                                 '{}'.format(path, name, fix))
        out[name] = value
    digest = out.get(DIGEST_ATTR)
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                   and all(c in '0123456789abcdef' for c in digest)):
        raise ModelFileError('{} is damaged: its weights checksum {!r} is not a SHA-256 hex '
                             'digest: {}'.format(path, str(digest)[:80], fix))
    return out


def read_metadata(path):
    """Root attributes of a model file ({} when it has none, or when it cannot be opened: the
    arrays were checked when it was loaded); text that is not valid UTF-8 is a one-line
    ModelFileError, as when loading."""
    import h5py
    try:
        f = h5py.File(path, 'r')
    except Exception:  # metadata is informative only
        return {}
    with f:
        return _attributes(f, path, 'create it with: {}'.format(create_command(path)))


def weights_sha256(path):
    """The identity of a model file's weights: the SHA-256 of every array (arrays_digest) that
    the file records, which load_arrays checks against the weights, or, for the earlier port's
    files that record none, computed from them. Unlike the file's own SHA-256, it is the same
    for every conversion of the same weights (the file also holds its creation time)."""
    recorded = read_metadata(path).get(DIGEST_ATTR)
    return recorded if recorded is not None else arrays_digest(load_arrays(path))


def _is_graph(path):
    """Whether `path` looks like the TensorFlow graph or its archive (passed as a model)."""
    with open(path, 'rb') as f:
        head = f.read(512)
    return (head[:2] == b'\x1f\x8b' or head[257:262] == b'ustar'
            or path.endswith(('.tgz', '.tar.gz', '.pb')))


def graph_given_as_model(path):
    """The hint for the graph or its archive passed where the model file goes: convert it
    (never "create it with --outfile PATH", which would overwrite the user's archive)."""
    return ('{} is the TensorFlow graph or its archive, not a model file: convert it with '
            'inception-score-download --graph {}; it writes {}, used when no model is '
            'given'.format(path, path, default_model_path()))


def load_arrays(path=None):
    """The arrays of a model file (ours or the earlier Chainer port's), checked; path None:
    the first of model_search_paths() found.

    Every dataset must be where `topology.expected_arrays()` puts it, a real dataset (no soft
    or external links, no group in its place), floating point, of the right shape, finite,
    with non-negative variances and a sane eps. Files without `eps` (the earlier port's) get
    the released graph's 0.001. Raises ModelFileError naming the file, the dataset and the fix.
    """
    import h5py
    if path is None:
        path = find_model()
        if path is None:
            raise ModelNotFoundError(model_not_found_message())
    fix = 'create it with: {}'.format(create_command(path))
    if os.path.isdir(path) or not os.path.exists(path):
        raise ModelNotFoundError('model file {} not found: {}'.format(path, fix))
    try:
        hdf5 = h5py.is_hdf5(path)
    except OSError as e:
        raise ModelFileError('cannot read model file {}: {}'.format(
            path, e.strerror or e)) from None
    if not hdf5:
        if _is_graph(path):
            raise ModelNotFoundError(graph_given_as_model(path))
        if not path.endswith(('.model', '.h5', '.hdf5')):  # some other file: never write on it
            fix = 'pass the model file that inception-score-download writes (default: {})'.format(
                default_model_path())
        raise ModelFileError('{} is not an HDF5 model file: {}'.format(path, fix))
    arrays = {}
    try:
        with h5py.File(path, 'r') as f:
            recorded = _attributes(f, path, fix).get(DIGEST_ATTR)
            for key, shape in topology.expected_arrays().items():
                value = _read(f, key, path, fix)
                if value is None and key.endswith('/eps'):
                    value = _GRAPH_EPS  # earlier port's file: the released graph's eps
                elif value is None:
                    raise ModelFileError('{} does not hold the Inception network (no {!r}): '
                                         '{}'.format(path, key, fix))
                if value.shape != shape:
                    raise ModelFileError(
                        '{} does not hold the Inception network: {!r} has shape {}, expected '
                        '{}'.format(path, key, value.shape, shape))
                arrays[key] = value
    except ModelFileError:
        raise
    except Exception as e:  # h5py raises OSError, RuntimeError, KeyError... for broken files
        raise ModelFileError('{} is unreadable, probably truncated or corrupt ({}): {}'.format(
            path, str(e).splitlines()[0] if str(e) else type(e).__name__, fix)) from None
    from inception_score.params import check_arrays
    arrays = check_arrays(arrays, path, error=ModelFileError)
    if recorded is not None:
        if recorded != arrays_digest(arrays):
            raise ModelFileError('{} is corrupt: its weights differ from the checksum recorded '
                                 'when it was written: {}'.format(path, fix))
    return arrays


def arrays_digest(arrays):
    """SHA-256 over every array (name, shape, float32 bytes) in the model file's order.

    Stored as a root attribute by save_arrays and checked on load, so a flipped byte anywhere
    in the weights is caught (HDF5 itself checks nothing). The earlier port's files have none.
    """
    import hashlib
    digest = hashlib.sha256()
    for key in topology.expected_arrays():
        value = numpy.ascontiguousarray(arrays[key], dtype=numpy.float32)
        digest.update('{}{}'.format(key, value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _read(f, key, path, fix):
    """Dataset `key` as a numpy array, None if absent; links and groups are refused."""
    import h5py
    parts = key.split('/')
    for i in range(1, len(parts) + 1):
        sub = '/'.join(parts[:i])
        link = f.get(sub, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ModelFileError('{}: {!r} is a {} (only plain datasets are read): {}'.format(
                path, sub, type(link).__name__, fix))
    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        raise ModelFileError('{}: {!r} is a group where a dataset belongs: {}'.format(
            path, key, fix))
    if obj.dtype.kind != 'f':
        raise ModelFileError('{}: {!r} has dtype {}, expected float32: {}'.format(
            path, key, obj.dtype, fix))
    return numpy.asarray(obj[()])


def load_network(path=None, mode='auto'):
    """A core `Network` (numpy) from a model file; its `weights_sha256` is the file's
    (weights_sha256: recorded and checked by load_arrays, else computed)."""
    from inception_score.network import Network
    path = find_model() if path is None else path
    arrays = load_arrays(path)
    network = Network(arrays, mode=mode)
    network.weights_sha256 = (read_metadata(path).get(DIGEST_ATTR)
                              or arrays_digest(arrays))
    return network
