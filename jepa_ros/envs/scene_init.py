"""A scene YAML for a physical arm, from its URDF (`jepa-ros scene init`).

It names the URDF, the controlled joints (checked against the URDF, in chain order), the
end-effector link, the joint ranges (the URDF limits; [-pi, pi] for continuous joints) and the
camera topic with the image size the model sees. It has no simulator-only fields (no camera
pose, floor model, colours or lighting): `sim_node` and `jepa-ros collect` refuse it, and every
other command reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
import difflib
import os
from pathlib import Path

import yaml

from jepa_ros.envs.scene import load_scene, SceneConfig, SceneError
from jepa_ros.envs.urdf import read_urdf, UrdfError, UrdfModel


def chain_to(urdf: UrdfModel, link: str) -> list[str]:
    """The joints from the root to `link`, root first."""
    by_child = {j.child: j for j in urdf.joints}
    chain = []
    while link in by_child:
        chain.append(by_child[link].name)
        link = by_child[link].parent
    return chain[::-1]


def chain_tip(urdf: UrdfModel, joint: str) -> str:
    """The link at the end of the chain below `joint`: its child, followed down while the
    link has exactly one child joint (a hand that branches into fingers ends there)."""
    link = urdf.joint(joint).child
    while True:
        below = [j for j in urdf.joints if j.parent == link]
        if len(below) != 1:
            return link
        link = below[0].child


def check_joint_names(urdf: UrdfModel, joints: Sequence[str]) -> None:
    """A one-line SceneError for a name that is not a movable joint, with the closest match."""
    movable = urdf.movable_joints
    for name in joints:
        if name not in movable:
            close = difflib.get_close_matches(name, movable, n=1)
            hint = f'; did you mean {close[0]!r}?' if close else ''
            raise SceneError(
                f'joint {name!r} is not a movable joint of URDF {urdf.name!r} '
                f'(it has: {", ".join(movable)}){hint}'
            )
    if len(set(joints)) != len(joints):
        raise SceneError(f'joints are named twice: {list(joints)}')


def arm_scene(
    urdf_path: str | Path,
    joints: Sequence[str],
    camera_topic: str,
    out: str | Path,
    name: str = '',
    ee_link: str = '',
    size: tuple[int, int] = (96, 96),
    max_step_rad: float = 0.05,
) -> SceneConfig:
    """Write the scene YAML `out` for the arm of `urdf_path` and return it, loaded back.

    `joints`: the controlled joints (any order; written in chain order). `ee_link`: default the
    tip of the chain below the last of them. `size`: (width, height) of the model's images.
    """
    urdf_path, out = Path(urdf_path), Path(out)
    try:
        urdf = read_urdf(urdf_path)
    except UrdfError as exc:
        raise SceneError(str(exc)) from None
    if not joints:
        raise SceneError('name at least one controlled joint (--joints)')
    check_joint_names(urdf, joints)
    ordered = sorted(joints, key=lambda j: len(chain_to(urdf, urdf.joint(j).child)))
    ee_link = ee_link or chain_tip(urdf, ordered[-1])
    if ee_link not in urdf.links:
        close = difflib.get_close_matches(ee_link, sorted(urdf.links), n=1)
        hint = f'; did you mean {close[0]!r}?' if close else ''
        raise SceneError(f'link {ee_link!r} is not in URDF {urdf.name!r}{hint}')
    chain = chain_to(urdf, ee_link)
    off_chain = [j for j in ordered if j not in chain]
    if off_chain:
        raise SceneError(
            f'joints {off_chain} are not on the chain from the base to {ee_link!r} '
            f'({", ".join(chain)})'
        )
    ranges = {j: list(urdf.joint(j).bounds) for j in ordered}
    home = {}
    for joint in urdf.movable_joints:
        lower, upper = urdf.joint(joint).bounds
        home[joint] = 0.0 if lower <= 0.0 <= upper else round((lower + upper) / 2, 6)
    width, height = size
    out.parent.mkdir(parents=True, exist_ok=True)
    relative = os.path.relpath(urdf_path.resolve(), out.parent.resolve())
    text = _scene_text(
        {
            'name': name or urdf.name,
            'robot_urdf': relative,
            'ee_link': ee_link,
            'controlled_joints': ordered,
            'home': home,
            'sample_ranges': ranges,
            'proprio_links': [ee_link],
            'max_step_rad': max_step_rad,
            'cameras': [
                {'name': 'camera', 'topic': camera_topic, 'width': width, 'height': height}
            ],
        }
    )
    tmp = out.with_name(f'.{out.name}.tmp')
    tmp.write_text(text)
    try:
        scene = load_scene(tmp)
        scene.check_against_urdf()
    except SceneError:
        tmp.unlink()
        raise
    os.replace(tmp, out)
    return load_scene(out)


COMMENTS = {
    'robot_urdf': 'The URDF, relative to this file. Forward kinematics of its chain gives the '
    'end-effector position\n# (training target, workspace box).',
    'controlled_joints': 'The joints the actor moves, base first: one action component each.',
    'home': 'Joints that are not controlled hold these values in forward kinematics.',
    'sample_ranges': 'Exploration and goals stay in these ranges (rad or m): the URDF limits '
    '(continuous: +-pi).\n# NARROW THEM to what is safe around your arm '
    'before exploring.',
    'max_step_rad': 'Largest joint change per action (rad): start small on hardware.',
    'cameras': "The camera driver's image topic, and the size the model sees (images are "
    'centre-cropped and resized).',
}


def _scene_text(data: dict) -> str:
    lines = [
        '# jepa_ros scene for a physical arm (jepa-ros scene init). Every field is documented in',
        '# jepa_ros/envs/scene.py (SceneConfig, CameraConfig).',
    ]
    for key, value in data.items():
        if key in COMMENTS:
            lines.append('# ' + COMMENTS[key])
        lines.append(yaml.safe_dump({key: value}, sort_keys=False, width=99).rstrip())
    return '\n'.join(lines) + '\n'
