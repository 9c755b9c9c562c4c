"""The gate over time (jepa_ros/gate.py) on a simulated clock: holds, halts, arming, and a
watchdog that tells a slower but steady pipeline from a silent input. No DDS timing decides
these tests; test_ros_graph.py and test_ros_processes.py check the node does the same."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_ros.gate import Gate, INPUTS
from jepa_ros.guardrails import GuardrailConfig, Guardrails, Proposal, Reason, Watchdog

NAMES = ('a', 'b')
RATE = 12.0  # the control rate the base timeouts are made for
TICKS = 1.75  # the base timeouts: control ticks
PERIODS = 1.5  # stale after this many measured periods


def make_gate(adaptive: bool = True, require_arming: bool = False, halt_after_s: float = 0.5):
    config = GuardrailConfig(joint_names=NAMES, lower=(-1.0, -1.0), upper=(1.0, 1.0),
                             max_step_rad=0.1, max_velocity_rad_s=2.0)  # fmt: skip
    ee = lambda joints: np.tile([0.3, 0.0, 0.5], (len(joints), 1))  # noqa: E731
    base = {'joint_states': 0.5, 'latent': TICKS / RATE, 'proposal': TICKS / RATE}
    watchdog = Watchdog(base, ticks=PERIODS if adaptive else None, max_timeout_s=1.0)
    return Gate(Guardrails(config, ee, armed=not require_arming), watchdog, require_arming,
                halt_after_s)  # fmt: skip


class Clock:
    """Drives a Gate as guardrail_node does: each input's deadline fires its watchdog timeout
    after the input's last message, then again every timeout while it stays silent."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.now = 0.0
        self.due = {name: gate.watchdog.timeout_s(name) for name in INPUTS}
        self.log: list[tuple[float, str, object]] = []  # (time, what, command or reason)

    def advance(self, until: float) -> None:
        while min(self.due.values()) <= until:
            name = min(self.due, key=self.due.get)
            self.now = self.due[name] + 1e-6  # a timer fires a little after it is due
            self.record(self.gate.deadline(self.now, name))
            self.due[name] = self.now + self.gate.watchdog.timeout_s(name)
        self.now = until

    def feed(self, t: float, name: str) -> None:
        """Input `name` arrives at `t`."""
        self.advance(t)
        if name == 'joint_states':
            self.record(self.gate.joints(t, NAMES, [0.0, 0.0]))
        elif name == 'latent':
            self.gate.latent(t)
        else:
            self.record(self.gate.proposal(t, Proposal(NAMES, [[0.05, 0.0]], [1 / RATE])))
        self.due[name] = t + self.gate.watchdog.timeout_s(name)

    def record(self, decision) -> None:
        if decision.command is not None:
            self.log.append((self.now, 'command', decision.command))
        for intervention in decision.interventions:
            self.log.append((self.now, 'intervention', intervention.reason))

    def reasons(self, after: float = -1.0) -> list[Reason]:
        return [what for t, kind, what in self.log if kind == 'intervention' and t > after]

    def commands(self, after: float = -1.0) -> int:
        return sum(1 for t, kind, _ in self.log if kind == 'command' and t > after)


def run_pipeline(clock: Clock, start: float, seconds: float, rate_hz: float) -> float:
    """Joint states at 50 Hz; a latent every 1/rate_hz, its proposal 30 ms later."""
    events = [(t, 'joint_states') for t in np.arange(start, start + seconds, 0.02)]
    for t in np.arange(start, start + seconds, 1 / rate_hz):
        events += [(t + 0.001, 'latent'), (t + 0.031, 'proposal')]
    for t, name in sorted(events):
        clock.feed(float(t), name)
    return start + seconds


@pytest.mark.parametrize('adaptive', [True, False])
def test_a_steady_pipeline_at_half_the_control_rate_keeps_moving(adaptive):
    clock = Clock(make_gate(adaptive))
    end = run_pipeline(clock, 0.0, 5.0, RATE / 2)
    settled = 0.5  # the watchdog has measured the rate
    sent = clock.commands(after=settled)
    if adaptive:
        assert Reason.HOLD_STALE not in clock.reasons(after=settled), clock.reasons(settled)
        assert sent == pytest.approx((end - settled) * RATE / 2, abs=1), 'every proposal passes'
    else:  # the fixed limit of 1.75 control ticks holds the arm after every command
        assert clock.reasons(after=settled).count(Reason.HOLD_STALE) >= 10


@pytest.mark.parametrize('rate_hz', [RATE, RATE / 2])
def test_a_silent_input_holds_within_two_of_its_ticks(rate_hz):
    clock = Clock(make_gate())
    end = run_pipeline(clock, 0.0, 3.0, rate_hz)
    last_latent = max(t for t in np.arange(0.0, 3.0, 1 / rate_hz)) + 0.001
    # Latents stop; joint states go on
    for t in np.arange(end, end + 1.0, 0.02):
        clock.feed(float(t), 'joint_states')
    holds = [t for t, kind, what in clock.log if what == Reason.HOLD_STALE and t > last_latent]
    assert holds, 'a hold after the latents stopped'
    assert holds[0] - last_latent <= 2 / rate_hz, (holds[0] - last_latent, 2 / rate_hz)
    assert clock.log[-1][1] != 'command' or np.allclose(clock.log[-1][2].positions, 0.0)


def test_an_input_slower_than_max_timeout_counts_as_silent():
    gate = make_gate()
    for t in (0.0, 2.0, 4.0, 6.0):
        gate.latent(t)
    assert gate.watchdog.timeout_s('latent') == pytest.approx(TICKS / RATE), 'no rate measured'
    for t in np.arange(6.0, 9.0, 0.4):  # steady at 2.5 Hz: 1.5 periods = 0.6 s
        gate.latent(float(t))
    assert gate.watchdog.timeout_s('latent') == pytest.approx(0.6)
    for t in np.arange(9.0, 16.0, 0.8):  # 1.25 Hz: capped at max_timeout_s
        gate.latent(float(t))
    assert gate.watchdog.timeout_s('latent') == pytest.approx(1.0)


def test_physical_arm_holds_then_halts_on_a_lasting_fault_and_waits_for_arming():
    gate = make_gate(require_arming=True, halt_after_s=0.5)
    clock = Clock(gate)
    run_pipeline(clock, 0.0, 1.0, RATE)
    assert clock.commands() == 0 and Reason.REJECT_DISARMED in clock.reasons(), 'disarmed'
    gate.arm()
    gate.goal(True)
    end = run_pipeline(clock, 1.0, 2.0, RATE)
    assert clock.commands(after=1.0) >= 20 and Reason.HALT not in clock.reasons()
    # The actor dies while a goal is set: no proposals; the sensors go on
    events = [(t, 'joint_states') for t in np.arange(end, end + 1.5, 0.02)]
    events += [(t, 'latent') for t in np.arange(end, end + 1.5, 1 / RATE)]
    for t, name in sorted(events):
        clock.feed(float(t), name)
    after = clock.reasons(after=end - 0.1)
    assert after[:2] == [Reason.HOLD_STALE, Reason.HALT] and not gate.armed, after
    # Halted: proposals are refused until re-armed
    run_pipeline(clock, end + 1.5, 0.5, RATE)
    assert clock.commands(after=end + 1.5) == 0
    assert Reason.REJECT_DISARMED in clock.reasons(after=end + 1.5)


def test_the_actor_going_idle_after_its_goal_holds_but_never_halts():
    gate = make_gate(require_arming=True)
    gate.arm()
    gate.goal(True)
    clock = Clock(gate)
    end = run_pipeline(clock, 0.0, 1.0, RATE)
    gate.goal(False)  # the configurator cleared the goal: the actor stops on purpose
    for t in np.arange(end, end + 2.0, 0.02):
        clock.feed(float(t), 'joint_states')
        if int(round(t / 0.02)) % 4 == 0:
            clock.feed(float(t) + 0.001, 'latent')
    assert Reason.HOLD_STALE in clock.reasons(after=end) and gate.armed
    assert Reason.HALT not in clock.reasons()


def test_a_halt_by_request_holds_at_the_measured_position():
    gate = make_gate()
    gate.joints(0.0, ['b', 'a', 'gripper'], [0.2, -0.1, 0.0])
    decision = gate.halt('halted by the jepa/arm service')
    np.testing.assert_array_equal(decision.command.positions, [[-0.1, 0.2]])
    assert [i.reason for i in decision.interventions] == [Reason.HALT] and not gate.armed
    assert gate.summary()['count_halt'] == 1 and gate.summary()['commands'] == 1
    bad = gate.joints(0.1, ['a', 'b'], [0.0])
    assert bad.interventions[0].reason is Reason.REJECT_NO_STATE
    with pytest.raises(ValueError, match='must watch'):
        Gate(gate.guardrails, Watchdog({'latent': 0.1}), False, 0.5)


def test_ready_says_whether_a_valid_proposal_would_pass():
    """`ready(now)`, which the node latches on jepa/gate_ready for the configurator, agrees at
    every proposal with what the gate does with it: before any sensor input, in a latent gap,
    disarmed, armed, halted."""
    gate = make_gate(require_arming=True)
    seen: list[tuple[bool, bool]] = []  # (ready just before, a command came out)

    def propose(t: float) -> None:
        ready = gate.ready(t)
        seen.append((ready, gate.proposal(t, Proposal(NAMES, [[0.05, 0.0]], [0.1])).command
                     is not None))  # fmt: skip

    propose(0.0)  # nothing measured yet
    for t in np.arange(0.0, 1.0, 0.02):  # fresh sensors, but disarmed
        gate.joints(float(t), NAMES, [0.0, 0.0])
        gate.latent(float(t))
    propose(1.0)
    gate.arm()
    propose(1.0)
    for t in np.arange(1.0, 2.0, 0.02):  # latents stop, joint states go on
        gate.joints(float(t), NAMES, [0.0, 0.0])
        propose(float(t) + 0.001)
    gate.latent(2.0)
    propose(2.0)
    gate.halt('a test')
    propose(2.0)
    assert [r for r, _ in seen[:3]] == [False, False, True]
    assert any(r for r, _ in seen[3:-2]) and not all(r for r, _ in seen[3:-2]), 'the gap'
    assert seen[-2:] == [(True, True), (False, False)]
    assert all(ready == passed for ready, passed in seen), seen
