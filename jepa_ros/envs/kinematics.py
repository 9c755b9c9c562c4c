"""Forward kinematics from a URDF: link positions from joint positions, batched and differentiable.

Used where a robot would use its own kinematic model (robot_state_publisher does the same), never
simulator ground truth. Glossary: B batch, A controlled joints, L links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    """One joint of a chain, its constant parts computed once (float64)."""

    origin_xyz: torch.Tensor  # (3,) the joint's origin in its parent frame
    origin_rotation: torch.Tensor  # (3, 3)
    kind: str  # 'revolute' (also continuous), 'prismatic' or 'fixed' (anything that stays)
    axis: torch.Tensor  # (3,)
    skew: torch.Tensor  # (3, 3): K, so that a rotation by q is I + sin q K + (1 - cos q) K^2
    skew2: torch.Tensor  # (3, 3): K @ K
    column: int | None  # the joint's column among the controlled joints, None if not one
    value: float  # its position when not controlled


class ForwardKinematics:
    """Positions of chosen links in the robot base frame from controlled joint positions.

    Joints that are not controlled hold the values in `fixed` (e.g. the scene's home pose).
    __call__: (B, A) -> (B, L, 3)
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
        b = joints.shape[0]
        positions = []
        for steps in self._steps:
            rotation = self._eye.expand(b, 3, 3)
            position = torch.zeros(b, 3, dtype=torch.float64)
            for step in steps:
                # Step 1. Fixed origin of the joint in its parent frame
                position = position + rotation @ step.origin_xyz
                rotation = rotation @ step.origin_rotation
                if step.kind == 'fixed':
                    continue
                # Step 2. Motion of the joint about/along its axis
                q = self._joint_value(step, joints)  # (B,)
                if step.kind == 'prismatic':
                    position = position + (rotation @ step.axis) * q[:, None]
                else:  # Rodrigues: I + sin q K + (1 - cos q) K^2, (B, 3, 3)
                    s, c = q.sin()[:, None, None], q.cos()[:, None, None]
                    rotation = rotation @ (self._eye + s * step.skew + (1 - c) * step.skew2)
            positions.append(position)
        return torch.stack(positions, dim=1)

    @staticmethod
    def _joint_value(step: _Step, joints: torch.Tensor) -> torch.Tensor:
        if step.column is not None:
            return joints[:, step.column]
        return torch.full((joints.shape[0],), step.value, dtype=joints.dtype)


def ee_position_function(scene, joint_names):
    """The end-effector position by forward kinematics, as the gate takes it:
    joints (P, len(joint_names)) array-like -> (P, 3) numpy float64."""
    kinematics = ForwardKinematics(scene.urdf(), joint_names, [scene.ee_link], scene.home)
    return lambda joints: kinematics(torch.as_tensor(joints))[:, -1].numpy()


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
