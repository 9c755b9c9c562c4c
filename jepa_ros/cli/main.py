"""`jepa-ros <command>`: the entry point; each command lives in its own module."""

from __future__ import annotations

import argparse
import sys

from jepa_ros import __version__
from jepa_ros.cli import calibrate, collect, demo, distill, import_bag, probe, scene, train
from jepa_ros.cli import eval as evaluate
from jepa_ros.configurator import TaskError
from jepa_ros.data.collect import CollectError
from jepa_ros.data.dataset import DatasetError
from jepa_ros.device import DeviceError
from jepa_ros.envs.scene import SceneError
from jepa_ros.world_model.checkpoint import CheckpointError

COMMANDS = {
    'demo': demo, 'collect': collect, 'train': train, 'probe': probe, 'eval': evaluate,
    'calibrate': calibrate, 'scene': scene, 'import-bag': import_bag, 'distill': distill,
}  # fmt: skip
USER_ERRORS = (
    demo.DemoError,
    CheckpointError,
    CollectError,
    DatasetError,
    DeviceError,
    SceneError,
    TaskError,
    FileNotFoundError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='jepa-ros',
        description='JEPA world model and MPC actor for robot arms: data, training, evaluation.',
    )
    parser.add_argument('--version', action='version', version=f'%(prog)s {__version__}')
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for name, module in COMMANDS.items():
        doc = module.__doc__.strip()
        sub = commands.add_parser(name, help=doc.splitlines()[0], description=doc)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except USER_ERRORS as exc:
        print(f'jepa-ros {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f'jepa-ros {args.command}: interrupted', file=sys.stderr)
        return 130
