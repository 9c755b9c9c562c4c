"""explore_node: random exploration of a (physical or simulated) arm over ROS, through the gate.

Drives smooth random exploration (`jepa_ros.data.exploration.SmoothExploration`, the policy
family of `jepa-ros collect`) as one-point `jepa/command_proposal`s at `control_rate_hz`, so every
command passes the guardrail: on a physical arm the arm moves only while the gate is armed.
Each episode starts at the safe `start_pose` (the arm is driven back there first, at the step
limit) and lasts `steps_per_episode` commands; waypoints are drawn from the scene's
`sample_ranges` with the end-effector (forward kinematics) inside the workspace box and the
scene's height range, and every target is clipped into the ranges. Exploration pauses while the
gate is disarmed or halted (`jepa/armed`; until the gate has said, it waits), `joint_states` is
silent or the camera is (nothing would be recorded), and goes on when it may.
It stops after `episodes` episodes (0: never) or on `jepa/cancel` (std_srvs/Trigger).
Each episode's start is published on `jepa/episode` (std_msgs/UInt32, the episode index), which
the recorder puts in the bag and `jepa-ros import-bag` splits episodes at. Progress goes to
`jepa/status` / `/diagnostics` and to the console (INFO per episode).
"""

from __future__ import annotations

import threading

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, UInt32
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.data.exploration import ExplorationConfig, SmoothExploration
from jepa_ros.describe import help_of, ParameterSpec, start_only
from jepa_ros.envs.kinematics import ee_position_function
from jepa_ros.envs.scene import load_scene
from jepa_ros.graph import GraphConfig
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    EVENTS_QOS,
    joints_by_name,
    LATCHED_QOS,
    one_line,
    PolledSubscription,
    proposal_msg,
    run_node,
    SENSOR_QOS,
    STATE_QOS,
    StatusReporter,
    WARN,
)

PARAMETERS = start_only({
    'scene': ParameterSpec('panda', help_of(GraphConfig, 'scene')),
    'episodes': ParameterSpec(10, 'episodes to explore, then stop (0: until jepa/cancel)',
                              0, 1_000_000),
    'steps_per_episode': ParameterSpec(
        50, help_of(ExplorationConfig, 'steps_per_episode'), 1, 1_000_000),
    'control_rate_hz': ParameterSpec(5.0, 'commands per second', 0.1, 100.0),
    'seed': ParameterSpec(0, 'seed of the exploration (episode e draws from (seed, e))'),
    'start_pose': ParameterSpec(
        [0.0], "the safe pose every episode starts from, per controlled joint ([0.0]: the "
               "scene's home)"),
    'start_tolerance_rad': ParameterSpec(
        0.02, 'the arm is at the start pose when every joint is this close (rad)', 1e-4, 1.0),
    'max_step_rad': ParameterSpec(
        0.0, "largest joint change per command (0: the scene's max_step_rad)", 0.0, 1.0),
    'workspace_min': ParameterSpec(
        [-1.0, -1.0, 0.03], 'waypoints keep the end-effector inside this box (m, base frame)'),
    'workspace_max': ParameterSpec([1.0, 1.0, 1.2], 'the box: upper corner (m)'),
    'joint_states_timeout_s': ParameterSpec(
        0.5, 'pause when joint_states is silent this long', 0.01, 10.0),
    'camera_timeout_s': ParameterSpec(
        1.0, 'pause when camera/image_raw is silent this long (exploring unrecorded is wasted '
             'motion); 0: do not watch the camera', 0.0, 60.0),
})  # fmt: skip


class ExploreNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('explore_node', **kwargs)
        self.params = p = declare(self, PARAMETERS)
        self.scene = load_scene(p['scene'])
        names = self.scene.controlled_joints
        self.ranges = np.array([self.scene.sample_ranges[n] for n in names])  # (A, 2)
        home = np.array([self.scene.home.get(n, 0.0) for n in names])
        start = np.array(p['start_pose'], dtype=float)
        self.start = home if list(start) == [0.0] else start
        if self.start.shape != home.shape:
            raise ValueError(f'start_pose has {len(self.start)} values for {len(names)} joints')
        if np.any(self.start < self.ranges[:, 0]) or np.any(self.start > self.ranges[:, 1]):
            raise ValueError(f"start_pose {self.start.tolist()} is outside the scene's "
                             f'sample_ranges')  # fmt: skip
        self.max_step = p['max_step_rad'] or self.scene.max_step_rad
        self.ee = ee_position_function(self.scene, names)
        self.box = np.array(p['workspace_min'], float), np.array(p['workspace_max'], float)
        self.config = ExplorationConfig(steps_per_episode=p['steps_per_episode'])
        self.status = StatusReporter(self, 'explore')
        self.joint_states = PolledSubscription(self, JointState, 'joint_states', STATE_QOS)
        self.latest, self.latest_s = None, -np.inf
        self.frame_s = -np.inf  # when the last camera frame came (taken raw: never decoded)
        if p['camera_timeout_s'] > 0:
            self.create_subscription(Image, 'camera/image_raw', self.on_frame, SENSOR_QOS,
                                     raw=True)  # fmt: skip
        self.lock = threading.Lock()
        self.armed: bool | None = None  # None: the gate has not said yet (jepa/armed)
        self.phase = 'returning'  # returning -> exploring -> returning ... -> done
        self.episode = 0  # episodes started
        self.step = 0
        self.policy: SmoothExploration | None = None
        self.paused = ''
        self.proposals = self.create_publisher(JointTrajectory, 'jepa/command_proposal',
                                               COMMAND_QOS)  # fmt: skip
        self.episodes_pub = self.create_publisher(UInt32, 'jepa/episode', EVENTS_QOS)
        self.create_subscription(Bool, 'jepa/armed', self.on_armed, LATCHED_QOS)
        self.create_service(Trigger, 'jepa/cancel', self.on_cancel)
        self.timer = self.create_timer(1.0 / p['control_rate_hz'], self.tick)
        total = p['episodes'] or 'unlimited'
        self.status.change(f'exploring: {total} episodes of {p["steps_per_episode"]} steps, '
                           f'starting from {np.round(self.start, 3).tolist()}')  # fmt: skip

    def on_armed(self, msg: Bool) -> None:
        with self.lock:
            self.armed = msg.data

    def on_frame(self, raw: bytes) -> None:
        with self.lock:
            self.frame_s = self.get_clock().now().nanoseconds * 1e-9

    def on_cancel(self, request, response):
        with self.lock:
            was = self.phase
            self.finish(f'cancelled by jepa/cancel after {self.episode} episodes')
        response.success = True
        response.message = 'exploration stopped' if was != 'done' else 'exploration was over'
        return response

    def finish(self, message: str) -> None:
        if self.phase != 'done':
            self.phase = 'done'
            self.timer.cancel()
            self.status.change(message, episodes=self.episode, phase='done')

    def sample_waypoint(self, rng: np.random.Generator) -> np.ndarray:
        """A target in the ranges with the end-effector in the box and height range (the start
        pose if 100 draws find none)."""
        low, high = self.scene.ee_height_range
        for _ in range(100):
            joints = rng.uniform(self.ranges[:, 0], self.ranges[:, 1])
            ee = self.ee(joints[None])[0]
            if np.all(ee >= self.box[0]) and np.all(ee <= self.box[1]) and low <= ee[2] <= high:
                return joints
        return self.start.copy()

    def measured(self) -> np.ndarray | None:
        """The newest controlled joints (A,), or None if none came within the timeout."""
        now = self.get_clock().now().nanoseconds * 1e-9
        msg = self.joint_states.newest()
        if msg is not None:
            try:
                by_name = joints_by_name(msg)
                self.latest = np.array([by_name[n] for n in self.scene.controlled_joints])
                self.latest_s = now
            except (KeyError, ValueError) as exc:
                self.status.report(WARN, f'joint_states unusable: {one_line(exc)}')
        if now - self.latest_s > self.params['joint_states_timeout_s']:
            return None
        return self.latest

    def why_not(self, joints: np.ndarray | None) -> str:
        """Why exploration cannot go on now ('' if it can)."""
        if self.armed is None:
            return 'waiting for the gate (jepa/armed)'
        if not self.armed:
            return 'the gate is not armed'
        if joints is None:
            return 'no joint_states'
        timeout = self.params['camera_timeout_s']
        now = self.get_clock().now().nanoseconds * 1e-9
        if timeout > 0 and now - self.frame_s > timeout:
            return 'no camera frames (camera/image_raw)'
        return ''

    def pause(self, why: str) -> None:
        """Say why nothing is proposed (every second on the status, WARN in the log at most
        every 2 s), or '' when it goes on (logged once)."""
        if why != self.paused:
            if not why:
                self.status.change('resumed', episode=self.episode, phase=self.phase)
            self.paused = why
        if why:
            self.status.report_every(1.0, f'paused: {why}', WARN, episode=self.episode,
                                     phase=self.phase)  # fmt: skip

    def tick(self) -> None:
        with self.lock:
            if self.phase == 'done':
                return
            joints = self.measured()
            why = self.why_not(joints)
            self.pause(why)
            if why:
                return
            target = self.next_target(joints)
        self.propose(target)
        self.status.report_every(1.0, self.phase, episode=self.episode, step=self.step,
                                 episodes=self.params['episodes'])  # fmt: skip

    def next_target(self, joints: np.ndarray) -> np.ndarray:
        """The next command's joints (A,); an episode's last one may finish the exploration."""
        if self.phase == 'returning':
            delta = self.start - joints
            if np.max(np.abs(delta)) > self.params['start_tolerance_rad']:
                return joints + np.clip(delta, -self.max_step, self.max_step)
            self.start_episode(joints)
        action = self.policy.act(joints)
        self.step += 1
        if self.step >= self.config.steps_per_episode:
            self.get_logger().info(f'episode {self.episode} done')
            if 0 < self.params['episodes'] <= self.episode:
                self.finish(f'exploration done: {self.episode} episodes')
            else:
                self.phase = 'returning'
        return np.clip(joints + action, self.ranges[:, 0], self.ranges[:, 1])

    def start_episode(self, joints: np.ndarray) -> None:
        rng = np.random.default_rng([self.params['seed'], self.episode])
        self.policy = SmoothExploration(self.config, self.max_step, self.sample_waypoint, rng)
        self.policy.reset(joints)
        self.episodes_pub.publish(UInt32(data=self.episode))
        self.episode += 1
        self.phase, self.step = 'exploring', 0
        total = self.params['episodes'] or '-'
        self.get_logger().info(f'episode {self.episode}/{total} started')

    def propose(self, target: np.ndarray) -> None:
        period = 1.0 / self.params['control_rate_hz']
        self.proposals.publish(proposal_msg(self.scene.controlled_joints, target, period))


def main(args: list[str] | None = None) -> None:
    run_node(ExploreNode, args)


if __name__ == '__main__':
    main()
