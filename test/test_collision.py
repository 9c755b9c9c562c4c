"""Collision checking in the gate (jepa_ros/collision.py), the obstacle scene, the sampled
allowed-collision list, the simulator's contact report and the planner's clearance cost."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from jepa_ros.collision import allowed_collisions, CollisionModel
from jepa_ros.cost.clearance import ObstacleClearance, signed_distance
from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene, ObstacleConfig, scene_from_dict, SceneError
from jepa_ros.evaluation import scene_guardrails
from jepa_ros.guardrails import Proposal, Reason

SCENE = load_scene('panda_obstacle')
HOME = np.array([SCENE.home[n] for n in SCENE.controlled_joints])
# Joint 1 swings the arm from one side of the box to the other, low over the floor
LEFT, RIGHT = np.array([-0.9, 0.6, -2.0, 2.0]), np.array([0.9, 0.6, -2.0, 2.0])
INTO_BOX = np.array([0.0, 0.6, -2.0, 2.0])
NEAR_BOX = np.array([0.0, 0.6, -1.6, 1.6])  # the fingers just touch its top


@pytest.fixture(scope='module')
def model():
    model = CollisionModel(SCENE, SCENE.controlled_joints)
    yield model
    model.close()


def test_the_box_is_seen_where_it_is_and_only_there(model):
    assert model.contacts(HOME) == []
    assert model.contacts(LEFT) == [] and model.contacts(RIGHT) == []
    hits = model.contacts(INTO_BOX)
    assert hits and all(c.b == 'box' for c in hits)
    assert hits[0].distance_m < 0  # the hand is inside it


def test_a_path_between_two_clear_poses_that_crosses_the_box_is_refused(model):
    point, contact = model.check_path(LEFT, RIGHT[None])
    assert point == 0 and contact.b == 'box'
    # Both ends are clear: the segment check is what catches it, and at any sampling resolution
    # (conservative advancement steps by the clearance, not by the resolution)
    assert model.contacts(LEFT) == [] == model.contacts(RIGHT)
    coarse = CollisionModel(SCENE, SCENE.controlled_joints, resolution_rad=10.0)
    try:
        assert coarse.check_path(LEFT, RIGHT[None])[1].b == 'box'
    finally:
        coarse.close()
    # Over the box (the shoulder raised first) the same swing is clear
    over = np.array([[-0.9, 0.0, -1.6, 2.0], [0.9, 0.0, -1.6, 2.0]])
    assert model.check_path(LEFT, over) is None


def test_the_reach_bounds_how_far_any_point_of_a_link_moves(model):
    """Each link's reach from each joint bounds its motion: sampled link surfaces (the
    closest points to a far-away probe) move no more than the bound for any joint change."""
    reach = model.reach
    assert np.all(reach['panda_link1'][1:] == 0) and reach['panda_link1'][0] > 0
    hand = reach['panda_hand']
    assert np.all(hand > 0) and hand[0] > hand[3], 'the hand is farther from joint 1 than 4'
    rng = np.random.default_rng(0)
    client, robot = model.client, model.robot
    links = {name: i for i, name in model.distances.names.items()}
    for _ in range(50):
        q0 = rng.uniform(-1.5, 1.5, 4)
        q1 = q0 + rng.uniform(-0.3, 0.3, 4)
        for name in ('panda_hand', 'panda_link5', 'panda_leftfinger'):
            corners = []
            for q in (q0, q1):  # the link's bounding-box centre moves like a point on it
                model.set_joints(q)
                low, high = client.getAABB(robot, links[name])
                corners.append((np.array(low) + np.array(high)) / 2)
            moved = np.linalg.norm(corners[1] - corners[0])
            assert moved <= reach[name] @ np.abs(q1 - q0) + 1e-6, name


def test_no_pair_comes_within_its_margin_between_checked_configurations(model):
    """Segments the check passes, swept at 0.002 rad: no pair within its margin anywhere."""
    rng = np.random.default_rng(1)
    lower, upper = np.array([-2.5, -1.5, -2.8, 0.2]), np.array([2.5, 1.6, -0.2, 3.5])
    passed = 0
    while passed < 40:
        q0 = rng.uniform(lower, upper)
        if model.contacts(q0):
            continue
        q1 = np.clip(q0 + rng.uniform(-0.4, 0.4, 4), lower, upper)
        if model.check_path(q0, q1[None]) is not None:
            continue
        passed += 1
        steps = int(np.ceil(np.max(np.abs(q1 - q0)) / 0.002))
        for k in range(steps + 1):
            assert model.contacts(q0 + (q1 - q0) * k / steps) == [], (q0, q1, k)


def test_an_arm_already_too_close_may_move_away_but_not_closer(model):
    near = NEAR_BOX
    assert [c.b for c in model.contacts(near)] == ['box'] * 3
    assert model.check_path(near, (near - [0, 0.1, 0, 0])[None]) is None  # up, away
    hit = model.check_path(near, (near + [0, 0.05, 0, 0])[None])  # down, closer
    assert hit is not None and hit[1].b == 'box'


def test_self_collision_is_checked_and_adjacent_links_are_not():
    scene = load_scene('panda')
    model = CollisionModel(scene, scene.controlled_joints)
    try:
        # The hand folded back onto the base (found by sampling the goal ranges)
        folded = np.array([-0.24, 0.96, -2.78, 1.53])
        pairs = {frozenset((c.a, c.b)) for c in model.contacts(folded)}
        assert frozenset(('panda_link0', 'panda_hand')) in pairs
        # Adjacent links touch at their joint by design: never reported
        assert not any(model.contacts(q, 0.0) for q in (HOME, LEFT))
    finally:
        model.close()


def test_the_stored_allowed_list_is_what_sampling_gives():
    scene = load_scene('panda')
    sampled = allowed_collisions(scene, samples=2000, seed=0)
    reasons = {frozenset(e[:2]): e[2] for e in sampled}
    stored = {frozenset(e[:2]): e[2] for e in scene.allowed_collisions}
    assert reasons[frozenset(('panda_link0', 'panda_link1'))] == 'adjacent'
    assert reasons[frozenset(('panda_link0', 'floor'))] == 'always'
    # Pairs that do collide in the joint range are never allowed
    assert frozenset(('panda_link1', 'panda_leftfinger')) not in reasons
    # Fewer samples can only call more pairs "never"; the adjacent ones are the same
    assert set(stored) <= set(reasons)
    assert {p for p, r in stored.items() if r == 'adjacent'} == {
        p for p, r in reasons.items() if r == 'adjacent'
    }


def test_obstacles_are_validated_with_one_line_errors():
    with pytest.raises(SceneError, match='box needs 3 positive sizes'):
        ObstacleConfig('b', 'box', (0, 0, 0), (0.1, 0.2))
    with pytest.raises(SceneError, match='shape must be one of'):
        ObstacleConfig('b', 'cone', (0, 0, 0), (0.1,))
    with pytest.raises(SceneError, match="other than 'floor'"):
        ObstacleConfig('floor', 'sphere', (0, 0, 0), (0.1,))
    data = SCENE.to_dict()
    data['allowed_collisions'] = [['panda_link0', 'panda_lnk1', 'adjacent']]
    with pytest.raises(SceneError, match="'panda_lnk1'"):
        scene_from_dict(data, SCENE.base_dir).check_against_urdf()
    assert scene_from_dict(SCENE.to_dict(), SCENE.base_dir) == SCENE


def test_the_gate_refuses_a_command_into_the_box_and_names_it():
    gate = scene_guardrails(SCENE)
    names = SCENE.controlled_joints
    assert gate.collision.contacts(LEFT) == []  # a few cm from the box's side
    command, interventions = gate.apply(Proposal(names, [LEFT + [0.1, 0, 0, 0]], [0.1]),
                                        dict(zip(names, LEFT)))  # fmt: skip
    assert command is None
    assert interventions[0].reason is Reason.COLLISION
    assert interventions[0].values['b'] == 'box' and 'box' in interventions[0].detail
    # Away from the box the same gate passes
    command, _ = gate.apply(Proposal(names, [LEFT - [0.1, 0, 0, 0]], [0.1]),
                            dict(zip(names, LEFT)))  # fmt: skip
    assert command is not None
    # Toward the box and up: the swing toward it is held, the rest of the step goes on (the arm
    # slides along the margin instead of stopping), and what goes is checked like any command
    step = np.array([0.1, -0.08, 0.0, 0.05])
    command, interventions = gate.apply(Proposal(names, [LEFT + step], [0.1]),
                                        dict(zip(names, LEFT)))  # fmt: skip
    assert [i.reason for i in interventions] == [Reason.CLAMP_COLLISION]
    assert 'panda_joint1' in interventions[0].values['held']
    moved = command.positions[0] - LEFT
    assert moved[0] == 0 and np.abs(moved).sum() > 0
    assert gate.collision.check_path(LEFT, command.positions) is None


def test_the_simulator_reports_contacts_and_blocks_the_move():
    with ArmWorld(SCENE) as world:
        world.reset(LEFT)
        assert world.touching() == []
        for _ in range(10):
            world.move(np.array([0.1, 0, 0, 0]))  # toward the box, low
        assert world.contact_moves > 0
        assert any(c.b == 'box' for c in world.contacts)
        assert world.touching() == []  # the refused moves left it clear


def test_an_arm_started_in_contact_may_move_apart_but_not_deeper():
    """A start pose sampled with the fingers inside the base (seed 4000's first eval pair):
    moves that separate them go through, one that presses in is blocked and counted."""
    inside = np.array([0.868, 0.418, -2.777, 1.668])
    with ArmWorld(load_scene('panda')) as world:
        world.reset(inside)
        depth = {c.pair: c.distance_m for c in world.touching()}
        assert depth and all(d < 0 for d in depth.values())
        deeper = world.move(np.array([0, 0, -0.05, 0]))
        assert not deeper.any() and world.contact_moves == 1 and world.contacts
        for _ in range(2):  # out, twice (the second from what the first one measured)
            assert world.move(np.array([0, 0, 0.05, 0])).any()
        assert world.contact_moves == 1
        now = {c.pair: c.distance_m for c in world.touching()}
        assert all(now.get(pair, np.inf) > d for pair, d in depth.items())


def test_goals_keep_clear_of_the_box():
    with ArmWorld(SCENE, seed=3) as world:
        for _ in range(20):
            world.reset(world.sample_configuration())
            assert not world.near_obstacle(0.03)


def test_signed_distance_of_each_shape():
    points = torch.tensor([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.0, 0.5]]],
                          dtype=torch.float64)  # fmt: skip
    box = ObstacleConfig('b', 'box', (0, 0, 0), (0.2, 0.4, 0.6))
    torch.testing.assert_close(signed_distance(points, box)[0],
                               torch.tensor([-0.1, 0.2, 0.2], dtype=torch.float64))  # fmt: skip
    sphere = ObstacleConfig('s', 'sphere', (0, 0, 0), (0.1,))
    torch.testing.assert_close(signed_distance(points, sphere)[0],
                               torch.tensor([-0.1, 0.2, 0.4], dtype=torch.float64))  # fmt: skip
    cylinder = ObstacleConfig('c', 'cylinder', (0, 0, 0), (0.1, 0.6), rpy=(0.0, 0.0, 0.0))
    torch.testing.assert_close(signed_distance(points, cylinder)[0],
                               torch.tensor([-0.1, 0.2, 0.2], dtype=torch.float64))  # fmt: skip
    turned = replace(box, rpy=(0.0, 0.0, np.pi / 2))  # now 0.4 long in x
    assert signed_distance(points, turned)[0, 1].item() == pytest.approx(0.1)


def test_the_clearance_cost_is_zero_when_clear_and_grows_into_the_box():
    cost = ObstacleClearance(SCENE, SCENE.obstacles)
    joints = torch.tensor(np.stack([HOME, LEFT, NEAR_BOX, INTO_BOX]))
    values = cost(joints)
    assert values[1] == 0  # clear of the box by more than a sphere and the margin
    assert values[0] < values[2] < values[3]  # home is near it: the spheres are conservative
