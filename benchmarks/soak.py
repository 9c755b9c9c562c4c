"""Soak test (not in CI): the whole graph as separate node processes (as `ros2 launch` runs
it), camera at 30 Hz, random goals one after another for 10 minutes; records the memory (RSS of
every node process) and the camera-to-command latency over time.

Pass: RSS grows at most 5% after the warm-up, and the latency does not trend up (the slope of a
line through the per-window p95 latencies, over the run, is below 10% of their mean). Writes the
JSON and a PNG.

    python benchmarks/soak.py --minutes 10 --json benchmarks/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import threading
import time

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, default=10.0)
    parser.add_argument('--camera-rate', type=float, default=30.0)
    parser.add_argument('--control-rate', type=float, default=12.0)
    parser.add_argument('--warmup-s', type=float, default=60.0)
    parser.add_argument('--window-s', type=float, default=10.0, help='sampling window')
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from std_srvs.srv import Trigger

    from jepa_ros.graph import graph_specs, GraphConfig
    from jepa_ros.nodes.demo_driver import DemoDriver
    from jepa_ros.processes import NodeProcesses

    config = GraphConfig(control_rate_hz=args.control_rate, camera_rate_hz=args.camera_rate,
                         max_ticks=60)  # fmt: skip
    processes = NodeProcesses(graph_specs(config), args.json.parent / 'soak_logs', {})
    rclpy.init(args=[])
    driver = DemoDriver()
    executor = MultiThreadedExecutor()
    executor.add_node(driver)
    threading.Thread(target=executor.spin, daemon=True).start()
    samples, goals = [], 0
    try:
        driver.wait_until_ready({'perception_node', 'actor_node', 'configurator_node'})
        start = time.monotonic()
        window_start, seen, last_goal = start, 0, -float('inf')
        while time.monotonic() - start < 60 * args.minutes:
            # A new goal once the configurator has decided the last one (at most 1 a second),
            # or after 10 s
            since = time.monotonic() - last_goal
            last = driver.configurator[-1].get('outcome') if driver.configurator else 'idle'
            if since > 10.0 or since > 1.0 and last in ('succeeded', 'gave_up', 'cancelled'):
                driver.random_goal.call_async(Trigger.Request())
                goals, last_goal = goals + 1, time.monotonic()
            time.sleep(0.5)
            if time.monotonic() - window_start >= args.window_s:
                latencies = [t.total_ms for t in driver.latencies[seen:]]
                seen = len(driver.latencies)
                memory = processes.rss_mb()
                samples.append({
                    't_s': time.monotonic() - start, 'rss_mb': sum(memory.values()),
                    'rss_mb_by_node': memory,
                    'latency_ms_p50': float(np.percentile(latencies, 50)) if latencies else None,
                    'latency_ms_p95': float(np.percentile(latencies, 95)) if latencies else None,
                    'commands': len(latencies),
                })  # fmt: skip
                window_start = time.monotonic()
                print(json.dumps(samples[-1]), flush=True)
    finally:
        executor.shutdown()
        rclpy.shutdown()
        processes.stop_all()
    report = judge(samples, args, goals)
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    plot(report, args.json.with_suffix('.png'))
    print(json.dumps({k: v for k, v in report.items() if k != 'samples'}, indent=2))
    return 0 if report['pass'] else 1


def judge(samples: list[dict], args, goals: int) -> dict:
    after = [s for s in samples if s['t_s'] >= args.warmup_s]
    rss = np.array([s['rss_mb'] for s in after])
    growth = float(rss.max() / rss[0] - 1) if len(rss) else None
    t = np.array([s['t_s'] for s in after if s['latency_ms_p95'] is not None])
    p95 = np.array([s['latency_ms_p95'] for s in after if s['latency_ms_p95'] is not None])
    slope = float(np.polyfit(t, p95, 1)[0]) if len(t) > 2 else None  # ms per s
    trend = slope * (t[-1] - t[0]) / p95.mean() if slope is not None else None
    return {
        'minutes': args.minutes, 'camera_rate_hz': args.camera_rate,
        'control_rate_hz': args.control_rate, 'goals': goals,
        'rss_mb_after_warmup': float(rss[0]) if len(rss) else None,
        'rss_mb_max': float(rss.max()) if len(rss) else None,
        'rss_growth_after_warmup': growth,
        'latency_ms_p95_mean': float(p95.mean()) if len(p95) else None,
        'latency_p95_trend_over_run': trend,
        'pass': bool(growth is not None and growth <= 0.05 and trend is not None
                     and trend < 0.10),
        'samples': samples,
    }  # fmt: skip


def plot(report: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    samples = report['samples']
    t = [s['t_s'] / 60 for s in samples]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(t, [s['rss_mb'] for s in samples])
    axes[0].set(xlabel='minutes', ylabel='RSS (MB)', title='memory of all node processes')
    axes[1].plot(t, [s['latency_ms_p50'] for s in samples], label='p50')
    axes[1].plot(t, [s['latency_ms_p95'] for s in samples], label='p95')
    axes[1].set(xlabel='minutes', ylabel='ms', title='camera-to-command latency per window')
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


if __name__ == '__main__':
    raise SystemExit(main())
