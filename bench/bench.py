#!/usr/bin/env python
"""Speed and memory of inception_score() on this machine, against numpy's SGEMM roof.

One run measures, in this order: numpy float32 SGEMM GFLOP/s (the roof); images/s at batch 100
on 32x32 (CIFAR-like) and on 299x299 inputs, and the achieved GFLOP/s as a fraction of the
roof; scoring a folder of PNGs against scoring the same images from memory; and the peak RSS
of fresh processes scoring N1 and N2 images from a .npy file (flat in N means streaming works).
Absolute times on shared machines are noisy: compare the ratios. Weights do not change the
speed, so a freshly initialised Inception is used and no model file is needed.

    python bench/bench.py [--images 200] [--images-299 100] [--folder-images 200]
                          [--rss 2000,20000] [--kernel gemm|chainer]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy

from inception_score import Inception, inception_score, topology
from inception_score.evaluate import score_source
from inception_score.sources import FolderSource, load_array_file

BATCH = 100


def network_gflop():
    """GFLOP (2 x multiply-adds) of one forward pass at 299x299, head included."""
    macs = []

    def conv(unit, hw):
        (kh, kw), (h, w) = unit.ksize, hw
        if unit.padding == 'VALID':
            h, w = (h - kh) // unit.stride + 1, (w - kw) // unit.stride + 1
        macs.append(h * w * kh * kw * unit.cin * unit.cout)
        return h, w

    def pool(layer, hw):
        if layer.padding == 'SAME':
            return hw
        return tuple((v - layer.ksize) // layer.stride + 1 for v in hw)

    topology.walk((299, 299), conv, pool, lambda block, hws: hws[0])
    return 2 * (sum(macs) + topology.NUM_FEATURES * topology.NUM_CLASSES) / 1e9


def sgemm_gflops(n=2048, repeats=5):
    a = numpy.random.RandomState(0).standard_normal((n, n)).astype(numpy.float32)
    b = numpy.random.RandomState(1).standard_normal((n, n)).astype(numpy.float32)
    a @ b  # warm-up
    return 2 * n ** 3 / min(_timed(lambda: a @ b) for _ in range(repeats)) / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _images(n, size, seed=0):
    return numpy.random.RandomState(seed).randint(0, 256, (n, 3, size, size)).astype(numpy.uint8)


def speed(model, n, size):
    ims = _images(n, size)
    return n / _timed(lambda: inception_score(model, ims, batch_size=BATCH, splits=1))


def folder_vs_memory(model, n):
    from PIL import Image
    ims = _images(n, 32, seed=1)
    with tempfile.TemporaryDirectory() as d:
        for i, im in enumerate(ims):
            Image.fromarray(im.transpose(1, 2, 0)).save(os.path.join(d, '{:06d}.png'.format(i)))
        memory = _timed(lambda: inception_score(model, ims, batch_size=BATCH, splits=1))
        folder = _timed(lambda: score_source(model, FolderSource(d), BATCH, 1))
    return memory / folder


def peak_rss_child(n, kernel):
    """Runs in a fresh process: score n images from a .npy, print peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'ims.npy')
        numpy.save(path, _images(n, 32, seed=2).transpose(0, 2, 3, 1))
        model = Inception()
        model.cpu_kernel = kernel
        score_source(model, load_array_file(path), BATCH, 10)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def peak_rss(n, kernel):
    out = subprocess.run([sys.executable, __file__, '--rss-child', str(n), '--kernel', kernel],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=200, help='32x32 images for the speed')
    p.add_argument('--images-299', type=int, default=100, help='299x299 images (0: skip)')
    p.add_argument('--folder-images', type=int, default=200, help='PNG folder size (0: skip)')
    p.add_argument('--rss', default='2000,20000', help='N1,N2 for peak RSS (empty: skip)')
    p.add_argument('--kernel', choices=('gemm', 'chainer'), default='gemm')
    p.add_argument('--rss-child', type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rss_child:
        return peak_rss_child(args.rss_child, args.kernel)

    model = Inception()
    model.cpu_kernel = args.kernel
    inception_score(model, _images(4, 32), batch_size=4, splits=1)  # warm-up
    gflop = network_gflop()
    roof = sgemm_gflops()
    print('numpy SGEMM roof           {:8.1f} GFLOP/s'.format(roof))
    print('network                    {:8.3f} GFLOP per image (299x299, head included)'.format(
        gflop))
    rows = [(32, args.images), (299, args.images_299)]
    for size, n in rows:
        if n:
            per_s = speed(model, n, size)
            roof = max(roof, sgemm_gflops())
            print('{:3d}x{:<3d} batch {}          {:8.2f} images/s = {:6.1f} GFLOP/s = {:.2f} of '
                  'the roof ({} images, kernel {})'.format(size, size, BATCH, per_s,
                                                           per_s * gflop, per_s * gflop / roof,
                                                           n, args.kernel))
    if args.folder_images:
        print('folder of PNGs vs memory   {:8.2f} (speed ratio, {} images 32x32)'.format(
            folder_vs_memory(model, args.folder_images), args.folder_images))
    if args.rss:
        n1, n2 = (int(v) for v in args.rss.split(','))
        r1, r2 = peak_rss(n1, args.kernel), peak_rss(n2, args.kernel)
        print('peak RSS, batch {}         {:8.0f} MiB for {} images, {:.0f} MiB for {} '
              '(growth {:+.1%})'.format(BATCH, r1, n1, r2, n2, r2 / r1 - 1))


if __name__ == '__main__':
    main()
