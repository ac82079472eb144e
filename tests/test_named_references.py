"""Named reference sets (named.py): `--fid cifar10-train` is built from the CIFAR-10 copy found
(here: a synthetic archive in the official layout) once, kept in the dataset cache by model
weights and resize, and read from there afterwards; an entry that fails a check is rebuilt,
never trusted."""
import hashlib
import json
import os
import shutil
import socket
import warnings

import numpy
import pytest

import cifar_files
from inception_score import cifar10, cli, modelfile, named, reference, scoring
from inception_score.errors import InputError, InputWarning, UsageError

BATCH = 4  # several batches per set, as 100 are over 50,000 images


def _closed_port():
    with socket.socket() as s:  # bound, never listening: a connection is refused at once
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
    """5 training images (1 in each of the 5 batches) and 4 test images, as the official
    cifar-10-python.tar.gz holds them."""
    rng = numpy.random.RandomState(7)
    train = rng.randint(0, 256, (5, 3, 32, 32)).astype(numpy.uint8)
    test = rng.randint(0, 256, (4, 3, 32, 32)).astype(numpy.uint8)
    folder = tmp_path_factory.mktemp('cifar')
    archive = cifar_files.write_archive(folder / cifar10.ARCHIVES['python'], train, test,
                                        'python')
    return {'cifar10-train': train, 'cifar10-test': test, 'archive': archive}


def _settle(mp, root, work, archive):
    """An empty dataset cache at `root`, no network (every download fails at once, as
    offline), and the CIFAR-10 archive in the working directory `work`, where example.py
    finds it too."""
    mp.setenv('CHAINER_DATASET_ROOT', str(root))
    dead = 'http://127.0.0.1:{}'.format(_closed_port())
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):
        mp.setenv(name, dead)
    mp.delenv('no_proxy', raising=False)
    mp.delenv('NO_PROXY', raising=False)
    work.mkdir()
    shutil.copy(archive, str(work / cifar10.ARCHIVES['python']))
    mp.chdir(str(work))


@pytest.fixture(scope='module')
def built(cifar, network, tmp_path_factory):
    """The entries the first runs build (the network's passes are the expensive part: each
    test copies these instead of building its own): cifar10-train holding everything,
    cifar10-test FID's statistics only. {name: (prepared NamedReference, entry bytes)}."""
    d = tmp_path_factory.mktemp('built')
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        _settle(mp, d / 'dataset_root', d / 'work', cifar['archive'])
        for name, metrics in (('cifar10-train', ('fid', 'sfid', 'precision_recall')),
                              ('cifar10-test', ('fid',))):
            ref = _prepare(network, name, metrics)
            with open(ref.provenance['path'], 'rb') as f:
                out[name] = ref, f.read()
    return out


@pytest.fixture
def home(tmp_path, monkeypatch, cifar):
    """_settle's state for one test; returns the dataset cache's root."""
    _settle(monkeypatch, tmp_path / 'dataset_root', tmp_path / 'work', cifar['archive'])
    return tmp_path / 'dataset_root'


def _copy_entries(built, *names):
    """The entries of `built` in the current dataset cache; their paths."""
    paths = []
    for name in names:
        ref, data = built[name]
        path = named.cache_path(name, 'tf1', ref.provenance['model_sha256'])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
        paths.append(path)
    return paths


@pytest.fixture(scope='module')
def other_network(model_file, tmp_path_factory):
    """A second model file: the same weights but the first convolution's, so another weights
    SHA-256 and other features."""
    arrays = modelfile.load_arrays(model_file)
    first = next(key for key in arrays if key.endswith('/W'))
    arrays[first] = arrays[first] * numpy.float32(1.5)
    path = str(tmp_path_factory.mktemp('other') / 'other.model')
    modelfile.save_arrays(path, arrays, modelfile.read_metadata(model_file))
    return modelfile.load_network(path)


def _prepare(network, name='cifar10-test', metrics=('fid',), **kwargs):
    """A fresh NamedReference `name`, prepared; the small synthetic sets warn that they are
    not the official 50,000 / 10,000 images."""
    ref = reference.open_reference(name, metrics)
    assert isinstance(ref, named.NamedReference)
    with pytest.warns(InputWarning, match='not the {:,} of the official set'.format(
            named.official_count(name))):
        return ref.prepare(network, metrics, BATCH, **kwargs)


def _offline_rebuild(network, name='cifar10-test', metrics=('fid',), **kwargs):
    """Prepare `name` with no CIFAR-10 copy anywhere: only a build needs one, so this fails
    (one line) unless the entry is read. Returns the warnings given on the way."""
    if os.path.exists(cifar10.ARCHIVES['python']):
        os.remove(cifar10.ARCHIVES['python'])
    with warnings.catch_warnings(record=True) as seen, \
            pytest.raises(UsageError, match='CIFAR-10 is not here'):
        warnings.simplefilter('always')
        reference.open_reference(name, metrics).prepare(network, metrics, BATCH, **kwargs)
    return [str(w.message) for w in seen if issubclass(w.category, InputWarning)]


def _direct(network, images, metrics=('fid',)):
    """The set's numbers through the path every reference given as an image array takes
    (reference.as_reference of the (N, 3, 32, 32) uint8 array, then one pass)."""
    ref = reference.as_reference(images, metrics)
    return scoring._reference_numbers(network, ref, metrics, BATCH, 'tf1', None, None)


def _close(a, b):
    # Both sides run the same network on the same batches; only the order of the float64
    # sums of float32 features could differ: 1e-6 of the largest entry is far above that.
    a, b = numpy.asarray(a, numpy.float64), numpy.asarray(b, numpy.float64)
    return a.shape == b.shape and numpy.abs(a - b).max() <= 1e-6 * max(numpy.abs(b).max(), 1e-12)


@pytest.mark.slow
def test_a_set_is_built_from_the_archive_as_its_images_scored_as_an_array(
        built, cifar, network, model_file):
    ref, _ = built['cifar10-train']
    expected = _direct(network, cifar['cifar10-train'], ('fid', 'sfid', 'kid'))
    for ours, theirs in ((ref.statistics, expected['fid']), (ref.spatial, expected['sfid'])):
        assert _close(ours[0], theirs[0]) and _close(ours[1], theirs[1])
    assert ref.features.dtype == numpy.float32 and _close(ref.features, expected['features'])
    sha = network.weights_sha256
    assert sha == modelfile.weights_sha256(model_file)
    path = ref.provenance['path']
    assert path.endswith(os.path.join('dataset_root', 'inception_score', 'references',
                                      'cifar10-train-tf1-{}.npz'.format(sha[:16])))
    assert ref.describe(('fid',)) == {
        'name': 'cifar10-train', 'format': 'named-set', 'cache': 'built', 'path': path,
        'images': 5, 'model_sha256': sha, 'resize': 'tf1', 'source': ref.provenance['source'],
        'source_sha256': hashlib.sha256(open(cifar['archive'], 'rb').read()).hexdigest(),
        'images_sha256': hashlib.sha256(cifar['cifar10-train'].tobytes()).hexdigest(),
        'holds': ['features', 'fid', 'sfid']}
    assert ref.provenance['source'].endswith(os.path.join('work', cifar10.ARCHIVES['python']))


def test_a_second_run_reads_the_cache_and_not_the_images(home, built, network):
    _copy_entries(built, 'cifar10-train')
    os.remove(cifar10.ARCHIVES['python'])  # a build would now fail: offline, nothing found
    first, _ = built['cifar10-train']
    passes = []
    hit = _prepare(network, 'cifar10-train', ('fid', 'precision_recall'),
                   progress=lambda done, total: passes.append(done))
    assert passes == [] and hit.provenance['cache'] == 'hit'
    assert hit.provenance['holds'] == ['features', 'fid', 'sfid']
    # What was written is what is read: float64 statistics and float32 features, bit for bit.
    for ours, theirs in ((hit.statistics, first.statistics), ((hit.features,), (first.features,))):
        assert all(numpy.array_equal(a, b) for a, b in zip(ours, theirs))
    assert hit.spatial is None  # read only when sFID asks
    # Prepared again for the same model and resize, it reads nothing.
    os.remove(hit.provenance['path'])
    assert hit.prepare(network, ('fid',), BATCH) is hit and hit.provenance['cache'] == 'hit'
    # The Python API's reference= takes the name too.
    again = reference.as_reference('cifar10-train', ('fid',))
    assert isinstance(again, named.NamedReference) and again.statistics is None


@pytest.mark.slow
def test_an_entry_lacking_what_a_metric_needs_is_extended(home, built, network):
    (path,) = _copy_entries(built, 'cifar10-test')
    ref = _prepare(network, 'cifar10-test', ('fid', 'precision_recall'))
    assert ref.provenance['cache'] == 'extended' and ref.provenance['path'] == path
    assert ref.provenance['holds'] == ['features', 'fid']
    first, _ = built['cifar10-test']
    assert _close(ref.statistics[0], first.statistics[0])
    assert _close(ref.statistics[1], first.statistics[1])
    # The entry is a statistics file like any other: usable as a path, features included.
    by_path = reference.open_reference(path, ('precision_recall',))
    assert numpy.array_equal(by_path.features, ref.features) and len(ref.features) == 4


def _rewrite(path, **changes):
    """The entry at `path` rewritten with some arrays or provenance entries changed."""
    with numpy.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    arrays.update(changes)
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)


def _truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)


def _flip_a_bit(path):
    """One bit of sigma[0, 0] flipped (its lowest mantissa bit): still a symmetric, positive
    semi-definite covariance, so only the recorded digest tells."""
    with numpy.load(path) as data:
        first = data['sigma'][0, 0].tobytes()
    with open(path, 'r+b') as f:
        content = f.read()
        at = content.index(first, content.index(b'sigma.npy'))
        f.seek(at)
        f.write(bytes([content[at] ^ 1]))


DAMAGES = {
    'a flipped bit': (_flip_a_bit, "(array 'sigma') is damaged (Bad CRC"),
    'truncated': (_truncate, 'is a damaged .npz (zip) archive'),
    'not an npz': (lambda p: open(p, 'wb').close(), 'not an .npz file'),
    'mu changed': (lambda p: _rewrite(p, mu=numpy.load(p)['mu'] + 1e-3),
                   "'mu' differs from the digest recorded when it was written"),
    'sigma not a covariance': (lambda p: _rewrite(p, sigma=-numpy.eye(2048)),
                               "'sigma' is not positive semi-definite"),
    'another model': (lambda p: _rewrite(p, model_sha256=numpy.array('0' * 64)),
                      'it was made for another model weights ({}, not '.format('0' * 64)),
    'another resize': (lambda p: _rewrite(p, resize=numpy.array('pil')),
                       'it was made for another resize (pil, not tf1)'),
    'another set': (lambda p: _rewrite(p, reference_set=numpy.array('cifar10-train')),
                    'it was made for another set (cifar10-train, not cifar10-test)'),
    'no provenance': (lambda p: numpy.savez(p, mu=numpy.zeros(2048), sigma=numpy.eye(2048)),
                      'it is not a reference entry of this version (1)'),
    'a folder': (lambda p: os.remove(p) or os.mkdir(p), 'is not a regular file'),
}


@pytest.mark.parametrize('damage', [
    pytest.param(d, marks=pytest.mark.slow) if d == 'sigma not a covariance' else d
    for d in sorted(DAMAGES)])
def test_an_entry_failing_a_check_is_never_used(damage, home, built, network):
    (path,) = _copy_entries(built, 'cifar10-test')
    damage_it, reason = DAMAGES[damage]
    damage_it(path)
    seen = _offline_rebuild(network)  # it goes for the images: the entry was not used
    assert any(w.startswith(path) and reason in w and w.endswith(': rebuilding it')
               for w in seen), seen


@pytest.mark.slow
def test_a_damaged_entry_is_rebuilt_then_read(home, built, network):
    (path,) = _copy_entries(built, 'cifar10-test')
    _truncate(path)
    with pytest.warns(InputWarning, match='is a damaged .npz .*: rebuilding it'):
        ref = _prepare(network)
    assert ref.provenance['cache'] == 'rebuilt'
    first, _ = built['cifar10-test']
    assert _close(ref.statistics[0], first.statistics[0])
    assert _close(ref.statistics[1], first.statistics[1])
    os.remove(cifar10.ARCHIVES['python'])
    assert _prepare(network).provenance['cache'] == 'hit'  # the rebuilt entry is sound


@pytest.mark.slow
def test_another_model_or_resize_never_reads_the_entry_of_the_first(
        home, built, network, other_network):
    (first,) = _copy_entries(built, 'cifar10-test')
    assert other_network.weights_sha256 != network.weights_sha256
    other = _prepare(other_network)
    assert other.provenance['cache'] == 'built' and other.provenance['path'] != first
    assert not _close(other.statistics[0], built['cifar10-test'][0].statistics[0])
    # The first model's entry where the other's belongs: made with another model.
    shutil.copy(first, other.provenance['path'])
    seen = _offline_rebuild(other_network)
    assert any('it was made for another model weights ({}, not {})'.format(
        network.weights_sha256, other_network.weights_sha256) in w for w in seen), seen
    # Another resize: another entry, so the images again.
    _offline_rebuild(network, resize='pil')
    assert named.cache_path('cifar10-test', 'pil', network.weights_sha256) != first


def _list(capsys):
    with pytest.raises(SystemExit) as info:
        cli.score_main(['--list-references'])
    assert info.value.code == 0
    out, err = capsys.readouterr()
    assert err == ''
    return out.splitlines()


def test_list_references_shows_the_sets_and_each_entry_without_inputs_or_model(
        home, built, network, capsys):
    folder = home / 'inception_score' / 'references'
    lines = _list(capsys)
    assert lines[1:3] == ["  cifar10-train  CIFAR-10's 50,000 training images",
                          "  cifar10-test   CIFAR-10's 10,000 test images"]
    assert lines[3:] == ['CIFAR-10 copy: ' + os.path.abspath(cifar10.ARCHIVES['python']),
                         'Cached in {}: nothing yet'.format(folder)]
    train, test = _copy_entries(built, 'cifar10-train', 'cifar10-test')
    (folder / 'broken.npz').write_bytes(b'PK\x03\x04 broken')
    lines = _list(capsys)
    assert lines[4] == 'Cached in {}:'.format(folder)
    entries = {lines[i].strip(): lines[i + 1:i + 3] for i in range(5, len(lines))
               if lines[i].startswith('  /')}
    assert sorted(entries) == sorted([train, test, str(folder / 'broken.npz')])
    sha = network.weights_sha256
    assert entries[test][0] == (
        '      cifar10-test, 4 images, resize tf1, model weights SHA-256 {}'.format(sha))
    assert entries[test][1].startswith('      holds FID statistics (mu, sigma); built ')
    assert entries[train][0] == (
        '      cifar10-train, 5 images, resize tf1, model weights SHA-256 {}'.format(sha))
    assert entries[train][1].startswith(
        '      holds FID statistics (mu, sigma), sFID statistics (mu_s, sigma_s), pool_3 '
        'features; built ')
    assert entries[str(folder / 'broken.npz')][0].startswith('      unreadable (')


def test_offline_without_cifar10_is_one_line_and_nothing_is_written(
        home, network, model_file, tmp_path, capsys):
    os.remove(cifar10.ARCHIVES['python'])
    images = tmp_path / 'images.npy'
    numpy.save(str(images), numpy.zeros((2, 3, 32, 32), numpy.uint8))
    before = sorted(os.listdir(str(tmp_path)))
    report = tmp_path / 'report.json'
    code = cli.score_main([str(images), '--model', model_file, '--fid', 'cifar10-train',
                           '--splits', '1', '--json', str(report), '--quiet'])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith('inception-score: error: CIFAR-10 is not here (')
    assert err[0].endswith(': download {} (170 MB) and put it in {} (or in {}; or put '
                           'cifar-10-binary.tar.gz or an extracted cifar-10-batches-py or '
                           'cifar-10-batches-bin folder there)'.format(
                               cifar10.URLS['python'], os.getcwd(),
                               home / 'inception_score'))
    # No file anywhere (the download's folder, as example.py's, may be there, empty).
    assert sorted(set(os.listdir(str(tmp_path))) - {home.name}) == before
    assert [f for _, _, files in os.walk(str(home)) for f in files] == []
    # The Python API names its own way to give a copy.
    with pytest.raises(UsageError, match=r"or pass reference=inception_score\.named\.reference"
                                         r"\('cifar10-test', data=PATH\) to it"):
        named.reference('cifar10-test').prepare(network, ('fid',))


@pytest.mark.slow
def test_a_copy_given_is_read_and_a_path_wins_over_a_name(home, cifar, network, tmp_path):
    batches = cifar_files.write_folder(tmp_path / 'elsewhere', cifar['cifar10-train'],
                                       cifar['cifar10-test'], 'binary')
    os.remove(cifar10.ARCHIVES['python'])
    ref = named.reference('cifar10-test', data=batches)
    with pytest.warns(InputWarning, match='not the 10,000'):
        ref.prepare(network, ('fid',), BATCH)
    assert ref.provenance['source'] == batches and ref.provenance['source_sha256'] is None
    assert ref.provenance['images_sha256'] == hashlib.sha256(
        cifar['cifar10-test'].tobytes()).hexdigest()
    # A folder named like a set is the folder, with one warning; ./NAME says so silently.
    os.mkdir('cifar10-test')
    with pytest.warns(InputWarning, match='cifar10-test names both the folder here and a '
                                          'named reference set: the folder is read'):
        with pytest.raises(InputError, match='no images'):
            reference.open_reference('cifar10-test')
    assert named.lookup('cifar10-test') is None and named.lookup('cifar10-train') is not None
    with pytest.raises(UsageError, match='reference cifar10 does not exist; the named '
                                         'reference sets are cifar10-train, cifar10-test'):
        reference.open_reference('cifar10')
    with pytest.raises(UsageError, match="unknown reference set 'cifar100-train'"):
        named.reference('cifar100-train')


def test_outputs_never_land_in_the_cache_or_on_the_cifar10_copy(home, model_file, tmp_path,
                                                                capsys):
    folder = home / 'inception_score' / 'references'
    folder.mkdir(parents=True)
    images = tmp_path / 'images.npy'
    numpy.save(str(images), numpy.zeros((2, 3, 32, 32), numpy.uint8))
    out = folder / 'stats.npz'
    code = cli.score_main([str(images), '--model', model_file, '--fid', 'cifar10-train',
                           '--save-stats', str(out)])
    assert code == 2 and capsys.readouterr().err == (
        'inception-score: error: --save-stats {} is inside the reference cache folder {}: '
        'write outputs outside the inputs\n'.format(out, folder))
    code = cli.score_main([str(images), '--model', model_file, '--adm', 'cifar10-test',
                           '--json', cifar10.ARCHIVES['python']])
    assert code == 2 and capsys.readouterr().err.startswith(
        'inception-score: error: --json cifar-10-python.tar.gz is the CIFAR-10 copy ')


@pytest.mark.slow
def test_the_extension_reads_the_same_entry_with_the_chainer_model(home, built, model):
    from inception_score import InceptionScoreExtension
    _copy_entries(built, 'cifar10-test')
    os.remove(cifar10.ARCHIVES['python'])  # a build would fail: the entry must be read
    with pytest.warns(InputWarning, match='not the 10,000'):
        ext = InceptionScoreExtension(lambda n: None, model, n_samples=4, splits=1,
                                      fid_reference='cifar10-test')
    first, _ = built['cifar10-test']
    assert all(numpy.array_equal(a, b) for a, b in zip(ext.fid_statistics, first.statistics))


@pytest.mark.slow
def test_command_line_builds_then_hits_and_says_so(home, model_file, tmp_path, capsys):
    images = tmp_path / 'images.npy'
    numpy.save(str(images), numpy.random.RandomState(3).randint(
        0, 256, (4, 3, 32, 32)).astype(numpy.uint8))
    runs = []
    # The second run also asks KID of the same set: the entry the first built holds its
    # feature vectors.
    for flag, parts, more in (('--adm', '--split-size', []),
                              ('--fid', '--splits', ['--kid', 'cifar10-test',
                                                     '--kid-subset-size', '2'])):
        report = tmp_path / 'report{}.json'.format(len(runs))
        code = cli.score_main([str(images), '--model', model_file, flag, 'cifar10-test', parts,
                               '2', '--batch-size', str(BATCH), '--json', str(report)] + more)
        out, err = capsys.readouterr()
        assert code == 0, err
        runs.append((json.loads(report.read_text()), out, err))
        if len(runs) == 1:  # the second run must not need the images
            os.remove(cifar10.ARCHIVES['python'])
    (adm, adm_out, adm_err), (fid, fid_out, fid_err) = runs
    path = adm['reference']['path']
    assert adm['reference']['cache'] == 'built' and fid['reference']['cache'] == 'hit'
    assert adm['reference']['holds'] == ['features', 'fid', 'sfid']
    assert fid['reference']['path'] == path and fid['reference']['images'] == 4
    assert 'Building the cifar10-test reference once: 4 images from {}; cached as {}\n'.format(
        os.path.abspath(cifar10.ARCHIVES['python']), path) in adm_err
    assert 'Building' not in fid_err
    assert 'not the 10,000 of the official set' in fid_err
    assert adm['fid'] == fid['fid'] and 'FID: ' in fid_out  # the same numbers, read back
    assert {'sfid', 'precision', 'recall'} <= set(adm)
    assert fid['kid']['subset_size'] == 2 and 'KID: ' in fid_out
    assert fid['reference']['holds'] == ['features', 'fid', 'sfid']


def test_list_references_as_a_program_exits_0_with_the_listing_on_stdout(home, built):
    import subprocess
    import sys
    (train,) = _copy_entries(built, 'cifar10-train')
    env = dict(os.environ, CHAINER_DATASET_ROOT=str(home), PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(named.__file__))]
        + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    with numpy.load(train) as entry:
        created = str(entry['created_utc'])
    proc = subprocess.run([sys.executable, '-m', 'inception_score', '--list-references'],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == '', proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith('Named reference sets (--fid NAME, --kid NAME, --adm NAME)')
    assert lines[4:] == [
        'Cached in {}:'.format(home / 'inception_score' / 'references'), '  ' + train,
        '      cifar10-train, 5 images, resize tf1, model weights SHA-256 {}'.format(
            built['cifar10-train'][0].provenance['model_sha256']),
        '      holds FID statistics (mu, sigma), sFID statistics (mu_s, sigma_s), pool_3 '
        'features; built {} from {}'.format(
            created, built['cifar10-train'][0].provenance['source'])]
    # Asked with other arguments, it lists and exits all the same: no input, no model read.
    proc = subprocess.run([sys.executable, '-m', 'inception_score', 'absent/', '--model',
                           'absent.model', '--list-references'],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout.splitlines() == lines
