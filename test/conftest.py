"""Shared fixtures: a tiny copy of the shipped scene, so tests render 32x32 frames quickly, and a
tiny dataset collected in it; the ROS test modules' rclpy import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from jepa_ros.envs.scene import load_scene, resolve_scene_path, SceneConfig

TINY_SIZE = 32


def import_rclpy_or_skip():
    """rclpy, or skip the calling test module without it (fail instead when
    JEPA_ROS_REQUIRE_ROS=1, as in CI)."""
    try:
        import rclpy
    except ImportError:
        if os.environ.get('JEPA_ROS_REQUIRE_ROS') == '1':
            raise
        pytest.skip('rclpy is not installed (pip install ".[ros]")', allow_module_level=True)
    return rclpy


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


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory) -> Path:
    """A folder with tiny.yaml and data/: 6 collected episodes of 10 steps."""
    from jepa_ros.data.collect import collect, CollectConfig
    from jepa_ros.data.exploration import ExplorationConfig

    root = tmp_path_factory.mktemp('tiny')
    scene = load_scene(write_scene(root / 'tiny.yaml'))
    config = CollectConfig(episodes=6, seed=0, exploration=ExplorationConfig(steps_per_episode=10))
    collect(scene, config, root / 'data')
    return root
