"""guardrail_node: the safety gate, the only path from the actor to the arm.

`jepa/command_proposal` -> checks (jepa_ros/guardrails.py) -> `joint_trajectory_controller/
joint_trajectory`; the decisions over time (watchdog, hold, halt, arming) are jepa_ros/gate.py's.
Limits come from the scene's URDF, overridden per arm by parameters (a YAML in config/). A
watchdog holds the arm at its measured position (one hold command, then silence) when
`joint_states`, `jepa/latent` or the proposals stop: an input is stale after `stale_periods` of
its measured period (never sooner than its `*_timeout_s`, never later than `max_timeout_s`), so a
slower but steady pipeline keeps moving and a silent input holds within two of its ticks. On a
physical arm (`require_arming`) a fault that lasts `halt_after_s` (a silent sensor, or no
proposals while a goal is set on `jepa/goal_latent`) also halts the gate, which starts disarmed
and is armed by `jepa/arm` (std_srvs/SetBool: true arms, false halts). A shorter gap only holds:
the arm stays at its measured position and the gate passes the next valid proposal. Whether the
gate is armed is latched on `jepa/armed` (std_msgs/Bool, on every change), and whether it would
pass a valid proposal now (armed, and the joint states and latents fresh) on `jepa/gate_ready`
(std_msgs/Bool, on every change): the configurator does not count ticks the arm could not move in.
Every intervention is published on `jepa/status` with a reason code, the offending values and a
counter.
"""

from __future__ import annotations

from functools import partial

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jepa_ros.collision import CollisionModel
from jepa_ros.describe import help_of, ParameterSpec, start_only
from jepa_ros.envs.kinematics import ee_position_function
from jepa_ros.envs.scene import load_scene
from jepa_ros.frames import FrameCounter
from jepa_ros.gate import Decision, Gate, INPUTS
from jepa_ros.graph import GraphConfig
from jepa_ros.guardrails import Command, GuardrailConfig, Guardrails, Proposal, Watchdog
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    LATCHED_QOS,
    OK,
    PolledSubscription,
    run_node,
    seconds,
    SENSOR_QOS,
    stamp_s,
    STATE_QOS,
    StatusReporter,
    subscribe_newest,
    WARN,
)  # fmt: skip

FROM_URDF = ', one per joint; [] or [0.0]: from the URDF'
PARAMETERS = start_only({
    'scene': ParameterSpec('panda', help_of(GraphConfig, 'scene')),
    'joint_names': ParameterSpec(
        [''], 'joints the gate commands, in order (default: the scene controlled)'),
    'lower': ParameterSpec([0.0], help_of(GuardrailConfig, 'lower') + FROM_URDF),
    'upper': ParameterSpec([0.0], help_of(GuardrailConfig, 'upper') + FROM_URDF),
    'margin_rad': ParameterSpec(0.02, help_of(GuardrailConfig, 'margin_rad'), 0.0, 0.5),
    'max_step_rad': ParameterSpec(0.1, help_of(GuardrailConfig, 'max_step_rad'), 1e-4, 1.0),
    'max_velocity_rad_s': ParameterSpec(
        1.5, help_of(GuardrailConfig, 'max_velocity_rad_s'), 1e-3, 10.0),
    'workspace_min': ParameterSpec(
        [-1.0, -1.0, 0.03], help_of(GuardrailConfig, 'workspace_min')),
    'workspace_max': ParameterSpec([1.0, 1.0, 1.2], help_of(GuardrailConfig, 'workspace_max')),
    'watch_latent': ParameterSpec(
        True, 'pass proposals only while jepa/latent is fresh (false for exploration, which '
              'plans from no latent: joint_states alone are watched)'),
    'require_arming': ParameterSpec(
        False, 'physical arm: start disarmed, halt on a lasting fault (halt_after_s), stay '
               'halted until armed by the jepa/arm service'),
    'joint_states_timeout_s': ParameterSpec(
        0.5, 'hold when joint_states is silent this long (at least)', 0.001, 10.0),
    'latent_timeout_s': ParameterSpec(
        1.0, 'hold when jepa/latent is silent this long (at least)', 0.001, 10.0),
    'proposal_timeout_s': ParameterSpec(
        0.5, 'hold when no proposal came for this long (at least)', 0.001, 10.0),
    'stale_periods': ParameterSpec(
        1.5, 'an input is stale after this many of its measured periods, never sooner than '
             'its *_timeout_s: a slower but steady input is not stale', 1.0, 10.0),
    'max_timeout_s': ParameterSpec(
        1.0, 'an input silent this long is stale, however slow it was', 0.001, 10.0),
    'halt_after_s': ParameterSpec(
        0.5, 'require_arming: halt when a held fault (a silent sensor, or no proposals while a '
             'goal is set) is still silent after this long', 0.0, 60.0),
    'collision_check': ParameterSpec(
        True, "refuse commands whose path comes closer than the margins to the arm itself, the "
              "floor or the scene's obstacles"),
    'min_distance_m': ParameterSpec(
        0.02, 'collision margin to the floor and obstacles (m)', 0.0, 0.5),
    'self_min_distance_m': ParameterSpec(0.01, 'collision margin between links (m)', 0.0, 0.5),
    'collision_resolution_rad': ParameterSpec(
        0.05, 'largest joint change between configurations checked along a path for a pair '
              'already within its margin at the start (rad); every other pair is checked by '
              'conservative advancement', 1e-3, 0.5),
})  # fmt: skip
TIMEOUTS = {name: f'{name}_timeout_s' for name in INPUTS}


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
        ee = ee_position_function(scene, config.joint_names)
        inputs = INPUTS if p['watch_latent'] else ('joint_states', 'proposal')
        watchdog = Watchdog(
            {name: p[TIMEOUTS[name]] for name in inputs},
            ticks=p['stale_periods'],
            max_timeout_s=p['max_timeout_s'],
        )
        collision = None
        if p['collision_check']:
            collision = CollisionModel(
                scene, config.joint_names, p['min_distance_m'], p['self_min_distance_m'],
                p['collision_resolution_rad'],
            )  # fmt: skip
        guardrails = Guardrails(config, ee, not p['require_arming'], collision)
        self.gate = Gate(guardrails, watchdog, p['require_arming'], p['halt_after_s'],
                         [i for i in inputs if i != 'proposal'])  # fmt: skip
        self.status = StatusReporter(self, 'guardrail')
        group = MutuallyExclusiveCallbackGroup()  # the gate's state changes in one thread
        self.publisher = self.create_publisher(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory', COMMAND_QOS
        )
        self.proposals = FrameCounter()  # proposals taken, and skipped (superseded) while busy
        subscribe_newest(self, JointTrajectory, 'jepa/command_proposal', self.on_proposal,
                         self.proposals, COMMAND_QOS, callback_group=group)  # fmt: skip
        # Read when the gate needs them (each latent, proposal, deadline and summary), not one
        # executor callback per message: an arm publishes them at 50-1000 Hz
        self.joint_states = PolledSubscription(self, JointState, 'joint_states', STATE_QOS)
        if p['watch_latent']:
            self.create_subscription(Image, 'jepa/latent', self.on_latent, SENSOR_QOS,
                                     callback_group=group)  # fmt: skip
        self.create_subscription(Image, 'jepa/goal_latent', self.on_goal, LATCHED_QOS,
                                 callback_group=group)  # fmt: skip
        self.create_service(SetBool, 'jepa/arm', self.on_arm, callback_group=group)
        self.armed_pub = self.create_publisher(Bool, 'jepa/armed', LATCHED_QOS)
        self.ready_pub = self.create_publisher(Bool, 'jepa/gate_ready', LATCHED_QOS)
        # One deadline timer per input, restarted by each message: it fires only after silence
        self.deadlines = {
            name: self.create_timer(watchdog.timeout_s(name), partial(self.on_deadline, name),
                                    callback_group=group)
            for name in inputs
        }  # fmt: skip
        self.periods = {name: timer.timer_period_ns for name, timer in self.deadlines.items()}
        self.create_timer(1.0, self.report_summary, callback_group=group)
        state = 'armed' if self.gate.armed else 'DISARMED: call jepa/arm (SetBool true) to arm'
        self.status.change(f'guardrail up, {state}', armed=self.gate.armed)
        self.was_armed = self.gate.armed
        self.armed_pub.publish(Bool(data=self.gate.armed))
        self.was_ready = self.gate.ready(self.now_s())  # not yet: no sensor input came
        self.ready_pub.publish(Bool(data=self.was_ready))

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def read_joints(self) -> float:
        """Take the newest joint_states (if one came since the last read); returns now."""
        now = self.now_s()
        msg = self.joint_states.newest()
        if msg is not None:
            self.act(self.gate.joints(now, msg.name, msg.position))
            if self.gate.watchdog.silent_s('joint_states', now) == 0:  # it named every joint
                self.restart('joint_states')
        return now

    def on_latent(self, msg: Image) -> None:
        self.gate.latent(self.read_joints())
        self.restart('latent')
        self.publish_state()

    def on_goal(self, msg: Image) -> None:
        self.gate.goal(msg.width > 0)  # an empty goal latent: the actor goes idle on purpose

    def on_proposal(self, msg: JointTrajectory) -> None:
        proposal = Proposal(msg.joint_names, [list(pt.positions) for pt in msg.points],
                            [stamp_s(pt.time_from_start) for pt in msg.points])  # fmt: skip
        self.act(self.gate.proposal(self.read_joints(), proposal))
        self.restart('proposal')

    def restart(self, name: str) -> None:
        """Restart `name`'s deadline timer at the watchdog's current timeout for it."""
        timeout_ns = int(self.gate.watchdog.timeout_s(name) * 1e9)
        if self.periods[name] != timeout_ns:
            self.deadlines[name].timer_period_ns = self.periods[name] = timeout_ns
        self.deadlines[name].reset()

    def on_deadline(self, name: str) -> None:
        self.act(self.gate.deadline(self.read_joints(), name))

    def report_summary(self) -> None:
        """Once a second: armed or not, commands sent, interventions by reason code."""
        self.read_joints()
        summary = self.gate.summary()
        self.status.report(OK, 'armed' if summary['armed'] else 'disarmed', **summary,
                           **self.proposals.report('proposals'))  # fmt: skip

    def on_arm(self, request, response):
        self.read_joints()  # a halt holds at the newest measured position
        if request.data:
            self.gate.arm()
            response.message = 'armed'
        else:
            self.act(self.gate.halt('halted by the jepa/arm service'))
            response.message = 'halted'
        response.success = True
        self.status.report(OK, response.message, armed=self.gate.armed)
        self.publish_state()
        return response

    def publish_state(self) -> None:
        """Latch on `jepa/armed` (and log at INFO) when the gate was armed or disarmed (by the
        service, or a halt), and on `jepa/gate_ready` when it started or stopped being ready."""
        if self.gate.armed != self.was_armed:
            self.was_armed = self.gate.armed
            self.get_logger().info('armed' if self.gate.armed else 'disarmed')
            self.armed_pub.publish(Bool(data=self.gate.armed))
        ready = self.gate.ready(self.now_s())
        if ready != self.was_ready:
            self.was_ready = ready
            self.ready_pub.publish(Bool(data=ready))

    def act(self, decision: Decision) -> None:
        """Send the decision's command, then report each intervention."""
        if decision.command is not None:
            self.send(decision.command)
        for intervention in decision.interventions:
            reason = intervention.reason.value
            self.status.report(
                WARN, f'{reason}: {intervention.detail}', reason=reason,
                count=self.gate.counts[reason], values=intervention.values,
                total_interventions=sum(self.gate.counts.values()),
                commands=self.gate.commands, armed=self.gate.armed,
            )  # fmt: skip
        self.publish_state()

    def send(self, command: Command) -> None:
        msg = JointTrajectory(joint_names=list(command.joint_names))  # stamp 0: start now
        msg.points = [JointTrajectoryPoint(positions=row.tolist(), time_from_start=seconds(t))
                      for row, t in zip(command.positions, command.times)]  # fmt: skip
        self.publisher.publish(msg)


def main(args: list[str] | None = None) -> None:
    run_node(GuardrailNode, args)


if __name__ == '__main__':
    main()
