"""The simulated arm: PyBullet DIRECT, kinematic joint-position control, CPU-rendered cameras.

Glossary: A controlled joints (action dim), V cameras, H x W image size.

The arm is moved kinematically: a command sets the joint positions it asks for (after clipping),
as a well-tuned position controller would reach them within one control tick. A command that would
put a link into the floor is not executed (the arm stays). There is no self-collision check.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import numpy as np

from jepa_ros.envs.geometry import (
    add_obstacle,
    adjacent_pairs,
    Contact,
    LinkDistances,
    quiet_c_output,
)
from jepa_ros.envs.scene import FLOOR, SceneConfig, SceneError
from jepa_ros.limits import JointLimits

MAX_SAMPLING_TRIES = 10_000


@dataclass(frozen=True)
class Observation:
    """What the robot senses: `images` (V, H, W, 3) uint8 RGB, `joints` (A,) float32 rad."""

    images: np.ndarray
    joints: np.ndarray

    @property
    def proprio(self) -> np.ndarray:
        """The proprio vector of the World protocol: the joints (A,)."""
        return self.joints


@dataclass(frozen=True)
class Goal:
    """A reachable goal: joint positions (A,), its images (V, H, W, 3) and, for evaluation
    only, the end-effector position (3,) in metres."""

    joints: np.ndarray
    images: np.ndarray
    ee_position: np.ndarray


GOAL_CLEARANCE_M = 0.04  # goals keep twice the guardrail's default obstacle margin


class ArmWorld:
    """One arm in one scene. Construct, `reset`, then `step(action)` with joint deltas (a
    `World`: jepa_ros/envs/world.py)."""

    def __init__(self, scene: SceneConfig, seed: int = 0) -> None:
        physical = [c.name for c in scene.cameras if not c.simulated]
        if physical:
            raise SceneError(
                f"scene {scene.name!r} is a physical arm's (camera {physical[0]!r} is a topic, "
                'with no eye/target): there is nothing to simulate'
            )
        self.scene = scene
        self.rng = np.random.default_rng(seed)
        with quiet_c_output():
            import pybullet
            from pybullet_utils.bullet_client import BulletClient

            self._sim = BulletClient(connection_mode=pybullet.DIRECT)
        self._tiny_renderer = pybullet.ER_TINY_RENDERER
        self._floor = self._sim.loadURDF(str(scene.resolve(scene.floor_urdf)))
        self._robot = self._sim.loadURDF(str(scene.resolve(scene.robot_urdf)), useFixedBase=True)
        self._joint_index, self._link_index = self._index_joints_and_links()
        self._controlled = [self._joint_index[name] for name in scene.controlled_joints]
        limits = [self._sim.getJointInfo(self._robot, i)[8:10] for i in self._controlled]
        self.limits = JointLimits(
            lower=np.array([lo for lo, _ in limits]),
            upper=np.array([hi for _, hi in limits]),
            max_step=scene.max_step_rad,
        )
        self._ee = self._link_index[scene.ee_link]
        self._obstacles = {o.name: add_obstacle(self._sim, o, visual=True)
                           for o in scene.obstacles}  # fmt: skip
        # Touching: every pair but those that touch by design (adjacent, at home, always)
        touching_ok = {frozenset((a, b)) for a, b, why in scene.allowed_collisions
                       if why != 'never'}  # fmt: skip
        self._touching = LinkDistances(self._sim, self._robot,
                                       {FLOOR: self._floor, **self._obstacles}, ())  # fmt: skip
        self._touching.set_skip(
            touching_ok | adjacent_pairs(self._sim, self._robot, self._touching.names)
        )
        self.contacts: list[Contact] = []  # what the last move would have touched
        self._touching_now: list[Contact] | None = None  # `touching()` at the pose, if known
        self.contact_moves = 0  # moves refused because they would have touched something
        for link, rgba in scene.link_colors.items():
            self._sim.changeVisualShape(self._robot, self._link_index[link], rgbaColor=rgba)
        self._cameras = [self._camera_matrices(c) for c in scene.cameras]
        self.reset()

    # --- setup -------------------------------------------------------------------------------
    def _index_joints_and_links(self) -> tuple[dict[str, int], dict[str, int]]:
        joints, links = {}, {}
        for i in range(self._sim.getNumJoints(self._robot)):
            info = self._sim.getJointInfo(self._robot, i)
            joints[info[1].decode()] = i
            links[info[12].decode()] = i
        return joints, links

    def _camera_matrices(self, camera) -> tuple:
        view = self._sim.computeViewMatrix(camera.eye, camera.target, camera.up)
        aspect = camera.width / camera.height
        projection = self._sim.computeProjectionMatrixFOV(
            camera.fov_deg, aspect, camera.near, camera.far
        )
        return camera, view, projection

    # --- state -------------------------------------------------------------------------------
    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.scene.controlled_joints

    @property
    def home_joints(self) -> np.ndarray:
        return np.array([self.scene.home.get(n, 0.0) for n in self.joint_names])

    def joints(self) -> np.ndarray:
        """Controlled joint positions (A,) float64."""
        return np.array([self._sim.getJointState(self._robot, i)[0] for i in self._controlled])

    def _set_joints(self, joints: np.ndarray) -> None:
        self._touching_now = None  # another pose: what it touches is not known yet
        for index, value in zip(self._controlled, joints):
            self._sim.resetJointState(self._robot, index, float(value))

    def ee_position(self) -> np.ndarray:
        """End-effector position (3,) in metres. Ground truth: for evaluation only."""
        state = self._sim.getLinkState(self._robot, self._ee, computeForwardKinematics=True)
        return np.array(state[4], dtype=np.float64)

    def touches_floor(self) -> bool:
        """True if any link past the first is within `floor_clearance_m` of the floor."""
        points = self._sim.getClosestPoints(self._robot, self._floor, self.scene.floor_clearance_m)
        return any(point[3] > 0 for point in points)

    def render(self) -> np.ndarray:
        """Images of every camera, (V, H, W, 3) uint8."""
        light = self.scene.lighting
        images = []
        for camera, view, projection in self._cameras:
            _, _, rgba, _, _ = self._sim.getCameraImage(
                camera.width,
                camera.height,
                view,
                projection,
                renderer=self._tiny_renderer,
                shadow=0,
                lightDirection=light.direction,
                lightAmbientCoeff=light.ambient,
                lightDiffuseCoeff=light.diffuse,
                lightSpecularCoeff=light.specular,
            )
            rgba = np.asarray(rgba, dtype=np.uint8).reshape(camera.height, camera.width, 4)
            images.append(rgba[:, :, :3])
        return np.stack(images)

    def observe(self) -> Observation:
        return Observation(images=self.render(), joints=self.joints().astype(np.float32))

    # --- acting ------------------------------------------------------------------------------
    def reset(self, joints: np.ndarray | None = None, seed: int | None = None) -> Observation:
        """Move to `joints` (A,), or home; reseed the goal sampler if `seed` is given."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self._touching_now = None
        for name, value in self.scene.home.items():
            self._sim.resetJointState(self._robot, self._joint_index[name], value)
        if joints is not None:
            self._set_joints(self._check_vector(joints, 'joints'))
        return self.observe()

    # --- the World protocol --------------------------------------------------------------------
    @property
    def action_low(self) -> np.ndarray:
        return np.full(self.scene.action_dim, -self.scene.max_step_rad)

    @property
    def action_high(self) -> np.ndarray:
        return np.full(self.scene.action_dim, self.scene.max_step_rad)

    def describe(self) -> dict[str, Any]:
        return {'scene': self.scene.to_dict()}

    def exploration_episode(self, config, seed: int, episode: int) -> dict[str, np.ndarray]:
        """Smooth random exploration from a random start (jepa_ros/data/exploration.py)."""
        from jepa_ros.data.exploration import arm_episode

        return arm_episode(self, config, seed, episode)

    def touching(self) -> list[Contact]:
        """Links touching or overlapping another link (not adjacent ones), the floor or an
        obstacle. Ground truth: for evaluation only."""
        return self._touching.within(0.0, 0.0)

    def move(self, action: np.ndarray) -> np.ndarray:
        """Apply a joint delta (A,) without rendering. Returns the delta actually applied (A,)
        float32: clipped to the step and joint limits, or zero if the move would hit the floor
        or make a contact (then `contacts` names it and `contact_moves` counts it): the arm is
        kinematic, so what it would touch blocks it. A pair already in contact (a start pose
        sampled there) may move apart, not deeper."""
        action = self._check_vector(action, 'action')
        joints = self.joints()
        applied = self.limits.clip(action, joints)
        # What the pose touches now: known from the last accepted move, else asked once
        now = self._touching_now if self._touching_now is not None else self.touching()
        before = {c.pair: c.distance_m for c in now}
        self._set_joints(joints + applied)
        after = self.touching()
        # An arm already in contact (a start sampled there) may move out, not deeper
        self.contacts = [c for c in after
                         if c.distance_m < before.get(c.pair, math.inf) - 1e-4]  # fmt: skip
        self.contact_moves += bool(self.contacts)
        if self.contacts or self.touches_floor():
            self._set_joints(joints)
            self._touching_now = now
            applied = np.zeros_like(applied)
        else:
            self._touching_now = after
        return applied.astype(np.float32)

    def step(self, action: np.ndarray) -> tuple[Observation, np.ndarray]:
        """`move`, then observe. Returns the new observation and the applied delta (A,)."""
        applied = self.move(action)
        return self.observe(), applied

    def _check_vector(self, value: np.ndarray, what: str) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if value.shape != (self.scene.action_dim,):
            raise ValueError(
                f'{what} must have shape ({self.scene.action_dim},) for joints '
                f'{list(self.joint_names)}, got {value.shape}'
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f'{what} has non-finite values: {value.tolist()}')
        return value

    # --- goals -------------------------------------------------------------------------------
    def near_obstacle(self, distance_m: float = GOAL_CLEARANCE_M) -> bool:
        """True if any link is within `distance_m` of one of the scene's obstacles."""
        return any(self._sim.getClosestPoints(self._robot, body, distance_m)
                   for body in self._obstacles.values())  # fmt: skip

    def is_valid_configuration(self) -> bool:
        """End-effector within the scene's height range, no link on the floor, and none near
        an obstacle (a goal the guardrail lets the arm reach)."""
        low, high = self.scene.ee_height_range
        return (low <= self.ee_position()[2] <= high and not self.touches_floor()
                and not self.near_obstacle())  # fmt: skip

    def sample_configuration(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """A random valid configuration (A,) from the scene's sample ranges. The arm stays put."""
        rng = self.rng if rng is None else rng
        current = self.joints()
        ranges = np.array([self.scene.sample_ranges[n] for n in self.joint_names])  # (A, 2)
        try:
            for _ in range(MAX_SAMPLING_TRIES):
                joints = rng.uniform(ranges[:, 0], ranges[:, 1])
                self._set_joints(joints)
                if self.is_valid_configuration():
                    return joints
        finally:
            self._set_joints(current)
        raise RuntimeError(
            f'no valid configuration in {MAX_SAMPLING_TRIES} draws: check sample_ranges '
            f'and ee_height_range of scene {self.scene.name!r}'
        )

    def sample_goal(self, rng: np.random.Generator | None = None) -> Goal:
        """Draw a reachable goal and render it; the arm stays where it was."""
        current = self.joints()
        joints = self.sample_configuration(rng)
        self._set_joints(joints)
        goal = Goal(joints=joints, images=self.render(), ee_position=self.ee_position())
        self._set_joints(current)
        return goal

    def close(self) -> None:
        self._sim.disconnect()

    def __enter__(self) -> ArmWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
