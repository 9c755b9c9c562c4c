"""The fine stage of the goal energy: a damped Gauss-Newton step once the goal is near.

A sampling search (CEM, MPPI) keeps the best of noisy candidates; near the goal their predicted
energies differ little and the arm wanders around the goal. Once the goal energy is low, the
actor can instead solve for the one action the world model predicts brings the latent onto the
goal: it linearises the weighted residual r(a) = sqrt(w) * (Pred(s, a) - g) at a = 0 and steps

    a = -gain * (J^T J + damping * I)^-1 J^T r(0),     J = dr/da (D, A),

each joint clipped to `max_step`; J by central differences of the predictor (one batch of 2A+1
predictions, about 0.3 ms on a CPU core). The camera is re-encoded every tick, so the loop
closes on the measured latent and the Jacobian only has to point the right way. It drives the
energy to its floor; it cannot see what the encoder does not (models/jepa_panda.md, "Precision
near the goal").

Glossary: A action dim, D latent dim.
"""

from __future__ import annotations

import torch

from jepa_ros.world_model.model import WorldModel

DIFFERENCE_RAD = 1e-3  # half the central difference's span, per joint


def gauss_newton_step(
    model: WorldModel,
    latent: torch.Tensor,
    goal: torch.Tensor,
    weights: torch.Tensor,
    action_dim: int,
    gain: float,
    damping: float,
    max_step: float,
) -> torch.Tensor:
    """latent (D,), goal (D,), weights (D,) of the goal energy -> action (A,), on the CPU."""
    root = (weights / weights.sum()).sqrt()  # the energy is sum(w d^2) / sum(w)
    eye = torch.eye(action_dim, device=latent.device)
    actions = torch.cat([torch.zeros(1, action_dim, device=latent.device),
                         DIFFERENCE_RAD * eye, -DIFFERENCE_RAD * eye])  # (2A+1, A)  # fmt: skip
    with torch.no_grad():
        residuals = (model.predict(latent.expand(len(actions), -1), actions) - goal) * root
        r, plus, minus = residuals[0], residuals[1 : 1 + action_dim], residuals[1 + action_dim :]
        jacobian = ((plus - minus) / (2 * DIFFERENCE_RAD)).T  # (D, A)
        normal = jacobian.T @ jacobian + damping * eye
        step = -gain * torch.linalg.solve(normal, jacobian.T @ r)
    return step.clamp(-max_step, max_step).cpu()
