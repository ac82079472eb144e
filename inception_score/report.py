"""What a scoring run reports: progress on stderr, the JSON report, the device used."""
import contextlib
import datetime
import json
import platform
import sys

from inception_score.errors import UsageError


def to_device(model, gpu):
    """Move the model to GPU `gpu` (>= 0) and name the device used."""
    if gpu < 0:
        return 'cpu'
    try:
        model.to_gpu(gpu)
    except Exception as e:  # no cupy, no such device
        raise UsageError('--gpu {} is not usable ({}): install cupy '
                         '(pip install "inception_score[gpu]") or use --gpu -1'.format(
                             gpu, str(e).splitlines()[0] if str(e) else type(e).__name__)) \
            from None
    return 'gpu:{}'.format(gpu)


@contextlib.contextmanager
def progress_bar(total, disable=False):
    """A callable(done, total) drawing a tqdm bar with images/s on stderr."""
    if disable:
        yield None
        return
    from tqdm import tqdm
    with tqdm(total=total, unit='img', file=sys.stderr, dynamic_ncols=True) as bar:
        def update(done, _total):
            bar.update(done - bar.n)
        yield update


def build(args, acc, model_path, device, elapsed, skipped):
    import chainer
    import numpy
    import inception_score
    from inception_score import weights
    mean, std = acc.result()
    metadata = weights.read_metadata(model_path)
    return {
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
        'model_sha256': weights.sha256_file(model_path),
        'source_graph_sha256': metadata.get('source_sha256'),
        'converter_version': metadata.get('inception_score_converter_version'),
        'device': device,
        'versions': {'inception_score': inception_score.__version__,
                     'chainer': chainer.__version__, 'numpy': numpy.__version__,
                     'python': platform.python_version()},
        'elapsed_seconds': round(elapsed, 3),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
    }


def write_json(path, data):
    from inception_score.weights import atomic_output
    with atomic_output(path) as tmp:
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=2)
            f.write('\n')
