"""Exploration data: the random policy, parallel collection, and the on-disk dataset. ROS-free."""
