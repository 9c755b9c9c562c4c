"""Import a rosbag2 bag (MCAP or sqlite3) of camera images and joint_states as a dataset.

Frames take the joint state nearest their stamp (within --tolerance-s, else dropped); episodes
split at gaps and at the explorer's episode counter; images are resized to the scene's camera;
the result trains with `jepa-ros train` like a collected dataset. An interrupted import resumes
when the same command is run again; a folder holding a different dataset is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from jepa_ros.data.bag_import import BagImportConfig, import_bag
from jepa_ros.describe import help_of
from jepa_ros.envs.scene import load_scene


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        'bag', type=Path, nargs='+',
        help='rosbag2 folder (or one .mcap / .db3 file); several: read as one recording',
    )  # fmt: skip
    parser.add_argument('--out', type=Path, required=True, help='dataset folder to write')
    parser.add_argument(
        '--scene',
        default='panda',
        help="the arm's scene YAML, or a shipped scene name (default: panda)",
    )
    defaults = BagImportConfig()
    for name in (
        'image_topic',
        'joint_topic',
        'episode_topic',
        'tolerance_s',
        'gap_s',
        'shard_episodes',
    ):
        default = getattr(defaults, name)
        where = '%(default)s'
        if name == 'image_topic':  # the scene's camera topic, when it has one
            default, where = None, f"the scene camera's topic, else {defaults.image_topic}"
        parser.add_argument(
            f'--{name.replace("_", "-")}',
            type=type(getattr(defaults, name)),
            default=default,
            help=f'{help_of(BagImportConfig, name)} (default: {where})',
        )


def run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    config = BagImportConfig(
        args.image_topic or scene.camera_topic or BagImportConfig.image_topic,
        args.joint_topic,
        args.episode_topic,
        args.tolerance_s,
        args.gap_s,
        args.shard_episodes,
    )
    bar = tqdm(total=0, unit='frame', desc='import', dynamic_ncols=True, delay=0.5)

    def indexed(index) -> None:
        bar.total = index.counts['kept']
        bar.refresh()

    with bar:
        meta = import_bag(args.bag, scene, args.out, config, bar.update, indexed)
    counts = meta['import']
    print(
        f'{meta["frames"]} frames, {meta["episodes"]} episodes in {args.out} from '
        f'{counts["images"]} images: {counts["dropped_no_joint_state"]} dropped (no joint '
        f'state within {config.tolerance_s} s), {counts["dropped_short_episodes"]} '
        f'one-frame episodes dropped, {counts["gaps"]} gaps; '
        f'{counts["joint_states_incomplete"]} of {counts["joint_states"]} joint_states '
        f'lacked a controlled joint'
    )
    return 0
