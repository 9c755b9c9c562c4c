"""The whole graph in one process: the same nodes the launch files start, in one executor.

The topics are real DDS topics, so `ros2 topic echo /jepa/status` from another shell sees them.
"""

from __future__ import annotations

from importlib import import_module
import threading

from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter

from jepa_ros.graph import CLASSES, NodeSpec
from jepa_ros.nodes.common import node_executor


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
    """Creates the nodes, spins each in its own executor on a background thread (`start()`),
    as if each were its own process, and stops and destroys them on `close()`.

    One executor per node rather than one for all: rclpy's executor rebuilds its wait set in
    Python from every entity it holds (subscriptions, timers and each node's parameter
    services) on every callback it dispatches, so a shared one pays for all the nodes' entities
    on each message of any of them. Each is a `node_executor()` (see there).
    """

    def __init__(self, specs: list[NodeSpec], namespace: str = '') -> None:
        self.nodes: list[Node] = []
        self.executors: list[Executor] = []
        self._spinners: list[threading.Thread] = []
        self._closing = False
        try:
            for spec in specs:
                self.add(create_node(spec, namespace))
        except Exception:
            self.close()
            raise

    def add(self, node: Node) -> None:
        executor = node_executor()
        executor.add_node(node)
        self.nodes.append(node)
        self.executors.append(executor)
        if self._spinners:  # already started: spin this one too
            self._spin(executor, node)

    @property
    def context_ok(self) -> bool:
        return all(executor.context.ok() for executor in self.executors)

    def start(self) -> None:
        for node, executor in zip(self.nodes, self.executors):
            self._spin(executor, node)

    def _spin(self, executor: Executor, node: Node) -> None:
        thread = threading.Thread(target=self._run, args=(executor,),
                                  name=f'jepa_ros {node.get_name()}', daemon=True)  # fmt: skip
        thread.start()
        self._spinners.append(thread)

    def _run(self, executor: Executor) -> None:
        try:
            executor.spin()
        except (ExternalShutdownException, RuntimeError):
            if not self._closing:  # a shutdown race is expected only while closing
                raise

    def close(self) -> None:
        self._closing = True
        for executor in self.executors:
            executor.shutdown()
        for thread in self._spinners:
            thread.join(timeout=10.0)
        for node in reversed(self.nodes):
            node.destroy_node()
        self.nodes, self.executors, self._spinners = [], [], []
