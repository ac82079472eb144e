#!/usr/bin/env python
"""Check and time the core's GPU path in one command (a few minutes on an H100 or H200).

    python bench/gpu_check.py REPORT.json [--device 0] [--require-gpu] [--cpu-smoke]

Needs numpy and cupy only (torch and torch_fidelity optional): no Chainer, no TensorFlow, no
model file. Informative weights are made here (bench/synthetic_weights.py), so the score is
far from 1 and a wrong layer shows. Prints, and writes to REPORT.json:
- GPU against CPU (the numpy core) on 200 mixed-size images: the largest difference of pool_3
  and of the logits relative to their scale (tolerance 1e-4), the score's relative difference
  (1e-5), and the score itself (must exceed 2, or the weights prove nothing);
- images/s at batch 100 and 500 for 32x32 and 256x256 inputs (already on the GPU), the
  same-run cuBLAS float32 SGEMM GFLOP/s in the math mode the core sets (no TF32: the roof) and
  the network's fraction of it, the memory pool's peak bytes, the math mode;
- with torch and torch_fidelity importable: torch-fidelity's InceptionV3 holding the same
  weights on the same GPU, once with PyTorch's defaults (TF32 allowed in cuDNN convolutions)
  and once with TF32 off: its images/s and its logits' and score's drift from ours.
Exits 1 when a tolerance fails (2 with --require-gpu and no usable GPU). Without a usable GPU,
or with --cpu-smoke, the same code runs with numpy on 8 images in seconds, the core's batched
mode (the GPU's way) standing in for the GPU: CI runs that, so this script cannot rot.
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]  # this checkout's package, installed or not

import numpy  # noqa: E402

import measure  # noqa: E402
import synthetic_weights  # noqa: E402
from inception_score import topology  # noqa: E402
from inception_score.backend import to_numpy  # noqa: E402
from inception_score.errors import UsageError  # noqa: E402
from inception_score.network import Network, import_cupy, use_fp32_math  # noqa: E402
from inception_score.score import inception_score_from_logits  # noqa: E402

TOLERANCES = {'pool_3': 1e-4, 'logits': 1e-4, 'score': 1e-5, 'min_score': 2.0}
TARGETS = {'fraction_of_roof': 0.5, 'speedup_over_torch_fidelity_tf32_off': 1.0}
# (count, height, width): upsampled, 299 (no resize), non-square, downsampled.
FULL = {
    'images': ((64, 32, 32), (48, 64, 64), (24, 299, 299), (32, 48, 80), (32, 360, 320)),
    'calibration': synthetic_weights.FULL_CALIBRATION,
    'sizes': (32, 256), 'batches': (100, 500), 'compare_batch': 100, 'sgemm_n': 8192,
    'repeats': 3,
}
SMOKE = {
    'images': ((2, 32, 32), (2, 64, 64), (1, 299, 299), (2, 48, 80), (1, 360, 320)),
    'calibration': synthetic_weights.QUICK_CALIBRATION,
    'sizes': (32, 256), 'batches': (1, 2), 'compare_batch': 4, 'sgemm_n': 512, 'repeats': 1,
}
NODES = (topology.FEATURE_NODE, 'logits')
WEIGHTS_SEED, CALIBRATION_SEED, IMAGES_SEED = 0, 1, 2


def log(message):
    print(message, flush=True)


def open_device(args):
    """(cupy or numpy, what the device is, why there is no GPU or None)."""
    if args.cpu_smoke:
        return numpy, _cpu_name(), '--cpu-smoke'
    try:
        cupy = import_cupy(args.device)
    except UsageError as e:
        return numpy, _cpu_name(), str(e)
    name = cupy.cuda.runtime.getDeviceProperties(args.device)['name']
    return cupy, name.decode() if isinstance(name, bytes) else str(name), None


def _cpu_name():
    return '{} CPU, {} cores'.format(platform.machine(), os.cpu_count())


def run_groups(forward, groups, batch):
    """{'pool_3': (N, 2048), 'logits': (N, 1008)} numpy arrays over all groups, in order."""
    parts = [forward(g[i:i + batch]) for g in groups for i in range(0, len(g), batch)]
    return {name: numpy.concatenate([p[k] for p in parts]) for k, name in enumerate(NODES)}


def compare(outputs, reference, splits):
    """Differences of `outputs` from `reference` (as run_groups gives them) and both scores."""
    score = inception_score_from_logits(outputs['logits'], splits)[0]
    ref_score = inception_score_from_logits(reference['logits'], splits)[0]
    out = {name + '_max_rel_diff': measure.scale_relative_diff(outputs[name], reference[name])
           for name in NODES}
    out.update(score=score, reference_score=ref_score,
               score_rel_diff=measure.relative_diff(score, ref_score))
    return out


def random_images(batch, size, seed=3):
    return numpy.random.RandomState(seed).randint(0, 256, (batch, 3, size, size)).astype(
        numpy.uint8)


def default_math_roof(xp, n):
    """The SGEMM roof with cuBLAS's default float32 compute type instead of the pedantic one
    the core sets: what pedantic math costs, if anything."""
    from cupy._core import _routines_linalg as linalg
    linalg.set_compute_type(numpy.float32, getattr(linalg, 'COMPUTE_TYPE_DEFAULT', 1))
    try:
        return measure.sgemm_gflops(xp, n)
    finally:
        use_fp32_math()


def speed_ours(network, xp, cfg, gflop, roof):
    """images/s of the network for each input size and batch; inputs already on the device."""
    sync = measure.synchronizer(xp)
    pool = xp.get_default_memory_pool() if xp is not numpy else None
    rows = []
    for size in cfg['sizes']:
        for batch in cfg['batches']:
            if pool is not None:
                pool.free_all_blocks()
            x = xp.asarray(random_images(batch, size))
            network.logits(x)  # warm-up: kernels compiled, memory pool filled
            per_s = batch / measure.best_time(lambda: network.logits(x), sync, cfg['repeats'])
            rows.append({'size': size, 'batch': batch, 'images_per_s': per_s,
                         'gflop_per_s': per_s * gflop, 'fraction_of_roof': per_s * gflop / roof,
                         'pool_peak_bytes': None if pool is None else pool.total_bytes()})
            log('  ours {:3d}x{:<3d} batch {:3d}: {:9.1f} images/s = {:8.1f} GFLOP/s = {:.2f} of '
                'the roof{}'.format(size, size, batch, per_s, per_s * gflop, per_s * gflop / roof,
                                    '' if pool is None else ', memory pool {:.2f} GiB'.format(
                                        pool.total_bytes() / 2 ** 30)))
            del x
    return rows


def torch_fidelity_part(arrays, gpu, args, cfg, groups, ours, splits):
    """torch-fidelity with the same weights: speed and drift from `ours`, per TF32 setting."""
    try:
        import torch
        import torch_fidelity
        import torch_fidelity_extractor
    except ImportError as e:
        return {'available': False, 'reason': str(e)}
    info = {'available': True, 'torch': torch.__version__,
            'torch_fidelity': getattr(torch_fidelity, '__version__', '?')}
    if gpu and not torch.cuda.is_available():
        return dict(info, available=False, reason='torch sees no CUDA device')
    device = 'cuda:{}'.format(args.device) if gpu else 'cpu'
    sync = (lambda: torch.cuda.synchronize(device)) if gpu else (lambda: None)
    info['device'] = device
    extractor = torch_fidelity_extractor.build(arrays, device)

    def forward(x):
        feats, logits = torch_fidelity_extractor.forward(extractor, torch.from_numpy(x).to(device))
        return feats.cpu().numpy(), logits.cpu().numpy()

    defaults = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    runs = {}
    for mode, tf32 in (('pytorch_defaults', defaults), ('tf32_off', (False, False))):
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
        run = {'cudnn_allow_tf32': torch.backends.cudnn.allow_tf32,
               'cuda_matmul_allow_tf32': torch.backends.cuda.matmul.allow_tf32}
        run.update(compare(run_groups(forward, groups, cfg['compare_batch']), ours, splits))
        run['speed'] = []
        for size in cfg['sizes']:
            for batch in cfg['batches']:
                x = torch.from_numpy(random_images(batch, size)).to(device)
                torch_fidelity_extractor.forward(extractor, x)  # warm-up
                seconds = measure.best_time(
                    lambda: torch_fidelity_extractor.forward(extractor, x), sync, cfg['repeats'])
                run['speed'].append({'size': size, 'batch': batch,
                                     'images_per_s': batch / seconds})
                del x
        log('  torch-fidelity, {} (cuDNN TF32 {}): logits drift {:.2e} of scale, score drift '
            '{:.2e}; images/s {}'.format(
                mode, run['cudnn_allow_tf32'], run['logits_max_rel_diff'],
                run['score_rel_diff'], ', '.join('{:.1f} ({}x{}, batch {})'.format(
                    r['images_per_s'], r['size'], r['size'], r['batch']) for r in run['speed'])))
        runs[mode] = run
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = defaults
    info['runs'] = runs
    if gpu:
        info['peak_memory_bytes'] = torch.cuda.max_memory_reserved(device)
    return info


def targets(report):
    """The speed targets (reported, not enforced: shared machines and clocks vary)."""
    top = max(r['batch'] for r in report['speed'])
    fraction = min(r['fraction_of_roof'] for r in report['speed'] if r['batch'] == top)
    out = {'fraction_of_roof_at_batch_{}'.format(top): {
        'required': TARGETS['fraction_of_roof'], 'value': fraction,
        'met': fraction >= TARGETS['fraction_of_roof']}}
    tf = report['torch_fidelity']
    if tf.get('runs'):
        theirs = {(r['size'], r['batch']): r['images_per_s']
                  for r in tf['runs']['tf32_off']['speed']}
        speedup = min(r['images_per_s'] / theirs[r['size'], r['batch']] for r in report['speed'])
        out['speedup_over_torch_fidelity_tf32_off'] = {
            'required': TARGETS['speedup_over_torch_fidelity_tf32_off'], 'value': speedup,
            'met': speedup > TARGETS['speedup_over_torch_fidelity_tf32_off']}
    return out


def tolerance_failures(report, tolerances=TOLERANCES):
    """One line for each tolerance `report` misses (NaN misses every one)."""
    failures = []
    for name in NODES:
        value = report['gpu_vs_cpu'][name + '_max_rel_diff']
        if not value <= tolerances[name]:
            failures.append('{} differs by {:.3g} of its scale between GPU and CPU (tolerance '
                            '{:g})'.format(name, value, tolerances[name]))
    value = report['gpu_vs_cpu']['score_rel_diff']
    if not value <= tolerances['score']:
        failures.append('the score differs by {:.3g} relative between GPU and CPU (tolerance '
                        '{:g})'.format(value, tolerances['score']))
    score = report['gpu_vs_cpu']['reference_score']
    if not score > tolerances['min_score']:
        failures.append('the synthetic weights score only {:.3f} (must exceed {:g}): a check '
                        'near 1 proves nothing'.format(score, tolerances['min_score']))
    return failures


def versions(xp):
    out = {'python': platform.python_version(), 'numpy': numpy.__version__}
    if xp is not numpy:
        out['cupy'] = xp.__version__
        out['cuda_runtime'] = xp.cuda.runtime.runtimeGetVersion()
        out['cuda_driver'] = xp.cuda.runtime.driverGetVersion()
    return out


def check(args, report):
    start = time.perf_counter()
    xp, device, no_gpu = open_device(args)
    gpu = xp is not numpy
    if no_gpu and args.require_gpu:
        raise UsageError(no_gpu)
    if no_gpu and not args.cpu_smoke:
        log('no usable GPU ({}): running the CPU smoke test instead'.format(no_gpu))
    cfg = FULL if gpu else SMOKE
    report.update(mode='gpu' if gpu else 'cpu-smoke', device=device, no_gpu_reason=no_gpu,
                  versions=versions(xp), tolerances=TOLERANCES)
    log('{} on {}'.format(report['mode'], device))

    arrays = synthetic_weights.calibrated_arrays(
        synthetic_weights.image_groups(cfg['calibration'], CALIBRATION_SEED), WEIGHTS_SEED)
    groups = synthetic_weights.image_groups(cfg['images'], IMAGES_SEED)
    n = sum(len(g) for g in groups)
    splits = max(1, n // 20)
    report['images'] = {'count': n, 'sizes': [list(s) for s in cfg['images']], 'splits': splits}
    log('weights calibrated on {} images ({:.1f} s)'.format(
        sum(c for c, _, _ in cfg['calibration']), time.perf_counter() - start))

    cpu = Network(arrays)  # the CPU path: numpy, threads
    if gpu:
        dev = Network({key: xp.asarray(value) for key, value in arrays.items()})
    else:
        dev = Network(arrays, mode='batched')  # how the GPU runs, with numpy
    report['math_mode'] = dev.math_mode

    def forward(network):
        def run(x):
            out = network.forward(x, NODES)
            return [to_numpy(out[name]) for name in NODES]
        return run

    ours = run_groups(forward(dev), groups, cfg['compare_batch'])
    reference = run_groups(forward(cpu), groups, cfg['compare_batch'])
    report['gpu_vs_cpu'] = compare(ours, reference, splits)
    log('GPU vs CPU on {} mixed-size images: pool_3 {:.2e}, logits {:.2e} of scale; score {:.4f} '
        'vs {:.4f} (relative {:.2e}); math: {}'.format(
            n, report['gpu_vs_cpu']['pool_3_max_rel_diff'],
            report['gpu_vs_cpu']['logits_max_rel_diff'], report['gpu_vs_cpu']['score'],
            report['gpu_vs_cpu']['reference_score'], report['gpu_vs_cpu']['score_rel_diff'],
            report['math_mode']))
    report['failures'] = tolerance_failures(report)  # kept in the report if a later step breaks

    gflop = measure.network_gflop()
    roof = measure.sgemm_gflops(xp, cfg['sgemm_n'])
    report['network_gflop_per_image'] = gflop
    log('SGEMM roof {:.0f} GFLOP/s ({} {}x{}, {})'.format(
        roof, 'cuBLAS' if gpu else 'numpy', cfg['sgemm_n'], cfg['sgemm_n'], report['math_mode']))
    report['speed'] = speed_ours(dev, xp, cfg, gflop, roof)
    again = measure.sgemm_gflops(xp, cfg['sgemm_n'])
    if again > roof:  # clocks settle during the run: hold the network to the higher roof
        roof = again
        for row in report['speed']:
            row['fraction_of_roof'] = row['gflop_per_s'] / roof
    report['sgemm_gflops'] = roof
    if gpu:
        report['sgemm_gflops_cublas_default_math'] = default_math_roof(xp, cfg['sgemm_n'])
        log('SGEMM with cuBLAS default math (CUBLAS_COMPUTE_32F, also no TF32 unless the '
            'handle allows it): {:.0f} GFLOP/s'.format(report['sgemm_gflops_cublas_default_math']))
        pool = xp.get_default_memory_pool()
        report['memory'] = {'device_total_bytes': xp.cuda.runtime.memGetInfo()[1],
                            'pool_peak_bytes': max(r['pool_peak_bytes'] for r in report['speed'])}
        del dev
        pool.free_all_blocks()  # leave the GPU to torch
    else:
        report['memory'] = {'device_total_bytes': None, 'pool_peak_bytes': None}

    try:
        report['torch_fidelity'] = torch_fidelity_part(arrays, gpu, args, cfg, groups, ours,
                                                       splits)
    except Exception:  # the comparison is optional: say why it broke, keep our results
        report['torch_fidelity'] = {'available': True, 'error': traceback.format_exc()}
        log('torch-fidelity: broke:\n' + report['torch_fidelity']['error'])
    if not report['torch_fidelity']['available']:
        log('torch-fidelity: not measured ({})'.format(report['torch_fidelity']['reason']))
    report['targets'] = targets(report)
    for name, target in report['targets'].items():
        log('target {}: {:.2f} (required {}) {}'.format(
            name, target['value'], target['required'], 'met' if target['met'] else 'NOT MET'))
    report['failures'] = tolerance_failures(report)
    report['ok'] = not report['failures']
    report['seconds'] = time.perf_counter() - start
    for failure in report['failures']:
        log('FAILED: ' + failure)
    log('{} in {:.0f} s'.format('all tolerances met' if report['ok'] else 'TOLERANCES FAILED',
                                report['seconds']))
    return 0 if report['ok'] else 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('report', help='where to write the JSON report')
    p.add_argument('--device', type=int, default=0, help='GPU number (default 0)')
    p.add_argument('--require-gpu', action='store_true',
                   help='fail (exit 2) instead of running the CPU smoke test without a GPU')
    p.add_argument('--cpu-smoke', action='store_true',
                   help='numpy only, 8 images, seconds: what CI runs')
    args = p.parse_args(argv)
    report = {}
    try:
        status = check(args, report)
    except UsageError as e:
        print('{}: error: {}'.format(os.path.basename(sys.argv[0]), e), file=sys.stderr)
        report['error'] = str(e)
        status = 2
    except BaseException:
        report['error'] = traceback.format_exc()  # keep what was measured before it broke
        raise
    finally:
        with open(args.report, 'w') as f:
            json.dump(report, f, indent=1)
    return status


if __name__ == '__main__':
    sys.exit(main())
