"""Checkpoints: weights, the full config, and where the model came from; atomic, versioned."""

from __future__ import annotations

from dataclasses import asdict, fields
import os
from pathlib import Path
import pickle
from typing import Any
import zipfile

import torch

from jepa_ros.world_model.config import WorldModelConfig
from jepa_ros.world_model.model import WorldModel

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, of another format, or for another setup."""


def save_checkpoint(path: Path, model: WorldModel, metadata: dict[str, Any]) -> None:
    """Write `model` and `metadata` (scene, camera, dataset, training config, ...) atomically."""
    payload = {
        'format_version': FORMAT_VERSION,
        'config': asdict(model.config),
        'state_dict': {k: v.detach().cpu() for k, v in model.state_dict().items()},
        'metadata': metadata,
    }
    write_atomic(Path(path), payload)


def write_atomic(path: Path, payload: dict[str, Any]) -> None:
    """torch.save so that a reader sees either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_payload(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'checkpoint not found: {path}')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f'checkpoint {path} is truncated or corrupt ({exc})') from None
    if not isinstance(payload, dict) or 'format_version' not in payload:
        raise CheckpointError(f'{path} is not a jepa_ros checkpoint')
    if payload['format_version'] != FORMAT_VERSION:
        raise CheckpointError(
            f'checkpoint {path} has format {payload["format_version"]}; '
            f'this jepa_ros reads format {FORMAT_VERSION}'
        )
    return payload


def load_checkpoint(
    path: Path,
    latent_dim: int | None = None,
    scene: dict[str, Any] | None = None,
    device: torch.device | str = 'cpu',
) -> tuple[WorldModel, dict[str, Any]]:
    """Load a model in eval mode, on `device`, and its metadata. If `latent_dim` or `scene` (a
    `SceneConfig.to_dict()`) are given, refuse a checkpoint made for another one."""
    payload = read_payload(path)
    known = {f.name for f in fields(WorldModelConfig)}
    config = WorldModelConfig(**{k: v for k, v in payload['config'].items() if k in known})
    if latent_dim is not None and config.latent_dim != latent_dim:
        raise CheckpointError(
            f'checkpoint {path} has latent size {config.latent_dim}, expected {latent_dim}'
        )
    metadata = payload['metadata']
    if scene is not None:
        check_scene(metadata.get('scene', {}), scene, f'checkpoint {path}')
    model = WorldModel(config)
    try:
        model.load_state_dict(payload['state_dict'])
    except RuntimeError as exc:
        raise CheckpointError(f'checkpoint {path} does not fit its own config ({exc})') from None
    model.eval()
    return model.to(device), metadata


GYM_WORLD_KEYS = ('env', 'proprio', 'width', 'height', 'stack')


def check_world(have: dict[str, Any] | None, want: dict[str, Any], what: str) -> None:
    """Raise CheckpointError naming the first setting in which a gymnasium world (as
    `GymWorldConfig.to_dict()` wrote it) differs from the one wanted."""
    have = have or {}
    for key in GYM_WORLD_KEYS:
        if have.get(key) != want.get(key):
            raise CheckpointError(
                f'{what} was made for another world: {key} is {have.get(key)!r}, '
                f'expected {want.get(key)!r}'
            )


def check_scene(have: dict[str, Any], want: dict[str, Any], what: str) -> None:
    """Raise CheckpointError naming the first setting in which two scene dicts differ. A scene
    `based_on` another (the same arm and camera, plus obstacles) takes that one's models."""
    want = {**want, 'name': want.get('based_on') or want.get('name')}
    have, want = ({**scene, 'cameras': _cameras(scene.get('cameras'))} for scene in (have, want))
    for key in ('controlled_joints', 'cameras', 'robot_urdf', 'max_step_rad', 'name'):
        if have.get(key) != want.get(key):
            raise CheckpointError(
                f'{what} was made for another scene: {key} is {have.get(key)!r}, '
                f'expected {want.get(key)!r}'
            )


def _cameras(cameras: Any) -> Any:
    """Camera dicts with every field (as CameraConfig fills them in), without the topic: a
    camera is the same whatever topic it is remapped to, and a scene file written before a
    field existed still matches."""
    from jepa_ros.envs.scene import CameraConfig, SceneError

    try:
        return [{k: v for k, v in asdict(CameraConfig(**c)).items() if k != 'topic'}
                for c in cameras]  # fmt: skip
    except (TypeError, SceneError):
        return cameras
