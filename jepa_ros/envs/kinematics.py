"""Forward kinematics from a URDF: link positions from joint positions, batched and differentiable.

Used where a robot would use its own kinematic model (robot_state_publisher does the same), never
simulator ground truth. Glossary: B batch, A controlled joints, L links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from jepa_ros.envs.urdf import UrdfError, UrdfJoint, UrdfModel


def _rpy_matrix(rpy: Sequence[float]) -> torch.Tensor:
    """Fixed-axis roll-pitch-yaw (URDF convention) -> (3, 3) rotation, float64."""
    r, p, y = (torch.tensor(v, dtype=torch.float64) for v in rpy)
    cr, sr, cp, sp, cy, sy = r.cos(), r.sin(), p.cos(), p.sin(), y.cos(), y.sin()
    return torch.stack([
        torch.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr]),
        torch.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr]),
        torch.stack([-sp, cp * sr, cp * cr]),
    ])  # fmt: skip


def _skew(axis: Sequence[float]) -> torch.Tensor:
    """The cross-product matrix (3, 3) of a unit axis, float64."""
    x, y, z = axis
    return torch.tensor([[0, -z, y], [z, 0, -x], [-y, x, 0]], dtype=torch.float64)


@dataclass(frozen=True)
class _Step:
    """One joint of a chain, its constant parts computed once (float64), as torch tensors or
    numpy arrays (one set each: torch for training and planning, numpy for the gate)."""

    origin_xyz: Any  # (3,) the joint's origin in its parent frame
    origin_rotation: Any  # (3, 3)
    kind: str  # 'revolute' (also continuous), 'prismatic' or 'fixed' (anything that stays)
    axis: Any  # (3,)
    skew: Any  # (3, 3): K, so that a rotation by q is I + sin q K + (1 - cos q) K^2
    skew2: Any  # (3, 3): K @ K
    column: int | None  # the joint's column among the controlled joints, None if not one
    value: float  # its position when not controlled

    def as_numpy(self) -> _Step:
        names = ('origin_xyz', 'origin_rotation', 'axis', 'skew', 'skew2')
        return replace(self, **{name: getattr(self, name).numpy() for name in names})


class ForwardKinematics:
    """Positions of chosen links in the robot base frame from controlled joint positions.

    Joints that are not controlled hold the values in `fixed` (e.g. the scene's home pose).
    __call__: (B, A) torch -> (B, L, 3) torch float64 (differentiable, traceable);
    `numpy`: the same in numpy, (B, A) array-like -> (B, L, 3) float64, for one-off calls
    (the gate's check of a command), where torch's per-call overhead dominates.
    """

    def __init__(
        self,
        urdf: UrdfModel,
        controlled: Sequence[str],
        links: Sequence[str],
        fixed: Mapping[str, float] | None = None,
    ) -> None:
        self.controlled = list(controlled)
        self.links = list(links)
        self.fixed = dict(fixed or {})
        by_child = {j.child: j for j in urdf.joints}
        for name in self.controlled:
            urdf.joint(name)  # raises for unknown names
        self.chains: list[list[UrdfJoint]] = []
        for link in self.links:
            if link not in urdf.links:
                raise UrdfError(f'link {link!r} is not in URDF {urdf.name!r}')
            chain = []
            while link in by_child:
                chain.append(by_child[link])
                link = by_child[link].parent
            self.chains.append(chain[::-1])  # root first
        self._steps = [[self._step(joint) for joint in chain] for chain in self.chains]
        self._numpy_steps = [[step.as_numpy() for step in steps] for steps in self._steps]
        self._eye = torch.eye(3, dtype=torch.float64)

    def _step(self, joint: UrdfJoint) -> _Step:
        kinds = {'revolute': 'revolute', 'continuous': 'revolute', 'prismatic': 'prismatic'}
        column = self.controlled.index(joint.name) if joint.name in self.controlled else None
        skew = _skew(joint.axis)
        return _Step(
            origin_xyz=torch.tensor(joint.xyz, dtype=torch.float64),
            origin_rotation=_rpy_matrix(joint.rpy),
            kind=kinds.get(joint.type, 'fixed'),
            axis=torch.tensor(joint.axis, dtype=torch.float64),
            skew=skew,
            skew2=skew @ skew,
            column=column,
            value=float(self.fixed.get(joint.name, 0.0)),
        )

    def __call__(self, joints: torch.Tensor) -> torch.Tensor:
        joints = joints.to(torch.float64)
        chains = [_chain_position(steps, joints, self._eye, torch) for steps in self._steps]
        return torch.stack(chains, dim=1)

    def numpy(self, joints) -> np.ndarray:
        joints = np.asarray(joints, dtype=np.float64)
        eye = np.eye(3)
        chains = [_chain_position(steps, joints, eye, np) for steps in self._numpy_steps]
        return np.stack(chains, axis=1)


def _chain_position(steps: list[_Step], joints, eye, xp):
    """The position (B, 3) of the link at the end of `steps`, for joints (B, A); `xp` is the
    array library of `joints` and the steps' constants (torch or numpy: the same operations)."""
    rotation = xp.broadcast_to(eye, (joints.shape[0], 3, 3))
    position = xp.zeros_like(rotation[:, 0])  # (B, 3)
    for step in steps:
        # Step 1. Fixed origin of the joint in its parent frame
        position = position + rotation @ step.origin_xyz
        rotation = rotation @ step.origin_rotation
        if step.kind == 'fixed':
            continue
        # Step 2. Motion of the joint about/along its axis
        if step.column is not None:
            q = joints[:, step.column]  # (B,)
        else:
            q = xp.full_like(joints[:, 0], step.value)
        if step.kind == 'prismatic':
            position = position + (rotation @ step.axis) * q[:, None]
        else:  # Rodrigues: I + sin q K + (1 - cos q) K^2, (B, 3, 3)
            s, c = xp.sin(q)[:, None, None], xp.cos(q)[:, None, None]
            rotation = rotation @ (eye + s * step.skew + (1 - c) * step.skew2)
    return position


def ee_position_function(scene, joint_names):
    """The end-effector position by forward kinematics, as the gate takes it:
    joints (P, len(joint_names)) array-like -> (P, 3) numpy float64."""
    kinematics = ForwardKinematics(scene.urdf(), joint_names, [scene.ee_link], scene.home)
    return lambda joints: kinematics.numpy(joints)[:, -1]


class Proprioception:
    """What the arm knows of itself: joint angles plus the positions of the scene's
    `proprio_links` by forward kinematics. __call__: (N, A) -> (N, A + 3L) float32."""

    def __init__(self, scene) -> None:
        self.kinematics = ForwardKinematics(
            scene.urdf(), scene.controlled_joints, scene.proprio_links, scene.home
        )

    @property
    def dim(self) -> int:
        return len(self.kinematics.controlled) + 3 * len(self.kinematics.links)

    def __call__(self, joints) -> torch.Tensor:
        joints = torch.as_tensor(joints, dtype=torch.float64)
        positions = self.kinematics(joints).flatten(1)  # (N, 3L)
        return torch.cat([joints, positions], dim=1).float()


def proprio_link_dims(scene, link: str) -> tuple[int, int, int]:
    """Indices of `link`'s x, y, z in the proprioceptive features (and so in the grounded
    latent dims): after the A joint angles, 3 per `proprio_links` entry, in order."""
    if link not in scene.proprio_links:
        raise ValueError(f'{link!r} is not one of the proprio_links {list(scene.proprio_links)}')
    start = len(scene.controlled_joints) + 3 * scene.proprio_links.index(link)
    return (start, start + 1, start + 2)
