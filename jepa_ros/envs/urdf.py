"""Read the joints of a URDF without a simulator, so names and limits can be checked up front."""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
import xml.etree.ElementTree as ET


class UrdfError(ValueError):
    """A URDF that cannot be read, or that lacks something the scene asks for."""


@dataclass(frozen=True)
class UrdfJoint:
    """One `<joint>` of a URDF.

    `lower`/`upper` are the position limits (rad or m); `None` for joints without limits
    (fixed, continuous). `xyz`/`rpy` place the child frame in the parent's; `axis` is the
    joint axis in the child frame. `mimic` names the joint a mimic joint follows: it is not
    movable on its own (forward kinematics holds it at the scene's home value).
    """

    name: str
    type: str
    parent: str
    child: str
    lower: float | None
    upper: float | None
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    mimic: str | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """The position range to work in: the URDF limits, or [-pi, pi] for a continuous
        joint (the guardrail node still asks for explicit limits there)."""
        if self.lower is None or self.upper is None:
            return -math.pi, math.pi
        return self.lower, self.upper


@dataclass(frozen=True)
class UrdfModel:
    """The joints and links of one robot description."""

    name: str
    joints: tuple[UrdfJoint, ...]

    @property
    def links(self) -> frozenset[str]:
        return frozenset(j.child for j in self.joints) | frozenset(j.parent for j in self.joints)

    @property
    def movable_joints(self) -> tuple[str, ...]:
        """Joints that move on their own: revolute, continuous, prismatic, not mimic ones."""
        kinds = ('revolute', 'continuous', 'prismatic')
        return tuple(j.name for j in self.joints if j.type in kinds and j.mimic is None)

    def joint(self, name: str) -> UrdfJoint:
        for joint in self.joints:
            if joint.name == name:
                return joint
        raise UrdfError(
            f'joint {name!r} is not in URDF {self.name!r} '
            f'(movable joints: {", ".join(self.movable_joints)})'
        )


def read_urdf(path: str | Path) -> UrdfModel:
    """Parse the joints of the URDF at `path`; raise UrdfError with the reason if it cannot."""
    path = Path(path)
    if not path.is_file():
        raise UrdfError(f'URDF not found: {path}')
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UrdfError(f'URDF {path} is not valid XML: {exc}') from None
    if root.tag != 'robot':
        raise UrdfError(f'URDF {path} has root <{root.tag}>, expected <robot>')
    joints = []
    for element in root.iter('joint'):
        limit = element.find('limit')
        has_limits = limit is not None and element.get('type') in ('revolute', 'prismatic')
        origin = element.find('origin')
        axis = element.find('axis')
        mimic = element.find('mimic')
        joints.append(
            UrdfJoint(
                name=element.get('name', ''),
                type=element.get('type', ''),
                parent=element.find('parent').get('link'),
                child=element.find('child').get('link'),
                lower=float(limit.get('lower', 0.0)) if has_limits else None,
                upper=float(limit.get('upper', 0.0)) if has_limits else None,
                xyz=_triple(origin, 'xyz', '0 0 0'),
                rpy=_triple(origin, 'rpy', '0 0 0'),
                axis=_triple(axis, 'xyz', '1 0 0'),
                mimic=mimic.get('joint') if mimic is not None else None,
            )
        )
    return UrdfModel(name=root.get('name', path.stem), joints=tuple(joints))


def _triple(element: ET.Element | None, key: str, default: str) -> tuple[float, float, float]:
    text = default if element is None else element.get(key, default)
    x, y, z = (float(v) for v in text.split())
    return x, y, z
