"""How long a Reacher recipe took, from what its steps recorded themselves: each dataset's
`collect_seconds_this_run` (meta.json) and the checkpoint's `train_seconds`.

    python benchmarks/reacher/times.py --data runs/reacher/data_train runs/reacher/data_heldout \
        --checkpoint runs/reacher/run/model.pt --json benchmarks/reacher/shipped/times.json

A dataset collected over several runs (resumed) reports only its last run's seconds; the JSON
says so per dataset (`frames_this_run` against `frames`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from jepa_ros.world_model.checkpoint import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', nargs='+', required=True, help='dataset folders (meta.json)')
    parser.add_argument('--checkpoint', required=True, help='the trained model.pt')
    parser.add_argument('--json', required=True, help='where to write the times')
    args = parser.parse_args()
    report: dict = {'command': ' '.join(['python', *sys.argv]), 'collect': {}}
    for folder in args.data:
        meta = json.loads((Path(folder) / 'meta.json').read_text())
        report['collect'][folder] = {
            'seconds': meta['collect_seconds_this_run'],
            'frames': meta['frames'],
            'frames_this_run': meta['frames_this_run'],
            'episodes': meta['episodes'],
        }
    _, metadata = load_checkpoint(args.checkpoint)
    report['train'] = {
        'checkpoint': args.checkpoint,
        'seconds': round(metadata['train_seconds'], 1),
        'devices': metadata.get('train_devices'),
    }
    collect = sum(entry['seconds'] for entry in report['collect'].values())
    report['collect_and_train_seconds'] = round(collect + report['train']['seconds'], 1)
    report['collect_and_train_minutes'] = round(report['collect_and_train_seconds'] / 60, 1)
    Path(args.json).write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: v for k, v in report.items() if k != 'command'}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
