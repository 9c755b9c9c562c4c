"""Collect random exploration episodes in the simulator into a dataset folder.

Episodes are smooth random motions between random waypoints. The folder gets shards of .npy
arrays, meta.json, and contact_sheet.png (sample frames and goal images). An interrupted run is
resumed by running the same command again; a folder holding a different dataset is refused.
"""

from __future__ import annotations

import argparse
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
from jepa_ros.envs.scene import load_scene

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
        '--steps',
        type=int,
        default=ExplorationConfig.steps_per_episode,
        help=help_of(ExplorationConfig, 'steps_per_episode') + ' (default: %(default)s)',
    )
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


def run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    try:
        config = CollectConfig(
            episodes=args.episodes,
            seed=args.seed,
            shard_episodes=args.shard_episodes,
            workers=args.workers,
            exploration=ExplorationConfig(steps_per_episode=args.steps),
        )
    except ValueError as exc:
        raise CollectError(str(exc)) from None
    total = config.episodes * (config.exploration.steps_per_episode + 1)
    with tqdm(total=total, unit='frame', desc='collect', dynamic_ncols=True, delay=0.5) as bar:
        meta = collect(scene, config, args.out, on_shard=bar.update)
        collected = bar.n
    dataset = ExplorationDataset(args.out)
    if collected:
        speed = f'{collected} new at {meta["frames_per_second_this_run"]} frames/s'
    else:
        speed = 'already complete, nothing collected'
    print(f'{dataset.frames} frames, {dataset.episodes} episodes in {args.out} ({speed})')
    if not args.no_contact_sheet:
        with ArmWorld(scene, seed=args.seed) as world:
            rng = np.random.default_rng([args.seed, 1 << 30])  # apart from every episode's seed
            goals = [world.sample_goal(rng).images for _ in range(args.goals)]
        path = contact_sheet(dataset, goals, args.out / CONTACT_SHEET)
        print(f'contact sheet: {path}')
    return 0
