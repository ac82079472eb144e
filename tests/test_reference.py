"""Reference sets decided by what a path holds: images scored in the same run, TTUR statistics,
ADM reference batches; everything read and checked when opened, bad files one line each."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from inception_score.errors import InputError, UsageError
from inception_score.reference import (Reference, as_reference, check_metrics,
                                       load_fid_statistics, open_reference)

ALL = ('fid', 'sfid', 'precision_recall')


def statistics(rng, n, dim):
    x = rng.normal(0.3, 1.0, (n, dim))
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.fixture(scope='module')
def pool_stats():
    return statistics(np.random.RandomState(0), 60, 2048)


@pytest.fixture(scope='module')
def spatial_stats():
    return statistics(np.random.RandomState(1), 60, 2023)


def images(n, h=16, w=12, seed=2):
    return np.random.RandomState(seed).randint(0, 256, (n, h, w, 3)).astype(np.uint8)


def sha256(path):
    return hashlib.sha256(open(str(path), 'rb').read()).hexdigest()


def test_images_in_a_folder_an_npy_or_an_npz_are_scored(tmp_path):
    folder = tmp_path / 'real'
    folder.mkdir()
    for i, im in enumerate(images(5)):
        Image.fromarray(im).save(str(folder / '{}.png'.format(i)))
    np.save(str(tmp_path / 'real.npy'), images(6))
    np.savez(str(tmp_path / 'real.npz'), images(7))
    ref = open_reference(str(folder))
    assert len(ref.source) == 5 and ref.statistics is None
    assert ref.describe(('fid',)) == {'path': str(folder), 'sha256': None,
                                      'format': 'image-folder', 'images': 5,
                                      'fid_statistics': 'images'}
    ref = open_reference(str(tmp_path / 'real.npy'), ALL)
    assert len(ref.source) == 6
    assert next(ref.source.batches(10)).shape == (6, 3, 16, 12)
    assert ref.provenance == {'path': str(tmp_path / 'real.npy'), 'format': 'image-array',
                              'sha256': sha256(tmp_path / 'real.npy')}
    ref = open_reference(str(tmp_path / 'real.npz'), ('sfid',))
    assert len(ref.source) == 7 and ref.spatial is None
    info = ref.describe(('sfid',))
    assert info['format'] == 'adm-reference-batch' and info['keys'] == ['arr_0']
    assert info['sha256'] == sha256(tmp_path / 'real.npz')
    assert info['images'] == 7 and info['sfid_statistics'] == 'images'


@pytest.mark.slow
def test_ttur_statistics_are_used_as_they_are_and_images_are_not_invented(tmp_path,
                                                                         pool_stats):
    path = str(tmp_path / 'fid_stats_cifar10_train.npz')
    np.savez(path, mu=pool_stats[0].astype(np.float32), sigma=pool_stats[1])
    ref = open_reference(path)
    assert ref.source is None and not ref.needs_images(('fid',))
    assert np.array_equal(ref.statistics[0], pool_stats[0].astype(np.float32))
    assert np.array_equal(ref.statistics[1], pool_stats[1])
    assert ref.describe(('fid',))['fid_statistics'] == 'file'
    assert ref.describe(('fid',))['format'] == 'ttur-statistics'
    for metrics, what in ((('fid', 'sfid'), 'sFID'), (('precision_recall',),
                                                        'precision/recall')):
        with pytest.raises(InputError) as e:
            open_reference(path, metrics)
        assert str(e.value) == ('{}: {} needs the reference images (or their statistics), '
                                'which it does not hold'.format(path, what))


@pytest.mark.slow
def test_adm_reference_batch_gives_its_statistics_and_its_images_only_when_needed(
        tmp_path, pool_stats, spatial_stats):
    path = str(tmp_path / 'VIRTUAL_imagenet64.npz')
    np.savez(path, arr_0=images(9, 8, 8), mu=pool_stats[0], sigma=pool_stats[1],
             mu_s=spatial_stats[0], sigma_s=spatial_stats[1])
    ref = open_reference(path, ALL)
    assert np.array_equal(ref.statistics[1], pool_stats[1])
    assert np.array_equal(ref.spatial[0], spatial_stats[0])
    assert len(ref.source) == 9  # precision/recall needs the images themselves
    info = ref.describe(ALL)
    assert (info['fid_statistics'], info['sfid_statistics'], info['images']) == \
        ('file', 'file', 9)
    assert open_reference(path, ('fid',)).source is None  # FID alone reads no image


def write_npz(**arrays):
    return lambda path: np.savez(path, **arrays)


def _pickled(path):
    np.savez(path, arr_0=np.array([{'a': 1}, None], dtype=object))


BAD = [
    (lambda p: open(p, 'w').write('mu,sigma\n'), ('fid',),
     'neither a folder of images, an .npy/.npz of images nor an .npz of FID statistics'),
    (write_npz(mu=np.zeros(2048)), ('fid',), "has 'mu' but not 'sigma': incomplete statistics"),
    (write_npz(images=np.zeros((3, 8, 8, 3), np.uint8)), ('fid',),
     "has neither 'mu' and 'sigma' statistics nor arr_0 images (found: images)"),
    (write_npz(mu=np.zeros(3), sigma=np.eye(3)), ('fid',),
     'the statistics are of 3 features, expected 2048'),
    (write_npz(mu=np.zeros(2048), sigma=np.diag(np.r_[np.nan, np.ones(2047)])), ('fid',),
     "'sigma' contains NaN or Inf"),
    (write_npz(mu=np.array([{'a': 1}], dtype=object), sigma=np.eye(1)), ('fid',),
     "(array 'mu') holds pickled Python objects, which are never loaded"),
    (_pickled, ('fid',), 'holds pickled Python objects, which are never loaded'),
    (write_npz(arr_0=np.zeros((5, 8, 8, 3), np.int32)), ('fid',), 'has dtype int32'),
    (write_npz(arr_0=np.zeros((3, 8, 8, 3), np.uint8)), ('precision_recall',),
     'precision/recall needs at least 4 reference images, got 3'),
    (write_npz(arr_0=np.zeros((1, 8, 8, 3), np.uint8)), ('fid',),
     'FID needs at least 2 reference images, got 1'),
]


@pytest.mark.parametrize('make,metrics,message', BAD, ids=[b[2][:40] for b in BAD])
def test_bad_reference_files_are_one_line_errors_naming_the_file(tmp_path, make, metrics,
                                                                 message):
    path = str(tmp_path / 'ref.npz')
    make(path)
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(InputError) as e:
        open_reference(path, metrics)
    text = str(e.value)
    assert '\n' not in text and text.startswith(path) and message in text, text
    assert sorted(os.listdir(str(tmp_path))) == before


def test_missing_reference_and_unknown_metric_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match='reference .*nowhere.npz does not exist'):
        open_reference(str(tmp_path / 'nowhere.npz'))
    with pytest.raises(UsageError, match="unknown metric 'ppl': choose from fid, sfid, "
                                         'precision_recall, kid'):
        check_metrics(('fid', 'ppl'))


def test_python_references_pairs_arrays_and_references(pool_stats):
    ref = as_reference(pool_stats)
    assert ref.provenance == {'format': 'statistics'}
    assert np.array_equal(ref.statistics[0], pool_stats[0])
    assert np.array_equal(load_fid_statistics(pool_stats)[1], pool_stats[1])
    with pytest.raises(InputError, match='reference statistics: the statistics are of 3 '
                                         'features, expected 2048'):
        as_reference((np.zeros(3), np.eye(3)))
    ims = images(4).transpose(0, 3, 1, 2)
    ref = as_reference(ims, ALL)
    assert len(ref.source) == 4 and ref.needs_images(ALL)
    assert as_reference(ref, ('fid',)) is ref and as_reference(None) is None
    with pytest.raises(InputError, match='give FID statistics'):
        load_fid_statistics(ims)
    with pytest.raises(InputError, match='must be a path, a \\(mu, sigma\\) pair or an'):
        as_reference(42)
    with pytest.raises(InputError, match='the reference: FID needs at least 2 reference'):
        Reference(as_reference(ims).source.__class__(ims[:1])).check(('fid',))
