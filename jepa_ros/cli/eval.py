"""Evaluate zero-shot goal-image reaching in the simulator against baselines, or on a live graph.

N start/goal pairs from --seed (keep it apart from the data seeds and the calibration seed), a
fixed step budget, no early stop from ground truth. Success: the final end-effector position
within 5 cm of the goal image's (simulator ground truth, used only to score). Policies: `jepa`
(the world-model actor under the configurator's task: it holds once the goal energy says
reached), `random` (random actions), `oracle` (straight to the goal joints at the step limit),
`untrained` (the same planner on an untrained model). Writes the JSON, a PNG (final distances,
distance and energy vs step) and, with --gif, an animation of the first episodes.

With --ros it measures the running graph instead (your arm, or any arm behind its topics; no
simulator is loaded): start/goal pairs are frames of --goals (a dataset, e.g. `jepa-ros
import-bag` of a held-out bag), the arm is driven to each start through the gate, the goal image
is published, and success is the final end-effector distance by forward kinematics of
joint_states against the goal frame's joints (jepa_ros/nodes/eval_client.py).

With --trajectories it runs the trajectory-goal protocol of the published world-model planners
on a gymnasium world instead (start and goal from one held-out trajectory, the goal
--goal-offset steps ahead, success by a state rule: --success, --tolerance, --angles);
policies jepa, untrained and random (jepa_ros/trajectory_eval.py).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
from pathlib import Path
import sys

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros.cli.eval_trajectory import add_trajectory_arguments, run_trajectories
from jepa_ros.configurator import (
    build_actor,
    DEFAULT_TASK,
    load_task,
    PLANNERS,
    Retreat,
    TaskConfig,
    TaskError,
    TaskMonitor,
)
from jepa_ros.device import add_device_argument, model_device, resolve_device
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene, SceneConfig
from jepa_ros.evaluation import (
    EpisodeResult,
    GatedPolicy,
    JepaPolicy,
    make_pairs,
    OraclePolicy,
    RandomPolicy,
    run_episode,
    scene_guardrails,
    summarize,
)  # fmt: skip
from jepa_ros.evaluation_plot import eval_figure, eval_gif
from jepa_ros.mode1 import ActorMode, policy_for
from jepa_ros.world_model.checkpoint import load_checkpoint
from jepa_ros.world_model.model import WorldModel

POLICIES = ('jepa', 'random', 'oracle', 'untrained')
GATE_RATE_HZ = 12.0  # --gate: a proposal's one point is this far ahead, as the actor's


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """--task and the planner overrides, shared with `jepa-ros calibrate`."""
    parser.add_argument(
        '--task', default=DEFAULT_TASK,
        help=f'named parameter set from config/tasks.yaml (default {DEFAULT_TASK})',
    )  # fmt: skip
    parser.add_argument('--tasks-file', type=Path, help='another tasks YAML')
    parser.add_argument('--planner', choices=sorted(PLANNERS), help="override the task's planner")
    parser.add_argument('--horizon', type=int, help="override the task's planning horizon")
    parser.add_argument('--samples', type=int, help="override the task's samples per iteration")
    parser.add_argument('--iterations', type=int, help="override the task's planner iterations")
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1, help='CPU threads')
    parser.add_argument('--scene', default='panda', help='scene YAML path or shipped name')
    add_device_argument(parser)  # --ros: the graph's nodes have their own `device` parameter
    parser.add_argument(
        '--policy', type=Path,
        help="mode-1 policy (jepa-ros distill) for a task whose actor mode needs one "
             '(default: the shipped models/jepa_panda_mode1.pt)',
    )  # fmt: skip


def add_ros_arguments(parser: argparse.ArgumentParser) -> None:
    """--ros, --goals and --arm, shared with `jepa-ros calibrate`."""
    parser.add_argument(
        '--ros', action='store_true',
        help='measure the running ROS 2 graph (needs rclpy and --goals)',
    )  # fmt: skip
    parser.add_argument(
        '--goals', type=Path, help='--ros: dataset folder whose frames are the starts and goals'
    )
    parser.add_argument('--arm', action='store_true',
                        help='--ros: arm the gate first (jepa/arm true)')  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path,
                        help='model.pt to evaluate (required but with --ros)')  # fmt: skip
    parser.add_argument('--episodes', type=int, default=50, help='start/goal pairs (default 50)')
    parser.add_argument('--seed', type=int, default=1000, help='seed of the pairs (default 1000)')
    parser.add_argument('--budget', type=int, default=50, help='steps per episode (default 50)')
    parser.add_argument('--json', type=Path, required=True, help='where to write the results')
    parser.add_argument('--plot', type=Path, help='PNG to write (default: JSON path, .png)')
    parser.add_argument('--gif', type=Path, help='also write a GIF of the first episodes here')
    parser.add_argument('--gif-episodes', type=int, default=4, help='episodes in the GIF')
    parser.add_argument(
        '--policies', nargs='+', choices=POLICIES,
        help='policies to run (default: all; --trajectories: jepa untrained random; the first '
        'is the main one)',
    )  # fmt: skip
    parser.add_argument(
        '--gate', action='store_true',
        help="pass every policy's actions through the guardrail gate (limits, workspace, "
             "collision), as on the robot; reports how often it refused",
    )  # fmt: skip
    add_ros_arguments(parser)
    add_trajectory_arguments(parser)
    parser.add_argument(
        '--no-monitor',
        action='store_true',
        help='ablation: ignore the success/give-up decisions, plan every step',
    )
    add_task_arguments(parser)


def task_from_args(args: argparse.Namespace) -> TaskConfig:
    """The named task with any planner overrides from the command line applied."""
    task = load_task(args.task, args.tasks_file)
    overrides = {k: getattr(args, k) for k in ('horizon', 'samples', 'iterations')
                 if getattr(args, k) is not None}  # fmt: skip
    if 'samples' in overrides:
        overrides['elites'] = max(1, overrides['samples'] // 10)
    try:
        return replace(
            task,
            planner=args.planner or task.planner,
            planner_config=replace(task.planner_config, **overrides),
        )
    except ValueError as exc:
        raise TaskError(f'task {task.name!r} with the command-line overrides: {exc}') from None


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1 or args.budget < 1 or args.gif_episodes < 1:
        raise TaskError('--episodes, --budget and --gif-episodes must be >= 1')
    if args.ros:
        return run_ros(args)
    if args.trajectories is not None:
        torch.set_num_threads(args.threads)
        return run_trajectories(args, task_from_args(args))
    if args.checkpoint is None:
        raise TaskError('--checkpoint is required (but with --ros)')
    torch.set_num_threads(args.threads)
    args.policies = args.policies or list(POLICIES)
    task = task_from_args(args)
    scene = load_scene(args.scene)
    device = resolve_device(args.device)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict(), device=device)
    results, summaries = {}, {}
    main = args.policies[0]
    guardrails = scene_guardrails(scene) if args.gate else None
    with ArmWorld(scene, seed=args.seed) as world:
        pairs = make_pairs(world, args.episodes, args.seed)
        for name in args.policies:
            policy = make_policy(name, model, scene, world, task, args)
            if args.gate:
                policy = GatedPolicy(policy, guardrails, step_s=1.0 / GATE_RATE_HZ)
            results[name] = [
                run_episode(world, policy, start, goal, args.budget,
                            record=bool(args.gif) and name == main and n < args.gif_episodes)
                for n, (start, goal) in enumerate(tqdm(pairs, desc=name, unit='episode',
                                                       dynamic_ncols=True))
            ]  # fmt: skip
            summaries[name] = summarize(results[name])
            print(name, json.dumps(summaries[name]))
    report = {
        **summaries[main],
        'policy': main,
        'checkpoint': str(args.checkpoint),
        'seed': args.seed,
        'budget': args.budget,
        'monitor': not args.no_monitor,
        'gate': args.gate,
        'scene': scene.name,
        'task': task.to_dict(),
        'baselines': {k: v for k, v in summaries.items() if k != main},
        # per pair, in the pairs' order (to pool several seeds' runs for one median)
        'final_distances_m': [round(r.final_distance, 5) for r in results[main]],
        'steps_to_success': [r.steps_to_success for r in results[main]],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot = eval_figure(results, args.plot or args.json.with_suffix('.png'))
    print(f'results: {args.json}\nplot: {plot}')
    if args.gif:
        shown = results[main][: args.gif_episodes]
        goals = [goal.images for _, goal in pairs[: len(shown)]]
        print(f'gif: {eval_gif(shown, goals, args.gif)}')
    return 0


def make_policy(
    name: str, model: WorldModel, scene: SceneConfig, world: ArmWorld, task: TaskConfig, args
):
    if name in ('jepa', 'untrained'):
        if name == 'untrained':
            torch.manual_seed(args.seed)
            model = WorldModel(model.config).eval().to(model_device(model))
            task = replace(task, actor=ActorMode())  # plans: no policy was distilled from it
        # Thresholds are calibrated for the trained model; the untrained ablation plans throughout
        monitor = None if args.no_monitor or name == 'untrained' else TaskMonitor(task.monitor)
        policy = policy_for(task.actor, model, args.policy or '')
        actor = build_actor(model, scene, world.limits, task, args.seed, policy)
        if not task.retreat.enabled:
            return JepaPolicy(actor, monitor)
        home_latent = actor.encode(world.reset(world.home_joints).images)  # a picture of it
        return JepaPolicy(actor, monitor, Retreat(task.retreat), home_latent)
    if name == 'random':
        return RandomPolicy(scene.max_step_rad, scene.action_dim, args.seed)
    return OraclePolicy()


def ros_pairs(goals: Path, scene: SceneConfig, episodes: int, seed: int):
    """`episodes` (start joints, RosGoal) pairs: distinct frames of the dataset `goals`."""
    from jepa_ros.data.dataset import ExplorationDataset
    from jepa_ros.nodes.eval_client import RosGoal
    from jepa_ros.world_model.checkpoint import check_scene

    data = ExplorationDataset(goals)
    check_scene(data.scene, scene.to_dict(), f'goals dataset {goals}')
    if len(data) < 2 * episodes:
        raise TaskError(f'{goals} has {len(data)} frames; {episodes} pairs need {2 * episodes}')
    frames = np.random.default_rng(seed).choice(len(data), size=2 * episodes, replace=False)
    joints = data.get('joints', frames).astype(float)
    images = data.get('images', frames)[:, 0]
    return [(joints[i], RosGoal(images[i + 1], joints[i + 1])) for i in range(0, 2 * episodes, 2)]


def ros_results(args: argparse.Namespace, scene: SceneConfig, desc: str,
                calibrating: bool = False) -> tuple[list[EpisodeResult], list[dict]]:  # fmt: skip
    """--ros: the pairs of --goals run on the running graph (jepa_ros/nodes/eval_client.py):
    the results, and the pairs skipped because their start could not be reached."""
    if args.goals is None:
        raise TaskError('--ros needs --goals: a dataset of held-out frames (jepa-ros import-bag)')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    try:
        from jepa_ros.nodes.eval_client import GraphError, run_pairs
    except ImportError as exc:
        raise TaskError(f"--ros needs ROS 2's rclpy ({exc}): pip install '.[ros]'") from None
    pairs = ros_pairs(args.goals, scene, args.episodes, args.seed)
    try:
        return run_pairs(scene, pairs, args.budget, GATE_RATE_HZ, args.arm, desc, calibrating)
    except GraphError as exc:
        raise TaskError(str(exc)) from None


def run_ros(args: argparse.Namespace) -> int:
    """The --ros mode: the running graph, reached through its topics and services."""
    scene = load_scene(args.scene)
    results, skipped = ros_results(args, scene, 'ros')
    summary = summarize(results)
    print('ros', json.dumps(summary))
    report = {**summary, 'policy': 'ros_graph', 'mode': 'ros', 'goals': str(args.goals),
              'seed': args.seed, 'budget': args.budget, 'scene': scene.name,
              'simulator_loaded': 'pybullet' in sys.modules, 'skipped_pairs': skipped,
              'success_rule': 'final end-effector distance <= 0.05 m by forward kinematics of '
                              "joint_states against the goal frame's joints"}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot = eval_figure({'ros_graph': results}, args.plot or args.json.with_suffix('.png'))
    print(f'results: {args.json}\nplot: {plot}')
    return 0
