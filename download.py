#!/usr/bin/env python
"""Fetch the TensorFlow Inception graph and convert it: python download.py --outfile inception_score.model"""
import sys

if __name__ == '__main__':
    try:
        from inception_score.cli import download_main
        sys.exit(download_main())
    except KeyboardInterrupt:  # Ctrl-C while the imports (Chainer, TensorFlow) still load
        print('download.py: interrupted', file=sys.stderr)
        sys.exit(130)
