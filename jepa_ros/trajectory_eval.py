"""The trajectory-goal protocol of the published world-model planners (DINO-WM, PLDM, ...), on a
gymnasium world: start and goal come from the same held-out trajectory, the goal `goal_offset`
(K) steps after the start, the planner gets a fixed `budget` of steps, and success is judged in
state space by a rule the user gives (every component of a named state vector within a tolerance
of the goal frame's, at the end of the budget).

The held-out trajectories are a dataset of `jepa-ros collect --env` (another seed than the
training data). A pair's start and goal states are reproduced by replaying the episode from its
reset seed with its recorded actions (the env must be deterministic: a replay that does not
reproduce the recorded proprio vector is an error, not a silent mismatch). The goal image is
the replayed frame K steps after the start.

Policies: `jepa` (the world model and a sampling planner minimising the goal energy of its
rollouts, actions within the Box bounds), `untrained` (the same with an untrained model of the
same shape), `random` (uniform actions within the bounds).

Glossary: V views (stacked frames), H x W image size, A action dim, D latent dim, B budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import time
from typing import Any, Protocol

import numpy as np
import torch

from jepa_ros.configurator import PLANNERS
from jepa_ros.cost.cost import CostConfig, energy_weights, latent_distance
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.device import model_device
from jepa_ros.envs.gym_world import (
    episode_env_seed,
    GymStep,
    GymWorld,
    GymWorldError,
    ProprioSelector,
)
from jepa_ros.planning.planners import PlannerConfig
from jepa_ros.world_model.model import WorldModel


@dataclass(frozen=True)
class SuccessRule:
    """Success: every component of `state` (a selector: obs[a:b], info.KEY, qpos[a:b], ...)
    within `tolerance` of the goal frame's; `angles`: differences wrapped to [-pi, pi)."""

    state: str
    tolerance: float
    angles: bool = False

    def __post_init__(self) -> None:
        ProprioSelector(self.state)
        if not self.tolerance > 0:
            raise GymWorldError(f'the success tolerance must be > 0, got {self.tolerance!r}')

    def error(self, state: np.ndarray, goal: np.ndarray) -> float:
        """The largest absolute component difference."""
        difference = np.asarray(state, np.float64) - np.asarray(goal, np.float64)
        if self.angles:
            difference = (difference + np.pi) % (2 * np.pi) - np.pi
        return float(np.abs(difference).max())

    def describe(self) -> str:
        wrapped = ' (angles, wrapped)' if self.angles else ''
        return f'every component of {self.state} within {self.tolerance:g} of the goal{wrapped}'


@dataclass(frozen=True)
class TrajectoryPair:
    episode: int
    start: int  # frame index within the episode; the goal is start + goal_offset


@dataclass
class PairResult:
    """The rule's error before and after each step (B+1,) and the policy's scalar infos."""

    errors: list[float] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)


class GymPolicy(Protocol):
    def reset(self, goal_images: np.ndarray) -> None: ...

    def act(self, now: GymStep) -> tuple[np.ndarray, dict[str, Any]]: ...


class RandomGymPolicy:
    """Uniform actions within the bounds."""

    def __init__(self, low: np.ndarray, high: np.ndarray, seed: int) -> None:
        self.low, self.high = low, high
        self.rng = np.random.default_rng(seed)

    def reset(self, goal_images: np.ndarray) -> None:
        pass

    def act(self, now: GymStep) -> tuple[np.ndarray, dict[str, Any]]:
        return self.rng.uniform(self.low, self.high), {}


class LatentGoalPolicy:
    """Mode-2 on a gymnasium world: encode the frames, plan action sequences (S, H, A) within
    the Box by minimising the goal energy of the world model's rollouts (the proprio-grounded
    latent dims weigh 1, the free ones `learned_weight`), take the first action. With
    `rest_weight` > 0, the energy of the last predicted step against the one before it (the same
    dims) is added: arrive at rest, where actions are torques and an arm that reaches the goal
    moving carries past it. The cost's `step_weight` and `smoothness_weight` weigh the squared
    size of the actions and of their changes, as fractions of the Box's bounds (an effort term:
    near the goal, large torques cost more than they gain). The model runs on its device; the
    search stays on the CPU."""

    def __init__(
        self,
        model: WorldModel,
        planner: str,
        planner_config: PlannerConfig,
        cost: CostConfig,
        low: np.ndarray,
        high: np.ndarray,
        goal_proprio: slice | None = None,
        rest_weight: float = 0.0,
    ) -> None:
        if not rest_weight >= 0:
            raise GymWorldError(f'rest_weight must be >= 0, got {rest_weight}')
        if rest_weight and planner_config.horizon < 2:
            raise GymWorldError('rest_weight needs a planning horizon of 2 steps or more')
        self.model = model
        self.rest_weight = rest_weight
        self.device = model_device(model)
        self.low, self.high = low, high
        limit = float(np.abs(np.stack([low, high])).max())
        self.planner = PLANNERS[planner](replace(planner_config, action_limit=limit), low.size)
        self.distance, self.reduction = cost.distance, cost.reduction
        self.step_weight, self.smoothness_weight = cost.step_weight, cost.smoothness_weight
        self.limit = limit
        self.weights = energy_weights(model.config, (), replace(cost, ee_weight=1.0))  # (D,)
        if goal_proprio is not None:  # only these proprio components make the goal
            grounded = torch.zeros(model.config.proprio_dim)
            grounded[goal_proprio] = 1.0
            if not grounded.any():
                raise GymWorldError(f'goal_proprio {goal_proprio} selects no proprio component')
            self.weights[: model.config.proprio_dim] = grounded
        self.weights = self.weights.to(self.device)
        self.box = (torch.from_numpy(low).float(), torch.from_numpy(high).float())  # (A,) x2
        self.goal: torch.Tensor | None = None

    @torch.no_grad()
    def encode(self, images: np.ndarray) -> torch.Tensor:
        """(V, H, W, 3) uint8 -> (D,), on the model's device."""
        pixels = torch.from_numpy(np.ascontiguousarray(images))[None].to(self.device)
        return self.model.encode(pixels)[0]

    def reset(self, goal_images: np.ndarray) -> None:
        self.goal = self.encode(goal_images)
        self.planner.reset()

    @torch.no_grad()
    def act(self, now: GymStep) -> tuple[np.ndarray, dict[str, Any]]:
        start = time.perf_counter()
        latent = self.encode(now.images)
        encoded = time.perf_counter()
        low, high = self.box

        def cost(actions: torch.Tensor) -> torch.Tensor:  # (S, H, A) -> (S,)
            actions = torch.maximum(torch.minimum(actions, high), low)  # on the CPU
            on_model = actions.to(self.device)
            predicted = self.model.rollout(latent.expand(len(actions), -1), on_model)  # (S, H, D)
            energy = latent_distance(predicted, self.goal, self.distance, self.weights)
            energy = energy.mean(dim=1) if self.reduction == 'sum' else energy[:, -1]
            if self.rest_weight:  # (S,): the motion predicted at the horizon's end
                motion = latent_distance(predicted[:, -1], predicted[:, -2], self.distance,
                                         self.weights)  # fmt: skip
                energy = energy + self.rest_weight * motion
            energy = energy.cpu()
            scaled = actions / self.limit  # (S, H, A), within [-1, 1]
            if self.step_weight:
                energy = energy + self.step_weight * scaled.pow(2).sum(dim=(1, 2))
            if self.smoothness_weight:
                change = (scaled[:, 1:] - scaled[:, :-1]).pow(2).sum(dim=(1, 2))
                energy = energy + self.smoothness_weight * change
            return energy

        plan, info = self.planner.plan(cost)
        action = np.clip(plan[0].numpy().astype(np.float64), self.low, self.high)
        info['goal_energy'] = float(
            latent_distance(latent, self.goal, self.distance, self.weights)
        )
        info['encode_ms'] = 1000 * (encoded - start)
        info['plan_ms'] = 1000 * (time.perf_counter() - encoded)
        return action, info


def trajectory_pairs(
    data: ExplorationDataset, goal_offset: int, count: int, seed: int
) -> list[TrajectoryPair]:
    """`count` distinct (episode, start) pairs whose goal frame start + goal_offset is in the
    same episode, drawn from `seed`."""
    starts = data.transition_starts(goal_offset)
    if len(starts) < count:
        raise GymWorldError(
            f'{data.root} has {len(starts)} frames with a frame {goal_offset} steps later in '
            f'their episode; {count} pairs were asked for'
        )
    chosen = np.sort(np.random.default_rng(seed).choice(starts, size=count, replace=False))
    episode, step = data.get('episode', chosen), data.get('step', chosen)
    return [TrajectoryPair(int(e), int(t)) for e, t in zip(episode, step)]


def replay(world: GymWorld, data: ExplorationDataset, pair: TrajectoryPair, steps: int) -> GymStep:
    """Reset the env to the pair's episode and apply its first `steps` recorded actions;
    GymWorldError if the env does not reproduce the recorded proprio vectors."""
    frames = np.flatnonzero(data.get('episode') == pair.episode)
    frames = frames[np.argsort(data.get('step', frames))]
    actions, proprio = data.get('actions', frames), data.get('joints', frames)
    now = world.reset(episode_env_seed(data.meta['spec']['seed'], pair.episode))
    for t in range(steps):
        now, _ = world.step(actions[t])
    if not np.allclose(now.proprio, proprio[steps], atol=1e-4):
        got, recorded = (np.round(v, 4).tolist() for v in (now.proprio, proprio[steps]))
        raise GymWorldError(
            f'replaying episode {pair.episode} to step {steps} gave proprio {got}, recorded '
            f'{recorded}: the env is not deterministic, or the data is of another env'
        )
    return now


def run_pair(
    world: GymWorld,
    data: ExplorationDataset,
    policy: GymPolicy,
    pair: TrajectoryPair,
    goal_offset: int,
    budget: int,
    rule: SuccessRule,
) -> PairResult:
    """Replay to the goal (its image and rule state), replay to the start, then run exactly
    `budget` steps of the policy."""
    selector = ProprioSelector(rule.state)
    goal = replay(world, data, pair, pair.start + goal_offset)
    goal_state = world.read(selector)
    now = replay(world, data, pair, pair.start)
    policy.reset(goal.images)
    result = PairResult([rule.error(world.read(selector), goal_state)])
    for _ in range(budget):
        action, info = policy.act(now)
        now, _ = world.step(action)
        result.errors.append(rule.error(world.read(selector), goal_state))
        result.infos.append(info)
        if now.ended:  # the env ended the episode: the state stays where it is
            break
    return result


def summarize_pairs(results: list[PairResult], rule: SuccessRule) -> dict[str, Any]:
    """The JSON keys of one policy: success at the end of the budget, and more."""
    finals = np.array([r.errors[-1] for r in results])
    success = finals <= rule.tolerance
    first = [next((i for i, e in enumerate(r.errors) if e <= rule.tolerance), None)
             for r in results]  # fmt: skip
    steps = [f for f, ok in zip(first, success) if ok]
    plan = [i['plan_ms'] for r in results for i in r.infos if 'plan_ms' in i]
    encode = [i['encode_ms'] for r in results for i in r.infos if 'encode_ms' in i]
    return {
        'success_rate': float(success.mean()),
        'reached_at_any_step_rate': float(np.mean([f is not None for f in first])),
        'median_final_error': float(np.median(finals)),
        'median_steps_to_success': float(np.median(steps)) if steps else None,
        'plan_ms_p50': float(np.percentile(plan, 50)) if plan else None,
        'plan_ms_p95': float(np.percentile(plan, 95)) if plan else None,
        'encode_ms_p50': float(np.percentile(encode, 50)) if encode else None,
        'episodes': len(results),
    }


def trajectory_figure(runs: dict[str, list[PairResult]], rule: SuccessRule, out) -> Any:
    """Success per policy, and the median state error over the budget."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(runs)
    rates = [np.mean([r.errors[-1] <= rule.tolerance for r in runs[n]]) for n in names]
    axes[0].bar(names, rates, color=['C0', 'C1', 'C2', 'C3'][: len(names)])
    axes[0].set(ylim=(0, 1), ylabel='success at the end of the budget',
                title=rule.describe())  # fmt: skip
    for name in names:
        longest = max(len(r.errors) for r in runs[name])
        padded = np.array([r.errors + [r.errors[-1]] * (longest - len(r.errors))
                           for r in runs[name]])  # fmt: skip
        axes[1].plot(np.median(padded, axis=0), label=name)
    axes[1].axhline(rule.tolerance, color='k', ls='--', lw=1, label='tolerance')
    axes[1].set(yscale='log', xlabel='step', ylabel='median state error',
                title='error to the goal frame')  # fmt: skip
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
