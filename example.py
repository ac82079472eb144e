#!/usr/bin/env python
"""Inception Score of the CIFAR-10 training images, as the reference reports it (11.24 +- 0.12).

    python example.py --infile inception_score.model --samples 50000 [--gpu 0]
    python example.py --data cifar-10-python.tar.gz --json report.json

CIFAR-10 comes from --data (the official cifar-10-python.tar.gz or cifar-10-binary.tar.gz,
an extracted folder of either, or Chainer's cifar-10.npz), else from the first of those
found in the current directory, beside the default model file or in Chainer's dataset cache;
else cifar-10-python.tar.gz is downloaded beside the default model file (not with
--no-download). The model is --infile/--model, else ./inception_score.model, else the one
in the dataset cache. The earlier Chainer port's flags (--infile, --samples, --batch-size,
--splits, --gpu) keep working; --model, --json and --quiet are the command line's.
"""
import os
import sys


def parser():
    from inception_score.cli import Parser, _positive
    from inception_score.modelfile import default_model_help
    p = Parser(prog='example.py', description=__doc__.splitlines()[0])
    p.add_argument('--infile', '--model', dest='model', default=None, metavar='MODEL',
                   help='model file from inception-score-download (default: {})'.format(
                       default_model_help()))
    p.add_argument('--data', metavar='PATH', default=None,
                   help='CIFAR-10: cifar-10-python.tar.gz, cifar-10-binary.tar.gz, an '
                        "extracted folder of either, or Chainer's cifar-10.npz (default: the "
                        'first found here, beside the default model file or in Chainer\'s '
                        'cache, else downloaded)')
    p.add_argument('--no-download', action='store_true',
                   help='never download CIFAR-10: say where to put it instead')
    p.add_argument('--samples', type=_positive, default=50000, metavar='N',
                   help='score the first N training images (default 50000: all of them)')
    p.add_argument('--batch-size', type=_positive, default=100,
                   help='images per forward pass (default 100; moves the score by float32 '
                        'rounding only)')
    p.add_argument('--splits', type=_positive, default=10,
                   help='contiguous parts the score is averaged over (default 10, as the '
                        'reference)')
    p.add_argument('--gpu', type=int, default=-1, help='GPU id, -1 for CPU (default)')
    p.add_argument('--json', metavar='OUT', default=None, help='write a JSON report')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def main(args):
    import time
    from inception_score import cifar10, checks, files, modelfile, report, scoring, sources
    from inception_score.cli import score_parser
    started = time.time()
    # Everything this run reads, given or found, is decided first and protected: the model,
    # the CIFAR-10 copy (or the file a download will write), never an output.
    model_path = modelfile.find_model() if args.model is None else args.model
    data, to_download = cifar10.plan(args.data, allow_download=not args.no_download)
    files.check_outputs({'--json': args.json},
                        [('--model', model_path)]
                        + [('CIFAR-10 copy', path) for path in cifar10.inputs(data)])
    if to_download:
        data = cifar10.obtain(data, progress=not args.quiet)
    ims = cifar10.load(data, 'train')
    n = checks.check_samples(args.samples, len(ims))
    checks.check_splits_usage(n, args.splits)
    network = modelfile.load_network(model_path)
    report.to_device(network, args.gpu)
    source = sources.ArraySource(ims[:n], name=data)
    with report.progress_bar(n, disable=args.quiet) as bar:
        acc = scoring.score_source(network, source, args.batch_size, args.splits, progress=bar)
    mean, std = acc.result()
    if args.json is not None:  # before printing: a closed stdout must not cost the report
        # The command line's report, for the CIFAR-10 copy read.
        as_cli = score_parser().parse_args([os.path.abspath(data), '--batch-size',
                                            str(args.batch_size), '--splits', str(args.splits),
                                            '--gpu', str(args.gpu)])
        as_cli.samples, as_cli.warnings = n, args.warnings
        out = report.build(as_cli, acc, model_path, network, time.time() - started, [])
        out.update(report.input_notes(as_cli, (0, 255), len(ims), None))
        out['sampling'] = 'first {} CIFAR-10 training images'.format(n)
        report.write_json(args.json, out)
    print('Inception Score: {:.4f} \u00b1 {:.4f} (N={}, splits={})'.format(
        mean, std, acc.n, acc.splits), flush=True)


def cli_main(argv=None):
    from inception_score.cli import run
    return run(main, argv, parser, 'example.py')


if __name__ == '__main__':
    try:
        import inception_score.cli  # noqa: F401 (imported here, where Ctrl-C is caught)
    except KeyboardInterrupt:  # Ctrl-C while Python still imports: the same one line
        print('example.py: interrupted', file=sys.stderr)
        sys.exit(130)
    sys.exit(cli_main())
