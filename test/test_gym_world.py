"""A gymnasium environment as a world: the proprio selectors, the environments refused (with
why), and `collect --env gymnasium:ID` with the same shards, determinism and resume as the arm's.
Uses the small environments of gym_test_envs.py (registered the "module:EnvId" way a third
party does) and, when MuJoCo is installed, Reacher-v5."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

gymnasium = pytest.importorskip('gymnasium')

from jepa_ros.cli.main import main  # noqa: E402
from jepa_ros.data.collect import collect, CollectConfig  # noqa: E402
from jepa_ros.data.dataset import DatasetError, ExplorationDataset  # noqa: E402
from jepa_ros.data.exploration import ExplorationConfig  # noqa: E402
from jepa_ros.envs.gym_world import (  # noqa: E402
    GymWorld,
    GymWorldConfig,
    GymWorldError,
    ProprioSelector,
)

POINT = 'gymnasium:gym_test_envs:JepaPoint-v0'


def test_proprio_selectors_take_obs_dict_keys_slices_and_info():
    observation = {'position': np.array([0.1, 0.2]), 'velocity': np.array([0.3, 0.4])}
    info = {'sensed': np.array([1.0, 2.0, 3.0])}
    assert ProprioSelector('obs.position')(observation, info).tolist() == [0.1, 0.2]
    assert ProprioSelector('obs.velocity[1:]')(observation, info).tolist() == [0.4]
    assert ProprioSelector('info.sensed[0:2]')(observation, info).tolist() == [1.0, 2.0]
    assert ProprioSelector('obs[-2:]')(np.arange(5.0), {}).tolist() == [3.0, 4.0]
    assert ProprioSelector('obs')(np.ones((2, 2)), {}).shape == (4,)
    with pytest.raises(GymWorldError, match="has no key 'nope' \\(its keys: \\['position'"):
        ProprioSelector('obs.nope')(observation, info)
    with pytest.raises(GymWorldError, match='the observation is a Dict'):
        ProprioSelector('obs')(observation, info)
    with pytest.raises(GymWorldError, match='name a key of info'):
        ProprioSelector('info')
    with pytest.raises(GymWorldError, match='write obs, obs\\[a:b\\]'):
        ProprioSelector('joints')
    with pytest.raises(GymWorldError, match='empty'):
        ProprioSelector('obs[5:]')(np.arange(3.0), {})


@pytest.mark.parametrize(
    'env, proprio, message',
    [
        ('gym_test_envs:JepaDiscretePoint-v0', 'obs.position', 'Discrete action space'),
        ('gym_test_envs:JepaUnseenPoint-v0', 'obs.position', 'cannot render rgb_array'),
        ('NoSuchEnv-v9', 'obs', "cannot make gymnasium env 'NoSuchEnv-v9'"),
        ('gym_test_envs:JepaPoint-v0', 'info.missing', "info has no key 'missing'"),
    ],
)
def test_an_environment_jepa_ros_cannot_use_is_one_line_and_writes_nothing(
    env, proprio, message, tmp_path, capsys
):
    with pytest.raises(GymWorldError, match=message):
        GymWorld(GymWorldConfig(env, proprio))
    out = tmp_path / 'data'
    code = main(['collect', '--env', f'gymnasium:{env}', '--proprio', proprio, '--episodes',
                 '2', '--out', str(out)])  # fmt: skip
    error = capsys.readouterr().err.strip()
    assert code != 0 and message in error and len(error.splitlines()) == 1, error
    assert not out.exists(), 'nothing written'


def test_collect_from_a_third_party_env_is_deterministic_and_resumes(tmp_path):
    world = GymWorldConfig(POINT, 'obs.position', width=16, height=12)
    config = CollectConfig(episodes=4, seed=3, shard_episodes=2, workers=1,
                           exploration=ExplorationConfig(steps_per_episode=10))  # fmt: skip
    meta = collect(world, config, tmp_path / 'a')
    data = ExplorationDataset(tmp_path / 'a')
    # The env's time limit (6 steps) ends each episode: 7 frames each
    assert meta['frames'] == len(data) == 4 * 7 and data.episodes == 4
    assert data.world['env'] == 'gym_test_envs:JepaPoint-v0' and meta['joint_names'] == [
        'proprio_0',
        'proprio_1',
    ]
    images, joints, actions = data.get('images'), data.get('joints'), data.get('actions')
    assert images.shape == (28, 1, 12, 16, 3) and joints.shape == (28, 2)
    assert np.all(np.abs(actions) <= 0.2 + 1e-6) and np.abs(actions).max() > 0.05
    step = data.get('step')
    inside = step[1:] > 0  # transitions within an episode: the proprio follows the actions
    expected = np.clip(joints[:-1] + actions[:-1], -1, 1)[inside]
    np.testing.assert_allclose(joints[1:][inside], expected, atol=1e-6)
    assert np.all(actions[step == 6] == 0), 'no action on an episode end'
    with pytest.raises(DatasetError, match='gymnasium env'):
        data.scene  # noqa: B018
    # Other workers, same data; an interrupted run resumes to the same bytes
    collect(world, CollectConfig(episodes=4, seed=3, shard_episodes=2, workers=2,
                                 exploration=config.exploration), tmp_path / 'b')  # fmt: skip
    shard = tmp_path / 'a' / 'shards' / 'shard_00001'
    first = (shard / 'images.npy').read_bytes()
    shutil.rmtree(shard)
    (tmp_path / 'a' / 'meta.json').unlink()
    collect(world, config, tmp_path / 'a')
    assert (shard / 'images.npy').read_bytes() == first
    for name in ('images', 'joints', 'actions', 'episode', 'step'):
        b = ExplorationDataset(tmp_path / 'b').get(name)
        np.testing.assert_array_equal(ExplorationDataset(tmp_path / 'a').get(name), b)
    reseeded = CollectConfig(episodes=4, seed=4, shard_episodes=2, workers=1,
                             exploration=config.exploration)  # fmt: skip
    assert collect(world, reseeded, tmp_path / 'c')['spec']['seed'] == 4
    assert not np.array_equal(ExplorationDataset(tmp_path / 'c').get('joints'), joints)


def test_action_scale_shrinks_each_episodes_random_actions_around_the_centre(tmp_path):
    """--action-scale: (1, 1) is the same data as ever; a fixed scale multiplies the same random
    draws; a range gives each episode its own scale within it; a bad range is refused."""
    world = GymWorldConfig(POINT, 'obs.position', width=16, height=12)

    def actions(scale: tuple[float, float], out: str) -> np.ndarray:
        exploration = ExplorationConfig(steps_per_episode=6, action_scale=scale)
        collect(world, CollectConfig(episodes=6, seed=5, workers=1, exploration=exploration),
                tmp_path / out)  # fmt: skip
        data = ExplorationDataset(tmp_path / out)
        return data.get('actions').reshape(6, 7, 2)[:, :-1]  # (episodes, steps, A)

    full = actions((1.0, 1.0), 'full')
    spec = ExplorationDataset(tmp_path / 'full').meta['spec']['exploration']
    assert 'action_scale' not in spec, 'the default leaves specs as before: old datasets resume'
    np.testing.assert_allclose(actions((0.25, 0.25), 'quarter'), 0.25 * full, atol=1e-6)
    ranged = actions((0.1, 1.0), 'ranged')
    ratio = np.abs(ranged).max(axis=(1, 2)) / np.abs(full).max(axis=(1, 2))  # per episode
    np.testing.assert_allclose(ranged, ratio[:, None, None] * full, atol=1e-5)
    assert np.all((ratio >= 0.1 - 1e-6) & (ratio <= 1.0 + 1e-6)) and np.ptp(ratio) > 0.1
    for bad in [(0.0, 1.0), (0.5, 0.2), (0.5, 1.5)]:
        with pytest.raises(ValueError, match='action_scale'):
            ExplorationConfig(action_scale=bad)


def test_reacher_from_pixels_with_a_top_down_camera(tmp_path, capsys):
    pytest.importorskip('mujoco')
    camera = '{"default_camera_config": {"distance": 0.6, "elevation": -90.0, "azimuth": 90.0}}'
    code = main(['collect', '--env', 'gymnasium:Reacher-v5', '--proprio', 'obs[0:4]',
                 '--env-kwargs', camera, '--size', '32', '32', '--episodes', '2', '--steps',
                 '3', '--workers', '1', '--out', str(tmp_path / 'reacher')])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    data = ExplorationDataset(tmp_path / 'reacher')
    assert data.get('images').shape == (8, 1, 32, 32, 3) and data.get('joints').shape == (8, 4)
    cos, sin = data.get('joints')[:, :2], data.get('joints')[:, 2:]
    np.testing.assert_allclose(cos**2 + sin**2, 1.0, atol=1e-5)  # cos and sin of the joints
    images = data.get('images').astype(int)
    assert np.abs(images[1:] - images[:-1]).max() > 30, 'the arm moves in the picture'
    assert (tmp_path / 'reacher' / 'contact_sheet.png').stat().st_size > 500


def test_stacked_frames_show_the_last_k_frames_oldest_first(tmp_path):
    world = GymWorldConfig(POINT, 'obs.position', width=16, height=16, stack=3)
    config = CollectConfig(episodes=2, seed=0, workers=1,
                           exploration=ExplorationConfig(steps_per_episode=5))  # fmt: skip
    meta = collect(world, config, tmp_path / 'data')
    data = ExplorationDataset(tmp_path / 'data')
    images, step = data.get('images'), data.get('step')
    assert images.shape[1:] == (3, 16, 16, 3) and meta['image_shape'] == [3, 16, 16, 3]
    np.testing.assert_allclose(meta['action_bounds'], [[-0.2, -0.2], [0.2, 0.2]], rtol=1e-6)
    first = step == 0
    assert np.all(images[first, 0] == images[first, 2]), 'after a reset: the first frame, thrice'
    later = np.flatnonzero(step > 0)
    np.testing.assert_array_equal(images[later, :2], images[later - 1, 1:])
    assert np.any(images[later, 2] != images[later, 1]), 'the newest frame is new'


def test_the_arm_and_a_gymnasium_env_are_both_worlds(tiny_scene):
    from jepa_ros.envs.arm_world import ArmWorld
    from jepa_ros.envs.world import Sensed, World

    with ArmWorld(tiny_scene) as arm, GymWorld(GymWorldConfig(POINT, 'obs.position')) as point:
        for world in (arm, point):
            assert isinstance(world, World)
            now = world.reset(seed=0)
            assert isinstance(now, Sensed) and now.images.dtype == np.uint8
            later, applied = world.step(world.action_high * 2)
            np.testing.assert_allclose(applied, world.action_high, rtol=1e-6)  # clipped
            assert not np.allclose(later.proprio, now.proprio)
        np.testing.assert_allclose(arm.action_high, tiny_scene.max_step_rad)
        assert set(arm.describe()) == {'scene'} and set(point.describe()) == {'world'}
