"""What a scoring run reports: progress on stderr, the JSON report, the device used."""
import contextlib
import datetime
import json
import platform
import sys



def to_device(network, gpu):
    """Move the core network to GPU `gpu` (>= 0; -1 keeps the CPU) and name the device."""
    if gpu >= 0:
        network.to_gpu(gpu)  # a one-line UsageError without a usable GPU and CuPy
    return network.device


@contextlib.contextmanager
def progress_bar(total, disable=False, desc=None, leave=True):
    """A callable(done, total) drawing a tqdm bar with images/s on stderr."""
    if disable:
        yield None
        return
    from tqdm import tqdm
    with tqdm(total=total, unit='img', file=sys.stderr, dynamic_ncols=True, desc=desc,
              leave=leave) as bar:
        def update(done, _total):
            bar.update(done - bar.n)
        yield update


@contextlib.contextmanager
def progress_bars(disable=False):
    """A factory bars(label) -> callable(done, total): one tqdm bar per pass on stderr, drawn
    from the pass's first batch on (the previous pass's bar is closed then)."""
    if disable:
        yield lambda label: None
        return
    from tqdm import tqdm
    opened = {}

    def bars(label):
        def update(done, total):
            bar = opened.get(label)
            if bar is None:
                for other in opened.values():
                    other.close()
                bar = opened[label] = tqdm(total=total, desc=label, unit='img',
                                           file=sys.stderr, dynamic_ncols=True)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()  # not left ticking while the numbers are computed
        return update

    try:
        yield bars
    finally:
        for bar in opened.values():
            bar.close()


def _version(package):
    from importlib import metadata
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def build(args, acc, model_path, network, elapsed, skipped, evaluation=None,
          class_names=None):
    import numpy
    import inception_score
    from inception_score import fetch, modelfile
    mean, std = acc.result()
    metadata = modelfile.read_metadata(model_path)
    data = {
        'inception_score': {'mean': mean, 'std': std},
        'split_scores': [float(s) for s in acc.split_scores()],
        'n': acc.n,
        'splits': acc.splits,
        'batch_size': args.batch_size,
        'resize': args.resize,
        'shuffle': bool(args.shuffle),
        'seed': (args.seed if args.seed is not None else 2020) if args.shuffle else None,
        'inputs': list(args.paths),
        'skipped_files': list(skipped),
        'skipped_count': len(skipped),
        'model_file': model_path,
        'model_sha256': network.weights_sha256,  # known since load_network: no second read
        'source_graph_sha256': metadata.get('source_sha256'),
        'released_graph': metadata.get('released_graph',
                                       metadata.get('graph_sha256') == fetch.RELEASED_GRAPH_SHA256),
        'converter_version': metadata.get('inception_score_converter_version'),
        'device': network.device,
        'math': network.math_mode,
        'versions': {'inception_score': inception_score.__version__,
                     'numpy': numpy.__version__, 'chainer': _version('chainer'),
                     'cupy': _version('cupy-cuda12x') or _version('cupy-cuda13x')
                     or _version('cupy-cuda11x') or _version('cupy'),
                     'python': platform.python_version()},
        'elapsed_seconds': round(elapsed, 3),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
    }
    if evaluation is not None:
        data.update(_evaluation(args, evaluation, class_names))
    return data


def _evaluation(args, evaluation, class_names):
    """The one-pass numbers (scoring.Evaluation) and where the extra outputs went."""
    from inception_score.labels import placeholder_names
    data = evaluation.summary(class_names)
    data['class_names'] = ('placeholders' if class_names is None
                           or list(class_names) == placeholder_names() else 'model file')
    data['mode'] = 'adm' if getattr(args, 'adm', None) is not None else 'default'
    data['statistics_file'] = getattr(args, 'save_stats', None)
    data['statistics_features'] = bool(getattr(args, 'save_features', False))
    data['plot'] = getattr(args, 'plot', None)
    return data


def write_statistics(path, statistics, args, n, model_path, network, features=None, tmp=None):
    """--save-stats: TTUR's mu and sigma of the images, with what produced them (the model
    file, and the weights `network` was loaded with: modelfile.load_network); with
    `features` (--save-features) their pool_3 vectors too (array 'pool_3'). Written to `tmp`
    when given (see _write)."""
    import inception_score
    from inception_score import modelfile
    from inception_score.statsfile import inputs_provenance, save_statistics
    metadata = modelfile.read_metadata(model_path)
    mu, sigma = statistics
    provenance = dict(
        n=int(n), features='pool_3', inputs=inputs_provenance(args.paths),
        resize=args.resize, model_sha256=network.weights_sha256,
        source_graph_sha256=str(metadata.get('source_sha256') or ''),
        released_graph=bool(metadata.get('released_graph', False)),
        inception_score_version=inception_score.__version__,
        created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'))
    _write(path, tmp, lambda file: save_statistics(file, mu, sigma, pool_3=features,
                                                   **provenance))


def _write(path, tmp, write):
    """write(file) into `tmp` (a temporary path of files.atomic_outputs) or, without one,
    atomically to `path`; a full disk and the like are one OutputError naming `path`."""
    from inception_score.files import atomic_output, writing
    if tmp is None:
        with atomic_output(path) as tmp:
            write(tmp)
    else:
        with writing(path):
            write(tmp)


def write_plot(path, evaluation, class_names, tmp=None):
    """--plot: the summary (plot.py) of a scoring.Evaluation, in the format `path`'s
    extension names (the temporary file's name has none)."""
    from inception_score.plot import plot_format, plot_summary
    mean, std = evaluation.score.result()
    _write(path, tmp, lambda file: plot_summary(
        file, evaluation.classes.counts, class_names, evaluation.score.split_scores(), mean,
        std, fid=evaluation.fid, format=plot_format(path)))


def input_notes(args, value_range, available, spread):
    """What the report adds on how the inputs were read and what was noticed: the input
    options as used, how many images were there, the split-spread check and the warnings."""
    import os
    has_npz = any(p.lower().endswith('.npz') for p in args.paths if not os.path.isdir(p))
    return {
        'input_range': list(value_range),
        'layout': args.layout,  # null: told by each array's shape
        'key': (args.key or 'arr_0') if has_npz else args.key,
        'images_available': available,
        'samples': args.samples,
        'sampling': ('all' if args.samples is None and not args.shuffle else
                     'first {}'.format(args.samples) if not args.shuffle else
                     'RandomState({}).permutation({})[:{}]'.format(
                         2020 if args.seed is None else args.seed, available,
                         available if args.samples is None else args.samples)),
        'split_spread': spread,
        'warnings': list(getattr(args, 'warnings', [])),
    }


def write_json(path, data, tmp=None):
    def write(file):
        with open(file, 'w') as f:
            json.dump(data, f, indent=2)
            f.write('\n')
    _write(path, tmp, write)
