"""Scene tools. `jepa-ros scene init` writes a scene YAML for your physical arm from its URDF
(a file, or robot_state_publisher's `/robot_description`): joints checked against the URDF,
ranges from its limits, the camera topic. `jepa-ros scene collisions SCENE` samples which link
pairs the collision check may skip (adjacent, in collision at home, always or never in
collision) and prints the scene's `allowed_collisions` list; `--write` puts it into the file.
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
    init = tools.add_parser('init', help='write a scene YAML for a physical arm from its URDF')
    source = init.add_mutually_exclusive_group(required=True)
    source.add_argument('--urdf', type=Path, help='the URDF file')
    source.add_argument(
        '--urdf-topic',
        help="read the URDF from this topic (robot_state_publisher's latched "
        "'/robot_description'); it is saved beside --out",
    )
    init.add_argument(
        '--joints', nargs='+', required=True,
        help="the joints the actor moves (the controller's joint names)",
    )  # fmt: skip
    init.add_argument('--camera-topic', required=True, help="the camera driver's image topic")
    init.add_argument('--out', type=Path, required=True, help='scene YAML to write')
    init.add_argument('--ee-link', default='',
                      help='end-effector link (default: the tip of the chain)')  # fmt: skip
    init.add_argument('--name', default='', help='scene name (default: the URDF robot name)')
    init.add_argument('--size', type=int, nargs=2, default=(96, 96), metavar=('W', 'H'),
                      help='image size the model sees (default: 96 96)')  # fmt: skip
    init.add_argument(
        '--max-step-rad', type=float, default=0.05,
        help='largest joint change per action (default: 0.05, small for hardware)',
    )  # fmt: skip
    init.add_argument('--timeout-s', type=float, default=10.0,
                      help='how long to wait for --urdf-topic (default: 10)')  # fmt: skip
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
    return init(args) if args.tool == 'init' else collisions(args)


def init(args: argparse.Namespace) -> int:
    from jepa_ros.envs.scene_init import arm_scene

    urdf = args.urdf
    if urdf is None:
        from jepa_ros.nodes.robot_description import read_robot_description

        text = read_robot_description(args.urdf_topic, args.timeout_s)
        urdf = args.out.with_suffix('.urdf')
        urdf.parent.mkdir(parents=True, exist_ok=True)
        urdf.write_text(text)
    scene = arm_scene(urdf, args.joints, args.camera_topic, args.out, args.name, args.ee_link,
                      tuple(args.size), args.max_step_rad)  # fmt: skip
    ranges = ', '.join(f'{j} [{lo:g}, {hi:g}]' for j, (lo, hi) in scene.sample_ranges.items())
    print(f'{args.out}: scene {scene.name!r}, end-effector {scene.ee_link!r}, joints {ranges}; '
          'narrow the ranges to what is safe before exploring')  # fmt: skip
    return 0


def collisions(args: argparse.Namespace) -> int:
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
