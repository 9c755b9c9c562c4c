"""Training where users have more compute: `torchrun --nproc-per-node 2` (gloo, CPU) on a tiny
dataset computes the single process's loss curve at the same global batch, only rank 0 writes,
and a killed run resumes; `--device` resolves or refuses clearly (CUDA mocked only where there
is none)."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from jepa_ros.device import DeviceError, resolve_device
from jepa_ros.training.log import read_metrics
from jepa_ros.world_model.checkpoint import read_payload

# The ranks sum the same terms in another order: equal to this relative tolerance
LOSS_RTOL = 1e-4
TRAIN = [
    '--encoder-steps', '24', '--predictor-steps', '6', '--batch-size', '8',
    '--predictor-batch-size', '16', '--latent-dim', '16', '--rollout-steps', '2',
    '--log-every', '1', '--monitor-every', '4', '--checkpoint-every', '2', '--threads', '1',
]  # fmt: skip


def command(tiny: Path, out: Path, ranks: int) -> list[str]:
    train = ['-m', 'jepa_ros.cli', 'train', '--data', str(tiny / 'data'), '--scene',
             str(tiny / 'tiny.yaml'), '--out', str(out), *TRAIN]  # fmt: skip
    if ranks == 1:
        return [sys.executable, *train]
    return [sys.executable, '-m', 'torch.distributed.run', '--standalone',
            f'--nproc-per-node={ranks}', *train]  # fmt: skip


def run(tiny: Path, out: Path, ranks: int) -> subprocess.CompletedProcess:
    result = subprocess.run(command(tiny, out, ranks), capture_output=True, text=True,
                            timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def losses(out: Path) -> dict[str, np.ndarray]:
    metrics = read_metrics(out / 'metrics.csv')
    return {stage: np.array([v for _, v in metrics[(stage, 'loss')]])
            for stage in ('encoder', 'predictor')}  # fmt: skip


def test_torchrun_matches_one_process_only_rank_0_writes_and_a_killed_run_resumes(
    tiny_data, tmp_path
):
    run(tiny_data, tmp_path / 'one', 1)
    run(tiny_data, tmp_path / 'two', 2)
    single, ranks = losses(tmp_path / 'one'), losses(tmp_path / 'two')
    for stage in ('encoder', 'predictor'):
        assert len(ranks[stage]) == len(single[stage]) == {'encoder': 24, 'predictor': 6}[stage]
        np.testing.assert_allclose(ranks[stage], single[stage], rtol=LOSS_RTOL, err_msg=stage)
    # Not trivially equal: the loss moved, so the averaged gradients were the one process's
    assert ranks['encoder'][-1] < ranks['encoder'][0] - 1.0
    # Only rank 0 wrote: one log, no row twice, one TensorBoard event file, no stray files
    written = sorted(p.name for p in (tmp_path / 'two').iterdir())
    assert written == ['metrics.csv', 'model.pt', 'tensorboard', 'train_state.pt'], written
    assert len(list((tmp_path / 'two' / 'tensorboard').iterdir())) == 1
    rows = (tmp_path / 'two' / 'metrics.csv').read_text().splitlines()[1:]
    keys = [tuple(row.split(',')[i] for i in (0, 1, 3)) for row in rows]
    assert len(keys) == len(set(keys)), 'a metrics row written twice'
    assert read_payload(tmp_path / 'two' / 'model.pt')['metadata']['train_devices'] == '2 x cpu'
    # Killed after a checkpoint (every rank, as a scheduler would), then the same command again
    out = tmp_path / 'killed'
    process = subprocess.Popen(command(tiny_data, out, 2), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while not (out / 'train_state.pt').is_file() and process.poll() is None:
        assert time.monotonic() < deadline, 'no checkpoint within 300 s'
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    step = torch.load(out / 'train_state.pt', weights_only=False)['step']
    assert step['encoder'] < 24, f'the run ended before it could be killed: {step}'
    resumed = run(tiny_data, out, 2)
    assert f'resuming {out} at steps' in resumed.stdout
    final = read_payload(out / 'model.pt')['state_dict']
    for name, value in read_payload(tmp_path / 'two' / 'model.pt')['state_dict'].items():
        torch.testing.assert_close(final[name], value, rtol=1e-3, atol=1e-5, msg=name)


def test_a_world_size_that_does_not_divide_the_batch_is_one_line(tiny_data, tmp_path):
    args = command(tiny_data, tmp_path / 'odd', 2)
    args[args.index('--batch-size') + 1] = '6'  # 3 pairs over 2 ranks
    result = subprocess.run(args, capture_output=True, text=True, timeout=300,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})  # fmt: skip
    assert result.returncode != 0
    said = [line for line in result.stderr.splitlines() if 'not divisible' in line]
    assert said and 'batch_size / 2 3 is not divisible by the 2 ranks' in said[0], result.stderr
    assert not (tmp_path / 'odd').exists(), 'nothing written'


def test_device_names_resolve_or_say_why_not(monkeypatch):
    assert resolve_device('cpu') == torch.device('cpu')
    for bad in ('gpu', 'cpu:1', ''):
        with pytest.raises(DeviceError, match='unknown device'):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match='sees no CUDA GPU'):
            resolve_device('cuda')
        assert resolve_device('auto').type in ('cpu', 'mps')
        # Where a GPU exists (mocked only here, where none does), auto and cuda choose it
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
        monkeypatch.setattr(torch.cuda, 'device_count', lambda: 1)
    assert resolve_device('auto') == torch.device('cuda')
    assert resolve_device('cuda') == torch.device('cuda')
    with pytest.raises(DeviceError, match='CUDA GPU'):
        resolve_device(f'cuda:{torch.cuda.device_count()}')


def test_train_on_a_device_torch_cannot_see_is_one_line(tiny_data, tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has a CUDA GPU')
    result = subprocess.run([*command(tiny_data, tmp_path / 'gpu', 1), '--device', 'cuda'],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode != 0
    assert 'sees no CUDA GPU' in result.stderr and 'Traceback' not in result.stderr
    assert not (tmp_path / 'gpu').exists(), 'nothing written'
