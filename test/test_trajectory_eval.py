"""The trajectory-goal protocol on a gymnasium world: pairs from one held-out trajectory, goals
replayed exactly, success by the user's state rule; and `jepa-ros eval --trajectories` end to
end (train a tiny model on a registered test env, evaluate jepa, untrained and random)."""

from __future__ import annotations

from dataclasses import replace
import json

import numpy as np
import pytest

pytest.importorskip('gymnasium')

from jepa_ros.cli.main import main  # noqa: E402
from jepa_ros.data.collect import collect, CollectConfig  # noqa: E402
from jepa_ros.data.dataset import ExplorationDataset  # noqa: E402
from jepa_ros.data.exploration import ExplorationConfig  # noqa: E402
from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig, GymWorldError  # noqa: E402
from jepa_ros.trajectory_eval import (  # noqa: E402
    RandomGymPolicy,
    run_pair,
    SuccessRule,
    summarize_pairs,
    trajectory_pairs,
)
from jepa_ros.world_model.checkpoint import load_checkpoint  # noqa: E402

POINT = GymWorldConfig('gym_test_envs:JepaPoint-v0', 'obs.position', width=16, height=16)
OFFSET = 4


def point_data(path, seed: int, episodes: int = 6):
    config = CollectConfig(episodes=episodes, seed=seed, workers=1,
                           exploration=ExplorationConfig(steps_per_episode=6))  # fmt: skip
    collect(POINT, config, path)
    return ExplorationDataset(path)


class RecordedActions:
    """Applies the trajectory's own actions from the start: it must land on the goal."""

    def __init__(self, data: ExplorationDataset, episode: int, start: int) -> None:
        frames = np.flatnonzero(data.get('episode') == episode)
        self.actions = list(data.get('actions', frames)[start:])

    def reset(self, goal_images) -> None:
        pass

    def act(self, now):
        return self.actions.pop(0), {}


def test_pairs_replay_exactly_and_the_rule_judges_the_end_of_the_budget(tmp_path):
    data = point_data(tmp_path / 'heldout', seed=7)
    pairs = trajectory_pairs(data, OFFSET, 5, seed=0)
    assert len(set(pairs)) == 5
    steps = data.get('step')
    assert all(p.start + OFFSET <= steps[data.get('episode') == p.episode].max() for p in pairs)
    rule = SuccessRule('obs.position', 0.01)
    with GymWorld(POINT) as world:
        replayed = [run_pair(world, data, RecordedActions(data, p.episode, p.start), p, OFFSET,
                             OFFSET, rule) for p in pairs]  # fmt: skip
        random = [run_pair(world, data, RandomGymPolicy(world.action_low, world.action_high, 0),
                           p, OFFSET, OFFSET, rule) for p in pairs]  # fmt: skip
    assert summarize_pairs(replayed, rule)['success_rate'] == 1.0
    assert all(r.errors[-1] < 1e-9 and r.errors[0] > 0.01 for r in replayed)
    summary = summarize_pairs(random, rule)
    assert summary['success_rate'] < 1.0 and summary['episodes'] == 5
    with pytest.raises(GymWorldError, match='has 0 frames with a frame 7 steps later'):
        trajectory_pairs(data, 7, 1, seed=0)  # episodes of 7 frames


def test_angles_wrap_and_a_bad_rule_is_refused():
    rule = SuccessRule('qpos[0:2]', 0.05, angles=True)
    assert rule.error(np.array([np.pi - 0.01, 0.0]), np.array([-np.pi + 0.01, 0.0])) == (
        pytest.approx(0.02)
    )
    assert SuccessRule('qpos[0:2]', 0.05).error(np.array([3.13]), np.array([-3.13])) > 6
    with pytest.raises(GymWorldError, match='tolerance must be > 0'):
        SuccessRule('obs', 0.0)
    with pytest.raises(GymWorldError, match='write obs'):
        SuccessRule('position', 0.1)


def test_eval_trajectories_end_to_end_with_baselines(tmp_path, capsys):
    point_data(tmp_path / 'train', seed=0, episodes=8)
    point_data(tmp_path / 'heldout', seed=1)
    run = tmp_path / 'run'
    train = ['train', '--data', str(tmp_path / 'train'), '--out', str(run), '--encoder-steps',
             '4', '--predictor-steps', '4', '--batch-size', '8', '--predictor-batch-size', '8',
             '--latent-dim', '8', '--rollout-steps', '2', '--spatial-features', '4',
             '--channels', '16']  # fmt: skip
    assert main(train) == 0, capsys.readouterr().err
    config = load_checkpoint(run / 'model.pt')[0].config  # the architecture flags reach the model
    assert (config.latent_dim, config.spatial_features, config.channels) == (8, 4, 16)
    probed = tmp_path / 'probe.json'
    assert main(['probe', '--checkpoint', str(run / 'model.pt'), '--data',
                 str(tmp_path / 'heldout'), '--json', str(probed)]) == 0  # fmt: skip
    metrics = json.loads(probed.read_text())
    assert metrics['ee_r2'] is None and len(metrics['joint_r2']) == 2, 'the proprio vector'
    out = tmp_path / 'eval.json'
    base = ['eval', '--checkpoint', str(run / 'model.pt'), '--trajectories',
            str(tmp_path / 'heldout'), '--goal-offset', str(OFFSET), '--budget', '5',
            '--episodes', '4', '--samples', '20', '--iterations', '1',
            '--json', str(out)]  # fmt: skip
    rule = ['--success', 'obs.position', '--tolerance', '0.05']
    assert main([*base, *rule, '--policies', 'jepa', 'untrained', 'random']) == 0
    report = json.loads(out.read_text())
    assert report['protocol'] == 'trajectory_goal' and report['goal_offset'] == OFFSET
    assert set(report['baselines']) == {'untrained', 'random'} and report['episodes'] == 4
    assert report['plan_ms_p50'] > 0 and report['encode_ms_p50'] > 0
    assert 0.0 <= report['success_rate'] <= 1.0 and out.with_suffix('.png').stat().st_size > 1000
    assert main([*base, *rule, '--policies', 'jepa', '--goal-proprio', '0:1']) == 0
    assert json.loads(out.read_text())['goal_proprio'] == [0, 1]
    capsys.readouterr()
    # Bad input: one line each
    assert main([*base, '--policies', 'jepa']) == 2
    assert 'needs a success rule' in capsys.readouterr().err
    assert main([*base, *rule, '--policies', 'oracle']) == 2
    assert 'not' in capsys.readouterr().err
    other = GymWorldConfig('gym_test_envs:JepaPoint-v0', 'info.sensed', width=16, height=16)
    collect(other, CollectConfig(episodes=2, seed=3, workers=1,
                                 exploration=ExplorationConfig(steps_per_episode=6)),
            tmp_path / 'other')  # fmt: skip
    base[base.index('--trajectories') + 1] = str(tmp_path / 'other')
    assert main([*base, *rule]) == 2
    assert 'made for another world: proprio' in capsys.readouterr().err


def test_the_goal_energy_weighs_the_chosen_proprio_components_and_actions_stay_in_the_box():
    import torch

    from jepa_ros.cost.cost import CostConfig
    from jepa_ros.envs.gym_world import GymStep
    from jepa_ros.planning.planners import PlannerConfig
    from jepa_ros.trajectory_eval import LatentGoalPolicy
    from jepa_ros.world_model.config import WorldModelConfig
    from jepa_ros.world_model.model import WorldModel

    torch.manual_seed(0)
    config = WorldModelConfig(image_height=16, image_width=16, action_dim=2, max_step_rad=1.0,
                              latent_dim=12, proprio_dim=4)  # fmt: skip
    model = WorldModel(config).eval()
    low, high = np.array([-1.0, -0.5]), np.array([1.0, 0.5])
    planner = PlannerConfig(horizon=3, samples=16, iterations=1, elites=4)
    policy = LatentGoalPolicy(model, 'cem', planner, CostConfig(learned_weight=0.0), low, high,
                              goal_proprio=slice(0, 2))  # fmt: skip
    assert policy.weights.tolist() == [1, 1, 0, 0] + [0] * 8
    images = np.zeros((1, 16, 16, 3), np.uint8)
    policy.reset(images)
    for _ in range(5):
        action, info = policy.act(GymStep(images, np.zeros(4)))
        assert np.all(action >= low) and np.all(action <= high) and info['goal_energy'] == 0.0
    with pytest.raises(GymWorldError, match='selects no proprio component'):
        LatentGoalPolicy(model, 'cem', planner, CostConfig(), low, high, slice(4, 6))


def test_the_rest_weight_makes_a_torque_driven_arm_settle_on_the_goal():
    """A world model whose latent is (position, velocity) of a double integrator driven by its
    action (a torque): planning on the position alone arrives moving and overshoots the goal by
    a third of the way; with `rest_weight` the same planner also weighs the motion at the
    horizon's end and brakes in time."""
    import torch

    from jepa_ros.cost.cost import CostConfig
    from jepa_ros.envs.gym_world import GymStep
    from jepa_ros.planning.planners import PlannerConfig
    from jepa_ros.trajectory_eval import LatentGoalPolicy
    from jepa_ros.world_model.config import WorldModelConfig
    from jepa_ros.world_model.model import WorldModel

    dt, damping = 0.1, 0.0

    def step(state: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:  # (..., 4), (..., 1)
        velocity = (1 - damping) * state[..., 1:2] + dt * torque
        return torch.cat([state[..., 0:1] + dt * velocity, velocity, state[..., 2:]], dim=-1)

    class DoubleIntegrator(WorldModel):
        seen = torch.zeros(4)  # what the camera shows: the state itself

        def encode(self, images: torch.Tensor) -> torch.Tensor:
            return self.seen[None].clone()

        def rollout(self, latent: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
            states = []
            for t in range(actions.shape[1]):
                latent = step(latent, actions[:, t])
                states.append(latent)
            return torch.stack(states, dim=1)

    config = WorldModelConfig(image_height=16, image_width=16, action_dim=1, latent_dim=4,
                              proprio_dim=2)  # fmt: skip
    model = DoubleIntegrator(config).eval()
    planner = PlannerConfig(horizon=3, samples=200, iterations=3, elites=20, seed=0)
    low, high = np.array([-2.0]), np.array([2.0])

    images = np.zeros((1, 16, 16, 3), np.uint8)

    def run(rest_weight: float) -> float:
        """How far past the goal the arm went."""
        policy = LatentGoalPolicy(model, 'cem', planner, CostConfig(), low, high,
                                  goal_proprio=slice(0, 1), rest_weight=rest_weight)  # fmt: skip
        model.seen = torch.tensor([1.0, 0.0, 0.0, 0.0])  # the goal: at position 1
        policy.reset(images)
        model.seen, farthest = torch.zeros(4), 0.0
        for _ in range(40):
            action, _ = policy.act(GymStep(images, np.zeros(2)))
            model.seen = step(model.seen, torch.tensor(action, dtype=torch.float32))
            farthest = max(farthest, float(model.seen[0]))
        assert abs(float(model.seen[0]) - 1.0) < 0.02  # both get there in the end
        return farthest - 1.0

    assert run(0.0) > 0.2
    assert run(5.0) < 0.02
    with pytest.raises(GymWorldError, match='horizon of 2'):
        LatentGoalPolicy(model, 'cem', replace(planner, horizon=1), CostConfig(), low, high,
                         rest_weight=1.0)  # fmt: skip
