"""Collision checking: the arm against itself, the floor and the scene's static obstacles.

`CollisionModel` answers "which link pairs are closer than the margin?" for a joint configuration,
and `check_path` asks it along the joint-space segments of a command. It uses pybullet's
closest-point queries (Bullet's GJK/EPA on the URDF's collision geometry, convex hulls of its
meshes) in a geometry-only DIRECT client of its own: nothing is simulated or rendered there, and
the arm is posed from the measured joints, never from a simulator's state.
`allowed_collisions` decides which pairs never need checking by sampling, as MoveIt's setup
assistant does; the scene stores the list. ROS-free.

Glossary: A controlled joints, P trajectory points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
import math

import numpy as np

from jepa_ros.envs.geometry import (
    add_obstacle,
    adjacent_pairs,
    connect_geometry_client,
    Contact,
    LinkDistances,
    PairKey,
)  # fmt: skip
from jepa_ros.envs.scene import FLOOR, SceneConfig


class CollisionModel:
    """The arm of `scene`, the floor and its obstacles, in a geometry-only client.

    `joint_names` are the joints a configuration gives (A,), in order; every other joint holds
    the scene's home pose. Pairs in `scene.allowed_collisions` and adjacent links (`skip`
    replaces both) are not checked. The margins are
    MoveIt Servo's defaults: `min_distance_m` (0.02) to the floor and obstacles,
    `self_min_distance_m` (0.01) between links.
    `contacts(joints (A,))`: the pairs closer than their margin.
    `check_path(start (A,), points (P, A))`: the first point whose segment from the previous one
    (from `start` for the first) comes closer than the margin, with the contact, or None.
    """

    def __init__(
        self,
        scene: SceneConfig,
        joint_names: Sequence[str],
        min_distance_m: float = 0.02,
        self_min_distance_m: float = 0.01,
        resolution_rad: float = 0.05,
        skip: Iterable[PairKey] | None = None,
    ) -> None:
        for name, value in (('min_distance_m', min_distance_m),
                            ('self_min_distance_m', self_min_distance_m)):  # fmt: skip
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'{name} must be >= 0, got {value!r}')
        if not (math.isfinite(resolution_rad) and resolution_rad > 0):
            raise ValueError(f'resolution_rad must be > 0, got {resolution_rad!r}')
        self.scene = scene
        self.min_distance_m = float(min_distance_m)
        self.self_min_distance_m = float(self_min_distance_m)
        self.resolution_rad = float(resolution_rad)
        self.client = connect_geometry_client()
        self.robot = self.client.loadURDF(str(scene.resolve(scene.robot_urdf)), useFixedBase=True)
        obstacles = {o.name: add_obstacle(self.client, o, visual=False) for o in scene.obstacles}
        if scene.floor_height_m is not None:
            import pybullet

            plane = self.client.createCollisionShape(pybullet.GEOM_PLANE)
            obstacles[FLOOR] = self.client.createMultiBody(
                0.0, plane, -1, [0.0, 0.0, scene.floor_height_m]
            )
        self.distances = LinkDistances(self.client, self.robot, obstacles, ())
        if skip is None:  # adjacent links touch at their joint by design: never check them
            skip = {frozenset((a, b)) for a, b, _ in scene.allowed_collisions}
            skip |= adjacent_pairs(self.client, self.robot, self.distances.names)
        self.distances.set_skip(skip)
        index = {self.client.getJointInfo(self.robot, i)[1].decode(): i
                 for i in range(self.client.getNumJoints(self.robot))}  # fmt: skip
        unknown = [n for n in joint_names if n not in index]
        if unknown:
            raise ValueError(f'joints {unknown} are not in {scene.robot_urdf}')
        self.joint_names = tuple(joint_names)
        self._indices = [index[n] for n in self.joint_names]
        for name, value in scene.home.items():
            self.client.resetJointState(self.robot, index[name], float(value))

    def set_joints(self, joints: np.ndarray) -> None:
        for i, value in zip(self._indices, joints):
            self.client.resetJointState(self.robot, i, float(value))

    def contacts(self, joints: np.ndarray, distance_m: float | None = None) -> list[Contact]:
        """Pairs closer than their margin (or than `distance_m`, for all) at `joints` (A,),
        nearest first."""
        self.set_joints(joints)
        if distance_m is not None:
            return self.distances.within(distance_m, distance_m)
        return self.distances.within(self.self_min_distance_m, self.min_distance_m)

    def check_path(self, start: np.ndarray, points: np.ndarray) -> tuple[int, Contact] | None:
        """Check each segment start -> points[0] -> points[1] ... at `resolution_rad` (largest
        joint change between checked configurations) and its end.

        A pair already closer than the margin at `start` may stay so while it does not come
        closer (the arm may move away from where it is); any other pair may not.
        """
        start = np.asarray(start, dtype=float)
        points = np.asarray(points, dtype=float).reshape(-1, len(self._indices))
        tolerance = 1e-4
        already = {c.pair: c.distance_m for c in self.contacts(start)}
        previous = start
        for p, point in enumerate(points):
            largest = float(np.max(np.abs(point - previous)))
            steps = max(1, math.ceil(largest / self.resolution_rad))
            for k in range(1, steps + 1):
                for contact in self.contacts(previous + (point - previous) * (k / steps)):
                    allowed = already.get(contact.pair)
                    if allowed is None or contact.distance_m < allowed - tolerance:
                        return p, contact
            previous = point
        return None

    def close(self) -> None:
        self.client.disconnect()


def allowed_collisions(
    scene: SceneConfig,
    samples: int = 10_000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[str, str, str]]:
    """The pairs the collision check may skip, each with its reason, by sampling the controlled
    joints uniformly within the URDF's limits (the others at home). As in MoveIt's setup
    assistant, "in collision" here means touching or overlapping (distance <= 0), not within the
    gate's margin:

    - adjacent: a link and its parent link (through links without geometry);
    - default: links in collision at the home pose;
    - always: in collision in every sample (also a link and an obstacle: a base on the floor);
    - never: two links in collision in no sample; the joint limits keep them apart.
    `progress(n)` is called every 1000 samples.
    """
    model = CollisionModel(scene, scene.controlled_joints, 0.0, 0.0, skip=())
    try:
        client, robot = model.client, model.robot
        names = model.distances.names
        with_shape = [names[i] for i in model.distances.shaped]
        adjacent = adjacent_pairs(client, robot, names)
        model.distances.set_skip(adjacent)
        home = np.array([scene.home.get(n, 0.0) for n in scene.controlled_joints])
        default = {c.pair for c in model.contacts(home) if c.pair <= set(with_shape)}
        urdf = scene.urdf()
        bounds = []
        for name in scene.controlled_joints:
            joint = urdf.joint(name)
            lo, hi = (joint.lower, joint.upper) if joint.lower is not None else (-math.pi, math.pi)
            bounds.append((lo, hi))
        bounds = np.array(bounds)
        rng = np.random.default_rng(seed)
        counts: dict[PairKey, int] = {}
        for n in range(samples):
            joints = rng.uniform(bounds[:, 0], bounds[:, 1])
            for contact in model.contacts(joints):
                counts[contact.pair] = counts.get(contact.pair, 0) + 1
            if progress is not None and (n + 1) % 1000 == 0:
                progress(1000)
        always = {pair for pair, count in counts.items() if count == samples}
        self_pairs = {frozenset((a, b)) for i, a in enumerate(with_shape)
                      for b in with_shape[i + 1:]}  # fmt: skip
        never = {pair for pair in self_pairs if counts.get(pair, 0) == 0}
    finally:
        model.close()
    entries = []
    taken: set[PairKey] = set()
    for reason, pairs in (('adjacent', adjacent), ('default', default), ('always', always),
                          ('never', never)):  # fmt: skip
        for pair in sorted(pairs - taken, key=lambda p: sorted(p)):
            a, b = sorted(pair)
            if b in with_shape and a not in with_shape:  # obstacle names second
                a, b = b, a
            entries.append((a, b, reason))
        taken |= pairs
    return entries
