"""Encoders: camera images -> latent s (perception), joint positions -> proprioceptive embedding.

Glossary: B batch, V views, H x W image size, K keypoints, C channels, A joints, D latent dim.
"""

from __future__ import annotations

import torch
from torch import nn

from jepa_ros.world_model.config import WorldModelConfig


def images_to_tensor(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, V, H, W, 3) camera images -> float (B, 3V, H, W) in [-0.5, 0.5]."""
    b, v, h, w, c = images.shape
    x = images.permute(0, 1, 4, 2, 3).reshape(b, v * c, h, w)
    return x.float() / 255.0 - 0.5


class SpatialSoftArgmax(nn.Module):
    """Expected image coordinates of each channel's softmax: (B, K, h, w) -> (B, K, 2), in [-1, 1]
    (x, y)."""

    def __init__(self, keypoints: int) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(keypoints))

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        b, k, h, w = heatmaps.shape
        logits = heatmaps.flatten(2) / self.log_temperature.exp()[None, :, None]  # (B, K, h*w)
        weights = logits.softmax(dim=-1).view(b, k, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=heatmaps.device)
        xs = torch.linspace(-1.0, 1.0, w, device=heatmaps.device)
        x = (weights.sum(dim=2) * xs).sum(dim=-1)  # (B, K)
        y = (weights.sum(dim=3) * ys).sum(dim=-1)  # (B, K)
        return torch.stack([x, y], dim=-1)


class ImageEncoder(nn.Module):
    """`Enc(x)`: a small ConvNet whose feature maps become K soft-argmax keypoints (where things
    are, with sub-pixel precision) plus pooled features (what is there), then an MLP to R^D.
    With `spatial_features` S > 0, a linear map of the whole flattened feature map (C x H/4 x
    W/4 -> S) joins them: position-specific features, for the pose of parts no keypoint tracks.

    forward: uint8 (B, V, H, W, 3) -> (B, D)
    """

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        c, k = config.channels, config.keypoints
        self.features = nn.Sequential(
            nn.Conv2d(3 * config.views, c // 2, 5, stride=2, padding=2),  # H/2
            nn.GroupNorm(4, c // 2),
            nn.SiLU(),
            nn.Conv2d(c // 2, c, 3, stride=2, padding=1),  # H/4
            nn.GroupNorm(8, c),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.GroupNorm(8, c),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
        )
        self.heatmaps = nn.Conv2d(c, k, 1)
        self.soft_argmax = SpatialSoftArgmax(k)
        s = config.spatial_features
        cells = -(-config.image_height // 4) * -(-config.image_width // 4)  # the map's H/4 x W/4
        self.spatial = nn.Linear(c * cells, s) if s else None
        self.head = nn.Sequential(
            nn.Linear(2 * k + c + s, config.encoder_hidden),
            nn.SiLU(),
            nn.Linear(config.encoder_hidden, config.encoder_hidden),
            nn.SiLU(),
            nn.Linear(config.encoder_hidden, config.latent_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images_to_tensor(images))  # (B, C, H/4, W/4)
        keypoints = self.soft_argmax(self.heatmaps(features)).flatten(1)  # (B, 2K)
        parts = [keypoints, features.mean(dim=(2, 3))]  # (B, 2K), (B, C)
        if self.spatial is not None:
            parts.append(self.spatial(features.flatten(1)))  # (B, S)
        return self.head(torch.cat(parts, dim=1))


class ProprioEncoder(nn.Module):
    """Embedding of the arm's own sensing, the target of the cross-modal JEPA term.

    The first P dims are the proprioceptive features themselves (joint angles and link positions),
    standardised with dataset statistics: a fixed, interpretable part. The remaining D - P dims
    are learned features of them.

    forward: (B, P) -> (B, D)
    """

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        p, hidden = config.proprio_dim, config.proprio_hidden
        self.register_buffer('mean', torch.zeros(p))
        self.register_buffer('std', torch.ones(p))
        self.net = nn.Sequential(
            nn.Linear(p, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, config.latent_dim - p),
        )

    def set_statistics(self, features: torch.Tensor) -> None:
        """Standardise with the mean and std of (N, P) training features."""
        self.mean.copy_(features.mean(dim=0))
        self.std.copy_(features.std(dim=0).clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        standard = (features - self.mean) / self.std  # (B, P)
        return torch.cat([standard, self.net(standard)], dim=-1)
