"""Datasets: collection round trip, determinism across workers, resume, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jepa_ros.data.collect import collect, CollectConfig, CollectError
from jepa_ros.data.dataset import ARRAY_DTYPES, DatasetError, ExplorationDataset, write_shard
from jepa_ros.data.exploration import ExplorationConfig

STEPS = 6


def _config(episodes=5, workers=1, seed=0, shard_episodes=2):
    return CollectConfig(
        episodes=episodes,
        seed=seed,
        shard_episodes=shard_episodes,
        workers=workers,
        exploration=ExplorationConfig(steps_per_episode=STEPS),
    )


@pytest.fixture
def dataset_dir(tiny_scene, tmp_path) -> Path:
    collect(tiny_scene, _config(), tmp_path / 'data')
    return tmp_path / 'data'


def test_round_trip(dataset_dir, tiny_scene):
    data = ExplorationDataset(dataset_dir)
    frames = 5 * (STEPS + 1)
    assert len(data) == data.meta['frames'] == frames
    assert data.episodes == data.meta['episodes'] == 5
    assert data.scene == tiny_scene.to_dict()
    assert len(data.meta['shards']) == 3
    for name, dtype in ARRAY_DTYPES.items():
        assert data.get(name).dtype == dtype and len(data.get(name)) == frames
    assert data.get('images').shape == (frames, 1, 32, 32, 3)
    episode, step = data.get('episode'), data.get('step')
    np.testing.assert_array_equal(episode, np.repeat(np.arange(5), STEPS + 1))
    np.testing.assert_array_equal(step, np.tile(np.arange(STEPS + 1), 5))
    # Gathering across shards, in any order, equals slicing the whole
    picks = np.array([33, 0, 14, 15, 7, 7])
    np.testing.assert_array_equal(data.get('images', picks), data.get('images')[picks])
    # actions[t] is the joint change from frame t to t+1 within an episode
    starts = data.transition_starts(1)
    joints, actions = data.get('joints'), data.get('actions')
    np.testing.assert_allclose(joints[starts + 1] - joints[starts], actions[starts], atol=1e-5)
    assert len(starts) == 5 * STEPS
    assert np.all(actions[step == STEPS] == 0), 'no action after the last frame'


def test_transition_starts_never_cross_episodes(dataset_dir):
    data = ExplorationDataset(dataset_dir)
    episode = data.get('episode')
    for horizon in (1, 3, STEPS):
        starts = data.transition_starts(horizon)
        assert np.all(episode[starts] == episode[starts + horizon])
        assert len(starts) == 5 * (STEPS + 1 - horizon)


def test_workers_do_not_change_the_data(tiny_scene, tmp_path, dataset_dir):
    collect(tiny_scene, _config(workers=2, shard_episodes=3), tmp_path / 'parallel')
    one, two = ExplorationDataset(dataset_dir), ExplorationDataset(tmp_path / 'parallel')
    for name in ARRAY_DTYPES:
        np.testing.assert_array_equal(one.get(name), two.get(name), err_msg=name)


def test_truncated_shard_is_a_clear_error(dataset_dir):
    images = dataset_dir / 'shards' / 'shard_00001' / 'images.npy'
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(DatasetError, match='shard_00001/images.npy is truncated'):
        ExplorationDataset(dataset_dir)


def test_shard_with_wrong_rows_is_a_clear_error(dataset_dir):
    folder = dataset_dir / 'shards' / 'shard_00000'
    np.save(folder / 'step.npy', np.zeros(3, dtype=np.int32))
    with pytest.raises(DatasetError, match='holds 3 rows'):
        ExplorationDataset(dataset_dir)


def test_interrupted_collection_is_refused_then_resumed(tiny_scene, dataset_dir):
    complete = ExplorationDataset(dataset_dir).get('images')
    # Simulate a kill: meta.json not yet written, one shard never renamed into place
    (dataset_dir / 'meta.json').unlink()
    shard = dataset_dir / 'shards' / 'shard_00002'
    shard.rename(dataset_dir / 'shards' / '.shard_00002.999.tmp')
    with pytest.raises(DatasetError, match='incomplete dataset'):
        ExplorationDataset(dataset_dir)
    collect(tiny_scene, _config(), dataset_dir)
    np.testing.assert_array_equal(ExplorationDataset(dataset_dir).get('images'), complete)
    assert not list((dataset_dir / 'shards').glob('.*')), 'leftover temporaries removed'


def test_another_dataset_in_the_folder_is_refused(tiny_scene, dataset_dir):
    before = sorted(p.name for p in dataset_dir.rglob('*'))
    with pytest.raises(CollectError, match='different dataset.*seed'):
        collect(tiny_scene, _config(seed=1), dataset_dir)
    assert sorted(p.name for p in dataset_dir.rglob('*')) == before, 'nothing written'


def test_foreign_folder_is_refused(tiny_scene, tmp_path):
    folder = tmp_path / 'mine'
    folder.mkdir()
    (folder / 'notes.txt').write_text('mine')
    with pytest.raises(CollectError, match='not empty'):
        collect(tiny_scene, _config(), folder)
    assert [p.name for p in folder.iterdir()] == ['notes.txt']


def test_missing_dataset_and_other_format(tmp_path, dataset_dir):
    with pytest.raises(DatasetError, match='not found'):
        ExplorationDataset(tmp_path / 'nothing')
    meta = dataset_dir / 'meta.json'
    meta.write_text(meta.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(DatasetError, match='format 99'):
        ExplorationDataset(dataset_dir)


def test_write_shard_refuses_incomplete_arrays(tmp_path):
    with pytest.raises(ValueError, match='shard arrays'):
        write_shard(tmp_path, 0, {'images': np.zeros((1, 1, 2, 2, 3), np.uint8)})
