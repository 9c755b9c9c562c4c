"""Scene description: the robot, its controlled joints, goal ranges, cameras and lighting.

A scene is data (YAML in sim/). `load_scene` reads and validates one, including its joint and link
names against the robot's URDF, and raises SceneError with a one-line reason on any problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
import math
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from jepa_ros.envs.urdf import read_urdf, UrdfError, UrdfModel
from jepa_ros.share import find_shared

PYBULLET_DATA = 'pybullet_data://'

Vec3 = tuple[float, float, float]


class SceneError(ValueError):
    """A scene file that cannot be used; the message names the file and the problem."""


def _vec3(value: Any, what: str) -> Vec3:
    try:
        vec = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise SceneError(f'{what} must be 3 numbers, got {value!r}') from None
    if len(vec) != 3 or not all(math.isfinite(v) for v in vec):
        raise SceneError(f'{what} must be 3 finite numbers, got {value!r}')
    return vec


def _range(value: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SceneError(f'{what} must be [low, high], got {value!r}') from None
    if not lo < hi:
        raise SceneError(f'{what} must have low < high, got {value!r}')
    return lo, hi


@dataclass(frozen=True)
class CameraConfig:
    """A fixed pinhole camera: rendered by PyBullet's CPU renderer (`eye`, `target`, ...), or a
    physical arm's camera driver publishing on `topic` (no `eye`/`target`: nothing to render)."""

    name: str = field(metadata={'help': 'camera name, used in topics and file names'})
    eye: Vec3 | None = field(
        default=None, metadata={'help': 'simulated: camera position in the world frame (m)'}
    )
    target: Vec3 | None = field(
        default=None, metadata={'help': 'simulated: point the camera looks at (m)'}
    )
    up: Vec3 = field(default=(0.0, 0.0, 1.0), metadata={'help': 'up direction of the image'})
    fov_deg: float = field(default=48.0, metadata={'help': 'vertical field of view (degrees)'})
    width: int = field(default=96, metadata={'help': 'image width the model sees (pixels)'})
    height: int = field(default=96, metadata={'help': 'image height the model sees (pixels)'})
    near: float = field(default=0.05, metadata={'help': 'near clipping plane (m)'})
    far: float = field(default=5.0, metadata={'help': 'far clipping plane (m)'})
    topic: str = field(default='', metadata={'help': "physical: the camera driver's image topic"})

    @property
    def simulated(self) -> bool:
        return self.eye is not None

    def __post_init__(self) -> None:
        where = f'camera {self.name!r}'
        if not self.name:
            raise SceneError('a camera has an empty name')
        if (self.eye is None) != (self.target is None):
            raise SceneError(f'{where}: give both eye and target (a simulated camera) or '
                             'neither (a physical one, with its topic)')  # fmt: skip
        if self.eye is None and not self.topic:
            raise SceneError(f'{where}: a physical camera (no eye/target) needs its topic')
        names = ('eye', 'target', 'up') if self.simulated else ('up',)
        for name in names:
            object.__setattr__(self, name, _vec3(getattr(self, name), f'{where}: {name}'))
        if self.simulated and self.eye == self.target:
            raise SceneError(f'{where}: eye and target are the same point {self.eye}')
        for name in ('width', 'height'):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SceneError(f'{where}: {name} must be a positive integer, got {value!r}')
        if not 0.0 < self.fov_deg < 180.0:
            raise SceneError(f'{where}: fov_deg must be in (0, 180), got {self.fov_deg!r}')
        if not 0.0 < self.near < self.far:
            raise SceneError(f'{where}: need 0 < near < far, got {self.near!r}, {self.far!r}')


@dataclass(frozen=True)
class LightingConfig:
    """Directional light of the CPU renderer."""

    direction: Vec3 = field(default=(1.0, -0.5, 2.0), metadata={'help': 'light direction'})
    ambient: float = field(default=0.6, metadata={'help': 'ambient coefficient'})
    diffuse: float = field(default=0.35, metadata={'help': 'diffuse coefficient'})
    specular: float = field(default=0.05, metadata={'help': 'specular coefficient'})

    def __post_init__(self) -> None:
        object.__setattr__(self, 'direction', _vec3(self.direction, 'lighting: direction'))
        for name in ('ambient', 'diffuse', 'specular'):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SceneError(f'lighting: {name} must be in [0, 1], got {value!r}')


SHAPES = ('box', 'cylinder', 'sphere')
FLOOR = 'floor'  # the floor plane's name in collision reports
ALLOWED_REASONS = ('adjacent', 'default', 'always', 'never')


@dataclass(frozen=True)
class ObstacleConfig:
    """A static obstacle in the robot's base frame, for the guardrail's collision check, the
    planner's clearance cost and (in simulation) the world itself."""

    name: str = field(metadata={'help': 'obstacle name, reported in collision interventions'})
    shape: str = field(metadata={'help': f'one of {SHAPES}'})
    position: Vec3 = field(metadata={'help': "the shape's centre in the base frame (m)"})
    size: tuple[float, ...] = field(
        metadata={'help': 'box: [x, y, z] full lengths; cylinder: [radius, length] (along its '
                          'z axis); sphere: [radius] (m)'}
    )  # fmt: skip
    rpy: Vec3 = field(default=(0.0, 0.0, 0.0), metadata={'help': 'orientation (rad)'})
    rgba: tuple[float, float, float, float] = field(
        default=(0.55, 0.35, 0.2, 1.0), metadata={'help': 'colour in simulation'}
    )

    def __post_init__(self) -> None:
        where = f'obstacle {self.name!r}'
        if not self.name or self.name == FLOOR:
            raise SceneError(f'an obstacle needs a name other than {FLOOR!r}, got {self.name!r}')
        if self.shape not in SHAPES:
            raise SceneError(f'{where}: shape must be one of {SHAPES}, got {self.shape!r}')
        for name in ('position', 'rpy'):
            object.__setattr__(self, name, _vec3(getattr(self, name), f'{where}: {name}'))
        try:
            size = tuple(float(v) for v in self.size)
        except (TypeError, ValueError):
            raise SceneError(f'{where}: size must be numbers, got {self.size!r}') from None
        needed = {'box': 3, 'cylinder': 2, 'sphere': 1}[self.shape]
        if len(size) != needed or not all(math.isfinite(v) and v > 0 for v in size):
            raise SceneError(f'{where}: a {self.shape} needs {needed} positive sizes, '
                             f'got {self.size!r}')  # fmt: skip
        object.__setattr__(self, 'size', size)
        rgba = tuple(float(c) for c in self.rgba)
        if len(rgba) != 4 or not all(0.0 <= c <= 1.0 for c in rgba):
            raise SceneError(f'{where}: rgba must be 4 numbers in [0, 1], got {self.rgba!r}')
        object.__setattr__(self, 'rgba', rgba)


@dataclass(frozen=True)
class SceneConfig:
    """One arm in one simulated scene. `base_dir` resolves relative paths; it is not compared."""

    name: str = field(metadata={'help': 'scene name, recorded with every dataset and model'})
    robot_urdf: str = field(metadata={'help': "robot URDF: path or 'pybullet_data://...'"})
    ee_link: str = field(metadata={'help': 'URDF link whose origin is the end-effector'})
    controlled_joints: tuple[str, ...] = field(
        metadata={'help': 'joints the actor moves; the action is one delta per joint, in order'}
    )
    home: Mapping[str, float] = field(
        metadata={'help': 'joint positions at reset; joints not controlled hold these'}
    )
    sample_ranges: Mapping[str, tuple[float, float]] = field(
        metadata={'help': 'per controlled joint, the range goals and starts are drawn from (rad)'}
    )
    cameras: tuple[CameraConfig, ...] = field(metadata={'help': 'one or more fixed cameras'})
    floor_urdf: str = field(default=PYBULLET_DATA + 'plane.urdf', metadata={'help': 'floor'})
    ee_height_range: tuple[float, float] = field(
        default=(0.05, 0.6), metadata={'help': 'goals keep the end-effector between these z (m)'}
    )
    max_step_rad: float = field(
        default=0.1, metadata={'help': 'largest joint change per action (rad)'}
    )
    floor_clearance_m: float = field(
        default=0.01, metadata={'help': 'links above the first must stay this far off the floor'}
    )
    link_colors: Mapping[str, tuple[float, ...]] = field(
        default_factory=dict, metadata={'help': 'RGBA colour per link name'}
    )
    proprio_links: tuple[str, ...] = field(
        default=(),
        metadata={
            'help': 'links whose positions (forward kinematics from the URDF) join the '
            'joint angles in the proprioceptive embedding; empty = the end-effector'
        },
    )
    lighting: LightingConfig = field(default_factory=LightingConfig)
    obstacles: tuple[ObstacleConfig, ...] = field(
        default=(), metadata={'help': 'static obstacles in the base frame (besides the floor)'}
    )
    floor_height_m: float | None = field(
        default=0.0,
        metadata={'help': "the floor plane's height in the base frame, for collision checks "
                          '(null: no floor)'},
    )  # fmt: skip
    allowed_collisions: tuple[tuple[str, str, str], ...] = field(
        default=(),
        metadata={'help': 'link pairs (or link, obstacle) the collision check skips, with why: '
                          'adjacent, default, always, never (`jepa-ros scene collisions`)'},
    )  # fmt: skip
    based_on: str = field(
        default='',
        metadata={'help': "the scene whose models this one uses: the same arm and cameras "
                          "(e.g. with obstacles added); '' = its own"},
    )  # fmt: skip
    base_dir: str = field(default='.', compare=False, metadata={'help': 'resolves relative paths'})

    def __post_init__(self) -> None:
        if not self.name:
            raise SceneError('scene name is empty')
        joints = tuple(str(j) for j in self.controlled_joints)
        if not joints or len(set(joints)) != len(joints):
            raise SceneError(f'controlled_joints must be unique and non-empty, got {joints!r}')
        object.__setattr__(self, 'controlled_joints', joints)
        links = tuple(str(link) for link in self.proprio_links) or (self.ee_link,)
        object.__setattr__(self, 'proprio_links', links)
        if not self.cameras:
            raise SceneError('a scene needs at least one camera')
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise SceneError(f'camera names must be unique, got {names!r}')
        if set(self.sample_ranges) != set(joints):
            raise SceneError(
                f'sample_ranges must name exactly the controlled joints {list(joints)}, '
                f'got {sorted(self.sample_ranges)}'
            )
        ranges = {j: _range(self.sample_ranges[j], f'sample_ranges[{j}]') for j in joints}
        object.__setattr__(self, 'sample_ranges', MappingProxyType(ranges))
        home = {str(k): float(v) for k, v in dict(self.home).items()}
        object.__setattr__(self, 'home', MappingProxyType(home))
        object.__setattr__(
            self, 'ee_height_range', _range(self.ee_height_range, 'ee_height_range')
        )
        colors = {str(k): tuple(float(c) for c in v) for k, v in dict(self.link_colors).items()}
        for link, rgba in colors.items():
            if len(rgba) != 4 or not all(0.0 <= c <= 1.0 for c in rgba):
                raise SceneError(f'link_colors[{link}] must be RGBA in [0, 1], got {rgba!r}')
        object.__setattr__(self, 'link_colors', MappingProxyType(colors))
        if not 0.0 < self.max_step_rad <= 1.0:
            raise SceneError(f'max_step_rad must be in (0, 1], got {self.max_step_rad!r}')
        if self.floor_clearance_m < 0.0:
            raise SceneError(f'floor_clearance_m must be >= 0, got {self.floor_clearance_m!r}')
        obstacles = tuple(self.obstacles)
        names = [o.name for o in obstacles]
        if len(set(names)) != len(names):
            raise SceneError(f'obstacle names must be unique, got {names!r}')
        object.__setattr__(self, 'obstacles', obstacles)
        if self.floor_height_m is not None and not math.isfinite(self.floor_height_m):
            raise SceneError(f'floor_height_m must be finite or null, got {self.floor_height_m!r}')
        allowed = []
        for entry in self.allowed_collisions:
            if len(entry) != 3 or entry[2] not in ALLOWED_REASONS:
                raise SceneError(f'allowed_collisions entries are [a, b, reason] with reason in '
                                 f'{ALLOWED_REASONS}, got {entry!r}')  # fmt: skip
            allowed.append(tuple(str(v) for v in entry))
        object.__setattr__(self, 'allowed_collisions', tuple(allowed))

    @property
    def camera_topic(self) -> str:
        """The image topic of the first physical camera, absolute ('' if every camera is
        simulated)."""
        topic = next((camera.topic for camera in self.cameras if camera.topic), '')
        return '/' + topic.lstrip('/') if topic else ''

    @property
    def action_dim(self) -> int:
        return len(self.controlled_joints)

    def resolve(self, path: str) -> Path:
        """Absolute path of an asset named in the scene file."""
        if path.startswith(PYBULLET_DATA):
            import pybullet_data

            return Path(pybullet_data.getDataPath()) / path[len(PYBULLET_DATA) :]
        return (Path(self.base_dir) / path).resolve()

    def urdf(self) -> UrdfModel:
        return read_urdf(self.resolve(self.robot_urdf))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON/YAML-safe) that `scene_from_dict` turns back into an equal scene."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != 'base_dir'}
        data['cameras'] = [asdict(c) for c in self.cameras]
        data['lighting'] = asdict(self.lighting)
        data['obstacles'] = [asdict(o) for o in self.obstacles]
        for name in ('home', 'sample_ranges', 'link_colors'):
            data[name] = dict(data[name])
        return yaml.safe_load(yaml.safe_dump(data))  # tuples -> lists

    def check_against_urdf(self) -> None:
        """Raise SceneError if a joint or link the scene names is not in its URDF."""
        try:
            urdf = self.urdf()
        except UrdfError as exc:
            raise SceneError(str(exc)) from None
        movable = set(urdf.movable_joints)
        held = {j.name for j in urdf.joints if j.type != 'fixed'}  # mimic joints too
        for joint in list(self.controlled_joints) + list(self.home):
            if joint not in (movable if joint in self.controlled_joints else held):
                raise SceneError(
                    f'joint {joint!r} is not a movable joint of {self.robot_urdf} '
                    f'(it has: {", ".join(urdf.movable_joints)})'
                )
        known = set(urdf.links) | {o.name for o in self.obstacles} | {FLOOR}
        for a, b, _ in self.allowed_collisions:
            for name in (a, b):
                if name not in known:
                    raise SceneError(f'allowed_collisions names {name!r}, which is neither a '
                                     f'link of {self.robot_urdf} nor an obstacle')  # fmt: skip
        for link in [self.ee_link, *self.link_colors, *self.proprio_links]:
            if link not in urdf.links:
                raise SceneError(f'link {link!r} is not in {self.robot_urdf}')
        for joint, (lo, hi) in self.sample_ranges.items():
            lower, upper = urdf.joint(joint).bounds
            if lo < lower or hi > upper:
                raise SceneError(
                    f'sample_ranges[{joint}] = [{lo}, {hi}] leaves the URDF limits '
                    f'[{lower}, {upper}]'
                )


def scene_from_dict(data: Mapping[str, Any], base_dir: str | Path = '.') -> SceneConfig:
    """Build a SceneConfig from plain data; unknown or missing keys are errors."""
    if not isinstance(data, Mapping):
        raise SceneError(f'a scene must be a mapping, got {type(data).__name__}')
    known = {f.name for f in fields(SceneConfig)} - {'base_dir'}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SceneError(f'unknown scene keys {unknown} (known: {sorted(known)})')
    data = dict(data)
    try:
        data['cameras'] = tuple(CameraConfig(**c) for c in data.get('cameras') or ())
        data['lighting'] = LightingConfig(**(data.get('lighting') or {}))
        data['obstacles'] = tuple(ObstacleConfig(**o) for o in data.get('obstacles') or ())
        data['allowed_collisions'] = tuple(
            tuple(entry) for entry in data.get('allowed_collisions') or ()
        )
        for key in ('controlled_joints', 'proprio_links'):
            if key in data:
                data[key] = tuple(data[key])
        return SceneConfig(**data, base_dir=str(base_dir))
    except TypeError as exc:  # missing or unexpected constructor arguments
        raise SceneError(str(exc).replace('__init__()', 'scene')) from None


def resolve_scene_path(scene: str | Path) -> Path:
    """A scene argument is a YAML path, or the name of a shipped scene ('panda')."""
    path = Path(scene)
    if path.suffix in ('.yaml', '.yml') or path.parent != Path('.'):
        if not path.is_file():
            raise SceneError(f'scene file not found: {path}')
        return path
    try:
        return find_shared('sim', f'{scene}.yaml')
    except FileNotFoundError as exc:
        raise SceneError(f'unknown scene {str(scene)!r}: {exc}') from None


def load_scene(scene: str | Path = 'panda') -> SceneConfig:
    """Read, validate and URDF-check a scene given by path or shipped name."""
    path = resolve_scene_path(scene)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        problem = str(exc).replace('\n', ' ')
        raise SceneError(f'malformed YAML in {path}: {problem}') from None
    try:
        config = scene_from_dict(data, base_dir=path.parent.resolve())
        config.check_against_urdf()
    except SceneError as exc:
        raise SceneError(f'{path}: {exc}') from None
    return config
