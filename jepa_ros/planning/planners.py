"""Sampling planners over action sequences: CEM and MPPI with a shifted warm start.

Pure: the cost of a batch of action sequences comes in as a callable (it closes over the world
model, the current latent and the goal), no logging or I/O happens inside, the warm-start state
is explicit and cleared by `reset()`, and randomness comes from the planner's own seeded
generator. Glossary: S samples, H horizon, A action dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

SequenceCost = Callable[[torch.Tensor], torch.Tensor]  # (S, H, A) -> (S,)


@dataclass(frozen=True)
class PlannerConfig:
    """Search settings shared by the planners. Actions are in [-action_limit, action_limit]."""

    horizon: int = field(default=8, metadata={'help': 'actions per planned sequence (H)'})
    samples: int = field(default=300, metadata={'help': 'sequences scored per iteration (S)'})
    iterations: int = field(default=3, metadata={'help': 'refinement iterations per plan'})
    elites: int = field(default=30, metadata={'help': 'CEM: best sequences refitted'})
    temperature: float = field(default=0.1, metadata={'help': 'MPPI: cost temperature'})
    init_std: float = field(default=0.5, metadata={'help': 'initial std, fraction of the limit'})
    min_std: float = field(default=0.05, metadata={'help': 'std floor, fraction of the limit'})
    action_limit: float = field(default=0.1, metadata={'help': 'largest action per joint'})
    seed: int = field(default=0, metadata={'help': 'seed of the planner generator'})
    gradient_steps: int = field(
        default=0, metadata={'help': 'gradient refinement steps through the cost after sampling'}
    )
    gradient_lr: float = field(
        default=0.1,
        metadata={
            'help': 'first refinement step, fraction of the action limit (halved after '
            'a step that does not lower the cost)'
        },
    )

    def __post_init__(self) -> None:
        for name in ('horizon', 'samples', 'iterations', 'elites'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.elites > self.samples:
            raise ValueError(f'elites ({self.elites}) must not exceed samples ({self.samples})')
        if self.gradient_steps < 0:
            raise ValueError(f'gradient_steps must be >= 0, got {self.gradient_steps}')
        for name in ('temperature', 'init_std', 'action_limit', 'gradient_lr'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if not 0 <= self.min_std <= self.init_std:
            raise ValueError(f'need 0 <= min_std <= init_std, got {self.min_std}')


class _SamplingPlanner:
    """Shared sampling loop; subclasses say how the scored samples update the distribution."""

    def __init__(self, config: PlannerConfig, action_dim: int) -> None:
        self.config = config
        self.action_dim = action_dim
        self.generator = torch.Generator().manual_seed(config.seed)
        self._warm: torch.Tensor | None = None  # (H, A) previous plan, shifted by one step

    def reset(self) -> None:
        """Forget the warm start and reseed: the next plan is as from a fresh planner."""
        self._warm = None
        self.generator.manual_seed(self.config.seed)

    def warm_start(self, sequence: torch.Tensor) -> None:
        """Start the next plan's search from `sequence` (T, A) (e.g. mode-1's proposal): cut
        to the horizon, or held at its last action up to it; clipped to the action limit."""
        h, limit = self.config.horizon, self.config.action_limit
        sequence = sequence.detach().float().cpu()[:h]
        if len(sequence) < h:
            sequence = torch.cat([sequence, sequence[-1:].expand(h - len(sequence), -1)])
        self._warm = sequence.clamp(-limit, limit)

    def plan(self, cost: SequenceCost) -> tuple[torch.Tensor, dict[str, float]]:
        """Search for the action sequence (H, A) of lowest cost.

        1. Start from the previous plan shifted by one step (or zeros), std init_std.
        2. Each iteration: sample S sequences around the mean (the mean itself included),
           clip them to the action limit, score them, and update mean and std.
        3. Optionally refine the mean by gradient descent on the cost (through the predictor),
           keeping it only if it is cheaper.
        4. Keep the plan for the next call's warm start.
        Returns the plan and an info dict of scalars (best and mean cost of the last iteration,
        and the refinement's cost change).
        """
        cfg = self.config
        h, a, limit = cfg.horizon, self.action_dim, cfg.action_limit
        mean = torch.zeros(h, a) if self._warm is None else self._warm
        std = torch.full((h, a), cfg.init_std * limit)
        for _ in range(cfg.iterations):
            # Sample
            noise = torch.randn(cfg.samples, h, a, generator=self.generator)
            actions = (mean + std * noise).clamp(-limit, limit)  # (S, H, A)
            actions[0] = mean
            # Score
            costs = cost(actions)  # (S,)
            # Refit
            mean, std = self.update(actions, costs)
            std = std.clamp_min(cfg.min_std * limit)
        info = {'cost_best': float(costs.min()), 'cost_mean': float(costs.mean())}
        if cfg.gradient_steps:
            mean, info['refine_gain'] = self.refine(mean, cost)
        self._warm = torch.cat([mean[1:], mean[-1:]])  # shifted: receding horizon
        return mean, info

    def refine(self, plan: torch.Tensor, cost: SequenceCost) -> tuple[torch.Tensor, float]:
        """Gradient descent on the cost from `plan` (H, A), within the action limit; returns
        the cheapest point found and how much cost it saved (>= 0).

        Each step moves the actions along the negative gradient, scaled so that the largest
        component moves `gradient_lr` of the limit. A step that does not lower the cost is
        undone and the step size halved (backtracking), so the refinement settles on the
        model's local optimum instead of hopping around it by a fixed step.
        """
        cfg = self.config
        limit = cfg.action_limit
        size = cfg.gradient_lr * limit

        def cost_and_gradient(point: torch.Tensor) -> tuple[float, torch.Tensor]:
            point = point.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                value = cost(point[None])[0]
                (grad,) = torch.autograd.grad(value, point)
            return float(value), grad

        best = plan.detach()
        best_cost, grad = cost_and_gradient(best)
        start_cost = best_cost
        for _ in range(cfg.gradient_steps):
            step = grad / grad.abs().max().clamp_min(1e-12)  # sign-like, scale-free
            trial = (best - size * step).clamp(-limit, limit)
            trial_cost, trial_grad = cost_and_gradient(trial)
            if trial_cost < best_cost:
                best, best_cost, grad = trial, trial_cost, trial_grad
            else:
                size /= 2
        return best, start_cost - best_cost

    def update(
        self, actions: torch.Tensor, costs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class CEMPlanner(_SamplingPlanner):
    """Cross-entropy method: refit a diagonal Gaussian to the `elites` cheapest sequences."""

    def update(self, actions, costs):
        elite = actions[costs.topk(self.config.elites, largest=False).indices]  # (E, H, A)
        return elite.mean(dim=0), elite.std(dim=0, unbiased=False)


class MPPIPlanner(_SamplingPlanner):
    """Model-predictive path integral: cost-weighted mean, weights softmax(-cost / temperature)."""

    def update(self, actions, costs):
        weights = torch.softmax(-(costs - costs.min()) / self.config.temperature, dim=0)
        mean = (weights[:, None, None] * actions).sum(dim=0)
        var = (weights[:, None, None] * (actions - mean).pow(2)).sum(dim=0)
        return mean, var.sqrt()
