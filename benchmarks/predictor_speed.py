"""Measure batched predictor throughput on the CPU: latent rollouts per second, as a planner uses.

    python benchmarks/predictor_speed.py --checkpoint models/jepa_panda.pt \
        --json benchmarks/predictor_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time

import torch

from jepa_ros.world_model.checkpoint import load_checkpoint


@torch.no_grad()
def rollouts_per_second(model, samples: int, horizon: int, repeats: int) -> dict[str, float]:
    config = model.config
    latent = torch.randn(samples, config.latent_dim)
    actions = torch.randn(samples, horizon, config.action_dim) * config.max_step_rad
    model.rollout(latent, actions)  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.rollout(latent, actions)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        'samples': samples,
        'horizon': horizon,
        'ms_per_batch_median': round(1000 * sorted(times)[len(times) // 2], 3),
        'rollouts_per_second': round(samples / best, 1),
        'predictions_per_second': round(samples * horizon / best, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--json', type=Path, required=True)
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--repeats', type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, _ = load_checkpoint(args.checkpoint)
    result = {
        'command': f'python benchmarks/predictor_speed.py --checkpoint {args.checkpoint} '
        f'--threads {args.threads}',
        'threads': args.threads,
        'runs': [
            rollouts_per_second(model, s, h, args.repeats)
            for s, h in [(256, 8), (1024, 8), (4096, 8)]
        ],  # fmt: skip
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
