"""The actor: perceive, then decide in latent space (mode-2 planning, or mode-1's reactive policy
as the task's `ActorMode` says), and act within limits.

Glossary: V views, H x W image size, S samples, A action dim, D latent dim.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from jepa_ros.cost.cost import TermCosts, traced_terms, TrajectoryCost
from jepa_ros.device import model_device
from jepa_ros.envs.arm_world import Observation
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import ActorMode, ReactivePolicy
from jepa_ros.planning.fine import gauss_newton_step
from jepa_ros.planning.planners import CEMPlanner, MPPIPlanner
from jepa_ros.world_model.model import WorldModel


class Actor:
    """`step(observation, goal_latent) -> (action, info)`: one receding-horizon control tick.

    The world model, planner, cost and limits are built by the caller and passed in. The action
    returned is always clipped to the joint limits and the step limit. With `trace` (default)
    the actor scores plans with a TorchScript trace of the cost (`traced_terms`: the same
    numbers, without holding the GIL), made on the first plan. A model on another device than
    the CPU (`--device`) encodes and rolls out there; latents live there, the search and the
    guardrail terms stay on the CPU, and that cost is not traced.
    """

    def __init__(
        self,
        model: WorldModel,
        planner: CEMPlanner | MPPIPlanner,
        cost: TrajectoryCost,
        limits: JointLimits,
        trace: bool = True,
        policy: ReactivePolicy | None = None,
        mode: ActorMode | None = None,
    ) -> None:
        self.mode = mode or ActorMode()
        if self.mode.needs_policy and policy is None:
            raise ValueError(f'actor mode {self.mode.mode!r} needs a mode-1 policy (jepa-ros '
                             'distill makes one)')  # fmt: skip
        self.policy = policy
        self.model = model
        self.planner = planner
        self.cost = cost
        self.limits = limits
        self.device = model_device(model)
        self.trace = trace and self.device.type == 'cpu'
        self._terms: TermCosts | None = None
        self._mode1_from: float | None = None  # the goal energy the last mode-1 step left

    def term_costs(self) -> TermCosts:
        """The cost terms of sequences: (latent, goal, joints, actions (S, H, A)) -> (T, S),
        rows in `TrajectoryCost.TERMS` order."""
        if not self.trace:
            return self.cost.term_rows
        if self._terms is None:
            self._terms = traced_terms(self.cost, self.planner.config.horizon,
                                       self.planner.action_dim)  # fmt: skip
        return self._terms

    def reset(self) -> None:
        """Forget the warm start and the last mode-1 step (call when the goal changes)."""
        self.planner.reset()
        self._mode1_from = None

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """Camera images (V, H, W, 3) uint8 -> latent (D,), on the model's device."""
        pixels = torch.from_numpy(np.ascontiguousarray(images))[None].to(self.device)
        return self.model.encode(pixels)[0]

    def latent(self, values: np.ndarray) -> torch.Tensor:
        """A latent (D,) received as numbers (a ROS message), on the model's device."""
        return torch.from_numpy(np.asarray(values, dtype=np.float32)).to(self.device)

    @torch.no_grad()
    def step(
        self, observation: Observation, goal: torch.Tensor
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Encode the observation's images, then `act`."""
        start = time.perf_counter()
        action, info = self.act(self.encode(observation.images), observation.joints, goal)
        info['plan_ms'] = 1000 * (time.perf_counter() - start)
        return action, info

    @torch.no_grad()
    def act(
        self, latent: torch.Tensor, joints: np.ndarray, goal: torch.Tensor
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Decide from the latent (D,) and measured joints (A,) toward the goal latent (D,);
        return the first action (A,), clipped to the limits, and an info dict: `mode` (the mode
        that served the tick: mode1, mode2, mode2_warm or fine), `plan_ms` (latent to action,
        any world-model check included), the goal energy of the latent, and for a plan the cost
        terms of the chosen sequence.

        mode1_checked takes the policy's action when the world model predicts it lowers the goal
        energy by the task's margin and the policy's last step, if the last tick was one, did
        lower the measured energy; otherwise it plans, warm-started from the policy. Below the
        task's `fine_energy`, the fine stage's step is taken in any mode, unless a guardrail
        term (joint-limit margin, floor clearance, obstacles) objects to it."""
        start = time.perf_counter()
        mode = self.mode.mode
        energy = self.goal_energy(latent, goal)
        fine = self._fine(latent, joints, goal) if energy < self.mode.fine_energy else None
        if fine is not None:
            action, info = fine, {'mode': 'fine'}
            self.planner.reset()  # a later plan starts afresh, not from before the fine steps
            self._mode1_from = None
        elif mode == 'mode2':
            action, info = self._plan(latent, joints, goal)
        else:
            proposal = self.policy(latent[None], goal[None])[0]  # (H, A) on the model's device
            first = self.limits.clip(proposal[0].cpu().numpy().astype(np.float64),
                                     np.asarray(joints))  # fmt: skip
            if mode == 'mode1' or (
                mode == 'mode1_checked'
                and self._kept_its_word(energy)
                and self._lowers(latent, goal, first, energy)
            ):
                action, info = first, {'mode': 'mode1'}
                self.planner.reset()  # no stale warm start: a later plan starts afresh
                self._mode1_from = energy
            else:
                self._mode1_from = None
                self.planner.warm_start(proposal)
                action, info = self._plan(latent, joints, goal)
                info['mode'] = 'mode2_warm' if mode == 'mode2_warm' else 'mode2'
        info['goal_energy'] = energy
        info['plan_ms'] = 1000 * (time.perf_counter() - start)
        return action, info

    def _plan(
        self, latent: torch.Tensor, joints: np.ndarray, goal: torch.Tensor
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Mode-2: minimise the cost over action sequences; the first action, clipped."""
        joints_t = torch.from_numpy(np.asarray(joints, dtype=np.float32))  # (A,)
        terms = self.term_costs()
        plan, info = self.planner.plan(lambda seqs: terms(latent, goal, joints_t, seqs).sum(0))
        chosen = terms(latent, goal, joints_t, plan[None])[:, 0]  # (T,)
        action = self.limits.clip(plan[0].numpy().astype(np.float64), np.asarray(joints))
        info.update({f'cost_{n}': float(v) for n, v in zip(self.cost.TERMS, chosen.tolist())})
        info['mode'] = 'mode2'
        return action, info

    def _fine(
        self, latent: torch.Tensor, joints: np.ndarray, goal: torch.Tensor
    ) -> np.ndarray | None:
        """The fine stage's action (A,), clipped, or None if a guardrail term objects."""
        cfg = self.mode
        step = gauss_newton_step(self.model, latent, goal, self.cost.weights,
                                 self.planner.action_dim, cfg.fine_gain, cfg.fine_damping,
                                 min(cfg.fine_max_step_rad, self.limits.max_step))  # fmt: skip
        action = self.limits.clip(step.numpy().astype(np.float64), np.asarray(joints))
        joints_t = torch.from_numpy(np.asarray(joints, dtype=np.float32))
        terms = self.cost.guardrail_terms(joints_t, torch.from_numpy(action).float()[None, None])
        if any(float(terms[name][0]) > 0 for name in ('joint_limits', 'clearance', 'obstacles')):
            return None
        return action

    def _kept_its_word(self, energy: float) -> bool:
        """Did the last mode-1 step, if the last tick was one, lower the measured goal energy?
        When the world model predicted that it would and the camera says it did not, the
        prediction is not to be trusted here: mode-2 plans this tick."""
        return self._mode1_from is None or energy < self._mode1_from

    def _lowers(
        self, latent: torch.Tensor, goal: torch.Tensor, action: np.ndarray, energy: float
    ) -> bool:
        """Does the world model predict that `action` (A,) lowers the goal energy (from
        `energy`) by the task's margin?"""
        step = self.latent(action)[None]  # (1, A)
        predicted = self.model.predict(latent[None], step)[0]
        return self.goal_energy(predicted, goal) < energy * (1.0 - self.mode.margin)

    @torch.no_grad()
    def catch_up(self, latent: torch.Tensor, moved: np.ndarray) -> torch.Tensor:
        """The latent (D,) of a frame taken before the arm moved by `moved` (A,) rad, rolled
        forward by the world model to now, in equal steps no larger than the step limit (the
        size of the steps it was trained on). A frame is older than the joints measured when
        it is planned from; planning from now keeps a slow pipeline from acting on the past."""
        largest = float(np.abs(moved).max()) if len(moved) else 0.0
        if largest < 1e-6:
            return latent
        steps = int(np.ceil(largest / self.limits.max_step))
        step = self.latent(np.asarray(moved, dtype=np.float32) / steps)  # (A,)
        return self.model.rollout(latent[None], step.expand(1, steps, -1))[0, -1]

    def goal_energy(self, latent: torch.Tensor, goal: torch.Tensor) -> float:
        """The energy the task monitor reads: weighted latent distance to the goal."""
        return float(self.cost.goal_energy(latent, goal))
