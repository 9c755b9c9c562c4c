"""A rosbag2 bag (MCAP or sqlite3) -> an exploration dataset of the usual format (`jepa-ros
import-bag`). ROS-free: the bag is read with `rosbags`, which needs no ROS 2 install.

Any bag with a camera topic (sensor_msgs/Image in rgb8/bgr8/rgba8/bgra8, or CompressedImage in
jpeg/png) and `joint_states` will do: the project's own recordings of `explore_node`, or a
`ros2 bag record` made while someone teleoperated the arm or MoveIt moved it.

- Each frame takes the joint state nearest its stamp (header stamps; the bag's receive time
  where a header stamp is zero) if one lies within `tolerance_s`, else it is dropped (counted).
  joint_states messages that lack a controlled joint are skipped (counted).
- Episodes split where kept frames are more than `gap_s` apart and where the explorer's episode
  counter (`episode_topic`, std_msgs/UInt32, if the bag has it) changes. Episodes of one frame
  teach nothing and are dropped (counted).
- The action at a frame is the joint delta to the next kept frame of its episode (0 on the last).
- Images are centre-cropped and resized to the scene camera's size; `ee_position` is forward
  kinematics of the arm's own joint readings (the scene's URDF), never ground truth.

The bag is read twice: first the stamps, joint states and image formats (a bad input is refused
before anything is written), then the images, decoded shard by shard. Shards land atomically and
an interrupted import resumes, as `collect` does. Glossary: F frames, A controlled joints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
import json
from pathlib import Path
import time
from typing import Any

import numpy as np

from jepa_ros.data.collect import CollectError, prepare_output
from jepa_ros.data.dataset import (
    FORMAT_VERSION,
    META_FILE,
    read_json,
    shard_name,
    SHARDS_DIR,
    write_json_atomic,
    write_shard,
)
from jepa_ros.envs.kinematics import ForwardKinematics
from jepa_ros.envs.scene import SceneConfig
from jepa_ros.images import fit_image

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
JOINT_STATE = 'sensor_msgs/msg/JointState'
RAW_ENCODINGS = {'rgb8': (3, False), 'bgr8': (3, True), 'rgba8': (4, False), 'bgra8': (4, True)}
COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')


class BagImportError(CollectError):
    """A bag that cannot become a dataset (a missing topic, an unsupported image, ...)."""


@dataclass(frozen=True)
class BagImportConfig:
    image_topic: str = field(
        default='/camera/image_raw', metadata={'help': 'camera topic (Image or CompressedImage)'}
    )
    joint_topic: str = field(default='/joint_states', metadata={'help': 'JointState topic'})
    episode_topic: str = field(
        default='/jepa/episode',
        metadata={'help': "the explorer's episode counter (std_msgs/UInt32); used if present"},
    )
    tolerance_s: float = field(
        default=0.02,
        metadata={
            'help': 'a frame keeps the joint state nearest its stamp if '
            'within this (s), else it is dropped'
        },
    )
    gap_s: float = field(
        default=0.5,
        metadata={'help': 'kept frames further apart than this start a new episode (s)'},
    )
    shard_episodes: int = field(default=10, metadata={'help': 'episodes per shard'})

    def __post_init__(self) -> None:
        if not self.tolerance_s > 0 or not self.gap_s > 0:
            raise BagImportError(
                f'tolerance_s and gap_s must be > 0, got {self.tolerance_s!r}, {self.gap_s!r}'
            )
        if self.shard_episodes < 1:
            raise BagImportError(f'shard_episodes must be >= 1, got {self.shard_episodes!r}')


@dataclass(frozen=True)
class BagIndex:
    """What the first pass learnt: the frames kept, in stamp order, and what was dropped."""

    message: np.ndarray  # (F,) int64: ordinal of the frame's image message on the image topic
    stamp_ns: np.ndarray  # (F,) int64
    joints: np.ndarray  # (F, A) float64
    episode: np.ndarray  # (F,) int32, 0, 1, ... in order
    counts: dict[str, int]  # images, kept, dropped_no_joint_state, ...


def stamp_ns(msg: Any, log_time_ns: int) -> int:
    """The header stamp in ns, or the bag's receive time where the stamp is zero."""
    stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
    return int(stamp) if stamp > 0 else int(log_time_ns)


def decode_image(msg: Any, msgtype: str) -> np.ndarray:
    """An Image (rgb8/bgr8/rgba8/bgra8) or CompressedImage (jpeg/png) -> (h, w, 3) uint8 RGB."""
    import cv2

    if msgtype == COMPRESSED:
        check_image_format(msg, msgtype)
        bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise BagImportError(f'a {msg.format} image could not be decoded')
        return np.ascontiguousarray(bgr[:, :, ::-1])
    channels, bgr = check_image_format(msg, msgtype)
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    pixels = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)[:, :, :3]
    return np.ascontiguousarray(pixels[:, :, ::-1] if bgr else pixels)


def check_image_format(msg: Any, msgtype: str) -> tuple[int, bool]:
    """(channels, is BGR) of a raw Image; raises BagImportError for what cannot be read."""
    if msgtype == COMPRESSED:
        if not any(f in msg.format.lower() for f in COMPRESSED_FORMATS):
            raise BagImportError(
                f'compressed image format {msg.format!r} is not supported (jpeg or png)'
            )
        return 3, False
    if msg.encoding not in RAW_ENCODINGS:
        raise BagImportError(
            f'image encoding {msg.encoding!r} is not supported '
            f'({", ".join(RAW_ENCODINGS)}, or a jpeg/png CompressedImage)'
        )
    channels, bgr = RAW_ENCODINGS[msg.encoding]
    if msg.step < msg.width * channels or len(msg.data) < msg.step * msg.height:
        raise BagImportError(
            f'a {msg.encoding} image of {msg.width}x{msg.height} has step '
            f'{msg.step} and {len(msg.data)} bytes'
        )
    return channels, bgr


def open_bag(paths: list[Path]):
    """A rosbags AnyReader over rosbag2 folders (or .mcap/.db3 files), opened: their messages
    read as one recording, in time order."""
    from rosbags.highlevel import AnyReader, AnyReaderError

    for path in paths:
        if not path.exists():
            raise BagImportError(f'bag not found: {path}')
    reader = AnyReader(paths)
    try:
        reader.open()
    except (AnyReaderError, OSError, ValueError) as exc:
        names = ', '.join(map(str, paths))
        raise BagImportError(f'{names}: not a readable rosbag2 bag ({exc})') from None
    return reader


def topic_connections(reader, topic: str, types: tuple[str, ...], what: str, required=True):
    """The bag's connections on `topic`; a one-line error if it is missing or of another type."""
    connections = [c for c in reader.connections if c.topic == topic]
    if not connections:
        if not required:
            return []
        topics = ', '.join(sorted({f'{c.topic} ({c.msgtype})' for c in reader.connections}))
        raise BagImportError(f'the bag has no {what} topic {topic!r} (it has: {topics})')
    wrong = {c.msgtype for c in connections} - set(types)
    if wrong:
        raise BagImportError(
            f'{what} topic {topic!r} is {sorted(wrong)}, expected one of {list(types)}'
        )
    return connections


def read_joint_states(reader, config: BagImportConfig, names: tuple[str, ...], counts):
    """Stamps (J,) int64 ns and positions (J, A) of the joint_states naming every controlled
    joint, in stamp order; raises if none does, naming what is missing."""
    connections = topic_connections(reader, config.joint_topic, (JOINT_STATE,), 'joint state')
    stamps, rows, seen = [], [], set()
    for connection, log_time, raw in reader.messages(connections=connections):
        counts['joint_states'] += 1
        msg = reader.deserialize(raw, connection.msgtype)
        by_name = dict(zip(msg.name, np.asarray(msg.position, dtype=float)))
        seen |= set(by_name)
        if not all(n in by_name for n in names) or len(msg.position) != len(msg.name):
            counts['joint_states_incomplete'] += 1
            continue
        stamps.append(stamp_ns(msg, log_time))
        rows.append([by_name[n] for n in names])
    if not stamps:
        missing = [n for n in names if n not in seen] or list(names)
        raise BagImportError(
            f'no message on {config.joint_topic!r} names every controlled '
            f'joint: missing {missing} (it names {sorted(seen)})'
        )
    order = np.argsort(stamps, kind='stable')
    return np.asarray(stamps, np.int64)[order], np.asarray(rows, np.float64)[order]


def episode_counter(reader, config: BagImportConfig) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's episode counter: receive times (E,) ns and values (E,), maybe empty."""
    connections = topic_connections(
        reader, config.episode_topic, ('std_msgs/msg/UInt32',), 'episode counter', required=False
    )
    times, values = [], []
    for connection, log_time, raw in reader.messages(connections=connections):
        times.append(log_time)
        values.append(reader.deserialize(raw, connection.msgtype).data)
    return np.asarray(times, np.int64), np.asarray(values, np.int64)


def index_bag(reader, config: BagImportConfig, names: tuple[str, ...]) -> BagIndex:
    """First pass: sync frames to joint states, split episodes, check every image's format."""
    counts = dict.fromkeys(
        (
            'images',
            'joint_states',
            'joint_states_incomplete',
            'kept',
            'dropped_no_joint_state',
            'dropped_short_episodes',
            'episodes',
            'gaps',
        ),
        0,
    )
    joint_stamps, joint_rows = read_joint_states(reader, config, names, counts)
    connections = topic_connections(reader, config.image_topic, (IMAGE, COMPRESSED), 'image')
    stamps = []
    for connection, log_time, raw in reader.messages(connections=connections):
        msg = reader.deserialize(raw, connection.msgtype)
        check_image_format(msg, connection.msgtype)
        stamps.append(stamp_ns(msg, log_time))
    counts['images'] = len(stamps)
    if not stamps:
        raise BagImportError(f'the image topic {config.image_topic!r} has no messages')
    frame_stamps = np.asarray(stamps, np.int64)
    # The nearest joint state of each frame, by stamp
    right = np.searchsorted(joint_stamps, frame_stamps).clip(0, len(joint_stamps) - 1)
    left = (right - 1).clip(0)
    to_left, to_right = (np.abs(joint_stamps[i] - frame_stamps) for i in (left, right))
    nearest = np.where(to_left <= to_right, left, right)
    near = np.abs(joint_stamps[nearest] - frame_stamps) <= config.tolerance_s * 1e9
    counts['dropped_no_joint_state'] = int((~near).sum())
    message = np.nonzero(near)[0]
    message = message[np.argsort(frame_stamps[message], kind='stable')]
    kept_stamps = frame_stamps[message]
    joints = joint_rows[nearest[message]]
    # Episodes: a new one at each gap and each change of the explorer's counter
    counter_times, counter_values = episode_counter(reader, config)
    gaps = np.diff(kept_stamps) > config.gap_s * 1e9
    counts['gaps'] = int(gaps.sum())
    if len(counter_times):
        at = np.searchsorted(counter_times, kept_stamps, side='right') - 1
        label = np.where(at >= 0, counter_values[at.clip(0)], -1)
        gaps |= np.diff(label) != 0
    episode = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int32)
    sizes = np.bincount(episode)
    long_enough = sizes[episode] >= 2
    counts['dropped_short_episodes'] = int((sizes < 2).sum())
    message, kept_stamps, joints = (
        message[long_enough],
        kept_stamps[long_enough],
        joints[long_enough],
    )
    episode = np.unique(episode[long_enough], return_inverse=True)[1].astype(np.int32)
    counts['kept'] = len(message)
    counts['episodes'] = int(episode.max()) + 1 if len(episode) else 0
    if not counts['kept']:
        raise BagImportError(
            f'no frame on {config.image_topic!r} has a joint state within '
            f'{config.tolerance_s} s in an episode of 2 or more frames'
        )
    return BagIndex(message, kept_stamps, joints, episode, counts)


def import_spec(paths: list[Path], scene: SceneConfig, config: BagImportConfig, index: BagIndex):
    """Everything that determines the dataset, as plain JSON data (spec.json: resume key)."""
    spec = {
        'format_version': FORMAT_VERSION,
        'scene': scene.to_dict(),
        'source': {
            'bags': [str(p.resolve()) for p in paths],
            'bytes': sum(_size(p) for p in paths),
        },  # fmt: skip
        'import': asdict(config),
        'seed': None,
        'episodes': index.counts['episodes'],
        'shard_episodes': config.shard_episodes,
    }
    return json.loads(json.dumps(spec))


def _size(path: Path) -> int:
    files = [path] if path.is_file() else [p for p in path.rglob('*') if p.is_file()]
    return sum(p.stat().st_size for p in files)


def import_bag(
    paths: str | Path | Sequence[str | Path],
    scene: SceneConfig,
    out: str | Path,
    config: BagImportConfig = BagImportConfig(),
    on_frames: Callable[[int], None] = lambda frames: None,
    on_index: Callable[[BagIndex], None] = lambda index: None,
) -> dict[str, Any]:
    """Import one bag, or several read as one recording (sessions recorded one after
    another: their episodes split at the gaps between them), into dataset folder `out`
    (resuming an interrupted import); returns its meta.json, whose `import` entry holds the
    counts. `on_index(index)` is called after the first pass, `on_frames(n)` as each shard
    lands (for a progress bar)."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    out = Path(out)
    names = scene.controlled_joints
    reader = open_bag(paths)
    try:
        index = index_bag(reader, config, names)
        on_index(index)
        spec = import_spec(paths, scene, config, index)
        todo = prepare_output(out, spec)
        start = time.perf_counter()
        if todo or not (out / META_FILE).is_file():
            kinematics = ForwardKinematics(scene.urdf(), names, [scene.ee_link], scene.home)
            camera = scene.cameras[0]
            for shard in _shards(reader, config, index, todo, (camera.height, camera.width)):
                shard['ee_position'] = kinematics.numpy(shard['joints'])[:, 0]
                write_shard(out, shard.pop('index'), shard)
                on_frames(len(shard['episode']))
    finally:
        reader.close()
    summaries = [
        read_json(out / SHARDS_DIR / shard_name(i) / 'shard.json', 'shard.json')
        for i in range(_shard_count(index, config))
    ]
    camera = scene.cameras[0]
    meta = {
        'format_version': FORMAT_VERSION,
        'spec': spec,
        'frames': sum(s['frames'] for s in summaries),
        'episodes': index.counts['episodes'],
        'shards': [{'name': s['name'], 'frames': s['frames']} for s in summaries],
        'joint_names': list(names),
        'cameras': [camera.name],
        'image_shape': [1, camera.height, camera.width, 3],
        'import': index.counts,
        'import_seconds_this_run': round(time.perf_counter() - start, 3),
    }
    write_json_atomic(out / META_FILE, meta)
    return meta


def _shard_count(index: BagIndex, config: BagImportConfig) -> int:
    return -(-index.counts['episodes'] // config.shard_episodes)


def _shards(reader, config: BagImportConfig, index: BagIndex, todo: list[int], size):
    """Second pass: the shards in `todo` as arrays (without ee_position), each as soon as its
    last image is read. Yields dicts with 'index' and the dataset's arrays."""
    shard_of_frame = index.episode // config.shard_episodes  # (F,)
    wanted = {i: np.nonzero(shard_of_frame == i)[0] for i in todo}
    frame_of_message = {int(m): f for f, m in enumerate(index.message)}
    images: dict[int, dict[int, np.ndarray]] = {i: {} for i in todo}
    connections = [c for c in reader.connections if c.topic == config.image_topic]
    for ordinal, (connection, _, raw) in enumerate(reader.messages(connections=connections)):
        frame = frame_of_message.get(ordinal)
        if frame is None or int(shard_of_frame[frame]) not in images:
            continue
        shard = int(shard_of_frame[frame])
        rgb = decode_image(reader.deserialize(raw, connection.msgtype), connection.msgtype)
        images[shard][frame] = fit_image(rgb, *size)
        if len(images[shard]) == len(wanted[shard]):
            yield _shard_arrays(shard, wanted[shard], images.pop(shard), index)


def _shard_arrays(shard: int, frames: np.ndarray, images: dict[int, np.ndarray], index):
    episode = index.episode[frames]
    joints = index.joints[frames]
    same_next = np.append(episode[1:] == episode[:-1], False)
    actions = np.where(same_next[:, None], np.roll(joints, -1, axis=0) - joints, 0.0)
    first = np.searchsorted(episode, episode)  # each frame's episode start (frames are sorted)
    return {
        'index': shard,
        'images': np.stack([images[int(f)] for f in frames])[:, None],  # (N, 1, H, W, 3)
        'joints': joints,
        'actions': actions,
        'episode': episode,
        'step': np.arange(len(frames)) - first,
    }
