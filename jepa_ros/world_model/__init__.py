"""The JEPA world model: image and proprioceptive encoders, predictor, checkpoints. ROS-free."""

from jepa_ros.world_model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from jepa_ros.world_model.config import WorldModelConfig
from jepa_ros.world_model.model import WorldModel

__all__ = [
    'CheckpointError',
    'load_checkpoint',
    'save_checkpoint',
    'WorldModel',
    'WorldModelConfig',
]
