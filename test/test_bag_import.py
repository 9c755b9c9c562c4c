"""`jepa-ros import-bag`: rosbag2 bags the test writes itself (with `rosbags`, MCAP and sqlite3),
with known stamps, dropped frames, a gap, bgr8 and compressed images and a joint missing from
some messages, become exactly the dataset rows expected; bad bags get a one-line error and leave
nothing written. ROS-free."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_typestore, Stores

from jepa_ros.cli.main import main
from jepa_ros.data.bag_import import BagImportConfig, import_bag
from jepa_ros.data.collect import CollectError
from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.envs.scene import load_scene

TYPES = get_typestore(Stores.LATEST)
SCENE = load_scene('panda')  # controlled: panda_joint1, 2, 4, 6; camera 96 x 96
NAMES = list(SCENE.controlled_joints)
SIZE = 96
MS = 1_000_000  # ns


def header(t_ns: int, frame: str = 'base'):
    stamp = TYPES.types['builtin_interfaces/msg/Time'](sec=t_ns // 10**9, nanosec=t_ns % 10**9)
    return TYPES.types['std_msgs/msg/Header'](stamp=stamp, frame_id=frame)


def joints_at(t_ns: int) -> np.ndarray:
    """The arm's (made-up) controlled joints at time t: (A,)."""
    t = t_ns / 1e9
    return np.array([0.3 * np.sin(t), 0.2 + 0.1 * t, -1.8 + 0.05 * t, 2.0 - 0.1 * np.cos(t)])


def colour(i: int) -> tuple[int, int, int]:
    return (7 * i) % 256, 100, (255 - 3 * i) % 256  # RGB of frame i


def write_msg(writer, connection, t_ns, msg):
    writer.write(connection, t_ns, TYPES.serialize_cdr(msg, connection.msgtype))


def write_bag(path, storage=StoragePlugin.MCAP, image='bgr8', joint_names=None, episodes=(),
              window=(0, 10**12)):  # fmt: skip
    """Joint states every 10 ms over 1.0-3.0 s (panda_joint4 missing over 1.45-1.55 s, and an
    extra joint, in another order); frames every 100 ms 3 ms after a joint state, none over
    2.05-2.75 s (a gap). Frame i is one colour. `episodes`: (time, counter) on /jepa/episode.
    `window`: only the events in [start, end) ns (a recording split over bags). Returns the
    stamps (ns) of all the frames."""
    names = joint_names or ['panda_joint3', *NAMES[::-1]]
    JointState = TYPES.types['sensor_msgs/msg/JointState']
    frames = [
        t for t in range(1000 * MS + 3 * MS, 3000 * MS, 100 * MS) if not 2050 * MS < t < 2750 * MS
    ]
    with Writer(path, version=9, storage_plugin=storage) as writer:
        js = writer.add_connection('/joint_states', JointState.__msgtype__, typestore=TYPES)
        kind = 'CompressedImage' if image in ('png', 'jpeg') else 'Image'
        cam = writer.add_connection(
            '/camera/image_raw', f'sensor_msgs/msg/{kind}', typestore=TYPES
        )
        ep = writer.add_connection('/jepa/episode', 'std_msgs/msg/UInt32', typestore=TYPES)
        events = [(t, 'joints') for t in range(1000 * MS, 3001 * MS, 10 * MS)]
        events += [(t, 'frame') for t in frames] + [(t, 'episode') for t, _ in episodes]
        counters = dict(episodes)
        for t, what in sorted(events):
            if not window[0] <= t < window[1]:
                continue
            if what == 'joints':
                present = [
                    n for n in names if not (n == 'panda_joint4' and 1445 * MS <= t <= 1555 * MS)
                ]
                values = dict(zip(NAMES, joints_at(t)), panda_joint3=0.0)
                msg = JointState(
                    header=header(t),
                    name=present,
                    position=np.array([values.get(n, 0.5) for n in present]),
                    velocity=np.zeros(0),
                    effort=np.zeros(0),
                )
                write_msg(writer, js, t + 1 * MS, msg)  # received 1 ms after its stamp
            elif what == 'episode':
                write_msg(writer, ep, t, TYPES.types['std_msgs/msg/UInt32'](data=counters[t]))
            else:
                write_msg(writer, cam, t + 5 * MS, image_msg(frames.index(t), t, image))
    return frames


def image_msg(i: int, t_ns: int, kind: str):
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[:] = colour(i)
    if kind in ('png', 'jpeg'):
        ok, data = cv2.imencode(f'.{kind}', rgb[:, :, ::-1])
        assert ok
        return TYPES.types['sensor_msgs/msg/CompressedImage'](
            header=header(t_ns), format=kind, data=data.ravel()
        )
    channels = {'rgb8': rgb, 'bgr8': rgb[:, :, ::-1], 'mono16': rgb[:, :, :2]}[kind]
    data = np.ascontiguousarray(channels).ravel()
    return TYPES.types['sensor_msgs/msg/Image'](
        header=header(t_ns),
        height=SIZE,
        width=SIZE,
        encoding=kind,
        is_bigendian=0,
        step=SIZE * channels.shape[2],
        data=data,
    )


def expected_rows(frames: list[int], splits=()) -> dict[str, np.ndarray]:
    """What the import must produce, computed here from the bag's construction."""
    kept = [i for i, t in enumerate(frames) if not 1445 * MS <= t - 3 * MS <= 1555 * MS]
    # frame at 1.503 s: its joint states (1.50, 1.51) lack panda_joint4; the nearest complete
    # ones are 1.44 / 1.56 s, beyond the 20 ms tolerance -> dropped
    stamps = np.array([frames[i] for i in kept])
    episode = np.concatenate(
        [[0], np.cumsum((np.diff(stamps) > 500 * MS) | np.isin(stamps[1:], splits))]
    )
    joints = np.stack([joints_at(t - 3 * MS) for t in stamps])
    actions = np.zeros_like(joints)
    same = episode[1:] == episode[:-1]
    actions[:-1][same] = (joints[1:] - joints[:-1])[same]
    step = np.concatenate([np.arange(n) for n in np.bincount(episode)])
    fk = ForwardKinematics(SCENE.urdf(), NAMES, [SCENE.ee_link], SCENE.home)
    images = np.stack([np.full((SIZE, SIZE, 3), colour(i), np.uint8) for i in kept])
    return {
        'joints': joints,
        'actions': actions,
        'episode': episode,
        'step': step,
        'ee_position': fk.numpy(joints)[:, 0],
        'images': images[:, None],
    }


def check_rows(dataset: ExplorationDataset, expected, exact_images=True):
    for name in ('episode', 'step'):
        np.testing.assert_array_equal(dataset.get(name), expected[name], err_msg=name)
    for name in ('joints', 'actions', 'ee_position'):
        np.testing.assert_allclose(dataset.get(name), expected[name], atol=1e-6, err_msg=name)
    images = dataset.get('images').astype(int)
    tolerance = 0 if exact_images else 3  # jpeg
    assert np.abs(images - expected['images']).max() <= tolerance


@pytest.mark.parametrize('storage', [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_a_bag_becomes_exactly_the_expected_rows(tmp_path, storage):
    frames = write_bag(tmp_path / 'bag', storage)
    meta = import_bag(
        tmp_path / 'bag', SCENE, tmp_path / 'data', BagImportConfig(shard_episodes=1)
    )
    expected = expected_rows(frames)
    dataset = ExplorationDataset(tmp_path / 'data')
    check_rows(dataset, expected)
    counts = meta['import']
    assert counts['images'] == len(frames) == 13 and counts['kept'] == 12
    assert counts['dropped_no_joint_state'] == 1 and counts['gaps'] == 1
    assert counts['episodes'] == dataset.episodes == 2 and len(meta['shards']) == 2
    assert counts['joint_states_incomplete'] == 11  # 1.45 ... 1.55 s
    assert dataset.transition_starts(1).size == 12 - 2  # no transition across the gap


def test_a_recording_split_over_two_bags_imports_as_one(tmp_path):
    split = 2400 * MS  # inside the gap
    frames = write_bag(tmp_path / 'bag_0', window=(0, split))
    write_bag(tmp_path / 'bag_1', StoragePlugin.SQLITE3, window=(split, 10**12))
    meta = import_bag([tmp_path / 'bag_1', tmp_path / 'bag_0'], SCENE, tmp_path / 'data')
    check_rows(ExplorationDataset(tmp_path / 'data'), expected_rows(frames))
    assert meta['import']['kept'] == 12 and meta['import']['episodes'] == 2
    assert len(meta['spec']['source']['bags']) == 2


@pytest.mark.parametrize('kind', ['png', 'jpeg', 'rgb8'])
def test_compressed_and_rgb_images_are_read(tmp_path, kind):
    frames = write_bag(tmp_path / 'bag', image=kind)
    import_bag(tmp_path / 'bag', SCENE, tmp_path / 'data')
    check_rows(ExplorationDataset(tmp_path / 'data'), expected_rows(frames), kind != 'jpeg')


def test_the_explorers_episode_counter_splits_episodes(tmp_path):
    splits = [1303 * MS, 1803 * MS]  # counter changes just before these frames
    frames = write_bag(tmp_path / 'bag', episodes=[(1000 * MS, 0), (1302 * MS, 1), (1802 * MS, 2)])
    meta = import_bag(tmp_path / 'bag', SCENE, tmp_path / 'data')
    check_rows(ExplorationDataset(tmp_path / 'data'), expected_rows(frames, splits))
    assert meta['import']['episodes'] == 4


def test_an_interrupted_import_resumes_and_another_bag_is_refused(tmp_path):
    frames = write_bag(tmp_path / 'bag')
    config = BagImportConfig(shard_episodes=1)
    import_bag(tmp_path / 'bag', SCENE, tmp_path / 'data', config)
    shard = tmp_path / 'data' / 'shards' / 'shard_00001'
    first = (shard / 'images.npy').read_bytes()
    for path in shard.iterdir():  # as if interrupted before the second shard landed
        path.unlink()
    shard.rmdir()
    (tmp_path / 'data' / 'meta.json').unlink()
    landed = []
    import_bag(tmp_path / 'bag', SCENE, tmp_path / 'data', config, on_frames=landed.append)
    assert landed == [2], 'only the missing shard is imported again'
    assert (shard / 'images.npy').read_bytes() == first
    check_rows(ExplorationDataset(tmp_path / 'data'), expected_rows(frames))
    with pytest.raises(CollectError, match='different dataset'):
        import_bag(tmp_path / 'bag', SCENE, tmp_path / 'data', BagImportConfig(gap_s=0.2))


@pytest.mark.parametrize(
    'case, message',
    [
        ('no_image_topic', "no image topic '/camera/color/image_raw'"),
        ('mono16', "image encoding 'mono16' is not supported"),
        ('missing_joint', "missing ['panda_joint6']"),
    ],
)
def test_a_bad_bag_is_one_line_and_writes_nothing(tmp_path, capsys, case, message):
    if case == 'missing_joint':
        write_bag(tmp_path / 'bag', joint_names=['panda_joint1', 'panda_joint2', 'panda_joint4'])
    else:
        write_bag(tmp_path / 'bag', image='mono16')
    args = ['import-bag', str(tmp_path / 'bag'), '--out', str(tmp_path / 'data')]
    if case == 'no_image_topic':
        args += ['--image-topic', '/camera/color/image_raw']
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / 'data').exists(), 'nothing is written for a bad bag'


def test_the_cli_imports_with_a_progress_summary(tmp_path, capsys):
    write_bag(tmp_path / 'bag')
    assert main(['import-bag', str(tmp_path / 'bag'), '--out', str(tmp_path / 'data')]) == 0
    out = capsys.readouterr().out
    assert '12 frames, 2 episodes' in out and '1 dropped (no joint state within 0.02 s)' in out
    assert ExplorationDataset(tmp_path / 'data').frames == 12
