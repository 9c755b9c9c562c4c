"""Small gymnasium environments registered on import, for `gymnasium:gym_test_envs:ID` (the
"module:EnvId" form a third-party package uses). Each is a point that moves by its action."""

from __future__ import annotations

import gymnasium
from gymnasium import spaces
import numpy as np


class Point(gymnasium.Env):
    """A point in [-1, 1]^2 moved by a Box action; a Dict observation and an info vector."""

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 10}

    def __init__(self, render_mode=None, action_space=None, size=24):
        self.render_mode = render_mode
        self.size = size
        self.action_space = action_space or spaces.Box(-0.2, 0.2, (2,), np.float32)
        self.observation_space = spaces.Dict({
            'position': spaces.Box(-1, 1, (2,), np.float64),
            'velocity': spaces.Box(-1, 1, (2,), np.float64),
        })  # fmt: skip
        self.position = np.zeros(2)

    def _result(self, velocity):
        observation = {'position': self.position.copy(), 'velocity': velocity}
        return observation, {'sensed': np.concatenate([self.position, [1.0]])}

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.position = self.np_random.uniform(-1, 1, 2)
        return self._result(np.zeros(2))

    def step(self, action):
        move = np.asarray(action, np.float64) if self.action_space.shape else np.zeros(2)
        self.position = np.clip(self.position + move, -1, 1)
        observation, info = self._result(move)
        return observation, 0.0, False, False, info

    def render(self):
        image = np.zeros((self.size, self.size, 3), np.uint8)
        x, y = ((self.position + 1) / 2 * (self.size - 1)).round().astype(int)
        image[y, x] = 255
        return image


class DiscretePoint(Point):
    def __init__(self, render_mode=None):
        super().__init__(render_mode, spaces.Discrete(3))


class UnseenPoint(Point):
    metadata = {'render_modes': ['human'], 'render_fps': 10}


gymnasium.register('JepaPoint-v0', entry_point=Point, max_episode_steps=6)
gymnasium.register('JepaDiscretePoint-v0', entry_point=DiscretePoint)
gymnasium.register('JepaUnseenPoint-v0', entry_point=UnseenPoint)
