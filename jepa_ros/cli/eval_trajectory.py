"""`jepa-ros eval --trajectories DIR`: the trajectory-goal protocol on a gymnasium world
(jepa_ros/trajectory_eval.py): start and goal from the same held-out trajectory, the goal
--goal-offset steps ahead, a --budget of steps, success by the state rule of --success,
--tolerance and --angles. Policies: jepa, untrained, random, on the same pairs."""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
from pathlib import Path

import torch
from tqdm import tqdm

from jepa_ros.configurator import TaskError
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.device import model_device, resolve_device
from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig, GymWorldError
from jepa_ros.trajectory_eval import (
    LatentGoalPolicy,
    RandomGymPolicy,
    run_pair,
    SuccessRule,
    summarize_pairs,
    trajectory_figure,
    trajectory_pairs,
)
from jepa_ros.world_model.checkpoint import check_world, load_checkpoint
from jepa_ros.world_model.model import WorldModel

TRAJECTORY_POLICIES = ('jepa', 'untrained', 'random')


def add_trajectory_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--trajectories', type=Path,
        help='trajectory-goal protocol: a held-out dataset of `jepa-ros collect --env` '
        '(another seed than the training data)',
    )  # fmt: skip
    parser.add_argument(
        '--goal-offset', type=int, default=25,
        help='--trajectories: the goal is this many steps after the start (default 25)',
    )  # fmt: skip
    parser.add_argument(
        '--success', metavar='STATE',
        help="--trajectories: the state vector judged, e.g. 'qpos[0:2]' or 'obs[0:2]'",
    )  # fmt: skip
    parser.add_argument(
        '--tolerance', type=float,
        help='--trajectories: largest difference of a component from the goal',
    )  # fmt: skip
    parser.add_argument(
        '--angles', action='store_true',
        help='--trajectories: the components are angles (differences wrapped)',
    )  # fmt: skip
    parser.add_argument(
        '--goal-proprio', type=proprio_slice, metavar='A:B',
        help='--trajectories: only these components of the proprio vector make the goal '
        "energy (e.g. positions, not the goal frame's velocities; default: all)",
    )  # fmt: skip
    parser.add_argument(
        '--rest-weight', type=float, default=0.0,
        help='--trajectories: weight of the motion the model predicts at the end of the '
        'planning horizon (the goal dims\' change over its last step): arrive at rest, for '
        'torque-controlled envs (default 0)',
    )  # fmt: skip


def proprio_slice(text: str) -> slice:
    """'a:b' -> slice(a, b)."""
    try:
        start, stop = (int(v) if v else None for v in text.split(':'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'write A:B (e.g. 0:4), got {text!r}') from None
    return slice(start, stop)


def run_trajectories(args: argparse.Namespace, task) -> int:
    """The protocol on the gymnasium world of --trajectories, with the task's planner."""
    if args.checkpoint is None:
        raise TaskError('--trajectories needs --checkpoint')
    if args.success is None or args.tolerance is None:
        raise TaskError('--trajectories needs a success rule: --success STATE --tolerance T')
    args.policies = args.policies or list(TRAJECTORY_POLICIES)
    unknown = [p for p in args.policies if p not in TRAJECTORY_POLICIES]
    if unknown:
        raise TaskError(f'--trajectories runs {", ".join(TRAJECTORY_POLICIES)}, not {unknown}')
    data = ExplorationDataset(args.trajectories)
    if data.world is None:
        raise TaskError(f'{args.trajectories} is arm data; --trajectories takes a gymnasium '
                        "world's (jepa-ros collect --env)")  # fmt: skip
    model, metadata = load_checkpoint(args.checkpoint, device=resolve_device(args.device))
    check_world(metadata.get('world'), data.world, f'checkpoint {args.checkpoint}')
    try:
        rule = SuccessRule(args.success, args.tolerance, args.angles)
        world = GymWorld(GymWorldConfig.from_dict(data.world))
    except GymWorldError as exc:
        raise TaskError(str(exc)) from None
    runs, summaries = {}, {}
    with world:
        try:
            pairs = trajectory_pairs(data, args.goal_offset, args.episodes, args.seed)
            for name in args.policies:
                policy = make_gym_policy(name, model, world, task, args)
                runs[name] = [
                    run_pair(world, data, policy, pair, args.goal_offset, args.budget, rule)
                    for pair in tqdm(pairs, desc=name, unit='pair', dynamic_ncols=True)
                ]
                summaries[name] = summarize_pairs(runs[name], rule)
                print(name, json.dumps(summaries[name]))
        except GymWorldError as exc:
            raise TaskError(str(exc)) from None
    main = args.policies[0]
    report = {
        **summaries[main],
        'policy': main,
        'protocol': 'trajectory_goal',
        'checkpoint': str(args.checkpoint),
        'trajectories': str(args.trajectories),
        'env': data.world['env'],
        'goal_offset': args.goal_offset,
        'budget': args.budget,
        'seed': args.seed,
        'success_rule': rule.describe(),
        'success_judged': 'at the end of the budget',
        'goal_proprio': None
        if args.goal_proprio is None
        else [args.goal_proprio.start, args.goal_proprio.stop],
        'rest_weight': args.rest_weight,
        'task': task.to_dict(),
        'baselines': {k: v for k, v in summaries.items() if k != main},
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot = trajectory_figure(runs, rule, args.plot or args.json.with_suffix('.png'))
    print(f'results: {args.json}\nplot: {plot}')
    return 0


def make_gym_policy(name: str, model: WorldModel, world: GymWorld, task, args):
    if name == 'random':
        return RandomGymPolicy(world.action_low, world.action_high, args.seed)
    if name == 'untrained':
        torch.manual_seed(args.seed)
        model = WorldModel(model.config).eval().to(model_device(model))
    planner_config = replace(task.planner_config, seed=args.seed)
    return LatentGoalPolicy(model, task.planner, planner_config, task.cost, world.action_low,
                            world.action_high, args.goal_proprio, args.rest_weight)  # fmt: skip
