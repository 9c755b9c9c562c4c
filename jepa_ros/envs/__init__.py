"""The simulated arm world (PyBullet) and its scene description. ROS-free."""

from jepa_ros.envs.arm_world import ArmWorld, Goal, Observation
from jepa_ros.envs.scene import CameraConfig, load_scene, SceneConfig, SceneError

__all__ = [
    'ArmWorld',
    'CameraConfig',
    'Goal',
    'load_scene',
    'Observation',
    'SceneConfig',
    'SceneError',
]
