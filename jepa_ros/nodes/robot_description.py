"""Read the URDF that robot_state_publisher latches on `/robot_description` (std_msgs/String,
transient local), for `jepa-ros scene init --urdf-topic`."""

from __future__ import annotations

import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

from jepa_ros.envs.scene import SceneError
from jepa_ros.nodes.common import LATCHED_QOS


def read_robot_description(topic: str = '/robot_description', timeout_s: float = 10.0) -> str:
    """The URDF text on `topic`; a one-line SceneError if none comes within `timeout_s`."""
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    try:
        node = rclpy.create_node('jepa_ros_scene_init', context=context)
        received: list[str] = []
        node.create_subscription(String, topic, lambda msg: received.append(msg.data), LATCHED_QOS)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + timeout_s
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    if not received:
        raise SceneError(
            f'no URDF on {topic!r} within {timeout_s:g} s: is robot_state_publisher '
            'running (it latches the description)?'
        )
    return received[0]
