"""guardrail_node: the safety gate, the only path from the actor to the arm.

`jepa/command_proposal` -> checks (jepa_ros/guardrails.py) -> `joint_trajectory_controller/
joint_trajectory`. Limits come from the scene's URDF, overridden per arm by parameters (a YAML in
config/). A watchdog holds the arm at its measured position (one hold command, then silence) when
`joint_states`, `jepa/latent` or the proposals stop; on a physical arm (`require_arming`) a fault
that lasts `halt_after_s` (a silent sensor, or no proposals while a goal is set on
`jepa/goal_latent`) also halts the gate, which starts disarmed and is armed by `jepa/arm`
(std_srvs/SetBool: true arms, false halts). A shorter gap only holds: the arm stays at its
measured position and the gate passes the next valid proposal.
Every intervention is published on `jepa/status` with a reason code, the offending values and a
counter.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_srvs.srv import SetBool
import torch
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.envs.scene import load_scene
from jepa_ros.guardrails import (
    Command,
    GuardrailConfig,
    Guardrails,
    Intervention,
    Proposal,
    Reason,
    Watchdog,
)  # fmt: skip
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    joints_by_name,
    LATCHED_QOS,
    OK,
    run_node,
    seconds,
    SENSOR_QOS,
    stamp_s,
    STATE_QOS,
    StatusReporter,
    WARN,
)  # fmt: skip

PARAMETERS = {
    'scene': ('panda', 'scene whose URDF gives the limits and forward kinematics'),
    'joint_names': ([''], 'joints the gate commands, in order (default: the scene controlled)'),
    'lower': ([0.0], 'lower position limits (rad), one per joint; [] or [0.0]: from the URDF'),
    'upper': ([0.0], 'upper position limits (rad), one per joint; [] or [0.0]: from the URDF'),
    'margin_rad': (0.02, 'keep this far inside the position limits (rad)'),
    'max_step_rad': (0.1, 'largest change per trajectory point from the measured position'),
    'max_velocity_rad_s': (1.5, 'largest joint speed (rad/s)'),
    'workspace_min': ([-1.0, -1.0, 0.03], 'end-effector box lower corner (m, base frame)'),
    'workspace_max': ([1.0, 1.0, 1.2], 'end-effector box upper corner (m, base frame)'),
    'require_arming': (False, 'physical arm: start disarmed, halt on a lasting fault '
                              '(halt_after_s), stay halted until armed by the jepa/arm service'),
    'joint_states_timeout_s': (0.5, 'hold when joint_states is older than this'),
    'latent_timeout_s': (1.0, 'hold when jepa/latent is older than this'),
    'proposal_timeout_s': (0.5, 'hold when no proposal came for this long'),
    'halt_after_s': (0.5, 'require_arming: halt when a held fault (a silent sensor, or no '
                          'proposals while a goal is set) is still silent after this long'),
}  # fmt: skip
SENSORS = ('joint_states', 'latent')


def guardrail_config(scene, params) -> GuardrailConfig:
    """Limits from the scene's URDF, overridden by the parameters that are set."""
    names = [n for n in params['joint_names'] if n] or list(scene.controlled_joints)
    urdf = scene.urdf()
    limits = {}
    for key in ('lower', 'upper'):
        values = [v for v in params[key]]
        if values in ([], [0.0]):
            values = [getattr(urdf.joint(n), key) for n in names]
            if None in values:
                raise ValueError(f'the URDF gives no {key} limit for one of {names}; set {key}')
        limits[key] = tuple(values)
    return GuardrailConfig(
        joint_names=tuple(names), lower=limits['lower'], upper=limits['upper'],
        margin_rad=params['margin_rad'], max_step_rad=params['max_step_rad'],
        max_velocity_rad_s=params['max_velocity_rad_s'],
        workspace_min=tuple(params['workspace_min']), workspace_max=tuple(params['workspace_max']),
    )  # fmt: skip


class GuardrailNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('guardrail_node', **kwargs)
        self.params = p = declare(self, PARAMETERS)
        scene = load_scene(p['scene'])
        config = guardrail_config(scene, p)
        kinematics = ForwardKinematics(scene.urdf(), config.joint_names, [scene.ee_link],
                                       scene.home)  # fmt: skip
        ee = lambda joints: kinematics(torch.as_tensor(joints))[:, -1].numpy()  # noqa: E731
        self.gate = Guardrails(config, ee, armed=not p['require_arming'])
        self.watchdog = Watchdog({'joint_states': p['joint_states_timeout_s'],
                                  'latent': p['latent_timeout_s'],
                                  'proposal': p['proposal_timeout_s']})  # fmt: skip
        if not p['halt_after_s'] > 0:
            raise ValueError(f'halt_after_s must be > 0, got {p["halt_after_s"]!r}')
        self.status = StatusReporter(self, 'guardrail')
        self.counts: Counter[str] = Counter()
        self.measured: dict[str, float] | None = None
        self.active = False  # a command went out since the last hold
        self.suspects: set[str] = set()  # held for these faults; halt if they stay silent
        self.commands = 0
        group = MutuallyExclusiveCallbackGroup()  # the gate's state changes in one thread
        self.publisher = self.create_publisher(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory', COMMAND_QOS
        )
        self.create_subscription(JointTrajectory, 'jepa/command_proposal', self.on_proposal,
                                 COMMAND_QOS, callback_group=group)  # fmt: skip
        self.create_subscription(JointState, 'joint_states', self.on_joints, STATE_QOS,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(Image, 'jepa/latent', self.on_latent, SENSOR_QOS,
                                 callback_group=group)  # fmt: skip
        self.create_subscription(Image, 'jepa/goal_latent', self.on_goal, LATCHED_QOS,
                                 callback_group=group)  # fmt: skip
        self.goal_active = False  # while a goal is set, the actor must keep proposing
        self.create_service(SetBool, 'jepa/arm', self.on_arm, callback_group=group)
        # One deadline timer per input, restarted by each message: it fires only after silence
        self.deadlines = {
            name: self.create_timer(timeout, partial(self.on_silence, name), callback_group=group)
            for name, timeout in self.watchdog.timeouts_s.items()
        }  # fmt: skip
        self.create_timer(1.0, self.report_summary, callback_group=group)
        state = 'armed' if self.gate.armed else 'DISARMED: call jepa/arm (SetBool true) to arm'
        self.status.report(OK, f'guardrail up, {state}', armed=self.gate.armed)

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_joints(self, msg: JointState) -> None:
        try:
            self.measured = joints_by_name(msg)
        except ValueError as exc:
            self.intervene(Intervention(Reason.REJECT_NO_STATE, f'bad joint_states: {exc}'))
            return
        if all(n in self.measured for n in self.gate.config.joint_names):
            self.touch('joint_states')

    def on_latent(self, msg: Image) -> None:
        self.touch('latent')

    def on_goal(self, msg: Image) -> None:
        self.goal_active = msg.width > 0  # an empty goal latent: the actor goes idle on purpose

    def on_proposal(self, msg: JointTrajectory) -> None:
        self.touch('proposal')
        stale = [s for s in self.watchdog.stale(self.now_s()) if s in SENSORS]
        if stale:
            self.intervene(Intervention(Reason.REJECT_NO_STATE, f'stale inputs: {stale}'))
            return
        proposal = Proposal(msg.joint_names, [list(pt.positions) for pt in msg.points],
                            [stamp_s(pt.time_from_start) for pt in msg.points])  # fmt: skip
        command, interventions = self.gate.apply(proposal, self.measured)
        for intervention in interventions:
            self.intervene(intervention)
        if command is not None:
            self.send(command)
            self.active = True

    def touch(self, name: str) -> None:
        self.watchdog.touch(name, self.now_s())
        self.deadlines[name].reset()
        self.suspects.discard(name)

    def on_silence(self, name: str) -> None:
        """`name` has been silent for its timeout (and again each timeout after that): hold
        once if a command is out; on a physical arm, halt if a fault outlasts `halt_after_s`."""
        now = self.now_s()
        if self.active:
            self.hold(now, name)
        if name not in self.suspects:
            return
        still_fault = name in SENSORS or self.goal_active
        if not (self.params['require_arming'] and self.gate.armed and still_fault):
            self.suspects.discard(name)
            return
        silent = self.watchdog.silent_s(name, now)
        if silent >= self.params['halt_after_s']:
            self.suspects.clear()
            self.gate.halt()
            values = {'stale': [name], 'silent_s': round(silent, 4)}
            detail = f'halted: no {name} for {silent:.2f} s; re-arm with jepa/arm'
            self.intervene(Intervention(Reason.HALT, detail, values))

    def hold(self, now: float, trigger: str) -> None:
        """One hold command at the measured position, because `trigger` went silent; remember
        the faults among the stale inputs."""
        stale = sorted(set(self.watchdog.stale(now)) | {trigger})
        self.active = False
        hold = self.gate.hold(self.measured)
        if hold is not None:
            self.send(hold)
        silent = {key: round(self.watchdog.silent_s(key, now), 4) for key in stale}
        self.intervene(
            Intervention(
                Reason.HOLD_STALE,
                f'no fresh {stale}: holding',
                {'trigger': trigger, 'stale': stale, 'silent_s': silent},
            )
        )
        # A fault, not the actor going idle after its goal, may halt a physical arm's gate
        self.suspects = {s for s in stale if s in SENSORS or self.goal_active}

    def report_summary(self) -> None:
        """Once a second: armed or not, commands sent, interventions by reason code."""
        counts = {f'count_{k}': v for k, v in sorted(self.counts.items())}
        self.status.report(OK, 'armed' if self.gate.armed else 'disarmed', armed=self.gate.armed,
                           commands=self.commands, total_interventions=sum(self.counts.values()),
                           **counts)  # fmt: skip

    def on_arm(self, request, response):
        if request.data:
            self.gate.arm()
            response.message = 'armed'
        else:
            self.gate.halt()
            self.active = False
            self.suspects.clear()
            hold = self.gate.hold(self.measured)
            if hold is not None:
                self.send(hold)
            self.intervene(Intervention(Reason.HALT, 'halted by the jepa/arm service'))
            response.message = 'halted'
        response.success = True
        self.status.report(OK, response.message, armed=self.gate.armed)
        return response

    def send(self, command: Command) -> None:
        msg = JointTrajectory(joint_names=list(command.joint_names))  # stamp 0: start now
        msg.points = [JointTrajectoryPoint(positions=row.tolist(), time_from_start=seconds(t))
                      for row, t in zip(command.positions, command.times)]  # fmt: skip
        self.publisher.publish(msg)
        self.commands += 1

    def intervene(self, intervention: Intervention) -> None:
        self.counts[intervention.reason.value] += 1
        self.status.report(
            WARN, f'{intervention.reason.value}: {intervention.detail}',
            reason=intervention.reason.value, count=self.counts[intervention.reason.value],
            values=intervention.values, total_interventions=sum(self.counts.values()),
            commands=self.commands, armed=self.gate.armed,
        )  # fmt: skip


def main(args: list[str] | None = None) -> None:
    run_node(GuardrailNode, args)


if __name__ == '__main__':
    main()
