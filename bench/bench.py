#!/usr/bin/env python
"""Speed and memory of the core on this CPU, against numpy's SGEMM roof and torch-fidelity.

One run measures, in this order: numpy float32 SGEMM GFLOP/s (the roof); images/s at batch 100
on 32x32 (CIFAR-like) and on 299x299 inputs through inception_score(), and the achieved GFLOP/s
as a fraction of the roof; scoring a folder of PNGs against the same images in memory; the peak
RSS of fresh processes scoring N1 and N2 images from a .npy file with a model file (flat in N
means streaming works); and, when torch and torch_fidelity import, torch-fidelity's InceptionV3
extractor holding the same weights on the CPU at the same batch: its images/s, ours relative
to it, and the drift of its logits from ours; the speed of the score with the FID
statistics fed from the same pass, over the score alone; the time of IS + FID + KID +
precision/recall from one pass against a reference whose statistics and feature vectors are at
hand (a --save-stats --save-features file), over IS alone; and the time of one FID from
2048-feature statistics (full rank, and from 2 and 3 images). Absolute times on shared
machines are noisy: compare the ratios. Weights barely change the speed: calibrated synthetic ones
(bench/synthetic_weights.py, seconds to make) stand in for the model file.

    python bench/bench.py [--mode threads|batched] [--images 200] [--images-299 100]
                          [--folder-images 200] [--rss 2000,20000] [--torch-images 100]
                          [--fid-images 200] [--metrics-images 200] [--fid-features 2048]
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]  # this checkout's package, installed or not

import numpy  # noqa: E402

import measure  # noqa: E402
import synthetic_weights  # noqa: E402
from inception_score import inception_score  # noqa: E402
from inception_score import topology  # noqa: E402
from inception_score.modelfile import load_network, save_arrays  # noqa: E402
from inception_score.network import Network  # noqa: E402
from inception_score.scoring import score_source  # noqa: E402
from inception_score.sources import FolderSource, load_array_file  # noqa: E402

BATCH = 100
TORCH_TARGET = 1.3  # ours must be at least this much faster than torch-fidelity on the CPU
FID_TARGET = 0.95  # IS + FID statistics from one pass: at least this fraction of IS alone's speed
METRICS_TARGET = 0.10  # IS + FID + KID + precision/recall: at most this much more time than IS


def blas():
    """numpy's BLAS as threadpoolctl sees it: OpenBLAS's kernel choice (OPENBLAS_CORETYPE)
    moves the roof and the network together, by 2x or more."""
    import threadpoolctl
    libs = [lib for lib in threadpoolctl.threadpool_info() if lib['user_api'] == 'blas']
    text = ', '.join('{} {} ({} kernels, {} threads)'.format(
        lib['internal_api'], lib['version'], lib.get('architecture', '?'), lib['num_threads'])
        for lib in libs) or 'unknown'
    forced = os.environ.get('OPENBLAS_CORETYPE')
    return text + ('; OPENBLAS_CORETYPE={} forces the kernels'.format(forced) if forced else '')


def _images(n, size, seed=0):
    return numpy.random.RandomState(seed).randint(0, 256, (n, 3, size, size)).astype(numpy.uint8)


def score_seconds(network, ims, batch):
    return measure.timed(lambda: inception_score(network, ims, batch_size=batch, splits=1))


def folder_vs_memory(network, n, batch):
    from PIL import Image
    ims = _images(n, 32, seed=1)
    with tempfile.TemporaryDirectory() as d:
        for i, im in enumerate(ims):
            Image.fromarray(im.transpose(1, 2, 0)).save(os.path.join(d, '{:06d}.png'.format(i)))
        memory = score_seconds(network, ims, batch)
        folder = measure.timed(lambda: score_source(network, FolderSource(d), batch, 1))
    return memory / folder


def fid_overhead(network, n, batch, size=32, repeats=3):
    """Speed of the Inception Score with the FID statistics fed from the same pass, over the
    score alone, on the same images: the fastest of `repeats` runs each, interleaved."""
    from inception_score.feeds import StatisticsFeed
    from inception_score.sources import ArraySource
    source = ArraySource(_images(n, size, seed=2))

    def run(feeds):
        return measure.timed(lambda: score_source(network, source, batch, 1, feeds=feeds))

    alone, with_fid = [], []
    for _ in range(repeats):
        alone.append(run([]))
        with_fid.append(run([StatisticsFeed.pool_3()]))
    return min(alone) / min(with_fid)


def metrics_overhead(network, n, batch, size=32):
    """Seconds of IS alone and of IS + FID + KID + precision/recall on the same n images, one
    pass, against a reference whose pool_3 statistics and n feature vectors are at hand (as a
    --save-stats --save-features file holds them), with the parts of the difference: the pass
    with its feeds, then each number as first read. The reference vectors are random pool_3-
    like ones (non-negative, of the network's feature scale): the arithmetic of the three
    numbers does not depend on their values, and no second pass is spent on them.
    KID: torch-fidelity's 100 subsets of min(1000, n)."""
    from inception_score.fid import FIDAccumulator
    from inception_score.reference import Reference
    from inception_score.scoring import evaluate_source
    from inception_score.sources import ArraySource
    scale = float(network.features(_images(2, size, seed=3)).mean())
    vectors = numpy.abs(numpy.random.RandomState(3).normal(
        0, scale * 1.25, (n, topology.NUM_FEATURES))).astype(numpy.float32)
    reference = Reference(statistics=FIDAccumulator().update(vectors).statistics(),
                          features=vectors, provenance={'format': 'bench'})
    source = ArraySource(_images(n, size, seed=2))
    alone = measure.timed(lambda: score_source(network, source, batch, 1))
    parts = {}
    result = []
    parts['pass'] = measure.timed(lambda: result.append(evaluate_source(
        network, source, reference, ('fid', 'kid', 'precision_recall'), batch, splits=1,
        kid_subset_size=min(1000, n))))
    for name in ('fid', 'kid', 'precision'):
        parts[name] = measure.timed(lambda: getattr(result[0], name))
    return alone, parts


def fid_seconds(dim, repeats=2):
    """Seconds (best of `repeats`) for one FID between two sets of `dim`-feature statistics:
    of full rank (Wishart-like), and of 2 against 3 images (rank-deficient)."""
    from inception_score.fid import frechet_distance
    rng = numpy.random.RandomState(5)

    def full():
        x = rng.normal(size=(dim, dim + 16))
        return x.mean(axis=1), x @ x.T / dim

    def few(n):
        x = rng.normal(size=(n, dim))
        return x.mean(axis=0), numpy.cov(x, rowvar=False)

    times = []
    for a, b in ((full(), full()), (few(2), few(3))):
        times.append(min(measure.timed(lambda: frechet_distance(*a, *b))
                         for _ in range(repeats)))
    return times


def peak_rss_child(n, mode, model, batch):
    """Runs in a fresh process: score n images from a .npy, print peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'ims.npy')
        numpy.save(path, _images(n, 32, seed=2).transpose(0, 2, 3, 1))
        score_source(load_network(model, mode=mode), load_array_file(path), batch,
                     min(10, n))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def peak_rss(n, mode, model, batch):
    out = subprocess.run([sys.executable, __file__, '--rss-child', str(n), '--mode', mode,
                          '--model', model, '--batch', str(batch)],
                         check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def torch_fidelity_comparison(arrays, network, n, batch, size=32):
    """Seconds for n images (best of two) of torch-fidelity and of ours, and the logit drift;
    None (after saying why) when torch or torch_fidelity is missing."""
    try:
        import torch
        import torch_fidelity  # noqa: F401
        import torch_fidelity_extractor
    except ImportError as e:
        print('torch-fidelity             not measured: {} (pip install torch torch-fidelity '
              'to compare)'.format(e))
        return None
    extractor = torch_fidelity_extractor.build(arrays, 'cpu')
    ims = _images(n, size, seed=4)

    def theirs():
        for i in range(0, n, batch):
            torch_fidelity_extractor.forward(extractor, torch.from_numpy(ims[i:i + batch]))

    few = ims[:min(n, 10)]
    logits = torch_fidelity_extractor.forward(extractor, torch.from_numpy(few))[1].numpy()
    drift = measure.scale_relative_diff(logits, network.logits(few))  # also the warm-ups
    theirs_s = min(measure.timed(theirs) for _ in range(2))
    ours_s = min(score_seconds(network, ims, batch) for _ in range(2))
    return theirs_s, ours_s, drift, torch.get_num_threads()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--mode', choices=('threads', 'batched'), default='threads',
                   help="the core's CPU mode (batched: the GPU's way, with numpy)")
    p.add_argument('--batch', type=int, default=BATCH, help='batch size (default 100)')
    p.add_argument('--images', type=int, default=200, help='32x32 images for the speed')
    p.add_argument('--images-299', type=int, default=100, help='299x299 images (0: skip)')
    p.add_argument('--folder-images', type=int, default=200, help='PNG folder size (0: skip)')
    p.add_argument('--rss', default='2000,20000', help='N1,N2 for peak RSS (empty: skip)')
    p.add_argument('--fid-images', type=int, default=200,
                   help='32x32 images for IS + FID statistics vs IS alone (0: skip)')
    p.add_argument('--metrics-images', type=int, default=200,
                   help='32x32 images (and as many reference ones) for IS + FID + KID + '
                        'precision/recall vs IS alone (0: skip; at least 5)')
    p.add_argument('--fid-features', type=int, default=2048,
                   help='features of the statistics one FID is timed on (0: skip)')
    p.add_argument('--torch-images', type=int, default=100,
                   help='32x32 images for the torch-fidelity comparison (0: skip)')
    p.add_argument('--rss-child', type=int, help=argparse.SUPPRESS)
    p.add_argument('--model', help=argparse.SUPPRESS)
    args = p.parse_args()
    batch = args.batch
    if args.rss_child:
        return peak_rss_child(args.rss_child, args.mode, args.model, batch)

    start = time.perf_counter()
    arrays = synthetic_weights.calibrated_arrays(
        synthetic_weights.image_groups(synthetic_weights.QUICK_CALIBRATION, seed=1))
    network = Network(arrays, mode=args.mode)
    print('synthetic weights          {:8.1f} s to calibrate on {} images'.format(
        time.perf_counter() - start, sum(c for c, _, _ in synthetic_weights.QUICK_CALIBRATION)))
    inception_score(network, _images(4, 32), batch_size=4, splits=1)  # warm-up
    gflop = measure.network_gflop()
    roof = measure.sgemm_gflops()
    print('numpy {}, BLAS: {}'.format(numpy.__version__, blas()))
    print('numpy SGEMM roof           {:8.1f} GFLOP/s'.format(roof))
    print('network                    {:8.3f} GFLOP per image (299x299, head included)'.format(
        gflop))
    for size, n in ((32, args.images), (299, args.images_299)):
        if n:
            per_s = n / score_seconds(network, _images(n, size), batch)
            roof = max(roof, measure.sgemm_gflops())
            print('{:3d}x{:<3d} batch {:<4d}        {:8.2f} images/s = {:6.1f} GFLOP/s = {:.2f} of '
                  'the roof ({} images, mode {})'.format(size, size, batch, per_s, per_s * gflop,
                                                         per_s * gflop / roof, n, args.mode))
    if args.folder_images:
        print('folder of PNGs vs memory   {:8.2f} (speed ratio, {} images 32x32)'.format(
            folder_vs_memory(network, args.folder_images, batch), args.folder_images))
    if args.fid_images:
        ratio = fid_overhead(network, args.fid_images, batch)
        print('IS + FID vs IS alone       {:8.2f} (speed ratio, one pass, {} images 32x32; '
              'target >= {}: {})'.format(ratio, args.fid_images, FID_TARGET,
                                         'met' if ratio >= FID_TARGET else 'NOT MET'))
    if args.metrics_images:
        alone, parts = metrics_overhead(network, args.metrics_images, batch)
        extra = sum(parts.values()) - alone
        print('IS + FID + KID + PR vs IS  {:+8.1%} time (one pass, {} images 32x32 and {} '
              'reference vectors; target <= {:+.0%}: {}): IS alone {:.1f} s; the pass with '
              'its feeds {:+.1f} s, FID {:.1f} s, KID {:.1f} s, precision/recall {:.1f} s'.format(
                  extra / alone, args.metrics_images, args.metrics_images, METRICS_TARGET,
                  'met' if extra / alone <= METRICS_TARGET else 'NOT MET', alone,
                  parts['pass'] - alone, parts['fid'], parts['kid'], parts['precision']))
    if args.fid_features:
        full, few = fid_seconds(args.fid_features)
        print('one FID                    {:8.2f} s ({} features, full rank); {:.2f} s from 2 '
              'and 3 images'.format(full, args.fid_features, few))
    if args.rss:
        n1, n2 = (int(v) for v in args.rss.split(','))
        with tempfile.TemporaryDirectory() as d:
            model = os.path.join(d, 'synthetic.model')
            save_arrays(model, arrays)
            r1, r2 = (peak_rss(n, args.mode, model, batch) for n in (n1, n2))
        print('peak RSS, batch {:<4d}       {:8.0f} MiB for {} images, {:.0f} MiB for {} '
              '(growth {:+.1%})'.format(batch, r1, n1, r2, n2, r2 / r1 - 1))
    if args.torch_images:
        result = torch_fidelity_comparison(arrays, network, args.torch_images, batch)
        if result is not None:
            theirs_s, ours_s, drift, threads = result
            n = args.torch_images
            ratio = theirs_s / ours_s
            print('torch-fidelity, batch {:<4d} {:8.2f} images/s (32x32, {} torch threads); ours '
                  '{:.2f} images/s = {:.2f}x it (target >= {}x: {}); its logits drift {:.1e} of '
                  'scale'.format(batch, n / theirs_s, threads, n / ours_s, ratio, TORCH_TARGET,
                                 'met' if ratio >= TORCH_TARGET else 'NOT MET', drift))

if __name__ == '__main__':
    main()
