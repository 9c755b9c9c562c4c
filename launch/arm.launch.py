"""The jepa_ros graph on a physical arm: no sim node; the camera, joint states and controller
topics remapped to the arm's drivers (ros2_control JointTrajectoryController); the arm's joint
names, limits and workspace from a parameter YAML (copy config/arm_template.yaml). The guardrail
starts disarmed: arm it with `ros2 service call /jepa/arm std_srvs/srv/SetBool "{data: true}"`.

    ros2 launch jepa_ros arm.launch.py params_file:=my_arm.yaml scene:=my_arm_scene.yaml
        checkpoint:=my_arm.pt camera_topic:=/camera/color/image_raw
        controller_topic:=/joint_trajectory_controller/joint_trajectory
"""

from jepa_ros.nodes.launch_support import launch_description


def generate_launch_description():
    return launch_description(use_sim=False)
