"""The "your own arm" workflow on a stand-in physical arm: the KUKA iiwa of `sim/kuka_iiwa.yaml`
behind `sim_node`, treated as a black box (every other process talks to it over topics and
services; none of them loads the simulated world).

Stages (each skipped when its output exists, so an interrupted run goes on where it stopped):
1. explore over ROS -> MCAP bags: the exploration graph of `explore.launch.py use_sim:=true`
   (sim_node, guardrail, explore_node, recorder_node) as processes, for the training bags
   (seeds 0, 2, 3, ...: --train-bags sessions of --episodes) and a held-out bag (seed 1);
2. `jepa-ros import-bag` of the training bags together, and of the held-out one;
3. `jepa-ros train` on the training data;
4. `jepa-ros calibrate --ros` on the reaching graph (the arm's graph + sim_node, the gate
   requiring arming, as on hardware), held-out frames, seed 2000;
5. `jepa-ros eval --ros` on the same graph running the calibrated task, held-out frames, seed
   1000 (disjoint pairs are not guaranteed, the seeds differ), and each of --more-eval-seeds
   (a fresh graph each);
6. the simulator's own `jepa-ros eval --scene kuka_iiwa` with the checkpoint (jepa and the
   joint-space oracle).
Writes the time of every stage and the results to --json.

    python benchmarks/kuka_standin.py --out runs/kuka --json benchmarks/kuka_standin.json
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

from jepa_ros.configurator import load_task, TaskError

TASK = 'reach_kuka'


def jepa_ros(*args: str) -> None:
    print('$ jepa-ros', ' '.join(args), flush=True)
    subprocess.run([sys.executable, '-m', 'jepa_ros.cli', *args], check=True)


def explore(out: Path, bag: Path, episodes: int, seed: int, rate: float) -> None:
    """Run the exploration graph until `episodes` are explored; the recorder closes the bag."""
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from jepa_ros.graph import explore_specs, GraphConfig
    from jepa_ros.nodes.common import STATUS_TOPIC
    from jepa_ros.processes import NodeProcesses

    # Faster than real time (sim_node may: nothing else knows it is a simulation): the gate's
    # velocity limit scales with the rate, so a command may still move the scene's step limit
    speedup = rate / GraphConfig.control_rate_hz
    config = GraphConfig(scene='kuka_iiwa', control_rate_hz=rate, camera_rate_hz=rate,
                         guardrail_parameters={'max_velocity_rad_s': 1.5 * speedup})  # fmt: skip
    processes = NodeProcesses(
        explore_specs(config, str(bag), episodes, 50, seed), out / f'logs_{bag.name}', {}
    )
    rclpy.init(args=[])
    watcher = rclpy.create_node('kuka_standin_watcher')
    done = threading.Event()

    def on_status(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.endswith('explore_node'):
                if 'exploration done' in status.message:
                    done.set()
                elif status.message in ('exploring', 'returning'):
                    values = {kv.key: kv.value for kv in status.values}
                    print(
                        f'\r{bag.name}: episode {values.get("episode")}/{episodes}',
                        end='',
                        flush=True,
                    )

    watcher.create_subscription(DiagnosticArray, STATUS_TOPIC, on_status, 100)
    executor = SingleThreadedExecutor()
    executor.add_node(watcher)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        while not done.wait(2.0):
            if any(p.poll() is not None for p in processes.running.values()):
                raise RuntimeError(f'a node died: see {out}/logs_{bag.name}')
        print()
        code, _ = processes.interrupt('recorder_node', signal.SIGINT, timeout_s=60)
        if code != 0:
            raise RuntimeError(f'recorder_node exited with {code}')
    finally:
        processes.stop_all()
        executor.shutdown()
        watcher.destroy_node()
        rclpy.shutdown()


@contextmanager
def reaching_graph(out: Path, checkpoint: Path, task: str, name: str):
    """The reaching graph on the stand-in arm, as processes (the gate requires arming)."""
    from jepa_ros.graph import graph_specs, GraphConfig
    from jepa_ros.processes import NodeProcesses

    config = GraphConfig(
        scene='kuka_iiwa', checkpoint=str(checkpoint), task=task, require_arming=True
    )
    processes = NodeProcesses(graph_specs(config), out / f'logs_{name}', {})
    try:
        time.sleep(15.0)  # the models load
        yield processes
    finally:
        processes.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, required=True, help='working folder')
    parser.add_argument('--json', type=Path, required=True)
    parser.add_argument('--episodes', type=int, default=400, help='episodes per training bag')
    parser.add_argument(
        '--train-bags', type=int, default=1, help='exploration sessions, imported together'
    )
    parser.add_argument('--heldout-episodes', type=int, default=40)
    parser.add_argument('--rate', type=float, default=30.0, help='exploration commands/s')
    parser.add_argument('--goals', type=int, default=30, help='ROS-mode eval pairs')
    parser.add_argument(
        '--more-eval-seeds', type=int, nargs='*', default=[],
        help='further ROS-mode evals on other draws of the held-out pairs (eval_ros_seedS)',
    )  # fmt: skip
    parser.add_argument('--sim-pairs', type=int, default=50, help="the simulator's eval pairs")
    parser.add_argument('--train-args', default='', help='extra `jepa-ros train` arguments')
    parser.add_argument(
        '--until',
        choices=['calibrate_ros'],
        help='stop after this stage (then set the task from its JSON)',
    )
    args = parser.parse_args()
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    report = json.loads(args.json.read_text()) if args.json.is_file() else {}
    seconds = report.setdefault('seconds', {})

    @contextmanager
    def stage(name: str):
        print(f'== {name}', flush=True)
        start = time.monotonic()
        yield
        seconds[name] = round(time.monotonic() - start, 1)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + '\n')

    # Training bags: bag_train (seed 0), bag_train_1 (seed 2), ...; the held-out one: seed 1
    train_bags = [('train' if k == 0 else f'train_{k}', k + 1 if k else 0)
                  for k in range(args.train_bags)]  # fmt: skip
    for name, episodes, seed in (
        *((name, args.episodes, seed) for name, seed in train_bags),
        ('heldout', args.heldout_episodes, 1),
    ):
        bag = out / f'bag_{name}'
        if not (bag / 'metadata.yaml').is_file():
            with stage(f'explore_{name}'):
                explore(out, bag, episodes, seed, args.rate)
    datasets = {'train': [f'bag_{n}' for n, _ in train_bags], 'heldout': ['bag_heldout']}
    for name, bags in datasets.items():
        data = out / f'data_{name}'
        if not (data / 'meta.json').is_file():
            with stage(f'import_{name}'):
                jepa_ros('import-bag', *(str(out / b) for b in bags), '--scene', 'kuka_iiwa',
                         '--out', str(data))  # fmt: skip
    model = out / 'run' / 'model.pt'
    if not (out / 'run' / 'DONE').is_file():
        with stage('train'):
            jepa_ros(
                'train',
                '--data',
                str(out / 'data_train'),
                '--scene',
                'kuka_iiwa',
                '--out',
                str(out / 'run'),
                *args.train_args.split(),
            )
            (out / 'run' / 'DONE').write_text('')
    ros = ['--ros', '--arm', '--goals', str(out / 'data_heldout'), '--scene', 'kuka_iiwa']
    calibration = out / 'calibrate_ros.json'
    if not calibration.is_file():
        with stage('calibrate_ros'), reaching_graph(out, model, 'reach_light', 'calibrate'):
            jepa_ros('calibrate', *ros, '--episodes', '30', '--seed', '2000', '--task',
                     'reach_light', '--json', str(calibration))  # fmt: skip
    if args.until == 'calibrate_ros':
        print(f'calibrated: {calibration}')
        return 0
    try:
        load_task(TASK)
    except TaskError:
        print(f'calibrated ({calibration}): add the task {TASK!r} with its monitor to '
              'config/tasks.yaml, then run this again')  # fmt: skip
        return 1
    evaluations = {'eval_ros': 1000, **{f'eval_ros_seed{s}': s for s in args.more_eval_seeds}}
    for name, seed in evaluations.items():
        if not (out / f'{name}.json').is_file():
            with stage(name), reaching_graph(out, model, TASK, name):
                jepa_ros('eval', *ros, '--episodes', str(args.goals), '--seed', str(seed),
                         '--json', str(out / f'{name}.json'))  # fmt: skip
    simulated = out / 'eval_sim.json'
    if not simulated.is_file():
        with stage('eval_sim'):
            jepa_ros('eval', '--checkpoint', str(model), '--scene', 'kuka_iiwa', '--task', TASK,
                     '--episodes', str(args.sim_pairs), '--policies', 'jepa', 'oracle',
                     '--json', str(simulated))  # fmt: skip
    for name in ('calibrate_ros', *evaluations, 'eval_sim'):
        data = json.loads((out / f'{name}.json').read_text())
        report[name] = {k: v for k, v in data.items() if k != 'table'}
    args.json.write_text(json.dumps(report, indent=2) + '\n')
    print(json.dumps({k: report.get(k) for k in ('seconds', 'eval_ros')}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
