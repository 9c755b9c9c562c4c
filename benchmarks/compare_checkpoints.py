"""Compare two checkpoints' weights: are they bitwise identical, and how far apart if not?

python benchmarks/compare_checkpoints.py models/jepa_panda.pt runs/panda/model.pt
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from jepa_ros.world_model.checkpoint import read_payload


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    a, b = (read_payload(Path(p)) for p in sys.argv[1:])
    if a['config'] != b['config']:
        print(json.dumps({'same_config': False}))
        return 1
    diffs = {
        name: float((a['state_dict'][name].float() - b['state_dict'][name].float()).abs().max())
        for name in a['state_dict']
    }
    result = {
        'same_config': True,
        'bitwise_identical': all(d == 0.0 for d in diffs.values()),
        'max_abs_difference': max(diffs.values()),
        'train_seconds': [a['metadata'].get('train_seconds'), b['metadata'].get('train_seconds')],
    }
    print(json.dumps(result, indent=2))
    return 0 if result['bitwise_identical'] else 1


if __name__ == '__main__':
    sys.exit(main())
