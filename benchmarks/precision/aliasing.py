"""What limits the goal energy's precision near the goal: poses a few centimetres from a goal
whose latent the encoder cannot tell from the goal's.

For goal poses of a seed, the arm is put at random nearby poses (each controlled joint moved
within +-radius) and at single-joint offsets; each pose is rendered and encoded, and its goal
energy (the task's weights) is set against the end-effector's true distance from the goal's
(simulator ground truth: this is a diagnosis, not a policy). Reports, per distance band, the
median energy and the share of poses the task's monitor would call reached (energy below its
success_energy); per joint, the energy, the end-effector distance and the change of the camera
image (in pixels' worth: the summed absolute difference from the goal's image / 255 / 3) that a
small move of that joint alone causes; and whether the aliased poses lie along the camera's line
of sight (the first camera's; the direction a single camera sees least).

    python benchmarks/precision/aliasing.py --checkpoint models/jepa_panda.pt \
        --task reach_precise --goals 30 --seed 5000 --json benchmarks/precision/aliasing.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros.configurator import build_actor, load_task
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene
from jepa_ros.world_model.checkpoint import load_checkpoint

BANDS_CM = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0)
JOINT_OFFSETS_RAD = (0.002, 0.02, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--scene', default='panda')
    parser.add_argument('--task', default='reach_precise')
    parser.add_argument('--tasks-file', type=Path, help='another tasks YAML')
    parser.add_argument('--goals', type=int, default=30)
    parser.add_argument('--samples', type=int, default=40, help='random nearby poses per goal')
    parser.add_argument('--radius-rad', type=float, default=0.08)
    parser.add_argument('--seed', type=int, default=5000)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scene = load_scene(args.scene)
    task = load_task(args.task, args.tasks_file)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict())
    camera = scene.cameras[0]
    sight = np.asarray(camera.target, float) - np.asarray(camera.eye, float)
    sight /= np.linalg.norm(sight)
    rng = np.random.default_rng(args.seed)
    rows, joint_rows = [], []
    with ArmWorld(scene, seed=args.seed) as world:
        actor = build_actor(model, scene, world.limits, task, args.seed)
        threshold = task.monitor.success_energy

        def measure(joints: np.ndarray, goal, goal_latent) -> tuple | None:
            """(energy, end-effector error (3,), image change) of a pose, None if invalid."""
            observation = world.reset(np.clip(joints, world.limits.lower, world.limits.upper))
            if not world.is_valid_configuration():
                return None
            energy = actor.goal_energy(actor.encode(observation.images), goal_latent)
            change = np.abs(observation.images.astype(float) - goal.images).sum() / 255 / 3
            return energy, world.ee_position() - goal.ee_position, float(change)

        for _ in tqdm(range(args.goals), desc='goals', unit='goal'):
            goal = world.sample_goal(rng)
            goal_latent = actor.encode(goal.images)
            for _ in range(args.samples):
                offset = rng.uniform(-args.radius_rad, args.radius_rad, size=len(goal.joints))
                got = measure(goal.joints + offset, goal, goal_latent)
                if got is not None:
                    energy, error, _ = got
                    distance = float(np.linalg.norm(error))
                    along = abs(float(error @ sight)) / max(distance, 1e-9)
                    rows.append((distance, energy, along))
            for joint in range(len(goal.joints)):
                for size in JOINT_OFFSETS_RAD:
                    for sign in (-1.0, 1.0):
                        offset = np.zeros(len(goal.joints))
                        offset[joint] = sign * size
                        got = measure(goal.joints + offset, goal, goal_latent)
                        if got is not None:
                            joint_rows.append(
                                (joint, size, got[0], float(np.linalg.norm(got[1])), got[2])
                            )
    report = summarize(rows, joint_rows, threshold, scene.controlled_joints)
    report.update({'checkpoint': str(args.checkpoint), 'task': args.task, 'seed': args.seed,
                   'goals': args.goals, 'samples_per_goal': args.samples,
                   'radius_rad': args.radius_rad, 'success_energy': threshold,
                   'command': 'python benchmarks/precision/aliasing.py --checkpoint '
                              f'{args.checkpoint} --scene {args.scene} --task {args.task} '
                              f'--goals {args.goals} --seed {args.seed} '
                              + (f'--tasks-file {args.tasks_file} ' if args.tasks_file else '')
                              + f'--json {args.json}'})  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: v for k, v in report.items() if k != 'command'}, indent=1))


def summarize(rows, joint_rows, threshold: float, joint_names) -> dict:
    distance, energy, along = (np.array(v) for v in zip(*rows))
    bands = []
    for low, high in zip(BANDS_CM[:-1], BANDS_CM[1:]):
        inside = (distance >= low / 100) & (distance < high / 100)
        if inside.any():
            band = energy[inside]
            bands.append({'distance_cm': [low, high], 'poses': int(inside.sum()),
                          'energy_p50': float(np.median(band)),
                          'energy_p10': float(np.percentile(band, 10)),
                          'below_success_energy': float((band < threshold).mean())})  # fmt: skip
    far = distance >= 0.02
    aliased = far & (energy < threshold)
    joints = []
    for j, name in enumerate(joint_names):
        for size in JOINT_OFFSETS_RAD:
            picked = [(e, d, c) for jj, s, e, d, c in joint_rows if jj == j and s == size]
            if picked:
                e, d, c = np.array(picked).T
                joints.append({'joint': name, 'offset_rad': size,
                               'energy_p50': float(np.median(e)),
                               'ee_distance_cm_p50': float(100 * np.median(d)),
                               'image_change_px_p50': float(np.median(c)),
                               'below_success_energy': float((e < threshold).mean())})  # fmt: skip
    return {
        'bands': bands,
        'aliased_share_of_poses_2cm_or_more': float(aliased.sum() / max(far.sum(), 1)),
        'line_of_sight_share_aliased': float(np.median(along[aliased])) if aliased.any() else None,
        'line_of_sight_share_all_2cm_or_more': float(np.median(along[far])) if far.any() else None,
        'joints': joints,
    }


if __name__ == '__main__':
    main()
