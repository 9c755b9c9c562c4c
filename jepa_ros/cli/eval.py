"""Evaluate zero-shot goal-image reaching in the simulator, against baselines.

N start/goal pairs from --seed (keep it apart from the data seeds and the calibration seed), a
fixed step budget, no early stop from ground truth. Success: the final end-effector position
within 5 cm of the goal image's (simulator ground truth, used only to score). Policies: `jepa`
(the world-model actor under the configurator's task: it holds once the goal energy says
reached), `random` (random actions), `oracle` (straight to the goal joints at the step limit),
`untrained` (the same planner on an untrained model). Writes the JSON, a PNG (final distances,
distance and energy vs step) and, with --gif, an animation of the first episodes.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
from pathlib import Path

import torch
from tqdm import tqdm

from jepa_ros.configurator import (
    build_actor,
    DEFAULT_TASK,
    load_task,
    PLANNERS,
    TaskConfig,
    TaskError,
    TaskMonitor,
)
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene, SceneConfig
from jepa_ros.evaluation import (
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path, required=True, help='model.pt to evaluate')
    parser.add_argument('--episodes', type=int, default=50, help='start/goal pairs (default 50)')
    parser.add_argument('--seed', type=int, default=1000, help='seed of the pairs (default 1000)')
    parser.add_argument('--budget', type=int, default=50, help='steps per episode (default 50)')
    parser.add_argument('--json', type=Path, required=True, help='where to write the results')
    parser.add_argument('--plot', type=Path, help='PNG to write (default: JSON path, .png)')
    parser.add_argument('--gif', type=Path, help='also write a GIF of the first episodes here')
    parser.add_argument('--gif-episodes', type=int, default=4, help='episodes in the GIF')
    parser.add_argument(
        '--policies', nargs='+', choices=POLICIES, default=list(POLICIES),
        help='policies to run (default: all; the first is the main one)',
    )  # fmt: skip
    parser.add_argument(
        '--gate', action='store_true',
        help="pass every policy's actions through the guardrail gate (limits, workspace, "
             "collision), as on the robot; reports how often it refused",
    )  # fmt: skip
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
    torch.set_num_threads(args.threads)
    task = task_from_args(args)
    scene = load_scene(args.scene)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict())
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
            model = WorldModel(model.config).eval()
        # Thresholds are calibrated for the trained model; the untrained ablation plans throughout
        monitor = None if args.no_monitor or name == 'untrained' else TaskMonitor(task.monitor)
        return JepaPolicy(build_actor(model, scene, world.limits, task, args.seed), monitor)
    if name == 'random':
        return RandomPolicy(scene.max_step_rad, scene.action_dim, args.seed)
    return OraclePolicy()
