"""The cost module: goal energy in latent space plus guardrail costs from joint positions."""

from jepa_ros.cost.cost import CostConfig, TrajectoryCost

__all__ = ['CostConfig', 'TrajectoryCost']
