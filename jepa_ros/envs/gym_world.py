"""A gymnasium environment as a world to learn from: pixels, a Box action, a named proprio vector.

Any environment with `render_mode="rgb_array"` and a Box action space will do, including
third-party ones registered through gymnasium's `"module:EnvId"` form (the module is imported,
which registers the id). The user names the proprioceptive vector, the cross-modal training
target where no URDF exists:

    obs              the (Box) observation, flattened
    obs[0:4]         a slice of it
    obs.KEY          a key of a Dict observation (obs.KEY[1:3]: a slice of it)
    info.KEY         a key of the `info` dict of reset() and step() (info.KEY[0:2])
    qpos[0:2]        a MuJoCo env's joint positions (`env.unwrapped.data.qpos`; also qvel),
                     e.g. for a success rule in state space

Images are the env's rgb_array frames (the size is asked of the env where it takes width and
height, as MuJoCo envs do, else the frame is centre-cropped and resized); with `stack` k > 1 an
observation is the last k frames, oldest first, as k views (so one observation shows motion,
which a torque-driven env needs; after a reset the first frame stands in for the older ones).
Actions are clipped to
the Box bounds. Nothing here imports gymnasium until a world is made: it is an optional extra
(`pip install '.[gym]'`). MuJoCo renders off-screen with `MUJOCO_GL=egl` (the default set here).

Glossary: H x W image size, A action dim, P proprio dim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
import os
import re
from typing import Any

import numpy as np

ENV_PREFIX = 'gymnasium:'
_SELECTOR = re.compile(r'^(obs|info|qpos|qvel)(?:\.([A-Za-z_][\w]*))?(?:\[(-?\d*):(-?\d*)\])?$')


class GymWorldError(ValueError):
    """An environment jepa_ros cannot learn from, or a proprio vector it does not have."""


@dataclass(frozen=True)
class ProprioSelector:
    """Where the proprioceptive vector is: `obs` or `info`, an optional key, an optional slice."""

    text: str
    parts: tuple[str, str | None, slice | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        match = _SELECTOR.match(self.text.replace(' ', ''))
        if match is None:
            raise GymWorldError(
                f'proprio {self.text!r}: write obs, obs[a:b], obs.KEY, obs.KEY[a:b], info.KEY, '
                'info.KEY[a:b] or (MuJoCo) qpos[a:b], qvel[a:b]'
            )
        if match[1] == 'info' and not match[2]:
            raise GymWorldError(f'proprio {self.text!r}: name a key of info (info.KEY)')
        if match[1] in ('qpos', 'qvel') and match[2]:
            raise GymWorldError(f'proprio {self.text!r}: {match[1]} has no keys')
        source, key, start, stop = match.groups()
        part = None if start is None else slice(int(start) if start else None,
                                                 int(stop) if stop else None)  # fmt: skip
        object.__setattr__(self, 'parts', (source, key, part))  # parsed once, read every step

    def __call__(self, observation: Any, info: Mapping[str, Any], env: Any = None) -> np.ndarray:
        """The vector (P,) float64 of one reset() or step() result (`env`: for qpos/qvel)."""
        source, key, part = self.parts
        if source in ('qpos', 'qvel'):
            data = getattr(getattr(env, 'unwrapped', None), 'data', None)
            if data is None or not hasattr(data, source):
                raise GymWorldError(f'proprio {self.text!r}: the env is not a MuJoCo env')
            value = getattr(data, source)
        else:
            value = observation if source == 'obs' else info
        if key is not None:
            if not isinstance(value, Mapping) or key not in value:
                keys = sorted(value) if isinstance(value, Mapping) else 'none: not a dict'
                raise GymWorldError(f'proprio {self.text!r}: {source} has no key {key!r} '
                                    f'(its keys: {keys})')  # fmt: skip
            value = value[key]
        elif isinstance(value, Mapping):
            raise GymWorldError(f'proprio {self.text!r}: the observation is a Dict (keys '
                                f'{sorted(value)}); name one: obs.KEY')  # fmt: skip
        try:
            vector = np.array(value, dtype=np.float64).ravel()  # a copy: qpos is live
        except (TypeError, ValueError):
            raise GymWorldError(f'proprio {self.text!r} is not numeric: {value!r}') from None
        if part is not None:
            vector = vector[part]
        if vector.size == 0 or not np.all(np.isfinite(vector)):
            raise GymWorldError(f'proprio {self.text!r} is empty or not finite: {vector}')
        return vector


@dataclass(frozen=True)
class GymWorldConfig:
    """Which environment, what it shows, what the robot senses of itself."""

    env: str = field(metadata={'help': "gymnasium id, e.g. 'Reacher-v5' or 'my_pkg:MyEnv-v0'"})
    proprio: str = field(metadata={'help': 'the proprioceptive vector: obs[a:b], obs.KEY, ...'})
    width: int = field(default=64, metadata={'help': 'image width (px)'})
    height: int = field(default=64, metadata={'help': 'image height (px)'})
    stack: int = field(default=1, metadata={'help': 'frames per observation (views), k >= 1'})
    kwargs: Mapping[str, Any] = field(
        default_factory=dict, metadata={'help': 'more keyword arguments of gymnasium.make'}
    )

    def __post_init__(self) -> None:
        env = self.env.removeprefix(ENV_PREFIX)
        if not env:
            raise GymWorldError('name a gymnasium environment: gymnasium:ID')
        object.__setattr__(self, 'env', env)
        ProprioSelector(self.proprio)
        for name in ('width', 'height'):
            if not 8 <= getattr(self, name) <= 1024:
                raise GymWorldError(f'{name} must be in [8, 1024], got {getattr(self, name)!r}')
        if not 1 <= self.stack <= 8:
            raise GymWorldError(f'stack must be in [1, 8], got {self.stack!r}')
        object.__setattr__(self, 'kwargs', dict(self.kwargs))

    def to_dict(self) -> dict[str, Any]:
        return {'kind': 'gymnasium', **asdict(self), 'kwargs': dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GymWorldConfig:
        return cls(**{k: v for k, v in data.items() if k != 'kind'})


@dataclass(frozen=True)
class GymStep:
    """What the world shows after reset() or step()."""

    images: np.ndarray  # (k, H, W, 3) uint8 RGB, the last k frames, oldest first
    proprio: np.ndarray  # (P,) float64
    ended: bool = False  # terminated or truncated: no further step


class GymWorld:
    """One gymnasium environment, made with render_mode='rgb_array' (a `World`:
    jepa_ros/envs/world.py)."""

    def __init__(self, config: GymWorldConfig) -> None:
        os.environ.setdefault('MUJOCO_GL', 'egl')
        try:
            import gymnasium
        except ImportError:
            raise GymWorldError("gymnasium worlds need gymnasium: pip install '.[gym]'") from None
        self.config = config
        self.selector = ProprioSelector(config.proprio)
        self.env = self._make(gymnasium, config)
        self.frames: list[np.ndarray] = []  # the last `stack` frames, oldest first
        try:
            self._check(gymnasium)
        except GymWorldError:
            self.env.close()
            raise

    @staticmethod
    def _make(gymnasium, config: GymWorldConfig):
        size = {'width': config.width, 'height': config.height}
        try:
            try:
                return gymnasium.make(config.env, render_mode='rgb_array',
                                      **{**size, **config.kwargs})  # fmt: skip
            except TypeError:  # an env that does not take a size: its frames are resized
                return gymnasium.make(config.env, render_mode='rgb_array', **config.kwargs)
        except (gymnasium.error.Error, ImportError, AttributeError, TypeError) as exc:
            raise GymWorldError(f'cannot make gymnasium env {config.env!r}: {exc}') from None

    def _check(self, gymnasium) -> None:
        name = self.config.env
        modes = list(self.env.metadata.get('render_modes', []))
        if 'rgb_array' not in modes or self.env.render_mode != 'rgb_array':
            raise GymWorldError(f'{name} cannot render rgb_array images (its render modes: '
                                f'{modes}); jepa_ros learns from pixels')  # fmt: skip
        space = self.env.action_space
        if not isinstance(space, gymnasium.spaces.Box):
            raise GymWorldError(f'{name} has a {type(space).__name__} action space; the '
                                'planner needs continuous actions (a Box)')  # fmt: skip
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise GymWorldError(f'{name} has an unbounded Box action space: actions are scaled '
                                'by its bounds')  # fmt: skip
        self.action_low = np.asarray(space.low, np.float64).ravel()
        self.action_high = np.asarray(space.high, np.float64).ravel()
        self.proprio_dim = self.reset(0).proprio.size  # a missing key fails here, not later

    @property
    def action_dim(self) -> int:
        return self.action_low.size

    def _observe(
        self, observation: Any, info: Mapping[str, Any], ended: bool, reset: bool = False
    ) -> GymStep:
        frame = self.env.render()
        if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3):
            shape = getattr(frame, 'shape', None)
            raise GymWorldError(f'{self.config.env} rendered {type(frame).__name__} of shape '
                                f'{shape}, not an (H, W, 3) image')  # fmt: skip
        if frame.shape[:2] != (self.config.height, self.config.width):
            from jepa_ros.images import fit_image

            frame = fit_image(np.ascontiguousarray(frame, np.uint8), self.config.height,
                              self.config.width)  # fmt: skip
        frame = np.ascontiguousarray(frame, np.uint8)
        stack = self.config.stack
        self.frames = [frame] * stack if reset else [*self.frames, frame][-stack:]
        self.last = (observation, info)
        return GymStep(np.stack(self.frames), self.selector(observation, info, self.env), ended)

    def read(self, selector: ProprioSelector) -> np.ndarray:
        """Another vector of the last reset() or step() (a success rule's state), (K,)."""
        return selector(*self.last, self.env)

    def reset(self, seed: int | None = None) -> GymStep:
        observation, info = self.env.reset(seed=seed)
        return self._observe(observation, info, False, reset=True)

    def step(self, action: np.ndarray) -> tuple[GymStep, np.ndarray]:
        """Apply `action` (A,), clipped to the bounds; returns what follows and the action
        applied."""
        action = np.asarray(action, np.float64).ravel()
        if action.shape != self.action_low.shape or not np.all(np.isfinite(action)):
            raise GymWorldError(f'action must be {self.action_dim} finite numbers, got {action}')
        applied = np.clip(action, self.action_low, self.action_high)
        dtype = self.env.action_space.dtype
        observation, _, terminated, truncated, info = self.env.step(applied.astype(dtype))
        return self._observe(observation, info, bool(terminated or truncated)), applied

    def describe(self) -> dict[str, Any]:
        return {'world': self.config.to_dict()}

    def exploration_episode(self, config, seed: int, episode: int) -> dict[str, np.ndarray]:
        """A random-policy episode of `config.steps_per_episode` steps (random_episode)."""
        return random_episode(self, config.steps_per_episode, seed, episode, config.action_scale)

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> GymWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def random_episode(
    world: GymWorld,
    steps: int,
    seed: int,
    episode: int,
    action_scale: tuple[float, float] = (1.0, 1.0),
) -> dict[str, np.ndarray]:
    """One random-policy episode in the dataset format: up to steps+1 frames (fewer if the env
    ends it). Its randomness (the env's reset seed, uniform actions within the bounds) comes
    from (seed, episode) alone. With `action_scale` (lo, hi) other than (1, 1), the episode's
    actions span a fraction in [lo, hi] (log-uniform, from its own stream, so (1, 1) gives the
    same data as ever) of the Box around its centre. `joints` holds the proprio vector (F, P);
    `ee_position` is zero (a gymnasium world has no URDF end effector)."""
    rng = np.random.default_rng([seed, episode])
    lo, hi = action_scale
    scale = 1.0
    if (lo, hi) != (1.0, 1.0):
        scale = float(
            np.exp(np.random.default_rng([seed, episode, 1]).uniform(np.log(lo), np.log(hi)))
        )
    centre = (world.action_low + world.action_high) / 2
    now = world.reset(int(rng.integers(2**31)))  # = episode_env_seed(seed, episode)
    images, proprio, actions = [now.images], [now.proprio], []
    for _ in range(steps):
        if now.ended:
            break
        uniform = rng.uniform(world.action_low, world.action_high)
        now, applied = world.step(centre + scale * (uniform - centre))
        images.append(now.images)
        proprio.append(now.proprio)
        actions.append(applied)
    frames = len(images)
    return {
        'images': np.stack(images),
        'joints': np.stack(proprio).astype(np.float32),
        'actions': np.concatenate(
            [
                np.asarray(actions, np.float32).reshape(-1, world.action_dim),
                np.zeros((1, world.action_dim), np.float32),
            ]
        ),  # fmt: skip
        'episode': np.full(frames, episode, dtype=np.int32),
        'step': np.arange(frames, dtype=np.int32),
        'ee_position': np.zeros((frames, 3), np.float32),
    }


def episode_env_seed(seed: int, episode: int) -> int:
    """The env reset seed of `random_episode(..., seed, episode)`: its first draw."""
    return int(np.random.default_rng([seed, episode]).integers(2**31))
