"""On-disk exploration datasets: sharded .npy arrays, memory-mapped for training.

Layout of a dataset folder (documented for users in README.md, "Data format"):

    DIR/spec.json                what collection was asked for (written first, used to resume)
    DIR/meta.json                written last: frames, episodes, shards, scene, seed, timing
    DIR/shards/shard_00000/      one shard = a run of whole episodes, renamed into place when done
        images.npy     uint8   (N, V, H, W, 3)  camera images, RGB
        joints.npy     float32 (N, A)           controlled joint positions (rad)
        actions.npy    float32 (N, A)           joint delta applied at frame t (0 on an episode's
                                                last frame, which has no successor)
        episode.npy    int32   (N,)             global episode index
        step.npy       int32   (N,)             frame index within its episode
        ee_position.npy float32 (N, 3)          end-effector position: ground truth, for
                                                evaluation and probes only, never for planning
        shard.json     frames and episodes of this shard

Glossary: N frames, V cameras, H x W image size, A action dim.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import os
from pathlib import Path
import shutil
from typing import Any

import numpy as np

FORMAT_VERSION = 1
ARRAY_DTYPES: Mapping[str, np.dtype] = {
    'images': np.dtype(np.uint8),
    'joints': np.dtype(np.float32),
    'actions': np.dtype(np.float32),
    'episode': np.dtype(np.int32),
    'step': np.dtype(np.int32),
    'ee_position': np.dtype(np.float32),
}
SPEC_FILE = 'spec.json'
META_FILE = 'meta.json'
SHARDS_DIR = 'shards'


class DatasetError(ValueError):
    """A dataset folder that is missing, incomplete, truncated or of another format."""


def shard_name(index: int) -> str:
    return f'shard_{index:05d}'


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader sees either the old file or the whole new one."""
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + '\n')
    os.replace(tmp, path)


def read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetError(f'{what} not found: {path}')
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f'{path} is not valid JSON ({exc})') from None


def write_shard(root: Path, index: int, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Write one shard atomically: into a temporary folder, renamed into place when complete.

    `arrays` holds every name of ARRAY_DTYPES, all with the same first dimension N.
    Returns the shard's summary, as also written to its shard.json.
    """
    if set(arrays) != set(ARRAY_DTYPES):
        raise ValueError(f'shard arrays must be {sorted(ARRAY_DTYPES)}, got {sorted(arrays)}')
    frames = {len(a) for a in arrays.values()}
    if len(frames) != 1:
        raise ValueError(f'shard arrays differ in length: {frames}')
    shards = root / SHARDS_DIR
    shards.mkdir(parents=True, exist_ok=True)
    final = shards / shard_name(index)
    tmp = shards / f'.{shard_name(index)}.{os.getpid()}.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name, dtype in ARRAY_DTYPES.items():
        np.save(tmp / f'{name}.npy', np.ascontiguousarray(arrays[name], dtype=dtype))
    episodes = np.unique(arrays['episode'])
    summary = {
        'name': final.name,
        'frames': int(frames.pop()),
        'episodes': [int(e) for e in episodes],
    }
    (tmp / 'shard.json').write_text(json.dumps(summary) + '\n')
    os.replace(tmp, final)
    return summary


def _open_array(path: Path, frames: int) -> np.ndarray:
    """Memory-map one shard array and check it holds `frames` rows."""
    if not path.is_file():
        raise DatasetError(f'missing shard file {path}')
    try:
        array = np.load(path, mmap_mode='r')
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(
            f'{path} is truncated or corrupt ({exc}); delete its shard folder and run the same '
            "'jepa-ros collect' command again to regenerate it"
        ) from None
    if array.shape[0] != frames or array.dtype != ARRAY_DTYPES[path.stem]:
        raise DatasetError(
            f'{path} holds {array.shape[0]} rows of {array.dtype}, '
            f'meta.json says {frames} of {ARRAY_DTYPES[path.stem]}'
        )
    return array


class ExplorationDataset:
    """A collected dataset, memory-mapped: nothing is read into memory until indexed.

    `get(name, indices)` gathers rows by global frame index; `transition_starts(k)` lists the
    frames t whose next k frames are in the same episode (valid k-step training windows).
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f'dataset folder not found: {self.root}')
        if not (self.root / META_FILE).is_file() and (self.root / SPEC_FILE).is_file():
            raise DatasetError(
                f'{self.root} is an incomplete dataset (collection was interrupted): run the '
                "same 'jepa-ros collect' command again to finish it"
            )
        self.meta = read_json(self.root / META_FILE, 'dataset meta.json')
        version = self.meta.get('format_version')
        if version != FORMAT_VERSION:
            raise DatasetError(
                f'{self.root} has dataset format {version!r}; this jepa_ros reads {FORMAT_VERSION}'
            )
        self._shards: list[dict[str, np.ndarray]] = []
        for shard in self.meta['shards']:
            folder = self.root / SHARDS_DIR / shard['name']
            self._shards.append(
                {
                    name: _open_array(folder / f'{name}.npy', shard['frames'])
                    for name in ARRAY_DTYPES
                }
            )
        sizes = [len(s['episode']) for s in self._shards]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # (shards+1,)
        if self._offsets[-1] != self.meta['frames']:
            raise DatasetError(
                f'{self.root}: shards hold {self._offsets[-1]} frames, '
                f'meta.json says {self.meta["frames"]}'
            )

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def frames(self) -> int:
        return len(self)

    @property
    def episodes(self) -> int:
        return int(self.meta['episodes'])

    @property
    def scene(self) -> dict[str, Any]:
        """The scene the data was collected in, as `SceneConfig.to_dict()` wrote it."""
        if 'scene' not in self.meta['spec']:
            raise DatasetError(f'{self.root} holds data of the gymnasium env '
                               f'{self.world["env"]!r}, not of an arm scene')  # fmt: skip
        return self.meta['spec']['scene']

    @property
    def world(self) -> dict[str, Any] | None:
        """The gymnasium world the data was collected in (GymWorldConfig.to_dict()), or None
        for an arm scene."""
        return self.meta['spec'].get('world')

    def get(self, name: str, indices: np.ndarray | slice | None = None) -> np.ndarray:
        """Rows of array `name` at global frame `indices` (any int array), in that order."""
        if name not in ARRAY_DTYPES:
            raise KeyError(f'unknown array {name!r}; arrays: {sorted(ARRAY_DTYPES)}')
        if indices is None or isinstance(indices, slice):
            whole = np.concatenate([s[name] for s in self._shards])
            return whole if indices is None else whole[indices]
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f'frame index out of range [0, {len(self)})')
        shard = np.searchsorted(self._offsets, indices, side='right') - 1
        first = self._shards[0][name]
        out = np.empty(indices.shape + first.shape[1:], dtype=first.dtype)
        for s in np.unique(shard):
            mask = shard == s
            out[mask] = self._shards[s][name][indices[mask] - self._offsets[s]]
        return out

    def transition_starts(self, horizon: int = 1) -> np.ndarray:
        """Global frame indices t such that frames t..t+horizon are one episode, (T,) int64."""
        episode = self.get('episode')
        starts = np.arange(len(self) - horizon, dtype=np.int64)
        return starts[episode[starts] == episode[starts + horizon]]
