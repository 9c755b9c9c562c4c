"""The guardrail gate: the last hop before the arm, correct whatever the actor proposes.

`Guardrails.apply(proposal, measured) -> (command | None, interventions)` checks a proposed joint
trajectory against hard limits and either passes it, clamps it (positions into the joint range
minus a margin, per-point steps, velocities) or rejects it outright (NaN/Inf, unknown or missing
joints, no points, non-increasing times, an end-effector outside the workspace box by forward
kinematics from the URDF, a path that comes closer than a margin to the arm itself, the floor
or an obstacle (`collision.CollisionModel`), a disarmed or halted gate); a one-point step refused
for collision goes on with one or two joints held if that passes. `Watchdog` says which inputs
went stale; the node then sends one hold at the measured position. Every intervention is
returned with a reason code and the offending values, so the node can publish it. ROS-free.

Glossary: A controlled joints, P trajectory points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
import math
from typing import Any, Protocol

import numpy as np

from jepa_ros.frames import RateMeter


class Reason(str, Enum):
    """Reason codes of interventions (see docs/safety.md)."""

    CLAMP_POSITION = 'clamp_position'
    CLAMP_STEP = 'clamp_step'
    CLAMP_VELOCITY = 'clamp_velocity'
    REJECT_NONFINITE = 'reject_nonfinite'
    REJECT_UNKNOWN_JOINT = 'reject_unknown_joint'
    REJECT_MISSING_JOINT = 'reject_missing_joint'
    REJECT_EMPTY = 'reject_empty'
    REJECT_TIMING = 'reject_timing'
    REJECT_WORKSPACE = 'reject_workspace'
    REJECT_OUT_OF_RANGE = 'reject_out_of_range'
    REJECT_NO_STATE = 'reject_no_state'
    REJECT_DISARMED = 'reject_disarmed'
    COLLISION = 'collision'
    CLAMP_COLLISION = 'clamp_collision'
    HOLD_STALE = 'hold_stale'
    HALT = 'halt'


@dataclass(frozen=True)
class Intervention:
    reason: Reason
    detail: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardrailConfig:
    """Hard limits of the gate, for the joints in `joint_names` (in command order)."""

    joint_names: tuple[str, ...]
    lower: tuple[float, ...] = field(metadata={'help': 'joint position lower limits (rad)'})
    upper: tuple[float, ...] = field(metadata={'help': 'joint position upper limits (rad)'})
    margin_rad: float = field(default=0.02, metadata={'help': 'keep this far inside the limits'})
    max_step_rad: float = field(
        default=0.1, metadata={'help': 'largest change per point, from the measured position'}
    )
    max_velocity_rad_s: float = field(default=1.5, metadata={'help': 'largest joint speed'})
    workspace_min: tuple[float, float, float] = field(
        default=(-1.0, -1.0, 0.03), metadata={'help': 'end-effector box, lower corner (m)'}
    )
    workspace_max: tuple[float, float, float] = field(
        default=(1.0, 1.0, 1.2), metadata={'help': 'end-effector box, upper corner (m)'}
    )
    min_time_s: float = field(
        default=0.01, metadata={'help': 'first point no sooner than this (s)'}
    )

    def __post_init__(self) -> None:
        names = tuple(str(n) for n in self.joint_names)
        object.__setattr__(self, 'joint_names', names)
        if not names or len(set(names)) != len(names):
            raise ValueError(f'joint_names must be distinct and non-empty, got {list(names)}')
        for key in ('lower', 'upper'):
            values = tuple(float(v) for v in getattr(self, key))
            if len(values) != len(names) or not all(map(math.isfinite, values)):
                raise ValueError(f'{key} needs {len(names)} finite values, got {list(values)}')
            object.__setattr__(self, key, values)
        for name in ('margin_rad', 'max_step_rad', 'max_velocity_rad_s', 'min_time_s'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0 or name == 'margin_rad' and value == 0):
                raise ValueError(f'{name} must be > 0, got {value!r}')
        if not all(lo + 2 * self.margin_rad < hi for lo, hi in zip(self.lower, self.upper)):
            raise ValueError(f'need lower + 2 margin < upper, got {self.lower}, {self.upper}')
        if not all(lo < hi for lo, hi in zip(self.workspace_min, self.workspace_max)):
            raise ValueError(
                f'workspace_min {self.workspace_min} must be below workspace_max '
                f'{self.workspace_max}'
            )

    @property
    def safe_lower(self) -> np.ndarray:
        return np.array(self.lower) + self.margin_rad

    @property
    def safe_upper(self) -> np.ndarray:
        return np.array(self.upper) - self.margin_rad


@dataclass(frozen=True)
class Proposal:
    """A joint trajectory as received: names, positions (P, len(names)), times (P,) in s."""

    joint_names: Sequence[str]
    positions: Sequence[Sequence[float]]
    times: Sequence[float]


@dataclass(frozen=True)
class Command:
    """A checked trajectory in the config's joint order: positions (P, A), times (P,) s."""

    joint_names: tuple[str, ...]
    positions: np.ndarray
    times: np.ndarray


EePosition = Callable[[np.ndarray], np.ndarray]  # joints (P, A) -> end-effector xyz (P, 3)


class PathCheck(Protocol):
    """`check_path(start (A,), points (P, A))` -> (point index, contact) of the first segment
    that comes too close, or None; `approach(contact, delta (A,))` -> (A,) how much each joint's
    change brings the contact's pair closer, at most (jepa_ros.collision.CollisionModel)."""

    def check_path(self, start: np.ndarray, points: np.ndarray) -> tuple[int, Any] | None: ...

    def approach(self, contact: Any, delta: np.ndarray) -> np.ndarray: ...


class Guardrails:
    """`apply(proposal, measured)`: the only path from a proposal to the arm.

    `measured` maps joint names to measured positions (it may hold other joints too).
    `ee_position` computes end-effector positions by forward kinematics from the URDF;
    `collision`, if given, checks the path from the measured position through every point.
    The gate starts armed only if `armed=True`; `halt()` and `arm()` change that.
    """

    def __init__(
        self,
        config: GuardrailConfig,
        ee_position: EePosition,
        armed: bool,
        collision: PathCheck | None = None,
    ) -> None:
        self.config = config
        self.ee_position = ee_position
        self.armed = armed
        self.collision = collision

    def arm(self) -> None:
        self.armed = True

    def halt(self) -> None:
        self.armed = False

    def apply(
        self, proposal: Proposal, measured: Mapping[str, float] | None
    ) -> tuple[Command | None, list[Intervention]]:
        """Check a proposal: (command, []) if it passes, (command, clamps) if it was clamped,
        (None, [the rejection]) if it must not reach the arm."""
        # Reject what cannot be interpreted
        parsed = self._parse(proposal, measured)
        if isinstance(parsed, Intervention):
            return None, [parsed]
        positions, times, current = parsed
        if not self.armed:
            return None, [Intervention(Reason.REJECT_DISARMED, 'the gate is not armed')]
        # Clamp into the joint range, then the step and speed from the previous point
        interventions = []
        cfg = self.config
        clamped = np.clip(positions, cfg.safe_lower, cfg.safe_upper)
        if not np.array_equal(clamped, positions):
            interventions.append(self._clamped(Reason.CLAMP_POSITION, positions, clamped))
        stepped, slowed = clamped.copy(), clamped.copy()
        previous, previous_time = current, 0.0
        for p in range(len(times)):
            step_limit = cfg.max_step_rad
            speed_limit = cfg.max_velocity_rad_s * (times[p] - previous_time)
            stepped[p] = previous + np.clip(clamped[p] - previous, -step_limit, step_limit)
            slowed[p] = previous + np.clip(stepped[p] - previous, -speed_limit, speed_limit)
            previous, previous_time = slowed[p], times[p]
        if not np.array_equal(stepped, clamped):
            interventions.append(self._clamped(Reason.CLAMP_STEP, clamped, stepped))
        if not np.array_equal(slowed, stepped):
            interventions.append(self._clamped(Reason.CLAMP_VELOCITY, stepped, slowed))
        # From outside the range (a start beyond the limits) one step cannot reach it: refuse
        outside = (slowed < cfg.safe_lower) | (slowed > cfg.safe_upper)
        if outside.any():
            joints = [cfg.joint_names[i] for i in np.nonzero(outside.any(axis=0))[0]]
            return None, [Intervention(Reason.REJECT_OUT_OF_RANGE,
                                       f'measured position outside the limits on {joints}; '
                                       'move the arm back by other means',
                                       {'measured': current.round(4).tolist()})]  # fmt: skip
        # The end-effector must stay in the workspace box at every point
        ee = np.asarray(self.ee_position(slowed), dtype=float)  # (P, 3)
        outside = np.any((ee < cfg.workspace_min) | (ee > cfg.workspace_max), axis=1)
        if outside.any():
            point = int(np.argmax(outside))
            return None, [Intervention(Reason.REJECT_WORKSPACE,
                                       f'end-effector outside the workspace at point {point}',
                                       {'ee_position': ee[point].round(4).tolist()})]  # fmt: skip
        # No point, nor the joint-space segments to it, may come too close to anything
        if self.collision is not None:
            hit = self.collision.check_path(current, slowed)
            if hit is not None:
                point, contact = hit
                values = {'a': contact.a, 'b': contact.b, 'point': point,
                          'distance_m': round(contact.distance_m, 4)}  # fmt: skip
                detail = f'{contact.describe()} on the way to point {point}'
                held = self._hold_joints(current, slowed, contact)
                if held is None:
                    return None, [Intervention(Reason.COLLISION, detail, values)]
                slowed, joints = held
                values['held'] = joints
                interventions.append(Intervention(
                    Reason.CLAMP_COLLISION, f'{detail}: {joints} held', values))  # fmt: skip
        return Command(cfg.joint_names, slowed, times), interventions

    def _hold_joints(
        self, current: np.ndarray, positions: np.ndarray, contact: Any
    ) -> tuple[np.ndarray, list[str]] | None:
        """A one-point step that was refused for `contact`, with one or two of its joints held
        at their measured positions so the rest of the move can go on (the arm slides along
        what it would have touched instead of stopping): the joint that brings the pair closer
        most, else the second, else both; the first that passes every check (workspace,
        collision) is taken. None if none passes, or for several points."""
        if len(positions) != 1:
            return None
        delta = positions[0] - current
        order = np.argsort(-self.collision.approach(contact, delta))
        order = [int(i) for i in order if delta[i] != 0]
        if len(order) < 2:
            return None
        cfg = self.config
        for held in ([order[0]], [order[1]], order[:2]):  # at most three more checks
            candidate = positions.copy()
            candidate[0, list(held)] = current[list(held)]
            if self.collision.check_path(current, candidate) is not None:
                continue
            ee = np.asarray(self.ee_position(candidate), dtype=float)
            if not np.any((ee < cfg.workspace_min) | (ee > cfg.workspace_max)):
                return candidate, [cfg.joint_names[i] for i in held]
        return None

    def hold(self, measured: Mapping[str, float]) -> Command | None:
        """A one-point command to stay at the measured position (None if not all measured)."""
        if measured is None or any(n not in measured for n in self.config.joint_names):
            return None
        current = np.array([measured[n] for n in self.config.joint_names], dtype=float)
        if not np.all(np.isfinite(current)):
            return None
        return Command(self.config.joint_names, current[None], np.array([self.config.min_time_s]))

    def _parse(self, proposal: Proposal, measured: Mapping[str, float] | None):
        """Positions (P, A) in config order, times (P,), measured (A,) or a rejection."""
        cfg = self.config
        names = [str(n) for n in proposal.joint_names]
        unknown = sorted(set(names) - set(cfg.joint_names))
        if unknown or len(set(names)) != len(names):
            return Intervention(Reason.REJECT_UNKNOWN_JOINT, 'unknown or repeated joint names',
                                {'unknown': unknown, 'names': names})  # fmt: skip
        missing = [n for n in cfg.joint_names if n not in names]
        if missing:
            return Intervention(Reason.REJECT_MISSING_JOINT, 'joints missing from the proposal',
                                {'missing': missing})  # fmt: skip
        if len(proposal.positions) == 0:
            return Intervention(Reason.REJECT_EMPTY, 'the proposal has no points')
        try:
            positions = np.array(proposal.positions, dtype=float)
            times = np.array(proposal.times, dtype=float)
        except (TypeError, ValueError) as exc:
            return Intervention(Reason.REJECT_EMPTY, f'malformed points: {exc}')
        if (
            positions.ndim != 2
            or positions.shape[1] != len(names)
            or times.shape != (len(positions),)
        ):
            return Intervention(Reason.REJECT_EMPTY, 'each point needs one position per joint '
                                'and a time', {'shape': list(positions.shape)})  # fmt: skip
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(times))):
            return Intervention(Reason.REJECT_NONFINITE, 'NaN or Inf in the proposal')
        if times[0] < cfg.min_time_s or np.any(np.diff(times) <= 0):
            return Intervention(Reason.REJECT_TIMING, 'times must increase from min_time_s',
                                {'times': times.round(4).tolist()})  # fmt: skip
        if measured is None or any(n not in measured for n in cfg.joint_names):
            return Intervention(Reason.REJECT_NO_STATE, 'no measured position for every joint')
        current = np.array([measured[n] for n in cfg.joint_names], dtype=float)
        if not np.all(np.isfinite(current)):
            return Intervention(Reason.REJECT_NO_STATE, 'the measured position is not finite')
        order = [names.index(n) for n in cfg.joint_names]
        return positions[:, order], times, current

    def _clamped(self, reason: Reason, before: np.ndarray, after: np.ndarray) -> Intervention:
        changed = np.nonzero(np.any(before != after, axis=0))[0]
        joints = [self.config.joint_names[i] for i in changed]
        return Intervention(reason, f'{reason.value.split("_")[1]} limited on {joints}',
                            {'requested': before[:, changed].round(4).tolist(),
                             'sent': after[:, changed].round(4).tolist()})  # fmt: skip


class Watchdog:
    """Which inputs went stale: `touch(name, now)` on every message, `stale(now)` lists the
    inputs not seen within their timeout (never-seen inputs are stale).

    With `ticks`, an input's timeout follows the rate it really comes at: `ticks` of its median
    interval (`RateMeter`), never less than its given timeout and never more than
    `max_timeout_s`. A slower but steady input is then not stale, and a silent one is after
    `ticks` of its own periods.
    """

    def __init__(
        self,
        timeouts_s: Mapping[str, float],
        ticks: float | None = None,
        max_timeout_s: float = math.inf,
        history: int = 8,
    ) -> None:
        for name, timeout in timeouts_s.items():
            if not timeout > 0:
                raise ValueError(f'timeout of {name!r} must be > 0, got {timeout!r}')
            if not timeout <= max_timeout_s:
                raise ValueError(f'timeout of {name!r} ({timeout!r}) exceeds max_timeout_s '
                                 f'({max_timeout_s!r})')  # fmt: skip
        if ticks is not None and not ticks >= 1:
            raise ValueError(f'ticks must be >= 1, got {ticks!r}')
        self.timeouts_s = dict(timeouts_s)
        self.ticks = ticks
        self.max_timeout_s = max_timeout_s
        self.rates = {name: RateMeter(history, max_timeout_s) for name in self.timeouts_s}
        self.last_seen: dict[str, float] = {}

    def touch(self, name: str, now: float) -> None:
        if name not in self.timeouts_s:
            raise KeyError(f'unknown watchdog input {name!r}')
        self.last_seen[name] = now
        self.rates[name].tick(now)

    def forget(self, name: str) -> None:
        self.last_seen.pop(name, None)

    def timeout_s(self, name: str) -> float:
        """How long `name` may be silent before it is stale."""
        period = self.rates[name].period_s
        if self.ticks is None or period is None:
            return self.timeouts_s[name]
        return min(max(self.timeouts_s[name], self.ticks * period), self.max_timeout_s)

    def silent_s(self, name: str, now: float) -> float:
        """Seconds since `name` was last seen (inf if never)."""
        return now - self.last_seen.get(name, -math.inf)

    def stale(self, now: float) -> list[str]:
        return [name for name in self.timeouts_s
                if self.silent_s(name, now) >= self.timeout_s(name)]  # fmt: skip
