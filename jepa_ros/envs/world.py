"""What the data, training and evaluation code asks of a world: the `World` protocol.

Two worlds implement it: the PyBullet arm of a scene (`ArmWorld`: joint-delta actions, the
joints as its proprio vector, smooth random exploration, goals sampled from the scene's ranges)
and a gymnasium environment (`GymWorld`: the env's Box actions, the proprio vector the user
names, a random policy, goals from held-out trajectories). Collection runs any World's
exploration episodes into the same shards; training reads what `describe()` wrote into the
dataset.

Glossary: V views, H x W image size, A action dim, P proprio dim, F frames.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Sensed(Protocol):
    """One observation: camera images (V, H, W, 3) uint8 RGB and the proprio vector (P,)."""

    @property
    def images(self) -> np.ndarray: ...

    @property
    def proprio(self) -> np.ndarray: ...


@runtime_checkable
class World(Protocol):
    """A world to explore, learn from and reach goals in."""

    @property
    def action_low(self) -> np.ndarray:
        """(A,) the smallest action per dimension."""

    @property
    def action_high(self) -> np.ndarray:
        """(A,) the largest action per dimension."""

    def describe(self) -> dict[str, Any]:
        """What the world is, for a dataset's spec and a checkpoint's metadata: {'scene': ...}
        or {'world': ...}, plain JSON data."""

    def reset(self, seed: int | None = None) -> Sensed:
        """Start an episode (the seed fixes whatever the world draws)."""

    def step(self, action: np.ndarray) -> tuple[Sensed, np.ndarray]:
        """Apply an action (A,); returns what follows and the action applied (clipped)."""

    def exploration_episode(self, config: Any, seed: int, episode: int) -> dict[str, np.ndarray]:
        """One exploration episode in the dataset format (F rows of every array), its
        randomness from (seed, episode) alone."""

    def close(self) -> None: ...
