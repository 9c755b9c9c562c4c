"""How precisely a Reacher-v5 world model knows the two joint angles: the encoder's angle error
(from the cos/sin proprio dims of the latent, de-standardised) and the k-step rollout's, on
held-out frames, in radians (median and p90 per joint). Also: the fraction of frames whose
encoded angles are both within `--tolerance` (the eval's success tolerance), the encoder's
error by how far the arm is bent (|q2|: folded arms hide the elbow), and its joint velocity
error (rad/s). Assumes `--proprio 'obs[0:8]'` (cos q1, cos q2, sin q1, sin q2, target x, y,
qvel1, qvel2).

    python benchmarks/reacher/precision.py --checkpoint runs/reacher/run/model.pt \\
        --data runs/reacher/data_heldout --json benchmarks/reacher/precision.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

import numpy as np
import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.world_model.checkpoint import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--data', type=Path, required=True)
    parser.add_argument('--frames', type=int, default=400)
    parser.add_argument('--tolerance', type=float, default=0.05, help='radians')
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.checkpoint)
    data = ExplorationDataset(args.data)
    proprio = model.proprio_encoder
    dims = model.config.proprio_dim

    def features(latents: torch.Tensor) -> np.ndarray:  # (..., D) -> (..., P), de-standardised
        return (latents[..., :dims] * proprio.std + proprio.mean).double().numpy()

    def angles(values: np.ndarray) -> np.ndarray:  # (..., P) -> (..., 2)
        return np.arctan2(values[..., 2:4], values[..., 0:2])

    def angle_error(latents: torch.Tensor, frames: np.ndarray) -> np.ndarray:  # -> (N, 2)
        truth = angles(data.get('joints', frames))
        return np.abs((angles(features(latents)) - truth + np.pi) % (2 * np.pi) - np.pi)

    def summary(e: np.ndarray) -> dict[str, Any]:
        within = float((e < args.tolerance).all(1).mean())  # both joints
        return {'frames': len(e), 'median_rad': np.median(e, 0).round(4).tolist(),
                'p90_rad': np.percentile(e, 90, 0).round(4).tolist(),
                'both_within_tolerance': round(within, 3)}  # fmt: skip

    horizon = 10
    starts = np.random.default_rng(0).choice(data.transition_starts(horizon), args.frames,
                                             replace=False)  # fmt: skip
    with torch.no_grad():
        latents = model.encode(torch.from_numpy(data.get('images', starts)))
        actions = np.stack([data.get('actions', starts + k) for k in range(horizon)], axis=1)
        rollout = model.rollout(latents, torch.from_numpy(actions))
    encoder = angle_error(latents, starts)
    joints = data.get('joints', starts).astype(np.float64)
    bent = np.abs(angles(joints)[:, 1])
    bends = ((0.0, 1.0), (1.0, 2.5), (2.5, np.pi))
    velocity_error = np.abs(features(latents)[:, 6:8] - joints[:, 6:8])
    result = {
        'command': ' '.join(['python', *sys.argv]),
        'tolerance_rad': args.tolerance,
        'encoder': summary(encoder),
        'encoder_by_bend': {
            f'|q2| in [{lo:.1f}, {hi:.1f})': summary(encoder[(bent >= lo) & (bent < hi)])
            for lo, hi in bends
        },  # fmt: skip
        'encoder_velocity': {
            'median_rad_s': np.median(velocity_error, 0).round(3).tolist(),
            'std_rad_s': joints[:, 6:8].std(0).round(3).tolist(),
        },  # fmt: skip
        'rollout': {k: summary(angle_error(rollout[:, k - 1], starts + k)) for k in (1, 3, 5, 10)},
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
