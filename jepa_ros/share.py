"""Find the package's shared data (sim/, config/, models/) however jepa_ros was installed."""

from __future__ import annotations

import os
from pathlib import Path
import sys

PACKAGE = 'jepa_ros'


def share_dirs() -> list[Path]:
    """Candidate `share/jepa_ros` folders, most specific first.

    A source checkout or editable install (the folder above this package), the install prefix of
    this Python (pip), then every prefix on AMENT_PREFIX_PATH (colcon, a sourced ROS workspace).
    """
    candidates = [Path(__file__).resolve().parent.parent]
    candidates.append(Path(sys.prefix) / 'share' / PACKAGE)
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / 'share' / PACKAGE)
    return [c for c in candidates if (c / 'sim').is_dir()]


def find_shared(kind: str, name: str) -> Path:
    """Path of `name` in the shared folder `kind` (e.g. 'sim', 'panda.yaml').

    Raises FileNotFoundError listing where it looked.
    """
    searched = []
    for root in share_dirs():
        path = root / kind / name
        if path.is_file():
            return path
        searched.append(str(root / kind))
    where = ', '.join(searched) or 'no share/jepa_ros folder was found'
    raise FileNotFoundError(f'{kind}/{name} not found (looked in: {where})')
