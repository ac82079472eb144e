"""bench/: the GPU check's CPU smoke test and the CPU benchmark run for real, in fresh
processes, so neither script can rot while no GPU is at hand."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.once]  # the benchmarks run; their numbers are bench/'s

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, 'bench')


def run_script(*args, timeout=600):
    return subprocess.run([sys.executable] + list(args), cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope='module')
def gpu_check():
    saved = list(sys.path)  # the script puts bench/ and the checkout first on sys.path
    try:
        spec = importlib.util.spec_from_file_location(
            'gpu_check', os.path.join(BENCH, 'gpu_check.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path[:] = saved


def test_gpu_check_cpu_smoke_meets_tolerances_and_reports_every_field(tmp_path):
    path = tmp_path / 'report.json'
    result = run_script('bench/gpu_check.py', str(path), '--cpu-smoke')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'all tolerances met' in result.stdout
    report = json.loads(path.read_text())
    assert report['mode'] == 'cpu-smoke' and report['ok'] and report['failures'] == []
    assert report['math_mode'] == 'fp32 (numpy)'
    tol = report['tolerances']
    assert tol == {'pool_3': 1e-4, 'logits': 1e-4, 'score': 1e-5, 'min_score': 2.0}
    diff = report['gpu_vs_cpu']
    assert diff['pool_3_max_rel_diff'] <= tol['pool_3']
    assert diff['logits_max_rel_diff'] <= tol['logits']
    assert diff['score_rel_diff'] <= tol['score']
    # The synthetic weights are informative: 8 images score far from 1 (at most 8).
    assert 2.0 < diff['reference_score'] <= report['images']['count'] == 8
    assert 11.4 < report['network_gflop_per_image'] < 11.45  # README: 11.426
    assert report['sgemm_gflops'] > 0
    rows = report['speed']
    assert sorted((r['size'], r['batch']) for r in rows) == [(32, 1), (32, 2), (256, 1), (256, 2)]
    for row in rows:
        assert row['images_per_s'] > 0
        assert row['fraction_of_roof'] == pytest.approx(
            row['images_per_s'] * report['network_gflop_per_image'] / report['sgemm_gflops'])
    assert report['memory'] == {'device_total_bytes': None, 'pool_peak_bytes': None}
    assert 'fraction_of_roof_at_batch_2' in report['targets']
    tf = report['torch_fidelity']
    if not tf['available']:
        assert tf['reason']
        assert 'torch-fidelity: not measured' in result.stdout
    else:
        # Same weights mapped onto torch-fidelity's state_dict: on the CPU the two ports agree
        # to float32 rounding (a wrong mapping moves the logits by their whole scale).
        assert set(tf['runs']) == {'pytorch_defaults', 'tf32_off'}
        for run in tf['runs'].values():
            assert run['logits_max_rel_diff'] < 1e-4
            assert run['pool_3_max_rel_diff'] < 1e-4
            assert len(run['speed']) == 4
        assert 'speedup_over_torch_fidelity_tf32_off' in report['targets']


def test_gpu_check_require_gpu_without_one_exits_2_with_one_line(tmp_path):
    if importlib.util.find_spec('cupy') is not None:
        pytest.skip('CuPy is installed here: --require-gpu would run the whole GPU check')
    path = tmp_path / 'report.json'
    result = run_script('bench/gpu_check.py', str(path), '--require-gpu', timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('gpu_check.py: error: GPU 0 needs CuPy')
    assert 'CuPy' in json.loads(path.read_text())['error']


def test_tolerance_failures_name_each_missed_tolerance(gpu_check):
    report = {'gpu_vs_cpu': {'pool_3_max_rel_diff': 2e-4, 'logits_max_rel_diff': float('nan'),
                             'score_rel_diff': 1e-6, 'reference_score': 1.5}}
    failures = gpu_check.tolerance_failures(report)
    assert len(failures) == 3
    assert failures[0].startswith('pool_3 differs by 0.0002 of its scale')
    assert failures[1].startswith('logits differs by nan')
    assert 'score only 1.500' in failures[2]
    report['gpu_vs_cpu'].update(pool_3_max_rel_diff=1e-4, logits_max_rel_diff=0.0,
                                score_rel_diff=2e-5, reference_score=2.5)
    assert gpu_check.tolerance_failures(report) == [
        'the score differs by 2e-05 relative between GPU and CPU (tolerance 1e-05)']


def test_bench_runs_every_cpu_measurement_on_tiny_sizes():
    result = run_script('bench/bench.py', '--images', '2', '--images-299', '0',
                        '--folder-images', '2', '--rss', '2,4', '--torch-images', '0',
                        '--fid-images', '2', '--metrics-images', '5')
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert 'numpy SGEMM roof' in out
    assert '11.426 GFLOP per image' in out
    assert ' 32x32  batch 100' in out and 'of the roof (2 images, mode threads)' in out
    assert 'folder of PNGs vs memory' in out
    assert 'IS + FID vs IS alone' in out and '(speed ratio, one pass, 2 images 32x32' in out
    assert 'MiB for 2 images' in out and 'MiB for 4 (growth' in out
    assert 'IS + FID + KID + PR vs IS' in out
    assert '(one pass, 5 images 32x32 and 5 reference vectors' in out
    assert 'one FID' in out and '(2048 features, full rank);' in out
