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
    raw_function,
)  # fmt: skip
from jepa_ros.envs.scene import FLOOR, SceneConfig

TOLERANCE_M = 1e-3  # a clearance below this counts as within the margin (path checks)
MAX_HORIZON_M = 0.25  # pairs are measured up to this beyond their margin, no farther
MAX_CONFIGURATIONS = 200  # per segment: a path grazing a margin all along is refused
PRISMATIC, FIXED = 1, 4  # pybullet's JOINT_PRISMATIC, JOINT_FIXED


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
        self._reset = raw_function(self.client, 'resetJointState')
        self._start: tuple[bytes, float, list[Contact]] | None = None  # see `_within`
        for name, value in scene.home.items():
            self.client.resetJointState(self.robot, index[name], float(value))
        self.obstacle_names = frozenset(obstacles)
        self.tolerance_m = TOLERANCE_M
        self.reach = self._reach()
        self._max_reach = np.max(np.stack(list(self.reach.values())), axis=0)
        self._floor_moving = self._moves_height()

    def _moves_height(self) -> np.ndarray:
        """(A,) 0 for a joint that cannot change any height, else 1: a revolute joint with no
        moving joint before it (its axis fixed in the world, like most arms' first joint) and
        a vertical axis moves nothing toward or away from the floor."""
        client, robot = self.client, self.robot
        scale = np.ones(len(self._indices))
        for k, i in enumerate(self._indices):
            info = client.getJointInfo(robot, i)
            parent, fixed_before = info[16], True
            while parent >= 0:
                fixed_before &= client.getJointInfo(robot, parent)[2] == FIXED
                parent = client.getJointInfo(robot, parent)[16]
            if fixed_before and info[2] != PRISMATIC:
                rotation = client.getMatrixFromQuaternion(client.getLinkState(robot, i)[5])
                axis = np.array(rotation).reshape(3, 3) @ np.array(info[13])
                if abs(axis[2]) > (1 - 1e-9) * np.linalg.norm(axis):
                    scale[k] = 0.0
        return scale

    def _reach(self, poses: int = 16) -> dict[str, np.ndarray]:
        """For each link with geometry, (A,): how far any point of it can be from each
        controlled joint's axis, in any configuration (0 for joints that do not move it; 1 m per
        m for a prismatic joint). A bound, not a sample:
        - from the nearest controlled joint above the link (the link is rigid to its axis): the
          largest distance of the link's bounding-box corners from that axis (the box holds the
          geometry, and a distance to a line is largest at a corner);
        - from a joint farther up: the link's radius about its own origin (its box's farthest
          corner) plus the fixed distances from joint origin to joint origin down the chain.
        Each holds at any pose; the smallest over a few poses is taken (a box aligned with the
        link is tighter). The client is back at home afterwards."""
        client, robot = self.client, self.robot
        names = self.distances.names
        parent = {i: client.getJointInfo(robot, i)[16] for i in names if i >= 0}

        def origin(i: int) -> np.ndarray:
            if i < 0:
                return np.array(client.getBasePositionAndOrientation(robot)[0])
            return np.array(client.getLinkState(robot, i)[4])  # the joint's origin

        def axis(i: int) -> np.ndarray:
            rotation = client.getMatrixFromQuaternion(client.getLinkState(robot, i)[5])
            return np.array(rotation).reshape(3, 3) @ np.array(client.getJointInfo(robot, i)[13])

        def corners(link: int) -> np.ndarray:
            low, high = client.getAABB(robot, link)
            return np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                             for z in (low[2], high[2])])  # fmt: skip

        def nearest_controlled(link: int) -> int | None:
            i = link
            while i >= 0 and i not in self._indices:
                i = parent[i]
            return i if i >= 0 else None

        offset = {i: float(np.linalg.norm(origin(i) - origin(parent[i]))) for i in parent}
        home = np.array([client.getJointState(robot, i)[0] for i in self._indices])
        rng = np.random.default_rng(0)
        limits = [client.getJointInfo(robot, i)[8:10] for i in self._indices]
        low = np.array([lo if lo < hi else -math.pi for lo, hi in limits])
        high = np.array([hi if lo < hi else math.pi for lo, hi in limits])
        radius = {link: math.inf for link in self.distances.shaped}
        to_axis = dict(radius)
        for pose in [home, *rng.uniform(low, high, (poses, len(low)))]:
            self.set_joints(pose)
            for link in self.distances.shaped:
                box = corners(link)
                radius[link] = min(
                    radius[link], float(np.max(np.linalg.norm(box - origin(link), axis=1)))
                )
                j = nearest_controlled(link)
                if j is not None:
                    u, relative = axis(j), box - origin(j)
                    off_axis = relative - np.outer(relative @ u, u)
                    to_axis[link] = min(
                        to_axis[link], float(np.max(np.linalg.norm(off_axis, axis=1)))
                    )
        self.set_joints(home)
        reach = {}
        for link in self.distances.shaped:
            row = np.zeros(len(self._indices))
            nearest, i, length = nearest_controlled(link), link, radius[link]
            while i >= 0:
                if i in self._indices:
                    prismatic = client.getJointInfo(robot, i)[2] == PRISMATIC
                    row[self._indices.index(i)] = (
                        1.0 if prismatic else to_axis[link] if i == nearest else length
                    )
                length += offset[i]
                i = parent[i]
            reach[names[link]] = row
        return reach

    def set_joints(self, joints: np.ndarray) -> None:
        self._start = None  # the pose changes: `_within`'s answer no longer holds
        reset, robot = self._reset, self.robot
        for i, value in zip(self._indices, joints):
            reset(robot, i, float(value))

    def contacts(self, joints: np.ndarray, distance_m: float | None = None) -> list[Contact]:
        """Pairs closer than their margin (or than `distance_m`, for all) at `joints` (A,),
        nearest first."""
        self.set_joints(joints)
        if distance_m is not None:
            return self.distances.within(distance_m, distance_m)
        return self.distances.within(self.self_min_distance_m, self.min_distance_m)

    def check_path(self, start: np.ndarray, points: np.ndarray) -> tuple[int, Contact] | None:
        """Check each segment start -> points[0] -> points[1] ... by conservative advancement:
        from each checked configuration, step no further than the nearest pair's clearance
        (its distance less its margin) allows, given how far any point of the two bodies can
        move relative to each other for that joint change (`motion_bound`). So no pair comes
        within its margin anywhere along the segment, not only at the checked configurations.
        A clearance below `tolerance_m` counts as a violation (the steps would vanish).
        A pair already closer than its margin at `start` may stay so while it does not come
        closer (the arm may move away from where it is); it is checked at configurations at most
        `resolution_rad` apart, not conservatively.
        """
        start = np.asarray(start, dtype=float)
        points = np.asarray(points, dtype=float).reshape(-1, len(self._indices))
        already: dict[PairKey, float] | None = None  # filled at the start's configuration
        previous = start
        for p, point in enumerate(points):
            contact, already = self._check_segment(previous, point, already)
            if contact is not None:
                return p, contact
            previous = point
        return None

    def _check_segment(
        self, q0: np.ndarray, q1: np.ndarray, already: dict[PairKey, float] | None
    ) -> tuple[Contact | None, dict[PairKey, float]]:
        """The first contact on q0 -> q1, and `already` (from q0 if it was None: the start)."""
        delta = q1 - q0
        largest = float(np.max(np.abs(delta)))
        rates = np.abs(delta)  # joint change per unit of the segment's parameter t
        t, end_checked = 0.0, False
        for _ in range(MAX_CONFIGURATIONS):
            contact, free, already, nearest = self._violation(
                q0 + t * delta, already, rates, 1.0 - t
            )
            if contact is not None or t >= 1.0:
                return contact, already
            # Pairs already within their margin are sampled at the resolution; others need not
            cap = self.resolution_rad / largest if already and largest > 0 else 1.0
            step = min(free, cap)
            if not end_checked and t + step < 1.0:
                # The end next: a step that ends too close is refused without the steps between
                end_checked = True
                contact = self._violation(q1, already, rates, 0.0)[0]
                if contact is not None:
                    return contact, already
            t = min(1.0, t + step)
            if t >= 1.0 and end_checked:
                return None, already
        return nearest, already  # grazing a margin all along: not proven clear, refused

    def _violation(
        self,
        joints: np.ndarray,
        already: dict[PairKey, float] | None,
        rates: np.ndarray,
        remaining: float,
    ) -> tuple[Contact | None, float, dict[PairKey, float], Contact | None]:
        """At `joints`: the first pair within its margin (or closer than it already was), how
        far along the segment (in t) every pair is sure to stay clear of its margin, `already`
        (the pairs within their margin here, if None was given: the start), and the pair that
        limits that advance (None: the horizon does).
        `rates` (A,): joint change per unit t; `remaining`: the rest of the segment in t."""
        fastest = self.max_motion(rates)  # m per unit t, any pair
        margin = max(self.self_min_distance_m, self.min_distance_m)
        # Pairs not reported are at least `horizon` apart: clear for the rest of the segment,
        # or for as far as the horizon allows
        horizon = margin + min(MAX_HORIZON_M, fastest * remaining + self.tolerance_m)
        found = self._within(joints, horizon)
        if already is None:
            already = {c.pair: c.distance_m for c in found
                       if c.distance_m < self.margin_of(c) + self.tolerance_m}  # fmt: skip
        free = (horizon - margin) / fastest if fastest > 0 else math.inf
        nearest = None
        for contact in found:
            previous = already.get(contact.pair)
            if previous is not None:  # sampled only: it may not come closer than it was
                if contact.distance_m < previous - 1e-4:
                    return contact, 0.0, already, contact
                continue
            if contact.distance_m < self.margin_of(contact) + self.tolerance_m:
                return contact, 0.0, already, contact
            rate = self.motion_bound(contact, rates)
            if rate > 0 and (contact.distance_m - self.margin_of(contact)) / rate < free:
                free, nearest = (contact.distance_m - self.margin_of(contact)) / rate, contact
        return None, free, already, nearest

    def _within(self, joints: np.ndarray, horizon: float) -> list[Contact]:
        """Pairs closer than `horizon` at `joints`. The start of a path is asked again for each
        step the gate tries after a refusal: its answer (to the farthest horizon asked) is
        kept until another configuration is posed."""
        key = np.asarray(joints, dtype=float).tobytes()
        cached = self._start
        if cached is not None and cached[0] == key and cached[1] >= horizon:
            return [c for c in cached[2] if c.distance_m < horizon]
        self.set_joints(joints)
        found = self.distances.within(horizon, horizon)
        self._start = (key, horizon, found)
        return found

    def margin_of(self, contact: Contact) -> float:
        return (
            self.min_distance_m if contact.b in self.obstacle_names else self.self_min_distance_m
        )

    def motion_bound(self, contact: Contact, rates: np.ndarray) -> float:
        """How fast (m per unit of `rates`) the two bodies of `contact` can approach: for a
        link and an obstacle, the link's reach from each joint that moves it; for two links,
        the sum for the joints that move one of them but not both (a joint moving both moves
        them rigidly together); for the floor, not the joints that cannot change a height."""
        a = self.reach[contact.a]
        if contact.b == FLOOR:
            return float((a * self._floor_moving) @ rates)
        if contact.b in self.obstacle_names:
            return float(a @ rates)
        b = self.reach[contact.b]
        one = (a > 0) != (b > 0)
        return float((a + b)[one] @ rates[one])

    def approach(self, contact: Contact, delta: np.ndarray) -> np.ndarray:
        """(A,) how much each joint's change `delta` (A,) can bring `contact`'s pair closer, at
        most (the terms of `motion_bound`)."""
        rates = np.abs(np.asarray(delta, dtype=float))
        return np.array([self.motion_bound(contact, np.where(np.arange(len(rates)) == i,
                                                             rates, 0.0))
                         for i in range(len(rates))])  # fmt: skip

    def max_motion(self, rates: np.ndarray) -> float:
        """An upper bound of `motion_bound` over every pair."""
        return 2.0 * float(self._max_reach @ rates)

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
        bounds = np.array([urdf.joint(name).bounds for name in scene.controlled_joints])
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
