"""What every node shares: QoS profiles, parameters with descriptions, message conversion,
status reporting on `jepa/status`, and `run_node`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import re
import sys
import threading
from typing import Any

from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.callback_groups import CallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from jepa_ros.describe import help_of, ParameterSpec
from jepa_ros.frames import FrameCounter, JointHistory
from jepa_ros.graph import GraphConfig
from jepa_ros.images import decode_latent, decode_rgb, encode_latent, LATENT_ENCODING
from jepa_ros.share import find_shared

# Commands: reliable, volatile, depth 1 (never transient-local: a late joiner must not act on an
# old command). Goal latents: the latest one reaches a node that starts later.
COMMAND_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE
)
LATCHED_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
# Events a late subscriber must still get every one of (the explorer's episode starts)
EVENTS_QOS = QoSProfile(
    depth=1000, reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)  # fmt: skip
# Images and latents: sensor-data QoS (best effort) keeping only the newest message, so a stage
# that was busy takes the newest frame when it is free and never works through old ones.
SENSOR_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE
)
# Joint states and poses: reliable, newest only (a node needs the current position)
STATE_QOS = QoSProfile(depth=1)
STATUS_TOPIC = 'jepa/status'
# The standard topic of diagnostic aggregators and rqt_runtime_monitor (absolute: it stays the
# same under a namespace)
DIAGNOSTICS_TOPIC = '/diagnostics'
DEFAULT_CHECKPOINT = 'jepa_panda.pt'
# Parameters of every node that loads the world model, read at start
MODEL_PARAMETERS = {
    'checkpoint': ParameterSpec('', help_of(GraphConfig, 'checkpoint'), read_only=True),
    'scene': ParameterSpec('panda', help_of(GraphConfig, 'scene'), read_only=True),
    'device': ParameterSpec('cpu', help_of(GraphConfig, 'device'), read_only=True),
}
TASKS_FILE = ParameterSpec(
    '', 'another tasks YAML; empty: the shipped config/tasks.yaml', read_only=True
)

OK, WARN, ERROR = (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR)


def declare(node: Node, parameters: Mapping[str, ParameterSpec]) -> dict[str, Any]:
    """Declare the node's parameters (description, range, read-only); return their values.
    A value outside its range, from a params file or `-p`, raises here, at start."""
    values = {}
    for name, p in parameters.items():
        descriptor = ParameterDescriptor(
            description=p.description + p.range_text, read_only=p.read_only
        )
        if p.low is not None and isinstance(p.default, int):
            descriptor.integer_range = [IntegerRange(from_value=int(p.low), to_value=int(p.high))]
        elif p.low is not None:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(p.low), to_value=float(p.high))
            ]
        values[name] = node.declare_parameter(name, p.default, descriptor).value
    return values


def parameter_error(parameter, tasks_file: str) -> str | None:
    """Why a run-time change of `parameter` must be refused (an unknown task name), or None.
    Read-only parameters and ranges are refused by rclpy itself, from their descriptors."""
    from jepa_ros.configurator import load_task, TaskError

    if parameter.name == 'task':
        try:
            load_task(parameter.value, tasks_file or None)
        except TaskError as exc:
            return str(exc)
    return None


# rclpy >= Iron hands a callback with two arguments the message info (sequence numbers)
MESSAGE_INFO = hasattr(Subscription, 'CallbackType')


def subscribe_newest(
    node: Node,
    msg_type,
    topic: str,
    callback: Callable[[Any], None],
    counter: FrameCounter,
    qos: QoSProfile = SENSOR_QOS,
    callback_group=None,
) -> Subscription:
    """Subscribe keeping only the newest message (`qos` of depth 1) and count in `counter` the
    ones that came while the node was busy and were never taken (from the publisher's sequence
    numbers; where rclpy gives none, only what was received)."""
    if MESSAGE_INFO:

        def on_message(msg, info) -> None:
            gid = info.get('publisher_gid')
            counter.count(gid and bytes(gid['data']), info.get('publication_sequence_number'))
            callback(msg)
    else:

        def on_message(msg) -> None:
            counter.count(None, None)
            callback(msg)

    return node.create_subscription(msg_type, topic, on_message, qos,
                                    callback_group=callback_group)  # fmt: skip


class _NeverExecuted(CallbackGroup):
    """A callback group no executor waits on or runs: see `PolledSubscription`."""

    def can_execute(self, entity) -> bool:
        return False

    def beginning_execution(self, entity) -> bool:
        return False

    def ending_execution(self, entity) -> None:
        pass


class PolledSubscription:
    """A subscription the node reads when it needs to (`drain()`), not one executor callback
    per message.

    rclpy's executor spends about half a millisecond of Python on every message it dispatches;
    joint_states comes at 50-1000 Hz, and a node that needs the joints only when a camera frame
    comes would spend most of its time on them. The messages wait in the subscription's queue
    (`qos.depth` of them, the newest kept) until `drain()` takes them all.
    """

    def __init__(self, node: Node, msg_type, topic: str, qos: QoSProfile) -> None:
        self.subscription = node.create_subscription(
            msg_type, topic, lambda msg: None, qos, callback_group=_NeverExecuted()
        )

    def newest(self) -> Any | None:
        """The newest message that came since the last call, or None."""
        taken = self.drain()
        return taken[-1] if taken else None

    def drain(self) -> list[Any]:
        """Every message that came since the last call, oldest first."""
        taken = []
        sub = self.subscription
        with sub.handle:
            while (item := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                taken.append(item[0])
        return taken


class JointReader:
    """The controlled joints from `joint_states`, read when the node needs them (a
    `PolledSubscription`, `depth` messages deep) into a `JointHistory` by the messages' stamps."""

    def __init__(self, node: Node, joint_names: Sequence[str], depth: int = 100) -> None:
        self.node = node
        self.joint_names = tuple(joint_names)
        self.history = JointHistory()
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self.polled = PolledSubscription(node, JointState, 'joint_states', qos)
        self.lock = threading.Lock()

    def read(self) -> str | None:
        """Take what came; returns why the newest message was unusable (then the history is
        cleared: no joints, no command), or None."""
        with self.lock:
            error = None
            for msg in self.polled.drain():
                try:
                    measured = joints_by_name(msg)
                    joints = np.array([measured[n] for n in self.joint_names])
                except (KeyError, ValueError) as exc:
                    error = f'missing {exc}' if isinstance(exc, KeyError) else str(exc)
                    self.history.clear()
                    continue
                now = self.node.get_clock().now().nanoseconds * 1e-9
                self.history.add(stamp_s(msg.header.stamp) or now, joints)
                error = None
            return error

    def now_and_at(self, stamp: float) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The newest joints (A,) and those at `stamp` (interpolated), or None if none came."""
        with self.lock:
            return self.history.latest, self.history.at(stamp)


def checkpoint_path(value: str) -> str:
    """The `checkpoint` parameter: a path, or empty for the shipped model."""
    return value or str(find_shared('models', DEFAULT_CHECKPOINT))


def stamp_s(stamp: Time) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def seconds(value: float) -> Duration:
    whole = int(value)
    return Duration(sec=whole, nanosec=int(round((value - whole) * 1e9)))


def proposal_msg(joint_names, target, period_s: float) -> JointTrajectory:
    """A one-point `jepa/command_proposal`: `target` (A,) reached `period_s` from now (stamp 0)."""
    point = JointTrajectoryPoint(positions=[float(v) for v in target],
                                 time_from_start=seconds(period_s))  # fmt: skip
    return JointTrajectory(joint_names=list(joint_names), points=[point])


def rgb_from_msg(msg: Image) -> np.ndarray:
    """sensor_msgs/Image (rgb8 or bgr8, any size) -> (H, W, 3) uint8 RGB; ImageError if bad."""
    return decode_rgb(msg.data, msg.height, msg.width, msg.encoding, msg.step)


def image_msg(image: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image rgb8."""
    h, w, _ = image.shape
    return Image(header=header, height=h, width=w, encoding='rgb8', is_bigendian=0, step=3 * w,
                 data=np.ascontiguousarray(image, dtype=np.uint8).tobytes())  # fmt: skip


def latent_msg(latent: np.ndarray | None, header: Header) -> Image:
    """A latent (D,) as a 1 x D `32FC1` image keeping the source header; None -> an empty
    image (0 x 0), which on `jepa/goal_latent` means: no goal, be idle."""
    if latent is None:
        return Image(header=header, height=0, width=0, encoding=LATENT_ENCODING, step=0)
    data, height, width, step = encode_latent(latent)
    return Image(header=header, height=height, width=width, encoding=LATENT_ENCODING,
                 is_bigendian=0, step=step, data=data)  # fmt: skip


def latent_from_msg(msg: Image, dim: int | None = None) -> np.ndarray | None:
    """The latent (D,) of a `32FC1` image; None for the empty 'no goal' image."""
    if msg.height == 0 and msg.width == 0:
        return None
    return decode_latent(msg.data, msg.height, msg.width, msg.encoding, dim)


def joints_by_name(msg: JointState) -> dict[str, float]:
    """Measured positions by joint name (a JointState may list joints in any order)."""
    if len(msg.position) != len(msg.name):
        raise ValueError(f'joint_states has {len(msg.name)} names, {len(msg.position)} positions')
    return dict(zip(msg.name, map(float, msg.position)))


class StatusReporter:
    """Publishes this node's state as one DiagnosticStatus per report, on `jepa/status` and on
    the standard `/diagnostics` (name: the node's name, hardware_id, level, key/values)."""

    def __init__(self, node: Node, hardware_id: str = 'jepa_ros') -> None:
        self.node = node
        self.hardware_id = hardware_id
        self._last_routine = -float('inf')
        self.publishers = [node.create_publisher(DiagnosticArray, topic, 10)
                           for topic in (STATUS_TOPIC, DIAGNOSTICS_TOPIC)]  # fmt: skip

    def report_every(self, period_s: float, message: str, level: bytes = OK, **values: Any
                     ) -> None:  # fmt: skip
        """A routine report (OK unless `level` says otherwise), sent at most once per
        `period_s` (per-frame nodes, or a state that lasts)."""
        now = self.node.get_clock().now().nanoseconds * 1e-9
        if now - self._last_routine >= period_s:
            self._last_routine = now
            self.report(level, message, **values)

    def change(self, message: str, **values: Any) -> None:
        """A change of the node's state (model loaded, task set, armed, ...): an OK report,
        also logged at INFO so the launch console shows it."""
        self.node.get_logger().info(message)
        self.report(OK, message, **values)

    def report(self, level: bytes, message: str, **values: Any) -> None:
        status = DiagnosticStatus(
            level=level, name=self.node.get_fully_qualified_name(), message=message,
            hardware_id=self.hardware_id,
            values=[KeyValue(key=k, value=_text(v)) for k, v in values.items()],
        )  # fmt: skip
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        for publisher in self.publishers:
            publisher.publish(array)
        if level == ERROR:
            self.node.get_logger().error(message, throttle_duration_sec=2.0)
        elif level == WARN:
            self.node.get_logger().warning(message, throttle_duration_sec=2.0)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f'{value:.6g}'
    if isinstance(value, np.ndarray):
        return str(np.round(value, 4).tolist())
    return str(value)


def status_values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def configure_process(torch_threads: int = 1) -> None:
    """Process settings for nodes that run torch beside rclpy's executor threads.

    Every small torch call releases the GIL and must win it back; with the default 5 ms switch
    interval, a thread busy in Python (the executor) makes each one wait up to 5 ms, and a plan
    of a few hundred calls took seconds instead of 40 ms (measured in the one-process demo).
    A 0.1 ms interval removes that; one intra-op thread per process keeps nodes from
    oversubscribing the cores.
    """
    import torch

    sys.setswitchinterval(1e-4)
    torch.set_num_threads(torch_threads)


def node_executor() -> SingleThreadedExecutor:
    """The executor a node spins in: single-threaded, its callbacks one after another.

    rclpy's MultiThreadedExecutor yields a submitted callback again on every turn of its loop
    until a pool thread has started it; on a busy core, where that thread waits for the CPU and
    the GIL, its spin thread turns 10-20 times per callback (measured in the one-process demo:
    430 turns/s for 27 callbacks/s). The nodes' long work (planning, rendering) does not hold up
    anything that must run meanwhile: the sim's controller and camera have threads of their own,
    and the rest can wait for a plan.
    """
    return SingleThreadedExecutor()


def run_node(node_class, args: list[str] | None = None) -> None:
    """`main` of every node executable: init, spin the node's executor, shut down.

    SIGINT and SIGTERM end it cleanly, exit code 0: rclpy's handlers shut the context down and
    the spin ends (the node's threads stop in `destroy_node`). A node that cannot start (a
    missing scene file, a parameter out of its range) says why in one line on stderr and exits
    with code 1, not with a traceback.
    """
    configure_process()
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    try:
        try:
            node = node_class()
        except Exception as exc:  # noqa: BLE001  (a start error: one line, no traceback)
            if not rclpy.ok():  # a signal came while starting
                return
            name = re.sub(r'(?<!^)(?=[A-Z])', '_', node_class.__name__).lower()  # actor_node
            print(f'{name}: cannot start: {one_line(exc)}', file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        node.get_logger().info('started')
        executor = node_executor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (_rclpy.RCLError, RuntimeError):
        if rclpy.ok():
            raise  # not the shutdown racing the executor's wait or take: a real error
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message, the type where the message alone is unclear."""
    text = ' '.join(str(exc).split())
    if isinstance(exc, (KeyError, FileNotFoundError)) or not text:
        text = f'{type(exc).__name__}: {text}'
    return text


def encode_frame(model, image: np.ndarray) -> np.ndarray:
    """One camera image (H, W, 3) uint8, already the model's size -> its latent (D,) float32,
    encoded on the model's device."""
    import torch

    from jepa_ros.device import model_device

    pixels = torch.from_numpy(np.ascontiguousarray(image))[None, None].to(model_device(model))
    with torch.no_grad():
        return model.encode(pixels)[0].cpu().numpy()


class ModelSlot:
    """Loads the world model after the node is up (so the node answers, and reports, while it
    loads or if the checkpoint is bad). `model` is None until loaded; `error` says why not.
    The model's state is re-reported once a second, so a late `jepa/status` listener sees it.
    `prepare(model)` runs before the model is published and reported loaded (warm-up work that
    should not land on the first control tick). The model runs on `device` (`--device` names:
    cpu, cuda, mps, auto); one torch cannot see is a load error that says so."""

    def __init__(
        self,
        node: Node,
        checkpoint: str,
        scene,
        status: StatusReporter,
        prepare: Callable[[Any], None] | None = None,
        device: str = 'cpu',
    ) -> None:
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

        self.model = None
        self._prepare = prepare
        self.error = 'the model is still loading'
        self.message = ''
        self._node, self._checkpoint, self._scene, self._status = node, checkpoint, scene, status
        self._device = device
        group = MutuallyExclusiveCallbackGroup()
        self._timer = node.create_timer(0.0, self._load, callback_group=group)
        node.create_timer(1.0, self._report, callback_group=group)

    def _load(self) -> None:
        from jepa_ros.device import resolve_device
        from jepa_ros.world_model.checkpoint import CheckpointError, load_checkpoint

        self._timer.cancel()
        try:
            path = checkpoint_path(self._checkpoint)
            scene = self._scene.to_dict() if self._scene is not None else None
            model, _ = load_checkpoint(path, scene=scene, device=resolve_device(self._device))
            if self._prepare is not None:
                self._prepare(model)
            self.model = model
        except (CheckpointError, FileNotFoundError, ValueError) as exc:  # DeviceError too
            self.error = f'no model: {exc}'
        else:
            self.error, self.message = '', f'model loaded from {path}'
            self._status.change(self.message)
            return
        self._report()

    def _report(self) -> None:
        if self.model is not None:
            self._status.report(OK, self.message)
        elif self.error != 'the model is still loading':
            self._status.report(ERROR, self.error)
