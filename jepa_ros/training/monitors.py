"""Collapse monitors: per-dimension spread and effective rank (RankMe) of a batch of latents."""

from __future__ import annotations

from dataclasses import dataclass

import torch

COLLAPSED_STD = 1e-2


def effective_rank(z: torch.Tensor, eps: float = 1e-7) -> float:
    """RankMe: exp of the entropy of the normalised singular values of centred (N, D) latents.
    D for perfectly spread latents, 1 for latents on a line, ~0 for a constant."""
    z = z - z.mean(dim=0)
    singular = torch.linalg.svdvals(z.double())
    if singular.sum() <= eps:
        return 0.0
    p = singular / singular.sum() + eps
    return float(torch.exp(-(p * p.log()).sum()))


@dataclass(frozen=True)
class CollapseReport:
    """How much of the latent space a batch of latents uses."""

    min_std: float
    mean_std: float
    collapsed_dims: int
    effective_rank: float
    latent_dim: int

    @property
    def collapsed(self) -> bool:
        """Any dimension with (almost) no spread, or under a quarter of the dims in use."""
        return self.collapsed_dims > 0 or self.effective_rank < self.latent_dim / 4

    def as_dict(self) -> dict[str, float]:
        return {
            'min_std': self.min_std,
            'mean_std': self.mean_std,
            'collapsed_dims': self.collapsed_dims,
            'effective_rank': self.effective_rank,
            'collapsed': float(self.collapsed),
        }


def collapse_report(z: torch.Tensor) -> CollapseReport:
    """Monitor a batch of latents (N, D), N > 1."""
    std = z.double().std(dim=0)
    return CollapseReport(
        min_std=float(std.min()),
        mean_std=float(std.mean()),
        collapsed_dims=int((std < COLLAPSED_STD).sum()),
        effective_rank=effective_rank(z),
        latent_dim=z.shape[1],
    )
