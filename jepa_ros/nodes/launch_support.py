"""The launch files' one function: launch arguments -> the graph's nodes as launch_ros actions.

The node list itself comes from the ROS-free `jepa_ros.graph` (unit-tested); this only declares
the arguments and turns each NodeSpec into a `launch_ros.actions.Node`.
"""

from __future__ import annotations

from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from jepa_ros.graph import (
    ARM_LAUNCH_ARGUMENTS,
    EXPLORE_LAUNCH_ARGUMENTS,
    explore_specs_from_launch,
    graph_config_from_launch,
    graph_specs,
    LAUNCH_ARGUMENTS,
    launch_parameters,
)
from launch import LaunchDescription

PACKAGE = 'jepa_ros'


def launch_description(use_sim: bool, params_file: str = '') -> LaunchDescription:
    """The jepa_ros graph; `use_sim` adds the sim node, else the topics are remappable to a
    physical arm's drivers and the guardrail starts disarmed."""
    arguments = dict(LAUNCH_ARGUMENTS)
    if params_file:
        arguments['params_file'] = (params_file, arguments['params_file'][1])
    if not use_sim:
        arguments.update(ARM_LAUNCH_ARGUMENTS)
    return _launch(
        arguments, lambda values: graph_specs(graph_config_from_launch(values, use_sim))
    )


def explore_launch_description() -> LaunchDescription:
    """Exploration over ROS: guardrail + explore + recorder (+ sim_node with use_sim:=true)."""
    return _launch(dict(EXPLORE_LAUNCH_ARGUMENTS), explore_specs_from_launch)


def _launch(arguments: dict[str, tuple[str, str]], specs) -> LaunchDescription:
    """Declare `arguments` (name -> (default, description)); at launch, start a node for each
    NodeSpec that `specs(values)` returns."""
    declared = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, (default, description) in arguments.items()]  # fmt: skip

    def nodes(context) -> list[Node]:
        values = {name: LaunchConfiguration(name).perform(context) for name in arguments}
        return [
            Node(package=PACKAGE, executable=spec.executable, name=spec.executable,
                 namespace=values['namespace'], parameters=launch_parameters(spec, values),
                 remappings=list(spec.remappings), output='screen', emulate_tty=True)
            for spec in specs(values)
        ]  # fmt: skip

    return LaunchDescription([*declared, OpaqueFunction(function=nodes)])
