"""Training objectives. Glossary: B batch, D latent dim, K rollout steps."""

from __future__ import annotations

import torch


def vicreg_variance(z: torch.Tensor, target_std: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    """Hinge on each dimension's std over the batch: mean_d relu(target - std_d). (B, D) -> ()."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return torch.relu(target_std - std).mean()


def vicreg_covariance(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal covariances, divided by D. (B, D) -> ()."""
    b, d = z.shape
    z = z - z.mean(dim=0)
    cov = (z.T @ z) / (b - 1)  # (D, D)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    return off_diagonal.pow(2).sum() / d


def prediction_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared latent error over every element: (..., D), (..., D) -> ()."""
    return (predicted - target).pow(2).mean()
