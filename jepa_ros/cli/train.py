"""Train the JEPA world model self-supervised on a dataset from `jepa-ros collect`.

Stage 1 learns the image encoder (cross-modal JEPA: image latent -> proprioceptive embedding,
with VICReg variance/covariance against collapse); stage 2 freezes it and learns the
action-conditioned predictor on cached latents (K-step open-loop rollouts). Writes OUT/model.pt
(weights, full config, scene/camera/dataset metadata, format version), OUT/train_state.pt (to
resume: run the same command again), OUT/metrics.csv and TensorBoard events in OUT/tensorboard/.

On more machines: `--device cuda` (or auto), and `torchrun --nproc-per-node N -m jepa_ros.cli
train ...` trains data-parallel (gloo on the CPU, nccl on CUDA) at the same global --batch-size;
only rank 0 writes, and the run resumes like any other.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
import json
import os
from pathlib import Path
import time

import numpy as np
import torch
from tqdm import tqdm

from jepa_ros import __version__
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.describe import help_of
from jepa_ros.device import add_device_argument, resolve_device
from jepa_ros.envs.gym_world import GymWorldConfig
from jepa_ros.envs.kinematics import Proprioception
from jepa_ros.envs.scene import load_scene
from jepa_ros.training.distributed import Cluster, start, stop
from jepa_ros.training.log import SilentLog, TrainingLog
from jepa_ros.training.trainer import TrainConfig, Trainer
from jepa_ros.world_model.checkpoint import (
    check_scene,
    CheckpointError,
    read_payload,
    save_checkpoint,
    write_atomic,
)
from jepa_ros.world_model.config import WorldModelConfig
from jepa_ros.world_model.model import WorldModel

MODEL_FILE = 'model.pt'
STATE_FILE = 'train_state.pt'
TRAIN_OPTIONS = tuple(f.name for f in fields(TrainConfig))
# The world model's sizes a user may set (the image shape, views, actions and proprio come
# from the data)
ARCHITECTURE_OPTIONS = ('latent_dim', 'channels', 'keypoints', 'encoder_hidden',
                        'spatial_features', 'proprio_hidden', 'predictor_hidden',
                        'predictor_layers')  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--data', type=Path, required=True, help='dataset folder (collect --out)')
    parser.add_argument('--out', type=Path, required=True, help='run folder to write')
    parser.add_argument(
        '--scene', default='panda',
        help='scene the data must come from (data of a gymnasium world names its own)',
    )  # fmt: skip
    for f in fields(TrainConfig):
        parser.add_argument(
            '--' + f.name.replace('_', '-'), type=type(f.default), default=f.default,
            help=help_of(TrainConfig, f.name) + ' (default: %(default)s)',
        )  # fmt: skip
    for name in ARCHITECTURE_OPTIONS:
        parser.add_argument(
            '--' + name.replace('_', '-'), type=int, default=getattr(WorldModelConfig, name),
            help=help_of(WorldModelConfig, name) + ' (default: %(default)s)',
        )  # fmt: skip
    parser.add_argument(
        '--threads', type=int,
        help='torch CPU threads (default: the cores, shared among torchrun ranks)',
    )  # fmt: skip
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    cluster = start(resolve_device(args.device))
    try:
        return train(args, cluster)
    finally:
        stop(cluster)


def train(args: argparse.Namespace, cluster: Cluster) -> int:
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // cluster.world_size))
    torch.manual_seed(args.seed)
    dataset = ExplorationDataset(args.data)
    try:
        train_config = TrainConfig(**{name: getattr(args, name) for name in TRAIN_OPTIONS})
        cluster.check_divides('batch_size / 2', train_config.batch_size // 2)
        cluster.check_divides('predictor_batch_size', train_config.predictor_batch_size)
        world, shape, features = world_of(dataset, args)
        architecture = {name: getattr(args, name) for name in ARCHITECTURE_OPTIONS}
        model_config = WorldModelConfig(**shape, **architecture, proprio_dim=features.shape[1])
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    model = WorldModel(model_config)
    model.proprio_encoder.set_statistics(features)
    model.to(cluster.device)
    metadata = {
        'jepa_ros_version': __version__,
        **world,
        'dataset': {'path': str(args.data), 'frames': len(dataset), 'episodes': dataset.episodes,
                    'seed': dataset.meta['spec']['seed']},
        'train_config': asdict(train_config),
        'train_devices': f'{cluster.world_size} x {cluster.device.type}',
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    previous_seconds = 0.0

    def save(model: WorldModel, state: dict) -> None:
        if not cluster.main:  # rank 0 writes; every rank reads it back to resume
            return
        seconds = previous_seconds + time.perf_counter() - started
        save_checkpoint(args.out / MODEL_FILE, model, {**metadata, 'train_seconds': seconds})
        write_atomic(args.out / STATE_FILE, {**state, 'train_seconds': seconds})

    log = TrainingLog(args.out) if cluster.main else SilentLog()
    trainer = Trainer(model, dataset, features, train_config, log, save, cluster)
    if (args.out / STATE_FILE).is_file():
        previous_seconds = resume(trainer, args.out)
    info = trainer.run(progress=(lambda stage, done, total: tqdm(
        total=total, initial=done, desc=stage, unit='step', dynamic_ncols=True
    )) if cluster.main else None)  # fmt: skip
    log.close()
    if cluster.main:
        seconds = previous_seconds + time.perf_counter() - started
        rounded = {k: round(v, 5) for k, v in info.items()}
        print(json.dumps({'train_seconds': round(seconds, 1), **rounded}))
        print(f'checkpoint: {args.out / MODEL_FILE}')
    return 0


def world_of(dataset: ExplorationDataset, args: argparse.Namespace):
    """What the data was collected in ({'scene': ...} or {'world': ...}, for the checkpoint),
    the model's input and action sizes, and the proprioceptive features (N, P) it learns to
    predict: forward kinematics of the arm's joints by its URDF, or a gymnasium world's named
    proprio vector as collected."""
    if dataset.world is not None:
        world = GymWorldConfig.from_dict(dataset.world)
        bounds = np.asarray(dataset.meta['action_bounds'], np.float64)  # (2, A)
        shape = {'image_height': world.height, 'image_width': world.width,
                 'views': world.stack, 'action_dim': bounds.shape[1],
                 'max_step_rad': float(np.abs(bounds).max())}  # fmt: skip
        return {'world': world.to_dict()}, shape, torch.from_numpy(dataset.get('joints')).float()
    scene = load_scene(args.scene)
    check_scene(dataset.scene, scene.to_dict(), f'dataset {args.data}')
    camera, proprioception = scene.cameras[0], Proprioception(scene)
    shape = {'image_height': camera.height, 'image_width': camera.width,
             'views': len(scene.cameras), 'action_dim': scene.action_dim,
             'max_step_rad': scene.max_step_rad}  # fmt: skip
    return {'scene': scene.to_dict()}, shape, proprioception(dataset.get('joints'))


def resume(trainer: Trainer, out: Path) -> float:
    """Load weights and trainer state from `out`; refuse a run with other settings."""
    state = torch.load(out / STATE_FILE, map_location='cpu', weights_only=False)
    if state['train_config'] != asdict(trainer.config):
        raise CheckpointError(
            f'{out} holds a run with other training settings; choose another --out'
        )
    payload = read_payload(out / MODEL_FILE)
    if payload['config'] != asdict(trainer.model.config):
        raise CheckpointError(f'{out} holds a model of another shape; choose another --out')
    trainer.model.load_state_dict(payload['state_dict'])
    trainer.load_state(state)
    if trainer.cluster.main:
        print(f'resuming {out} at steps {state["step"]}')
    return float(state['train_seconds'])
