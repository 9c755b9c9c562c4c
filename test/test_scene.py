"""Scene files: the shipped one loads, and every kind of bad input gives a one-line SceneError."""

from __future__ import annotations

import pytest
import yaml

from conftest import write_scene
from jepa_ros.envs.scene import load_scene, resolve_scene_path, scene_from_dict, SceneError


def test_shipped_scene_loads_and_names_urdf_joints():
    scene = load_scene('panda')
    assert scene.action_dim == len(scene.controlled_joints) == 4
    assert len(scene.cameras) == 1, 'the shipped default is one camera'
    assert scene.ee_link in scene.urdf().links


def test_to_dict_round_trips():
    scene = load_scene('panda')
    assert scene_from_dict(scene.to_dict(), scene.base_dir) == scene


def _camera(**kw):
    camera = yaml.safe_load(resolve_scene_path('panda').read_text())['cameras'][0]
    return [{**camera, **kw}]


@pytest.mark.parametrize(
    'overrides, message',
    [
        ({'cameras': _camera(width=0)}, 'width must be a positive integer'),
        ({'cameras': _camera(height=-4)}, 'height must be a positive integer'),
        ({'cameras': []}, 'at least one camera'),
        ({'controlled_joints': ['panda_joint1', 'elbow']}, 'sample_ranges must name exactly'),
        ({'home': {'not_a_joint': 0.0}}, "joint 'not_a_joint' is not a movable joint"),
        ({'ee_link': 'gripper_tip'}, "link 'gripper_tip' is not in"),
        ({'max_step_rad': 0.0}, 'max_step_rad must be in'),
        ({'colour': 'red'}, "unknown scene keys ['colour']"),
        ({'robot_urdf': 'missing/robot.urdf'}, 'URDF not found'),
        (
            {
                'sample_ranges': {
                    'panda_joint1': [-9, 9],
                    'panda_joint2': [0, 1],
                    'panda_joint4': [-2, -1],
                    'panda_joint6': [1, 2],
                }
            },
            'leaves the URDF limits',
        ),
    ],
)
def test_bad_scene_is_refused_with_reason(tmp_path, overrides, message):
    path = write_scene(tmp_path / 'bad.yaml', **overrides)
    with pytest.raises(SceneError) as error:
        load_scene(path)
    assert message in str(error.value)
    assert str(path) in str(error.value), 'the error names the file'
    assert '\n' not in str(error.value)


def test_unknown_joint_names_list_the_urdf_joints(tmp_path):
    ranges = {'panda_joint1': [0, 1], 'wrist_3_joint': [0, 1]}
    path = write_scene(tmp_path / 'bad.yaml', controlled_joints=list(ranges), sample_ranges=ranges)
    with pytest.raises(SceneError, match="'wrist_3_joint' is not a movable joint.*panda_joint7"):
        load_scene(path)


def test_missing_key_is_named(tmp_path):
    path = write_scene(tmp_path / 'bad.yaml')
    data = yaml.safe_load(path.read_text())
    del data['ee_link']
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SceneError, match='ee_link'):
        load_scene(path)


def test_malformed_yaml(tmp_path):
    path = tmp_path / 'broken.yaml'
    path.write_text('name: [unclosed\n')
    with pytest.raises(SceneError, match='malformed YAML'):
        load_scene(path)


@pytest.mark.parametrize('scene', ['no_such_scene', 'missing/dir/scene.yaml'])
def test_unknown_scene(scene):
    with pytest.raises(SceneError, match='scene'):
        load_scene(scene)
