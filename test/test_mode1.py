"""Mode-1: the reactive policy, its checkpoint (bound to one world model), hindsight pairs,
mode-2 targets, the fit, the tasks' actor section, and `jepa-ros distill` end to end (a tiny
world model trained here, then distilled and evaluated with a mode-1 task)."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import torch

from jepa_ros.configurator import build_actor, load_task, load_tasks, task_from_dict, TaskError
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import (
    load_policy,
    model_fingerprint,
    PolicyConfig,
    ReactivePolicy,
    save_policy,
)
from jepa_ros.training.distill import DistillConfig, fit_policy, hindsight_pairs, plan_targets
from jepa_ros.world_model import WorldModel, WorldModelConfig
from jepa_ros.world_model.checkpoint import CheckpointError, save_checkpoint

SMALL = WorldModelConfig(image_height=32, image_width=32, latent_dim=16, channels=8, keypoints=4,
                         encoder_hidden=16, proprio_dim=7, proprio_hidden=16,
                         predictor_hidden=16, predictor_layers=2)  # fmt: skip


def small_model(seed: int) -> WorldModel:
    torch.manual_seed(seed)
    return WorldModel(SMALL).eval()


def test_the_policy_proposes_bounded_sequences():
    policy = ReactivePolicy(PolicyConfig(latent_dim=16, action_dim=4, horizon=5,
                                         max_step_rad=0.1))  # fmt: skip
    with torch.no_grad():
        out = policy(100 * torch.randn(32, 16), 100 * torch.randn(32, 16))
    assert out.shape == (32, 5, 4)
    assert float(out.abs().max()) <= 0.1 + 1e-6


def test_a_policy_loads_only_beside_its_own_world_model(tmp_path):
    model, other = small_model(0), small_model(1)
    assert model_fingerprint(model) != model_fingerprint(other)
    policy = ReactivePolicy(PolicyConfig(latent_dim=16, action_dim=4, horizon=3))
    save_policy(tmp_path / 'p.pt', policy, model, {'note': 'x'})
    loaded, metadata = load_policy(tmp_path / 'p.pt', model)
    assert metadata == {'note': 'x'}
    x = torch.randn(2, 16)
    torch.testing.assert_close(loaded(x, x), policy(x, x))
    with pytest.raises(CheckpointError, match='another world model'):
        load_policy(tmp_path / 'p.pt', other)
    save_checkpoint(tmp_path / 'model.pt', model, {})
    with pytest.raises(CheckpointError, match='not a jepa_ros mode-1 policy'):
        load_policy(tmp_path / 'model.pt', model)
    with pytest.raises(CheckpointError, match='policy not found'):
        load_policy(tmp_path / 'missing.pt', model)


def test_hindsight_goals_are_later_frames_of_the_same_episode(tiny_data):
    data = ExplorationDataset(tiny_data / 'data')
    frames, goals = hindsight_pairs(data, 500, seed=3)
    episode, step = data.get('episode'), data.get('step')
    assert (episode[frames] == episode[goals]).all()
    assert (step[goals] > step[frames]).all()
    assert len(np.unique(goals - frames)) > 3, 'goals at many distances'
    again = hindsight_pairs(data, 500, seed=3)
    assert (again[0] == frames).all() and (again[1] == goals).all()


def test_mode2_targets_are_reproducible_plans_within_the_limit(tiny_scene):
    model = small_model(0)
    task = load_task('reach_light')
    actor = build_actor(model, tiny_scene, JointLimits.from_scene(tiny_scene), task)
    latents, goals = torch.randn(6, 16), torch.randn(6, 16)
    joints = np.tile(np.array(list(tiny_scene.home.values()))[: tiny_scene.action_dim], (6, 1))
    first = plan_targets(actor, latents, joints, goals, seed=5)
    second = plan_targets(actor, latents, joints, goals, seed=5)
    assert first.shape == (6, task.planner_config.horizon, tiny_scene.action_dim)
    torch.testing.assert_close(first, second)
    assert float(first.abs().max()) <= tiny_scene.max_step_rad + 1e-6
    assert not torch.allclose(first[0], first[1]), 'each pair its own plan'
    # Searches chained from the last plan (mode-2's warm start): other, reproducible plans
    chained = plan_targets(actor, latents, joints, goals, seed=5, searches=2)
    torch.testing.assert_close(chained, plan_targets(actor, latents, joints, goals, 5,
                                                     searches=2))  # fmt: skip
    assert not torch.allclose(chained, first)
    assert float(chained.abs().max()) <= tiny_scene.max_step_rad + 1e-6


def test_the_fit_learns_a_mapping_it_can_represent():
    torch.manual_seed(0)
    teacher = ReactivePolicy(PolicyConfig(latent_dim=8, action_dim=2, horizon=2, hidden=32))
    latents, goals = torch.randn(2000, 8), torch.randn(2000, 8)
    with torch.no_grad():
        targets = teacher(latents, goals)
    student = ReactivePolicy(PolicyConfig(latent_dim=8, action_dim=2, horizon=2, hidden=64))
    with torch.no_grad():
        before = float(((student(latents, goals) - targets) / 0.1).pow(2).mean())
    result = fit_policy(student, latents, goals, targets,
                        DistillConfig(pairs=2000, steps=600, batch_size=128))  # fmt: skip
    assert result['heldout_loss'] < 0.1 * before, (before, result)
    assert result['heldout_pairs'] == 200 and result['train_pairs'] == 1800


def test_the_tasks_actor_section_is_checked():
    tasks = load_tasks()
    assert tasks['reach_fast'].actor.mode == 'mode1_checked'
    assert tasks['reach_fast'].actor.control_rate_hz == 30.0
    assert tasks['reach_light'].actor.mode == 'mode2'
    with pytest.raises(TaskError, match='mode must be one of'):
        task_from_dict('x', {'actor': {'mode': 'mode3'}})
    with pytest.raises(TaskError, match='unknown keys'):
        task_from_dict('x', {'actor': {'speed': 1}})


TRAIN = ['--encoder-steps', '20', '--predictor-steps', '6', '--batch-size', '8',
         '--predictor-batch-size', '16', '--latent-dim', '16', '--rollout-steps', '2',
         '--threads', '1']  # fmt: skip


def jepa_ros(*args: str | Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, '-m', 'jepa_ros.cli', *map(str, args)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_distill_then_evaluate_with_mode1(tiny_data, tmp_path):
    scene, data = tiny_data / 'tiny.yaml', tiny_data / 'data'
    jepa_ros('train', '--data', data, '--scene', scene, '--out', tmp_path / 'run', *TRAIN)
    checkpoint = tmp_path / 'run' / 'model.pt'
    distill = ['distill', '--checkpoint', checkpoint, '--data', data, '--scene', scene,
               '--out', tmp_path / 'mode1', '--pairs', '40', '--steps', '30']  # fmt: skip
    first = jepa_ros(*distill)
    assert 'reusing the targets' not in first.stdout
    report = json.loads((tmp_path / 'mode1' / 'distill.json').read_text())
    assert report['result']['train_pairs'] == 36 and report['dataset']['frames'] > 0
    assert (tmp_path / 'mode1' / 'metrics.csv').read_text().count('distill') >= 2
    again = jepa_ros(*distill, '--steps', '10')
    assert 'reusing the targets' in again.stdout
    policy = tmp_path / 'mode1' / 'policy.pt'
    for task, served in (('reach_mode1', {'mode1'}), ('reach_warm', {'mode2_warm'})):
        out = tmp_path / f'{task}.json'
        jepa_ros('eval', '--checkpoint', checkpoint, '--scene', scene, '--task', task,
                 '--policy', policy, '--episodes', '2', '--budget', '3', '--policies', 'jepa',
                 '--no-monitor', '--json', out)  # fmt: skip
        result = json.loads(out.read_text())
        assert set(result['mode_share']) == served and sum(result['mode_share'].values()) == 1
        mode = served.pop()
        assert result[f'decide_ms_{mode}_p95'] >= result[f'decide_ms_{mode}_p50'] > 0
        assert result['encode_ms_p50'] > 0
    # The shipped policy belongs to the shipped model, not to this one: a one-line refusal
    refused = subprocess.run([sys.executable, '-m', 'jepa_ros.cli', 'eval', '--checkpoint',
                              str(checkpoint), '--scene', str(scene), '--task', 'reach_fast',
                              '--episodes', '1', '--json', str(tmp_path / 'no.json')],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode == 2 and 'Traceback' not in refused.stderr
    assert 'policy' in refused.stderr and not (tmp_path / 'no.json').exists()


def test_distill_refuses_data_of_another_scene(tiny_data, tmp_path):
    result = subprocess.run([sys.executable, '-m', 'jepa_ros.cli', 'distill', '--checkpoint',
                             'models/jepa_panda.pt', '--data', str(tiny_data / 'data'),
                             '--out', str(tmp_path / 'x')], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / 'x').exists()
