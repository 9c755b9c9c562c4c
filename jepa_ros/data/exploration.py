"""Random, smooth exploration: the only behaviour the world model ever learns from.

The policy wanders between random waypoints drawn from the scene's sample ranges, at a random
speed per segment, with low-pass filtered noise on top, so episodes cover the workspace, contain
both slow and full-speed moves, and never jerk. Glossary: A action dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from jepa_ros.envs.arm_world import ArmWorld


@dataclass(frozen=True)
class ExplorationConfig:
    """How exploration episodes are generated."""

    steps_per_episode: int = field(default=50, metadata={'help': 'actions per episode'})
    segment_steps: tuple[int, int] = field(
        default=(6, 20), metadata={'help': 'a new waypoint every [min, max] steps'}
    )
    speed_range: tuple[float, float] = field(
        default=(0.2, 1.0), metadata={'help': 'segment speed, as a fraction of the max step'}
    )
    noise: float = field(
        default=0.35, metadata={'help': 'std of the action noise, as a fraction of the max step'}
    )
    smoothing: float = field(
        default=0.6, metadata={'help': 'low-pass factor on actions in [0, 1); 0 = no smoothing'}
    )
    action_scale: tuple[float, float] = field(
        default=(1.0, 1.0),
        metadata={'help': "gymnasium worlds: each episode's uniform random actions span this "
                  'fraction of the Box around its centre, drawn log-uniformly per episode '
                  '(small ones: slow motion, as near a goal)'},
    )  # fmt: skip

    def __post_init__(self) -> None:
        if self.steps_per_episode < 1:
            raise ValueError(f'steps_per_episode must be >= 1, got {self.steps_per_episode}')
        lo, hi = self.segment_steps
        if not 1 <= lo <= hi:
            raise ValueError(f'segment_steps must be 1 <= min <= max, got {self.segment_steps}')
        lo, hi = self.speed_range
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f'speed_range must be 0 < min <= max <= 1, got {self.speed_range}')
        if self.noise < 0.0:
            raise ValueError(f'noise must be >= 0, got {self.noise}')
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f'smoothing must be in [0, 1), got {self.smoothing}')
        lo, hi = self.action_scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f'action_scale must be 0 < min <= max <= 1, got {self.action_scale}')


class SmoothExploration:
    """Waypoint-following random policy. `reset(joints)` then `act(joints) -> action (A,)`.

    `sample_waypoint(rng) -> (A,)` comes in from the caller (the world's configuration sampler
    or the sample ranges), so the policy itself knows nothing about the simulator.
    """

    def __init__(
        self,
        config: ExplorationConfig,
        max_step: float,
        sample_waypoint: Callable[[np.random.Generator], np.ndarray],
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.max_step = max_step
        self.sample_waypoint = sample_waypoint
        self.rng = rng
        self._previous: np.ndarray | None = None
        self._waypoint: np.ndarray | None = None
        self._speed = 1.0
        self._steps_left = 0

    def reset(self, joints: np.ndarray) -> None:
        self._previous = np.zeros_like(joints, dtype=np.float64)
        self._steps_left = 0

    def act(self, joints: np.ndarray) -> np.ndarray:
        """Next joint delta (A,) toward the current waypoint, within ±max_step."""
        cfg = self.config
        if self._previous is None:
            self.reset(joints)
        if self._steps_left <= 0:  # New segment: waypoint and speed
            self._waypoint = self.sample_waypoint(self.rng)
            self._speed = self.rng.uniform(*cfg.speed_range) * self.max_step
            self._steps_left = int(
                self.rng.integers(cfg.segment_steps[0], cfg.segment_steps[1] + 1)
            )
        self._steps_left -= 1
        # Head for the waypoint at the segment's speed, plus noise
        direction = self._waypoint - joints  # (A,)
        norm = np.max(np.abs(direction))
        drive = direction * min(1.0, self._speed / norm) if norm > 1e-9 else direction
        noise = self.rng.normal(0.0, cfg.noise * self.max_step, size=joints.shape)
        # Low-pass filter, then respect the step limit
        action = cfg.smoothing * self._previous + (1.0 - cfg.smoothing) * (drive + noise)
        action = np.clip(action, -self.max_step, self.max_step)
        self._previous = action
        return action


def arm_episode(
    world: ArmWorld, exploration: ExplorationConfig, seed: int, episode: int
) -> dict[str, np.ndarray]:
    """One exploration episode: steps+1 frames of every array in the dataset format."""
    rng = np.random.default_rng([seed, episode])
    observation = world.reset(world.sample_configuration(rng))
    policy = SmoothExploration(
        exploration, world.scene.max_step_rad, world.sample_configuration, rng
    )
    policy.reset(observation.joints)
    frames = exploration.steps_per_episode + 1
    images, joints, ee = [observation.images], [observation.joints], [world.ee_position()]
    actions = np.zeros((frames, world.scene.action_dim), dtype=np.float32)
    for t in range(exploration.steps_per_episode):
        observation, actions[t] = world.step(policy.act(world.joints()))
        images.append(observation.images)
        joints.append(observation.joints)
        ee.append(world.ee_position())
    return {
        'images': np.stack(images),
        'joints': np.stack(joints),
        'actions': actions,
        'episode': np.full(frames, episode, dtype=np.int32),
        'step': np.arange(frames, dtype=np.int32),
        'ee_position': np.stack(ee).astype(np.float32),
    }
