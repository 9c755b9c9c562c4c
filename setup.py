"""jepa_ros installs with `colcon build` (ament_python) or `pip install` (extra `ros`: rclpy)."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'jepa_ros'


def tree(folder):
    """data_files entries installing every file below `folder` under share/jepa_ros/folder."""
    entries = []
    for root, _, files in os.walk(folder):
        paths = [os.path.join(root, f) for f in files if not f.startswith('.')]
        if paths:
            entries.append((os.path.join('share', PACKAGE, root), paths))
    return entries


setup(
    name=PACKAGE,
    version='0.1.0',
    description='JEPA world model and energy-minimising MPC actor for robot arms on ROS 2',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        # Executables where `ros2 run` and launch_ros look, for pip installs as well as colcon.
        ('lib/' + PACKAGE, sorted(glob('lib_exec/*'))),
        *tree('launch'),
        *tree('config'),
        *tree('sim'),
        *tree('models'),
    ],
    install_requires=[
        'numpy>=1.23',
        'pybullet>=3.2.5',
        'PyYAML>=5.4',
        'tqdm>=4.60',
        'Pillow>=9.0',
        'matplotlib>=3.5',
        'torch>=2.1',  # a CPU build is all it needs: see README, Installing
        'tensorboardX>=2.6',
        'opencv-python-headless>=4.5',  # camera images of any size to the model's
        'rosbags>=0.10',  # rosbag2 (MCAP, sqlite3) read and written without a ROS 2 install
    ],
    extras_require={
        # rclpy and the standard messages as PyPI wheels, for machines without a ROS 2 install.
        'ros': [
            'ros-rclpy',
            'ros-std-msgs',
            'ros-std-srvs',
            'ros-sensor-msgs',
            'ros-geometry-msgs',
            'ros-trajectory-msgs',
            'ros-diagnostic-msgs',
            'ros-rmw-fastrtps-cpp',
        ],
        # colcon: the install test builds the package as a ROS 2 workspace would.
        # gymnasium worlds (`collect --env gymnasium:ID`); MuJoCo for its pixel environments.
        'gym': ['gymnasium[mujoco]>=1.0'],
        'test': [
            'pytest>=7',
            'hypothesis>=6',
            'ruff>=0.5',
            'colcon-common-extensions',
            'gymnasium[mujoco]>=1.0',
        ],
    },
    entry_points={'console_scripts': ['jepa-ros = jepa_ros.cli:main']},
    zip_safe=False,
)
