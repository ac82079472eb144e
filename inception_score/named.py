"""Named reference sets: `--fid cifar10-train` against CIFAR-10 without preparing anything.

A name of SETS stands for a reference the package builds itself (as clean-fid's
dataset_name='cifar10' or TTUR's published statistics files): CIFAR-10's training or test
images, from the copy cifar10.py finds (in the working directory, beside the default model
file or in Chainer's dataset cache; else downloaded and checked against its published MD5) or
the one given (`reference(name, data=PATH)`). The first run builds its numbers with the run's
model, batch size and resize, through the same pass as any reference given as an image array
(scoring._reference_numbers), and keeps them in the dataset cache beside the model file
(`cache_folder()`), one .npz per set, resize and model weights (`cache_path()`); later runs
read that file instead of the images.

A cache entry is a statistics file (statsfile.save_statistics): `mu`, `sigma` (pool_3) and,
once a metric needed them, ADM's spatial statistics (`mu_s`, `sigma_s`) and the pool_3
feature vectors (`pool_3`, N x 2048 float32), beside its provenance (the set, N, the CIFAR-10
copy and its SHA-256, the images' SHA-256, the model's weights SHA-256, the resize, the
package version) and the SHA-256 of each array. It is used only when every check passes: read
through the checked readers (statsfile, reference.load_features), its provenance that of this
set, model and resize, each array equal to its recorded digest. Otherwise it is rebuilt with
one warning line, never trusted; an entry lacking an array a metric needs is rebuilt holding
it too ('extended'). Entries are written atomically (files.atomic_output).

A path that exists wins over a name: `--fid cifar10-train` is the folder ./cifar10-train
where there is one (with a warning, which `./cifar10-train` does not get).
"""
import datetime
import hashlib
import os

import numpy

from inception_score import adm, cifar10, topology
from inception_score.errors import InceptionScoreError, InputError, UsageError
from inception_score.reference import FEATURES_KEY, Reference, check_metrics

# name -> (CIFAR-10 split, what it is)
SETS = {'cifar10-train': ('train', "CIFAR-10's 50,000 training images"),
        'cifar10-test': ('test', "CIFAR-10's 10,000 test images")}
CACHE_VERSION = 1  # of the entries' layout: another version is rebuilt, never read
FOLDER = 'references'
# The parts of an entry, their arrays, and the metric that makes _reference_numbers give them.
_ARRAYS = {'fid': ('mu', 'sigma'), 'sfid': ('mu_s', 'sigma_s'), 'features': (FEATURES_KEY,)}
_METRIC = {'fid': 'fid', 'sfid': 'sfid', 'features': 'kid'}
_HOLDS = {'fid': 'FID statistics (mu, sigma)', 'sfid': 'sFID statistics (mu_s, sigma_s)',
          'features': 'pool_3 features'}


def official_count(name):
    """How many images the official set holds (50,000 or 10,000)."""
    return len(cifar10.BATCHES[SETS[name][0]]) * cifar10.BATCH_IMAGES


def cache_folder():
    """Where entries are kept: beside the default model file (modelfile.default_model_path),
    $CHAINER_DATASET_ROOT/inception_score/references."""
    from inception_score.modelfile import default_model_path
    return os.path.join(os.path.dirname(default_model_path()), FOLDER)


def cache_path(name, resize, weights_sha256):
    """The entry of set `name` scored with `resize` by the model whose weights have this
    SHA-256 (modelfile.weights_sha256)."""
    return os.path.join(cache_folder(), '{}-{}-{}.npz'.format(name, resize, weights_sha256[:16]))


def lookup(text):
    """The set `text` names, or None: a name of SETS that is not an existing path."""
    if isinstance(text, str) and text in SETS and not os.path.lexists(text):
        return text
    return None


def hint(text):
    """For a reference that does not exist: the names, when `text` looks like one."""
    if isinstance(text, str) and os.sep not in text and '.' not in text:
        return '; the named reference sets are {} (see inception-score --list-references)' \
            .format(', '.join(SETS))
    return ''


def reference(name, data=None):
    """The NamedReference `name` (one of SETS), built when needed from the CIFAR-10 copy `data`
    (a path as cifar10.load takes; default: found, else downloaded)."""
    if name not in SETS:
        raise UsageError('unknown reference set {!r}: choose from {}'.format(
            name, ', '.join(SETS)))
    return NamedReference(name, data)


def open_named(text):
    """The NamedReference `text` names, or None (a path, or a path shadowing a name, which
    then gets one warning)."""
    if isinstance(text, str) and text in SETS and os.path.lexists(text):
        from inception_score.checks import warn
        what = 'the folder' if os.path.isdir(text) else 'the file'
        warn('{} names both {} here and a named reference set: {} is read (write {} to say '
             'so, or run elsewhere for the named set)'.format(
                 text, what, what, os.path.join('.', text)))
        return None
    return NamedReference(text) if lookup(text) else None


def inputs(text):
    """What a run with reference `text` reads, for files.check_outputs: for a named set the
    cache folder and the CIFAR-10 copy (found, or the file a download would write); else
    `text` itself."""
    if lookup(text) is None:
        return [('reference', text)]
    copy = cifar10.find() or cifar10.download_path()
    return ([('reference cache', cache_folder())]
            + [('CIFAR-10 copy', path) for path in cifar10.inputs(copy)])


def prepared(ref, model, metrics, batch_size=100, resize='tf1', comm=None):
    """`ref` itself, its numbers ready when it is a named set (for callers that take the
    numbers, not the images: the Trainer extension)."""
    if isinstance(ref, NamedReference):
        ref.prepare(model, metrics, batch_size, resize, comm=comm)
    return ref


def _option(name):
    """How the caller gives a CIFAR-10 copy, in its words (None: the command line, which
    finds it where it looks)."""
    from inception_score.fixes import option
    if option('reference').startswith('--'):
        return None
    return 'reference=inception_score.named.reference({!r}, data=PATH)'.format(name)


# ---------------------------------------------------------------------------------------------
# Entries: written atomically, read through the checked readers, each array against its digest.

def _digest(a):
    """SHA-256 of an array's dtype, shape and bytes (as written and as read back)."""
    a = numpy.ascontiguousarray(a)
    digest = hashlib.sha256('{}{}'.format(a.dtype.str, a.shape).encode())
    digest.update(a.data)
    return digest.hexdigest()


def holds(info):
    """What an entry holds ('fid', 'sfid', 'features'), from its provenance's array names."""
    keys = set(info.get('keys', ()))
    return {part for part, names in _ARRAYS.items() if set(names) <= keys}


def _mismatch(info, name, weights, resize):
    """Why an entry's provenance is not that of set `name`, these weights and resize; None
    when it is."""
    if info.get('reference_cache_version') != CACHE_VERSION:
        return 'it is not a reference entry of this version ({})'.format(CACHE_VERSION)
    for key, want, what in (('reference_set', name, 'set'),
                            ('model_sha256', weights, 'model weights'),
                            ('resize', resize, 'resize')):
        if info.get(key) != want:
            return 'it was made for another {} ({}, not {})'.format(what, info.get(key), want)
    if 'fid' not in holds(info):
        return 'it holds no FID statistics'
    return None


def read_entry(path, parts):
    """The provenance and the arrays of `parts` ({'fid', 'sfid', 'features'}) of the entry at
    `path`, as {'provenance': {...}, part: numbers}: each array read through its checked
    reader and equal to the SHA-256 recorded beside it. InputError (one line) otherwise."""
    from inception_score.reference import load_features
    from inception_score.statsfile import open_statistics
    with open_statistics(path) as f:
        out = {'provenance': f.provenance()}
        if 'fid' in parts:
            out['fid'] = f.statistics(dim=topology.NUM_FEATURES)
        if 'sfid' in parts:
            out['sfid'] = f.statistics(spatial=True, dim=adm.SPATIAL_FEATURES)
    if 'features' in parts:
        out['features'] = load_features(path)
        if len(out['features']) != out['provenance'].get('n'):
            raise InputError('{}: {} feature vectors for {} images'.format(
                path, len(out['features']), out['provenance'].get('n')))
    for part in parts:
        arrays = out[part] if part != 'features' else (out[part],)
        for key, a in zip(_ARRAYS[part], arrays):
            if out['provenance'].get('sha256_' + key) != _digest(a):
                raise InputError('{}: {!r} differs from the digest recorded when it was '
                                 'written'.format(path, key))
    return out


def _write_entry(path, numbers, provenance):
    """Write an entry atomically; a cache that cannot be written is one warning line (the
    numbers serve this run all the same). Returns whether it was written."""
    from inception_score.checks import warn
    from inception_score.files import atomic_output, check_writable
    from inception_score.statsfile import save_statistics
    sums = {}
    for part, value in numbers.items():
        for key, a in zip(_ARRAYS[part], value if part != 'features' else (value,)):
            sums['sha256_' + key] = _digest(a)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        check_writable(path)
        with atomic_output(path) as tmp:
            save_statistics(tmp, *numbers['fid'], pool_3=numbers.get('features'),
                            spatial=numbers.get('sfid'), **provenance, **sums)
    except (InceptionScoreError, OSError) as e:
        warn('the {} reference is not cached ({}): it serves this run only'.format(
            provenance['reference_set'], getattr(e, 'strerror', None) or e))
        return False
    return True


# ---------------------------------------------------------------------------------------------
# The reference.

class NamedReference(Reference):
    """A set of SETS as a Reference: its numbers come from `prepare`, which reads the cache
    entry for the model and resize of the run, or builds it (one pass over the images).
    scoring.evaluate_source prepares it; so does the Trainer extension.

    data: the CIFAR-10 copy to build from (default: cifar10.find(), else downloaded).
    provenance (after prepare): name, format 'named-set', cache ('hit', 'built', 'rebuilt',
        'extended', 'not cached'), path, images, model_sha256, resize, source, source_sha256,
        images_sha256, holds.
    """

    def __init__(self, name, data=None):
        super().__init__(provenance={'name': name, 'format': 'named-set'})
        self.set_name = name
        self.data = data
        self._ready = None  # (weights, resize) of the numbers held

    @property
    def name(self):
        return self.set_name

    def check(self, metrics, kid_subset_size=None):
        if self._ready is None:  # its numbers come with prepare
            check_metrics(metrics)
            return self
        return super().check(metrics, kid_subset_size)

    def needs_images(self, metrics):
        return False

    def describe(self, metrics):
        return dict(self.provenance)

    def prepare(self, model, metrics, batch_size=100, resize='tf1', progress=None, comm=None,
                network=None):
        """Read the numbers `metrics` need from the cache entry of `model`'s weights and
        `resize`, or build them (and the entry); returns self. model: a Network from
        modelfile.load_network, a Chainer Inception or the path of a model file; network:
        its core Network where the caller has it already."""
        from inception_score.checks import check_resize, warn
        from inception_score.scoring import as_network
        check_resize(resize)
        metrics = check_metrics(metrics)
        network = as_network(model) if network is None else network
        weights = _weights_of(model, network)
        # FID's statistics always (the cheapest entry serves every later FID); the others
        # when a metric needs them.
        wanted = {'fid'} | ({'sfid'} & set(metrics)) | (
            {'features'} if {'precision_recall', 'kid'} & set(metrics) else set())
        held = {part for part, value in (('fid', self.statistics), ('sfid', self.spatial),
                                         ('features', self.features)) if value is not None}
        if self._ready == (weights, resize) and wanted <= held:
            return self
        path = cache_path(self.set_name, resize, weights)
        numbers, state, keep = _cached(path, self.set_name, weights, resize, wanted)
        if comm is not None and not _everywhere(comm, numbers is not None):
            numbers, state = None, 'built' if state == 'hit' else state
        if numbers is None:
            numbers = self._build(network, wanted | keep, batch_size, resize, progress, comm,
                                  weights, path)
            if (comm is None or comm.rank == 0) and not _write_entry(
                    path, {k: v for k, v in numbers.items() if k != 'provenance'},
                    numbers['provenance']):
                state = 'not cached'
        info = numbers.pop('provenance')
        self.statistics = numbers['fid']
        self.spatial = numbers.get('sfid')
        self.features = numbers.get('features')
        self._ready = (weights, resize)
        if info.get('n') != official_count(self.set_name):
            warn('the {} reference {} {} images, not the {:,} of the official set ({})'.format(
                self.set_name, 'holds' if state == 'hit' else 'was built from', info.get('n'),
                official_count(self.set_name), info.get('source')))
        self.provenance = {
            'name': self.set_name, 'format': 'named-set', 'cache': state, 'path': path,
            'images': info.get('n'), 'model_sha256': weights, 'resize': resize,
            'source': info.get('source'), 'source_sha256': info.get('source_sha256') or None,
            'images_sha256': info.get('images_sha256'),
            'holds': sorted(holds(info) | set(numbers))}
        return self

    def _build(self, network, parts, batch_size, resize, progress, comm, weights, path):
        """One pass over the set's images into the numbers of `parts`, with provenance: the
        pass any reference given as an image array gets (scoring._reference_numbers)."""
        import inception_score
        from inception_score.fetch import sha256_file
        from inception_score.scoring import _reference_numbers
        from inception_score.sources import ArraySource
        split, _ = SETS[self.set_name]
        data = _obtain(self.data, self.set_name, progress is not None, comm)
        ims = cifar10.load(data, split)
        if comm is None or comm.rank == 0:
            _say('Building the {} reference once: {:,} images from {}; cached as {}'.format(
                self.set_name, len(ims), data, path))
        images = Reference(ArraySource(ims, name='{} ({})'.format(self.set_name, data)))
        numbers = _reference_numbers(network, images, tuple(_METRIC[p] for p in parts),
                                     batch_size, resize, progress, comm)
        numbers = {part: numbers[part] for part in parts}
        numbers['provenance'] = dict(
            reference_set=self.set_name, reference_cache_version=CACHE_VERSION, n=len(ims),
            model_sha256=weights, resize=resize, source=os.path.abspath(data),
            source_sha256=sha256_file(data) if os.path.isfile(data) else '',
            images_sha256=hashlib.sha256(numpy.ascontiguousarray(ims).data).hexdigest(),
            batch_size=int(batch_size), device=network.device, features='pool_3',
            inception_score_version=inception_score.__version__,
            created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'))
        return numbers


def _cached(path, name, weights, resize, wanted):
    """(numbers, 'hit', _) from the entry at `path` when it passes every check and holds
    `wanted`; else (None, state, parts to keep): 'built' (no entry), 'extended' (it lacks some
    of `wanted`), 'rebuilt' (it failed a check: one warning line)."""
    from inception_score.checks import warn
    if not os.path.lexists(path):
        return None, 'built', set()
    try:
        if not os.path.isfile(path):  # a FIFO would block the reader
            raise InputError('{} is not a regular file'.format(path))
        info = read_entry(path, set())['provenance']
        problem = _mismatch(info, name, weights, resize)
        if problem is not None:
            raise InputError('{}: {}'.format(path, problem))
        if not wanted <= holds(info):
            return None, 'extended', holds(info)
        return read_entry(path, wanted), 'hit', set()
    except InputError as e:
        warn('{}: rebuilding it'.format(e))
        return None, 'rebuilt', set()


def _weights_of(model, network):
    """The SHA-256 of the weights the run scores with (the cache's key)."""
    from inception_score import modelfile
    from inception_score.backend import to_numpy
    for candidate in (network, model):
        known = getattr(candidate, 'weights_sha256', None)
        if known:
            return known
    if isinstance(model, (str, os.PathLike)):
        return modelfile.weights_sha256(os.fspath(model))
    if callable(getattr(model, 'arrays', None)):  # a Chainer Inception: its current weights
        return modelfile.arrays_digest({k: to_numpy(v) for k, v in model.arrays().items()})
    raise UsageError('a named reference set is cached by the weights of the model that '
                     'scores it, which this network does not know: pass the model file (or a '
                     'Network from modelfile.load_network(path))')


def _everywhere(comm, ok):
    """Whether `ok` holds on every process of a ChainerMN communicator (all must call)."""
    total = comm.allreduce(numpy.array([0.0 if ok else 1.0]))
    return float(numpy.asarray(total).ravel()[0]) == 0


def _obtain(data, name, progress, comm):
    """The CIFAR-10 copy to build from: given, found, or downloaded now (by the first process
    under ChainerMN); offline with none, one line saying which file to put where."""
    option = _option(name)
    data, to_download = cifar10.plan(data, allow_download=True, option=option)
    if not to_download:
        return data
    error = None
    if comm is None or comm.rank == 0:
        try:
            cifar10.obtain(data, progress=progress, option=option)
        except InceptionScoreError as e:
            error = e
    if comm is not None and not _everywhere(comm, error is None):
        error = error or UsageError(cifar10.not_found_message(option=option))
    if error is not None:
        raise error
    return data


def _say(text):
    import sys
    from tqdm import tqdm
    tqdm.write(text, file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# --list-references

def listing():
    """The lines `inception-score --list-references` prints: the sets, the CIFAR-10 copy a
    build would read, and every cached entry (from its provenance; the arrays are checked when
    an entry is used)."""
    from inception_score.statsfile import read_provenance
    lines = ['Named reference sets (--fid NAME, --kid NAME, --adm NAME): built from CIFAR-10 '
             'on first use, then read from the cache']
    lines += ['  {:<14} {}'.format(name, text) for name, (_, text) in SETS.items()]
    found = cifar10.find()
    lines.append('CIFAR-10 copy: {}'.format(
        found or 'none here ({}), beside the model file or in Chainer\'s cache: downloaded on '
                 'first use'.format(os.getcwd())))
    folder = cache_folder()
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith('.npz'))
    except (FileNotFoundError, NotADirectoryError):
        names = []
    except OSError as e:
        raise InputError('{} cannot be read ({})'.format(folder, e.strerror or e)) from None
    lines.append('Cached in {}:{}'.format(folder, '' if names else ' nothing yet'))
    for entry in names:
        path = os.path.join(folder, entry)
        lines.append('  ' + path)
        try:
            if not os.path.isfile(path):
                raise InputError('not a regular file')
            info = read_provenance(path)
        except InputError as e:
            lines.append('      unreadable ({}): rebuilt when next used'.format(e))
            continue
        if info.get('reference_cache_version') != CACHE_VERSION:
            lines.append('      not a reference entry of this version: rebuilt when next used')
            continue
        lines.append('      {}, {} images, resize {}, model weights SHA-256 {}'.format(
            info.get('reference_set'), info.get('n'), info.get('resize'),
            info.get('model_sha256')))
        lines.append('      holds {}; built {} from {}'.format(
            ', '.join(_HOLDS[p] for p in ('fid', 'sfid', 'features') if p in holds(info)),
            info.get('created_utc'), info.get('source')))
    return lines
