"""Collect exploration datasets in parallel, resumably, with atomic shards.

Each episode's randomness comes from (seed, episode index) alone, so a dataset is the same
whatever the number of workers or shards it was written with. The world is the PyBullet arm of
a scene (smooth random exploration) or a gymnasium environment (a random policy; its `joints`
array holds the named proprio vector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import as_completed, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
import json
import multiprocessing
from pathlib import Path
import shutil
import time
from typing import Any

import numpy as np

from jepa_ros.data.dataset import (
    FORMAT_VERSION,
    META_FILE,
    read_json,
    shard_name,
    SHARDS_DIR,
    SPEC_FILE,
    write_json_atomic,
    write_shard,
)
from jepa_ros.data.exploration import ExplorationConfig
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig
from jepa_ros.envs.scene import scene_from_dict, SceneConfig
from jepa_ros.envs.world import World


class CollectError(ValueError):
    """Collection cannot start (e.g. the output folder holds something else)."""


@dataclass(frozen=True)
class CollectConfig:
    """What to collect. `workers` does not change the data, only the speed."""

    episodes: int = field(metadata={'help': 'number of exploration episodes'})
    seed: int = field(default=0, metadata={'help': 'seed; each episode draws from (seed, index)'})
    shard_episodes: int = field(default=10, metadata={'help': 'episodes per shard file'})
    workers: int = field(default=2, metadata={'help': 'parallel simulator processes'})
    exploration: ExplorationConfig = field(default_factory=ExplorationConfig)

    def __post_init__(self) -> None:
        for name in ('episodes', 'shard_episodes', 'workers'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')

    @property
    def shards(self) -> list[list[int]]:
        """Episode indices of each shard."""
        n, k = self.episodes, self.shard_episodes
        return [list(range(i, min(i + k, n))) for i in range(0, n, k)]


# --- worker processes --------------------------------------------------------------------------
_WORKER_WORLD: World | None = None


def make_world(description: dict[str, Any], base_dir: str) -> World:
    """The world a collection spec describes: a gymnasium env, else the scene's arm."""
    if description.get('kind') == 'gymnasium':
        return GymWorld(GymWorldConfig.from_dict(description))
    return ArmWorld(scene_from_dict(description, base_dir))


def _init_worker(description: dict[str, Any], base_dir: str) -> None:
    global _WORKER_WORLD
    _WORKER_WORLD = make_world(description, base_dir)


def _close_worker() -> None:
    global _WORKER_WORLD
    if _WORKER_WORLD is not None:
        _WORKER_WORLD.close()
        _WORKER_WORLD = None


def _collect_shard(
    root: str, index: int, episodes: list[int], exploration: dict, seed: int
) -> dict[str, Any]:
    config = ExplorationConfig(**exploration)
    parts = [_WORKER_WORLD.exploration_episode(config, seed, e) for e in episodes]
    arrays = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return write_shard(Path(root), index, arrays)


# --- orchestration ----------------------------------------------------------------------------
def collection_spec(world: SceneConfig | GymWorldConfig, config: CollectConfig) -> dict[str, Any]:
    """Everything that determines the data (not `workers`), as plain JSON data: the arm's
    scene under 'scene', a gymnasium world under 'world'."""
    key = 'world' if isinstance(world, GymWorldConfig) else 'scene'
    exploration = asdict(config.exploration)
    if tuple(config.exploration.action_scale) == ExplorationConfig.action_scale:
        del exploration['action_scale']  # the default: specs written before it still match
    spec = {
        'format_version': FORMAT_VERSION,
        key: world.to_dict(),
        'exploration': exploration,
        'seed': config.seed,
        'episodes': config.episodes,
        'shard_episodes': config.shard_episodes,
    }
    return json.loads(json.dumps(spec))  # tuples -> lists, as read back from spec.json


def prepare_output(out: Path, spec: dict[str, Any]) -> list[int]:
    """Check `out` can take this dataset and return the shard indices still to collect.

    A new or empty folder starts fresh; a folder with the same spec.json resumes (finished
    shards are kept, unfinished temporary ones removed); anything else is refused.
    """
    if out.exists() and not out.is_dir():
        raise CollectError(f'output {out} exists and is not a folder')
    spec_path = out / SPEC_FILE
    if out.is_dir() and any(out.iterdir()):
        if not spec_path.is_file():
            raise CollectError(f'output folder {out} is not empty and holds no jepa_ros dataset')
        existing = read_json(spec_path, 'spec.json')
        if existing != spec:
            different = sorted(
                k for k in set(spec) | set(existing) if spec.get(k) != existing.get(k)
            )
            raise CollectError(
                f'output folder {out} already holds a different dataset '
                f'(differs in: {", ".join(different)}); choose another --out'
            )
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(spec_path, spec)
    shards = out / SHARDS_DIR
    for stale in shards.glob('.*.tmp') if shards.is_dir() else []:
        shutil.rmtree(stale)
    n_shards = -(-spec['episodes'] // spec['shard_episodes'])
    return [i for i in range(n_shards) if not (shards / shard_name(i)).is_dir()]


def collect(
    world: SceneConfig | GymWorldConfig,
    config: CollectConfig,
    out: Path,
    on_shard: Callable[[int], None] = lambda frames: None,
) -> dict[str, Any]:
    """Collect a dataset of `world` (an arm's scene or a gymnasium env) into `out` (resuming
    if it was interrupted); return its meta.json.

    `on_shard(frames)` is called as each shard lands (for a progress bar).
    """
    spec = collection_spec(world, config)
    if isinstance(world, GymWorldConfig):
        with GymWorld(world) as probe:  # a bad env or proprio is refused before any write
            names = [f'proprio_{i}' for i in range(probe.proprio_dim)]
            bounds = [probe.action_low.tolist(), probe.action_high.tolist()]
        cameras = [f'frame_{i}' for i in range(world.stack)]
        shape = [world.stack, world.height, world.width, 3]
    else:
        camera = world.cameras[0]
        names, cameras = list(world.controlled_joints), [c.name for c in world.cameras]
        shape = [len(world.cameras), camera.height, camera.width, 3]
        bounds = None
    todo = prepare_output(out, spec)
    if (out / META_FILE).is_file() and not todo:
        return read_json(out / META_FILE, 'meta.json')
    start = time.perf_counter()
    frames_now = 0
    for summary in _run_shards(world, config, out, todo):
        frames_now += summary['frames']
        on_shard(summary['frames'])
    seconds = time.perf_counter() - start
    summaries = [
        read_json(out / SHARDS_DIR / shard_name(i) / 'shard.json', 'shard.json')
        for i in range(len(config.shards))
    ]
    meta = {
        'format_version': FORMAT_VERSION,
        'spec': spec,
        'frames': sum(s['frames'] for s in summaries),
        'episodes': config.episodes,
        'shards': [{'name': s['name'], 'frames': s['frames']} for s in summaries],
        'joint_names': names,
        'cameras': cameras,
        'image_shape': shape,
        **({'action_bounds': bounds} if bounds else {}),
        'collect_seconds_this_run': round(seconds, 3),
        'frames_this_run': frames_now,
        'frames_per_second_this_run': round(frames_now / seconds, 2) if seconds > 0 else None,
        'workers': config.workers,
    }
    write_json_atomic(out / META_FILE, meta)
    return meta


def _run_shards(
    world: SceneConfig | GymWorldConfig, config: CollectConfig, out: Path, todo: list[int]
) -> Iterator[dict[str, Any]]:
    shards = config.shards
    jobs = [(str(out), i, shards[i], asdict(config.exploration), config.seed) for i in todo]
    init = (world.to_dict(), getattr(world, 'base_dir', '.'))
    if config.workers == 1 or len(jobs) <= 1:
        _init_worker(*init)
        try:
            for job in jobs:
                yield _collect_shard(*job)
        finally:
            _close_worker()
        return
    context = multiprocessing.get_context('spawn')
    workers = min(config.workers, len(jobs))
    with ProcessPoolExecutor(workers, context, _init_worker, init) as pool:
        futures = [pool.submit(_collect_shard, *job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
