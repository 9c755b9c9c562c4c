"""The mode-2 actor: perceive, plan in latent space by minimising the cost, act within limits.

Glossary: V views, H x W image size, S samples, A action dim, D latent dim.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from jepa_ros.cost.cost import latent_distance, TrajectoryCost
from jepa_ros.envs.arm_world import Observation
from jepa_ros.limits import JointLimits
from jepa_ros.planning.planners import CEMPlanner, MPPIPlanner
from jepa_ros.world_model.model import WorldModel


class Actor:
    """`step(observation, goal_latent) -> (action, info)`: one receding-horizon control tick.

    The world model, planner, cost and limits are built by the caller and passed in. The action
    returned is always clipped to the joint limits and the step limit.
    """

    def __init__(
        self,
        model: WorldModel,
        planner: CEMPlanner | MPPIPlanner,
        cost: TrajectoryCost,
        limits: JointLimits,
    ) -> None:
        self.model = model
        self.planner = planner
        self.cost = cost
        self.limits = limits

    def reset(self) -> None:
        """Forget the warm start (call when the goal changes)."""
        self.planner.reset()

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """Camera images (V, H, W, 3) uint8 -> latent (D,)."""
        return self.model.encode(torch.from_numpy(np.ascontiguousarray(images))[None])[0]

    @torch.no_grad()
    def step(
        self, observation: Observation, goal: torch.Tensor
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Plan from `observation` toward the goal latent (D,); return the first action (A,)
        and an info dict of scalars (plan time, goal energy, cost terms of the plan)."""
        start = time.perf_counter()
        latent = self.encode(observation.images)  # (D,)
        joints = torch.from_numpy(observation.joints.astype(np.float32))  # (A,)
        plan, info = self.planner.plan(lambda actions: self.cost(latent, goal, joints, actions)[0])
        _, terms = self.cost(latent, goal, joints, plan[None])
        action = self.limits.clip(plan[0].numpy().astype(np.float64), observation.joints)
        info.update({f'cost_{name}': float(value[0]) for name, value in terms.items()})
        info['goal_energy'] = float(latent_distance(latent, goal, self.cost.config.distance))
        info['plan_ms'] = 1000 * (time.perf_counter() - start)
        return action, info
