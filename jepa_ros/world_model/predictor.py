"""The action-conditioned predictor `Pred(s, a)`: the next latent, as a residual on the current.

Glossary: B batch, H horizon, A action dim, D latent dim.
"""

from __future__ import annotations

import torch
from torch import nn

from jepa_ros.world_model.config import WorldModelConfig


class Predictor(nn.Module):
    """s_{t+1} = s_t + f([s_t, a_t / max_step]); an MLP with LayerNorm, batched for planning.

    forward: (B, D), (B, A) -> (B, D)
    """

    def __init__(self, config: WorldModelConfig) -> None:
        super().__init__()
        self.action_scale = 1.0 / config.max_step_rad
        width = config.predictor_hidden
        layers: list[nn.Module] = [nn.Linear(config.latent_dim + config.action_dim, width)]
        for _ in range(config.predictor_layers - 1):
            layers += [nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, width)]
        layers += [nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, config.latent_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return latent + self.net(torch.cat([latent, action * self.action_scale], dim=-1))

    def rollout(self, latent: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Open loop: (B, D), (B, H, A) -> predicted latents (B, H, D), one after each action."""
        predictions = []
        for t in range(actions.shape[1]):
            latent = self(latent, actions[:, t])
            predictions.append(latent)
        return torch.stack(predictions, dim=1)
