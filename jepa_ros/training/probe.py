"""Probes of a trained world model on held-out exploration data.

- Linear probes: how well the frozen latent linearly encodes the end-effector position and the
  joint angles (R² on episodes the probe was not fitted on). Ground truth is used only here.
- Surprise: does the energy E = D(s_{t+1}, Pred(s_t, a_t)) separate real transitions from the
  same s_t with a wrong action (AUROC)?
- Predictor vs identity: the predictor's k-step latent error divided by that of "no change".
- Collapse: per-dimension std and effective rank of the latents.

Glossary: N frames, D latent dim, A action dim, K rollout steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.training.monitors import collapse_report
from jepa_ros.world_model.model import WorldModel


@torch.no_grad()
def encode_dataset(
    model: WorldModel,
    dataset: ExplorationDataset,
    frames: np.ndarray | None = None,
    device: torch.device | str = 'cpu',
    batch: int = 512,
) -> np.ndarray:
    """Latents of `frames` (default: every frame), (N, D) float32, encoded on `device`."""
    frames = np.arange(len(dataset)) if frames is None else np.asarray(frames)
    chunks = [np.zeros((0, model.config.latent_dim), np.float32)]
    for start in range(0, len(frames), batch):
        images = torch.from_numpy(dataset.get('images', frames[start : start + batch]))
        chunks.append(model.encode(images.to(device)).cpu().numpy())
    return np.concatenate(chunks)


def r2_scores(target: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column: (N, C), (N, C) -> (C,)."""
    residual = ((target - predicted) ** 2).sum(axis=0)
    total = ((target - target.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - residual / np.maximum(total, 1e-12)


@dataclass(frozen=True)
class LinearProbe:
    """Ridge regression from latents to targets, fitted on some episodes, scored on the rest."""

    r2: np.ndarray  # (C,) per target column, on the test episodes
    target: np.ndarray  # (M, C) test targets
    predicted: np.ndarray  # (M, C) test predictions


def linear_probe(
    latents: np.ndarray,
    targets: np.ndarray,
    episode: np.ndarray,
    test_fraction: float = 0.3,
    ridge: float = 1e-3,
) -> LinearProbe:
    """Fit on the first (1 - test_fraction) of the episodes, score on the others."""
    episodes = np.unique(episode)
    test_episodes = episodes[int(round(len(episodes) * (1 - test_fraction))) :]
    test = np.isin(episode, test_episodes)
    # Fit: ridge regression with a bias column, on standardised latents
    mean, std = latents[~test].mean(axis=0), latents[~test].std(axis=0) + 1e-8
    x = np.hstack([(latents - mean) / std, np.ones((len(latents), 1))]).astype(np.float64)
    gram = x[~test].T @ x[~test] + ridge * len(x) * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x[~test].T @ targets[~test])  # (D+1, C)
    predicted = x[test] @ weights
    return LinearProbe(r2_scores(targets[test], predicted), targets[test], predicted)


def auroc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """P(positive score > negative score), ties counted half (Mann-Whitney U / n_pos n_neg)."""
    negatives = np.sort(negatives)
    below = np.searchsorted(negatives, positives, side='left')  # negatives < each positive
    at_or_below = np.searchsorted(negatives, positives, side='right')
    return float((below + 0.5 * (at_or_below - below)).mean() / len(negatives))


@torch.no_grad()
def surprise_auroc(
    model: WorldModel, latents: np.ndarray, actions: np.ndarray, starts: np.ndarray, seed: int = 0
) -> tuple[float, np.ndarray, np.ndarray]:
    """AUROC of the energy of real transitions against the same s_t with another transition's
    action. Returns (auroc, real energies, wrong-action energies)."""
    rng = np.random.default_rng(seed)
    wrong = rng.permutation(starts)
    s = torch.from_numpy(latents[starts])
    s_next = torch.from_numpy(latents[starts + 1])
    real = model.energy(s, torch.from_numpy(actions[starts]), s_next).numpy()
    fake = model.energy(s, torch.from_numpy(actions[wrong]), s_next).numpy()
    return auroc(real, fake), real, fake


@torch.no_grad()
def pred_vs_identity(
    model: WorldModel, latents: np.ndarray, actions: np.ndarray, starts: np.ndarray, k: int
) -> float:
    """Mean k-step open-loop latent error over that of predicting no change."""
    steps = starts[:, None] + np.arange(k + 1)  # (T, K+1)
    truth = torch.from_numpy(latents[steps])  # (T, K+1, D)
    rollout = model.rollout(truth[:, 0], torch.from_numpy(actions[steps[:, :k]]))  # (T, K, D)
    predicted_error = model.distance(rollout[:, -1], truth[:, -1]).mean()
    identity_error = model.distance(truth[:, 0], truth[:, -1]).mean()
    return float(predicted_error / identity_error)


def probe(
    model: WorldModel,
    dataset: ExplorationDataset,
    seed: int = 0,
    device: torch.device | str = 'cpu',
) -> dict[str, Any]:
    """Every probe on one held-out dataset (the frames encoded on `device`, the rest on the
    CPU). Returns the JSON metrics under 'metrics' and the arrays a plot needs under 'arrays'."""
    model.eval()
    latents = encode_dataset(model.to(device), dataset, device=device)
    model.cpu()
    episode = dataset.get('episode')
    actions = dataset.get('actions')
    joints = linear_probe(latents, dataset.get('joints').astype(np.float64), episode)
    ee = None  # a gymnasium world has no end effector: its `joints` are the proprio vector
    if dataset.world is None:
        ee = linear_probe(latents, dataset.get('ee_position').astype(np.float64), episode)
        ee_error = np.linalg.norm(ee.predicted - ee.target, axis=1)
    starts = dataset.transition_starts(1)
    surprise, real, wrong = surprise_auroc(model, latents, actions, starts, seed)
    report = collapse_report(torch.from_numpy(latents))
    metrics = {
        'ee_r2': float(ee.r2.mean()) if ee else None,
        'ee_r2_xyz': [float(v) for v in ee.r2] if ee else None,
        'ee_probe_error_median_m': float(np.median(ee_error)) if ee else None,
        'joint_r2_mean': float(joints.r2.mean()),
        'joint_r2': [float(v) for v in joints.r2],
        'surprise_auroc': surprise,
        'pred_vs_identity_1step': pred_vs_identity(model, latents, actions, starts, 1),
        'pred_vs_identity_5step': pred_vs_identity(
            model, latents, actions, dataset.transition_starts(5), 5
        ),
        'effective_rank': report.effective_rank,
        'latent_dim': int(latents.shape[1]),
        'latent_min_std': report.min_std,
        'collapsed_dims': report.collapsed_dims,
        'frames': len(dataset),
        'episodes': dataset.episodes,
    }
    arrays = {'ee': ee, 'joints': joints, 'energy_real': real, 'energy_wrong': wrong}
    return {'metrics': metrics, 'arrays': arrays}
