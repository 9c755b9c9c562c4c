"""Why the retreat goes home: the joint-space oracle (straight to the goal joints at the step
limit) against the same oracle through the home pose first, on the evaluation pairs the straight
oracle misses. Simulator ground truth on both sides: this measures the paths, not a model.

    python benchmarks/precision/via_home.py --json benchmarks/precision/via_home.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from jepa_ros.envs.arm_world import ArmWorld, Goal, Observation
from jepa_ros.envs.scene import load_scene
from jepa_ros.evaluation import make_pairs, OraclePolicy, run_episode, SUCCESS_DISTANCE_M


class ViaHomeOracle:
    """Straight to the home joints, then (once within `near_rad`) straight to the goal's."""

    def __init__(self, home: np.ndarray, near_rad: float = 0.05) -> None:
        self.home, self.near_rad = home, near_rad

    def reset(self, goal: Goal) -> None:
        self.goal, self.homeward = goal.joints, True

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        if self.homeward and np.abs(self.home - observation.joints).max() < self.near_rad:
            self.homeward = False
        return (self.home if self.homeward else self.goal) - observation.joints, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scene', default='panda_two_views')
    parser.add_argument('--seeds', type=int, nargs='+', default=[1000, 3000, 4000])
    parser.add_argument('--episodes', type=int, default=50)
    parser.add_argument('--budget', type=int, default=50)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    scene = load_scene(args.scene)
    rows = []
    for seed in args.seeds:
        with ArmWorld(scene, seed=seed) as world:
            home = world.home_joints
            for n, (start, goal) in enumerate(make_pairs(world, args.episodes, seed)):
                straight = run_episode(world, OraclePolicy(), start, goal, args.budget)
                if straight.final_distance < SUCCESS_DISTANCE_M:
                    continue
                via = run_episode(world, ViaHomeOracle(home), start, goal, args.budget)
                rows.append({'seed': seed, 'pair': n,
                             'straight_final_m': round(straight.final_distance, 4),
                             'straight_contacts': straight.contacts,
                             'via_home_final_m': round(via.final_distance, 4),
                             'via_home_steps_to_success': via.steps_to_success,
                             'via_home_contacts': via.contacts})  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
    reached = sum(r['via_home_final_m'] < SUCCESS_DISTANCE_M for r in rows)
    report = {
        'scene': scene.name,
        'seeds': args.seeds,
        'budget': args.budget,
        'home': home.tolist(),
        'straight_misses': len(rows),
        'via_home_reached': reached,
        'pairs': rows,
        'command': f'python benchmarks/precision/via_home.py --json {args.json}',
    }
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(f'{reached} of the {len(rows)} pairs the straight oracle misses reached through home')


if __name__ == '__main__':
    main()
