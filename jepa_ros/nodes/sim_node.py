"""sim_node: the PyBullet arm as a ROS 2 robot.

Publishes `camera/image_raw` + `camera/camera_info` (rgb8) and `joint_states`; follows
`joint_trajectory_controller/joint_trajectory` like ros2_control's JointTrajectoryController
(joints by name, `header.stamp` 0 = now, `time_from_start`, empty trajectory = stop); publishes
`sim/ee_pose` with each camera frame (the same instant); services
`sim/reset` (back to the start pose) and `sim/random_goal` (a reachable goal: its image on
`jepa/goal_image`, its end-effector pose on `sim/goal_ee_pose`). `sim/ee_pose` and
`sim/goal_ee_pose` are simulator ground truth, for evaluation only, and so is `sim/contacts`
(diagnostic_msgs/DiagnosticArray, one status per pair): the arm is kinematic, so a move that would
touch itself, the floor or an obstacle is blocked, and each blocked move is reported there.

The camera renders in a child process (`RenderProcess`), so PyBullet's renderer does not hold this
process's GIL for a whole frame (in the one-process demo every node would wait that long), from a
thread of its own. It renders no frame nobody will use: only while someone subscribes to
`camera/image_raw`, and with `camera_sync` (default) paced by the control loop while commands
flow (`FramePacer`): a frame goes out once a command for the last one has arrived, and with
`camera_lead` (default) the next one is rendered meanwhile, started so that it is ready when that
command is expected; never faster than `camera_rate_hz`. It free-runs when nothing is being
commanded.
"""

from __future__ import annotations

import threading
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.describe import help_of, ParameterSpec, start_only
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.geometry import Contact
from jepa_ros.envs.render_process import RenderError, RenderProcess
from jepa_ros.envs.scene import load_scene
from jepa_ros.envs.trajectory import TrajectoryFollower
from jepa_ros.frames import FramePacer
from jepa_ros.graph import GraphConfig
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    ERROR,
    image_msg,
    OK,
    run_node,
    SENSOR_QOS,
    stamp_s,
    STATE_QOS,
    StatusReporter,
)  # fmt: skip

GOAL_WAIT_S = 5.0  # sim/random_goal waits this long for a subscriber to jepa/goal_image
PARAMETERS = start_only({
    'scene': ParameterSpec('panda', help_of(GraphConfig, 'scene')),
    'camera_rate_hz': ParameterSpec(
        12.0, help_of(GraphConfig, 'camera_rate_hz') + ' (at most, with camera_sync)', 0.1,
        1000.0),
    'camera_sync': ParameterSpec(
        True, 'while commands flow, take the next frame once a command for the last one arrived '
              '(no frame nobody uses); free-run when idle'),
    'camera_lead': ParameterSpec(
        True, 'with camera_sync, render the next frame while the loop works on the last one, '
              'to be ready when its command is expected (false: start it only then)'),
    'joint_state_rate_hz': ParameterSpec(
        50.0, 'joint_states messages and trajectory-following ticks per second', 1.0, 1000.0),
    'seed': ParameterSpec(0, 'seed of the random goals'),
    'frame_id': ParameterSpec('world', 'frame of the poses'),
})  # fmt: skip


class SimNode(Node):
    """The simulated arm. Its controller loop (trajectory following, joint_states) and its
    camera run on threads of their own, as a robot driver's do, not as executor callbacks;
    whatever touches the world holds `world_lock`."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.scene = load_scene(self.params['scene'])
        self.world = ArmWorld(self.scene, seed=self.params['seed'])
        self.world.reset()
        self.world_lock = threading.Lock()  # the world and the trajectory follower
        self.rng = np.random.default_rng(self.params['seed'])
        self.follower = TrajectoryFollower(self.scene.controlled_joints, self.world.joints())
        self.status = StatusReporter(self, 'sim')
        self.image_pub = self.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
        self.info_pub = self.create_publisher(CameraInfo, 'camera/camera_info', SENSOR_QOS)
        self.joints_pub = self.create_publisher(JointState, 'joint_states', STATE_QOS)
        self.ee_pub = self.create_publisher(PoseStamped, 'sim/ee_pose', STATE_QOS)
        self.goal_ee_pub = self.create_publisher(PoseStamped, 'sim/goal_ee_pose', 1)
        self.goal_image_pub = self.create_publisher(Image, 'jepa/goal_image', COMMAND_QOS)
        # Ground truth for evaluation only, like sim/ee_pose: a message per blocked move
        self.contacts_pub = self.create_publisher(DiagnosticArray, 'sim/contacts', 10)
        controller = 'joint_trajectory_controller/joint_trajectory'
        self.create_subscription(JointTrajectory, controller, self.on_trajectory, COMMAND_QOS)
        self.create_service(Trigger, 'sim/reset', self.on_reset)
        # Its own group: it may wait for a subscriber while the arm keeps taking commands
        self.create_service(Trigger, 'sim/random_goal', self.on_random_goal,
                            callback_group=MutuallyExclusiveCallbackGroup())  # fmt: skip
        self.commands = 0
        self.renderer = RenderProcess(self.scene)
        self.pacer = FramePacer(self.params['camera_rate_hz'], self.params['camera_sync'],
                                self.params['camera_lead'])  # fmt: skip
        self.wakeup, self.stopping = threading.Event(), threading.Event()
        self.threads = [
            threading.Thread(target=self.until_shutdown, args=(loop,), name=name, daemon=True)
            for loop, name in ((self.controller_loop, 'sim controller'),
                               (self.camera_loop, 'sim camera'))
        ]  # fmt: skip
        for thread in self.threads:
            thread.start()

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def header(self, frame_id: str) -> Header:
        return Header(stamp=self.get_clock().now().to_msg(), frame_id=frame_id)

    def on_trajectory(self, msg: JointTrajectory) -> None:
        start = stamp_s(msg.header.stamp) or self.now_s()
        try:
            positions = np.array([p.positions for p in msg.points], dtype=float)
            times = np.array([stamp_s(p.time_from_start) for p in msg.points], dtype=float)
            with self.world_lock:
                self.follower.follow(msg.joint_names, positions, times, start,
                                     self.world.joints())  # fmt: skip
        except ValueError as exc:
            self.status.report(ERROR, f'trajectory rejected: {exc}')
            return
        self.commands += 1
        self.pacer.command(time.monotonic())
        self.wakeup.set()  # the next frame may be due now

    def until_shutdown(self, loop) -> None:
        """Run a thread's loop; an error because the context was shut down under it (a signal)
        ends the thread quietly, any other is raised."""
        try:
            loop()
        except Exception:
            if self.context.ok() and not self.stopping.is_set():
                raise

    def controller_loop(self) -> None:
        """The controller's thread: `tick` every 1 / joint_state_rate_hz (missed ticks are
        skipped, not made up)."""
        period = 1.0 / self.params['joint_state_rate_hz']
        due = time.monotonic()
        while not self.stopping.wait(max(0.0, due - time.monotonic())):
            self.tick()
            due = max(due + period, time.monotonic())

    def tick(self) -> None:
        """Move toward the trajectory's current target (at most the step limit per tick) and
        publish the joints."""
        with self.world_lock:
            target = self.follower.target(self.now_s())
            self.world.move(target - self.world.joints())
            joints, contacts = self.world.joints(), self.world.contacts
            blocked = self.world.contact_moves
        header = self.header('')
        if contacts:
            self.contacts_pub.publish(contacts_msg(contacts, blocked, header))
        self.joints_pub.publish(JointState(header=header, name=list(self.world.joint_names),
                                           position=joints.tolist()))  # fmt: skip

    def camera_loop(self) -> None:
        """The camera's thread: a frame whenever the pacer says one is due."""
        while not self.stopping.is_set():
            self.wait_until(self.pacer.next_frame_s)
            if self.stopping.is_set():
                return
            self.pacer.frame(time.monotonic())
            try:
                self.on_camera()
            except RenderError as exc:
                self.status.report(ERROR, f'camera stopped: {exc}')
                return

    def wait_until(self, due_s) -> None:
        """Wait until the time `due_s()` says (a command may bring it forward) or shutdown."""
        while not self.stopping.is_set():
            delay = due_s() - time.monotonic()
            if delay <= 0:
                return
            self.wakeup.wait(delay)
            self.wakeup.clear()

    def on_camera(self) -> None:
        """A camera frame (only if someone subscribes) and the end-effector pose of the same
        instant (ground truth, for evaluation only)."""
        with self.world_lock:
            header = self.header('camera')  # the instant the frame shows, like an exposure
            joints, ee = self.world.joints(), self.world.ee_position()
        self.ee_pub.publish(self.pose(ee, header.stamp))
        if self.image_pub.get_subscription_count() == 0:
            return  # nobody would use the frame
        images = self.renderer.render(joints)  # (V, H, W, 3), rendered without the GIL
        self.pacer.rendered(time.monotonic())
        self.wait_until(self.pacer.send_s)  # the loop may still be on the last frame
        self.image_pub.publish(image_msg(images[0], header))
        self.pacer.sent(time.monotonic())
        camera = self.scene.cameras[0]
        self.info_pub.publish(CameraInfo(header=header, height=camera.height,
                                         width=camera.width))  # fmt: skip

    def pose(self, position: np.ndarray, stamp: Time | None = None) -> PoseStamped:
        """A pose message at `position` (3,), stamped `stamp` (default: now)."""
        msg = PoseStamped(header=self.header(self.params['frame_id']))
        if stamp is not None:
            msg.header.stamp = stamp
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = map(float, position)
        msg.pose.orientation.w = 1.0
        return msg

    def on_reset(self, request, response):
        with self.world_lock:
            self.world.reset()
            self.follower = TrajectoryFollower(self.scene.controlled_joints, self.world.joints())
        response.success, response.message = True, 'arm back at the start pose'
        self.status.report(OK, response.message)
        return response

    def on_random_goal(self, request, response):
        """A reachable goal's image on `jepa/goal_image` once someone subscribes to it (waiting
        up to `GOAL_WAIT_S`: a goal image is sent once, and one published before discovery has
        matched the subscriber is lost)."""
        deadline = time.monotonic() + GOAL_WAIT_S
        while self.goal_image_pub.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                response.success = False
                response.message = f'no subscriber to jepa/goal_image after {GOAL_WAIT_S:g} s'
                return response
            time.sleep(0.01)
        with self.world_lock:  # sampling moves the arm through candidate poses, then back
            goal = self.world.sample_goal(self.rng)
        self.goal_image_pub.publish(image_msg(goal.images[0], self.header('camera')))
        self.goal_ee_pub.publish(self.pose(goal.ee_position))
        response.success = True
        response.message = f'goal end-effector at {np.round(goal.ee_position, 3).tolist()}'
        self.status.report(OK, f'random goal: {response.message}')
        return response

    def destroy_node(self) -> None:
        """Stop the threads, the renderer and the world (those that were started: a node that
        failed to start is destroyed too)."""
        if hasattr(self, 'threads'):
            self.stopping.set()
            self.wakeup.set()
            for thread in self.threads:
                thread.join(timeout=10.0)
        for part in ('renderer', 'world'):
            if hasattr(self, part):
                getattr(self, part).close()
        super().destroy_node()


def contacts_msg(contacts: list[Contact], blocked: int, header: Header) -> DiagnosticArray:
    """What a blocked move would have touched: one ERROR status per pair (name 'a|b', values
    a, b, distance_m and the count of moves blocked so far)."""
    return DiagnosticArray(header=header, status=[
        DiagnosticStatus(level=ERROR, name=f'{c.a}|{c.b}', message=c.describe(),
                         hardware_id='sim', values=[
                             KeyValue(key='a', value=c.a), KeyValue(key='b', value=c.b),
                             KeyValue(key='distance_m', value=f'{c.distance_m:.4f}'),
                             KeyValue(key='blocked_moves', value=str(blocked))])
        for c in contacts
    ])  # fmt: skip


def main(args: list[str] | None = None) -> None:
    run_node(SimNode, args)


if __name__ == '__main__':
    main()
