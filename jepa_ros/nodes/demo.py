"""The ROS side of `jepa-ros demo`: the whole graph in this process, a driver node asking for
random goals one after another, and what it measured (the CLI writes the report)."""

from __future__ import annotations

from collections.abc import Callable
import signal

import rclpy
from rclpy.signals import SignalHandlerOptions

from jepa_ros.demo_report import GoalRecord, TickLatency
from jepa_ros.graph import graph_specs, GraphConfig
from jepa_ros.nodes.common import configure_process
from jepa_ros.nodes.demo_driver import DemoDriver, STAGES
from jepa_ros.nodes.embedded import EmbeddedGraph

MODEL_NODES = {'perception_node', 'actor_node', 'configurator_node'}


def run_demo(
    config: GraphConfig,
    goals: int,
    namespace: str = '',
    torch_threads: int = 1,
    on_goal: Callable[[GoalRecord], None] = lambda record: None,
) -> tuple[list[GoalRecord], list[TickLatency], dict[str, dict]]:
    """Reach `goals` random goal images; returns the goal records, the camera-to-command
    latency of each command and the nodes' counters: `guardrail` (commands, interventions) and
    `stages` (messages each newest-only stage took and skipped). TimeoutError if the graph
    stops answering; KeyboardInterrupt on SIGINT or SIGTERM, once the graph is stopped.

    rclpy's own signal handlers are not installed: they would shut the context down under the
    nodes' executors while the driver waits. A signal raises KeyboardInterrupt in this (the
    main) thread instead, and the graph is closed in order."""
    configure_process(torch_threads=torch_threads)
    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    graph = None
    try:
        graph = EmbeddedGraph(graph_specs(config), namespace=namespace)
        driver = DemoDriver(namespace=namespace)
        graph.add(driver)
        graph.start()
        driver.wait_until_ready(MODEL_NODES)
        # Budget ticks at the control rate, and room for the decision to arrive
        timeout_s = 2.0 * config.max_ticks / config.control_rate_hz + 10.0
        records = []
        for index in range(goals):
            records.append(driver.reach_one(index, timeout_s))
            on_goal(records[-1])
        counters = ('commands', 'total_interventions')
        guardrail = {
            k: int(v)
            for k, v in driver.guardrail.items()
            if k in counters or k.startswith('count_')
        }
        stages = {n.removesuffix('_node'): driver.stages[n] for n in STAGES if n in driver.stages}
        return records, list(driver.latencies), {'guardrail': guardrail, 'stages': stages}
    finally:
        if graph is not None:
            graph.close()
        if rclpy.ok():
            rclpy.shutdown()
        signal.signal(signal.SIGTERM, previous)
