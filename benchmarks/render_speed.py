"""Measure the CPU renderer's time per frame at several camera sizes (the default scene otherwise).

python benchmarks/render_speed.py --json benchmarks/render_speed.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
import sys
import time

import numpy as np

from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene


def ms_per_frame(size: int, frames: int) -> float:
    scene = load_scene('panda')
    camera = dataclasses.replace(scene.cameras[0], width=size, height=size)
    scene = dataclasses.replace(scene, cameras=(camera,))
    with ArmWorld(scene, seed=0) as world:
        rng = np.random.default_rng(0)
        poses = [world.sample_configuration(rng) for _ in range(frames)]
        start = time.perf_counter()
        for joints in poses:
            world.reset(joints)  # renders once
        return (time.perf_counter() - start) / frames * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[64, 96, 128])
    parser.add_argument('--frames', type=int, default=100)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    result = {
        'command': ' '.join(['python', *sys.argv]),
        'ms_per_frame': {str(s): round(ms_per_frame(s, args.frames), 2) for s in args.sizes},
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
