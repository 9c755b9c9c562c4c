"""`--device` for eval, calibrate, the demo and the nodes: a device torch cannot see is a
one-line error before anything runs (tested here, where there is no GPU), the graph hands the
device to every model node, and on a machine with a CUDA GPU the actor plans there as on the
CPU (skipped without one: CI never has a GPU)."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import torch

from jepa_ros.configurator import build_actor, load_task
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene
from jepa_ros.graph import graph_config_from_launch, graph_specs, GraphConfig, LAUNCH_ARGUMENTS
from jepa_ros.world_model.checkpoint import load_checkpoint

SHIPPED = Path(__file__).resolve().parent.parent / 'models' / 'jepa_panda.pt'
MODEL_NODES = ('perception_node', 'world_model_node', 'actor_node', 'configurator_node')
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a CUDA GPU')


@no_cuda
@pytest.mark.parametrize('command', [
    ['eval', '--checkpoint', str(SHIPPED), '--episodes', '1', '--policies', 'jepa'],
    ['calibrate', '--checkpoint', str(SHIPPED), '--episodes', '1'],
    ['demo', '--goals', '1'],
])  # fmt: skip
def test_a_device_torch_cannot_see_is_one_line_before_anything_runs(command, tmp_path):
    out = tmp_path / 'out.json'
    extra = ['--json', str(out)] if command[0] != 'demo' else ['--out', str(tmp_path / 'demo')]
    result = subprocess.run([sys.executable, '-m', 'jepa_ros.cli', *command, *extra,
                             '--device', 'cuda'], capture_output=True, text=True,
                            timeout=300, cwd=tmp_path)  # fmt: skip
    assert result.returncode != 0
    assert 'sees no CUDA GPU' in result.stderr and 'Traceback' not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists() and not (tmp_path / 'demo').exists(), 'nothing written'


def test_the_graph_gives_every_model_node_the_device_and_checks_its_name():
    specs = {s.executable: s for s in graph_specs(GraphConfig(device='cuda:1'))}
    for name in MODEL_NODES:
        assert specs[name].parameters['device'] == 'cuda:1', name
    assert 'device' not in specs['guardrail_node'].parameters  # no model there
    assert 'device' in LAUNCH_ARGUMENTS
    assert graph_config_from_launch({'device': 'mps'}, use_sim=True).device == 'mps'
    assert graph_config_from_launch({'device': ''}, use_sim=True).device == 'cpu'
    for bad in ('gpu', 'cuda:x', 'CPU'):
        with pytest.raises(ValueError, match='device must be'):
            GraphConfig(device=bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_the_actor_plans_on_a_gpu_as_on_the_cpu():
    """The same plan from the same image: encode and roll out on the GPU, search on the CPU."""
    scene = load_scene('panda')
    task = load_task('reach_light')
    with ArmWorld(scene, seed=0) as world:
        rng = np.random.default_rng(0)
        start = world.reset(world.sample_configuration(rng))
        goal = world.sample_goal(rng)
        actions = []
        for device in ('cpu', 'cuda'):
            model, _ = load_checkpoint(SHIPPED, scene=scene.to_dict(), device=device)
            actor = build_actor(model, scene, world.limits, task, seed=0)
            goal_latent = actor.encode(goal.images)
            assert goal_latent.device.type == device
            action, info = actor.step(start, goal_latent)
            actions.append(action)
        np.testing.assert_allclose(actions[1], actions[0], atol=0.02)
