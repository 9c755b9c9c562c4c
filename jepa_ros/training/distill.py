"""Distil mode-2 into mode-1: targets are the planner's action sequences on latents of the
robot's own exploration data, goals relabelled from later frames of the same episode (hindsight
goals). No simulator ground truth: the latents come from the camera frames, the joints from the
arm's own readings (the planner's guardrail terms need them).

1. `hindsight_pairs`: (frame, goal frame) pairs, the goal a later frame of the same episode.
2. `plan_targets`: mode-2's plan (H, A) for each pair, from a fresh search (no warm start).
3. `fit_policy`: the policy regresses the plans (mean squared error in units of the step limit).

Glossary: N pairs, H horizon, A action dim, D latent dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math

import numpy as np
import torch

from jepa_ros.actor import Actor
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.mode1 import ReactivePolicy

Progress = Callable[[int], None]  # called with the number of items just done


@dataclass(frozen=True)
class DistillConfig:
    """How much mode-2 to imitate, and how to fit it."""

    pairs: int = field(default=12000, metadata={'help': 'hindsight (frame, goal) pairs labelled'})
    searches: int = field(
        default=1,
        metadata={'help': 'searches per pair, each started from the last plan (as mode-2 warm '
                          'starts on the robot, where a cold search makes short steps)'},
    )  # fmt: skip
    steps: int = field(default=4000, metadata={'help': 'policy training steps'})
    batch_size: int = field(default=256, metadata={'help': 'pairs per training step'})
    lr: float = field(default=1e-3, metadata={'help': 'AdamW learning rate (cosine decay)'})
    weight_decay: float = field(default=1e-4, metadata={'help': 'AdamW weight decay'})
    holdout: float = field(default=0.1, metadata={'help': 'fraction of pairs held out'})
    seed: int = field(default=0, metadata={'help': 'seed of the pairs, the search and the fit'})

    def __post_init__(self) -> None:
        for name in ('pairs', 'searches', 'steps', 'batch_size'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not 0 < self.holdout < 1:
            raise ValueError(f'holdout must be in (0, 1), got {self.holdout}')
        for name in ('lr', 'weight_decay'):
            if getattr(self, name) < 0 or (name == 'lr' and self.lr == 0):
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')


def hindsight_pairs(
    dataset: ExplorationDataset, count: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """`count` (frame, goal) global frame indices (N,) x2: the goal a uniformly drawn later
    frame of the frame's episode (ValueError if the data has no episode of two frames)."""
    episode = dataset.get('episode')
    step = dataset.get('step')
    order = np.lexsort((step, episode))  # frames by episode, then step
    starts = np.flatnonzero(np.r_[True, episode[order][1:] != episode[order][:-1]])
    ends = np.r_[starts[1:], len(order)]  # one past each episode's last frame (in `order`)
    last = np.repeat(ends - 1, ends - starts)  # per position in `order`: its episode's last
    usable = np.flatnonzero(np.arange(len(order)) < last)
    if usable.size == 0:
        raise ValueError(f'{dataset.root} has no episode of two or more frames')
    rng = np.random.default_rng(seed)
    chosen = rng.choice(usable, size=count, replace=usable.size < count)
    later = chosen + 1 + np.floor(rng.random(count) * (last[chosen] - chosen)).astype(np.int64)
    return order[chosen], order[later]


@torch.no_grad()
def plan_targets(
    actor: Actor,
    latents: torch.Tensor,
    joints: np.ndarray,
    goals: torch.Tensor,
    seed: int,
    progress: Progress = lambda n: None,
    searches: int = 1,
) -> torch.Tensor:
    """Mode-2's plan for each (latent (N, D), joints (N, A), goal (N, D)): (N, H, A), from a
    fresh search seeded `seed + n` (independent, reproducible labels), then `searches - 1` more
    each started from the last plan."""
    terms = actor.term_costs()

    def cost_of(n: int):
        joints_t = torch.from_numpy(np.asarray(joints[n], dtype=np.float32))
        return lambda seqs: terms(latents[n], goals[n], joints_t, seqs).sum(0)

    plans = []
    for n in range(len(latents)):
        actor.planner.reset()
        actor.planner.generator.manual_seed(seed + n)
        plan, _ = actor.planner.plan(cost_of(n))
        for _ in range(searches - 1):
            actor.planner.warm_start(plan)
            plan, _ = actor.planner.plan(cost_of(n))
        plans.append(plan.cpu())
        progress(1)
    return torch.stack(plans)


def fit_policy(
    policy: ReactivePolicy,
    latents: torch.Tensor,
    goals: torch.Tensor,
    targets: torch.Tensor,
    config: DistillConfig,
    log: Callable[[int, dict[str, float]], None] = lambda step, values: None,
    progress: Progress = lambda n: None,
) -> dict[str, float]:
    """Regress `targets` (N, H, A) from (latents, goals) (N, D) x2; a `holdout` fraction is
    never trained on. Returns the final train and held-out losses (mean squared error per
    action component, in units of the step limit squared) and the held-out error of the first
    action in radians (RMS)."""
    generator = torch.Generator().manual_seed(config.seed)
    order = torch.randperm(len(latents), generator=generator)
    held = max(1, int(round(config.holdout * len(latents))))
    test, train = order[:held], order[held:]
    if len(train) == 0:
        raise ValueError(f'{len(latents)} pairs leave none to train on after the holdout')
    scale = policy.config.max_step_rad
    optimizer = torch.optim.AdamW(policy.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)  # fmt: skip

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        predicted = policy(latents[idx], goals[idx])
        return ((predicted - targets[idx]) / scale).pow(2).mean()

    policy.train()
    loss = torch.tensor(0.0)
    for step in range(config.steps):
        lr = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / config.steps)))
        for group in optimizer.param_groups:
            group['lr'] = lr
        batch = train[torch.randint(len(train), (config.batch_size,), generator=generator)]
        loss = loss_of(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == config.steps - 1:
            with torch.no_grad():
                log(step, {'loss': float(loss), 'heldout_loss': float(loss_of(test)), 'lr': lr})
        progress(1)
    policy.eval()
    with torch.no_grad():
        first = policy(latents[test], goals[test])[:, 0] - targets[test][:, 0]
        return {
            'train_loss': float(loss),
            'heldout_loss': float(loss_of(test)),
            'heldout_first_action_rms_rad': float(first.pow(2).mean().sqrt()),
            'train_pairs': len(train),
            'heldout_pairs': held,
        }
