"""jepa_ros: a JEPA world model and energy-minimising MPC actor for robot arms, on ROS 2."""

__version__ = '0.1.0'
