"""Run the whole ROS 2 graph (sim + all nodes) in one process and reach random goal images.

The nodes talk over real DDS topics (watch with `ros2 topic echo /jepa/status` from another
shell; DDS stays on this machine unless ROS_AUTOMATIC_DISCOVERY_RANGE says otherwise). Prints a
line per goal (success by simulator ground truth, final distance, steps, time) and a summary with
the camera-stamp-to-command latency and the control rate; writes a JSON, a PNG strip (start |
goal | final per goal), an energy-vs-step plot and a latency-per-command plot. Needs rclpy
(`pip install '.[ros]'` or a sourced ROS 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from jepa_ros.device import add_device_argument, DeviceError, resolve_device
from jepa_ros.graph import GraphConfig

DEFAULT_BUDGET_TICKS = 50  # per goal, at the graph's default control rate


class DemoError(RuntimeError):
    """The demo could not run (no ROS 2, a node failed to start, the graph did not answer)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--goals', type=int, default=5, help='random goals to reach (default 5)')
    parser.add_argument('--checkpoint', default='', help='model.pt (default: the shipped one)')
    parser.add_argument('--scene', default='panda', help='scene YAML path or shipped name')
    parser.add_argument('--task', default='reach_light', help='task from config/tasks.yaml')
    parser.add_argument(
        '--budget',
        type=int,
        help='control ticks per goal (default: 50 at 12 Hz, and the same 4.2 s at another rate, '
        'e.g. 125 at 30 Hz: the gate limits joint speed per second, not per tick)',
    )
    parser.add_argument(
        '--control-rate',
        type=float,
        help="commands (and sim camera frames) per second (default: the task's actor."
        'control_rate_hz if it sets one, else 12)',
    )
    parser.add_argument('--out', type=Path, default=Path('demo'),
                        help='folder for demo.json and its three plots')  # fmt: skip
    parser.add_argument('--namespace', default='', help='ROS namespace of every node')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.goals < 1 or (args.budget is not None and args.budget < 1):
        raise DemoError('--goals and --budget must be >= 1')
    try:
        resolve_device(args.device)  # one torch cannot see stops here, not in every node
    except DeviceError as exc:
        raise DemoError(str(exc)) from None
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    try:
        from jepa_ros.nodes.demo import run_demo
    except ImportError as exc:
        raise DemoError(f"needs ROS 2's rclpy ({exc}): pip install '.[ros]' (see README) or "
                        'source your ROS 2 setup') from None  # fmt: skip
    from jepa_ros.demo_report import (
        energy_figure,
        latency_figure,
        strip_image,
        summarize_demo,
        summary_line,
    )

    rate = args.control_rate or _task(args).actor.control_rate_hz or GraphConfig.control_rate_hz
    budget = args.budget or budget_ticks(rate)
    config = GraphConfig(checkpoint=args.checkpoint, scene=args.scene, task=args.task,
                         control_rate_hz=rate, camera_rate_hz=rate, max_ticks=budget,
                         device=args.device)  # fmt: skip
    print('starting the graph: sim, perception, world model, guardrail, actor, configurator')
    try:
        records, latencies, counters = run_demo(
            config, args.goals, args.namespace, args.threads,
            on_goal=lambda record: print(record.line(), flush=True),
        )  # fmt: skip
    except TimeoutError as exc:
        raise DemoError(str(exc)) from None
    except KeyboardInterrupt:
        print('interrupted: the graph is stopped', flush=True)
        return 0
    success_energy = _success_energy(args)
    report = summarize_demo(records, latencies, success_energy, counters['stages'])
    report['guardrail'] = counters['guardrail']
    report.update(task=args.task, budget_ticks=budget, set_control_rate_hz=rate)
    print(summary_line(report))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'demo.json').write_text(json.dumps(report, indent=2) + '\n')
    strip = strip_image(records, args.out / 'demo_strip.png')
    energy = energy_figure(records, success_energy, args.out / 'demo_energy.png')
    latency = latency_figure(latencies, args.out / 'demo_latency.png')
    print(
        f'results: {args.out / "demo.json"}\nstrip: {strip}\nenergy plot: {energy}\n'
        f'latency plot: {latency}'
    )
    return 0


def budget_ticks(rate_hz: float) -> int:
    """The default ticks per goal at `rate_hz`: the time of 50 ticks at the graph's 12 Hz."""
    return max(1, round(DEFAULT_BUDGET_TICKS * rate_hz / GraphConfig.control_rate_hz))


def _task(args):
    from jepa_ros.configurator import load_task

    return load_task(args.task)


def _success_energy(args) -> float:
    return _task(args).monitor.success_energy
