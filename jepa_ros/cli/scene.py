"""Scene tools: `jepa-ros scene collisions SCENE` samples which link pairs the collision check may
skip (adjacent, in collision at home, always or never in collision) and prints the scene's
`allowed_collisions` list; `--write` puts it into the scene file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import re

from tqdm import tqdm
import yaml

from jepa_ros.collision import allowed_collisions
from jepa_ros.envs.scene import load_scene, resolve_scene_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tools = parser.add_subparsers(dest='tool', required=True, metavar='TOOL')
    collisions = tools.add_parser('collisions', help='sample the allowed-collision list')
    collisions.add_argument('scene', help="scene YAML path or shipped name ('panda')")
    collisions.add_argument('--samples', type=int, default=10_000, help='random configurations')
    collisions.add_argument('--seed', type=int, default=0, help='seed of the samples')
    collisions.add_argument(
        '--write', action='store_true', help='replace allowed_collisions in the scene file'
    )


def collisions_block(entries: list[tuple[str, str, str]], samples: int, seed: int) -> str:
    """The scene YAML's allowed_collisions key, one flow-style entry per line."""
    lines = [f'# Link pairs the collision check skips (jepa-ros scene collisions, {samples} '
             f'samples, seed {seed}).', 'allowed_collisions:']  # fmt: skip
    lines += [f'  - {yaml.safe_dump(list(e), default_flow_style=True).strip()}' for e in entries]
    return '\n'.join(lines) + '\n'


def replace_block(text: str, block: str) -> str:
    """`text` (a scene YAML) with its allowed_collisions key (and the comment line above it)
    replaced by `block`, or `block` appended."""
    pattern = re.compile(r'(^# Link pairs the collision check skips.*\n)?^allowed_collisions:.*\n'
                         r'(^[ -].*\n)*', re.MULTILINE)  # fmt: skip
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip('\n') + '\n' + block


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise ValueError(f'--samples must be >= 1, got {args.samples}')
    scene = load_scene(args.scene)
    with tqdm(total=args.samples, desc='sampling', unit='pose') as bar:
        entries = allowed_collisions(scene, args.samples, args.seed, progress=bar.update)
    block = collisions_block(entries, args.samples, args.seed)
    if not args.write:
        print(block, end='')
        return 0
    path = Path(resolve_scene_path(args.scene))
    path.write_text(replace_block(path.read_text(), block))
    load_scene(path)  # still a valid scene
    print(f'{path}: {len(entries)} allowed pairs')
    return 0
