"""Both install paths put executables where `ros2 run` and launch_ros look: <prefix>/lib/jepa_ros.

The pip check runs where jepa_ros is pip-installed (not editable) into this Python's prefix; the
colcon check runs where colcon is on hand. CI sets JEPA_ROS_REQUIRE_INSTALL=1, so that neither
is skipped there.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get('JEPA_ROS_REQUIRE_INSTALL') == '1'
PACKAGE_FILES = ['package.xml', 'setup.py', 'setup.cfg', 'pyproject.toml', 'README.md']
PACKAGE_DIRS = ['jepa_ros', 'resource', 'lib_exec', 'launch', 'config', 'sim', 'models']


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(reason + ' (JEPA_ROS_REQUIRE_INSTALL=1)')
    pytest.skip(reason)


def _run_executable(path: Path, env: dict[str, str] | None = None) -> None:
    assert path.is_file(), f'{path} missing'
    assert os.access(path, os.X_OK), f'{path} is not executable'
    result = subprocess.run(
        [str(path), 'collect', '--help'], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert 'usage: jepa-ros collect' in result.stdout


NODES = ('sim_node', 'perception_node', 'world_model_node', 'guardrail_node', 'actor_node',
         'configurator_node', 'explore_node', 'recorder_node')  # fmt: skip


def _check_node_executables(lib: Path) -> None:
    """Every node has an executable launcher, and the module it dispatches to exists."""
    for name in NODES:
        path = lib / name
        assert path.is_file() and os.access(path, os.X_OK), f'{path} missing or not executable'
        assert importlib.util.find_spec(f'jepa_ros.nodes.{name}') is not None, name


def test_pip_install_has_lib_executables():
    executable = Path(sys.prefix) / 'lib' / 'jepa_ros' / 'jepa-ros'
    if not executable.exists():
        _skip_or_fail(f'jepa_ros is not pip-installed into {sys.prefix}')
    _run_executable(executable)
    _check_node_executables(executable.parent)
    share = Path(sys.prefix) / 'share'
    assert (share / 'jepa_ros' / 'sim' / 'panda.yaml').is_file()
    assert (share / 'ament_index' / 'resource_index' / 'packages' / 'jepa_ros').is_file()


def test_colcon_build_has_lib_executables(tmp_path):
    colcon = shutil.which('colcon') or shutil.which('colcon', path=str(Path(sys.prefix) / 'bin'))
    if colcon is None:
        _skip_or_fail('colcon is not installed')
    source = tmp_path / 'src' / 'jepa_ros'
    source.mkdir(parents=True)
    for name in PACKAGE_FILES:
        shutil.copy2(ROOT / name, source / name)
    for name in PACKAGE_DIRS:
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns('__pycache__'))
    result = subprocess.run(
        [colcon, 'build', '--base-paths', 'src'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    install = tmp_path / 'install' / 'jepa_ros'
    assert (install / 'share' / 'jepa_ros' / 'sim' / 'panda.yaml').is_file()
    assert (
        install / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'jepa_ros'
    ).is_file()
    # As after `source install/setup.bash`: the workspace on the paths, the ROS Python first
    site = next(install.glob('lib/python*/site-packages'))
    env = dict(os.environ, PYTHONPATH=str(site), AMENT_PREFIX_PATH=str(install))
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    _run_executable(install / 'lib' / 'jepa_ros' / 'jepa-ros', env)
    _check_node_executables(install / 'lib' / 'jepa_ros')
    assert (install / 'share' / 'jepa_ros' / 'launch' / 'sim.launch.py').is_file()
