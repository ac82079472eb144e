#!/usr/bin/env python
"""Fetch the TensorFlow Inception graph and convert it: python download.py --outfile inception_score.model

The same as the installed command inception-score-download.
"""
import sys

if __name__ == '__main__':
    try:
        from inception_score.cli import download_main
        sys.exit(download_main(prog='download.py'))
    except KeyboardInterrupt:  # Ctrl-C before cli.run catches it (while cli imports)
        print('download.py: interrupted', file=sys.stderr)
        sys.exit(130)
