"""Distances between an arm's links and the bodies around it, in a pybullet client: what the
guardrail's collision check (`jepa_ros.collision`) and the simulator's contact report share.

Glossary: A controlled joints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
import functools
import os
import sys
from typing import Any

from jepa_ros.envs.scene import ObstacleConfig

PairKey = frozenset  # {name_a, name_b}: a link pair or a (link, obstacle) pair


@dataclass(frozen=True)
class Contact:
    """Two named bodies (link, link) or (link, obstacle) at a signed distance (m; < 0: they
    overlap)."""

    a: str
    b: str
    distance_m: float

    @property
    def pair(self) -> PairKey:
        return frozenset((self.a, self.b))

    def describe(self) -> str:
        return f'{self.a} and {self.b} {self.distance_m * 100:.1f} cm apart'


@contextmanager
def quiet_c_output() -> Iterator[None]:
    """Silence what PyBullet's C code prints on import and connect (build time, argv[0]), so a
    node's output stays its own."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no such descriptors: nothing to silence
        yield
        return
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def connect_geometry_client():
    """A pybullet DIRECT client used only for geometry queries."""
    with quiet_c_output():
        import pybullet
        from pybullet_utils.bullet_client import BulletClient

        return BulletClient(connection_mode=pybullet.DIRECT)


def add_obstacle(client, obstacle: ObstacleConfig, visual: bool) -> int:
    """Create `obstacle` as a static body (with its visual shape if `visual`); its body id."""
    import pybullet

    kind = {'box': pybullet.GEOM_BOX, 'cylinder': pybullet.GEOM_CYLINDER,
            'sphere': pybullet.GEOM_SPHERE}[obstacle.shape]  # fmt: skip
    size = obstacle.size
    shape_args = {
        'box': {'halfExtents': [v / 2 for v in size]},
        'cylinder': {'radius': size[0], 'height': size[1]},
        'sphere': {'radius': size[0]},
    }[obstacle.shape]
    collision = client.createCollisionShape(kind, **shape_args)
    visual_id = -1
    if visual:
        visual_args = dict(shape_args)
        if obstacle.shape == 'cylinder':
            visual_args['length'] = visual_args.pop('height')
        visual_id = client.createVisualShape(kind, rgbaColor=list(obstacle.rgba), **visual_args)
    orientation = client.getQuaternionFromEuler(list(obstacle.rpy))
    return client.createMultiBody(0.0, collision, visual_id, list(obstacle.position), orientation)


class LinkDistances:
    """Closest distances in a pybullet client between a robot's links and between its links and
    obstacle bodies, skipping the pairs in `skip`. The robot's pose is whatever the client has.

    Link pairs are queried one by one (a few microseconds each, after the skip list), which
    measured faster than one query of the robot against itself, whose pairs pybullet cannot
    skip; each obstacle is one query against the whole robot.
    """

    def __init__(self, client, robot: int, obstacles: Mapping[str, int], skip: Iterable[PairKey]):
        self.client = client
        self.robot = robot
        self.obstacles = dict(obstacles)
        self.names = {-1: client.getBodyInfo(robot)[0].decode()}
        for i in range(client.getNumJoints(robot)):
            self.names[i] = client.getJointInfo(robot, i)[12].decode()
        self.shaped = [i for i in self.names if client.getCollisionShapeData(robot, i)]
        self._query = raw_function(client, 'getClosestPoints')
        self.set_skip(skip)

    def set_skip(self, skip: Iterable[PairKey]) -> None:
        self.skip = set(skip)
        shaped, names = self.shaped, self.names
        self.link_pairs = [(a, b) for n, a in enumerate(shaped) for b in shaped[n + 1:]
                           if frozenset((names[a], names[b])) not in self.skip]  # fmt: skip

    def within(self, self_m: float, obstacle_m: float) -> list[Contact]:
        """Every checked link pair closer than `self_m` and (link, obstacle) pair closer than
        `obstacle_m`, nearest first (one entry per pair)."""
        nearest: dict[PairKey, Contact] = {}

        def keep(a: str, b: str, distance: float) -> None:
            pair = frozenset((a, b))
            if pair in self.skip:
                return
            if pair not in nearest or distance < nearest[pair].distance_m:
                nearest[pair] = Contact(a, b, distance)

        query, robot = self._query, self.robot
        for a, b in self.link_pairs:
            for point in query(robot, robot, self_m, linkIndexA=a, linkIndexB=b):
                keep(self.names[a], self.names[b], point[8])
        for name, body in self.obstacles.items():
            for point in query(robot, body, obstacle_m):
                keep(self.names[point[3]], name, point[8])
        return sorted(nearest.values(), key=lambda c: c.distance_m)


def raw_function(client, name: str) -> Callable[..., Any]:
    """pybullet's `name` bound to `client`'s connection: a third cheaper per call than through
    the BulletClient wrapper (a dictionary lookup and a partial each time), which counts in
    the collision checks' tight loops."""
    cid = getattr(client, '_client', None)
    if cid is None:
        return getattr(client, name)
    import pybullet

    return functools.partial(getattr(pybullet, name), physicsClientId=cid)


def adjacent_pairs(client, robot: int, names: Mapping[int, str]) -> set[PairKey]:
    """Each link with geometry and its nearest ancestor with geometry (links without collision
    shapes in between, like a flange, do not separate them)."""
    has_shape = {i: bool(client.getCollisionShapeData(robot, i)) for i in names}
    pairs = set()
    for i in names:
        if i < 0 or not has_shape[i]:
            continue
        parent = client.getJointInfo(robot, i)[16]
        while parent >= 0 and not has_shape[parent]:
            parent = client.getJointInfo(robot, parent)[16]
        if parent >= 0 or has_shape[-1]:
            pairs.add(frozenset((names[i], names[parent])))
    return pairs
