#!/usr/bin/env python
"""Inception Score of the CIFAR-10 training images, as the reference reports it (11.24 +- 0.12).

    python example.py --infile inception_score.model --samples 50000 [--gpu 0]
"""
import argparse
import sys

import chainer

from inception_score import InputError, inception_score, load_model
from inception_score.cli import run
from inception_score.errors import InceptionScoreError


def parser():
    p = argparse.ArgumentParser(prog='example.py', description=__doc__.splitlines()[0])
    p.add_argument('--infile', default=None,
                   help='model file from download.py (default: the Chainer dataset cache)')
    p.add_argument('--samples', type=int, default=50000,
                   help='first N CIFAR-10 training images (default 50000)')
    p.add_argument('--batch-size', type=int, default=100)
    p.add_argument('--splits', type=int, default=10)
    p.add_argument('--gpu', type=int, default=-1, help='GPU id, -1 for CPU (default)')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p


def cifar10_train():
    try:
        train, _ = chainer.datasets.get_cifar10(ndim=3, withlabel=False, scale=255.0)
    except OSError as e:  # includes the URLError of an offline machine
        raise InceptionScoreError(
            'CIFAR-10 is not in the Chainer dataset cache ({}) and could not be downloaded '
            '({})'.format(chainer.dataset.get_dataset_root(), e)) from None
    return train


def main(args):
    model = load_model(args.infile)
    if args.gpu >= 0:
        model.to_gpu(args.gpu)
    ims = cifar10_train()
    if not 1 <= args.samples <= len(ims):
        raise InputError('--samples must be between 1 and {}, got {}'.format(
            len(ims), args.samples))
    ims = ims[:args.samples]
    n_batches = -(-len(ims) // args.batch_size)

    def progress(done, total):
        print('Batch {}/{} ({}/{} images)'.format(-(-done // args.batch_size), n_batches,
                                                  done, total), flush=True)

    mean, std = inception_score(model, ims, batch_size=args.batch_size, splits=args.splits,
                                progress=progress)
    print('Inception score mean:', mean)
    print('Inception score std:', std)


if __name__ == '__main__':
    sys.exit(run(main, None, parser()))
