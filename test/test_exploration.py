"""The exploration policy: bounded, smooth, covering, and validated."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_ros.data.exploration import ExplorationConfig, SmoothExploration

MAX_STEP = 0.1
LOW, HIGH = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 0.0, 3.0])


def _run(config: ExplorationConfig, steps: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    policy = SmoothExploration(config, MAX_STEP, lambda r: r.uniform(LOW, HIGH), rng)
    joints = (LOW + HIGH) / 2
    policy.reset(joints)
    actions, visited = [], []
    for _ in range(steps):
        action = policy.act(joints)
        joints = joints + action
        actions.append(action)
        visited.append(joints)
    return np.array(actions), np.array(visited)


def test_actions_stay_within_the_step_limit():
    actions, _ = _run(ExplorationConfig(noise=5.0, smoothing=0.0))
    assert np.abs(actions).max() <= MAX_STEP + 1e-12


def test_actions_are_smoother_than_white_noise():
    actions, _ = _run(ExplorationConfig())
    jerk = np.abs(np.diff(actions, axis=0)).mean()
    white = np.random.default_rng(0).uniform(-MAX_STEP, MAX_STEP, actions.shape)
    assert jerk < 0.5 * np.abs(np.diff(white, axis=0)).mean()


def test_exploration_covers_the_ranges_and_both_speeds():
    actions, visited = _run(ExplorationConfig(), steps=2000)
    span = visited.max(axis=0) - visited.min(axis=0)
    assert np.all(span > 0.7 * (HIGH - LOW)), f'visited only {span}'
    speed = np.abs(actions).max(axis=1)
    assert (speed < 0.3 * MAX_STEP).mean() > 0.05, 'some slow moves'
    assert (speed > 0.9 * MAX_STEP).mean() > 0.05, 'some full-speed moves'


def test_same_seed_same_actions():
    a, _ = _run(ExplorationConfig(), steps=50, seed=4)
    b, _ = _run(ExplorationConfig(), steps=50, seed=4)
    c, _ = _run(ExplorationConfig(), steps=50, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    'kwargs',
    [
        {'steps_per_episode': 0},
        {'segment_steps': (5, 2)},
        {'speed_range': (0.0, 1.0)},
        {'noise': -1.0},
        {'smoothing': 1.0},
    ],
)
def test_bad_config_is_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ExplorationConfig(**kwargs)
