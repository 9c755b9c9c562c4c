"""ROS graph tests over real rclpy/DDS on localhost (their own ROS_DOMAIN_ID).

They start the nodes in this process (as `jepa-ros demo` does), talk to them only through topics
and services from a separate test node, and wait on messages (with timeouts), never on sleeps
(the gate test plays sensor streams at 20 Hz: its sleeps pace what it sends, not what it waits
for).
Skipped without rclpy, unless JEPA_ROS_REQUIRE_ROS=1 (CI), which makes a missing rclpy a failure.
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
import os
import threading
import time

import numpy as np
import pytest

from conftest import import_rclpy_or_skip

rclpy = import_rclpy_or_skip()

from builtin_interfaces.msg import Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Bool, Header  # noqa: E402
import torch  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from jepa_ros.envs.arm_world import ArmWorld  # noqa: E402
from jepa_ros.envs.scene import load_scene  # noqa: E402
from jepa_ros.graph import graph_specs, GraphConfig, NodeSpec  # noqa: E402
from jepa_ros.nodes.common import (  # noqa: E402
    COMMAND_QOS,
    configure_process,
    image_msg,
    LATCHED_QOS,
    latent_msg,
    SENSOR_QOS,
    stamp_s,
    status_values,
)
from jepa_ros.nodes.embedded import EmbeddedGraph  # noqa: E402

IMAGE, TRAJECTORY = 'sensor_msgs/msg/Image', 'trajectory_msgs/msg/JointTrajectory'
CONTRACT = {
    '/camera/image_raw': IMAGE,
    '/camera/camera_info': 'sensor_msgs/msg/CameraInfo',
    '/joint_states': 'sensor_msgs/msg/JointState',
    '/jepa/goal_image': IMAGE,
    '/jepa/latent': IMAGE,
    '/jepa/goal_latent': IMAGE,
    '/jepa/predicted_latent': IMAGE,
    '/jepa/command_proposal': TRAJECTORY,
    '/joint_trajectory_controller/joint_trajectory': TRAJECTORY,
    '/jepa/armed': 'std_msgs/msg/Bool',
    '/jepa/gate_ready': 'std_msgs/msg/Bool',
    '/jepa/status': 'diagnostic_msgs/msg/DiagnosticArray',
    '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
    '/sim/contacts': 'diagnostic_msgs/msg/DiagnosticArray',
    '/sim/ee_pose': 'geometry_msgs/msg/PoseStamped',
    '/sim/goal_ee_pose': 'geometry_msgs/msg/PoseStamped',
}
SERVICES = {
    '/sim/reset': 'std_srvs/srv/Trigger',
    '/sim/random_goal': 'std_srvs/srv/Trigger',
    '/jepa/cancel': 'std_srvs/srv/Trigger',
    '/jepa/arm': 'std_srvs/srv/SetBool',
}


class Probe(Node):
    """The test's own node: publishes goal images, records statuses, proposals and poses."""

    def __init__(self) -> None:
        super().__init__('test_probe')
        self.condition = threading.Condition()
        self.statuses: list[tuple[str, str, dict[str, str]]] = []  # node, message, values
        self.proposals: list[JointTrajectory] = []
        self.ee: tuple[float, np.ndarray] | None = None
        self.goal_pub = self.create_publisher(Image, 'jepa/goal_image', COMMAND_QOS)
        self.create_subscription(DiagnosticArray, 'jepa/status', self.on_status, 100)
        self.create_subscription(JointTrajectory, 'jepa/command_proposal', self.on_proposal, 10)
        self.create_subscription(PoseStamped, 'sim/ee_pose', self.on_ee, 10)

    def record(self, update) -> None:
        with self.condition:
            update()
            self.condition.notify_all()

    def on_status(self, msg: DiagnosticArray) -> None:
        for s in msg.status:
            entry = (s.name.rsplit('/', 1)[-1], s.message, status_values(s))
            self.record(lambda e=entry: self.statuses.append(e))

    def on_proposal(self, msg: JointTrajectory) -> None:
        self.record(lambda: self.proposals.append(msg))

    def on_ee(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.record(lambda: setattr(self, 'ee', (stamp_s(msg.header.stamp),
                                                 np.array([p.x, p.y, p.z]))))  # fmt: skip

    def wait_for(self, predicate, timeout_s: float, what: str):
        with self.condition:
            assert self.condition.wait_for(predicate, timeout=timeout_s), f'no {what}'

    def call(self, client, request, what: str):
        assert client.wait_for_service(timeout_sec=60), f'no {what} service'
        future = client.call_async(request)
        self.wait_for(future.done, 30, f'{what} response')
        return future.result()

    def status_of(self, node: str, text: str):
        return [e for e in self.statuses if e[0] == node and text in e[1]]

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9


@contextmanager
def running(specs: list[NodeSpec]):
    """Start `specs` plus a Probe in this process; yield (graph, probe)."""
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = os.environ.get('JEPA_ROS_TEST_DOMAIN_ID', '87')
    configure_process()
    rclpy.init(args=[])
    graph = None
    try:
        graph = EmbeddedGraph(specs)
        probe = Probe()
        graph.add(probe)
        graph.start()
        yield graph, probe
    finally:
        if graph is not None:
            graph.close()
        rclpy.shutdown()


def wait_models(probe: Probe, nodes: set[str]) -> None:
    probe.wait_for(
        lambda: nodes <= {e[0] for e in probe.statuses if e[1].startswith('model loaded')},
        60,
        'model loaded',
    )


def test_a_goal_image_from_another_node_is_reached_and_topics_match_the_contract():
    scene = load_scene('panda')
    with ArmWorld(scene) as world:
        world.reset()
        goal = world.sample_goal(np.random.default_rng(3))
    with running(graph_specs(GraphConfig(max_ticks=60))) as (graph, probe):
        wait_models(probe, {'perception_node', 'actor_node', 'configurator_node'})
        probe.wait_for(lambda: probe.ee is not None, 30, 'ee pose')
        probe.goal_pub.publish(image_msg(goal.images[0], Header(frame_id='camera')))
        probe.wait_for(lambda: any(e[2].get('outcome') in ('succeeded', 'gave_up')
                                   for e in probe.statuses if e[0] == 'configurator_node'),
                       60, 'decision of the configurator')  # fmt: skip
        outcome = next(e[2]['outcome'] for e in probe.statuses
                       if e[2].get('outcome') in ('succeeded', 'gave_up'))  # fmt: skip
        decided = probe.now_s()
        probe.wait_for(lambda: probe.ee[0] > decided + 0.3, 10, 'a settled ee pose')
        distance = float(np.linalg.norm(probe.ee[1] - goal.ee_position))
        assert outcome == 'succeeded' and distance < 0.05, (outcome, distance)
        assert len(probe.proposals) >= 5, 'the actor planned and proposed commands'
        # Every topic and service of the contract, with its type
        topics = dict(probe.get_topic_names_and_types())
        for name, kind in CONTRACT.items():
            assert topics.get(name) == [kind], (name, topics.get(name))
        services = dict(probe.get_service_names_and_types())
        for name, kind in SERVICES.items():
            assert services.get(name) == [kind], (name, services.get(name))


def test_a_pipeline_at_half_the_control_rate_still_reaches_without_holds():
    """The camera, and so every stage after it, runs steadily at half the control rate. The
    gate's watchdog measures that rate and lets the arm move; a fixed limit of 1.75 control
    ticks held the arm after nearly every command (test_gate.py shows both on a fake clock)."""
    scene = load_scene('panda')
    with ArmWorld(scene) as world:
        world.reset()
        goal = world.sample_goal(np.random.default_rng(3))
    config = GraphConfig(control_rate_hz=12.0, camera_rate_hz=6.0, max_ticks=60)
    with running(graph_specs(config)) as (graph, probe):
        wait_models(probe, {'perception_node', 'actor_node', 'configurator_node'})
        probe.wait_for(lambda: probe.ee is not None, 30, 'ee pose')
        probe.goal_pub.publish(image_msg(goal.images[0], Header(frame_id='camera')))
        final = ('succeeded', 'gave_up')
        probe.wait_for(lambda: any(e[2].get('outcome') in final for e in probe.statuses
                                   if e[0] == 'configurator_node'), 90, 'a decision')  # fmt: skip
        reach = list(probe.statuses)
        decided = probe.now_s()
        probe.wait_for(lambda: probe.ee[0] > decided + 0.3, 10, 'a settled ee pose')
        distance = float(np.linalg.norm(probe.ee[1] - goal.ee_position))
    outcome = next(e[2]['outcome'] for e in reach if e[2].get('outcome') in final)
    assert outcome == 'succeeded' and distance < 0.05, (outcome, distance)
    planned = [e[2] for e in reach if e[0] == 'actor_node' and 'rate_hz' in e[2]]
    assert len(planned) >= 10 and float(planned[-1]['rate_hz']) < 7.0, 'the actor ran at 6 Hz'
    assert 'below control_rate_hz 12' in next(
        e[1] for e in reversed(reach) if e[0] == 'actor_node' and 'rate_hz' in e[2]
    )
    holds = [e for e in reach if e[0] == 'guardrail_node' and 'hold_stale' in e[1]]
    # At most one: before the gate has seen two proposals it knows only the control rate
    assert len(holds) <= 1, holds


def test_bad_goals_and_a_missing_model_give_a_status_and_no_command(tmp_path):
    no_gpu = not torch.cuda.is_available()
    specs = [
        NodeSpec('configurator_node', {'checkpoint': str(tmp_path / 'missing.pt')}),
        NodeSpec('actor_node', {'checkpoint': str(tmp_path / 'missing.pt')}),
        *([NodeSpec('perception_node', {'device': 'cuda'})] if no_gpu else []),
    ]
    with running(specs) as (graph, probe):
        probe.wait_for(lambda: probe.status_of('configurator_node', 'no model'), 30,
                       'the load error')  # fmt: skip
        if no_gpu:  # a device torch cannot see: the node says so, and has no model
            probe.wait_for(lambda: probe.status_of('perception_node', 'sees no CUDA GPU'), 30,
                           'the device error')  # fmt: skip
        probe.wait_for(lambda: probe.count_subscribers('jepa/goal_image') > 0, 30,
                       'the configurator subscribing')  # fmt: skip
        image = np.zeros((96, 96, 3), dtype=np.uint8)
        probe.goal_pub.publish(image_msg(image, Header()))
        probe.wait_for(lambda: probe.status_of('configurator_node', 'goal ignored: no model'),
                       30, 'goal refused before the model')  # fmt: skip
    specs = graph_specs(GraphConfig())[1:]  # no sim: nothing moves, nothing to reach
    with running(specs) as (graph, probe):
        wait_models(probe, {'configurator_node'})
        probe.wait_for(lambda: probe.count_subscribers('jepa/goal_image') > 0, 30,
                       'the configurator subscribing')  # fmt: skip
        mono = Image(height=96, width=96, encoding='mono8', step=96, data=bytes(96 * 96))
        probe.goal_pub.publish(mono)
        probe.wait_for(lambda: probe.status_of('configurator_node', 'unsupported encoding'),
                       30, 'encoding refused')  # fmt: skip
        short = Image(height=96, width=96, encoding='rgb8', step=288, data=bytes(100))
        probe.goal_pub.publish(short)
        probe.wait_for(lambda: probe.status_of('configurator_node', 'bytes for 96 rows'),
                       30, 'size refused')  # fmt: skip
        bad_inputs(probe)
        assert probe.proposals == [], 'no command after bad goals and inputs'
        assert graph.context_ok, 'the nodes keep running'


def bad_inputs(probe: Probe) -> None:
    """Camera images, latents and joint states that are wrong: each gets a status naming the
    problem (waited for), and the nodes go on."""
    camera = probe.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
    latents = probe.create_publisher(Image, 'jepa/latent', SENSOR_QOS)
    joints = probe.create_publisher(JointState, 'joint_states', 10)
    probe.wait_for(lambda: camera.get_subscription_count() > 0
                   and latents.get_subscription_count() >= 3, 30, 'subscribers')  # fmt: skip
    names = list(load_scene('panda').controlled_joints)
    cases = [
        (camera, Image(height=96, width=96, encoding='mono8', step=96, data=bytes(96 * 96)),
         'perception_node', 'unsupported encoding'),
        (camera, Image(height=0, width=0, encoding='rgb8', step=0), 'perception_node',
         'empty image'),
        (camera, Image(height=480, width=640, encoding='bgr8', step=1920, data=bytes(1000)),
         'perception_node', 'bytes for 480 rows'),
        (joints, JointState(name=names[:-1], position=[0.0] * 3), 'actor_node', 'missing'),
        (joints, JointState(name=names, position=[0.0] * 4), None, None),
        (latents, latent_msg(np.zeros(7, np.float32), Header()), 'world_model_node', '7 dims'),
    ]  # fmt: skip
    for publisher, msg, node, text in cases:
        publisher.publish(msg)
        if node:
            probe.wait_for(lambda n=node, t=text: probe.status_of(n, t), 30, f'{node}: {text}')
    # Latents repeated and out of order: the world model skips them and says so. It keeps only
    # the newest latent, so each one is sent until the world model has taken it
    refused = lambda: len(probe.status_of('world_model_node', 'out of order'))  # noqa: E731
    good = latent_msg(np.zeros(32, np.float32), Header(stamp=Time(sec=100)))
    send_until(probe, latents, good, lambda: refused() > 0, 'repeated stamp refused')
    before = refused()
    older = latent_msg(np.zeros(32, np.float32), Header(stamp=Time(sec=99)))
    send_until(probe, latents, older, lambda: refused() > before, 'older stamp refused')


def send_until(probe: Probe, publisher, msg, done, what: str, timeout_s: float = 30.0) -> None:
    """Publish `msg` every 50 ms until `done()` (it paces the sending; it waits on `done`)."""
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        publisher.publish(msg)
        time.sleep(0.05)
    assert done(), f'no {what}'


def test_run_time_parameter_sets_are_refused_when_read_only_or_out_of_range():
    """`ros2 param set` over the parameter services: a parameter a node reads at start only is
    refused (read-only), so is a value outside its declared range and an unknown task; a valid
    change is applied. Descriptions and ranges are declared (what `ros2 param describe` shows)."""
    from rcl_interfaces.msg import ParameterType
    from rclpy.parameter import Parameter
    from rclpy.parameter_client import AsyncParameterClient

    from jepa_ros.describe import help_of

    specs = [s for s in graph_specs(GraphConfig()) if s.executable in
             ('guardrail_node', 'actor_node', 'configurator_node')]  # fmt: skip
    with running(specs) as (graph, probe):

        def set_one(node: str, name: str, value):
            client = AsyncParameterClient(probe, node)
            assert client.wait_for_services(timeout_sec=30), node
            future = client.set_parameters([Parameter(name, value=value)])
            probe.wait_for(future.done, 30, f'{node} to answer')
            return future.result().results[0]

        refused = set_one('guardrail_node', 'max_step_rad', 0.5)  # read at start only
        assert not refused.successful and 'read-only' in refused.reason, refused
        refused = set_one('actor_node', 'control_rate_hz', 0.0)  # range [0.1, 1000]
        assert not refused.successful and 'out of range' in refused.reason, refused
        refused = set_one('configurator_node', 'max_ticks', -1)
        assert not refused.successful and 'out of range' in refused.reason, refused
        refused = set_one('configurator_node', 'task', 'fly')
        assert not refused.successful and "unknown task 'fly'" in refused.reason, refused
        assert set_one('actor_node', 'control_rate_hz', 6.0).successful
        actor = next(n for n in graph.nodes if n.get_name() == 'actor_node')
        assert actor.params['control_rate_hz'] == 6.0
        client = AsyncParameterClient(probe, 'actor_node')
        future = client.describe_parameters(['control_rate_hz', 'scene'])
        probe.wait_for(future.done, 30, 'actor_node to describe')
        rate, scene = future.result().descriptors
        assert rate.description.startswith(help_of(GraphConfig, 'control_rate_hz'))
        assert rate.floating_point_range[0].from_value == 0.1 and not rate.read_only
        assert scene.read_only and scene.type == ParameterType.PARAMETER_STRING


def test_a_bad_parameter_at_start_is_one_line_and_a_non_zero_exit():
    import subprocess
    import sys

    env = {**os.environ, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
           'ROS_DOMAIN_ID': os.environ.get('JEPA_ROS_TEST_DOMAIN_ID', '87')}  # fmt: skip
    for node, parameter, expected in (
        ('actor_node', 'control_rate_hz:=0.0', 'control_rate_hz out of range'),
        ('guardrail_node', 'scene:=/no/such/scene.yaml', 'scene file not found'),
        ('sim_node', 'camera_rate_hz:=fast', "'camera_rate_hz'"),
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, '-m', f'jepa_ros.nodes.{node}', '--ros-args', '-p', parameter],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, (node, done.returncode, done.stderr)
        assert lines[0].startswith(f'{node}: cannot start: ') and expected in lines[0], lines


def test_armed_gate_holds_on_a_short_gap_and_halts_on_a_lasting_fault():
    """The guardrail node alone, fed by the test: a latent gap shorter than `halt_after_s` holds
    (once) and the gate passes the next proposals; a lasting silence holds, then halts the
    physical arm's gate until `jepa/arm` re-arms it. `jepa/gate_ready` says each time whether
    the gate would pass a proposal."""
    from std_srvs.srv import SetBool
    from trajectory_msgs.msg import JointTrajectoryPoint

    from jepa_ros.nodes.common import seconds

    # Timeouts well above the 50 ms feed period, a gap well between the timeout and the halt
    timeout, gap, halt_after = 0.25, 0.6, 2.0
    spec = NodeSpec(
        'guardrail_node',
        {
            'require_arming': True,
            'latent_timeout_s': timeout,
            'proposal_timeout_s': timeout,
            'halt_after_s': halt_after,
        },
    )
    scene = load_scene('panda')
    names = list(scene.controlled_joints)
    home = np.array([scene.home.get(n, 0.0) for n in names])
    with running([spec]) as (graph, probe):
        commands: list[float] = []  # when each command reached the arm
        held: list[bool] = []  # whether it was a hold (at the measured position)
        probe.create_subscription(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory',
            lambda msg: probe.record(lambda: (
                commands.append(probe.now_s()),
                held.append(np.allclose(msg.points[0].positions, home)))),
            COMMAND_QOS)  # fmt: skip
        ready: list[tuple[float, bool]] = []  # (when, jepa/gate_ready)
        probe.create_subscription(
            Bool, 'jepa/gate_ready',
            lambda msg: probe.record(lambda: ready.append((probe.now_s(), msg.data))),
            LATCHED_QOS)  # fmt: skip

        def ready_since(t: float) -> list[bool]:
            """The gate's readiness when `t` came, and each change after."""
            return [r for s, r in ready if s <= t][-1:] + [r for s, r in ready if s > t]

        joints = probe.create_publisher(JointState, 'joint_states', 10)
        latents = probe.create_publisher(Image, 'jepa/latent', SENSOR_QOS)
        proposals = probe.create_publisher(JointTrajectory, 'jepa/command_proposal', COMMAND_QOS)
        arm = probe.create_client(SetBool, 'jepa/arm')
        assert arm.wait_for_service(timeout_sec=30), 'no jepa/arm service'

        def feed(seconds_: float, latent: bool, until=lambda: False) -> None:
            """Publish joint_states, latents (if `latent`) and a proposal every 50 ms."""
            end = time.monotonic() + seconds_
            while time.monotonic() < end and not until():
                stamp = probe.get_clock().now().to_msg()
                joints.publish(
                    JointState(header=Header(stamp=stamp), name=names, position=home.tolist())
                )
                if latent:
                    latents.publish(latent_msg(np.zeros(32, np.float32), Header(stamp=stamp)))
                point = JointTrajectoryPoint(
                    positions=(home + 0.01).tolist(), time_from_start=seconds(0.1)
                )
                proposals.publish(JointTrajectory(joint_names=names, points=[point]))
                time.sleep(0.05)

        def call_arm(data: bool) -> None:
            future = arm.call_async(SetBool.Request(data=data))
            probe.wait_for(future.done, 30, 'jepa/arm response')
            assert future.result().success

        feed(10, True, until=lambda: probe.status_of('guardrail_node', 'reject_disarmed'))
        assert commands == [], 'nothing reaches the arm before arming'
        probe.wait_for(lambda: ready, 10, 'the latched jepa/gate_ready')
        assert not any(r for _, r in ready), 'not ready while disarmed'
        call_arm(True)
        feed(10, True, until=lambda: len(commands) >= 3)
        assert len(commands) >= 3, 'commands once armed'
        # A short gap in the latents: one hold, no halt, then the gate passes proposals again
        holds = len(probe.status_of('guardrail_node', 'hold_stale'))
        gap_start = probe.now_s()
        feed(gap, False)
        gap_end = probe.now_s()
        feed(10, True, until=lambda: sum(t > gap_end for t in commands) >= 3)
        assert len(probe.status_of('guardrail_node', 'hold_stale')) > holds, 'a hold in the gap'
        assert not probe.status_of('guardrail_node', 'halt: '), 'a short gap does not halt'
        assert sum(t > gap_end for t in commands) >= 3, 'commands resume after a short gap'
        in_gap = ready_since(gap_start)
        assert in_gap[0] and not all(in_gap) and in_gap[-1], ready  # not ready in the gap
        # A lasting fault: hold, then halt once the latent has been silent for halt_after_s
        stopped = probe.now_s()
        feed(10, False, until=lambda: probe.status_of('guardrail_node', 'halt: '))
        ((_, text, values),) = probe.status_of('guardrail_node', 'halt: ')
        silent = ast.literal_eval(values['values'])['silent_s']
        assert 'no latent' in text and silent >= halt_after, values
        # (proposals pass until the latent is older than its timeout) then one hold, then silence
        after = [h for t, h in zip(commands, held) if t > stopped]
        assert after and after[-1] and not any(after[:-1]), after
        # Latents back: still halted, proposals refused until re-armed
        refused = len(probe.status_of('guardrail_node', 'reject_disarmed'))
        feed(
            10,
            True,
            until=lambda: len(probe.status_of('guardrail_node', 'reject_disarmed')) > refused + 2,
        )
        assert len([t for t in commands if t > stopped]) == len(after), 'nothing while halted'
        halted = ready_since(stopped)
        assert halted[0] and not halted[-1], ready  # not ready once halted, until re-armed
        call_arm(True)
        armed = probe.now_s()
        feed(10, True, until=lambda: sum(t > armed for t in commands) >= 3)
        assert sum(t > armed for t in commands) >= 3, 'commands after re-arming'
        probe.wait_for(lambda: ready[-1][1], 5, 'ready after re-arming')


def test_the_configurator_counts_no_tick_while_the_gate_is_not_ready():
    """Proposals while `jepa/gate_ready` is false (the gate refuses them: the arm cannot move)
    are no ticks, so no progress does not give the goal up; once ready, the ticks count again
    and a goal with no progress is given up after `patience_ticks`."""
    with running([NodeSpec('configurator_node', {})]) as (graph, probe):
        wait_models(probe, {'configurator_node'})
        ready = probe.create_publisher(Bool, 'jepa/gate_ready', LATCHED_QOS)
        latents = probe.create_publisher(Image, 'jepa/latent', SENSOR_QOS)
        proposals = probe.create_publisher(JointTrajectory, 'jepa/command_proposal', COMMAND_QOS)
        goal_width: list[int] = []
        probe.create_subscription(
            Image, 'jepa/goal_latent', lambda m: probe.record(lambda: goal_width.append(m.width)),
            LATCHED_QOS)  # fmt: skip
        probe.wait_for(lambda: probe.count_subscribers('jepa/goal_image') > 0, 30,
                       'the configurator subscribing')  # fmt: skip
        probe.goal_pub.publish(image_msg(np.zeros((96, 96, 3), np.uint8), Header()))
        probe.wait_for(lambda: goal_width, 30, 'the goal latent')
        ready.publish(Bool(data=False))
        probe.wait_for(lambda: probe.status_of('configurator_node', 'waits: the gate refuses'),
                       30, 'the configurator waiting')  # fmt: skip

        def tick(n: int, until=lambda: False) -> None:
            """`n` ticks of an actor that makes no progress: a latent, then its proposal."""
            for _ in range(n):
                if until():
                    return
                latents.publish(latent_msg(np.zeros(goal_width[0], np.float32), Header()))
                time.sleep(0.02)
                proposals.publish(JointTrajectory(joint_names=['a']))
                time.sleep(0.03)

        def outcome(text: str) -> list:
            return probe.status_of('configurator_node', text)

        tick(40)  # more than patience_ticks (25)
        assert not outcome('gave_up'), 'ticks counted while the gate was not ready'
        ready.publish(Bool(data=True))
        probe.wait_for(lambda: outcome('the gate is ready again'), 10, 'the goal resuming')
        tick(200, until=lambda: outcome('gave_up'))
        probe.wait_for(lambda: outcome('gave_up'), 10, 'the goal given up')
        ((_, _, values),) = outcome('gave_up')
        assert values['ticks'] == '26', values  # the first sets the best energy, 25 more did not


STOPPING = ('collision', 'clamp_collision')  # the gate's reasons for refusing or holding joints


def test_hostile_proposals_into_the_box_and_into_the_arm_itself_make_no_contact():
    """The sim (panda_obstacle) and the gate, fed hostile proposals at 20 Hz: each a full step
    from the measured joints straight toward a pose inside the box, then toward the hand folded
    onto the base. The gate lets the arm come close, then refuses the step (`collision`) or holds
    the joints that would close in (`clamp_collision`); the simulator reports no contact
    (`sim/contacts`)."""
    from trajectory_msgs.msg import JointTrajectoryPoint

    from jepa_ros.nodes.common import seconds

    scene = 'panda_obstacle'
    specs = [NodeSpec('sim_node', {'scene': scene}), NodeSpec('guardrail_node', {'scene': scene})]
    names = list(load_scene(scene).controlled_joints)
    # Away from the box first (a clear pose), then into it; then, turned away from the box, the
    # hand folded onto the base
    clear = [('clear', [-0.9, 0.0, -1.6, 2.0]), ('clear', [-1.5, 0.0, -2.0, 1.53])]
    targets = [clear[0], ('box', [0.0, 0.6, -2.0, 2.0]), *clear,
               ('self', [-1.5, 0.96, -2.78, 1.53])]  # fmt: skip
    with running(specs) as (graph, probe):
        contacts, commands, measured = [], [], {}
        probe.create_subscription(
            DiagnosticArray, 'sim/contacts', lambda m: probe.record(lambda: contacts.append(m)), 10
        )
        probe.create_subscription(JointTrajectory, 'joint_trajectory_controller/joint_trajectory',
                                  lambda m: probe.record(lambda: commands.append(m)),
                                  COMMAND_QOS)  # fmt: skip
        probe.create_subscription(JointState, 'joint_states', lambda m: probe.record(
            lambda: measured.update(zip(m.name, m.position))), 10)  # fmt: skip
        latents = probe.create_publisher(Image, 'jepa/latent', SENSOR_QOS)
        proposals = probe.create_publisher(JointTrajectory, 'jepa/command_proposal', COMMAND_QOS)
        probe.wait_for(lambda: set(names) <= set(measured), 30, 'joint_states')
        for what, target in targets:
            refusals = lambda: [e for e in probe.status_of('guardrail_node', 'collision: ')  # noqa: E731
                                if e[2].get('reason') in STOPPING]  # fmt: skip
            before, sent = len(refusals()), len(commands)
            end = time.monotonic() + 8.0
            while time.monotonic() < end and len(refusals()) < before + 10:
                if what == 'clear' and np.allclose([measured[n] for n in names], target, 0, 0.01):
                    break
                latents.publish(
                    latent_msg(
                        np.zeros(32, np.float32), Header(stamp=probe.get_clock().now().to_msg())
                    )
                )
                with probe.condition:
                    now = np.array([measured[n] for n in names])
                step = np.clip(np.array(target) - now, -0.1, 0.1)
                point = JointTrajectoryPoint(positions=(now + step).tolist(),
                                             time_from_start=seconds(0.1))  # fmt: skip
                proposals.publish(JointTrajectory(joint_names=names, points=[point]))
                time.sleep(0.05)
            assert len(commands) > sent + 3, f'the arm moved toward {what}'
            if what != 'clear':
                assert len(refusals()) >= before + 10, f'the gate stopped the moves into {what}'
            assert contacts == [], [s.message for m in contacts for s in m.status]


def test_the_sim_params_file_is_the_defaults_written_out():
    """config/panda_sim.yaml names every parameter of every node of the sim graph, each with the
    value the graph starts it with (the node's default, or what the graph sets): passed as a
    `params_file` (which wins over the defaults) it changes nothing."""
    import importlib
    from pathlib import Path

    import yaml

    from jepa_ros.graph import CLASSES

    path = Path(__file__).resolve().parent.parent / 'config' / 'panda_sim.yaml'
    written = yaml.safe_load(path.read_text())
    for spec in graph_specs(GraphConfig()):
        module = importlib.import_module(CLASSES[spec.executable].split(':')[0])
        defaults = {name: p.default for name, p in module.PARAMETERS.items()}
        expected = {**defaults, **spec.parameters}
        given = written[f'/**/{spec.executable}']['ros__parameters']
        assert set(given) == set(expected), (spec.executable, set(given) ^ set(expected))
        for name, value in expected.items():
            assert given[name] == pytest.approx(value), (spec.executable, name)
