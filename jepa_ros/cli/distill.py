"""Distil mode-2 into a fast reactive mode-1 policy pi(s, s_goal) -> actions.

The targets are the planner's action sequences (the task's planner and cost) on latents of the
exploration data in --data, with hindsight goals (later frames of the same episode); no
simulator ground truth. Writes OUT/policy.pt (atomically; it belongs to --checkpoint's world
model), OUT/targets.pt (the labelled pairs: a second run with the same settings reuses them and
only refits), OUT/metrics.csv with TensorBoard events, and OUT/distill.json. Use the policy
with a task whose `actor.mode` is mode1, mode1_checked or mode2_warm (config/tasks.yaml), e.g.
`jepa-ros eval --task reach_fast --policy OUT/policy.pt`.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields, replace
import json
from pathlib import Path
import time

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros import __version__
from jepa_ros.configurator import build_actor, load_task, TaskError
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.describe import help_of
from jepa_ros.device import add_device_argument, resolve_device
from jepa_ros.envs.scene import load_scene
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import ActorMode, PolicyConfig, ReactivePolicy, save_policy
from jepa_ros.training.distill import DistillConfig, fit_policy, hindsight_pairs, plan_targets
from jepa_ros.training.log import TrainingLog
from jepa_ros.training.probe import encode_dataset
from jepa_ros.world_model.checkpoint import (
    check_scene,
    CheckpointError,
    load_checkpoint,
    read_payload,
    write_atomic,
)

POLICY_FILE = 'policy.pt'
TARGETS_FILE = 'targets.pt'
SHAPE_OPTIONS = ('horizon', 'hidden', 'layers')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path, required=True,
                        help='the world model (model.pt) whose planner is imitated')  # fmt: skip
    parser.add_argument('--data', type=Path, required=True,
                        help='exploration dataset (collect --out), a seed of its own')  # fmt: skip
    parser.add_argument('--out', type=Path, required=True, help='folder to write')
    parser.add_argument('--scene', default='panda', help='scene YAML path or shipped name')
    parser.add_argument('--task', default='reach_light',
                        help='the task whose planner and cost make the targets')  # fmt: skip
    for f in fields(DistillConfig):
        parser.add_argument(
            '--' + f.name.replace('_', '-'), type=type(f.default), default=f.default,
            help=help_of(DistillConfig, f.name) + ' (default: %(default)s)',
        )  # fmt: skip
    for name in SHAPE_OPTIONS:
        parser.add_argument(
            '--' + name, type=int, default=getattr(PolicyConfig, name),
            help=f'policy: {help_of(PolicyConfig, name)} (default: %(default)s)',
        )  # fmt: skip
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads (default 1)')
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        config = DistillConfig(**{f.name: getattr(args, f.name) for f in fields(DistillConfig)})
    except ValueError as exc:
        raise TaskError(str(exc)) from None
    started = time.perf_counter()
    scene = load_scene(args.scene)
    dataset = ExplorationDataset(args.data)
    if dataset.world is not None:
        raise TaskError(f"{args.data} is gymnasium data; distill takes an arm's exploration")
    check_scene(dataset.scene, scene.to_dict(), f'dataset {args.data}')
    device = resolve_device(args.device)
    model, _ = load_checkpoint(args.checkpoint, scene=scene.to_dict(), device=device)
    task = replace(load_task(args.task), actor=ActorMode())  # the targets are mode-2's own
    actor = build_actor(model, scene, JointLimits.from_scene(scene), task, args.seed)
    frames, goal_frames = hindsight_pairs(dataset, config.pairs, config.seed)
    latents, goals = encoded(model, dataset, frames, goal_frames, device)
    targets = labels(args, config, actor, dataset, frames, latents, goals)
    labelled_s = time.perf_counter() - started
    shape = {name: getattr(args, name) for name in SHAPE_OPTIONS}
    try:
        policy_config = PolicyConfig(latent_dim=model.config.latent_dim,
                                     action_dim=scene.action_dim,
                                     max_step_rad=scene.max_step_rad, **shape)  # fmt: skip
    except ValueError as exc:
        raise TaskError(str(exc)) from None
    if targets.shape[1] != policy_config.horizon:  # the policy outputs the planner's horizon
        policy_config = replace(policy_config, horizon=int(targets.shape[1]))
    policy = ReactivePolicy(policy_config).to(device)
    log = TrainingLog(args.out)
    with tqdm(total=config.steps, desc='fit', unit='step', dynamic_ncols=True) as bar:
        result = fit_policy(policy, latents, goals, targets.to(device), config,
                            log=lambda step, values: log.scalars('distill', step, values),
                            progress=bar.update)  # fmt: skip
    log.close()
    seconds = time.perf_counter() - started
    metadata = {
        'jepa_ros_version': __version__,
        'checkpoint': str(args.checkpoint),
        'scene': scene.name,
        'dataset': {'path': str(args.data), 'frames': len(dataset),
                    'seed': dataset.meta['spec']['seed']},
        'task': task.name,
        'distill_config': asdict(config),
        'result': result,
        'distill_seconds': round(seconds, 1),
        'labelling_seconds': round(labelled_s, 1),
    }  # fmt: skip
    save_policy(args.out / POLICY_FILE, policy, model, metadata)
    (args.out / 'distill.json').write_text(json.dumps(metadata, indent=2) + '\n')
    print(json.dumps({'distill_seconds': round(seconds, 1), **result}))
    print(f'policy: {args.out / POLICY_FILE}')
    return 0


def encoded(model, dataset, frames, goal_frames, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents of the pairs' frames and goal frames, (N, D) x2 on `device`."""
    unique, inverse = np.unique(np.concatenate([frames, goal_frames]), return_inverse=True)
    latents = torch.from_numpy(encode_dataset(model, dataset, unique, device=device))
    latents = latents[inverse].to(device)
    return latents[: len(frames)], latents[len(frames) :]


def labels(args, config, actor, dataset, frames, latents, goals) -> torch.Tensor:
    """Mode-2's plans for the pairs (N, H, A): reused from OUT/targets.pt when it was made with
    the same checkpoint, data, task and settings, else computed (with a progress bar) and
    saved."""
    key = {'checkpoint': str(args.checkpoint), 'data': str(args.data), 'task': args.task,
           'pairs': config.pairs, 'searches': config.searches, 'seed': config.seed}  # fmt: skip
    path = args.out / TARGETS_FILE
    if path.is_file():
        try:
            saved = read_payload(path)
        except CheckpointError:
            saved = None
        if saved is not None and saved.get('key') == key:
            print(f'reusing the targets in {path}')
            return saved['targets']
    joints = dataset.get('joints', frames).astype(np.float64)
    with tqdm(total=len(frames), desc='label', unit='plan', dynamic_ncols=True) as bar:
        targets = plan_targets(actor, latents, joints, goals, config.seed, bar.update,
                               config.searches)  # fmt: skip
    write_atomic(path, {'format_version': 1, 'key': key, 'targets': targets})
    return targets
