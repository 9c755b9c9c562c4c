"""Hard joint limits applied to every command: per-step size and joint position range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class JointLimits:
    """Limits of the A controlled joints: `lower`/`upper` (A,) rad, `max_step` rad per command."""

    lower: np.ndarray
    upper: np.ndarray
    max_step: float

    def __post_init__(self) -> None:
        lower, upper = np.asarray(self.lower, float), np.asarray(self.upper, float)
        if lower.shape != upper.shape or lower.ndim != 1 or not np.all(lower < upper):
            raise ValueError(f'need lower < upper per joint, got {lower} and {upper}')
        if not self.max_step > 0:
            raise ValueError(f'max_step must be > 0, got {self.max_step!r}')
        object.__setattr__(self, 'lower', lower)
        object.__setattr__(self, 'upper', upper)

    @classmethod
    def from_scene(cls, scene) -> JointLimits:
        """The scene's controlled joints' URDF position limits and its step limit."""
        urdf = scene.urdf()
        joints = [urdf.joint(n) for n in scene.controlled_joints]
        lower, upper = np.array([j.bounds for j in joints]).T
        return cls(lower, upper, scene.max_step_rad)

    def clip(self, action: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """Clip a joint delta (A,) to ±max_step, then so that joints + delta stays in range."""
        delta = np.clip(action, -self.max_step, self.max_step)
        return np.clip(joints + delta, self.lower, self.upper) - joints
