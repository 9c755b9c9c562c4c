"""The node graph, as data: which executables run, with which parameters and remappings.

One function builds it for the launch files (`launch/*.launch.py`, one process per node) and for
`jepa-ros demo` (all nodes in one process), so both start the same graph. ROS-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any

from jepa_ros.describe import help_of

NODES = ('perception_node', 'world_model_node', 'guardrail_node', 'actor_node',
         'configurator_node')  # fmt: skip
SIM_NODE = 'sim_node'
CLASSES = {
    'sim_node': 'jepa_ros.nodes.sim_node:SimNode',
    'perception_node': 'jepa_ros.nodes.perception_node:PerceptionNode',
    'world_model_node': 'jepa_ros.nodes.world_model_node:WorldModelNode',
    'guardrail_node': 'jepa_ros.nodes.guardrail_node:GuardrailNode',
    'actor_node': 'jepa_ros.nodes.actor_node:ActorNode',
    'configurator_node': 'jepa_ros.nodes.configurator_node:ConfiguratorNode',
    'explore_node': 'jepa_ros.nodes.explore_node:ExploreNode',
    'recorder_node': 'jepa_ros.nodes.recorder_node:RecorderNode',
}
EXPLORE_NODES = ('guardrail_node', 'explore_node', 'recorder_node')


@dataclass(frozen=True)
class NodeSpec:
    """One node: executable (= node name), parameters, and (from, to) topic remappings."""

    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GraphConfig:
    """What the launch arguments and the demo's flags choose."""

    use_sim: bool = True
    checkpoint: str = field(
        default='',
        metadata={'help': 'world-model checkpoint (.pt); empty: the shipped models/jepa_panda.pt'},
    )
    scene: str = field(
        default='panda',
        metadata={'help': 'scene (YAML path or shipped name in sim/): URDF, controlled joints, '
                          'camera, obstacles; the checkpoint must match it'},
    )  # fmt: skip
    device: str = field(
        default='cpu',
        metadata={'help': 'where the model nodes run the world model: cpu, cuda, cuda:N, mps or '
                          'auto (a CUDA GPU, else MPS, else the CPU)'},
    )  # fmt: skip
    task: str = field(
        default='reach_light',
        metadata={'help': 'named parameter set from config/tasks.yaml (planner, cost, monitor)'},
    )
    control_rate_hz: float = field(
        default=12.0, metadata={'help': 'largest rate of plans and commands (one per new latent)'}
    )
    camera_rate_hz: float = field(default=12.0, metadata={'help': 'sim camera frames per second'})
    max_ticks: int = field(
        default=0, metadata={'help': "give up after this many ticks (0: task's)"}
    )
    camera_topic: str = field(default='camera/image_raw', metadata={'help': 'camera image topic'})
    controller_topic: str = field(
        default='joint_trajectory_controller/joint_trajectory',
        metadata={'help': 'JointTrajectoryController command topic'},
    )
    joint_states_topic: str = field(default='joint_states', metadata={'help': 'joint states'})
    require_arming: bool | None = field(
        default=None, metadata={'help': 'guardrail starts disarmed (default: not in sim)'}
    )
    watchdog_ticks: float = field(
        default=1.75,
        metadata={'help': 'the gate holds after this many control ticks without a latent or a '
                          'proposal (or 1.5 of their measured periods, if longer)'},
    )  # fmt: skip
    guardrail_parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ('control_rate_hz', 'camera_rate_hz'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)!r}')
        if not self.watchdog_ticks >= 1:
            raise ValueError(f'watchdog_ticks must be >= 1, got {self.watchdog_ticks!r}')
        if self.max_ticks < 0:
            raise ValueError(f'max_ticks must be >= 0, got {self.max_ticks}')
        if not re.fullmatch(r'cpu|cuda(:\d+)?|mps|auto', self.device):
            raise ValueError(f'device must be cpu, cuda, cuda:N, mps or auto, got {self.device!r}')
        for name in ('camera_topic', 'controller_topic', 'joint_states_topic'):
            if not getattr(self, name):
                raise ValueError(f'{name} must not be empty')


def _remappings(config: GraphConfig) -> tuple[tuple[str, str], ...]:
    """The graph's default topics remapped to the ones `config` names."""
    remap = []
    if config.camera_topic != 'camera/image_raw':
        remap.append(('camera/image_raw', config.camera_topic))
    if config.joint_states_topic != 'joint_states':
        remap.append(('joint_states', config.joint_states_topic))
    controller = 'joint_trajectory_controller/joint_trajectory'
    if config.controller_topic != controller:
        remap.append((controller, config.controller_topic))
    return tuple(remap)


def _arming(config: GraphConfig) -> bool:
    return (not config.use_sim) if config.require_arming is None else config.require_arming


def _sim_spec(config: GraphConfig, remappings) -> NodeSpec:
    return NodeSpec(SIM_NODE, {'scene': config.scene, 'camera_rate_hz': config.camera_rate_hz},
                    remappings)  # fmt: skip


def graph_specs(config: GraphConfig) -> list[NodeSpec]:
    """The nodes of the graph, sim node first when `use_sim`."""
    model = {'checkpoint': config.checkpoint, 'scene': config.scene, 'device': config.device}
    remappings = _remappings(config)
    arming = _arming(config)
    stale = config.watchdog_ticks / config.control_rate_hz
    specs = [
        NodeSpec('perception_node', dict(model), remappings),
        NodeSpec('world_model_node', dict(model), remappings),
        NodeSpec('guardrail_node', {'scene': config.scene, 'require_arming': arming,
                                    'latent_timeout_s': stale, 'proposal_timeout_s': stale,
                                    **config.guardrail_parameters}, remappings),
        NodeSpec('actor_node', {**model, 'task': config.task,
                                'control_rate_hz': config.control_rate_hz}, remappings),
        NodeSpec('configurator_node', {**model, 'task': config.task,
                                       'max_ticks': config.max_ticks}, remappings),
    ]  # fmt: skip
    if config.use_sim:
        specs.insert(0, _sim_spec(config, remappings))
    return specs


def explore_specs(config: GraphConfig, bag: str, episodes: int = 10, steps: int = 50,
                  seed: int = 0) -> list[NodeSpec]:  # fmt: skip
    """Exploration over ROS, no world model: the gate (watching joint_states only: nothing
    plans from a latent), the explorer at `control_rate_hz` and the recorder writing `bag`;
    the sim node first when `use_sim`."""
    remappings = _remappings(config)
    stale = config.watchdog_ticks / config.control_rate_hz
    specs = [
        NodeSpec('guardrail_node', {'scene': config.scene, 'require_arming': _arming(config),
                                    'watch_latent': False, 'proposal_timeout_s': stale,
                                    **config.guardrail_parameters}, remappings),
        NodeSpec('explore_node', {'scene': config.scene, 'episodes': episodes,
                                  'steps_per_episode': steps, 'seed': seed,
                                  'control_rate_hz': config.control_rate_hz}, remappings),
        NodeSpec('recorder_node', {'bag': bag}, remappings),
    ]  # fmt: skip
    if config.use_sim:
        specs.insert(0, _sim_spec(config, remappings))
    return specs


# Launch arguments: name -> (default, description). An empty value is one not given: the node
# parameters it sets then keep the graph's default, or a params file's value.
LAUNCH_ARGUMENTS = {
    'checkpoint': ('', help_of(GraphConfig, 'checkpoint')),
    'scene': ('', help_of(GraphConfig, 'scene') + ' (empty: panda)'),
    'task': ('', help_of(GraphConfig, 'task') + ' (empty: reach_light)'),
    'device': ('', help_of(GraphConfig, 'device') + ' (empty: cpu)'),
    'control_rate': ('', help_of(GraphConfig, 'control_rate_hz') + '; the sim camera runs at '
                         'the same rate (empty: 12.0)'),
    'namespace': ('', 'ROS namespace of every node'),
    'params_file': ('', 'ROS parameter YAML applied to every node (e.g. config/panda_sim.yaml); '
                        'its values win over the defaults, a launch argument given here wins '
                        'over the file'),
}  # fmt: skip
ARM_LAUNCH_ARGUMENTS = {
    'camera_topic': ('', "the camera driver's image topic (rgb8 or bgr8); empty: the scene's "
                         "camera `topic` (as `jepa-ros scene init --camera-topic` wrote it), "
                         'else camera/image_raw'),
    'controller_topic': ('joint_trajectory_controller/joint_trajectory',
                         "the JointTrajectoryController's command topic"),
    'joint_states_topic': ('joint_states', "the arm driver's joint states topic"),
}  # fmt: skip
EXPLORE_DEFAULTS = {'bag': 'explore_bag', 'episodes': 10, 'steps': 50, 'seed': 0}
EXPLORE_LAUNCH_ARGUMENTS = {
    'use_sim': ('false', "true: explore the simulated arm (sim_node joins); false: your arm's "
                         'drivers, the gate disarmed until jepa/arm'),
    'bag': ('', 'rosbag2 folder the recorder writes, must not exist yet (empty: explore_bag)'),
    'episodes': ('', 'episodes to explore, then stop; 0: until jepa/cancel (empty: 10)'),
    'steps': ('', 'commands per episode (empty: 50)'),
    'seed': ('', 'seed of the exploration (empty: 0)'),
    **{name: LAUNCH_ARGUMENTS[name] for name in ('scene', 'control_rate', 'namespace',
                                                 'params_file')},
    **ARM_LAUNCH_ARGUMENTS,
}  # fmt: skip
# The node parameters each launch argument sets (in every node that has them)
LAUNCH_PARAMETERS = {
    'checkpoint': ('checkpoint',),
    'scene': ('scene',),
    'task': ('task',),
    'device': ('device',),
    'control_rate': ('control_rate_hz', 'camera_rate_hz'),
    'bag': ('bag',),
    'episodes': ('episodes',),
    'steps': ('steps_per_episode',),
    'seed': ('seed',),
}


def graph_config_from_launch(values: dict[str, str], use_sim: bool) -> GraphConfig:
    """A GraphConfig from launch-argument strings (validated like any GraphConfig); an empty or
    missing argument takes GraphConfig's default."""
    given = {name: value for name, value in values.items() if value != ''}
    try:
        rate = float(given.get('control_rate', GraphConfig.control_rate_hz))
    except ValueError:
        raise ValueError(f'control_rate must be a number, got {given["control_rate"]!r}') from None
    scene = given.get('scene', GraphConfig.scene)
    topics = {} if use_sim else {
        name: given.get(name, default) or getattr(GraphConfig, name)
        for name, (default, _) in ARM_LAUNCH_ARGUMENTS.items()
    }  # fmt: skip
    if not use_sim and 'camera_topic' not in given:
        from jepa_ros.envs.scene import load_scene

        topics['camera_topic'] = load_scene(scene).camera_topic or GraphConfig.camera_topic
    return GraphConfig(use_sim=use_sim, checkpoint=given.get('checkpoint', ''), scene=scene,
                       task=given.get('task', GraphConfig.task), control_rate_hz=rate,
                       device=given.get('device', GraphConfig.device), camera_rate_hz=rate,
                       **topics)  # fmt: skip


def explore_specs_from_launch(values: dict[str, str]) -> list[NodeSpec]:
    """explore.launch.py's nodes from its launch-argument strings."""
    use_sim = values.get('use_sim', 'false').strip().lower()
    if use_sim not in ('true', 'false'):
        raise ValueError(f'use_sim must be true or false, got {values["use_sim"]!r}')
    config = graph_config_from_launch(values, use_sim == 'true')
    given = {name: values.get(name) or default for name, default in EXPLORE_DEFAULTS.items()}
    for name in ('episodes', 'steps', 'seed'):
        try:
            given[name] = int(given[name])
        except ValueError:
            raise ValueError(f'{name} must be an integer, got {given[name]!r}') from None
    return explore_specs(config, given['bag'], given['episodes'], given['steps'], given['seed'])


def launch_parameters(spec: NodeSpec, values: dict[str, str]) -> list[str | dict[str, Any]]:
    """What launch_ros gets as a node's `parameters`, lowest precedence first (a later entry
    wins): the graph's values, then the user's `params_file`, then the launch arguments given
    explicitly (non-empty), so a user's file wins over every default and an explicit argument
    over the file."""
    files = [values['params_file']] if values.get('params_file') else []
    explicit = {key for name, value in values.items() if value != ''
                for key in LAUNCH_PARAMETERS.get(name, ())}  # fmt: skip
    given = {key: value for key, value in spec.parameters.items() if key in explicit}
    return [dict(spec.parameters), *files, *([given] if given else [])]


def ros_arguments(spec: NodeSpec, namespace: str = '') -> list[str]:
    """The command-line arguments launch_ros gives a node executable for `spec`:
    `--ros-args -r __node:=NAME [-r __ns:=NS] -p key:=value ... -r from:=to ...`."""
    args = ['--ros-args', '-r', f'__node:={spec.executable}']
    if namespace:
        args += ['-r', f'__ns:={namespace if namespace.startswith("/") else "/" + namespace}']
    for key, value in spec.parameters.items():
        args += ['-p', f'{key}:={_yaml_scalar(value)}']
    for source, target in spec.remappings:
        args += ['-r', f'{source}:={target}']
    return args


def _yaml_scalar(value: Any) -> str:
    """A parameter value as the YAML that `-p key:=value` parses back to the same type."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return "''" if value == '' else f"'{value}'" if value[0].isdigit() else value
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(_yaml_scalar(v) for v in value) + ']'
    return repr(value)
