"""The node graph as data (used by the launch files and the demo) and the demo's report."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image
import pytest
import yaml

from jepa_ros.demo_report import (
    GoalRecord,
    latency_figure,
    strip_image,
    summarize_demo,
    summary_line,
    TickLatency,
)
from jepa_ros.graph import (
    CLASSES,
    EXPLORE_LAUNCH_ARGUMENTS,
    EXPLORE_NODES,
    explore_specs_from_launch,
    graph_config_from_launch,
    graph_specs,
    GraphConfig,
    LAUNCH_ARGUMENTS,
    launch_parameters,
    NODES,
    ros_arguments,
)


def test_sim_graph_has_every_node_with_the_shared_settings():
    specs = graph_specs(GraphConfig(checkpoint='m.pt', task='reach_light', control_rate_hz=12.0))
    assert [s.executable for s in specs] == ['sim_node', *NODES]
    by_name = {s.executable: s for s in specs}
    assert by_name['actor_node'].parameters['control_rate_hz'] == 12.0
    assert by_name['configurator_node'].parameters['task'] == 'reach_light'
    assert all(by_name[n].parameters['checkpoint'] == 'm.pt'
               for n in ('perception_node', 'actor_node', 'configurator_node'))  # fmt: skip
    assert by_name['guardrail_node'].parameters['require_arming'] is False, 'sim re-arms itself'
    assert all(s.remappings == () for s in specs)
    assert set(CLASSES) == {s.executable for s in specs} | set(EXPLORE_NODES)


def test_physical_arm_graph_has_no_sim_starts_disarmed_and_remaps():
    config = GraphConfig(use_sim=False, camera_topic='/cam/color/image_raw',
                         controller_topic='/arm_controller/joint_trajectory',
                         guardrail_parameters={'max_step_rad': 0.05})  # fmt: skip
    specs = graph_specs(config)
    assert 'sim_node' not in [s.executable for s in specs]
    guard = next(s for s in specs if s.executable == 'guardrail_node')
    assert guard.parameters['require_arming'] is True and guard.parameters['max_step_rad'] == 0.05
    assert ('camera/image_raw', '/cam/color/image_raw') in guard.remappings
    assert ('joint_trajectory_controller/joint_trajectory',
            '/arm_controller/joint_trajectory') in guard.remappings  # fmt: skip


@pytest.mark.parametrize('kw', [{'control_rate_hz': 0}, {'max_ticks': -1},
                                {'camera_topic': ''}])  # fmt: skip
def test_bad_graph_config_is_refused(kw):
    with pytest.raises(ValueError):
        GraphConfig(**kw)


def test_demo_summary_and_strip(tmp_path):
    image = np.zeros((8, 8, 3), dtype=np.uint8)
    hit = GoalRecord(
        0,
        'succeeded',
        0.02,
        ticks=10,
        commands=11,
        seconds=1.2,
        command_seconds=1.0,
        start_image=image,
        goal_image=image,
        final_image=image,
    )
    miss = GoalRecord(
        1,
        'gave_up',
        0.2,
        ticks=30,
        commands=31,
        seconds=3.5,
        command_seconds=3.0,
        start_image=image,
        goal_image=image,
        final_image=image,
    )
    modes = ('mode1', 'mode2', 'mode1', 'mode1')
    ticks = [TickLatency(total, 30.0, total - 30.0, mode)
             for total, mode in zip((50.0, 60.0, 70.0, 200.0), modes)]  # fmt: skip
    hit.latencies = [TickLatency(t, 30.0, t - 30.0) for t in (50.0, 52.0, 51.0, 53.0)]
    miss.latencies = [TickLatency(t, 30.0, t - 30.0) for t in (50.0, 60.0, 100.0, 200.0)]
    stages = {'perception': {'received': 90, 'skipped': 10},
              'actor': {'received': 80, 'skipped': 0, 'held_back': 5}}  # fmt: skip
    report = summarize_demo([hit, miss], ticks, stages=stages)
    assert report['reached'] == 1 and report['success_rate'] == 0.5
    assert report['control_rate_hz'] == pytest.approx(10.0)
    assert report['latency_ms_p50'] == 65.0 and report['latency_ms_p95'] > 150
    assert report['latency_ms_max'] == 200.0 and report['upstream_ms_p95'] == 30.0
    assert report['actor_ms_p50'] == 35.0
    # Latency growing within the missed goal (a backlog) shows in the halves' p95
    first_halves = [50.0, 52.0, 50.0, 60.0]
    assert report['latency_ms_p95_first_halves'] == pytest.approx(np.percentile(first_halves, 95))
    assert report['latency_growth'] > 2 and report['latency_growth_worst_goal'] > 3
    assert report['per_goal'][1]['latency_ms_max'] == 200.0
    line = summary_line({**report, 'guardrail': {'total_interventions': 3, 'commands': 40}})
    assert 'perception 10 of 100' in line and 'actor 0 of 80 (+5 held back' in line
    assert line.startswith('reached 1/2;') and '3 of 40 commands' in line
    assert report['actor_modes'] == {'mode1': 0.75, 'mode2': 0.25}
    assert '(mode1 75%, mode2 25%)' in line
    assert latency_figure(ticks, tmp_path / 'latency.png').stat().st_size > 1000
    assert 'reached' in hit.line() and 'MISSED' in miss.line()
    out = strip_image([hit, miss], tmp_path / 'strip.png')
    with Image.open(out) as strip:
        assert strip.size == (2 * 3 * 8, 2 * 2 * 8), 'start | goal | final, a row per goal, 2x'


def test_launch_arguments_build_the_same_graph():
    values = {'checkpoint': 'x.pt', 'scene': 'panda', 'task': 'reach', 'control_rate': '15',
              'namespace': '', 'params_file': ''}  # fmt: skip
    config = graph_config_from_launch(values, use_sim=True)
    assert config.control_rate_hz == 15.0 == config.camera_rate_hz and config.use_sim
    arm = graph_config_from_launch({**values, 'camera_topic': '/cam'}, use_sim=False)
    assert arm.camera_topic == '/cam' and not arm.use_sim
    with pytest.raises(ValueError, match='control_rate must be a number'):
        graph_config_from_launch({**values, 'control_rate': 'fast'}, use_sim=True)


def effective_parameters(layers: list, node: str) -> dict:
    """What a node ends up with from launch_ros's `parameters` list: each entry overrides the
    ones before it; a file contributes its `/**`, `/**/<node>` and `<node>` sections."""
    merged: dict = {}
    for layer in layers:
        if isinstance(layer, dict):
            merged.update(layer)
            continue
        content = yaml.safe_load(Path(layer).read_text())
        for key in ('/**', f'/**/{node}', node, f'/{node}'):
            merged.update(content.get(key, {}).get('ros__parameters', {}))
    return merged


def test_a_params_file_wins_over_defaults_and_an_explicit_launch_argument_over_the_file(
    tmp_path,
):
    """The bug seen with a real launch_ros: the graph's computed values came after the user's
    file and silently replaced its control_rate_hz, max_ticks and guardrail timeouts."""
    params = tmp_path / 'p.yaml'
    params.write_text(yaml.safe_dump({
        '/**/actor_node': {'ros__parameters': {'control_rate_hz': 5.0, 'task': 'reach'}},
        '/**/configurator_node': {'ros__parameters': {'max_ticks': 77}},
        '/**/guardrail_node': {'ros__parameters': {'latent_timeout_s': 0.5}},
    }))  # fmt: skip
    values = {name: default for name, (default, _) in LAUNCH_ARGUMENTS.items()}
    values['params_file'] = str(params)

    def effective(values, node):
        spec = next(s for s in graph_specs(graph_config_from_launch(values, True))
                    if s.executable == node)  # fmt: skip
        return effective_parameters(launch_parameters(spec, values), node)

    assert effective(values, 'actor_node')['control_rate_hz'] == 5.0
    assert effective(values, 'actor_node')['task'] == 'reach'
    assert effective(values, 'configurator_node')['max_ticks'] == 77
    assert effective(values, 'guardrail_node')['latent_timeout_s'] == 0.5
    assert effective(values, 'sim_node')['camera_rate_hz'] == 12.0, 'the default where unset'
    explicit = {**values, 'control_rate': '8', 'task': 'reach_light'}
    assert effective(explicit, 'actor_node')['control_rate_hz'] == 8.0
    assert effective(explicit, 'actor_node')['task'] == 'reach_light'
    assert effective(explicit, 'sim_node')['camera_rate_hz'] == 8.0
    assert effective(explicit, 'configurator_node')['max_ticks'] == 77, 'not set by an argument'
    assert effective(explicit, 'guardrail_node')['latent_timeout_s'] == 0.5


LAUNCH_FILES = sorted((Path(__file__).resolve().parent.parent / 'launch').glob('*.launch.py'))


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_describe_the_graph(path):
    pytest.importorskip('launch_ros', reason='launch_ros is not installed (not on PyPI)')
    from launch.actions import DeclareLaunchArgument

    from launch import LaunchContext

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    arguments = [a for a in description.entities if isinstance(a, DeclareLaunchArgument)]
    assert all(a.description for a in arguments)
    assert {'scene', 'control_rate', 'namespace', 'params_file'} <= {a.name for a in arguments}
    context = LaunchContext()
    for argument in arguments:
        argument.visit(context)
    nodes = description.entities[-1].execute(context)
    expected = {'sim.launch.py': 6, 'arm.launch.py': 5, 'explore.launch.py': 3}[path.name]
    assert len(nodes) == expected


def test_ros_arguments_are_what_launch_ros_passes():
    spec = graph_specs(GraphConfig(use_sim=False, camera_topic='/cam'))[2]  # guardrail
    args = ros_arguments(spec, namespace='arm1')
    assert args[:5] == ['--ros-args', '-r', '__node:=guardrail_node', '-r', '__ns:=/arm1']
    assert '-p' in args and 'require_arming:=true' in args and 'scene:=panda' in args
    assert args[-2:] == ['-r', 'camera/image_raw:=/cam']
    actor = graph_specs(GraphConfig())[4]
    assert 'control_rate_hz:=12.0' in ros_arguments(actor) and "checkpoint:=''" in ros_arguments(
        actor
    )


def test_explore_launch_builds_gate_explorer_and_recorder():
    values = {name: default for name, (default, _) in EXPLORE_LAUNCH_ARGUMENTS.items()}
    arm = {s.executable: s for s in explore_specs_from_launch(values)}
    assert list(arm) == ['guardrail_node', 'explore_node', 'recorder_node'], 'no world model'
    gate = arm['guardrail_node'].parameters
    assert gate['require_arming'] is True and gate['watch_latent'] is False
    assert arm['explore_node'].parameters['episodes'] == 10
    assert arm['recorder_node'].parameters['bag'] == 'explore_bag'
    assert ('camera/image_raw', '/cam') in explore_specs_from_launch(
        {**values, 'camera_topic': '/cam'}
    )[2].remappings
    sim = explore_specs_from_launch({**values, 'use_sim': 'true', 'episodes': '3', 'seed': '7'})
    assert [s.executable for s in sim][0] == 'sim_node'
    assert sim[1].parameters['require_arming'] is False
    assert sim[2].parameters['episodes'] == 3 and sim[2].parameters['seed'] == 7
    # An explicit argument wins over a params file, the file over the defaults
    explore = sim[2]
    assert launch_parameters(explore, {**values, 'episodes': '3'})[-1] == {'episodes': 3}
    with pytest.raises(ValueError, match='use_sim must be true or false'):
        explore_specs_from_launch({**values, 'use_sim': 'maybe'})
    with pytest.raises(ValueError, match='episodes must be an integer'):
        explore_specs_from_launch({**values, 'episodes': 'ten'})


def test_the_demo_budget_is_the_same_time_at_any_rate():
    """50 ticks at 12 Hz is 4.2 s; a 30 Hz task gets the same 4.2 s (the gate limits rad/s)."""
    from jepa_ros.cli.demo import budget_ticks

    assert budget_ticks(GraphConfig.control_rate_hz) == 50
    assert budget_ticks(30.0) == 125 and budget_ticks(6.0) == 25
    assert budget_ticks(0.01) == 1
