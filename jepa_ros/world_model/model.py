"""The JEPA world model: `encode`, `predict`, `rollout`, `energy`, all in latent space.

Glossary: B batch, H horizon, V views, A action dim, D latent dim.
"""

from __future__ import annotations

import torch
from torch import nn

from jepa_ros.world_model.config import WorldModelConfig
from jepa_ros.world_model.encoder import ImageEncoder, ProprioEncoder
from jepa_ros.world_model.predictor import Predictor


class WorldModel(nn.Module):
    """Perception `Enc`, proprioceptive embedding, and predictor `Pred` of one arm and camera."""

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = ImageEncoder(config)
        self.proprio_encoder = ProprioEncoder(config)
        self.predictor = Predictor(config)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, V, H, W, 3) -> latents s (B, D)."""
        expected = (self.config.views, self.config.image_height, self.config.image_width, 3)
        if images.dim() != 5 or tuple(images.shape[1:]) != expected:
            raise ValueError(f'images must be (B, {", ".join(map(str, expected))}), got '
                             f'{tuple(images.shape)}')  # fmt: skip
        return self.image_encoder(images)

    def encode_proprio(self, features: torch.Tensor) -> torch.Tensor:
        """Proprioceptive features (B, P) -> proprioceptive embedding (B, D)."""
        return self.proprio_encoder(features)

    def predict(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """One step: (B, D), (B, A) -> (B, D)."""
        return self.predictor(latent, action)

    def rollout(self, latent: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Open loop: (B, D), (B, H, A) -> (B, H, D)."""
        return self.predictor.rollout(latent, actions)

    @staticmethod
    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Mean squared latent distance over the last dim: (..., D), (..., D) -> (...)."""
        return (a - b).pow(2).mean(dim=-1)

    def energy(
        self, latent: torch.Tensor, action: torch.Tensor, next_latent: torch.Tensor
    ) -> torch.Tensor:
        """Surprise of an observed transition, E = D(s_{t+1}, Pred(s_t, a_t)): (B,)."""
        return self.distance(self.predict(latent, action), next_latent)
