"""The configurator (core): sets up a task and supervises it from the energy alone.

A task is a named parameter set (config/tasks.yaml): which planner with which settings, the cost
weights, how the actor decides (mode-2 planning, or mode-1's reactive policy: `ActorMode`), and
when the goal counts as reached or abandoned. `build_actor` composes the actor for a
task; `TaskMonitor` turns the stream of goal energies into an outcome: success once the energy has
stayed below `success_energy` for `settle_ticks` ticks, give-up when the best energy has not
fallen by `min_progress` within `patience_ticks` ticks or after `max_ticks`. Ground truth is never
read; the thresholds are calibrated on simulator runs by `jepa-ros calibrate`. `Retreat` is a
subgoal of the configurator's: when the goal energy stalls far from the goal (a straight path the
floor blocks), the actor is sent to the arm's home pose first, then to the goal again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import Enum
import math
from pathlib import Path
from typing import Any

import torch
import yaml

from jepa_ros.actor import Actor
from jepa_ros.cost.clearance import ObstacleClearance
from jepa_ros.cost.cost import CostConfig, TrajectoryCost
from jepa_ros.envs.kinematics import ForwardKinematics, proprio_link_dims
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import ActorMode, ReactivePolicy
from jepa_ros.planning.planners import CEMPlanner, MPPIPlanner, PlannerConfig
from jepa_ros.share import find_shared
from jepa_ros.world_model.model import WorldModel

PLANNERS = {'cem': CEMPlanner, 'mppi': MPPIPlanner}
DEFAULT_TASK = 'reach_light'


class TaskError(ValueError):
    """A task file or task name the configurator cannot use."""


class Outcome(str, Enum):
    IDLE = 'idle'
    REACHING = 'reaching'
    SUCCEEDED = 'succeeded'
    GAVE_UP = 'gave_up'
    CANCELLED = 'cancelled'


@dataclass(frozen=True)
class MonitorConfig:
    """When a goal counts as reached or abandoned, from the goal energy only."""

    success_energy: float = field(
        default=0.003, metadata={'help': 'goal energy below which the goal counts as reached'}
    )
    settle_ticks: int = field(
        default=1, metadata={'help': 'consecutive ticks below success_energy to succeed'}
    )
    patience_ticks: int = field(
        default=25, metadata={'help': 'give up if the best energy has not improved for this long'}
    )
    min_progress: float = field(
        default=0.05, metadata={'help': 'relative fall of the best energy that counts as progress'}
    )
    max_ticks: int = field(
        default=0, metadata={'help': 'give up after this many ticks (0: never)'}
    )

    def __post_init__(self) -> None:
        if not self.success_energy > 0:
            raise ValueError(f'success_energy must be > 0, got {self.success_energy}')
        for name in ('settle_ticks', 'patience_ticks'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.max_ticks < 0:
            raise ValueError(f'max_ticks must be >= 0, got {self.max_ticks}')
        if not 0 <= self.min_progress < 1:
            raise ValueError(f'min_progress must be in [0, 1), got {self.min_progress}')


class Progress:
    """The best goal energy so far, and the ticks since it last fell by `min_progress` (a
    relative fall): `update(energy) -> ticks without progress`."""

    def __init__(self, min_progress: float) -> None:
        self.min_progress = min_progress
        self.reset()

    def reset(self) -> None:
        self.best, self.since = math.inf, 0

    def update(self, energy: float) -> int:
        if energy < self.best * (1 - self.min_progress):
            self.best, self.since = energy, 0
        else:
            self.best = min(self.best, energy)
            self.since += 1
        return self.since


class TaskMonitor:
    """Outcome of the current goal from its energy stream: `update(energy) -> Outcome`.

    IDLE until `start()`; REACHING while undecided; then SUCCEEDED, GAVE_UP or CANCELLED, which
    stay until the next `start()`.
    """

    def __init__(self, config: MonitorConfig) -> None:
        self.config = config
        self.outcome = Outcome.IDLE
        self.ticks = 0
        self._below = 0
        self._progress = Progress(config.min_progress)

    @property
    def best_energy(self) -> float:
        return self._progress.best

    def start(self) -> None:
        self.outcome = Outcome.REACHING
        self.ticks, self._below = 0, 0
        self._progress.reset()

    def cancel(self) -> None:
        if self.outcome in (Outcome.REACHING, Outcome.IDLE):
            self.outcome = Outcome.CANCELLED

    @property
    def active(self) -> bool:
        return self.outcome is Outcome.REACHING

    def update(self, energy: float, decide: bool = True) -> Outcome:
        """Account one tick's goal energy (before this tick's command); `decide` False counts
        the tick but never ends the goal (calibration runs every goal to its budget)."""
        if not self.active:
            return self.outcome
        cfg = self.config
        if not math.isfinite(energy):
            raise ValueError(f'goal energy must be finite, got {energy}')
        self.ticks += 1
        if not decide:
            return self.outcome
        self._below = self._below + 1 if energy < cfg.success_energy else 0
        since_progress = self._progress.update(energy)
        if self._below >= cfg.settle_ticks:
            self.outcome = Outcome.SUCCEEDED
        elif since_progress >= cfg.patience_ticks or 0 < cfg.max_ticks <= self.ticks:
            self.outcome = Outcome.GAVE_UP
        return self.outcome

    def status(self) -> dict[str, Any]:
        return {'outcome': self.outcome.value, 'ticks': self.ticks,
                'best_energy': self.best_energy}  # fmt: skip


@dataclass(frozen=True)
class RetreatConfig:
    """When to send the actor to the home pose (a subgoal) before the goal again; off by
    default (`stall_ticks` 0)."""

    stall_ticks: int = field(
        default=0, metadata={'help': 'retreat once the goal energy has not fallen by '
                             'min_progress for this many ticks (0: never retreat)'},
    )  # fmt: skip
    min_progress: float = field(
        default=0.05, metadata={'help': 'relative fall of the best energy that counts as progress'}
    )
    min_energy: float = field(
        default=0.05, metadata={'help': 'retreat only while the goal energy is above this: a '
                                'stall far from the goal, not near it'},
    )  # fmt: skip
    home_energy: float = field(
        default=0.02, metadata={'help': 'home is reached once its energy is below this'}
    )
    max_ticks: int = field(
        default=20, metadata={'help': 'ticks toward home at most, then to the goal again'}
    )

    def __post_init__(self) -> None:
        if self.stall_ticks < 0:
            raise ValueError(f'stall_ticks must be >= 0, got {self.stall_ticks}')
        if self.max_ticks < 1:
            raise ValueError(f'max_ticks must be >= 1, got {self.max_ticks}')
        for name in ('min_energy', 'home_energy'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)}')
        if not 0 <= self.min_progress < 1:
            raise ValueError(f'min_progress must be in [0, 1), got {self.min_progress}')

    @property
    def enabled(self) -> bool:
        return self.stall_ticks > 0


class Retreat:
    """Whether the actor heads for the goal or for home this tick: `update(goal_energy,
    home_energy) -> True` toward home.

    Toward the goal until its energy has not fallen by `min_progress` for `stall_ticks` ticks
    while above `min_energy`; then toward home (once per goal) until the home energy is below
    `home_energy` or for `max_ticks` ticks; then toward the goal again, its progress measured
    anew. Energies only.
    """

    def __init__(self, config: RetreatConfig) -> None:
        self.config = config
        self.progress = Progress(config.min_progress)
        self.start()

    def start(self) -> None:
        """A new goal."""
        self.homeward, self.used, self.ticks = False, False, 0
        self.progress.reset()

    def update(self, goal_energy: float, home_energy: float) -> bool:
        cfg = self.config
        if self.homeward:
            self.ticks += 1
            if home_energy < cfg.home_energy or self.ticks >= cfg.max_ticks:
                self.homeward = False
                self.progress.reset()
            return self.homeward
        stalled = self.progress.update(goal_energy) >= cfg.stall_ticks
        if cfg.enabled and not self.used and stalled and goal_energy > cfg.min_energy:
            self.homeward, self.used, self.ticks = True, True, 0
        return self.homeward


@dataclass(frozen=True)
class TaskConfig:
    """A named parameter set: planner, cost and monitor settings for one kind of task.

    The planner's action limit and seed are not part of a task: they come from the scene (its
    step limit) and the run.
    """

    name: str
    description: str = ''
    planner: str = 'cem'
    planner_config: PlannerConfig = field(default_factory=lambda: PlannerConfig(horizon=5))
    cost: CostConfig = field(default_factory=CostConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    actor: ActorMode = field(default_factory=ActorMode)
    retreat: RetreatConfig = field(default_factory=RetreatConfig)

    def __post_init__(self) -> None:
        if self.planner not in PLANNERS:
            raise ValueError(f'planner must be one of {sorted(PLANNERS)}, got {self.planner!r}')

    def to_dict(self) -> dict[str, Any]:
        def plain(obj) -> dict[str, Any]:
            return {f.name: getattr(obj, f.name) for f in fields(obj)}

        planner = plain(self.planner_config)
        planner.pop('action_limit'), planner.pop('seed')
        return {'name': self.name, 'description': self.description, 'planner': self.planner,
                'planner_config': planner, 'cost': plain(self.cost),
                'monitor': plain(self.monitor), 'actor': plain(self.actor),
                'retreat': plain(self.retreat)}  # fmt: skip


def _section(cls, data: Any, where: str):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise TaskError(f'{where} must be a mapping, got {type(data).__name__}')
    known = {f.name for f in fields(cls)} - {'action_limit', 'seed'}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TaskError(f'{where}: unknown keys {unknown} (known: {sorted(known)})')
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise TaskError(f'{where}: {exc}') from exc


def task_from_dict(name: str, data: dict[str, Any]) -> TaskConfig:
    """One task from its YAML mapping; unknown keys and bad values raise TaskError."""
    if not isinstance(data, dict):
        raise TaskError(f'task {name!r} must be a mapping, got {type(data).__name__}')
    known = {'description', 'planner', 'planner_config', 'cost', 'monitor', 'actor', 'retreat'}
    unknown = sorted(set(data) - known)
    if unknown:
        raise TaskError(f'task {name!r}: unknown keys {unknown} (known: {sorted(known)})')
    planner = _section(PlannerConfig, data.get('planner_config'), f'{name}.planner_config')
    try:
        return TaskConfig(
            name=name,
            description=str(data.get('description', '')),
            planner=data.get('planner', 'cem'),
            planner_config=planner,
            cost=_section(CostConfig, data.get('cost'), f'{name}.cost'),
            monitor=_section(MonitorConfig, data.get('monitor'), f'{name}.monitor'),
            actor=_section(ActorMode, data.get('actor'), f'{name}.actor'),
            retreat=_section(RetreatConfig, data.get('retreat'), f'{name}.retreat'),
        )
    except ValueError as exc:
        raise TaskError(f'task {name!r}: {exc}') from exc


def load_tasks(path: str | Path | None = None) -> dict[str, TaskConfig]:
    """Every task in a tasks YAML (default: the shipped config/tasks.yaml)."""
    path = Path(path) if path is not None else find_shared('config', 'tasks.yaml')
    if not path.is_file():
        raise TaskError(f'task file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise TaskError(f'{path}: not valid YAML ({exc})') from exc
    if not isinstance(data, dict) or not data:
        raise TaskError(f'{path}: expected a mapping of task names to settings')
    return {str(name): task_from_dict(str(name), body) for name, body in data.items()}


def load_task(name: str = DEFAULT_TASK, path: str | Path | None = None) -> TaskConfig:
    tasks = load_tasks(path)
    if name not in tasks:
        raise TaskError(f'unknown task {name!r}; known: {sorted(tasks)}')
    return tasks[name]


def build_actor(
    model: WorldModel,
    scene,
    limits: JointLimits,
    task: TaskConfig,
    seed: int = 0,
    policy: ReactivePolicy | None = None,
) -> Actor:
    """The composition root of the world-model actor for `task` on `scene` (`policy`: the
    mode-1 policy, needed unless the task's actor mode is mode2)."""
    planner_config = replace(task.planner_config, action_limit=scene.max_step_rad, seed=seed)
    planner = PLANNERS[task.planner](planner_config, scene.action_dim)
    kinematics = ForwardKinematics(
        scene.urdf(), scene.controlled_joints, [scene.ee_link], scene.home
    )
    grounded = scene.ee_link in scene.proprio_links
    ee_dims = proprio_link_dims(scene, scene.ee_link) if grounded else ()
    obstacles = ObstacleClearance(scene, scene.obstacles) if scene.obstacles else None
    cost = TrajectoryCost(
        model, kinematics, torch.from_numpy(limits.lower), torch.from_numpy(limits.upper),
        task.cost, ee_dims=ee_dims, obstacles=obstacles,
    )  # fmt: skip
    return Actor(model, planner, cost, limits, policy=policy, mode=task.actor)
