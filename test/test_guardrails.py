"""The guardrail gate's core: passes, clamps, rejections, hold, watchdog."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jepa_ros.guardrails import (
    GuardrailConfig,
    Guardrails,
    Proposal,
    Reason,
    Watchdog,
)  # fmt: skip

NAMES = ('a', 'b')


def make_gate(armed: bool = True, **kw) -> Guardrails:
    config = GuardrailConfig(joint_names=NAMES, lower=(-1.0, -2.0), upper=(1.0, 2.0),
                             margin_rad=0.05, max_step_rad=0.1, max_velocity_rad_s=2.0,
                             workspace_min=(-1, -1, 0.0), workspace_max=(1, 1, 2),
                             **kw)  # fmt: skip

    def ee(joints):  # a toy arm: the end-effector height is 0.5 + joint a
        joints = np.asarray(joints)
        return np.stack([joints[:, 1] * 0.1, 0 * joints[:, 0], 0.5 + joints[:, 0]], axis=1)

    return Guardrails(config, ee, armed=armed)


MEASURED = {'a': 0.0, 'b': 0.0, 'gripper': 0.3}


def test_a_proposal_inside_every_limit_passes_unchanged():
    gate = make_gate()
    command, interventions = gate.apply(Proposal(['b', 'a'], [[0.05, -0.02]], [0.1]), MEASURED)
    assert interventions == []
    np.testing.assert_array_equal(command.positions, [[-0.02, 0.05]])  # config order a, b
    assert command.joint_names == NAMES and command.times.tolist() == [0.1]


@pytest.mark.parametrize(
    'positions, times, reasons, sent',
    [
        ([[0.5, 0.0]], [1.0], ['clamp_step'], [[0.1, 0.0]]),
        ([[0.05, 0.0]], [0.01], ['clamp_velocity'], [[0.02, 0.0]]),
        # Far past the upper limit: first into the range, then the step from where it is
        ([[5.0, 0.0]], [1.0], ['clamp_position', 'clamp_step'], [[0.1, 0.0]]),
        ([[0.05, 0.0], [0.15, 0.0]], [0.1, 0.2], [], [[0.05, 0.0], [0.15, 0.0]]),
    ],
)
def test_clamps_are_reported(positions, times, reasons, sent):
    command, interventions = make_gate().apply(Proposal(NAMES, positions, times), MEASURED)
    assert [i.reason.value for i in interventions] == reasons
    np.testing.assert_allclose(command.positions, sent)
    if interventions:
        assert 'requested' in interventions[0].values and 'sent' in interventions[0].values


def test_position_clamp_keeps_the_margin_near_a_limit():
    command, interventions = make_gate().apply(Proposal(NAMES, [[1.0, 0.0]], [1.0]),
                                               {'a': 0.93, 'b': 0.0})  # fmt: skip
    assert interventions[0].reason is Reason.CLAMP_POSITION
    assert command.positions[0, 0] == pytest.approx(0.95)


@pytest.mark.parametrize(
    'proposal, measured, reason',
    [
        (Proposal(NAMES, [[math.nan, 0.0]], [0.1]), MEASURED, Reason.REJECT_NONFINITE),
        (Proposal(NAMES, [[0.0, 0.0]], [math.inf]), MEASURED, Reason.REJECT_NONFINITE),
        (Proposal(['a', 'b', 'c'], [[0, 0, 0]], [0.1]), MEASURED, Reason.REJECT_UNKNOWN_JOINT),
        (Proposal(['a', 'a'], [[0, 0]], [0.1]), MEASURED, Reason.REJECT_UNKNOWN_JOINT),
        (Proposal(['a'], [[0.0]], [0.1]), MEASURED, Reason.REJECT_MISSING_JOINT),
        (Proposal(NAMES, [], []), MEASURED, Reason.REJECT_EMPTY),
        (Proposal(NAMES, [[0.0]], [0.1]), MEASURED, Reason.REJECT_EMPTY),
        (Proposal(NAMES, [[0, 0], [0, 0]], [0.2, 0.1]), MEASURED, Reason.REJECT_TIMING),
        (Proposal(NAMES, [[0, 0], [0, 0]], [0.1, 0.1]), MEASURED, Reason.REJECT_TIMING),
        (Proposal(NAMES, [[0, 0]], [0.0]), MEASURED, Reason.REJECT_TIMING),
        (Proposal(NAMES, [[0, 0]], [0.1]), None, Reason.REJECT_NO_STATE),
        (Proposal(NAMES, [[0, 0]], [0.1]), {'a': 0.0}, Reason.REJECT_NO_STATE),
        (Proposal(NAMES, [[-0.6, 0]], [0.1]), {'a': -0.55, 'b': 0}, Reason.REJECT_WORKSPACE),
    ],
)
def test_rejections_send_nothing(proposal, measured, reason):
    command, interventions = make_gate().apply(proposal, measured)
    assert command is None
    assert [i.reason for i in interventions] == [reason]


def test_disarmed_gate_sends_nothing_until_armed():
    gate = make_gate(armed=False)
    proposal = Proposal(NAMES, [[0.05, 0.0]], [0.1])
    assert gate.apply(proposal, MEASURED)[1][0].reason is Reason.REJECT_DISARMED
    gate.arm()
    assert gate.apply(proposal, MEASURED)[0] is not None
    gate.halt()
    assert gate.apply(proposal, MEASURED)[0] is None


def test_hold_is_the_measured_position():
    gate = make_gate()
    hold = gate.hold({'b': 0.2, 'a': -0.1})
    np.testing.assert_array_equal(hold.positions, [[-0.1, 0.2]])
    assert gate.hold({'a': 0.0}) is None and gate.hold({'a': math.nan, 'b': 0}) is None


def test_watchdog_lists_stale_inputs():
    watchdog = Watchdog({'joints': 0.5, 'latent': 1.0})
    assert watchdog.stale(0.0) == ['joints', 'latent'], 'never seen counts as stale'
    watchdog.touch('joints', 10.0)
    watchdog.touch('latent', 10.0)
    assert watchdog.stale(10.4) == []
    assert watchdog.stale(10.7) == ['joints']
    assert watchdog.stale(11.2) == ['joints', 'latent']
    assert watchdog.silent_s('joints', 11.2) == pytest.approx(1.2)
    watchdog.forget('latent')
    assert watchdog.silent_s('latent', 11.2) == math.inf
    with pytest.raises(KeyError):
        watchdog.touch('camera', 0.0)
    with pytest.raises(ValueError):
        Watchdog({'joints': 0.0})


@pytest.mark.parametrize('kw', [{'lower': (1.0, 2.0)}, {'margin_rad': -0.1},
                                {'max_step_rad': 0.0}, {'workspace_min': (0, 0, 2)},
                                {'joint_names': ('a', 'a')}])  # fmt: skip
def test_bad_guardrail_config_is_refused(kw):
    base = dict(joint_names=NAMES, lower=(-1.0, -2.0), upper=(1.0, 2.0))
    with pytest.raises(ValueError):
        GuardrailConfig(**{**base, **kw})


def test_from_outside_the_range_nothing_is_sent():
    command, interventions = make_gate().apply(Proposal(NAMES, [[0.0, 0.0]], [1.0]),
                                               {'a': 1.5, 'b': 0.0})  # fmt: skip
    assert command is None and interventions[-1].reason is Reason.REJECT_OUT_OF_RANGE
