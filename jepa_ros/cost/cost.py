"""Cost of candidate action sequences: intrinsic goal energy plus guardrail terms.

The goal energy compares predicted latents with the goal latent. The guardrail terms are computed
from the joint positions the sequence would reach (current joints + cumulative actions) and from
their forward kinematics (URDF), never from simulator ground truth: joint-limit margins, the
end-effector's clearance above the floor, the links' clearance from the scene's obstacles, step
size and smoothness. The same limits are enforced
as hard clips on every command; as costs they keep the planner away from the clips.

Glossary: S samples, H horizon, A action dim, D latent dim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
import warnings

import torch

from jepa_ros.cost.clearance import ObstacleClearance
from jepa_ros.device import model_device
from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.world_model.config import WorldModelConfig
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
    learned_weight: float = field(
        default=0.0,
        metadata={'help': 'goal-energy weight of the latent dims not grounded in proprioception '
                          '(1 = like the grounded dims, 0 = grounded dims only)'},
    )  # fmt: skip
    ee_weight: float = field(
        default=4.0,
        metadata={'help': "goal-energy weight of the latent dims grounded in the end-effector's "
                          'position (the others grounded dims weigh 1)'},
    )  # fmt: skip
    joint_margin_rad: float = field(
        default=0.05, metadata={'help': 'joint positions closer than this to a limit cost'}
    )
    joint_limit_weight: float = field(default=100.0, metadata={'help': 'joint-limit term'})
    min_ee_height_m: float = field(
        default=0.05, metadata={'help': 'end-effector heights below this cost'}
    )
    clearance_weight: float = field(default=100.0, metadata={'help': 'floor-clearance term'})
    obstacle_weight: float = field(
        default=100.0, metadata={'help': "clearance from the scene's obstacles (if it has any)"}
    )
    step_weight: float = field(default=0.0, metadata={'help': 'squared action size term'})
    smoothness_weight: float = field(default=0.0, metadata={'help': 'squared action change'})

    def __post_init__(self) -> None:
        if self.distance not in DISTANCES:
            raise ValueError(f'distance must be one of {DISTANCES}, got {self.distance!r}')
        if self.reduction not in REDUCTIONS:
            raise ValueError(f'reduction must be one of {REDUCTIONS}, got {self.reduction!r}')
        for name in ('goal_weight', 'learned_weight', 'ee_weight', 'joint_margin_rad',
                     'joint_limit_weight', 'clearance_weight', 'obstacle_weight', 'step_weight',
                     'smoothness_weight'):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')


def latent_distance(
    a: torch.Tensor, b: torch.Tensor, kind: str, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """(..., D), (..., D) -> (...); `weights` (D,) weigh the dims (default all 1)."""
    if weights is None:
        weights = torch.ones(a.shape[-1], device=a.device)
    if kind == 'l2':
        return ((a - b).pow(2) * weights).sum(dim=-1) / weights.sum()
    if kind == 'l1':
        return ((a - b).abs() * weights).sum(dim=-1) / weights.sum()
    root = weights.sqrt()
    return 1.0 - torch.nn.functional.cosine_similarity(a * root, b * root, dim=-1)


def energy_weights(
    model_config: WorldModelConfig, ee_dims: Sequence[int], config: CostConfig
) -> torch.Tensor:
    """Per-dim weights (D,) of the goal energy.

    The first `proprio_dim` latent dims are trained to match standardised joint angles and link
    positions, so along a joint path to the goal their distance falls steadily; they weigh 1,
    the end-effector's three (`ee_dims`) weigh `ee_weight`. The free dims weigh `learned_weight`:
    on large base rotations they measured a ridge of higher energy on the way to the goal, which
    stalled the planner (see models/jepa_panda.md).
    """
    weights = torch.full((model_config.latent_dim,), float(config.learned_weight))
    weights[: model_config.proprio_dim] = 1.0
    if config.ee_weight != 1.0:
        if not ee_dims:
            raise ValueError('ee_weight != 1 needs the latent dims of the end-effector (ee_dims)')
        weights[list(ee_dims)] = float(config.ee_weight)
    if not weights.sum() > 0:
        raise ValueError('the goal-energy weights are all zero')
    return weights


class TrajectoryCost:
    """Scores action sequences from the current latent and joints toward a goal latent.

    `ee_dims`: the latent dims grounded in the end-effector position (`proprio_link_dims`).

    __call__(latent (D,), goal (D,), joints (A,), actions (S, H, A)) -> (total (S,), terms)
    where `terms` maps each name in TERMS to its weighted (S,) contribution. The latents are on
    the model's device, joints and actions on the CPU, and so are the results.
    """

    TERMS = ('goal', 'joint_limits', 'clearance', 'obstacles', 'step', 'smoothness')

    def __init__(
        self,
        model: WorldModel,
        kinematics: ForwardKinematics,
        joint_lower: torch.Tensor,
        joint_upper: torch.Tensor,
        config: CostConfig,
        ee_dims: Sequence[int] = (),
        obstacles: ObstacleClearance | None = None,
    ) -> None:
        self.model = model
        self.obstacles = obstacles
        self.kinematics = kinematics
        self.joint_lower = torch.as_tensor(joint_lower, dtype=torch.float32)  # (A,)
        self.joint_upper = torch.as_tensor(joint_upper, dtype=torch.float32)  # (A,)
        self.config = config
        # The world model's terms run where the model is (a GPU with `--device`); the
        # guardrail terms, the search and the actions stay on the CPU
        self.device = model_device(model)
        self.weights = energy_weights(model.config, ee_dims, config).to(self.device)  # (D,)

    def goal_energy(self, latents: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Energy of latents (..., D) against the goal (D,): (...)."""
        return latent_distance(latents, goal, self.config.distance, self.weights)

    def __call__(
        self, latent: torch.Tensor, goal: torch.Tensor, joints: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        s, h, _ = actions.shape
        # Roll out the world model and score the goal energy
        on_model = actions.to(self.device)
        predicted = self.model.rollout(latent.expand(s, -1), on_model)  # (S, H, D)
        energy = self.goal_energy(predicted, goal)  # (S, H)
        goal_term = energy.mean(dim=1) if cfg.reduction == 'sum' else energy[:, -1]
        goal_term = goal_term.to(actions.device)
        terms = {'goal': cfg.goal_weight * goal_term}
        terms.update(self.guardrail_terms(joints, actions))
        total = torch.stack(list(terms.values())).sum(dim=0)
        return total, terms

    def term_rows(
        self, latent: torch.Tensor, goal: torch.Tensor, joints: torch.Tensor, actions: torch.Tensor
    ) -> torch.Tensor:
        """The terms as one tensor (T, S), a row per name in TERMS; the total is its sum."""
        _, terms = self(latent, goal, joints, actions)
        return torch.stack([terms[name] for name in self.TERMS])

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
        # Clearance of the links from the scene's obstacles (spheres on the links)
        obstacles = torch.zeros(s)
        if self.obstacles is not None:
            obstacles = self.obstacles(path.reshape(s * h, a)).float().view(s, h).sum(dim=1)
        # Step size and smoothness
        step = actions.pow(2).sum(dim=(1, 2))
        smooth = (actions[:, 1:] - actions[:, :-1]).pow(2).sum(dim=(1, 2))
        return {
            'joint_limits': cfg.joint_limit_weight * limit,
            'clearance': cfg.clearance_weight * clearance,
            'obstacles': cfg.obstacle_weight * obstacles,
            'step': cfg.step_weight * step,
            'smoothness': cfg.smoothness_weight * smooth,
        }


class _Terms(torch.nn.Module):
    """A TrajectoryCost's terms as a module, so a trace keeps the model's weights as parameters."""

    def __init__(self, cost: TrajectoryCost) -> None:
        super().__init__()
        self.model = cost.model
        self.cost = cost

    def forward(self, latent, goal, joints, actions):
        return self.cost.term_rows(latent, goal, joints, actions)


TermCosts = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def traced_terms(cost: TrajectoryCost, horizon: int, action_dim: int) -> TermCosts:
    """`cost.term_rows` for sequences of `horizon` steps as a TorchScript trace:
    (latent (D,), goal (D,), joints (A,), actions (S, H, A)) -> (T, S), one row per name in
    `TrajectoryCost.TERMS`; the same numbers as the eager cost for any S, differentiable in the
    actions.

    Why: TorchScript runs the whole graph without holding the GIL. In the ROS nodes the planner
    shares its process with executor threads (and, in `jepa-ros demo`, the simulator's renderer);
    the eager cost is a few hundred small torch calls that each wait for the GIL. A plan of the
    default task (`benchmarks/plan_speed.py`, one torch thread): 11.5 ms alone and 112 ms beside
    one busy Python thread with the eager cost; 7.5 ms and 13.8 ms traced.
    torch marks `torch.jit.trace` deprecated in favour of `torch.compile`/`torch.export`, whose
    programs run from Python and so hold the GIL; the pinned torch still traces, and
    `Actor(trace=False)` plans the same numbers without it.
    """
    d = cost.model.config.latent_dim
    example = (torch.zeros(d), torch.zeros(d), torch.zeros(action_dim),
               torch.zeros(2, horizon, action_dim))  # fmt: skip
    with torch.no_grad(), warnings.catch_warnings():
        # The URDF's fixed transforms become constants of the trace, as they should
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', r'`torch\.jit\.trace', DeprecationWarning)
        traced = torch.jit.trace(_Terms(cost), example, check_trace=False)
        for _ in range(2):  # TorchScript profiles the first two runs: do them now
            traced(*example)
    return traced
