#!/usr/bin/env python
"""Fetch the TensorFlow Inception graph and convert it: python download.py --outfile inception_score.model"""
import sys

from inception_score.cli import download_main

if __name__ == '__main__':
    sys.exit(download_main(prog='download.py'))
