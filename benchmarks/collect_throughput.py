"""Measure collection throughput: frames / wall time of a whole `jepa-ros collect` run.

    python benchmarks/collect_throughput.py --episodes 200 \
        --json benchmarks/collect_throughput.json

Wall time includes process start, scene loading and worker start-up; the contact sheet is off.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--episodes', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--json', type=Path, required=True, help='where to write the result')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / 'data'
        command = [
            sys.executable,
            '-m',
            'jepa_ros.cli',
            'collect',
            '--episodes',
            str(args.episodes),
            '--seed',
            str(args.seed),
            '--workers',
            str(args.workers),
            '--out',
            str(out),
            '--no-contact-sheet',
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True)
        wall = time.perf_counter() - start
        meta = json.loads((out / 'meta.json').read_text())
    result = {
        'command': 'jepa-ros ' + ' '.join(command[3:-3]) + ' --out DIR --no-contact-sheet',
        'episodes': meta['episodes'],
        'frames': meta['frames'],
        'image_shape': meta['image_shape'],
        'workers': args.workers,
        'wall_seconds': round(wall, 2),
        'frames_per_second': round(meta['frames'] / wall, 1),
        'cpu_count': os.cpu_count(),
        'machine': platform.machine(),
        'python': platform.python_version(),
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
