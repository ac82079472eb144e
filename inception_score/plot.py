"""A one-page picture of a scoring run, for people who would rather look than read.

Left: how many images each class received, classes sorted by count, the most frequent ones
highlighted and named: a few tall bars and a short tail is mode collapse. Right: the score of
every split with the mean and the std band. The FID goes into the title when it was computed.
matplotlib is needed only here and is imported when a plot is asked for. The file's extension
names its format (png, pdf, svg, jpg, ...: whatever matplotlib writes on its own).
"""
import os

import numpy

from inception_score.errors import InputError, MissingDependencyError, UsageError

FIGSIZE = (12.0, 5.0)  # inches
DPI = 100              # -> a 1200 x 500 PNG
NAMED_CLASSES = 10
NEEDS_MORE = {'pgf'}  # matplotlib writes these only with more installed (LaTeX)


def check_matplotlib():
    """Fail (one line) unless matplotlib can draw: called before any scoring by --plot."""
    _canvas_and_figure()


def plot_format(path, default=None):
    """The format `path`'s extension names ('png', 'pdf', 'svg', 'jpg', ...). An extension
    matplotlib cannot write is a one-line UsageError listing those it can (before any work,
    from --plot); no extension at all gives `default` when there is one."""
    FigureCanvasAgg, _ = _canvas_and_figure()
    known = sorted(set(FigureCanvasAgg.get_supported_filetypes()) - NEEDS_MORE)
    extension = os.path.splitext(os.fspath(path))[1].lower().lstrip('.')
    if extension in known:
        return extension
    if default is not None:
        return default
    raise UsageError('{}: the extension names the format of the plot, and matplotlib writes '
                     '{}: name the file {}.png (or .pdf, .svg, .jpg, ...)'.format(
                         path, ', '.join('.' + k for k in known),
                         os.path.splitext(os.fspath(path))[0]))


def _canvas_and_figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError('plotting needs matplotlib: pip install matplotlib') \
            from None
    return FigureCanvasAgg, Figure


def _new_figure():
    """A Figure on its own Agg canvas: no pyplot, so a user's backend and figures are left
    alone."""
    FigureCanvasAgg, Figure = _canvas_and_figure()
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _short(name, width=28):
    name = name.split(',')[0]
    return name if len(name) <= width else name[:width - 1] + '\u2026'


def plot_summary(path, class_counts, names, split_scores, mean, std, fid=None, title=None,
                 format=None):
    """Draw the summary and write it to exactly `path`, in `format` (default: the one its
    extension names, else PNG); returns the Figure."""
    format = format or plot_format(path, default='png')
    counts = numpy.asarray(class_counts, numpy.int64)
    scores = numpy.asarray(split_scores, numpy.float64)
    if counts.ndim != 1 or len(counts) != len(names) or counts.sum() <= 0:
        raise InputError('plot: need one positive count per class name')
    if scores.ndim != 1 or len(scores) < 1:
        raise InputError('plot: need at least one split score')
    fig = _new_figure()
    hist, parts = fig.subplots(1, 2, gridspec_kw={'width_ratios': [2.2, 1]})

    order = numpy.lexsort((numpy.arange(len(counts)), -counts))
    predicted = order[counts[order] > 0]
    ranks = numpy.arange(1, len(predicted) + 1)
    # One filled outline, not 1000 bars of less than a pixel each.
    hist.stairs(counts[predicted], numpy.arange(len(predicted) + 1) + 0.5, fill=True,
                color='#4878a8')
    hist.set_xlim(0.5, max(len(predicted), NAMED_CLASSES) + 0.5)
    hist.set_xlabel('predicted class, by rank ({} of {} classes predicted)'.format(
        len(predicted), len(counts)))
    hist.set_ylabel('images')
    hist.set_title('What the classifier saw ({} images)'.format(int(counts.sum())))
    total = counts.sum()
    named = predicted[:NAMED_CLASSES]
    hist.stairs(counts[named], numpy.arange(len(named) + 1) + 0.5, fill=True, color='#d08020')
    lines = ['{:>2}. {} \u2014 {} ({:.1%})'.format(rank, _short(names[index]), counts[index],
                                                 counts[index] / total)
             for rank, index in zip(ranks, named)]
    hist.text(0.98, 0.97, 'most frequent classes\n' + '\n'.join(lines),
              transform=hist.transAxes, ha='right', va='top', fontsize=8, family='monospace',
              bbox={'facecolor': 'white', 'alpha': 0.85, 'edgecolor': '#d08020'})

    x = numpy.arange(1, len(scores) + 1)
    parts.plot(x, scores, 'o', color='#c04040', label='split scores')
    parts.axhline(mean, color='black', linewidth=1.2, label='mean {:.3f}'.format(mean))
    parts.axhspan(mean - std, mean + std, color='grey', alpha=0.25,
                  label='\u00b1 std {:.3f}'.format(std))
    parts.set_xlabel('split')
    parts.set_ylabel('Inception Score')
    parts.set_title('Score per split')
    parts.set_xticks(x if len(x) <= 20 else x[::max(1, len(x) // 10)])
    parts.legend(loc='best', fontsize=8)

    heading = title if title is not None else 'Inception Score {:.3f} \u00b1 {:.3f}'.format(
        mean, std)
    if fid is not None:
        heading += '   FID {:.3f}'.format(fid)
    fig.suptitle(heading)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.85, wspace=0.2)
    with open(path, 'wb') as f:
        fig.savefig(f, format=format, dpi=DPI)
    return fig
