"""The summary plot: a PNG of the expected size whose title and axes say what they show."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

from inception_score.errors import InputError, MissingDependencyError
from inception_score.plot import plot_summary


def collapsed_counts():
    counts = np.zeros(1008, np.int64)
    counts[[5, 17, 300]] = [700, 250, 50]
    return counts


NAMES = ['tench, Tinca tinca' if i == 5 else 'class {}'.format(i) for i in range(1008)]
SCORES = [2.1, 2.3, 2.0, 2.2]


def texts(fig):
    found = [fig._suptitle.get_text()]
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    return found


def test_png_with_title_axes_and_named_classes(tmp_path):
    path = tmp_path / 'summary.out'  # written at exactly this name
    fig = plot_summary(str(path), collapsed_counts(), NAMES, SCORES, 2.15, 0.11, fid=41.25)
    assert os.listdir(str(tmp_path)) == ['summary.out']
    with Image.open(str(path)) as image:
        assert image.format == 'PNG' and image.size == (1200, 500)
        # Something was drawn: not a blank canvas.
        dark, light = image.convert('L').getextrema()
        assert dark < 80 and light == 255
    found = texts(fig)
    assert found[0] == 'Inception Score 2.150 \u00b1 0.110   FID 41.250'
    assert 'What the classifier saw (1000 images)' in found
    assert 'predicted class, by rank (3 of 1008 classes predicted)' in found
    assert 'Inception Score' in found and 'split' in found
    box = [t for t in found if t.startswith('most frequent classes')][0]
    assert box.splitlines()[1:] == [' 1. tench \u2014 700 (70.0%)',
                                    ' 2. class 17 \u2014 250 (25.0%)',
                                    ' 3. class 300 \u2014 50 (5.0%)']
    assert 'mean 2.150' in found and '\u00b1 std 0.110' in found
    split_points = fig.axes[1].lines[0].get_ydata()
    assert list(split_points) == SCORES


def test_no_fid_and_own_title(tmp_path):
    fig = plot_summary(str(tmp_path / 'a.png'), collapsed_counts(), NAMES, SCORES, 2.15, 0.11)
    assert 'FID' not in fig._suptitle.get_text()
    fig = plot_summary(str(tmp_path / 'b.png'), collapsed_counts(), NAMES, [3.0], 3.0, 0.0,
                       fid=1.5, title='epoch 7')
    assert fig._suptitle.get_text() == 'epoch 7   FID 1.500'


def test_missing_matplotlib_is_a_one_line_error(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, 'matplotlib', None)  # import matplotlib -> ImportError
    path = tmp_path / 'p.png'
    with pytest.raises(MissingDependencyError, match='pip install matplotlib'):
        plot_summary(str(path), collapsed_counts(), NAMES, SCORES, 2.15, 0.11)
    assert not path.exists()


@pytest.mark.parametrize('counts,scores', [(np.ones(10), SCORES), (np.zeros(1008), SCORES),
                                           (collapsed_counts(), [])])
def test_bad_inputs_write_nothing(tmp_path, counts, scores):
    path = tmp_path / 'p.png'
    with pytest.raises(InputError, match='plot: need'):
        plot_summary(str(path), counts, NAMES, scores, 2.0, 0.1)
    assert not path.exists()
