"""Joint-trajectory following as ros2_control's JointTrajectoryController does it (the parts a
kinematic simulator needs): joints mapped by name, joints left out hold their position, the
trajectory starts at `start_time`, points are reached at `start_time + time_from_start` with
linear interpolation from the position at receipt, and the last point is held. An empty
trajectory stops the arm where it is. ROS-free.

Glossary: A controlled joints, P points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class TrajectoryFollower:
    """`follow(...)` a new trajectory (it replaces the old one), then `target(now) -> (A,)`."""

    def __init__(self, joint_names: Sequence[str], current: np.ndarray) -> None:
        self.joint_names = tuple(joint_names)
        self._times = np.zeros(1)  # (P+1,) absolute seconds
        self._positions = np.asarray(current, dtype=float)[None]  # (P+1, A)

    def follow(
        self,
        names: Sequence[str],
        positions: np.ndarray,
        times: np.ndarray,
        start_time: float,
        current: np.ndarray,
    ) -> None:
        """positions (P, len(names)) for `names`, times (P,) from `start_time`; `current` (A,)
        is where the arm is now. Raises ValueError (and keeps the old trajectory) if the names,
        shapes or times are unusable."""
        names = list(names)
        unknown = sorted(set(names) - set(self.joint_names))
        if unknown or len(set(names)) != len(names):
            raise ValueError(f'unknown or repeated joints {unknown or names}; '
                             f'this arm has {list(self.joint_names)}')  # fmt: skip
        positions = np.asarray(positions, dtype=float).reshape(len(times), len(names))
        times = np.asarray(times, dtype=float)
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(times))):
            raise ValueError('NaN or Inf in the trajectory')
        if len(times) and (times[0] < 0 or np.any(np.diff(times) <= 0)):
            raise ValueError(f'time_from_start must increase from >= 0, got {times.tolist()}')
        current = np.asarray(current, dtype=float)
        full = np.repeat(current[None], len(times), axis=0)  # (P, A) joints left out hold
        for column, name in enumerate(names):
            full[:, self.joint_names.index(name)] = positions[:, column]
        self._times = np.concatenate([[start_time], start_time + times])
        self._positions = np.concatenate([current[None], full])

    def target(self, now: float) -> np.ndarray:
        """Where the joints should be at `now` (A,)."""
        times, positions = self._times, self._positions
        if now <= times[0]:
            return positions[0].copy()
        if now >= times[-1]:
            return positions[-1].copy()
        k = int(np.searchsorted(times, now, side='right'))  # times[k-1] <= now < times[k]
        fraction = (now - times[k - 1]) / (times[k] - times[k - 1])
        return positions[k - 1] + fraction * (positions[k] - positions[k - 1])
