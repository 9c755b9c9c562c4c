"""Mode-2 planning in latent space: pure, swappable planners (CEM, MPPI). ROS-free."""

from jepa_ros.planning.planners import CEMPlanner, MPPIPlanner, PlannerConfig

__all__ = ['CEMPlanner', 'MPPIPlanner', 'PlannerConfig']
