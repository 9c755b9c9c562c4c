"""A trial, kept to reproduce the numbers in ../README.md: the trajectory-goal eval with a latent
filter, the predictor's one-step prediction from the last latent and action blended with the new
encoding (z = alpha * Pred(z_prev, a_prev) + (1 - alpha) * Enc(x)), to read velocity less noisily.

    python benchmarks/reacher/attempt2/filter_trial.py CHECKPOINT ALPHA PAIRS HELDOUT_DATA

Prints success, reached-at-any-step and the median final error on the tuning pairs (seed 2000).
"""

from __future__ import annotations

from dataclasses import replace
import sys

import torch

from jepa_ros.configurator import load_task
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig
from jepa_ros.trajectory_eval import (
    LatentGoalPolicy,
    run_pair,
    SuccessRule,
    summarize_pairs,
    trajectory_pairs,
)
from jepa_ros.world_model.checkpoint import load_checkpoint


class FilteredPolicy(LatentGoalPolicy):
    """LatentGoalPolicy whose current latent is blended with the predictor's prior."""

    alpha = 0.5

    def reset(self, goal_images):
        self.previous = None  # before the goal is encoded: the goal is not filtered
        super().reset(goal_images)

    def encode(self, images):
        latent = super().encode(images)
        if self.previous is not None and self.goal is not None:
            last, action = self.previous
            prior = self.model.predict(last[None], torch.as_tensor(action).float()[None])[0]
            latent = self.alpha * prior + (1 - self.alpha) * latent
        self.latent = latent
        return latent

    def act(self, now):
        action, info = super().act(now)
        self.previous = (self.latent, action)
        return action, info


def main() -> int:
    checkpoint, alpha, pairs, heldout = (
        sys.argv[1],
        float(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    torch.set_num_threads(1)
    model, _ = load_checkpoint(checkpoint)
    model.eval()
    data = ExplorationDataset(heldout)
    task = load_task('reach_light')
    rule = SuccessRule('qpos[0:2]', 0.05, angles=True)
    FilteredPolicy.alpha = float(alpha)
    with GymWorld(GymWorldConfig.from_dict(data.world)) as world:
        planner = replace(task.planner_config, seed=2000)
        policy = FilteredPolicy(model, task.planner, planner, task.cost, world.action_low,
                                world.action_high, slice(0, 4))  # fmt: skip
        results = [run_pair(world, data, policy, pair, 25, 50, rule)
                   for pair in trajectory_pairs(data, 25, int(pairs), 2000)]  # fmt: skip
    summary = summarize_pairs(results, rule)
    keys = ('success_rate', 'reached_at_any_step_rate', 'median_final_error')
    print(alpha, {k: summary[k] for k in keys})
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
