"""resize='clean' against clean-fid 0.1.35's own resize function, and through TensorFlow's
graph fed at its resize node's output with clean-fid's arrays: the same pool_3 and FID as the
command line's --resize clean."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import synthetic_graph
from conftest import oracle_missing
from inception_score.cli import score_main
from inception_score.fid import frechet_distance, read_provenance
from inception_score.resize import resize_images


@pytest.fixture(scope='module')
def clean_fid_resize():
    """clean-fid's build_resizer('clean'), i.e. make_resizer("PIL", False, "bicubic",
    (299, 299)), from the installed package. cleanfid/resize.py imports torch and PIL only
    (its package's __init__ is empty); cleanfid/utils.py, which reads the files, imports
    torchvision (not installable beside the CPU torch build), so its one step that matters,
    np.array(Image.open(path).convert('RGB')), is done here as it does it."""
    try:
        from cleanfid import resize
    except ImportError:
        oracle_missing('clean-fid 0.1.35 on torch', "the clean resize's oracle")
    from importlib import metadata
    assert metadata.version('clean-fid') == '0.1.35'
    return resize.build_resizer('clean')


def _images(rng):
    """HWC images of the kinds scored: uint8 (image files) upsampled, non-square, already
    299x299, downsampled and very thin; float in [0, 255] (a generator's output, which
    clean-fid resizes as it is); high contrast, so that bicubic overshoots and is clipped."""
    out = [synthetic_graph.smooth_images(rng, 1, h, w)[0].round().astype(np.uint8)
           for h, w in ((32, 32), (48, 80), (299, 299), (360, 320), (17, 301))]
    out.append(synthetic_graph.smooth_images(rng, 1, 64, 64)[0].astype(np.float32))
    checker = (np.indices((24, 24)).sum(0) % 2 * 255).astype(np.uint8)
    out.append(np.repeat(checker[:, :, None], 3, axis=2))
    return out


def test_clean_resize_equals_clean_fids_own_resize(clean_fid_resize):
    rng = np.random.RandomState(7)
    for image in _images(rng):
        theirs = clean_fid_resize(image)
        ours = resize_images(np.ascontiguousarray(image.transpose(2, 0, 1))[None], 'clean')[0]
        assert ours.dtype == np.float32 == theirs.dtype
        assert ours.shape == (3, 299, 299) and theirs.shape == (299, 299, 3)
        # The same PIL calls on the same float32 channels: equal, up to PIL's own rounding.
        assert np.abs(ours.transpose(1, 2, 0) - theirs).max() <= 1e-3, image.shape
        # Not the graph's bilinear (which the comparison would otherwise not tell apart).
        tf1 = resize_images(np.ascontiguousarray(image.transpose(2, 0, 1))[None], 'tf1')[0]
        if image.shape[:2] != (299, 299):
            assert np.abs(ours - tf1).max() > 1.0
    # Bicubic overshoots a checkerboard; clean-fid clips to [0, 255] and keeps floats.
    assert theirs.min() == 0 and theirs.max() == 255
    assert len(np.unique(theirs)) > 256


def _png_folder(folder, rng, sizes):
    folder.mkdir()
    for i, (h, w) in enumerate(sizes):
        im = synthetic_graph.smooth_images(rng, 1, h, w)[0].round().astype(np.uint8)
        Image.fromarray(im).save(str(folder / '{:02d}.png'.format(i)))
    return folder


def _clean_fid_pool3(graph_def, folder, clean_fid_resize):
    """clean-fid's preprocessing of each file, then TensorFlow's graph from its Sub node on
    (fed at ResizeBilinear:0, the resize's output, as InceptionV3W feeds its layers)."""
    paths = sorted(os.path.join(str(folder), p) for p in os.listdir(str(folder)))
    arrays = np.stack([clean_fid_resize(np.array(Image.open(p).convert('RGB')))
                       for p in paths])
    feats, _ = synthetic_graph.run_graph_def(graph_def, arrays, input_name='ResizeBilinear:0')
    return feats.astype(np.float64)


def _ttur_statistics(features):
    return features.mean(axis=0), np.cov(features, rowvar=False)


@pytest.mark.slow  # not `once`: it needs clean-fid, which only .venv has in CI
def test_clean_mode_gives_clean_fids_pool3_and_fid_through_tensorflow(
        graph_def, model_file, clean_fid_resize, tmp_path, capsys):
    rng = np.random.RandomState(8)
    samples = _png_folder(tmp_path / 'samples', rng,
                          [(32, 32)] * 3 + [(48, 80), (299, 299), (360, 320)])
    real = _png_folder(tmp_path / 'real', rng, [(32, 32)] * 3 + [(64, 64)] * 2)
    stats, report_path = tmp_path / 'stats.npz', tmp_path / 'report.json'
    code = score_main([str(samples), '--model', model_file, '--splits', '2', '--resize',
                       'clean', '--fid', str(real), '--save-stats', str(stats),
                       '--save-features', '--json', str(report_path), '--quiet'])
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    assert report['resize'] == 'clean' and read_provenance(str(stats))['resize'] == 'clean'
    theirs = _clean_fid_pool3(graph_def, samples, clean_fid_resize)
    with np.load(str(stats)) as saved:
        ours = saved['pool_3'].astype(np.float64)
    # The fidelity tolerances of tests/test_fidelity.py: float32 graphs, different kernels.
    assert np.abs(ours - theirs).max() <= 1e-3 * np.abs(theirs).max()
    expected = frechet_distance(*_ttur_statistics(theirs),
                                *_ttur_statistics(_clean_fid_pool3(graph_def, real,
                                                                   clean_fid_resize)))
    assert expected > 1.0
    assert abs(report['fid'] - expected) <= 1e-4 * expected
