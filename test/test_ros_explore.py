"""Your own arm over ROS, tiny and end to end over DDS: a 32x32 scene's sim_node as the arm,
explore_node through a gate that starts disarmed (exploration pauses, then goes on once armed),
recorder_node writing an MCAP bag, then `jepa-ros import-bag`, a few training steps, and one
`jepa-ros eval --ros` goal and one `jepa-ros calibrate --ros` goal on the graph running that
checkpoint. Each stage must produce what the next one reads. Processes as a launch would start
them. Skipped without rclpy unless JEPA_ROS_REQUIRE_ROS=1."""

from __future__ import annotations

from dataclasses import replace
import json
import os
from pathlib import Path
import signal
import threading

import numpy as np
from rosbags.highlevel import AnyReader

from conftest import import_rclpy_or_skip, write_scene

rclpy = import_rclpy_or_skip()

from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from std_srvs.srv import SetBool, Trigger  # noqa: E402
from test_ros_graph import Probe  # noqa: E402
from test_training import jepa_ros  # noqa: E402

from jepa_ros.data.bag_import import import_bag  # noqa: E402
from jepa_ros.data.dataset import ExplorationDataset  # noqa: E402
from jepa_ros.envs.scene import load_scene  # noqa: E402
from jepa_ros.graph import explore_specs, graph_specs, GraphConfig  # noqa: E402
from jepa_ros.processes import NodeProcesses  # noqa: E402

DOMAIN = os.environ.get('JEPA_ROS_TEST_DOMAIN_ID', '88')
EPISODES, STEPS = 2, 12


def test_explore_record_import_train_over_dds(tmp_path):
    scene_file = write_scene(tmp_path / 'tiny.yaml')
    scene = load_scene(scene_file)
    bag = tmp_path / 'bag'
    config = GraphConfig(
        scene=str(scene_file), control_rate_hz=12.0, camera_rate_hz=12.0, require_arming=True
    )
    os.environ['ROS_DOMAIN_ID'] = DOMAIN
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env = {'ROS_DOMAIN_ID': DOMAIN, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    processes = NodeProcesses(explore_specs(config, str(bag), EPISODES, STEPS), tmp_path, env)
    rclpy.init(args=[])
    probe = Probe()
    arm = probe.create_client(SetBool, 'jepa/arm')
    cancel = probe.create_client(Trigger, 'jepa/cancel')
    executor = MultiThreadedExecutor()
    executor.add_node(probe)
    threading.Thread(target=executor.spin, daemon=True).start()
    try:
        # Disarmed at start: the explorer waits, nothing moves
        probe.wait_for(
            lambda: probe.status_of('explore_node', 'paused: the gate is not armed'),
            60,
            'exploration paused while disarmed',
        )
        probe.wait_for(
            lambda: probe.status_of('recorder_node', 'recording all 5 topics'),
            60,
            'the recorder matched every publisher',
        )
        assert probe.call(arm, SetBool.Request(data=True), 'jepa/arm').success
        probe.wait_for(
            lambda: probe.status_of('explore_node', 'exploration done'),
            120,
            f'{EPISODES} episodes explored',
        )
        assert probe.status_of('explore_node', 'resumed')
        reply = probe.call(cancel, Trigger.Request(), 'jepa/cancel')
        assert reply.success and reply.message == 'exploration was over'
        # The recorder closes the bag on SIGINT, as on a launch's shutdown
        code, _ = processes.interrupt('recorder_node', signal.SIGINT)
        assert code == 0, processes.log('recorder_node')[-2000:]
    finally:
        processes.stop_all()
        executor.shutdown()
        probe.destroy_node()
        rclpy.shutdown()
    # The bag: MCAP, every topic, the gated commands and the two episode starts
    assert (bag / 'metadata.yaml').is_file() and list(bag.glob('*.mcap'))
    with AnyReader([bag]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        episodes = [
            reader.deserialize(raw, c.msgtype).data
            for c, _, raw in reader.messages(
                [c for c in reader.connections if c.topic == '/jepa/episode']
            )
        ]
    for topic in ('/camera/image_raw', '/camera/camera_info', '/joint_states'):
        assert counts[topic] >= EPISODES * STEPS, counts
    assert counts['/joint_trajectory_controller/joint_trajectory'] >= EPISODES * STEPS, counts
    assert episodes == [0, 1]
    # Import: episodes split at the counter, rows inside the scene's ranges
    meta = import_bag(bag, scene, tmp_path / 'data')
    data = ExplorationDataset(tmp_path / 'data')
    assert meta['import']['kept'] > 0.8 * EPISODES * STEPS, meta['import']
    assert data.episodes >= EPISODES and data.get('images').shape[2:] == (32, 32, 3)
    joints = data.get('joints')
    ranges = np.array([scene.sample_ranges[n] for n in scene.controlled_joints])
    assert np.all(joints >= ranges[:, 0] - 1e-3) and np.all(joints <= ranges[:, 1] + 1e-3)
    # One command's step per frame; a frame the camera or the recorder skipped under load makes
    # one row span two commands, so a few rows may be larger, never most of them
    over = (np.abs(data.get('actions')) > scene.max_step_rad + 0.02).any(axis=1)  # (N,)
    assert over.mean() <= 0.05, f'one step per frame: {over.sum()} of {over.size} rows larger'
    # Train: a few steps on the imported data
    run = tmp_path / 'run'
    result = jepa_ros(
        'train',
        '--data',
        str(tmp_path / 'data'),
        '--out',
        str(run),
        '--scene',
        str(scene_file),
        '--encoder-steps',
        '3',
        '--predictor-steps',
        '2',
        '--batch-size',
        '8',
        '--latent-dim',
        '16',
        '--rollout-steps',
        '2',
    )
    assert result.returncode == 0, result.stderr
    assert (run / 'model.pt').is_file()
    # Eval on the live graph (the world model nodes with that checkpoint; the gate disarmed
    # until the client arms it): one goal frame of the imported data
    graph = graph_specs(replace(config, checkpoint=str(run / 'model.pt')))
    processes = NodeProcesses(graph, tmp_path / 'graph', env)
    try:
        ros = ['--ros', '--goals', str(tmp_path / 'data'), '--scene', str(scene_file)]
        result = jepa_ros('eval', *ros, '--episodes', '1', '--budget', '5', '--arm',
                          '--json', str(tmp_path / 'eval.json'))  # fmt: skip
        calibration = jepa_ros('calibrate', *ros, '--episodes', '1', '--budget', '4',
                               '--json', str(tmp_path / 'calibrate.json'))  # fmt: skip
        # After the run: only sim_node loads the simulated world (the gate may use pybullet
        # as its collision library), nothing else loads it at all
        loaded = {
            name: 'pybullet' in Path(f'/proc/{p.pid}/maps').read_text()
            for name, p in processes.running.items()
        }
    finally:
        processes.stop_all()
    assert calibration.returncode == 0, calibration.stderr[-3000:]
    calibrated = json.loads((tmp_path / 'calibrate.json').read_text())
    assert calibrated['mode'] == 'ros' and calibrated['episodes'] == 1
    assert calibrated['success_energy'] > 0 and (tmp_path / 'calibrate.png').is_file()
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / 'eval.json').read_text())
    assert report['mode'] == 'ros' and report['episodes'] == 1
    assert report['simulator_loaded'] is False and calibrated['simulator_loaded'] is False
    assert loaded['sim_node'] and not any(
        v for name, v in loaded.items() if name not in ('sim_node', 'guardrail_node')
    ), loaded
    assert 0.0 <= report['median_final_distance_m'] < 2.0
    assert (tmp_path / 'eval.png').is_file()
