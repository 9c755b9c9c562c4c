"""Your own arm's description: forward kinematics for any serial chain (revolute, continuous,
prismatic, fixed; mimic joints held), checked against PyBullet on the Panda, the KUKA iiwa and a
URDF written here; `jepa-ros scene init` from a URDF file or `/robot_description`."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time

import numpy as np
import pybullet
import pybullet_data
import pytest
import torch
import yaml

from jepa_ros.cli.main import main
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.kinematics import ee_position_function, ForwardKinematics
from jepa_ros.envs.scene import load_scene, SceneError
from jepa_ros.envs.scene_init import arm_scene, chain_to
from jepa_ros.envs.urdf import read_urdf
from jepa_ros.graph import graph_config_from_launch, graph_specs
from jepa_ros.limits import JointLimits

DATA = Path(pybullet_data.getDataPath())
PANDA = DATA / 'franka_panda' / 'panda.urdf'
KUKA = DATA / 'kuka_iiwa' / 'model.urdf'


def link(name: str) -> str:
    return (
        f'<link name="{name}"><inertial><mass value="0.5"/><inertia ixx="0.01" ixy="0" '
        f'ixz="0" iyy="0.01" iyz="0" izz="0.01"/></inertial></link>'
    )


def joint(name, kind, parent, child, xyz, rpy='0 0 0', axis='0 0 1', extra=''):
    limit = (
        '<limit lower="-1.2" upper="0.9" effort="10" velocity="1"/>'
        if kind in ('revolute', 'prismatic')
        else ''
    )
    return (
        f'<joint name="{name}" type="{kind}"><parent link="{parent}"/><child link="{child}"/>'
        f'<origin xyz="{xyz}" rpy="{rpy}"/><axis xyz="{axis}"/>{limit}{extra}</joint>'
    )


def write_custom_urdf(path: Path) -> Path:
    """base -(fixed)- mount -(revolute z)- upper -(prismatic, tilted)- slider -(continuous y)-
    wrist -(fixed)- tool; wrist -(prismatic)- finger_a, -(mimic of finger_a)- finger_b."""
    links = ['base', 'mount', 'upper', 'slider', 'wrist', 'tool', 'finger_a', 'finger_b']
    joints = [
        joint('mount_fixed', 'fixed', 'base', 'mount', '0.1 0 0.2', '0 0 0.3'),
        joint('shoulder', 'revolute', 'mount', 'upper', '0 0.05 0.1', '0.2 0 0'),
        joint('extend', 'prismatic', 'upper', 'slider', '0.3 0 0', '0 0.4 0', '0.6 0 0.8'),
        joint('wrist_spin', 'continuous', 'slider', 'wrist', '0 0 0.1', '0 0 -0.5', '0 1 0'),
        joint('tool_fixed', 'fixed', 'wrist', 'tool', '0.05 0.02 0.15', '0.1 0.2 0.3'),
        joint('finger_a_joint', 'prismatic', 'wrist', 'finger_a', '0 0.03 0.1', axis='0 1 0'),
        joint(
            'finger_b_joint',
            'prismatic',
            'wrist',
            'finger_b',
            '0 -0.03 0.1',
            axis='0 -1 0',
            extra='<mimic joint="finger_a_joint" multiplier="1"/>',
        ),
    ]
    path.write_text(
        f'<?xml version="1.0"?><robot name="slide_arm">{"".join(map(link, links))}'
        f'{"".join(joints)}</robot>'
    )
    return path


def pybullet_positions(urdf: Path, values: dict[str, float], links: list[str]) -> np.ndarray:
    """World positions (L, 3) of `links` with joints at `values` (others at 0), by PyBullet."""
    client = pybullet.connect(pybullet.DIRECT)
    try:
        robot = pybullet.loadURDF(str(urdf), useFixedBase=True, physicsClientId=client)
        index = {}
        for i in range(pybullet.getNumJoints(robot, physicsClientId=client)):
            info = pybullet.getJointInfo(robot, i, physicsClientId=client)
            index[info[12].decode()] = i
            pybullet.resetJointState(
                robot, i, values.get(info[1].decode(), 0.0), physicsClientId=client
            )
        return np.array(
            [
                pybullet.getLinkState(
                    robot, index[name], computeForwardKinematics=True, physicsClientId=client
                )[4]
                for name in links
            ]
        )
    finally:
        pybullet.disconnect(client)


@pytest.mark.parametrize(
    'which, controlled, links',
    [
        (
            'panda',
            ['panda_joint1', 'panda_joint2', 'panda_joint4', 'panda_joint6'],
            ['panda_link4', 'panda_hand', 'panda_grasptarget', 'panda_leftfinger'],
        ),
        (
            'kuka',
            [f'lbr_iiwa_joint_{i}' for i in range(1, 8)],
            ['lbr_iiwa_link_3', 'lbr_iiwa_link_7'],
        ),
        (
            'custom',
            ['shoulder', 'extend', 'wrist_spin'],
            ['mount', 'slider', 'wrist', 'tool', 'finger_a', 'finger_b'],
        ),
    ],
)
def test_forward_kinematics_matches_pybullet_on_any_serial_chain(
    tmp_path, which, controlled, links
):
    path = {'panda': PANDA, 'kuka': KUKA}.get(which) or write_custom_urdf(tmp_path / 'c.urdf')
    urdf = read_urdf(path)
    held = {j: 0.25 for j in urdf.movable_joints if j not in controlled}  # e.g. panda_joint3
    if which == 'custom':
        held['finger_b_joint'] = 0.02  # a mimic joint: not movable, held like the others
        assert 'finger_b_joint' not in urdf.movable_joints
        assert 'wrist_spin' in urdf.movable_joints, 'continuous joints are movable'
    kinematics = ForwardKinematics(urdf, controlled, links, held)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(-1.1, 0.85, len(controlled))
        if which == 'custom':  # a continuous joint turns past +-pi
            q[controlled.index('wrist_spin')] = rng.uniform(-6, 6)
        expected = pybullet_positions(path, {**held, **dict(zip(controlled, q))}, links)
        np.testing.assert_allclose(kinematics.numpy(q[None])[0], expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(
            kinematics(torch.from_numpy(q[None]))[0], expected, rtol=0, atol=1e-6
        )


@pytest.mark.parametrize(
    'which, joints, ee, tip',
    [
        ('panda', ['panda_joint4', 'panda_joint1', 'panda_joint2'], '', 'panda_hand'),
        ('kuka', [f'lbr_iiwa_joint_{i}' for i in (7, 1, 2, 3, 4, 5, 6)], '', 'lbr_iiwa_link_7'),
        ('custom', ['wrist_spin', 'shoulder', 'extend'], 'tool', 'tool'),
    ],
)
def test_scene_init_writes_a_physical_scene_from_the_urdf(tmp_path, which, joints, ee, tip):
    path = {'panda': PANDA, 'kuka': KUKA}.get(which) or write_custom_urdf(tmp_path / 'c.urdf')
    out = tmp_path / 'arm' / 'my_arm.yaml'
    scene = arm_scene(path, joints, '/camera/color/image_raw', out, ee_link=ee, size=(64, 48))
    written = yaml.safe_load(out.read_text())
    sim_only = {'floor_urdf', 'lighting', 'link_colors', 'obstacles', 'eye', 'target', 'fov_deg'}
    keys = set(written) | set(written['cameras'][0])
    assert not keys & sim_only, f'simulator-only fields: {keys & sim_only}'
    assert written['cameras'][0] == {
        'name': 'camera',
        'topic': '/camera/color/image_raw',
        'width': 64,
        'height': 48,
    }
    urdf = read_urdf(path)
    assert sorted(joints) == sorted(scene.controlled_joints)
    depths = [len(chain_to(urdf, urdf.joint(j).child)) for j in scene.controlled_joints]
    assert depths == sorted(depths), 'written base first'
    assert scene.ee_link == tip
    for name in scene.controlled_joints:  # ranges are the URDF limits, +-pi if continuous
        assert tuple(scene.sample_ranges[name]) == pytest.approx(urdf.joint(name).bounds)
    if which == 'custom':
        assert scene.sample_ranges['wrist_spin'] == pytest.approx((-np.pi, np.pi))
    # What the rest of the stack takes from it: limits and the gate's end-effector position
    limits = JointLimits.from_scene(scene)
    assert np.all(limits.lower < limits.upper)
    q = np.array([np.mean(scene.sample_ranges[j]) for j in scene.controlled_joints])
    held = {j: v for j, v in scene.home.items() if j not in scene.controlled_joints}
    expected = pybullet_positions(path, {**held, **dict(zip(scene.controlled_joints, q))}, [tip])
    ee_position = ee_position_function(scene, scene.controlled_joints)
    np.testing.assert_allclose(ee_position(q[None]), expected, rtol=0, atol=1e-6)
    with pytest.raises(SceneError, match='physical arm'):
        ArmWorld(scene)


def test_the_scene_camera_topic_is_the_arm_launch_default_and_an_argument_wins(tmp_path):
    out = tmp_path / 'my_arm.yaml'
    arm_scene(KUKA, ['lbr_iiwa_joint_1', 'lbr_iiwa_joint_2'], '/cam/color/image_raw', out)
    values = {'scene': str(out), 'camera_topic': ''}  # not given on the command line
    config = graph_config_from_launch(values, use_sim=False)
    assert config.camera_topic == '/cam/color/image_raw'
    perception = graph_specs(config)[0]
    assert ('camera/image_raw', '/cam/color/image_raw') in perception.remappings
    given = graph_config_from_launch({**values, 'camera_topic': '/other'}, use_sim=False)
    assert given.camera_topic == '/other'
    # A simulated scene has no camera topic: the graph's default
    assert graph_config_from_launch({'scene': 'panda'}, use_sim=False).camera_topic == (
        'camera/image_raw'
    )


def test_scene_init_names_a_joint_typo_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / 'arm.yaml'
    args = [
        'scene',
        'init',
        '--urdf',
        str(PANDA),
        '--joints',
        'panda_joint1',
        'panda_jiont2',
        '--camera-topic',
        '/camera/image_raw',
        '--out',
        str(out),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "joint 'panda_jiont2' is not a movable joint" in err
    assert "did you mean 'panda_joint2'?" in err
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(SceneError, match="link 'panda_hnd' is not in URDF"):
        arm_scene(PANDA, ['panda_joint1'], '/c', out, ee_link='panda_hnd')
    with pytest.raises(SceneError, match='not on the chain'):
        arm_scene(PANDA, ['panda_joint1', 'panda_finger_joint1'], '/c', out, ee_link='panda_link7')


# --- /robot_description (needs rclpy) --------------------------------------------------------
def ros_env(domain: str) -> dict[str, str]:
    return {**os.environ, 'ROS_DOMAIN_ID': domain, 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}


def scene_init_process(tmp_path: Path, env, timeout_s: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            '-m',
            'jepa_ros.cli',
            'scene',
            'init',
            '--urdf-topic',
            '/robot_description',
            '--joints',
            'lbr_iiwa_joint_1',
            'lbr_iiwa_joint_2',
            '--camera-topic',
            '/cam/image_raw',
            '--out',
            str(tmp_path / 'kuka.yaml'),
            '--timeout-s',
            str(timeout_s),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def rclpy_or_skip():
    if os.environ.get('JEPA_ROS_REQUIRE_ROS') != '1':
        pytest.importorskip('rclpy')
    import rclpy

    return rclpy


def test_scene_init_reads_robot_description_or_says_it_never_came(tmp_path, rclpy_or_skip):
    rclpy = rclpy_or_skip
    from std_msgs.msg import String

    from jepa_ros.nodes.common import LATCHED_QOS

    domain = os.environ.get('JEPA_ROS_TEST_DOMAIN_ID', '88')
    env = ros_env(domain)
    never = scene_init_process(tmp_path / 'never', env, 2.0)  # nobody publishes: one line
    out, err = never.communicate(timeout=60)
    assert never.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "no URDF on '/robot_description' within 2 s" in err
    assert not (tmp_path / 'never').exists()
    # robot_state_publisher's convention: latched (transient local), published once
    context = rclpy.Context()
    rclpy.init(args=[], context=context, domain_id=int(domain))
    try:
        node = rclpy.create_node('fake_robot_state_publisher', context=context)
        node.create_publisher(String, '/robot_description', LATCHED_QOS).publish(
            String(data=KUKA.read_text())
        )
        time.sleep(0.5)
        process = scene_init_process(tmp_path, env, 30.0)
        out, err = process.communicate(timeout=60)
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    assert process.returncode == 0, err
    scene = load_scene(tmp_path / 'kuka.yaml')
    assert scene.controlled_joints == ('lbr_iiwa_joint_1', 'lbr_iiwa_joint_2')
    assert scene.urdf().name == read_urdf(KUKA).name
    assert (tmp_path / 'kuka.urdf').read_text() == KUKA.read_text()
