"""Cost of candidate action sequences: intrinsic goal energy plus guardrail terms.

The goal energy compares predicted latents with the goal latent. The guardrail terms are computed
from the joint positions the sequence would reach (current joints + cumulative actions) and from
their forward kinematics (URDF), never from simulator ground truth: joint-limit margins, the
end-effector's clearance above the floor, step size and smoothness. The same limits are enforced
as hard clips on every command; as costs they keep the planner away from the clips.

Glossary: S samples, H horizon, A action dim, D latent dim.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.world_model.model import WorldModel

DISTANCES = ('l2', 'l1', 'cosine')
REDUCTIONS = ('sum', 'terminal')


@dataclass(frozen=True)
class CostConfig:
    """Weights and shape of the cost; every term is reported separately."""

    distance: str = field(default='l2', metadata={'help': f'latent distance: {DISTANCES}'})
    reduction: str = field(
        default='sum', metadata={'help': f'goal energy over the horizon: {REDUCTIONS}'}
    )
    goal_weight: float = field(default=1.0, metadata={'help': 'weight of the goal energy'})
    joint_margin_rad: float = field(
        default=0.05, metadata={'help': 'joint positions closer than this to a limit cost'}
    )
    joint_limit_weight: float = field(default=100.0, metadata={'help': 'joint-limit term'})
    min_ee_height_m: float = field(
        default=0.05, metadata={'help': 'end-effector heights below this cost'}
    )
    clearance_weight: float = field(default=100.0, metadata={'help': 'floor-clearance term'})
    step_weight: float = field(default=0.0, metadata={'help': 'squared action size term'})
    smoothness_weight: float = field(default=0.0, metadata={'help': 'squared action change'})

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f'distance must be one of {DISTANCES}, got {self.distance!r}')
        if self.reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got {self.reduction!r}')
        for name in ('goal_weight', 'joint_margin_rad', 'joint_limit_weight', 'clearance_weight',
                     'step_weight', 'smoothness_weight'):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')


def latent_distance(a: torch.Tensor, b: torch.Tensor, kind: str) -> torch.Tensor:
    """(..., D), (..., D) -> (...)."""
    if kind == 'l2':
        return (a - b).pow(2).mean(dim=-1)
    if kind == 'l1':
        return (a - b).abs().mean(dim=-1)
    return 1.0 - torch.nn.functional.cosine_similarity(a, b, dim=-1)


class TrajectoryCost:
    """Scores action sequences from the current latent and joints toward a goal latent.

    __call__(latent (D,), goal (D,), joints (A,), actions (S, H, A)) -> (total (S,), terms)
    where `terms` maps each term's name to its weighted (S,) contribution.
    """

    def __init__(
        self,
        model: WorldModel,
        kinematics: ForwardKinematics,
        joint_lower: torch.Tensor,
        joint_upper: torch.Tensor,
        config: CostConfig,
    ) -> None:
        self.model = model
        self.kinematics = kinematics
        self.joint_lower = torch.as_tensor(joint_lower, dtype=torch.float32)  # (A,)
        self.joint_upper = torch.as_tensor(joint_upper, dtype=torch.float32)  # (A,)
        self.config = config

    def __call__(
        self, latent: torch.Tensor, goal: torch.Tensor, joints: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        s, h, _ = actions.shape
        # Roll out the world model and score the goal energy
        predicted = self.model.rollout(latent.expand(s, -1), actions)  # (S, H, D)
        energy = latent_distance(predicted, goal, cfg.distance)  # (S, H)
        goal_term = energy.mean(dim=1) if cfg.reduction == 'sum' else energy[:, -1]
        terms = {'goal': cfg.goal_weight * goal_term}
        terms.update(self.guardrail_terms(joints, actions))
        total = torch.stack(list(terms.values())).sum(dim=0)
        return total, terms

    def guardrail_terms(
        self, joints: torch.Tensor, actions: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Guardrail costs of the joint path joints + cumsum(actions): each (S,), zero inside
        the limits."""
        cfg = self.config
        s, h, a = actions.shape
        path = joints.float() + actions.cumsum(dim=1)  # (S, H, A)
        # Joint-limit margins
        below = torch.relu(self.joint_lower + cfg.joint_margin_rad - path)
        above = torch.relu(path - self.joint_upper + cfg.joint_margin_rad)
        limit = (below.pow(2) + above.pow(2)).sum(dim=(1, 2))
        # Floor clearance of the end-effector (forward kinematics from the URDF)
        ee = self.kinematics(path.reshape(s * h, a))[:, -1].float().view(s, h, 3)
        clearance = torch.relu(cfg.min_ee_height_m - ee[..., 2]).pow(2).sum(dim=1)
        # Step size and smoothness
        step = actions.pow(2).sum(dim=(1, 2))
        smooth = (actions[:, 1:] - actions[:, :-1]).pow(2).sum(dim=(1, 2))
        return {
            'joint_limits': cfg.joint_limit_weight * limit,
            'clearance': cfg.clearance_weight * clearance,
            'step': cfg.step_weight * step,
            'smoothness': cfg.smoothness_weight * smooth,
        }
