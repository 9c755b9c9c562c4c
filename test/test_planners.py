"""Planners on toy problems: they find a known minimum, are deterministic, and warm-start."""

from __future__ import annotations

import pytest
import torch

from jepa_ros.planning import CEMPlanner, MPPIPlanner, PlannerConfig

TARGET = torch.tensor([[0.05, -0.03], [0.02, 0.08], [-0.06, 0.0]])  # (H=3, A=2), within limits


def quadratic(actions: torch.Tensor) -> torch.Tensor:
    """(S, H, A) -> (S,): squared distance to TARGET."""
    return (actions - TARGET).pow(2).sum(dim=(1, 2))


def _config(**kw) -> PlannerConfig:
    base = dict(horizon=3, samples=400, iterations=12, elites=40, temperature=1e-4)
    return PlannerConfig(**{**base, **kw})


@pytest.mark.parametrize('planner_class', [CEMPlanner, MPPIPlanner])
def test_finds_the_minimum_of_a_quadratic(planner_class):
    planner = planner_class(_config(), action_dim=2)
    plan, info = planner.plan(quadratic)
    torch.testing.assert_close(plan, TARGET, atol=5e-3, rtol=0)
    assert info['cost_best'] < 1e-4


@pytest.mark.parametrize('planner_class', [CEMPlanner, MPPIPlanner])
def test_plans_stay_within_the_action_limit(planner_class):
    far = torch.full((3, 2), 5.0)
    planner = planner_class(_config(action_limit=0.1), action_dim=2)
    plan, _ = planner.plan(lambda actions: (actions - far).pow(2).sum(dim=(1, 2)))
    assert plan.abs().max() <= 0.1 + 1e-6
    torch.testing.assert_close(plan, torch.full((3, 2), 0.1), atol=1e-3, rtol=0)


@pytest.mark.parametrize('planner_class', [CEMPlanner, MPPIPlanner])
def test_same_seed_same_plan_and_reset_forgets(planner_class):
    config = _config(iterations=2)
    a, b = planner_class(config, 2), planner_class(config, 2)
    first_a, _ = a.plan(quadratic)
    first_b, _ = b.plan(quadratic)
    torch.testing.assert_close(first_a, first_b, rtol=0, atol=0)
    second_a, _ = a.plan(quadratic)  # warm-started from the shifted first plan
    assert not torch.equal(second_a, first_a)
    a.reset()
    again, _ = a.plan(quadratic)
    torch.testing.assert_close(again, first_a, rtol=0, atol=0)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match='elites'):
        PlannerConfig(samples=10, elites=20)
    with pytest.raises(ValueError, match='horizon'):
        PlannerConfig(horizon=0)


@pytest.mark.parametrize('planner_class', [CEMPlanner, MPPIPlanner])
def test_gradient_refinement_lowers_the_cost_of_a_rough_plan(planner_class):
    # One short iteration leaves the plan rough; refinement through the (differentiable) cost
    # must bring it closer to the minimum, and never make it worse
    rough = planner_class(_config(samples=16, elites=4, iterations=1), 2).plan(quadratic)[0]
    planner = planner_class(_config(samples=16, elites=4, iterations=1, gradient_steps=20,
                                    gradient_lr=0.05), 2)  # fmt: skip
    refined, info = planner.plan(quadratic)
    assert float(quadratic(refined[None])) < float(quadratic(rough[None]))
    assert info['refine_gain'] > 0
    assert refined.abs().max() <= planner.config.action_limit + 1e-6
    with pytest.raises(ValueError, match='gradient_steps'):
        PlannerConfig(gradient_steps=-1)


def test_refinement_backtracks_and_settles_on_the_minimum():
    # A step as large as the whole action limit overshoots the minimum; halving the step after
    # each step that does not lower the cost settles the plan on it (a fixed step hops around)
    planner = CEMPlanner(_config(action_limit=0.1, gradient_steps=60, gradient_lr=1.0), 2)
    start = torch.zeros(3, 2)
    refined, gain = planner.refine(start, quadratic)
    torch.testing.assert_close(refined, TARGET, atol=2e-3, rtol=0)
    assert gain == pytest.approx(float(quadratic(start[None]) - quadratic(refined[None])))
    assert refined.abs().max() <= 0.1 + 1e-6
