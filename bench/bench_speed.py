#!/usr/bin/env python
"""Images per second of inception_score() on this CPU, as a fraction of numpy's SGEMM roof.

Both are measured in the same run (absolute times on shared machines are noisy; the ratio is
what to compare). The network's weights do not change its speed, so a freshly initialised
Inception is used and no model file is needed.

    python bench/bench_speed.py [--images 200] [--batch-size 100] [--size 32] [--kernel gemm]
"""
import argparse
import time

import numpy

from inception_score import Inception, inception_score, topology


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
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--images', type=int, default=200)
    p.add_argument('--batch-size', type=int, default=100)
    p.add_argument('--size', type=int, default=32, help='input height and width')
    p.add_argument('--kernel', choices=('gemm', 'chainer'), default='gemm')
    args = p.parse_args()

    model = Inception()
    model.cpu_kernel = args.kernel
    ims = numpy.random.RandomState(0).randint(
        0, 256, (args.images, 3, args.size, args.size)).astype(numpy.uint8)
    inception_score(model, ims[:min(10, args.images)], batch_size=10, splits=1)  # warm-up
    roof_before = sgemm_gflops()
    seconds = _timed(lambda: inception_score(model, ims, batch_size=args.batch_size,
                                             splits=1))
    roof = max(roof_before, sgemm_gflops())
    per_s = args.images / seconds
    achieved = per_s * network_gflop()
    print('numpy SGEMM roof      {:8.1f} GFLOP/s'.format(roof))
    print('network               {:8.3f} GFLOP per image (299x299)'.format(network_gflop()))
    print('inception_score       {:8.2f} images/s  ({} images {}x{}, batch {}, kernel {})'
          .format(per_s, args.images, args.size, args.size, args.batch_size, args.kernel))
    print('achieved              {:8.1f} GFLOP/s = {:.2f} of the roof'.format(
        achieved, achieved / roof))


if __name__ == '__main__':
    main()
