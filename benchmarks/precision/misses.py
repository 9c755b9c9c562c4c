"""Where goal-image reaches stop: the direction of each final end-effector error against the
cameras' lines of sight.

Runs the world-model actor under a task on `jepa-ros eval`'s start/goal pairs (same seed, same
pairs, same budget, the configurator's holds) and records each final error: its length, the
joints' differences, and |cos| of the angle between the error and each camera's line of sight
(1: along it, where a camera sees a move only as a change of scale; a random direction gives 0.5
on average), and the goal energy the actor last measured. Simulator ground truth, read only to
score, as in `jepa-ros eval`.

    python benchmarks/precision/misses.py --checkpoint models/jepa_panda.pt --task reach_precise \
        --seed 1000 --json benchmarks/precision/misses_reach_precise_seed1000.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import types

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros.cli.eval import make_policy
from jepa_ros.configurator import load_task
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene
from jepa_ros.evaluation import make_pairs, run_episode
from jepa_ros.world_model.checkpoint import load_checkpoint

REPORTED_FROM_M = 0.015  # errors longer than this are listed one by one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--scene', default='panda')
    parser.add_argument('--task', default='reach_light')
    parser.add_argument('--tasks-file', type=Path, help='another tasks YAML')
    parser.add_argument('--episodes', type=int, default=50)
    parser.add_argument('--seed', type=int, default=1000)
    parser.add_argument('--budget', type=int, default=50)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scene = load_scene(args.scene)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict())
    sights = []
    for camera in scene.cameras:
        sight = np.subtract(camera.target, camera.eye)
        sights.append(sight / np.linalg.norm(sight))
    options = types.SimpleNamespace(no_monitor=False, policy=None, seed=args.seed)
    episodes = []
    with ArmWorld(scene, seed=args.seed) as world:
        pairs = make_pairs(world, args.episodes, args.seed)
        task = load_task(args.task, args.tasks_file)
        policy = make_policy('jepa', model, scene, world, task, options)
        for start, goal in tqdm(pairs, desc='episodes', unit='episode'):
            result = run_episode(world, policy, start, goal, args.budget)
            error = world.ee_position() - goal.ee_position
            distance = float(np.linalg.norm(error))
            episodes.append({
                'final_distance_m': distance,
                'cos_line_of_sight': [abs(float(error @ s)) / max(distance, 1e-9) for s in sights],
                'joint_error_rad': (world.joints() - goal.joints).round(4).tolist(),
                'last_goal_energy': result.infos[-1].get('goal_energy'),
            })  # fmt: skip
    far = [e for e in episodes if e['final_distance_m'] > REPORTED_FROM_M]
    near = [e for e in episodes if e['final_distance_m'] <= REPORTED_FROM_M]

    def median_cos(rows: list[dict]) -> list[float | None]:
        return [float(np.median([r['cos_line_of_sight'][c] for r in rows])) if rows else None
                for c in range(len(sights))]  # fmt: skip

    report = {
        'cameras': [c.name for c in scene.cameras],
        'median_final_distance_m': float(np.median([e['final_distance_m'] for e in episodes])),
        f'errors_over_{REPORTED_FROM_M * 100:g}cm': len(far),
        f'median_cos_line_of_sight_over_{REPORTED_FROM_M * 100:g}cm': median_cos(far),
        f'median_cos_line_of_sight_within_{REPORTED_FROM_M * 100:g}cm': median_cos(near),
        'checkpoint': str(args.checkpoint), 'scene': scene.name, 'task': args.task,
        'seed': args.seed, 'budget': args.budget,
        'command': f'python benchmarks/precision/misses.py --checkpoint {args.checkpoint} '
                   f'--scene {args.scene} --task {args.task} --seed {args.seed} '
                   + (f'--tasks-file {args.tasks_file} ' if args.tasks_file else '')
                   + f'--json {args.json}',
        'episodes': sorted(episodes, key=lambda e: e['final_distance_m']),
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: v for k, v in report.items() if k not in ('episodes', 'command')}))


if __name__ == '__main__':
    main()
