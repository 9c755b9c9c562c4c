"""The simulated arm: determinism, clipping, joint limits, floor, and valid reachable goals."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_ros.envs.arm_world import ArmWorld


@pytest.fixture
def world(tiny_scene):
    with ArmWorld(tiny_scene, seed=3) as w:
        yield w


def _rollout(world: ArmWorld, seed: int, steps: int = 6):
    rng = np.random.default_rng(seed)
    world.reset(seed=seed)
    goal = world.sample_goal()
    frames = [world.step(rng.uniform(-0.3, 0.3, world.scene.action_dim))[0] for _ in range(steps)]
    return goal, frames


def test_same_seed_same_world(tiny_scene):
    with ArmWorld(tiny_scene, seed=0) as a, ArmWorld(tiny_scene, seed=0) as b:
        goal_a, frames_a = _rollout(a, seed=11)
        goal_b, frames_b = _rollout(b, seed=11)
        goal_c, _ = _rollout(a, seed=12)
    np.testing.assert_array_equal(goal_a.joints, goal_b.joints)
    np.testing.assert_array_equal(goal_a.images, goal_b.images)
    for fa, fb in zip(frames_a, frames_b):
        np.testing.assert_array_equal(fa.images, fb.images)
        np.testing.assert_array_equal(fa.joints, fb.joints)
    assert not np.array_equal(goal_a.joints, goal_c.joints), 'another seed, another goal'


def test_observation_shapes(world):
    obs = world.observe()
    camera = world.scene.cameras[0]
    assert obs.images.shape == (1, camera.height, camera.width, 3)
    assert obs.images.dtype == np.uint8
    assert obs.joints.shape == (world.scene.action_dim,) and obs.joints.dtype == np.float32
    assert obs.images.std() > 5, 'the image shows something'


@pytest.mark.parametrize('scale', [-10.0, -0.5, 0.5, 10.0])
def test_large_actions_are_clipped_to_max_step(world, scale):
    before = world.joints()
    _, applied = world.step(np.full(world.scene.action_dim, scale))
    max_step = world.scene.max_step_rad
    assert np.all(np.abs(applied) <= max_step + 1e-6)
    np.testing.assert_allclose(world.joints() - before, applied, atol=1e-6)
    # Not blocked here: every joint moved by exactly the clipped amount
    np.testing.assert_allclose(np.abs(applied), min(abs(scale), max_step), atol=1e-6)


def test_joint_limits_hold(world):
    start = world.joints()
    start[0] = world.limits.upper[0] - 0.03  # near the first joint's upper limit
    world.reset(start)
    action = np.zeros(world.scene.action_dim)
    action[0] = 1.0
    for _ in range(5):
        _, applied = world.step(action)
        assert world.joints()[0] <= world.limits.upper[0] + 1e-9
    assert world.joints()[0] == pytest.approx(world.limits.upper[0])
    assert applied[0] == pytest.approx(0.0, abs=1e-6), 'at the limit the joint stops'


def test_moves_into_the_floor_are_not_executed(world):
    world.reset()
    direction = np.zeros(world.scene.action_dim)
    direction[1] = 1.0  # shoulder forward: the arm tips over toward the floor
    blocked = 0
    for _ in range(40):
        _, applied = world.step(direction)
        assert not world.touches_floor()
        blocked += not np.any(applied)
    assert blocked > 0, 'the shoulder reached the floor and was stopped there'


@pytest.mark.parametrize('bad', [np.zeros(3), np.zeros((4, 1)), np.array([0, np.nan, 0, 0])])
def test_bad_actions_are_refused(world, bad):
    with pytest.raises(ValueError, match='action'):
        world.step(bad)


def test_goals_are_valid_and_reachable(world):
    scene = world.scene
    low, high = scene.ee_height_range
    start = world.joints()
    for _ in range(20):
        goal = world.sample_goal()
        np.testing.assert_array_equal(world.joints(), start, err_msg='sampling moved the arm')
        assert low <= goal.ee_position[2] <= high
        for name, value in zip(world.joint_names, goal.joints):
            lo, hi = scene.sample_ranges[name]
            assert lo <= value <= hi
        # The goal is a state the arm can be in: setting its joints reproduces its image and pose
        obs = world.reset(goal.joints)
        np.testing.assert_array_equal(obs.images, goal.images)
        np.testing.assert_allclose(world.ee_position(), goal.ee_position, atol=1e-9)
        assert not world.touches_floor()
        world.reset(start)


def test_goals_are_reached_by_max_step_actions(world):
    """An oracle moving straight to the goal joints at the step limit gets there."""
    reached = 0
    for _ in range(10):
        world.reset()
        goal = world.sample_goal()
        for _ in range(40):
            world.move(goal.joints - world.joints())
        reached += np.linalg.norm(world.ee_position() - goal.ee_position) < 0.01
    assert reached >= 9


def test_the_render_process_renders_what_the_world_renders(world, tiny_scene):
    from jepa_ros.envs.render_process import RenderProcess

    with RenderProcess(tiny_scene) as renderer:
        for seed in (1, 2):
            joints = world.sample_configuration(np.random.default_rng(seed))
            np.testing.assert_array_equal(renderer.render(joints), world.reset(joints).images)
        with pytest.raises(ValueError, match='shape'):
            renderer.render(np.zeros(3))
    assert not renderer.running, 'closing ends the child process'
