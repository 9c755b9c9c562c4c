"""Where the one-process demo's CPU goes (not in CI): `jepa-ros demo` with every node callback
timed in thread CPU time, so each node's share of a control tick shows, and what is left for
rclpy's executor and DDS. The render process's CPU is counted apart (it holds no GIL here).

    python benchmarks/demo_cpu.py --goals 5 --json benchmarks/demo_cpu.json
    python benchmarks/demo_cpu.py --goals 5 --taskset 0 --json benchmarks/demo_cpu_one_core.json
"""

from __future__ import annotations

import argparse
from collections import Counter
import functools
import json
import os
from pathlib import Path
import resource
import sys
import tempfile
import threading
import time

CALLBACKS = {
    'sim_node:SimNode': ('tick', 'on_camera', 'on_trajectory', 'on_random_goal'),
    'perception_node:PerceptionNode': ('on_image',),
    'world_model_node:WorldModelNode': ('on_latent',),
    'actor_node:ActorNode': ('on_latent', 'check_joints', 'on_goal'),
    'configurator_node:ConfiguratorNode': ('on_proposal', 'on_goal_image', 'push_task'),
    'guardrail_node:GuardrailNode': (
        'on_proposal',
        'on_latent',
        'on_goal',
        'on_deadline',
        'report_summary',
    ),
    'demo_driver:DemoDriver': ('on_status', 'on_ee', 'on_goal_image'),
    'common:ModelSlot': ('_report',),
}


class CallbackClock:
    """Thread CPU seconds and calls per callback."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def wrap(self, cls, name: str) -> None:
        original = getattr(cls, name)
        key = f'{cls.__name__}.{name}'

        @functools.wraps(original)
        def timed(node, *args):
            start = time.thread_time()
            try:
                return original(node, *args)
            finally:
                with self.lock:
                    self.cpu[key] += time.thread_time() - start
                    self.calls[key] += 1

        setattr(cls, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--goals', type=int, default=5)
    parser.add_argument('--taskset', default='', help="cores, as taskset -c takes them: '0'")
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    if args.taskset:
        os.sched_setaffinity(0, {int(c) for c in args.taskset.split(',')})
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    from importlib import import_module

    clock = CallbackClock()
    for where, names in CALLBACKS.items():
        module, cls = where.split(':')
        for name in names:
            clock.wrap(getattr(import_module(f'jepa_ros.nodes.{module}'), cls), name)
    from jepa_ros.cli import main as cli
    from jepa_ros.nodes.demo_driver import DemoDriver

    ready: list[float] = []  # process CPU when the first goal starts: start-up
    reach_one = DemoDriver.reach_one

    def first_goal_marked(driver, index, timeout_s):
        ready.append(ready[0] if ready else time.process_time() - cpu)
        return reach_one(driver, index, timeout_s)

    DemoDriver.reach_one = first_goal_marked

    wall, cpu = time.monotonic(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        status = cli(['demo', '--goals', str(args.goals), '--out', out])
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        demo = json.loads((Path(out) / 'demo.json').read_text())
    render_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks = demo['commands']
    callbacks = {
        key: {
            'calls': clock.calls[key],
            'ms_per_call': round(1000 * clock.cpu[key] / clock.calls[key], 3),
            'ms_per_tick': round(1000 * clock.cpu[key] / ticks, 3),
            'share_of_process_cpu': round(clock.cpu[key] / cpu, 4),
        }
        for key, _ in clock.cpu.most_common()
    }
    in_callbacks = sum(clock.cpu.values())
    result = {
        'command': ' '.join(sys.argv),
        'goals': args.goals,
        'reached': demo['reached'],
        'commands': ticks,
        'wall_s': round(wall, 2),
        'process_cpu_s': round(cpu, 2),
        'callbacks_cpu_s': round(in_callbacks, 2),
        'startup_cpu_s': round(ready[0], 2),
        'outside_callbacks_after_startup_cpu_s': round(cpu - ready[0] - in_callbacks, 2),
        'render_process_cpu_s': round(render_cpu.ru_utime + render_cpu.ru_stime, 2),
        'latency_ms_p95': demo['latency_ms_p95'],
        'control_rate_hz': demo['control_rate_hz'],
        'callbacks': callbacks,
        'note': 'start-up: imports, model loads, tracing, until the first goal; outside '
        "callbacks after it: rclpy's executors, DDS threads, the sim's controller loop",
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    print(
        f'{ticks} commands; process CPU {cpu:.1f} s in {wall:.1f} s, callbacks {in_callbacks:.1f}'
        f' s, render process {result["render_process_cpu_s"]:.1f} s'
    )
    for key, row in callbacks.items():
        print(f'{key:38s} {row["ms_per_call"]:7.2f} ms/call {row["ms_per_tick"]:7.2f} ms/tick')
    return status


if __name__ == '__main__':
    sys.exit(main())
