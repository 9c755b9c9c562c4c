"""The guardrail gate over time: the stale-input watchdog, hold, halt and arming around the limit
checks of `Guardrails`. ROS-free: the node feeds it messages and the time and sends what it
returns, and tests drive it on a simulated clock.

The rules (docs/safety.md):
- A proposal reaches the arm only through `Guardrails.apply`, and only while the joint states
  and the latents are fresh (the `sensors`: exploration, which plans from no latent, watches the
  joint states alone).
- When an input has been silent for its timeout (the `Watchdog`'s, which follows the rate the
  input really comes at) while a command is out, the gate sends one hold at the measured
  position.
- On a physical arm (`require_arming`) a held fault that is still silent `halt_after_s` after its
  last message halts the gate: a silent sensor, or no proposals while a goal is set (the actor
  going idle after its goal is not a fault). A halted or disarmed gate passes nothing until
  `arm()`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jepa_ros.guardrails import Command, Guardrails, Intervention, Proposal, Reason, Watchdog

SENSORS = ('joint_states', 'latent')
INPUTS = ('joint_states', 'latent', 'proposal')


@dataclass
class Decision:
    """What the gate does now: the command to send (or None) and every intervention."""

    command: Command | None = None
    interventions: list[Intervention] = field(default_factory=list)


class Gate:
    """The gate's state: arming, the last measured joints, the watchdog, what it has sent.

    Feed it `joints`, `latent`, `goal` and `proposal` as they come, call `deadline(now, name)`
    when input `name` may have gone silent (at `watchdog.timeout_s(name)` after its last
    message, and again each timeout after that), and send every `Decision.command`.
    """

    def __init__(
        self,
        guardrails: Guardrails,
        watchdog: Watchdog,
        require_arming: bool,
        halt_after_s: float,
        sensors: Sequence[str] = SENSORS,
    ) -> None:
        self.sensors = tuple(sensors)
        if 'joint_states' not in self.sensors or not set(self.sensors) <= set(SENSORS):
            raise ValueError(f'sensors must include joint_states, of {SENSORS}; got {sensors}')
        inputs = (*self.sensors, 'proposal')
        if set(watchdog.timeouts_s) != set(inputs):
            watched = sorted(watchdog.timeouts_s)
            raise ValueError(f'the watchdog must watch {inputs}, got {watched}')
        if not halt_after_s > 0:
            raise ValueError(f'halt_after_s must be > 0, got {halt_after_s!r}')
        self.guardrails = guardrails
        self.watchdog = watchdog
        self.require_arming = require_arming
        self.halt_after_s = halt_after_s
        self.measured: dict[str, float] | None = None
        self.goal_active = False  # while a goal is set, the actor must keep proposing
        self.active = False  # a command went out since the last hold
        self.suspects: set[str] = set()  # held for these faults; halt if they stay silent
        self.commands = 0
        self.counts: Counter[str] = Counter()

    @property
    def armed(self) -> bool:
        return self.guardrails.armed

    def ready(self, now: float) -> bool:
        """Whether a valid proposal would pass now: armed, and every sensor input fresh (while
        not, proposals are refused whatever they are: the arm cannot move)."""
        return self.armed and not any(s in self.sensors for s in self.watchdog.stale(now))

    # Inputs -------------------------------------------------------------------------------
    def joints(self, now: float, names: Sequence[str], positions: Sequence[float]) -> Decision:
        """A joint_states message: positions by name (any order, other joints too)."""
        if len(positions) != len(names):
            detail = f'bad joint_states: {len(names)} names, {len(positions)} positions'
            return self._decide(None, [Intervention(Reason.REJECT_NO_STATE, detail)])
        self.measured = dict(zip(map(str, names), map(float, positions)))
        if all(n in self.measured for n in self.guardrails.config.joint_names):
            self._touch('joint_states', now)
        return Decision()

    def latent(self, now: float) -> None:
        self._touch('latent', now)

    def goal(self, active: bool) -> None:
        """A goal latent was set (True) or cleared on purpose (False)."""
        self.goal_active = active

    def proposal(self, now: float, proposal: Proposal) -> Decision:
        self._touch('proposal', now)
        stale = [s for s in self.watchdog.stale(now) if s in self.sensors]
        if stale:
            return self._decide(None, [Intervention(Reason.REJECT_NO_STATE,
                                                    f'stale inputs: {stale}')])  # fmt: skip
        command, interventions = self.guardrails.apply(proposal, self.measured)
        if command is not None:
            self.active = True
        return self._decide(command, interventions)

    # Time ---------------------------------------------------------------------------------
    def deadline(self, now: float, name: str) -> Decision:
        """`name` may have been silent for its timeout: hold once if a command is out; on a
        physical arm, halt if a held fault has been silent `halt_after_s`."""
        if name in self.watchdog.stale(now) and self.active:
            decision = self._hold(now, name)
        else:
            decision = Decision()
        if name not in self.suspects:
            return decision
        still_fault = name in self.sensors or self.goal_active
        if not (self.require_arming and self.armed and still_fault):
            self.suspects.discard(name)
            return decision
        silent = self.watchdog.silent_s(name, now)
        if silent >= self.halt_after_s:
            self.suspects.clear()
            self.guardrails.halt()
            values = {'stale': [name], 'silent_s': round(silent, 4)}
            detail = f'halted: no {name} for {silent:.2f} s; re-arm with jepa/arm'
            decision.interventions.append(self._count(Intervention(Reason.HALT, detail, values)))
        return decision

    # Arming -------------------------------------------------------------------------------
    def arm(self) -> None:
        self.guardrails.arm()

    def halt(self, detail: str) -> Decision:
        """Halt on request: hold at the measured position, pass nothing until armed."""
        self.guardrails.halt()
        self.active = False
        self.suspects.clear()
        hold = self.guardrails.hold(self.measured)
        return self._decide(hold, [Intervention(Reason.HALT, detail)])

    def summary(self) -> dict[str, Any]:
        """Armed or not, commands sent, interventions by reason code."""
        counts = {f'count_{k}': v for k, v in sorted(self.counts.items())}
        return {'armed': self.armed, 'commands': self.commands,
                'total_interventions': sum(self.counts.values()), **counts}  # fmt: skip

    # Internals ----------------------------------------------------------------------------
    def _touch(self, name: str, now: float) -> None:
        self.watchdog.touch(name, now)
        self.suspects.discard(name)

    def _hold(self, now: float, trigger: str) -> Decision:
        """One hold at the measured position because `trigger` went silent; remember the
        faults among the stale inputs."""
        stale = sorted(set(self.watchdog.stale(now)) | {trigger})
        self.active = False
        silent = {key: round(self.watchdog.silent_s(key, now), 4) for key in stale}
        intervention = Intervention(
            Reason.HOLD_STALE,
            f'no fresh {stale}: holding',
            {'trigger': trigger, 'stale': stale, 'silent_s': silent},
        )
        # A fault, not the actor going idle after its goal, may halt a physical arm's gate
        self.suspects = {s for s in stale if s in self.sensors or self.goal_active}
        return self._decide(self.guardrails.hold(self.measured), [intervention])

    def _decide(self, command: Command | None, interventions: list[Intervention]) -> Decision:
        if command is not None:
            self.commands += 1
        return Decision(command, [self._count(i) for i in interventions])

    def _count(self, intervention: Intervention) -> Intervention:
        self.counts[intervention.reason.value] += 1
        return intervention
