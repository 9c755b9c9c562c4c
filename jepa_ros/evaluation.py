"""Goal-image reaching evaluation: the same start/goal pairs for every policy, a fixed step
budget, no early stop. Simulator ground truth is read here only to score, never by a policy
(except the oracle baseline, which is given the goal joints on purpose).

Glossary: A action dim, T steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Any, Protocol

import numpy as np
import torch

from jepa_ros.actor import Actor
from jepa_ros.collision import CollisionModel
from jepa_ros.configurator import Outcome, Retreat, TaskMonitor
from jepa_ros.envs.arm_world import ArmWorld, Goal, Observation
from jepa_ros.envs.kinematics import ee_position_function
from jepa_ros.guardrails import GuardrailConfig, Guardrails, Proposal

SUCCESS_DISTANCE_M = 0.05
PRECISE_DISTANCE_M = 0.02  # also reported: success at 2 cm


class Policy(Protocol):
    def reset(self, goal: Goal) -> None: ...

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]: ...


class JepaPolicy:
    """The world-model actor, told the goal by its image only.

    With a task monitor, the configurator's decisions apply: once the goal energy says the goal
    is reached (or abandoned) the arm holds (zero action) for the rest of the episode. With a
    `retreat` and the latent of the arm at its home pose (`home`, encoded from a picture of it),
    a reach whose goal energy stalls far from the goal goes home first (ticks of mode
    `retreat`, which the monitor does not count), then to the goal again with a fresh patience.
    """

    def __init__(
        self,
        actor: Actor,
        monitor: TaskMonitor | None = None,
        retreat: Retreat | None = None,
        home: torch.Tensor | None = None,
    ) -> None:
        if (retreat is None) != (home is None):
            raise ValueError('a retreat needs the home latent, and the home latent a retreat')
        self.actor = actor
        self.monitor = monitor
        self.retreat, self.home = retreat, home
        self.goal_latent: torch.Tensor | None = None

    def reset(self, goal: Goal) -> None:
        self.actor.reset()
        self.goal_latent = self.actor.encode(goal.images)
        if self.monitor is not None:
            self.monitor.start()
        if self.retreat is not None:
            self.retreat.start()

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        """Encode, let the monitor decide, then the actor; info: `encode_ms` (image to
        latent), `decide_ms` (latent to action: the actor's plan or policy, any world-model
        check included), `plan_ms` (image to action: both), `mode` (which served the tick)."""
        start = time.perf_counter()
        latent = self.actor.encode(observation.images)
        encode_ms = 1000 * (time.perf_counter() - start)
        energy = self.actor.goal_energy(latent, self.goal_latent)
        target = self.goal_latent
        if self.retreat is not None and self.reaching:
            was_homeward = self.retreat.homeward
            homeward = self.retreat.update(energy, self.actor.goal_energy(latent, self.home))
            if homeward != was_homeward:
                self.actor.reset()  # its warm start was made for the other target
            if was_homeward and not homeward and self.monitor is not None:
                self.monitor.start()  # the goal's progress is measured anew from home
            target = self.home if homeward else target
        if target is self.goal_latent and self.monitor is not None:
            if self.monitor.update(energy) is not Outcome.REACHING:
                hold = np.zeros(len(observation.joints))
                return hold, {'goal_energy': energy, 'outcome': self.monitor.outcome.value}
        action, info = self.actor.act(latent, observation.joints, target)
        if target is self.home:
            info['mode'], info['goal_energy'] = 'retreat', energy
        if self.monitor is not None:
            info['outcome'] = self.monitor.outcome.value
        info['decide_ms'] = info['plan_ms']
        info['encode_ms'] = encode_ms
        info['plan_ms'] = 1000 * (time.perf_counter() - start)  # camera image to command
        return action, info

    @property
    def reaching(self) -> bool:
        """Still after the goal (not declared reached or abandoned)."""
        return self.monitor is None or self.monitor.active


class GatedPolicy:
    """Another policy's actions through the guardrail gate, as on the robot: each action is
    proposed as a one-point trajectory from the measured joints; a refused one becomes a hold
    (zero action), a clamped one the clamped step. `info['gate']` says which."""

    def __init__(self, policy: Policy, guardrails: Guardrails, step_s: float) -> None:
        self.policy = policy
        self.guardrails = guardrails
        self.step_s = step_s

    def reset(self, goal: Goal) -> None:
        self.policy.reset(goal)

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        action, info = self.policy.act(observation)
        joints = np.asarray(observation.joints, dtype=float)
        names = self.guardrails.config.joint_names
        proposal = Proposal(names, [joints + action], [self.step_s])
        command, interventions = self.guardrails.apply(proposal, dict(zip(names, joints)))
        reasons = [i.reason.value for i in interventions]
        if command is None:
            return np.zeros_like(joints), {**info, 'gate': reasons[0]}
        gated = command.positions[-1] - joints
        return gated, {**info, 'gate': reasons[0] if reasons else 'pass'}


def scene_guardrails(scene, collision: bool = True) -> Guardrails:
    """The guardrail gate with the defaults of guardrail_node on `scene` (limits from the URDF,
    collision checking against its obstacles), armed."""
    urdf = scene.urdf()
    names = scene.controlled_joints
    lower, upper = zip(*(urdf.joint(n).bounds for n in names))
    config = GuardrailConfig(joint_names=names, lower=lower, upper=upper)
    ee = ee_position_function(scene, names)
    checker = CollisionModel(scene, names) if collision else None
    return Guardrails(config, ee, armed=True, collision=checker)


class RandomPolicy:
    """Uniform random joint deltas within the step limit."""

    def __init__(self, max_step: float, action_dim: int, seed: int) -> None:
        self.max_step, self.action_dim = max_step, action_dim
        self.rng = np.random.default_rng(seed)

    def reset(self, goal: Goal) -> None:
        pass

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        return self.rng.uniform(-self.max_step, self.max_step, self.action_dim), {}


class OraclePolicy:
    """Straight to the goal's joints at the step limit: the physical best case."""

    def __init__(self) -> None:
        self.goal_joints: np.ndarray | None = None

    def reset(self, goal: Goal) -> None:
        self.goal_joints = goal.joints

    def act(self, observation: Observation) -> tuple[np.ndarray, dict[str, Any]]:
        return self.goal_joints - observation.joints, {}


@dataclass
class EpisodeResult:
    """Ground-truth end-effector distance to the goal before and after each step (T+1,), and
    the scalar infos the policy reported at each step."""

    distances: list[float] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)  # (V, H, W, 3) each, when recorded
    contacts: int = 0  # steps whose move would have touched something (the world refused it)

    @property
    def outcome(self) -> str | None:
        """The configurator's last decision, if the policy reported one."""
        outcomes = [i['outcome'] for i in self.infos if 'outcome' in i]
        return outcomes[-1] if outcomes else None

    @property
    def final_distance(self) -> float:
        return self.distances[-1]

    @property
    def steps_to_success(self) -> int | None:
        """First step after which the end-effector was within the success distance."""
        for step, distance in enumerate(self.distances):
            if distance < SUCCESS_DISTANCE_M:
                return step
        return None


def make_pairs(world: ArmWorld, episodes: int, seed: int) -> list[tuple[np.ndarray, Goal]]:
    """`episodes` (start joints, goal) pairs drawn from `seed`."""
    rng = np.random.default_rng(seed)
    return [(world.sample_configuration(rng), world.sample_goal(rng)) for _ in range(episodes)]


def run_episode(
    world: ArmWorld,
    policy: Policy,
    start: np.ndarray,
    goal: Goal,
    budget: int,
    record: bool = False,
) -> EpisodeResult:
    """Reset to `start`, give the policy the goal, and run exactly `budget` steps (no early stop;
    `record` keeps every camera frame)."""
    observation = world.reset(start)
    policy.reset(goal)
    contacts = world.contact_moves
    result = EpisodeResult([float(np.linalg.norm(world.ee_position() - goal.ee_position))])
    for _ in range(budget):
        if record:
            result.frames.append(observation.images)
        action, info = policy.act(observation)
        observation, _ = world.step(action)
        result.distances.append(float(np.linalg.norm(world.ee_position() - goal.ee_position)))
        result.infos.append(info)
    if record:
        result.frames.append(observation.images)
    result.contacts = world.contact_moves - contacts
    return result


def percentiles(values: list[float], name: str) -> dict[str, float | None]:
    """{name_p50, name_p95} of `values` (None if there are none)."""
    return {f'{name}_p{q}': float(np.percentile(values, q)) if values else None
            for q in (50, 95)}  # fmt: skip


def shares(labels: list[str]) -> dict[str, float]:
    """The share of each label among `labels`, by label name ({} if there are none)."""
    return {m: labels.count(m) / len(labels) for m in sorted(set(labels))}


def mode_report(results: list[EpisodeResult]) -> dict[str, Any]:
    """The share of the acting ticks each mode served, the decision time (latent to action)
    of each mode's ticks, and the encode time on its own; empty for policies without modes."""
    ticks = [i for r in results for i in r.infos if 'mode' in i]
    if not ticks:
        return {}
    modes = sorted({i['mode'] for i in ticks})
    report: dict[str, Any] = {
        'mode_share': shares([i['mode'] for i in ticks]),
        **percentiles([i['encode_ms'] for i in ticks if 'encode_ms' in i], 'encode_ms'),
    }
    for m in modes:
        times = [i['decide_ms'] for i in ticks if i['mode'] == m and 'decide_ms' in i]
        report.update(percentiles(times, f'decide_ms_{m}'))
    return report


def summarize(results: list[EpisodeResult]) -> dict[str, Any]:
    """The evaluation's JSON keys for one policy."""
    finals = np.array([r.final_distance for r in results])
    success = finals < SUCCESS_DISTANCE_M
    steps = [r.steps_to_success for r, ok in zip(results, success) if ok]
    plan_ms = [i['plan_ms'] for r in results for i in r.infos if 'plan_ms' in i]
    report = {
        'success_rate': float(success.mean()),
        'success_rate_2cm': float((finals < PRECISE_DISTANCE_M).mean()),
        'median_final_distance_m': float(np.median(finals)),
        'median_steps_to_success': float(np.median(steps)) if steps else None,
        'plan_ms_p50': float(np.percentile(plan_ms, 50)) if plan_ms else None,
        'plan_ms_p95': float(np.percentile(plan_ms, 95)) if plan_ms else None,
        'episodes': len(results),
        'contacts': int(sum(r.contacts for r in results)),
        'episodes_with_contacts': int(sum(r.contacts > 0 for r in results)),
    }
    report.update(mode_report(results))
    gate = [i['gate'] for r in results for i in r.infos if 'gate' in i]
    if gate:
        refused = [g for g in gate if g.startswith('reject') or g == 'collision']
        report['gate_refused_rate'] = len(refused) / len(gate)
        report['gate_reasons'] = {g: gate.count(g) for g in sorted(set(gate))}
    outcomes = [r.outcome for r in results]
    if any(outcomes):
        declared = np.array([o == Outcome.SUCCEEDED.value for o in outcomes])
        report['declared_success_rate'] = float(declared.mean())
        report['declared_success_precision'] = (
            float(success[declared].mean()) if declared.any() else None
        )
        report['gave_up_rate'] = float(np.mean([o == Outcome.GAVE_UP.value for o in outcomes]))
    return report
