"""Where the goal energy of a Reacher-v5 world model is lowest, around real goal frames: the
perception ceiling of the trajectory-goal protocol.

For each goal frame of the protocol's pairs (held-out data, goal `--goal-offset` steps after the
start), the arm is set at rest on a grid of joint offsets around the goal's angles (the target
where it was), each pose is rendered as the camera sees it and encoded, and its goal energy
(the `--goal-proprio` dims of the latent, as `jepa-ros eval --goal-proprio` weighs them) is taken
against the recorded goal image. A planner that settles where the energy is lowest ends
`argmin_offset` from the goal, so the fraction of goals whose argmin lies within the success
tolerance on both joints bounds the success rate the encoder allows, whatever the planner. The
absolute encoder error (precision.py) does not: near the goal the current and goal images are
encoded by the same network, and much of the error is shared. Also reported: the joint
velocity the encoder reads off the arm at rest at the goal pose (`--proprio 'obs[0:8]'`: dims 6
and 7), which should be zero; a planner brakes against whatever it reads there.

    python benchmarks/reacher/landscape.py --checkpoint runs/reacher/run/model.pt \\
        --data runs/reacher/data_heldout --pairs 50 --seed 1000 --json landscape.json

Writes the JSON and a PNG of the mean energy over the grid (centred at the goal).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros.cli.eval_trajectory import proprio_slice
from jepa_ros.cost.cost import latent_distance
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig
from jepa_ros.images import fit_image
from jepa_ros.trajectory_eval import trajectory_pairs
from jepa_ros.world_model.checkpoint import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--data', type=Path, required=True, help='held-out trajectories')
    parser.add_argument('--pairs', type=int, default=50)
    parser.add_argument('--seed', type=int, default=1000, help="the eval's pair seed")
    parser.add_argument('--goal-offset', type=int, default=25)
    parser.add_argument('--goal-proprio', type=proprio_slice, default=slice(0, 4),
                        help='proprio dims of the energy, A:B (default 0:4)')  # fmt: skip
    parser.add_argument('--radius', type=float, default=0.3, help='grid half-width (rad)')
    parser.add_argument('--spacing', type=float, default=0.025, help='grid spacing (rad)')
    parser.add_argument('--tolerance', type=float, default=0.05, help='success tolerance (rad)')
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, metadata = load_checkpoint(args.checkpoint)
    model.eval()
    data = ExplorationDataset(args.data)
    config = GymWorldConfig.from_dict(metadata['world'])
    weights = torch.zeros(model.config.latent_dim)
    weights[args.goal_proprio] = 1.0
    steps = int(round(args.radius / args.spacing))
    offsets = np.arange(-steps, steps + 1) * args.spacing  # (G,)
    grid = np.stack(np.meshgrid(offsets, offsets, indexing='ij'), -1).reshape(-1, 2)  # (G*G, 2)
    centre = int(np.flatnonzero(np.all(grid == 0, axis=1))[0])  # the goal pose itself
    standard = model.proprio_encoder  # to de-standardise the proprio dims

    def at_rest(world: GymWorld, qpos: np.ndarray) -> np.ndarray:
        """The camera's (V, H, W, 3) stack of the arm held still at `qpos`."""
        env = world.env.unwrapped
        env.set_state(qpos, np.zeros(env.model.nv))
        frame = np.ascontiguousarray(world.env.render(), np.uint8)
        if frame.shape[:2] != (config.height, config.width):
            frame = fit_image(frame, config.height, config.width)
        return np.stack([frame] * config.stack)

    pairs = trajectory_pairs(data, args.goal_offset, args.pairs, args.seed)
    rows = []
    energies = []
    with GymWorld(config) as world, torch.no_grad():
        for pair in tqdm(pairs, desc='goals', unit='goal'):
            frames = np.flatnonzero(data.get('episode') == pair.episode)
            goal_frame = frames[np.argsort(data.get('step', frames))][
                pair.start + args.goal_offset
            ]
            proprio = data.get('joints', [goal_frame])[0].astype(np.float64)
            angles = np.arctan2(proprio[2:4], proprio[0:2])
            target = proprio[4:6]
            goal = model.encode(torch.from_numpy(data.get('images', [goal_frame])))  # (1, D)
            images = np.stack([at_rest(world, np.r_[angles + d, target]) for d in grid])
            latents = model.encode(torch.from_numpy(images))  # (G*G, D)
            energy = latent_distance(latents, goal, 'l2', weights).numpy()  # as eval weighs it
            read = (latents[centre, :8] * standard.std + standard.mean).double().numpy()
            best = grid[int(np.argmin(energy))]
            within = bool(np.all(np.abs(best) < args.tolerance))
            rows.append({'episode': pair.episode, 'start': pair.start,
                         'goal_angles': angles.round(4).tolist(),
                         'goal_speed_rad_s': np.abs(proprio[6:8]).round(3).tolist(),
                         'argmin_offset_rad': best.round(4).tolist(),
                         'velocity_read_at_rest_rad_s': read[6:8].round(3).tolist(),
                         'within_tolerance': within})  # fmt: skip
            energies.append(energy.reshape(len(offsets), len(offsets)))
    argmins = np.array([r['argmin_offset_rad'] for r in rows])
    rest_speed = np.median(np.abs([r['velocity_read_at_rest_rad_s'] for r in rows]), 0)
    result = {
        'command': ' '.join(['python', *sys.argv]),
        'checkpoint': str(args.checkpoint),
        'pairs': len(rows),
        'grid': {'radius_rad': args.radius, 'spacing_rad': args.spacing},
        'tolerance_rad': args.tolerance,
        'argmin_within_tolerance': round(float(np.mean([r['within_tolerance'] for r in rows])), 3),
        'argmin_offset_median_rad': np.median(np.abs(argmins), 0).round(4).tolist(),
        'argmin_at_grid_edge': int(np.sum(np.abs(argmins).max(1) >= steps * args.spacing - 1e-9)),
        'velocity_read_at_rest_median_rad_s': rest_speed.round(3).tolist(),
        'goals': rows,
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    figure(np.mean(energies, 0), offsets, argmins, args.json.with_suffix('.png'))
    print(json.dumps({k: v for k, v in result.items() if k != 'goals'}, indent=2))
    return 0


def figure(mean_energy: np.ndarray, offsets: np.ndarray, argmins: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.2))
    extent = [offsets[0], offsets[-1], offsets[0], offsets[-1]]
    image = ax.imshow(mean_energy.T, origin='lower', extent=extent, cmap='viridis')
    ax.scatter(argmins[:, 0], argmins[:, 1], s=12, c='white', edgecolors='k', label='argmin')
    ax.set_xlabel('offset of joint 1 from the goal (rad)')
    ax.set_ylabel('offset of joint 2 (rad)')
    ax.set_title('goal energy of the arm at rest (mean over goals)')
    ax.legend(loc='upper right', fontsize=8)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == '__main__':
    raise SystemExit(main())
