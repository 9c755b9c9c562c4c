"""How precisely a Reacher-v5 world model knows the two joint angles: the encoder's angle error
(from the cos/sin proprio dims of the latent, de-standardised) and the k-step rollout's, on
held-out frames, in radians (median and p90 per joint). Assumes `--proprio 'obs[0:8]'`
(cos q1, cos q2, sin q1, sin q2, target x, y, qvel1, qvel2).

    python benchmarks/reacher/precision.py --checkpoint runs/reacher/run/model.pt \\
        --data runs/reacher/data_heldout --json benchmarks/reacher/precision.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import numpy as np
import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.world_model.checkpoint import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--data', type=Path, required=True)
    parser.add_argument('--frames', type=int, default=400)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.checkpoint)
    data = ExplorationDataset(args.data)
    proprio = model.proprio_encoder
    dims = model.config.proprio_dim

    def angles(latents: torch.Tensor) -> np.ndarray:  # (..., D) -> (..., 2)
        features = latents[..., :dims] * proprio.std + proprio.mean
        return torch.atan2(features[..., 2:4], features[..., 0:2]).numpy()

    def error(predicted: np.ndarray, frames: np.ndarray) -> dict[str, list[float]]:
        joints = data.get('joints', frames)
        truth = np.arctan2(joints[:, 2:4], joints[:, 0:2])
        e = np.abs((predicted - truth + np.pi) % (2 * np.pi) - np.pi)
        return {'median_rad': np.median(e, 0).round(4).tolist(),
                'p90_rad': np.percentile(e, 90, 0).round(4).tolist()}  # fmt: skip

    horizon = 10
    starts = np.random.default_rng(0).choice(data.transition_starts(horizon), args.frames,
                                             replace=False)  # fmt: skip
    with torch.no_grad():
        latents = model.encode(torch.from_numpy(data.get('images', starts)))
        actions = np.stack([data.get('actions', starts + k) for k in range(horizon)], axis=1)
        rollout = model.rollout(latents, torch.from_numpy(actions))
    result = {
        'command': ' '.join(['python', *sys.argv]),
        'frames': args.frames,
        'encoder': error(angles(latents), starts),
        'rollout': {k: error(angles(rollout[:, k - 1]), starts + k) for k in (1, 3, 5, 10)},
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
