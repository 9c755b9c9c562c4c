"""Exploration over ROS 2, no world model: guardrail + explore_node + recorder_node (an MCAP bag).

Your arm (its drivers running; the gate starts disarmed, nothing moves until you arm it):

    ros2 launch jepa_ros explore.launch.py scene:=my_arm/scene.yaml bag:=my_arm/bag_0 \
        episodes:=20 camera_topic:=/camera/color/image_raw \
        controller_topic:=/joint_trajectory_controller/joint_trajectory
    ros2 service call /jepa/arm std_srvs/srv/SetBool "{data: true}"

The simulated arm: `use_sim:=true` (sim_node joins, armed). Stop early with
`ros2 service call /jepa/cancel std_srvs/srv/Trigger`; Ctrl-C closes the bag.
"""

from jepa_ros.nodes.launch_support import explore_launch_description


def generate_launch_description():
    return explore_launch_description()
