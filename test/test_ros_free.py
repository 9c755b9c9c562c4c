"""The core is ROS-free: importing every module outside jepa_ros.nodes never imports rclpy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import jepa_ros

CORE_MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(jepa_ros.__path__, 'jepa_ros.')
    if not m.name.startswith('jepa_ros.nodes')
)


def test_core_modules_exist():
    for expected in ('jepa_ros.envs.arm_world', 'jepa_ros.data.dataset', 'jepa_ros.cli.main'):
        assert expected in CORE_MODULES


def test_core_never_imports_ros():
    code = (
        'import importlib, sys\n'
        f'for name in {CORE_MODULES!r}:\n'
        '    if not name.endswith(".__main__"):\n'
        '        importlib.import_module(name)\n'
        'ros = sorted(m for m in sys.modules if m.split(".")[0] in '
        '("rclpy", "sensor_msgs", "std_msgs", "trajectory_msgs", "geometry_msgs", '
        '"diagnostic_msgs", "std_srvs"))\n'
        'print(len(sys.modules)); assert not ros, ros\n'
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
