"""Command lines: errors are one line on stderr, no traceback unless --debug, and a failed run
leaves no output file.

Exit codes, one rule for every command: 2 when the command cannot run as asked (a bad flag,
an input or model file that is not there or not the kind of file named, an unwritable output,
--samples above what is there); 1 when what was read is bad (unreadable images, a broken
model file, a failed download or conversion); 130 on Ctrl-C, whenever it comes (imports and
argument parsing included; later Ctrl-Cs are ignored while the run stops). Warnings
(`InputWarning`: the run goes on) are one line each, `prog: warning: ...`. Messages name their
fixes as flags (fixes.py). Every command has --version.
"""
import argparse
import contextlib
import sys
import warnings

from inception_score.errors import InceptionScoreError, InputWarning, UsageError


@contextlib.contextmanager
def one_line_warnings(prog):
    """InputWarnings printed as one line each on stderr (above a progress bar, if one is
    drawn), and collected in the yielded list; other warnings are shown as usual."""
    seen = []
    show_usual = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, InputWarning):
            return show_usual(message, category, filename, lineno, file, line)
        text = ' '.join(str(message).split()) or category.__name__
        seen.append(text)
        from tqdm import tqdm
        tqdm.write('{}: warning: {}'.format(prog, text), file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter('always', InputWarning)
        warnings.showwarning = show
        yield seen

ADM_SPLIT_SIZE = 5000  # guided-diffusion's evaluator: compute_inception_score(split_size=5000)


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (no usage block), like every other error here, and
    --version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from inception_score import __version__
        self.add_argument('--version', action='version', version='%(prog)s ' + __version__,
                          help='print the version of inception_score and exit')

    def error(self, message):
        self.exit(2, '{}: error: {} (see {} --help)\n'.format(self.prog, message, self.prog))


def run(main, argv, parser, prog=None):
    """Call main(args); errors become one line on stderr: exit 2 for usage, 1 for data.
    `args.warnings` lists the warnings printed so far (for reports).

    parser: an ArgumentParser, or a function making one (its imports are then inside, where a
    Ctrl-C is the one `interrupted` line). prog: the name before the parser exists (default:
    the parser's, else the program's file name). argv None means running as the program:
    Ctrl-C then stays ignored after the run, up to the process's exit (see
    files.interrupt_once); an explicit argv (tests, other Python code) gets the previous
    handler back.
    """
    import os
    prog = prog or getattr(parser, 'prog', None) or os.path.basename(sys.argv[0])
    debug = False
    try:
        from inception_score import files, fixes
        program = files.as_program() if argv is None else contextlib.nullcontext()
        with program, files.interrupt_once(keep=argv is None), fixes.flags():
            if not isinstance(parser, argparse.ArgumentParser):
                parser = parser()
            args = parser.parse_args(argv)
            debug = getattr(args, 'debug', False)
            with one_line_warnings(parser.prog) as args.warnings:
                return main(args) or 0
    except BaseException as e:
        files = sys.modules.get('inception_score.files')
        terminated = files.terminated_by(e) if files is not None else None
        if terminated is not None:  # SIGTERM/SIGHUP: the outputs are already removed
            files.exit_quietly()
            if terminated is e:
                raise
            raise terminated from None  # exit 128 + signal, not the wrapper's traceback
        if isinstance(e, KeyboardInterrupt) or _interrupted():
            print('{}: interrupted'.format(prog), file=sys.stderr)
            return 130
        if isinstance(e, BrokenPipeError):  # stdout closed early (`| head`): reports are written
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        if not isinstance(e, InceptionScoreError) or debug:
            raise
        print('{}: error: {}'.format(prog, e), file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


def _interrupted():
    """Whether a Ctrl-C came during the run, whatever exception it became on its way up."""
    files = sys.modules.get('inception_score.files')
    return files is not None and files.interrupted()


def download_parser(prog='inception-score-download'):
    from inception_score import fetch, modelfile
    p = Parser(
        prog=prog,
        description='Fetch inception-2015-12-05.tgz, check it node by node and convert its '
                    'classify_image_graph_def.pb into a Chainer HDF5 model file.')
    p.add_argument('--outfile', default=None,
                   help='model file to write (default: {})'.format(
                       modelfile.default_model_path()))
    p.add_argument('--graph', metavar='PATH',
                   help='convert a local .tgz or .pb instead of downloading (offline machines)')
    p.add_argument('--url', default=fetch.DEFAULT_URL,
                   help='archive to download (if the default fails, the bare released graph '
                        'is fetched from {})'.format(fetch.FALLBACK_URL))
    p.add_argument('--sha256', metavar='HEX',
                   help='expected SHA-256 of the archive (or of --graph); a mismatch is an error')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def _download(args):
    import os
    from inception_score import checks, modelfile, weights
    outfile = args.outfile
    if outfile is None:
        outfile = modelfile.default_model_path()
        os.makedirs(os.path.dirname(outfile), exist_ok=True)
        here = modelfile.model_search_paths()[0]
        if os.path.isfile(here):
            from inception_score.checks import warn
            warn('{} is used before {} by the commands run in this folder (when no model is '
                 'given)'.format(here, outfile))
    weights.build_model_file(outfile, url=args.url, graph=args.graph, sha256=args.sha256,
                             progress=not args.quiet, warn=checks.warn)


def download_main(argv=None, prog='inception-score-download'):
    return run(_download, argv, lambda: download_parser(prog), prog)


def _value_range(text):
    try:
        lo, hi = (float(v) for v in text.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError('expected LO,HI such as 0,255 or -1,1') from None
    if (lo, hi) not in ((0, 255), (0, 1), (-1, 1)):
        raise argparse.ArgumentTypeError('must be 0,255, 0,1 or -1,1')
    return lo, hi


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('must be an integer >= 1, got {!r}'.format(text))
    return value


def _seed(text):
    # numpy's RandomState takes 0 <= seed < 2**32.
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError('must be an integer from 0 to 4294967295, got {!r}'
                                         .format(text))
    return value


class _ListReferences(argparse.Action):
    """--list-references: print the named reference sets and the cache, then exit (as
    --version: no inputs, no model)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from inception_score import named
        for line in named.listing():
            print(line, flush=True)
        parser.exit(0)


def score_parser():
    from inception_score import modelfile
    from inception_score.resize import RESIZE_MODES
    p = Parser(
        prog='inception-score',
        description='Inception Score of image folders (png, jpg, bmp, webp, tif) and .npz/.npy '
                    'files, exactly as openai/improved-gan computes it.')
    p.add_argument('paths', nargs='+', metavar='PATH', help='folder, .npz or .npy')
    p.add_argument('--model', default=None,
                   help='model file from inception-score-download (default: {})'.format(
                       modelfile.default_model_help()))
    p.add_argument('--batch-size', type=_positive, default=100,
                   help='images per forward pass (default 100; moves the score by float32 rounding '
                        'only)')
    parts = p.add_mutually_exclusive_group()
    parts.add_argument('--splits', type=_positive, default=None,
                       help="cut the predictions into N equal parts (the reference's rule; "
                            'default 10)')
    parts.add_argument('--split-size', type=_positive, default=None, metavar='N',
                       help="cut them into parts of N, as OpenAI's ADM evaluator (5000)")
    p.add_argument('--gpu', type=int, default=-1, help='GPU id, -1 for CPU (default)')
    p.add_argument('--samples', type=_positive, default=None, metavar='N',
                   help='score N images: the first N, or with --shuffle N drawn at random '
                        'from all inputs')
    p.add_argument('--shuffle', action='store_true',
                   help='score in a random order (RandomState(seed).permutation of all '
                        'inputs, as torch-fidelity) instead of the reference\'s contiguous '
                        'order; with --samples N, the first N of that order')
    p.add_argument('--seed', type=_seed, default=None,
                   help='seed of --shuffle (default 2020, as torch-fidelity)')
    p.add_argument('--resize', choices=sorted(RESIZE_MODES), default='tf1',
                   help="tf1: the graph's own (reference numbers); clean: clean-fid's (PIL "
                        "bicubic on float channels); pil, nearest: other tools'")
    p.add_argument('--input-range', type=_value_range, default=None, metavar='LO,HI',
                   help='value range of float arrays: 0,255 (default), 0,1 or -1,1 (write '
                        '--input-range=-1,1: a leading minus reads as an option otherwise)')
    p.add_argument('--key', default=None, help='array in a .npz (default arr_0)')
    p.add_argument('--layout', choices=('nchw', 'nhwc'), default=None,
                   help='array layout when the shape is ambiguous')
    p.add_argument('--skip-bad', action='store_true',
                   help='skip unreadable image files (listed in the report) instead of failing')
    p.add_argument('--allow-16bit', action='store_true',
                   help='accept 16-bit images, scaled to 8 bits')
    reference = p.add_mutually_exclusive_group()
    reference.add_argument('--fid', metavar='REF', default=None,
                           help='FID against REF: a folder or .npy/.npz of images (scored in '
                                'this run with the same options), TTUR statistics (.npz with '
                                'mu, sigma), an ADM reference batch, or a named set '
                                '(cifar10-train, cifar10-test: built from CIFAR-10 once, then '
                                'cached; see --list-references)')
    reference.add_argument('--adm', metavar='REF_BATCH.npz', default=None,
                           help="OpenAI's ADM evaluator against its reference batch (or a "
                                'named set): prints its five lines (Inception Score in parts '
                                'of 5000 unless --split-size, FID, sFID, precision, recall)')
    p.add_argument('--kid', metavar='REF', default=None,
                   help="KID against REF, as torch-fidelity computes it: what --fid takes, "
                        'but statistics only with their feature vectors (--save-features); '
                        'with --fid or --adm, the same REF')
    p.add_argument('--kid-subsets', type=_positive, default=None, metavar='N',
                   help='KID: the number of random subsets (default 100)')
    p.add_argument('--kid-subset-size', type=_positive, default=None, metavar='N',
                   help='KID: images drawn from each set per subset (default 1000; both sets '
                        'need at least as many)')
    p.add_argument('--save-stats', metavar='OUT.npz', default=None,
                   help="write the images' FID statistics (TTUR's mu, sigma) for reuse")
    p.add_argument('--save-features', action='store_true',
                   help="with --save-stats: keep the images' pool_3 feature vectors in that "
                        'file too (8 KB an image), so that it can serve as --kid REF')
    p.add_argument('--plot', metavar='OUT.png', default=None,
                   help='draw a summary: predicted classes, split scores, FID (matplotlib)')
    p.add_argument('--json', metavar='OUT', default=None, help='write a JSON report')
    p.add_argument('--list-references', action=_ListReferences,
                   help='list the named reference sets (--fid cifar10-train ...), the CIFAR-10 '
                        'copy they are built from and what is cached, then exit')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def _score(args):
    import time
    from inception_score import (checks, files, kid, modelfile, named, reference, report,
                                 scoring, sources, spread)
    started = time.time()
    # Given, or found (./inception_score.model, else the cache); None: load names both places.
    model_path = modelfile.find_model() if args.model is None else args.model
    metrics, split_size = _metrics(args)
    ref_path = _reference_path(args)
    if args.save_features and args.save_stats is None:
        raise UsageError('--save-features keeps the feature vectors in the --save-stats file: '
                         'give --save-stats OUT.npz too')
    # Every output is decided before any work: never onto an input, the model or each other.
    files.check_outputs({'--json': args.json, '--save-stats': args.save_stats,
                         '--plot': args.plot},
                        [('input', p) for p in args.paths] + [('--model', model_path)]
                        + (named.inputs(ref_path) if ref_path is not None else []))
    warn_unused_flags(args)
    if args.plot is not None:
        from inception_score.plot import check_matplotlib, plot_format
        check_matplotlib()
        plot_format(args.plot)  # an extension matplotlib cannot write fails now
    value_range = args.input_range or (0, 255)
    source = sources.ConcatSource(_open_inputs(args, value_range))
    # What the arguments alone decide fails before the model loads.
    n = checks.check_samples(args.samples, len(source))
    splits = None if split_size is not None else args.splits or 10
    if splits is not None:
        checks.check_splits_usage(n, splits)
    kid_subsets = kid_subset_size = None
    if 'kid' in metrics:
        kid_subsets, kid_subset_size = kid.check_subsets(
            args.kid_subsets or kid.SUBSETS, args.kid_subset_size or kid.SUBSET_SIZE)
        kid.check_subset_size(n, kid_subset_size)
    ref = None
    if ref_path is not None:
        ref = reference.open_reference(ref_path, metrics, value_range=value_range,
                                       skip_bad=args.skip_bad, allow_16bit=args.allow_16bit,
                                       layout=args.layout)
        ref.check(metrics, kid_subset_size)
    network = modelfile.load_network(model_path)
    report.to_device(network, args.gpu)
    # Contiguous splits of a sorted input hold few classes each: compared with random orders.
    order_check = (spread.SpreadCheck(n, splits)
                   if splits is not None and spread.applies(args.shuffle, splits) else None)
    with report.progress_bars(disable=args.quiet) as bars:
        result = scoring.evaluate_source(
            network, source, ref, metrics, args.batch_size, splits, split_size,
            samples=args.samples, shuffle=args.shuffle, seed=args.seed, resize=args.resize,
            statistics=args.save_stats is not None, progress=bars('images'),
            reference_progress=bars('reference'),
            observers=[order_check] if order_check else (), kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size, features=args.save_features)
    acc = result.score
    mean, std = acc.result()
    # Every number before any output: a reference that fails a metric fails the run before
    # anything is written, and the time reported covers all of them.
    for number in ('fid', 'sfid', 'precision', 'kid'):  # each computed when first read
        getattr(result, number)
    elapsed = time.time() - started
    verdict = order_check.verdict(acc) if order_check else None
    if verdict and verdict['sorted']:
        checks.warn(spread.message(verdict))
    checks.warn_small_samples(acc.n, splits, split_size, metrics,
                              statistics=args.save_stats is not None, reference=ref)
    names = modelfile.read_class_names(model_path)
    # Every output before printing (a closed stdout must not cost them), all or none of them.
    outputs = [p for p in (args.save_stats, args.plot, args.json) if p is not None]
    with files.atomic_outputs(outputs) as tmp:
        if args.save_stats is not None:
            report.write_statistics(args.save_stats, result.statistics, args, acc.n,
                                    model_path, network,
                                    features=result.features if args.save_features else None,
                                    tmp=tmp[args.save_stats])
        if args.plot is not None:
            report.write_plot(args.plot, result, names, tmp=tmp[args.plot])
        if args.json is not None:
            data = report.build(args, acc, model_path, network, elapsed, source.skipped,
                                evaluation=result, class_names=names)
            data.update(report.input_notes(args, value_range, len(source), verdict))
            report.write_json(args.json, data, tmp=tmp[args.json])
    if args.adm is not None:
        # ADM's evaluator prints Python floats with print(): the shortest repr.
        for label, value in (('Inception Score', mean), ('FID', result.fid),
                             ('sFID', result.sfid), ('Precision', result.precision),
                             ('Recall', result.recall)):
            print('{}:'.format(label), value, flush=True)
    else:
        print('Inception Score: {:.4f} \u00b1 {:.4f} (N={}, {})'.format(
            mean, std, acc.n, result.split_rule), flush=True)
        if result.fid is not None:
            print('FID: {:.4f}'.format(result.fid), flush=True)
    if result.kid is not None:
        # torch-fidelity's own line prints 7 significant digits.
        print('KID: {:.7g} \u00b1 {:.7g} (subsets={}, subset_size={})'.format(
            result.kid[0], result.kid[1], result.kid_subsets, result.kid_subset_size),
            flush=True)


def _metrics(args):
    """The metrics asked for and the split size (ADM's 5000 with --adm)."""
    if args.adm is not None:
        if args.splits is not None:
            raise UsageError('--adm cuts the predictions as ADM does, into parts of 5000: '
                             'give --split-size N to change it, not --splits')
        return (('fid', 'sfid', 'precision_recall') + (('kid',) if args.kid else ()),
                args.split_size or ADM_SPLIT_SIZE)
    return ((('fid',) if args.fid is not None else ())
            + (('kid',) if args.kid is not None else ())), args.split_size


def _reference_path(args):
    """The one reference of the run: --adm's, --fid's or --kid's (--kid with another names
    the same one)."""
    import os
    given = [(flag, path) for flag, path in (('--adm', args.adm), ('--fid', args.fid))
             if path is not None]
    if args.kid is not None:
        for flag, path in given:
            if os.path.realpath(path) != os.path.realpath(args.kid):
                raise UsageError('--kid {} and {} {} name different references: one run '
                                 'compares with one reference; give the same REF to both, or '
                                 'run twice'.format(args.kid, flag, path))
        given.append(('--kid', args.kid))
    return given[0][1] if given else None


def _open_inputs(args, value_range):
    """The sources of args.paths, in order; image files given one after another are one
    source (their batches fill up as a folder's do)."""
    import itertools
    from inception_score import checks, sources
    options = dict(skip_bad=args.skip_bad, allow_16bit=args.allow_16bit)
    for is_image, group in itertools.groupby(args.paths, sources.is_image_file):
        if is_image:
            yield sources.ImageFilesSource(list(group), **options)
            continue
        for path in group:
            source = sources.open_source(path, key=args.key, layout=args.layout,
                                         value_range=value_range, **options)
            if isinstance(source, sources.FolderSource):
                yield source
            else:
                yield checks.watch_unit_range(source, value_range, path)


def _kind(path):
    """'images' for a folder or an image file, 'named' for a named reference set (named.py),
    'array' for anything else given (what it holds is read later: a reference file may hold
    image arrays)."""
    import os
    from inception_score.named import lookup
    from inception_score.sources import is_image_file
    if lookup(path) is not None:
        return 'named'
    return 'images' if os.path.isdir(path) or is_image_file(path) else 'array'


def warn_unused_flags(args):
    """One warning line for each flag given that none of the inputs (nor the --fid/--adm/--kid
    reference) uses."""
    from inception_score.checks import warn
    reference = _reference_path(args)
    kinds = [_kind(p) for p in args.paths]
    arrays = [p for p, kind in zip(args.paths, kinds) if kind == 'array']
    every = kinds + ([_kind(reference)] if reference is not None else [])
    unused = []
    if args.seed is not None and not args.shuffle:
        unused.append('--seed has no effect without --shuffle (the splits are contiguous)')
    if args.key is not None and not any(p.lower().endswith('.npz') for p in arrays):
        unused.append('--key applies to .npz inputs only: ignored')
    if args.layout is not None and 'array' not in every:
        unused.append('--layout applies to .npz/.npy images (inputs or reference) only: '
                      'ignored')
    if args.input_range is not None and 'array' not in every:
        unused.append('--input-range applies to float arrays in .npz/.npy files (inputs or '
                      'reference; image files are 8-bit): ignored')
    for flag in ('kid_subsets', 'kid_subset_size'):
        if getattr(args, flag) is not None and args.kid is None:
            unused.append('--{} applies to --kid only: ignored'.format(flag.replace('_', '-')))
    for flag in ('skip_bad', 'allow_16bit'):
        if getattr(args, flag) and 'images' not in every:
            unused.append('--{} applies to image files (given, in folders or in a reference '
                          'folder) only: ignored'.format(flag.replace('_', '-')))
    for message in unused:
        warn(message)


def score_main(argv=None):
    return run(_score, argv, score_parser, 'inception-score')
