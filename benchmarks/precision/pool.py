"""Pool `jepa-ros eval` JSONs of several seeds into one report: success at 5 and 2 cm, the
median final distance, and the median steps to success against the oracle's on the same pairs
(pooled, on the pairs both reach, and per seed). Reads the per-pair lists each JSON carries.

    cd benchmarks/precision && python pool.py \\
        --evals eval_reach_precise_two_views_retreat_seed{1000,3000,4000}.json \\
        --oracle eval_oracle_seed{1000,3000,4000}.json \\
        --json pooled_reach_precise_two_views_retreat.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jepa_ros.evaluation import PRECISE_DISTANCE_M, SUCCESS_DISTANCE_M


def median_steps(steps: list[int | None]) -> float | None:
    reached = [s for s in steps if s is not None]
    return float(np.median(reached)) if reached else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--evals', type=Path, nargs='+', required=True)
    parser.add_argument('--oracle', type=Path, nargs='+', required=True, help='same seeds, order')
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    if len(args.evals) != len(args.oracle):
        parser.error('--evals and --oracle need one file each per seed, in the same order')
    runs = [json.loads(p.read_text()) for p in args.evals]
    oracles = [json.loads(p.read_text()) for p in args.oracle]
    for run, oracle in zip(runs, oracles):
        if run['seed'] != oracle['seed'] or len(run['final_distances_m']) != len(
            oracle['final_distances_m']
        ):
            parser.error(f'seed {run["seed"]}: the oracle file is of other pairs')
    finals = np.concatenate([r['final_distances_m'] for r in runs])
    steps = [s for r in runs for s in r['steps_to_success']]
    oracle_steps = [s for o in oracles for s in o['steps_to_success']]
    both = [(s, o) for s, o in zip(steps, oracle_steps) if s is not None and o is not None]
    report = {
        'evals': [str(p) for p in args.evals],
        'pairs': len(finals),
        'reached': int((finals < SUCCESS_DISTANCE_M).sum()),
        'success_rate': float((finals < SUCCESS_DISTANCE_M).mean()),
        'success_rate_2cm': float((finals < PRECISE_DISTANCE_M).mean()),
        'median_final_distance_m': float(np.median(finals)),
        'median_steps': median_steps(steps),
        'oracle_median_steps': median_steps(oracle_steps),
        'both_reach_pairs': len(both),
        'both_reach_median_steps': float(np.median([s for s, _ in both])),
        'both_reach_oracle_median_steps': float(np.median([o for _, o in both])),
        'per_seed_steps': {
            str(r['seed']): [
                median_steps(r['steps_to_success']),
                median_steps(o['steps_to_success']),
            ]
            for r, o in zip(runs, oracles)
        },  # fmt: skip
    }
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
