"""Evaluate zero-shot goal-image reaching in the simulator, against baselines.

N start/goal pairs from --seed (keep it apart from the data seeds), a fixed step budget, no early
stop. Success: the final end-effector position within 5 cm of the goal image's (simulator ground
truth, used only to score). Policies: `jepa` (the world-model actor), `random` (random actions),
`oracle` (straight to the goal joints at the step limit), `untrained` (the same planner on an
untrained model). Writes the JSON and a PNG (final distances, distance and energy vs step).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import json
import os
from pathlib import Path

import torch
from tqdm import tqdm

from jepa_ros.actor import Actor
from jepa_ros.cost.cost import CostConfig, TrajectoryCost
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.envs.scene import load_scene, SceneConfig
from jepa_ros.evaluation import (
    JepaPolicy,
    make_pairs,
    OraclePolicy,
    RandomPolicy,
    run_episode,
    summarize,
)  # fmt: skip
from jepa_ros.evaluation_plot import eval_figure
from jepa_ros.planning.planners import CEMPlanner, MPPIPlanner, PlannerConfig
from jepa_ros.world_model.checkpoint import load_checkpoint
from jepa_ros.world_model.model import WorldModel

POLICIES = ('jepa', 'random', 'oracle', 'untrained')
PLANNERS = {'cem': CEMPlanner, 'mppi': MPPIPlanner}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path, required=True, help='model.pt to evaluate')
    parser.add_argument('--episodes', type=int, default=50, help='start/goal pairs (default 50)')
    parser.add_argument('--seed', type=int, default=1000, help='seed of the pairs (default 1000)')
    parser.add_argument('--budget', type=int, default=50, help='steps per episode (default 50)')
    parser.add_argument('--json', type=Path, required=True, help='where to write the results')
    parser.add_argument('--plot', type=Path, help='PNG to write (default: JSON path, .png)')
    parser.add_argument('--scene', default='panda', help='scene YAML path or shipped name')
    parser.add_argument(
        '--policies', nargs='+', choices=POLICIES, default=list(POLICIES),
        help='policies to run (default: all)',
    )  # fmt: skip
    parser.add_argument('--planner', choices=sorted(PLANNERS), default='cem')
    parser.add_argument('--horizon', type=int, default=5, help='planning horizon (default 5)')
    parser.add_argument('--samples', type=int, default=300, help='samples per iteration')
    parser.add_argument('--iterations', type=int, default=3, help='planner iterations')
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1, help='CPU threads')


def cost_config(scene: SceneConfig) -> CostConfig:
    """The cost the actor plans with: guardrails at the scene's end-effector height floor."""
    return CostConfig(min_ee_height_m=scene.ee_height_range[0])


def build_actor(model: WorldModel, scene: SceneConfig, world: ArmWorld, args) -> Actor:
    """The composition root of the world-model actor."""
    planner_config = PlannerConfig(
        horizon=args.horizon, samples=args.samples, iterations=args.iterations,
        elites=max(1, args.samples // 10), action_limit=scene.max_step_rad, seed=args.seed,
    )  # fmt: skip
    planner = PLANNERS[args.planner](planner_config, scene.action_dim)
    kinematics = ForwardKinematics(
        scene.urdf(), scene.controlled_joints, [scene.ee_link], scene.home
    )
    limits = world.limits
    cost = TrajectoryCost(
        model, kinematics, torch.from_numpy(limits.lower), torch.from_numpy(limits.upper),
        cost_config(scene),
    )  # fmt: skip
    return Actor(model, planner, cost, limits)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    scene = load_scene(args.scene)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict())
    results, summaries = {}, {}
    with ArmWorld(scene, seed=args.seed) as world:
        pairs = make_pairs(world, args.episodes, args.seed)
        for name in args.policies:
            policy = make_policy(name, model, scene, world, args)
            results[name] = [
                run_episode(world, policy, start, goal, args.budget)
                for start, goal in tqdm(pairs, desc=name, unit='episode', dynamic_ncols=True)
            ]
            summaries[name] = summarize(results[name])
            print(name, json.dumps(summaries[name]))
    main = args.policies[0]
    report = {
        **summaries[main],
        'policy': main,
        'checkpoint': str(args.checkpoint),
        'seed': args.seed,
        'budget': args.budget,
        'planner': {'name': args.planner, 'horizon': args.horizon, 'samples': args.samples,
                    'iterations': args.iterations},
        'cost': asdict(cost_config(scene)),
        'baselines': {k: v for k, v in summaries.items() if k != main},
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot = eval_figure(results, args.plot or args.json.with_suffix('.png'))
    print(f'results: {args.json}\nplot: {plot}')
    return 0


def make_policy(name: str, model: WorldModel, scene: SceneConfig, world: ArmWorld, args):
    if name == 'jepa':
        return JepaPolicy(build_actor(model, scene, world, args))
    if name == 'untrained':
        torch.manual_seed(args.seed)
        return JepaPolicy(build_actor(WorldModel(model.config).eval(), scene, world, args))
    if name == 'random':
        return RandomPolicy(scene.max_step_rad, scene.action_dim, args.seed)
    return OraclePolicy()
