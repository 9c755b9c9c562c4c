"""The demo's driver: asks the sim for random goals one after another and watches the graph.

It talks to the graph only through its topics and services, like a user would: `sim/random_goal`
starts a goal; the configurator's status on `jepa/status` says when it is over; `sim/ee_pose` and
`sim/goal_ee_pose` (ground truth) score it, and `sim/contacts` counts the moves the simulator
blocked because they would have touched the arm itself, the floor or an obstacle. Every wait is
on a message, with a timeout.
"""

from __future__ import annotations

from collections.abc import Callable
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from jepa_ros.demo_report import GoalRecord, TickLatency
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    PolledSubscription,
    rgb_from_msg,
    SENSOR_QOS,
    stamp_s,
    STATE_QOS,
    STATUS_TOPIC,
    status_values,
)  # fmt: skip

FINAL = ('succeeded', 'gave_up', 'cancelled')
# The stages that keep only the newest input, in pipeline order: node -> counter prefix
STAGES = {
    'perception_node': 'frames',
    'actor_node': 'latents',
    'guardrail_node': 'proposals',
    'world_model_node': 'latents',
}


class DemoDriver(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('demo_driver', **kwargs)
        self.condition = threading.Condition()
        self.ee: np.ndarray | None = None
        self.ee_stamp = 0.0
        self.goal_ee: np.ndarray | None = None
        self.goal_image: np.ndarray | None = None
        self.loaded: set[str] = set()
        self.configurator: list[dict[str, str]] = []  # statuses of the configurator, in order
        self.latencies: list[TickLatency] = []  # one per command the actor sent
        self.command_stamps: list[float] = []  # when the actor published each command
        self.guardrail: dict[str, str] = {}  # the gate's latest counters
        self.stages: dict[str, dict[str, int | str]] = {}  # messages each stage took, skipped
        self.create_subscription(DiagnosticArray, STATUS_TOPIC, self.on_status, 100)
        self.create_subscription(PoseStamped, 'sim/ee_pose', self.on_ee, STATE_QOS)
        self.create_subscription(PoseStamped, 'sim/goal_ee_pose', self.on_goal_ee, 1)
        self.contacts: list[str] = []  # each contact pair the sim reported, 'a|b'
        self.create_subscription(DiagnosticArray, 'sim/contacts', self.on_contacts, 10)
        # Camera frames are read at a goal's start and end only (not a callback per frame)
        self.frames = PolledSubscription(self, Image, 'camera/image_raw', SENSOR_QOS)
        self.frame: np.ndarray | None = None  # the newest frame read
        self.create_subscription(Image, 'jepa/goal_image', self.on_goal_image, COMMAND_QOS)
        self.random_goal = self.create_client(Trigger, 'sim/random_goal')

    # Callbacks: store, then wake the waiting thread
    def notify(self, update: Callable[[], None]) -> None:
        with self.condition:
            update()
            self.condition.notify_all()

    def on_status(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = status_values(status)
            node = status.name.rsplit('/', 1)[-1]
            if status.message.startswith('model loaded'):
                self.notify(lambda n=node: self.loaded.add(n))
            if node == 'configurator_node' and 'goal' in values:
                self.notify(lambda v=values: self.configurator.append(v))
            if node == 'guardrail_node' and 'total_interventions' in values:
                self.guardrail = values
            prefix = STAGES.get(node)
            if prefix and f'{prefix}_received' in values:
                self.stages[node] = stage_counters(values, prefix)
            if node == 'actor_node' and 'latency_ms' in values:
                total, upstream = float(values['latency_ms']), float(values['upstream_ms'])
                self.latencies.append(TickLatency(total, upstream, total - upstream,
                                                  str(values.get('actor_mode', ''))))  # fmt: skip
                self.command_stamps.append(stamp_s(msg.header.stamp))

    def on_contacts(self, msg: DiagnosticArray) -> None:
        self.notify(lambda: self.contacts.extend(s.name for s in msg.status))

    def on_ee(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.notify(lambda: self._set_ee(np.array([p.x, p.y, p.z]), stamp_s(msg.header.stamp)))

    def _set_ee(self, position: np.ndarray, stamp: float) -> None:
        self.ee, self.ee_stamp = position, stamp

    def on_goal_ee(self, msg: PoseStamped) -> None:
        p = msg.pose.position
        self.notify(lambda: setattr(self, 'goal_ee', np.array([p.x, p.y, p.z])))

    def read_frame(self) -> bool:
        """Keep the newest camera frame that came since the last call; False if none came."""
        msg = self.frames.newest()
        if msg is not None:
            self.frame = rgb_from_msg(msg)
        return msg is not None

    def on_goal_image(self, msg: Image) -> None:
        self.notify(lambda: setattr(self, 'goal_image', rgb_from_msg(msg)))

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        with self.condition:
            if not self.condition.wait_for(predicate, timeout=timeout_s):
                raise TimeoutError(f'timed out after {timeout_s:.0f} s waiting for {what}')

    def wait_until_ready(self, model_nodes: set[str], timeout_s: float = 120.0) -> None:
        self.wait_for(lambda: model_nodes <= self.loaded and self.ee is not None
                      and (self.read_frame() or self.frame is not None), timeout_s,
                      'the models and the sim')  # fmt: skip
        if not self.random_goal.wait_for_service(timeout_sec=timeout_s):
            raise TimeoutError('sim/random_goal is not available')

    def reach_one(self, index: int, timeout_s: float) -> GoalRecord:
        """Ask for a random goal, wait for the configurator's decision, score it."""
        self.read_frame()
        record = GoalRecord(index, start_image=self.frame)
        goals_before = len(self.configurator)
        self.goal_image, self.goal_ee = None, None
        started = time.monotonic()
        future = self.random_goal.call_async(Trigger.Request())
        self.wait_for(future.done, 30.0, 'sim/random_goal to answer')
        if not future.result().success:
            raise TimeoutError(f'sim/random_goal: {future.result().message}')
        self.wait_for(lambda: self.goal_ee is not None and self.goal_image is not None, 30.0,
                      'a random goal')  # fmt: skip
        record.goal_image, goal_ee = self.goal_image, self.goal_ee
        commands_before, contacts_before = len(self.command_stamps), len(self.contacts)
        # The configurator numbers its goals: find this one's number, then its outcome
        self.wait_for(lambda: any(s.get('outcome') == 'reaching'
                                  for s in self.configurator[goals_before:]),
                      30.0, 'the configurator to take the goal')  # fmt: skip
        number = next(s['goal'] for s in self.configurator[goals_before:]
                      if s.get('outcome') == 'reaching')  # fmt: skip
        mine = lambda: [s for s in self.configurator[goals_before:]  # noqa: E731
                        if s.get('goal') == number]  # fmt: skip
        try:
            self.wait_for(lambda: any(s.get('outcome') in FINAL for s in mine()), timeout_s,
                          f'goal {index + 1} to end')  # fmt: skip
        except TimeoutError:
            record.outcome = 'timeout'
        record.seconds = time.monotonic() - started
        statuses = mine()
        record.energies = [float(s['goal_energy']) for s in statuses if 'goal_energy' in s]
        final = [s for s in statuses if s.get('outcome') in FINAL]
        if final:
            record.outcome = final[0]['outcome']
            record.ticks = int(final[0].get('ticks', 0))
        # Let the last command finish: wait for a pose stamped 0.3 s after the decision
        decided_at = self.get_clock().now().nanoseconds * 1e-9
        self.wait_for(lambda: self.ee_stamp > decided_at + 0.3, 10.0, 'the arm to settle')
        stamps = self.command_stamps[commands_before:]
        record.commands = len(stamps)
        record.contacts = len(self.contacts) - contacts_before
        record.latencies = self.latencies[commands_before:]
        if len(stamps) > 1:
            record.command_seconds = stamps[-1] - stamps[0]
        record.final_distance_m = float(np.linalg.norm(self.ee - goal_ee))
        self.read_frame()
        record.final_image = self.frame
        return record


def stage_counters(values: dict[str, str], prefix: str) -> dict[str, int | str]:
    """A stage's `{prefix}_received`, `_skipped` (and the actor's `_held_back`) as numbers."""
    counters: dict[str, int | str] = {}
    for key in ('received', 'skipped', 'held_back'):
        text = values.get(f'{prefix}_{key}')
        if text is not None:
            counters[key] = int(text) if text.isdigit() else text
    return counters
