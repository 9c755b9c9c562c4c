"""Clearance of the arm from the scene's obstacles, as a soft cost the planner can see.

The guardrail refuses any command whose path comes within its margin of an obstacle (exact
convex geometry, `jepa_ros.collision`). The planner needs a smooth, batched version to steer
around what the gate would refuse, as the joint-limit term does for the joint clamp: the arm is
approximated by spheres of `radius_m` on its links' origins and on points between each origin
and the next (forward kinematics from the URDF), and each obstacle by its exact signed distance
function. Penetration of `margin_m + radius_m` costs quadratically. ROS-free, torch only.

Glossary: B configurations, K sphere centres, O obstacles.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from jepa_ros.envs.kinematics import _rpy_matrix, ForwardKinematics
from jepa_ros.envs.scene import ObstacleConfig, SceneConfig


def chain_links(scene: SceneConfig) -> list[str]:
    """The links from the root to the end-effector, in order (root excluded)."""
    urdf = scene.urdf()
    by_child = {j.child: j for j in urdf.joints}
    links, link = [], scene.ee_link
    while link in by_child:
        links.append(link)
        link = by_child[link].parent
    return links[::-1]


def signed_distance(points: torch.Tensor, obstacle: ObstacleConfig) -> torch.Tensor:
    """Signed distance (B, K) from points (B, K, 3) to `obstacle` (negative inside), float64."""
    rotation = _rpy_matrix(obstacle.rpy)  # obstacle frame -> base frame
    local = (points - torch.tensor(obstacle.position, dtype=torch.float64)) @ rotation
    if obstacle.shape == 'sphere':
        return local.norm(dim=-1) - obstacle.size[0]
    if obstacle.shape == 'box':
        q = local.abs() - torch.tensor(obstacle.size, dtype=torch.float64) / 2
        outside = q.clamp(min=0).norm(dim=-1)
        inside = q.max(dim=-1).values.clamp(max=0)
        return outside + inside
    radius, length = obstacle.size  # cylinder along its z axis
    q = torch.stack([local[..., :2].norm(dim=-1) - radius, local[..., 2].abs() - length / 2], -1)
    return q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)


class ObstacleClearance:
    """__call__(joints (B, A)) -> (B,): sum over sphere centres and obstacles of
    relu(margin_m + radius_m - signed distance)^2 (0 when every sphere keeps the margin)."""

    def __init__(
        self,
        scene: SceneConfig,
        obstacles: Sequence[ObstacleConfig],
        radius_m: float = 0.06,
        margin_m: float = 0.02,
        between: int = 2,
    ) -> None:
        if not obstacles:
            raise ValueError('ObstacleClearance needs at least one obstacle')
        self.obstacles = tuple(obstacles)
        self.reach = float(radius_m + margin_m)
        self.between = int(between)
        self.kinematics = ForwardKinematics(
            scene.urdf(), scene.controlled_joints, chain_links(scene), scene.home
        )

    def centres(self, joints: torch.Tensor) -> torch.Tensor:
        """Sphere centres (B, K, 3): each link origin and `between` points to the next one."""
        origins = self.kinematics(joints)  # (B, L, 3)
        start, end = origins[:, :-1], origins[:, 1:]
        fractions = torch.arange(1, self.between + 1, dtype=torch.float64) / (self.between + 1)
        inner = start[:, :, None] + (end - start)[:, :, None] * fractions[:, None]
        return torch.cat([origins, inner.flatten(1, 2)], dim=1)

    def __call__(self, joints: torch.Tensor) -> torch.Tensor:
        points = self.centres(joints)
        total = torch.zeros(points.shape[0], dtype=torch.float64)
        for obstacle in self.obstacles:
            inside = torch.relu(self.reach - signed_distance(points, obstacle))
            total = total + inside.pow(2).sum(dim=1)
        return total
