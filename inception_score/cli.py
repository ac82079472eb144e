"""Command lines: errors are one line on stderr (exit 1 for data, 2 for usage), no traceback
unless --debug, and a failed run leaves no output file."""
import argparse
import sys

from inception_score.errors import InceptionScoreError


def run(main, argv, parser):
    """Call main(args); turn InceptionScoreError into a one-line message and exit code 1."""
    args = parser.parse_args(argv)
    try:
        return main(args) or 0
    except InceptionScoreError as e:
        if getattr(args, 'debug', False):
            raise
        print('{}: error: {}'.format(parser.prog, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('{}: interrupted'.format(parser.prog), file=sys.stderr)
        return 130


def download_parser():
    from inception_score import weights
    p = argparse.ArgumentParser(
        prog='download.py',
        description='Fetch inception-2015-12-05.tgz, check it node by node and convert its '
                    'classify_image_graph_def.pb into a Chainer HDF5 model file.')
    p.add_argument('--outfile', default=None,
                   help='model file to write (default: {})'.format(weights.default_model_path()))
    p.add_argument('--graph', metavar='PATH',
                   help='convert a local .tgz or .pb instead of downloading (offline machines)')
    p.add_argument('--url', default=weights.DEFAULT_URL, help='archive to download')
    p.add_argument('--sha256', metavar='HEX',
                   help='expected SHA-256 of the archive (or of --graph); a mismatch is an error')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def _download(args):
    import os
    from inception_score import weights
    outfile = args.outfile
    if outfile is None:
        outfile = weights.default_model_path()
        os.makedirs(os.path.dirname(outfile), exist_ok=True)
    weights.build_model_file(outfile, url=args.url, graph=args.graph, sha256=args.sha256,
                             progress=not args.quiet)


def download_main(argv=None):
    return run(_download, argv, download_parser())
