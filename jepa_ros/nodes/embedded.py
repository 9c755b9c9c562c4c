"""The whole graph in one process: the same nodes the launch files start, in one executor.

The topics are real DDS topics, so `ros2 topic echo /jepa/status` from another shell sees them.
"""

from __future__ import annotations

from importlib import import_module
import threading

from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from jepa_ros.graph import CLASSES, NodeSpec


def create_node(spec: NodeSpec, namespace: str = '') -> Node:
    """Instantiate one node in this process with its parameters and remappings."""
    module, name = CLASSES[spec.executable].split(':')
    node_class = getattr(import_module(module), name)
    cli_args = ['--ros-args']
    for source, target in spec.remappings:
        cli_args += ['-r', f'{source}:={target}']
    overrides = [Parameter(k, value=v) for k, v in spec.parameters.items()]
    return node_class(namespace=namespace, parameter_overrides=overrides, cli_args=cli_args)


class EmbeddedGraph:
    """Creates the nodes, spins them in a multi-threaded executor on a background thread
    (`start()`), and stops and destroys them on `close()`."""

    def __init__(self, specs: list[NodeSpec], namespace: str = '', threads: int = 6) -> None:
        self.nodes: list[Node] = []
        self.executor = MultiThreadedExecutor(num_threads=threads)
        self._thread: threading.Thread | None = None
        self._closing = False
        try:
            for spec in specs:
                node = create_node(spec, namespace)
                self.nodes.append(node)
                self.executor.add_node(node)
        except Exception:
            self.close()
            raise

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self.executor.add_node(node)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._spin, name='jepa_ros graph', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except (ExternalShutdownException, RuntimeError):
            if not self._closing:  # a shutdown race is expected only while closing
                raise

    def close(self) -> None:
        self._closing = True
        self.executor.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        for node in reversed(self.nodes):
            node.destroy_node()
        self.nodes = []
