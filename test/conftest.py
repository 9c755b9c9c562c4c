"""Shared fixtures: a tiny copy of the shipped scene, so tests render 32x32 frames quickly."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jepa_ros.envs.scene import load_scene, resolve_scene_path, SceneConfig

TINY_SIZE = 32


def write_scene(path: Path, **overrides) -> Path:
    """Copy the shipped panda scene to `path` with top-level keys replaced and a small camera."""
    data = yaml.safe_load(resolve_scene_path('panda').read_text())
    for camera in data['cameras']:
        camera.update(width=TINY_SIZE, height=TINY_SIZE)
    data.update(overrides)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def tiny_scene_file(tmp_path: Path) -> Path:
    return write_scene(tmp_path / 'tiny.yaml')


@pytest.fixture
def tiny_scene(tiny_scene_file: Path) -> SceneConfig:
    return load_scene(tiny_scene_file)
