"""Training on a tiny collected dataset: the loss falls, runs are deterministic and resumable,
and the train/probe commands work end to end."""

from __future__ import annotations

import copy
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.envs.kinematics import Proprioception
from jepa_ros.training.log import TrainingLog
from jepa_ros.training.trainer import TrainConfig, Trainer
from jepa_ros.world_model import WorldModel, WorldModelConfig


def _trainer(root: Path, log_dir: Path, save=lambda model, state: None, **train) -> Trainer:
    from jepa_ros.envs.scene import load_scene

    torch.manual_seed(0)
    dataset = ExplorationDataset(root / 'data')
    proprioception = Proprioception(load_scene(root / 'tiny.yaml'))
    features = proprioception(dataset.get('joints'))
    config = WorldModelConfig(image_height=32, image_width=32, latent_dim=24, channels=8,
                              keypoints=8, encoder_hidden=32, proprio_dim=proprioception.dim,
                              proprio_hidden=32, predictor_hidden=32)  # fmt: skip
    model = WorldModel(config)
    model.proprio_encoder.set_statistics(features)
    settings = dict(batch_size=32, predictor_batch_size=32, rollout_steps=3, log_every=1,
                    monitor_every=5, checkpoint_every=1000)  # fmt: skip
    train_config = TrainConfig(**{**settings, **train})
    log = TrainingLog(log_dir, tensorboard=False)
    return Trainer(model, dataset, features, train_config, log, save)


def test_a_few_steps_lower_the_loss(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, tmp_path, encoder_steps=0, predictor_steps=0, encoder_lr=3e-3)
    encoder = [trainer.encoder_step(trainer.encoder_batch())['loss'] for _ in range(80)]
    assert np.mean(encoder[-5:]) < 0.6 * np.mean(encoder[:5])
    trainer.latents = trainer.cache_latents()
    predictor = [trainer.predictor_step(trainer.predictor_batch())['loss'] for _ in range(60)]
    assert np.mean(predictor[-5:]) < 0.5 * np.mean(predictor[:5])


def test_training_is_deterministic_and_resumes_exactly(tiny_data, tmp_path):
    straight = _trainer(tiny_data, tmp_path / 'a', encoder_steps=6, predictor_steps=4)
    straight.run()
    again = _trainer(tiny_data, tmp_path / 'b', encoder_steps=6, predictor_steps=4)
    again.run()
    # Killed right after its checkpoint at encoder step 3, then resumed from that checkpoint
    saved = {}

    class Killed(Exception):
        pass

    def save_then_die(model, state):
        saved.update(weights=copy.deepcopy(model.state_dict()), state=copy.deepcopy(state))
        raise Killed

    first = _trainer(tiny_data, tmp_path / 'c', save_then_die, encoder_steps=6,
                     predictor_steps=4, checkpoint_every=3)  # fmt: skip
    with pytest.raises(Killed):
        first.run()
    assert saved['state']['step'] == {'encoder': 3, 'predictor': 0}
    resumed = _trainer(tiny_data, tmp_path / 'd', encoder_steps=6, predictor_steps=4)
    resumed.model.load_state_dict(saved['weights'])
    resumed.load_state(saved['state'])
    resumed.run()
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(again.model.state_dict()[name], value, rtol=0, atol=0)
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=0)


def jepa_ros(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'jepa_ros.cli', *args], capture_output=True, text=True, timeout=600
    )


def test_train_and_probe_commands(tiny_data, tmp_path):
    run = tmp_path / 'run'
    train = ['train', '--data', str(tiny_data / 'data'), '--out', str(run), '--scene',
             str(tiny_data / 'tiny.yaml'), '--encoder-steps', '4', '--predictor-steps', '3',
             '--batch-size', '16', '--latent-dim', '24', '--rollout-steps', '2']  # fmt: skip
    result = jepa_ros(*train)
    assert result.returncode == 0, result.stderr
    assert (run / 'model.pt').is_file() and (run / 'train_state.pt').is_file()
    rows = (run / 'metrics.csv').read_text().splitlines()
    assert rows[0] == 'stage,step,elapsed_s,name,value'
    assert any(r.startswith('encoder,4,') and ',effective_rank,' in r for r in rows)
    assert any(r.startswith('predictor,3,') and ',vs_identity,' in r for r in rows)
    assert list((run / 'tensorboard').glob('events.out.tfevents.*'))
    # Running the same command again resumes a finished run: no step is repeated
    again = jepa_ros(*train)
    assert again.returncode == 0 and 'resuming' in again.stdout
    assert (run / 'metrics.csv').read_text().splitlines() == rows
    # Other settings into the same folder are refused
    other = jepa_ros(*train[:-1], '3')
    assert other.returncode == 2 and 'other training settings' in other.stderr
    wider = jepa_ros(*[a if a != '24' else '28' for a in train])
    assert wider.returncode == 2 and 'model of another shape' in wider.stderr
    # Probe the tiny model on the same tiny data (a warning says it is not held out)
    out = tmp_path / 'probe.json'
    probe = jepa_ros('probe', '--checkpoint', str(run / 'model.pt'), '--data',
                     str(tiny_data / 'data'), '--json', str(out))  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert 'warning' in probe.stdout
    metrics = json.loads(out.read_text())
    for key in ('ee_r2', 'joint_r2_mean', 'surprise_auroc', 'effective_rank', 'latent_dim',
                'pred_vs_identity_1step', 'pred_vs_identity_5step'):  # fmt: skip
        assert isinstance(metrics[key], float | int), key
    assert metrics['latent_dim'] == 24
    assert out.with_suffix('.png').stat().st_size > 10_000
    # Evaluate it for two short episodes against every baseline
    report_path = tmp_path / 'eval.json'
    evaluation = jepa_ros('eval', '--checkpoint', str(run / 'model.pt'), '--scene',
                          str(tiny_data / 'tiny.yaml'), '--episodes', '2', '--budget', '3',
                          '--samples', '16', '--horizon', '2', '--iterations', '1',
                          '--json', str(report_path), '--no-monitor', '--gif',
                          str(tmp_path / 'eval.gif'), '--gif-episodes', '1')  # fmt: skip
    assert evaluation.returncode == 0, evaluation.stderr
    report = json.loads(report_path.read_text())
    assert report['policy'] == 'jepa' and report['episodes'] == 2
    finals = report['final_distances_m']
    assert len(finals) == 2 and np.median(finals) == pytest.approx(
        report['median_final_distance_m'], abs=1e-5
    )
    assert len(report['steps_to_success']) == 2
    assert set(report['baselines']) == {'random', 'oracle', 'untrained'}
    for summary in [report, *report['baselines'].values()]:
        assert 0.0 <= summary['success_rate'] <= 1.0 and summary['median_final_distance_m'] >= 0
    assert report['plan_ms_p95'] >= report['plan_ms_p50'] > 0
    assert report['baselines']['oracle']['plan_ms_p50'] is None, 'the oracle does not plan'
    assert report_path.with_suffix('.png').is_file()
    with Image.open(tmp_path / 'eval.gif') as gif:
        assert gif.n_frames == 4, 'budget 3: the start frame and one per step'
    # Calibrate the configurator's thresholds on two short runs
    calibration = tmp_path / 'calibrate.json'
    result = jepa_ros('calibrate', '--checkpoint', str(run / 'model.pt'), '--scene',
                      str(tiny_data / 'tiny.yaml'), '--episodes', '2', '--budget', '3',
                      '--samples', '16', '--horizon', '2', '--iterations', '1',
                      '--json', str(calibration))  # fmt: skip
    assert result.returncode == 0, result.stderr
    chosen = json.loads(calibration.read_text())
    assert chosen['success_energy'] > 0 and chosen['patience_ticks'] >= 25
    assert 'success_energy:' in result.stdout and calibration.with_suffix('.png').is_file()
    bad = jepa_ros('eval', '--checkpoint', str(run / 'model.pt'), '--json', str(report_path),
                   '--task', 'no_such_task')  # fmt: skip
    assert bad.returncode == 2 and "unknown task 'no_such_task'" in bad.stderr


def test_train_refuses_data_from_another_scene(tiny_data, tmp_path):
    from conftest import write_scene

    other = write_scene(tmp_path / 'other.yaml', max_step_rad=0.05)
    result = jepa_ros('train', '--data', str(tiny_data / 'data'), '--out', str(tmp_path / 'r'),
                      '--scene', str(other))  # fmt: skip
    assert result.returncode == 2
    assert 'another scene: max_step_rad' in result.stderr
    assert not (tmp_path / 'r').exists()
