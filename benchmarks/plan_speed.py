"""One plan of the default task (`Actor.act`) with the Python cost and with its TorchScript trace,
alone and beside Python threads that keep the GIL busy (as rclpy's executor threads and the
simulator's renderer do in `jepa-ros demo`). One torch thread, switch interval 0.1 ms, as the
ROS nodes run (`configure_process`).

    python benchmarks/plan_speed.py --checkpoint models/jepa_panda.pt \
        --json benchmarks/plan_speed.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import threading
import time

import numpy as np
import torch

from jepa_ros.configurator import build_actor, DEFAULT_TASK, load_task
from jepa_ros.envs.scene import load_scene
from jepa_ros.limits import JointLimits
from jepa_ros.world_model.checkpoint import load_checkpoint


def busy(stop: threading.Event) -> None:
    """Pure Python work: holds the GIL whenever the interpreter gives it the turn."""
    while not stop.is_set():
        sum(range(100))


def plan_ms(actor, plans: int, busy_threads: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    dim = actor.model.config.latent_dim
    latent, goal = (torch.from_numpy(rng.normal(size=dim).astype(np.float32)) for _ in range(2))
    joints = np.array([0.0, 0.3, -1.8, 2.0])
    actor.act(latent, joints, goal)  # warm up (and trace)
    stop = threading.Event()
    threads = [threading.Thread(target=busy, args=(stop,)) for _ in range(busy_threads)]
    for thread in threads:
        thread.start()
    try:
        times = []
        for _ in range(plans):
            start = time.perf_counter()
            actor.act(latent, joints, goal)
            times.append(1000 * (time.perf_counter() - start))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return {
        'busy_python_threads': busy_threads,
        'plan_ms_p50': round(float(np.percentile(times, 50)), 2),
        'plan_ms_p95': round(float(np.percentile(times, 95)), 2),
        'plan_ms_max': round(float(np.max(times)), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checkpoint', type=Path, required=True)
    parser.add_argument('--task', default=DEFAULT_TASK)
    parser.add_argument('--plans', type=int, default=100)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    sys.setswitchinterval(1e-4)
    torch.set_num_threads(1)
    model, _ = load_checkpoint(args.checkpoint)
    scene = load_scene('panda')
    limits = JointLimits.from_scene(scene)
    task = load_task(args.task)
    runs = []
    for trace in (False, True):
        actor = build_actor(model, scene, limits, task)
        actor.trace = trace
        for busy_threads in (0, 1):
            runs.append({'cost': 'traced' if trace else 'python',
                         **plan_ms(actor, args.plans, busy_threads)})  # fmt: skip
            print(runs[-1], flush=True)
    result = {
        'command': ' '.join(['python'] + sys.argv),
        'task': args.task,
        'plans': args.plans,
        'runs': runs,
    }
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
