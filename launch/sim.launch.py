"""The jepa_ros graph on the PyBullet Panda, one process per node.

    ros2 launch jepa_ros sim.launch.py [checkpoint:=...] [scene:=panda] [task:=reach]
        [control_rate:=12.0] [namespace:=...] [params_file:=...]

Then give it a goal: `ros2 service call /sim/random_goal std_srvs/srv/Trigger`.
"""

from jepa_ros.nodes.launch_support import launch_description


def generate_launch_description():
    return launch_description(use_sim=True)
