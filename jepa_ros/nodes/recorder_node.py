"""recorder_node: record the exploration as a rosbag2 bag (MCAP storage, the ROS 2 default).

For machines without `ros2 bag` (pip-only installs): the messages are taken serialized (no
decoding) and written with `rosbags`, so `ros2 bag info` / `ros2 bag play` read the bag where
ROS 2 is installed, and `jepa-ros import-bag` turns it into a dataset. Where `ros2 bag record`
exists it does the same job:
`ros2 bag record -s mcap camera/image_raw camera/camera_info joint_states jepa/episode
joint_trajectory_controller/joint_trajectory`.

Topics (remappable): the camera image and camera_info, joint_states, the gated commands and the
explorer's episode counter. The bag folder (`bag` parameter) must not exist yet; it is closed
(its MCAP summary written) when the node ends, on SIGINT or SIGTERM as on a launch's shutdown.
Each message is stored with its receive time. Progress (messages per topic) goes to
`jepa/status` every few seconds. A subscription only records once it has matched its publisher
(discovery can take seconds on a busy machine), so the node says when every topic has one
('recording all 5 topics'): arm the gate for exploration after that, or the bag misses the
first commands.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
import threading

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import UInt32
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.describe import ParameterSpec, start_only
from jepa_ros.nodes.common import declare, EVENTS_QOS, OK, run_node, StatusReporter

PARAMETERS = start_only({
    'bag': ParameterSpec('', 'the rosbag2 folder to write (must not exist)'),
    'storage': ParameterSpec('mcap', "'mcap' (the ROS 2 default) or 'sqlite3'"),
})  # fmt: skip
# (topic, type, name of the rosbags message type); best effort, deep: a sensor publisher's QoS
STREAMS = (
    ('camera/image_raw', Image, 'sensor_msgs/msg/Image'),
    ('camera/camera_info', CameraInfo, 'sensor_msgs/msg/CameraInfo'),
    ('joint_states', JointState, 'sensor_msgs/msg/JointState'),
    ('joint_trajectory_controller/joint_trajectory', JointTrajectory,
     'trajectory_msgs/msg/JointTrajectory'),
)  # fmt: skip
RECORD_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)


class RecorderNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('recorder_node', **kwargs)
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores

        self.params = p = declare(self, PARAMETERS)
        if not p['bag']:
            raise ValueError('set the bag parameter: the rosbag2 folder to write')
        path = Path(p['bag'])
        if path.exists():
            raise ValueError(f'bag {path} already exists: choose a new folder')
        plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
        if p['storage'] not in plugins:
            raise ValueError(f"storage must be 'mcap' or 'sqlite3', got {p['storage']!r}")
        types = get_typestore(Stores.LATEST)
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.subscriptions_by_topic = {}
        self.unmatched: list[str] | None = None
        self.writer = Writer(path, version=9, storage_plugin=plugins[p['storage']])
        self.writer.open()
        streams = [*STREAMS, ('jepa/episode', UInt32, 'std_msgs/msg/UInt32')]
        for topic, msg_type, type_name in streams:
            name = self.resolve_topic_name(topic)  # namespace and remappings applied
            connection = self.writer.add_connection(name, type_name, typestore=types)
            qos = EVENTS_QOS if topic == 'jepa/episode' else RECORD_QOS
            self.subscriptions_by_topic[name] = self.create_subscription(
                msg_type, topic, partial(self.write, connection), qos, raw=True
            )
        self.status = StatusReporter(self, 'recorder')
        self.create_timer(5.0, self.report)
        self.status.change(f'recording {len(streams)} topics to {path} ({p["storage"]})')
        self.create_timer(0.5, self.check_publishers)

    def check_publishers(self) -> None:
        """Say when the set of topics without a matched publisher changes."""
        unmatched = [topic for topic, subscription in self.subscriptions_by_topic.items()
                     if subscription.get_publisher_count() == 0]  # fmt: skip
        if unmatched != self.unmatched:
            self.unmatched = unmatched
            self.status.change(self.state())

    def state(self) -> str:
        """What the node is doing, as its status says it (also in every routine report, so
        a listener that joins late still hears it)."""
        if self.unmatched is None:
            return 'recording'
        if self.unmatched:
            return f'waiting for publishers of {", ".join(self.unmatched)}'
        return f'recording all {len(self.subscriptions_by_topic)} topics'

    def write(self, connection, raw: bytes) -> None:
        now = self.get_clock().now().nanoseconds
        with self.lock:
            if self.writer is None:
                return
            self.writer.write(connection, now, raw)
            self.counts[connection.topic] += 1

    def report(self) -> None:
        with self.lock:
            counts = dict(self.counts)
        self.status.report(OK, self.state(), **counts)

    def destroy_node(self) -> None:
        """Close the bag (its index and summary are written now), then the node."""
        with self.lock:
            writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
            self.get_logger().info(f'bag closed: {dict(self.counts)}')
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(RecorderNode, args)


if __name__ == '__main__':
    main()
