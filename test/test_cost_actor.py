"""Cost terms, the actor's hard limits, and the evaluation bookkeeping."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from jepa_ros.actor import Actor
from jepa_ros.configurator import MonitorConfig, Retreat, RetreatConfig, TaskMonitor
from jepa_ros.cost import CostConfig, TrajectoryCost
from jepa_ros.cost.cost import traced_terms
from jepa_ros.envs.arm_world import ArmWorld, Observation
from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.evaluation import EpisodeResult, JepaPolicy, run_episode, summarize
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import ActorMode, PolicyConfig, ReactivePolicy
from jepa_ros.planning import CEMPlanner, PlannerConfig
from jepa_ros.planning.fine import gauss_newton_step
from jepa_ros.world_model import WorldModel, WorldModelConfig


@pytest.fixture
def parts(tiny_scene):
    torch.manual_seed(0)
    config = WorldModelConfig(image_height=32, image_width=32, latent_dim=16, channels=8,
                              keypoints=4, encoder_hidden=16, proprio_dim=7, proprio_hidden=16,
                              predictor_hidden=16, predictor_layers=2)  # fmt: skip
    model = WorldModel(config).eval()
    kinematics = ForwardKinematics(
        tiny_scene.urdf(), tiny_scene.controlled_joints, [tiny_scene.ee_link], tiny_scene.home
    )
    with ArmWorld(tiny_scene) as world:
        limits = world.limits
        observation = world.reset()
    cost = TrajectoryCost(model, kinematics, torch.from_numpy(limits.lower),
                          torch.from_numpy(limits.upper), CostConfig(),
                          ee_dims=(4, 5, 6))  # fmt: skip
    return model, cost, limits, observation


def test_guardrail_costs_are_zero_inside_and_grow_outside(parts):
    _, cost, limits, observation = parts
    home = torch.from_numpy(observation.joints)
    still = torch.zeros(1, 3, 4)
    inside = cost.guardrail_terms(home, still)
    assert float(inside['joint_limits']) == 0.0 and float(inside['clearance']) == 0.0
    # Push the first joint toward, then past, its upper limit
    violations = []
    for overshoot in (0.0, 0.1, 0.3):
        joints = home.clone()
        joints[0] = float(limits.upper[0]) + overshoot
        violations.append(float(cost.guardrail_terms(joints, still)['joint_limits']))
    assert 0.0 < violations[0] < violations[1] < violations[2]
    # Shoulder far forward and elbow straight: the end-effector goes below the floor line
    low = home.clone()
    low[1], low[2] = 1.8, -0.3
    assert float(cost.guardrail_terms(low, still)['clearance']) > 0.0


def test_cost_reports_each_term(parts):
    model, cost, _, observation = parts
    latent, goal = torch.zeros(16), torch.ones(16)
    actions = torch.zeros(5, 3, 4)
    total, terms = cost(latent, goal, torch.from_numpy(observation.joints), actions)
    assert tuple(terms) == TrajectoryCost.TERMS
    torch.testing.assert_close(total, sum(terms.values()))
    assert total.shape == (5,)


def test_traced_cost_matches_the_eager_cost_for_any_batch_and_gradient(parts):
    model, cost, limits, observation = parts
    generator = torch.Generator().manual_seed(1)
    latent, goal = torch.randn(16, generator=generator), torch.randn(16, generator=generator)
    traced = traced_terms(cost, horizon=3, action_dim=4)  # traced with 2 samples
    # At the limits too, where the guardrail terms are active
    for joints in (observation.joints, limits.upper + 0.2):
        joints = torch.as_tensor(joints, dtype=torch.float32)
        for samples in (1, 5, 64):
            actions = torch.randn(samples, 3, 4, generator=generator) * 0.3
            with torch.no_grad():
                total, terms = cost(latent, goal, joints, actions)
                rows = traced(latent, goal, joints, actions)
            assert rows.shape == (len(TrajectoryCost.TERMS), samples)
            torch.testing.assert_close(rows, torch.stack([terms[n] for n in cost.TERMS]))
            torch.testing.assert_close(rows.sum(0), total)
        assert float(rows[1].abs().sum()) > 0, 'the joint-limit term was active'
    # Differentiable in the actions, like the eager cost (gradient refinement)
    actions = (torch.randn(1, 3, 4, generator=generator) * 0.1).requires_grad_(True)
    (eager,) = torch.autograd.grad(cost(latent, goal, joints, actions)[0].sum(), actions)
    (trace,) = torch.autograd.grad(traced(latent, goal, joints, actions).sum(), actions)
    torch.testing.assert_close(trace, eager)
    assert float(eager.abs().sum()) > 0


def test_traced_and_eager_actors_plan_the_same(parts):
    model, cost, limits, observation = parts
    goal = torch.ones(16)
    actions = [
        Actor(model, CEMPlanner(PlannerConfig(horizon=3, samples=32, elites=4, seed=7), 4),
              cost, limits, trace=trace).step(observation, goal)[0]
        for trace in (True, False)
    ]  # fmt: skip
    np.testing.assert_array_equal(actions[0], actions[1])


@pytest.mark.parametrize('kw', [{'distance': 'l3'}, {'reduction': 'max'}, {'goal_weight': -1}])
def test_bad_cost_config_is_refused(kw):
    with pytest.raises(ValueError):
        CostConfig(**kw)


def test_actor_never_leaves_the_limits(parts):
    model, cost, limits, observation = parts
    # A planner allowed 50x the step limit, starting right at the joint limits
    planner = CEMPlanner(PlannerConfig(horizon=2, samples=16, elites=4, iterations=1,
                                       action_limit=5.0), action_dim=4)  # fmt: skip
    actor = Actor(model, planner, cost, limits)
    rng = np.random.default_rng(0)
    for corner in (limits.lower, limits.upper, (limits.lower + limits.upper) / 2):
        obs = Observation(images=observation.images, joints=corner.astype(np.float32))
        goal = torch.from_numpy(rng.normal(size=16).astype(np.float32)) * 10
        action, info = actor.step(obs, goal)
        assert np.all(np.abs(action) <= limits.max_step + 1e-9)
        target = corner.astype(np.float32) + action
        assert np.all(target >= limits.lower - 1e-6) and np.all(target <= limits.upper + 1e-6)
        assert info['plan_ms'] > 0 and 'cost_goal' in info and 'goal_energy' in info


def test_actor_is_deterministic_for_a_seed(parts):
    model, cost, limits, observation = parts
    goal = torch.ones(16)
    actions = []
    for _ in range(2):
        planner = CEMPlanner(PlannerConfig(horizon=3, samples=32, elites=4, seed=7), 4)
        actions.append(Actor(model, planner, cost, limits).step(observation, goal)[0])
    np.testing.assert_array_equal(actions[0], actions[1])


def test_joint_limits_clip():
    limits = JointLimits(np.array([-1.0, -1.0]), np.array([1.0, 1.0]), max_step=0.1)
    np.testing.assert_allclose(limits.clip(np.array([5.0, -5.0]), np.zeros(2)), [0.1, -0.1])
    np.testing.assert_allclose(limits.clip(np.array([0.1, 0.0]), np.array([0.95, 0.0])), [0.05, 0])
    with pytest.raises(ValueError):
        JointLimits(np.array([1.0]), np.array([-1.0]), 0.1)


def test_summary_of_episodes():
    hit = EpisodeResult(distances=[0.3, 0.1, 0.04, 0.02], infos=[{'plan_ms': 10.0}] * 3)
    miss = EpisodeResult(distances=[0.3, 0.2, 0.04, 0.06], infos=[{'plan_ms': 30.0}] * 3)
    precise = EpisodeResult(distances=[0.3, 0.1, 0.019], infos=[{'plan_ms': 20.0}] * 2)
    assert summarize([hit, miss, precise])['success_rate_2cm'] == pytest.approx(1 / 3)
    summary = summarize([hit, miss])
    assert summary['success_rate'] == 0.5 and summary['success_rate_2cm'] == 0.0
    assert summary['median_steps_to_success'] == 2.0
    assert summary['median_final_distance_m'] == pytest.approx(0.04)
    assert summary['plan_ms_p50'] == 20.0 and summary['episodes'] == 2


def test_joint_limits_from_the_scene_urdf_match_the_simulator(tiny_scene):
    limits = JointLimits.from_scene(tiny_scene)
    with ArmWorld(tiny_scene) as world:
        np.testing.assert_allclose(limits.lower, world.limits.lower)
        np.testing.assert_allclose(limits.upper, world.limits.upper)
        assert limits.max_step == world.limits.max_step == tiny_scene.max_step_rad


def constant_policy(action: np.ndarray, horizon: int = 3) -> ReactivePolicy:
    """A mode-1 policy that proposes `action` (A,) at every step, whatever the latents."""
    policy = ReactivePolicy(PolicyConfig(latent_dim=16, action_dim=4, horizon=horizon))
    last = policy.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(
            torch.atanh(torch.as_tensor(action, dtype=torch.float32) / 0.1).repeat(horizon)
        )
    return policy.eval()


def mode_actor(parts, mode: str, policy=None, samples: int = 32) -> Actor:
    model, cost, limits, _ = parts
    config = PlannerConfig(horizon=3, samples=samples, elites=min(4, samples), seed=7,
                           action_limit=0.1)  # fmt: skip
    return Actor(model, CEMPlanner(config, 4), cost, limits, policy=policy,
                 mode=ActorMode(mode))  # fmt: skip


def test_each_actor_mode_serves_the_tick_it_says(parts):
    model, _, _, observation = parts
    step = np.array([0.05, -0.03, 0.0, 0.02])
    policy = constant_policy(step)
    latent = torch.zeros(16)
    # mode1: the policy's first action, no planning
    action, info = mode_actor(parts, 'mode1', policy).act(latent, observation.joints, latent)
    np.testing.assert_allclose(action, step, atol=1e-6)
    assert info['mode'] == 'mode1'
    # mode1_checked: taken where the model predicts it lowers the goal energy ...
    toward = model.predict(latent[None], torch.from_numpy(step).float()[None])[0]
    checked = mode_actor(parts, 'mode1_checked', policy)
    action, info = checked.act(latent, observation.joints, toward)
    assert info['mode'] == 'mode1'
    np.testing.assert_allclose(action, step, atol=1e-6)
    # ... else mode-2 plans the tick (at the goal already: any step raises the energy)
    action, info = checked.act(latent, observation.joints, latent)
    assert info['mode'] == 'mode2' and 'cost_goal' in info
    # mode2_warm: the search starts from the policy's sequence (one sample: the mean itself)
    warm = mode_actor(parts, 'mode2_warm', policy, samples=1)
    action, info = warm.act(latent, observation.joints, toward)
    assert info['mode'] == 'mode2_warm'
    np.testing.assert_allclose(action, step, atol=1e-6)
    cold, info = mode_actor(parts, 'mode2', samples=1).act(latent, observation.joints, toward)
    assert info['mode'] == 'mode2' and np.allclose(cold, 0.0)
    with pytest.raises(ValueError, match='needs a mode-1 policy'):
        mode_actor(parts, 'mode1_checked')


def test_mode1_checked_plans_after_a_policy_step_that_did_not_lower_the_measured_energy(parts):
    """The model predicts the policy's step lowers the energy, but the last mode-1 step left a
    lower energy than the camera now measures: mode-2 plans this tick; after a reset, mode-1."""
    model, _, _, observation = parts
    step = np.array([0.05, -0.03, 0.0, 0.02])
    latent = torch.zeros(16)
    toward = model.predict(latent[None], torch.from_numpy(step).float()[None])[0]
    farther = latent + 2 * (toward - latent)  # the step is predicted to halve the way there
    checked = mode_actor(parts, 'mode1_checked', constant_policy(step))
    _, info = checked.act(latent, observation.joints, toward)
    assert info['mode'] == 'mode1'
    _, info = checked.act(latent, observation.joints, farther)  # measured energy went up
    assert info['goal_energy'] > checked.goal_energy(latent, toward)
    assert checked._lowers(latent, farther, step, info['goal_energy']), 'the model still agrees'
    assert info['mode'] == 'mode2'
    checked.reset()
    _, info = checked.act(latent, observation.joints, farther)
    assert info['mode'] == 'mode1'
    # ... and a mode-1 step that did lower it keeps mode-1 serving
    _, info = checked.act(latent, observation.joints, toward)
    assert info['mode'] == 'mode1'


class LinearModel:
    """A world model whose prediction is exactly linear in the action: s + a B^T."""

    def __init__(self, b: torch.Tensor) -> None:
        self.b = b  # (D, A)

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent + action @ self.b.T


def test_fine_step_solves_a_linear_predictor_within_its_bounds():
    torch.manual_seed(3)
    b = torch.randn(6, 3)
    latent, wanted = torch.randn(6), torch.tensor([0.01, -0.02, 0.015])
    goal = latent + b @ wanted
    weights = torch.tensor([1.0, 1.0, 4.0, 4.0, 1.0, 0.0])
    model = LinearModel(b)
    step = gauss_newton_step(model, latent, goal, weights, 3, 1.0, 0.0, 1.0)
    torch.testing.assert_close(step, wanted, atol=1e-4, rtol=0)  # the exact solution
    half = gauss_newton_step(model, latent, goal, weights, 3, 0.5, 0.0, 1.0)
    torch.testing.assert_close(half, wanted / 2, atol=1e-4, rtol=0)
    capped = gauss_newton_step(model, latent, goal, weights, 3, 1.0, 0.0, 0.012)
    torch.testing.assert_close(capped, torch.tensor([0.01, -0.012, 0.012]), atol=1e-4, rtol=0)
    # A dim of zero weight does not pull the step
    off = goal.clone()
    off[5] += 5.0
    torch.testing.assert_close(gauss_newton_step(model, latent, off, weights, 3, 1.0, 0.0, 1.0),
                               wanted, atol=1e-4, rtol=0)  # fmt: skip


def test_the_fine_stage_serves_ticks_near_the_goal_unless_a_guardrail_objects(parts):
    model, cost, limits, observation = parts
    config = PlannerConfig(horizon=3, samples=32, elites=4, seed=7, action_limit=0.1)
    mode = ActorMode('mode2', fine_energy=1.0, fine_gain=1.0, fine_max_step_rad=0.05)
    actor = Actor(model, CEMPlanner(config, 4), cost, limits, mode=mode)
    latent = torch.zeros(16)
    wanted = np.array([0.01, -0.01, 0.0, 0.005])
    with torch.no_grad():
        goal = model.predict(latent[None], torch.from_numpy(wanted).float()[None])[0]
    action, info = actor.act(latent, observation.joints, goal)
    assert info['mode'] == 'fine' and 'cost_goal' not in info
    # the step lowers the predicted energy to near zero (far below doing nothing)
    with torch.no_grad():
        after = model.predict(latent[None], torch.from_numpy(action).float()[None])[0]
    assert actor.goal_energy(after, goal) < 0.05 * actor.goal_energy(latent, goal)
    # far from the goal (energy above fine_energy) mode-2 plans
    far = replace(mode, fine_energy=1e-9)
    actor_far = Actor(model, CEMPlanner(config, 4), cost, limits, mode=far)
    assert actor_far.act(latent, observation.joints, goal)[1]['mode'] == 'mode2'
    # a joint inside the cost's limit margin: the guardrail terms object, mode-2 plans
    near_limit = observation.joints.copy()
    near_limit[0] = limits.lower[0] + 0.01
    action, info = actor.act(latent, near_limit, goal)
    assert info['mode'] == 'mode2' and 'cost_goal' in info
    assert np.all(near_limit + action >= limits.lower - 1e-9)


@pytest.mark.parametrize('kw', [{'fine_energy': -1.0}, {'fine_gain': 0.0}, {'fine_gain': 1.5},
                                {'fine_damping': -1.0}, {'fine_max_step_rad': 0.0}])  # fmt: skip
def test_bad_fine_stage_settings_are_refused(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        ActorMode(**kw)


def test_a_stalled_reach_retreats_home_without_the_monitor_counting_those_ticks(parts, tiny_scene):
    """JepaPolicy with a Retreat: the ticks toward home are mode `retreat`, the monitor counts
    none of them, and the goal's patience starts anew when the reach turns back to the goal."""
    model, _, _, _ = parts
    actor = mode_actor(parts, 'mode2', samples=8)
    # Any tick without a 99% fall is a stall; home is never "reached": 3 ticks toward it
    retreat = Retreat(RetreatConfig(stall_ticks=1, min_progress=0.99, min_energy=1e-9,
                                    home_energy=1e-12, max_ticks=3))  # fmt: skip
    monitor = TaskMonitor(MonitorConfig(success_energy=1e-12, patience_ticks=4))
    with ArmWorld(tiny_scene) as world:
        home = actor.encode(world.reset().images)
        goal = world.sample_goal(np.random.default_rng(0))
        policy = JepaPolicy(actor, monitor, retreat, home)
        result = run_episode(world, policy, world.sample_configuration(
            np.random.default_rng(1)), goal, 12)  # fmt: skip
    modes = [i.get('mode') for i in result.infos]
    assert modes[:5] == ['mode2', 'retreat', 'retreat', 'retreat', 'mode2'], modes
    assert all('goal_energy' in i for i in result.infos)
    # Back at the goal (tick 5) with a fresh patience of 4: given up after tick 9, not tick 5
    outcomes = [i['outcome'] for i in result.infos]
    assert outcomes[4:8] == ['reaching'] * 4 and outcomes[-1] == 'gave_up', outcomes
    with pytest.raises(ValueError, match='home latent'):
        JepaPolicy(actor, monitor, retreat, None)
