"""World-model configuration: sizes of the encoders and the predictor. Frozen and validated."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorldModelConfig:
    """Architecture of the JEPA world model. Glossary: D latent dim, A action dim, V views."""

    image_height: int = field(default=96, metadata={'help': 'camera image height (pixels)'})
    image_width: int = field(default=96, metadata={'help': 'camera image width (pixels)'})
    views: int = field(default=1, metadata={'help': 'cameras stacked as input channels'})
    action_dim: int = field(default=4, metadata={'help': 'joint deltas per action (A)'})
    max_step_rad: float = field(default=0.1, metadata={'help': 'actions are scaled by 1/this'})
    latent_dim: int = field(default=32, metadata={'help': 'latent size D'})
    channels: int = field(default=32, metadata={'help': 'convolution width of the encoder'})
    keypoints: int = field(default=32, metadata={'help': 'spatial soft-argmax keypoints'})
    encoder_hidden: int = field(default=256, metadata={'help': 'encoder MLP width'})
    spatial_features: int = field(
        default=0,
        metadata={'help': 'features of the whole flattened feature map, beside the keypoints '
                  '(0: none; where each thing is, for precise poses of small parts)'},
    )  # fmt: skip
    proprio_dim: int = field(
        default=13, metadata={'help': 'proprioceptive features: joint angles + 3 per tracked link'}
    )
    proprio_hidden: int = field(default=128, metadata={'help': 'proprioceptive encoder width'})
    predictor_hidden: int = field(default=256, metadata={'help': 'predictor MLP width'})
    predictor_layers: int = field(default=3, metadata={'help': 'predictor hidden layers'})

    def __post_init__(self) -> None:
        for name in (
            'image_height', 'image_width', 'views', 'action_dim', 'latent_dim', 'channels',
            'keypoints', 'encoder_hidden', 'proprio_dim', 'proprio_hidden', 'predictor_hidden',
            'predictor_layers',
        ):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive integer, got {value!r}')
        if not isinstance(self.spatial_features, int) or self.spatial_features < 0:
            raise ValueError(
                f'spatial_features must be an integer >= 0, got {self.spatial_features!r}'
            )
        if self.image_height < 16 or self.image_width < 16:
            raise ValueError(
                f'images must be at least 16x16, got {self.image_height}x{self.image_width}'
            )
        if self.proprio_dim >= self.latent_dim:
            raise ValueError(
                f'latent_dim ({self.latent_dim}) must exceed proprio_dim ({self.proprio_dim})'
            )
        if not self.max_step_rad > 0:
            raise ValueError(f'max_step_rad must be > 0, got {self.max_step_rad!r}')
