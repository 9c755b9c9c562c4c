"""`jepa-ros eval --ros`: goal-image reaching measured on the live graph, as a robot engineer
measures it on a physical arm. Imports no simulator: the arm is whatever answers on the topics.

For each start/goal pair (frames of a held-out dataset, e.g. `jepa-ros import-bag` of a held-out
bag: the goal's image and the joints it was taken at), the client drives the arm to the start
joints through the gate (one-point `jepa/command_proposal`s at the step limit, while the actor
is idle), publishes the goal image on `jepa/goal_image`, and follows the configurator's ticks
(one per proposal, with its goal energy) until it decides (reached, gave up) or the budget is
spent, then cancels (`jepa/cancel`). The distance after each tick is forward kinematics of the
measured `joint_states` against the goal frame's joints (the robot's own kinematic model, no
ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import numpy as np
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.evaluation import EpisodeResult
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    image_msg,
    joints_by_name,
    proposal_msg,
    STATE_QOS,
    STATUS_TOPIC,
    status_values,
)

FINAL = ('succeeded', 'gave_up', 'cancelled')


class GraphError(RuntimeError):
    """The running graph did not answer, or refused (no service, the arm did not move)."""


@dataclass(frozen=True)
class RosGoal:
    """A goal frame: its image (H, W, 3) uint8 RGB and the controlled joints (A,) it was
    taken at."""

    image: np.ndarray
    joints: np.ndarray


class EvalClient(Node):
    """The live graph seen from outside: joint_states and the configurator's ticks and
    decisions; drives the arm to a start pose through the gate and sets goal images."""

    def __init__(self, scene, rate_hz: float) -> None:
        super().__init__('jepa_eval_client')
        self.scene = scene
        self.names = scene.controlled_joints
        self.kinematics = ForwardKinematics(scene.urdf(), self.names, [scene.ee_link], scene.home)
        self.period = 1.0 / rate_hz
        self.condition = threading.Condition()
        self.joints: np.ndarray | None = None
        self.decisions: list[dict[str, str]] = []  # the configurator's statuses, in order
        self.gate_said = ''
        self.create_subscription(JointState, 'joint_states', self.on_joints, STATE_QOS)
        self.create_subscription(DiagnosticArray, STATUS_TOPIC, self.on_status, 100)
        self.proposals = self.create_publisher(
            JointTrajectory, 'jepa/command_proposal', COMMAND_QOS
        )
        self.goals = self.create_publisher(Image, 'jepa/goal_image', COMMAND_QOS)
        self.arm_client = self.create_client(SetBool, 'jepa/arm')
        self.cancel_client = self.create_client(Trigger, 'jepa/cancel')

    # Callbacks (executor thread) ------------------------------------------------------------
    def on_joints(self, msg: JointState) -> None:
        try:
            by_name = joints_by_name(msg)
            joints = np.array([by_name[n] for n in self.names])
        except (KeyError, ValueError):
            return
        with self.condition:
            self.joints = joints
            self.condition.notify_all()

    def on_status(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            node = status.name.rsplit('/', 1)[-1]
            if node == 'guardrail_node' and status.level != DiagnosticStatus.OK:
                self.gate_said = status.message  # the last intervention, for errors
            if node == 'configurator_node':
                with self.condition:  # with the joints measured when it came
                    values = {**status_values(status), 'message': status.message,
                              'joints': self.joints}  # fmt: skip
                    self.decisions.append(values)
                    self.condition.notify_all()

    # Calls (the caller's thread) ------------------------------------------------------------
    def wait(self, predicate, timeout_s: float, what: str) -> None:
        with self.condition:
            if not self.condition.wait_for(predicate, timeout=timeout_s):
                raise GraphError(f'no {what} within {timeout_s:g} s')

    def call(self, client, request, what: str):
        if not client.wait_for_service(timeout_sec=30.0):
            raise GraphError(f'no {what} service: is the graph running?')
        future = client.call_async(request)
        self.wait(future.done, 30.0, f'{what} response')
        return future.result()

    def set_configurator(self, **values) -> None:
        """Set parameters of the running configurator_node (e.g. decide=False to calibrate)."""
        client = AsyncParameterClient(self, 'configurator_node')
        if not client.wait_for_services(timeout_sec=30.0):
            raise GraphError('no configurator_node parameter services: is the graph running?')
        future = client.set_parameters([Parameter(k, value=v) for k, v in values.items()])
        self.wait(future.done, 30.0, 'configurator parameter response')
        refused = [r.reason for r in future.result().results if not r.successful]
        if refused:
            raise GraphError(f'configurator_node refused {values}: {refused}')

    def ee(self, joints: np.ndarray) -> np.ndarray:
        return self.kinematics.numpy(joints[None])[0, 0]

    def drive_to(
        self, target: np.ndarray, max_step: float, tolerance: float, stall_s: float = 5.0
    ) -> None:
        """Step the arm to `target` through the gate (the actor must be idle); GraphError if
        it makes no progress for `stall_s` (a refusal of the gate, named in the error)."""
        self.wait(lambda: self.joints is not None, 30.0, 'joint_states')
        best, since = np.inf, time.monotonic()
        while True:
            joints = self.joints
            delta = target - joints
            distance = float(np.max(np.abs(delta)))
            if distance <= tolerance:
                return
            if distance < best - 1e-3:
                best, since = distance, time.monotonic()
            elif time.monotonic() - since > stall_s:
                raise GraphError(
                    f'the arm stopped {distance:.3f} rad short of the start pose '
                    f'(at {np.round(joints, 3).tolist()}); the gate said: '
                    f'{self.gate_said or "nothing"}'
                )
            target = joints + np.clip(delta, -max_step, max_step)
            self.proposals.publish(proposal_msg(self.names, target, self.period))
            time.sleep(self.period)

    def reach(self, goal: RosGoal, budget: int, settle_s: float = 0.5) -> EpisodeResult:
        """Publish the goal image and follow the configurator's ticks (one per proposal, with
        its goal energy) until it decides or `budget` ticks passed; then cancel. The distance
        after each tick: forward kinematics of the joints measured at that tick."""
        goal_ee = self.ee(goal.joints)
        deadline = time.monotonic() + 30.0  # the configurator must have matched (discovery)
        while self.goals.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                raise GraphError('nothing subscribes to jepa/goal_image: is the configurator up?')
            time.sleep(0.1)
        with self.condition:
            seen = len(self.decisions)
            result = EpisodeResult([float(np.linalg.norm(self.ee(self.joints) - goal_ee))])
        self.goals.publish(image_msg(goal.image, Header(stamp=self.get_clock().now().to_msg())))
        self.wait(
            lambda: self.since(seen, 'set') is not None, 30.0, 'goal set by the configurator'
        )
        start = self.since(seen, 'set')

        def ticks() -> list[dict]:
            return [
                d
                for d in self.decisions[start:]
                if d.get('outcome') == 'reaching' and 'goal_energy' in d
            ]

        def decided() -> dict | None:
            return next((d for d in self.decisions[start:] if d.get('outcome') in FINAL), None)

        deadline = budget * self.period * 4 + 10.0
        self.wait(lambda: len(ticks()) >= budget or decided() is not None, deadline,
                  f'decision or {budget} ticks')  # fmt: skip
        outcome = decided()
        if outcome is None:
            self.call(self.cancel_client, Trigger.Request(), 'jepa/cancel')
        time.sleep(settle_s)  # the last command lands
        with self.condition:
            for tick in ticks()[:budget]:
                result.distances.append(float(np.linalg.norm(self.ee(tick['joints']) - goal_ee)))
                result.infos.append({'goal_energy': float(tick['goal_energy'])})
            final = float(np.linalg.norm(self.ee(self.joints) - goal_ee))
        if len(result.distances) == 1:
            result.distances.append(final)
            result.infos.append({})
        result.distances[-1] = final
        result.infos[-1]['outcome'] = (outcome or {}).get('outcome', 'budget')
        return result

    def since(self, seen: int, word: str) -> int | None:
        """The index of the first configurator status after `seen` whose message ends with
        `word` ('goal 3 set'), or None."""
        for index in range(seen, len(self.decisions)):
            if self.decisions[index]['message'].endswith(' ' + word):
                return index
        return None


def run_pairs(
    scene,
    pairs: list[tuple[np.ndarray, RosGoal]],
    budget: int,
    rate_hz: float,
    arm: bool,
    desc: str,
    calibrating: bool = False,
) -> tuple[list[EpisodeResult], list[dict]]:
    """Run every (start joints, goal) pair on the running graph: arm the gate first if `arm`,
    drive to each start and reach each goal (a start the arm cannot reach is skipped and
    returned, with why, beside the results); `calibrating`: the configurator decides nothing
    meanwhile (`decide` false, set back after), every goal runs its whole budget. rclpy is
    initialised and shut down here."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from tqdm import tqdm

    rclpy.init(args=[])
    client = EvalClient(scene, rate_hz)
    executor = MultiThreadedExecutor()
    executor.add_node(client)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        if arm and not client.call(client.arm_client, SetBool.Request(data=True),
                                   'jepa/arm').success:  # fmt: skip
            raise GraphError('the gate refused to arm')
        if calibrating:
            client.set_configurator(decide=False)
        results, skipped = [], []
        try:
            for index, (start, goal) in enumerate(tqdm(pairs, desc=desc, unit='episode',
                                                        dynamic_ncols=True)):  # fmt: skip
                try:
                    client.drive_to(start, scene.max_step_rad, tolerance=0.02)
                except GraphError as exc:  # an unreachable start: say so, go on
                    skipped.append({'pair': index, 'why': str(exc)})
                    client.get_logger().warning(f'pair {index} skipped: {exc}')
                    continue
                results.append(client.reach(goal, budget))
        finally:
            if calibrating:
                client.set_configurator(decide=True)
        if not results:
            raise GraphError(f'no start pose could be reached: {skipped[0]["why"]}')
        return results, skipped
    finally:
        executor.shutdown()
        client.destroy_node()
        rclpy.shutdown()
