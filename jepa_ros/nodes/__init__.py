"""ROS 2 nodes: the only modules that import rclpy or message types. Thin shells over the core."""
