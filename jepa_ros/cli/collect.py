"""Collect random exploration episodes in the simulator into a dataset folder.

Episodes are smooth random motions between random waypoints (the arm of --scene), or a random
policy in a gymnasium environment (--env gymnasium:ID, with --proprio naming the proprioceptive
vector: obs, obs[a:b], obs.KEY, info.KEY, ...). The folder gets shards of .npy arrays,
meta.json, and contact_sheet.png (sample frames and goal images). An interrupted run is resumed
by running the same command again; a folder holding a different dataset is refused.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from jepa_ros.data.collect import collect, CollectConfig, CollectError
from jepa_ros.data.contact_sheet import contact_sheet
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.data.exploration import ExplorationConfig
from jepa_ros.describe import help_of
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.gym_world import ENV_PREFIX, GymWorldConfig, GymWorldError
from jepa_ros.envs.scene import load_scene, SceneConfig

CONTACT_SHEET = 'contact_sheet.png'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--episodes', type=int, required=True, help=help_of(CollectConfig, 'episodes')
    )
    parser.add_argument('--out', type=Path, required=True, help='dataset folder to write')
    parser.add_argument('--seed', type=int, default=0, help=help_of(CollectConfig, 'seed'))
    parser.add_argument(
        '--scene',
        default='panda',
        help='scene YAML path, or a shipped scene name (default: panda)',
    )
    parser.add_argument(
        '--env',
        help='a gymnasium world instead of the arm: gymnasium:ID (e.g. gymnasium:Reacher-v5, '
        "or gymnasium:my_pkg.envs:MyEnv-v0); needs pip install '.[gym]'",
    )
    parser.add_argument('--proprio', help='--env: ' + help_of(GymWorldConfig, 'proprio'))
    parser.add_argument(
        '--env-kwargs', type=json.loads, default={}, metavar='JSON',
        help='--env: more keyword arguments of gymnasium.make, e.g. a camera: '
        '\'{"default_camera_config": {"distance": 0.6, "elevation": -90}}\'',
    )  # fmt: skip
    parser.add_argument(
        '--size', type=int, nargs=2, default=(64, 64), metavar=('W', 'H'),
        help='--env: image width and height (default: 64 64)',
    )  # fmt: skip
    parser.add_argument(
        '--stack', type=int, default=1,
        help='--env: ' + help_of(GymWorldConfig, 'stack') + ' (default: 1)',
    )  # fmt: skip
    parser.add_argument(
        '--steps',
        type=int,
        default=ExplorationConfig.steps_per_episode,
        help=help_of(ExplorationConfig, 'steps_per_episode') + ' (default: %(default)s)',
    )
    parser.add_argument(
        '--action-scale', type=float, nargs=2, metavar=('MIN', 'MAX'),
        default=ExplorationConfig.action_scale,
        help='--env: ' + help_of(ExplorationConfig, 'action_scale') + ' (default: 1 1)',
    )  # fmt: skip
    parser.add_argument(
        '--workers',
        type=int,
        default=os.cpu_count() or 1,
        help=help_of(CollectConfig, 'workers') + ' (default: all cores, %(default)s)',
    )
    parser.add_argument(
        '--shard-episodes',
        type=int,
        default=10,
        help=help_of(CollectConfig, 'shard_episodes') + ' (default: %(default)s)',
    )
    parser.add_argument(
        '--goals', type=int, default=8, help='goal images on the contact sheet (default: 8)'
    )
    parser.add_argument('--no-contact-sheet', action='store_true', help='skip the contact sheet')


def world_from_args(args: argparse.Namespace) -> SceneConfig | GymWorldConfig:
    """The gymnasium world of --env, else the arm of --scene."""
    if args.env is None:
        return load_scene(args.scene)
    if not args.env.startswith(ENV_PREFIX):
        raise CollectError(
            f'--env {args.env!r}: write {ENV_PREFIX}ID (e.g. {ENV_PREFIX}Reacher-v5)'
        )
    if not args.proprio:
        raise CollectError('--env needs --proprio: the proprioceptive vector (obs[a:b], obs.KEY, '
                           'info.KEY, ...)')  # fmt: skip
    return GymWorldConfig(args.env, args.proprio, width=args.size[0], height=args.size[1],
                          stack=args.stack, kwargs=args.env_kwargs)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        world = world_from_args(args)
    except GymWorldError as exc:
        raise CollectError(str(exc)) from None
    try:
        config = CollectConfig(
            episodes=args.episodes,
            seed=args.seed,
            shard_episodes=args.shard_episodes,
            workers=args.workers,
            exploration=ExplorationConfig(
                steps_per_episode=args.steps, action_scale=tuple(args.action_scale)
            ),  # fmt: skip
        )
    except ValueError as exc:
        raise CollectError(str(exc)) from None
    total = config.episodes * (config.exploration.steps_per_episode + 1)
    with tqdm(total=total, unit='frame', desc='collect', dynamic_ncols=True, delay=0.5) as bar:
        try:
            meta = collect(world, config, args.out, on_shard=bar.update)
        except GymWorldError as exc:
            raise CollectError(str(exc)) from None
        collected = bar.n
    dataset = ExplorationDataset(args.out)
    if collected:
        speed = f'{collected} new at {meta["frames_per_second_this_run"]} frames/s'
    else:
        speed = 'already complete, nothing collected'
    print(f'{dataset.frames} frames, {dataset.episodes} episodes in {args.out} ({speed})')
    if args.no_contact_sheet:
        return 0
    if isinstance(world, GymWorldConfig):  # the trajectory protocol's goals are later frames
        step = dataset.get('step')
        ends = np.flatnonzero(np.diff(step, append=0) <= 0)[: args.goals]
        goals, label = list(dataset.get('images', ends)), 'episode end frames'
    else:
        with ArmWorld(world, seed=args.seed) as arm:
            rng = np.random.default_rng([args.seed, 1 << 30])  # apart from every episode's seed
            goals = [arm.sample_goal(rng).images for _ in range(args.goals)]
        label = 'sampled goal images'
    path = contact_sheet(dataset, goals, args.out / CONTACT_SHEET, goal_label=label)
    print(f'contact sheet: {path}')
    return 0
