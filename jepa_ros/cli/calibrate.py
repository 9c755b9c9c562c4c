"""Calibrate a task's success and give-up thresholds (goal energy) for a checkpoint.

Runs the task's actor, with no stop, on N start/goal pairs from --seed (keep it apart from the
evaluation seed), records each tick's goal energy with the true end-effector distance, and replays
the configurator's rule over those runs to choose `monitor.success_energy`, `settle_ticks` and
`patience_ticks`. Writes the JSON (chosen values + the whole table) and a PNG, and prints the YAML
lines to put in config/tasks.yaml.

With --ros it calibrates the running graph instead (your arm; no simulator is loaded): pairs are
frames of --goals as in `jepa-ros eval --ros`, the configurator is told not to decide
(`decide: false`) while every goal runs its whole budget, and each tick's goal energy (from the
configurator's status) is paired with the end-effector distance by forward kinematics of
joint_states. The graph must run the task being calibrated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import torch
from tqdm import tqdm

from jepa_ros.calibration import calibrate, calibration_figure
from jepa_ros.cli.eval import (
    add_ros_arguments,
    add_task_arguments,
    ros_results,
    task_from_args,
)
from jepa_ros.configurator import build_actor, TaskError
from jepa_ros.device import resolve_device
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene
from jepa_ros.evaluation import JepaPolicy, make_pairs, run_episode
from jepa_ros.mode1 import policy_for
from jepa_ros.world_model.checkpoint import load_checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path,
                        help='model.pt to calibrate (required but with --ros)')  # fmt: skip
    parser.add_argument('--episodes', type=int, default=50, help='start/goal pairs (default 50)')
    parser.add_argument('--seed', type=int, default=2000, help='seed of the pairs (default 2000)')
    parser.add_argument('--budget', type=int, default=50, help='steps per episode (default 50)')
    parser.add_argument('--json', type=Path, required=True, help='where to write the results')
    add_ros_arguments(parser)
    add_task_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1 or args.budget < 1:
        raise TaskError('--episodes and --budget must be >= 1')
    torch.set_num_threads(args.threads)
    task = task_from_args(args)
    scene = load_scene(args.scene)
    skipped = []
    if args.ros:
        results, skipped = ros_results(args, scene, 'calibrate', calibrating=True)
    else:
        if args.checkpoint is None:
            raise TaskError('--checkpoint is required (but with --ros)')
        device = resolve_device(args.device)
        model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict(), device=device)
        with ArmWorld(scene, seed=args.seed) as world:
            pairs = make_pairs(world, args.episodes, args.seed)
            mode1 = policy_for(task.actor, model, args.policy or '')
            policy = JepaPolicy(build_actor(model, scene, world.limits, task, args.seed, mode1))
            bar = tqdm(pairs, desc='calibrate', unit='episode')
            results = [run_episode(world, policy, start, goal, args.budget) for start, goal in bar]
    report = calibrate(results, task.monitor)
    report.update({
        'checkpoint': str(args.checkpoint), 'task': task.name, 'seed': args.seed,
        'budget': args.budget, 'mode': 'ros' if args.ros else 'sim',
        'simulator_loaded': 'pybullet' in sys.modules, 'skipped_pairs': skipped,
    })  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot = calibration_figure(results, report, args.json.with_suffix('.png'))
    print(
        f'replayed success {report["replayed_success_rate"]:.2f} '
        f'(never stopping: {report["unstopped_success_rate"]:.2f}) over {len(results)} episodes'
    )
    print(f"  monitor: {{success_energy: {report['success_energy']:.4g}, settle_ticks: "
          f"{report['settle_ticks']}, patience_ticks: {report['patience_ticks']}, "
          f"min_progress: {report['min_progress']}}}")  # fmt: skip
    print(f'results: {args.json}\nplot: {plot}')
    return 0
