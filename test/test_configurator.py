"""The configurator core: task files, the energy-only task monitor, and its calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from jepa_ros.calibration import calibrate, replay, stall_before_success
from jepa_ros.configurator import (
    load_task,
    load_tasks,
    MonitorConfig,
    Outcome,
    Retreat,
    RetreatConfig,
    TaskError,
    TaskMonitor,
)  # fmt: skip
from jepa_ros.cost.cost import CostConfig, energy_weights, latent_distance
from jepa_ros.envs.kinematics import proprio_link_dims
from jepa_ros.evaluation import EpisodeResult
from jepa_ros.world_model import WorldModelConfig


def run_monitor(config: MonitorConfig, energies) -> list[Outcome]:
    monitor = TaskMonitor(config)
    monitor.start()
    return [monitor.update(e) for e in energies]


def test_success_needs_the_energy_below_threshold_for_settle_ticks():
    config = MonitorConfig(success_energy=0.01, settle_ticks=2, patience_ticks=50)
    outcomes = run_monitor(config, [1.0, 0.5, 0.005, 0.2, 0.005, 0.004, 0.003])
    assert outcomes[:5] == [Outcome.REACHING] * 5, 'one tick below, then above: not yet'
    assert outcomes[5:] == [Outcome.SUCCEEDED] * 2, 'decided, and the decision stays'


def test_give_up_when_the_energy_stops_falling():
    config = MonitorConfig(success_energy=0.01, patience_ticks=3, min_progress=0.1)
    # Falls by more than 10% each tick, then creeps down by 1% a tick
    outcomes = run_monitor(config, [1.0, 0.8, 0.6, 0.594, 0.588, 0.582, 0.5])
    assert outcomes[:5] == [Outcome.REACHING] * 5
    assert outcomes[5] is Outcome.GAVE_UP and outcomes[6] is Outcome.GAVE_UP


def test_without_deciding_every_tick_counts_and_nothing_ends_the_goal():
    """Calibration (`decide: false`): below the threshold and past max_ticks, still reaching."""
    monitor = TaskMonitor(MonitorConfig(success_energy=0.01, settle_ticks=1, max_ticks=3))
    monitor.start()
    outcomes = [monitor.update(e, decide=False) for e in [0.5, 0.001, 0.001, 0.001, 0.001]]
    assert outcomes == [Outcome.REACHING] * 5 and monitor.ticks == 5 and monitor.active
    assert monitor.update(0.001) is Outcome.SUCCEEDED, 'deciding again decides'


def test_max_ticks_cancel_idle_and_bad_energy():
    assert run_monitor(MonitorConfig(max_ticks=2), [1.0, 0.5, 0.1])[1:] == [Outcome.GAVE_UP] * 2
    monitor = TaskMonitor(MonitorConfig())
    assert monitor.update(0.0) is Outcome.IDLE, 'no goal yet: nothing is decided'
    monitor.start()
    monitor.cancel()
    assert monitor.update(0.0) is Outcome.CANCELLED and not monitor.active
    monitor.start()
    assert monitor.active and monitor.ticks == 0
    with pytest.raises(ValueError, match='finite'):
        monitor.update(math.nan)


@pytest.mark.parametrize('kw', [{'success_energy': 0}, {'settle_ticks': 0},
                                {'patience_ticks': 0}, {'min_progress': 1.0}])  # fmt: skip
def test_bad_monitor_config_is_refused(kw):
    with pytest.raises(ValueError):
        MonitorConfig(**kw)


def test_shipped_tasks_load():
    tasks = load_tasks()
    assert 'reach' in tasks and load_task().name == 'reach_light'
    for task in tasks.values():
        assert task.description and task.planner_config.horizon >= 1


@pytest.mark.parametrize(
    'text, message',
    [
        ('reach:\n  planer: cem\n', 'unknown keys'),
        ('reach:\n  monitor: {success_energy: -1}\n', 'success_energy'),
        ('reach:\n  planner: gradient\n', 'planner must be one of'),
        ('reach:\n  cost: {distance: l7}\n', 'distance must be one of'),
        ('reach:\n  retreat: {stall_ticks: -1}\n', 'stall_ticks'),
        ('reach:\n  retreat: {home_energy: 0}\n', 'home_energy'),
        ('reach:\n  retreat: {go_home: true}\n', 'unknown keys'),
        ('- just a list\n', 'mapping'),
    ],
)
def test_bad_task_files_are_refused(tmp_path, text, message):
    path = tmp_path / 'tasks.yaml'
    path.write_text(text)
    with pytest.raises(TaskError, match=message):
        load_tasks(path)


def test_unknown_task_name(tmp_path):
    with pytest.raises(TaskError, match="unknown task 'fly'"):
        load_task('fly')


def test_energy_weights_ground_the_goal_energy(tiny_scene):
    config = WorldModelConfig(latent_dim=20, proprio_dim=13)
    ee = proprio_link_dims(tiny_scene, tiny_scene.ee_link)
    assert ee == (10, 11, 12), 'after 4 joint angles and two other links'
    weights = energy_weights(config, ee, CostConfig(learned_weight=0.0, ee_weight=4.0))
    assert weights[:10].tolist() == [1.0] * 10 and weights[10:13].tolist() == [4.0] * 3
    assert weights[13:].sum() == 0
    # A difference only in the free dims costs nothing; one in an ee dim costs 4x a joint's
    a = torch.zeros(20)
    free, joint, ee_x = a.clone(), a.clone(), a.clone()
    free[15], joint[0], ee_x[10] = 1.0, 1.0, 1.0
    assert float(latent_distance(free, a, 'l2', weights)) == 0.0
    assert float(latent_distance(ee_x, a, 'l2', weights)) == pytest.approx(
        4 * float(latent_distance(joint, a, 'l2', weights))
    )
    with pytest.raises(ValueError, match='ee_dims'):
        energy_weights(config, (), CostConfig(ee_weight=2.0))
    with pytest.raises(ValueError, match='not one of the proprio_links'):
        proprio_link_dims(tiny_scene, 'panda_link1')


def test_replay_holds_where_the_monitor_decides():
    config = MonitorConfig(success_energy=0.01, patience_ticks=10)
    energies = np.array([1.0, 0.1, 0.005, 0.5])
    distances = np.array([0.5, 0.2, 0.03, 0.3, 0.4])
    result = replay(energies, distances, config)
    assert result.outcome is Outcome.SUCCEEDED and result.tick == 2
    assert result.final_distance == 0.03, 'held at the tick it decided, not the drifted end'
    assert stall_before_success(np.array([1.0, 1.0, 1.0, 0.5]), np.array([0.5] * 5), 0.05) == 2


def test_calibration_picks_a_threshold_that_separates_reached_from_not():
    rng = np.random.default_rng(0)
    results = []
    for _ in range(20):
        # Energy tracks the squared distance with noise; after reaching, the arm drifts away
        distances = np.concatenate([np.geomspace(0.5, 0.01, 15), np.linspace(0.01, 0.2, 16)])
        energies = distances[:-1] ** 2 * rng.uniform(0.8, 1.2, size=30)
        results.append(EpisodeResult(distances.tolist(),
                                     [{'goal_energy': float(e)} for e in energies]))  # fmt: skip
    report = calibrate(results, MonitorConfig())
    assert report['unstopped_success_rate'] == 0.0, 'every run drifted away at the end'
    assert report['replayed_success_rate'] == 1.0, 'holding at the right energy saves them all'
    assert 1e-4 < report['success_energy'] < 0.05**2
    # Each row says how precise its holds are: a lower threshold holds closer
    rows = [r for r in report['table'] if r['settle_ticks'] == 1]
    assert rows[0]['median_final_distance_m'] < rows[-1]['median_final_distance_m']
    assert rows[0]['success_rate_2cm'] >= rows[-1]['success_rate_2cm']


def run_retreat(config: RetreatConfig, goal_energies, home_energies) -> list[bool]:
    retreat = Retreat(config)
    return [retreat.update(g, h) for g, h in zip(goal_energies, home_energies)]


def test_a_stall_far_from_the_goal_goes_home_once_then_back_to_the_goal():
    config = RetreatConfig(stall_ticks=3, min_energy=0.1, home_energy=0.02, max_ticks=5)
    falling = [1.0, 0.8, 0.6]
    stalled = [0.5, 0.5, 0.5, 0.5]  # the first sets the best; three more do not fall 5%
    home = [0.2, 0.1, 0.01]  # home reached on the third tick toward it
    retreat = Retreat(config)
    ticks = falling + stalled + [0.7, 0.7, 0.7]
    homes = [1.0] * 7 + home
    toward = [retreat.update(g, h) for g, h in zip(ticks, homes)]
    assert toward == [False] * 6 + [True, True, True, False]
    assert retreat.used and not retreat.homeward
    # Once a goal: a second stall stays on the goal
    assert not any(retreat.update(0.7, 1.0) for _ in range(10))
    retreat.start()  # a new goal may retreat again
    assert any(retreat.update(0.7, 1.0) for _ in range(10))


def test_no_retreat_near_the_goal_off_by_default_and_at_most_max_ticks():
    config = RetreatConfig(stall_ticks=3, min_energy=0.1, home_energy=0.02, max_ticks=4)
    assert not any(run_retreat(config, [0.05] * 20, [1.0] * 20)), 'a stall near the goal'
    assert not any(run_retreat(RetreatConfig(), [0.5] * 20, [1.0] * 20)), 'off by default'
    toward = run_retreat(config, [0.5] * 20, [1.0] * 20)  # home never reached
    assert toward == [False] * 3 + [True] * 4 + [False] * 13


@pytest.mark.parametrize('kw', [{'stall_ticks': -1}, {'max_ticks': 0}, {'min_energy': 0},
                                {'home_energy': -1.0}, {'min_progress': 1.0}])  # fmt: skip
def test_bad_retreat_config_is_refused(kw):
    with pytest.raises(ValueError):
        RetreatConfig(**kw)
