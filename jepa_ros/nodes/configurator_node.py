"""configurator_node: sets the task up and decides, from the energy alone, when it is over.

`jepa/goal_image` (rgb8/bgr8, any size) -> goal latent on `jepa/goal_latent` (latched). Each
proposal the actor sends (`jepa/command_proposal`) is one tick of the task monitor, with the goal
energy (the task's weighted distance) of the newest `jepa/latent`, the one the actor planned from,
as in `jepa-ros eval` (read when the proposal comes, not on every frame). It decides success
(`monitor.success_energy`) and give-up (no progress for `patience_ticks`, or `max_ticks`). While
the guardrail reports the gate disarmed or halted (`jepa/armed`, latched), or refusing every
proposal because its joint states or latents are stale (`jepa/gate_ready`, latched), the arm
cannot move, so proposals then are not ticks: a goal set before arming, across a halt or while
the gate's inputs are missing (a restarted node it has not heard yet) waits. When the
goal is reached, abandoned or cancelled (`jepa/cancel`, std_srvs/Trigger) it publishes an empty
goal latent: the actor goes idle and sends nothing, the guardrail holds the arm once, and the arm
is free to be moved by other means. The task status (mode, goal energy, ticks, outcome) goes to
`jepa/status`. The `task` parameter is applied to the actor node's `task` parameter at run time.
"""

from __future__ import annotations

from dataclasses import replace
import threading

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Header
from std_srvs.srv import Trigger
import torch
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.configurator import load_task, Outcome, TaskMonitor
from jepa_ros.cost.cost import energy_weights, latent_distance
from jepa_ros.describe import help_of, ParameterSpec
from jepa_ros.envs.kinematics import proprio_link_dims
from jepa_ros.envs.scene import load_scene
from jepa_ros.graph import GraphConfig
from jepa_ros.images import fit_image, ImageError
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    encode_frame,
    ERROR,
    LATCHED_QOS,
    latent_from_msg,
    latent_msg,
    MODEL_PARAMETERS,
    ModelSlot,
    OK,
    parameter_error,
    PolledSubscription,
    rgb_from_msg,
    run_node,
    SENSOR_QOS,
    StatusReporter,
    TASKS_FILE,
    WARN,
)  # fmt: skip

PARAMETERS = {
    **MODEL_PARAMETERS,
    'task': ParameterSpec('reach_light', help_of(GraphConfig, 'task') + '; applied to the actor'),
    'tasks_file': TASKS_FILE,
    'max_ticks': ParameterSpec(0, help_of(GraphConfig, 'max_ticks'), 0, 1_000_000),
    'decide': ParameterSpec(
        True,
        'declare success and give-up (false: report the goal energy every tick and never '
        'stop, for `jepa-ros calibrate --ros`; jepa/cancel ends the goal)',
    ),
    'actor_node': ParameterSpec(
        'actor_node', 'name of the actor node whose task parameter is set', read_only=True
    ),  # fmt: skip
}


class ConfiguratorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('configurator_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.scene = load_scene(self.params['scene'])
        self.status = StatusReporter(self, 'configurator')
        self.slot = ModelSlot(self, self.params['checkpoint'], self.scene, self.status,
                              device=self.params['device'])  # fmt: skip
        self.lock = threading.Lock()
        self.set_task(self.params['task'])
        self.goal: np.ndarray | None = None
        self.goals = 0
        self.goal_pub = self.create_publisher(Image, 'jepa/goal_latent', LATCHED_QOS)
        self.create_subscription(Image, 'jepa/goal_image', self.on_goal_image, COMMAND_QOS)
        # Read at each proposal (the newest only), not a callback per frame
        self.latents = PolledSubscription(self, Image, 'jepa/latent', SENSOR_QOS)
        self.create_subscription(JointTrajectory, 'jepa/command_proposal', self.on_proposal,
                                 COMMAND_QOS)  # fmt: skip
        self.armed = True  # until the guardrail says otherwise (none yet: nothing is refused)
        self.ready = True
        self.create_subscription(Bool, 'jepa/armed', self.on_armed, LATCHED_QOS)
        self.create_subscription(Bool, 'jepa/gate_ready', self.on_ready, LATCHED_QOS)
        self.create_service(Trigger, 'jepa/cancel', self.on_cancel)
        self.actor_parameters = AsyncParameterClient(self, self.params['actor_node'])
        self.add_on_set_parameters_callback(self.validate_parameters)
        self.add_post_set_parameters_callback(self.apply_parameters)
        self.push_task_timer = self.create_timer(1.0, self.push_task)

    def set_task(self, name: str) -> None:
        task = load_task(name, self.params['tasks_file'] or None)
        monitor = task.monitor
        if self.params['max_ticks'] > 0:
            monitor = replace(monitor, max_ticks=self.params['max_ticks'])
        with self.lock:
            self.task, self.monitor = task, TaskMonitor(monitor)
        if task.retreat.enabled:  # (jepa-ros eval's, in the simulator)
            self.status.report(
                WARN,
                f'task {name!r}: its retreat (home first on a stall) '
                'is not done in the ROS graph yet; goals are reached directly',
            )

    def validate_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            reason = parameter_error(parameter, self.params['tasks_file'])
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def apply_parameters(self, parameters) -> None:
        for parameter in parameters:
            self.params[parameter.name] = parameter.value
        if any(p.name in ('task', 'max_ticks') for p in parameters):
            self.finish(Outcome.CANCELLED, 'task changed: the current goal is cancelled')
            self.set_task(self.params['task'])
            self.status.change(f'task set to {self.params["task"]!r}', mode='idle')
            self.push_task_timer.reset()

    def push_task(self) -> None:
        """Apply the task to the actor (retried every second until the actor answers)."""
        if not self.actor_parameters.services_are_ready():
            return
        self.push_task_timer.cancel()
        self.actor_parameters.set_parameters([Parameter('task', value=self.task.name)])

    def energy_weights(self, model) -> torch.Tensor:
        ee = self.scene.ee_link
        dims = proprio_link_dims(self.scene, ee) if ee in self.scene.proprio_links else ()
        return energy_weights(model.config, dims, self.task.cost)

    @torch.no_grad()
    def on_goal_image(self, msg: Image) -> None:
        model = self.slot.model
        if model is None:
            self.status.report(ERROR, f'goal ignored: {self.slot.error}', mode='idle')
            return
        try:
            image = rgb_from_msg(msg)
        except ImageError as exc:
            self.status.report(ERROR, f'goal image rejected: {exc}', mode=self.mode)
            return
        cfg = model.config
        image = fit_image(image, cfg.image_height, cfg.image_width)
        goal = encode_frame(model, image)
        with self.lock:
            self.goal, self.weights = goal, self.energy_weights(model)
            self.latents.drain()  # frames from before the goal are not its ticks
            self.monitor.start()
            self.goals += 1
        self.goal_pub.publish(latent_msg(goal, msg.header))
        self.status.change(f'goal {self.goals} set', mode=self.mode, goal=self.goals,
                           outcome='reaching')  # fmt: skip

    @property
    def mode(self) -> str:
        return 'reaching' if self.monitor.active else 'idle'

    def newest_energy(self) -> float | None:
        """The goal energy of the newest latent (the one the actor planned from, or a newer
        one), or None if none came since the last tick: one frame is never counted twice."""
        msg = self.latents.newest()
        if msg is None or self.goal is None or self.slot.model is None:
            return None
        try:
            latent = latent_from_msg(msg, self.slot.model.config.latent_dim)
        except ImageError as exc:
            self.status.report(ERROR, f'latent rejected: {exc}', mode=self.mode)
            return None
        goal = torch.from_numpy(self.goal)
        distance = latent_distance(torch.from_numpy(latent), goal, self.task.cost.distance,
                                   self.weights)  # fmt: skip
        return float(distance)

    def on_armed(self, msg: Bool) -> None:
        with self.lock:
            self.armed = msg.data
            active = self.monitor.active
        if active and not msg.data:
            self.status.change(f'goal {self.goals} waits: the gate is not armed',
                               mode='reaching', goal=self.goals, outcome='waiting')  # fmt: skip

    def on_ready(self, msg: Bool) -> None:
        with self.lock:
            was_ready, self.ready = self.ready, msg.data
            report = self.monitor.active and self.armed and msg.data != was_ready
        if not report:  # (disarmed: on_armed said so)
            return
        if msg.data:
            self.status.change(f'goal {self.goals}: the gate is ready again', mode='reaching',
                               goal=self.goals, outcome='reaching')  # fmt: skip
        else:
            self.status.change(f'goal {self.goals} waits: the gate refuses proposals (stale '
                               'joint states or latents)', mode='reaching', goal=self.goals,
                               outcome='waiting')  # fmt: skip

    def on_proposal(self, msg: JointTrajectory) -> None:
        """One control tick: the actor acted on the newest latent; account its energy (not
        while the gate is disarmed or not ready: the arm could not move)."""
        with self.lock:
            if not self.monitor.active or not self.armed or not self.ready:
                return
            energy = self.newest_energy()
            if energy is None:
                return  # no new frame since the last tick
            outcome = self.monitor.update(energy, decide=self.params['decide'])
        if outcome is Outcome.REACHING:
            self.status.report(OK, 'reaching', mode='reaching', goal=self.goals,
                               goal_energy=energy, ticks=self.monitor.ticks,
                               outcome=outcome.value)  # fmt: skip
        else:
            self.finish(outcome, f'goal {self.goals}: {outcome.value}', goal_energy=energy)

    def on_cancel(self, request, response):
        was_active = self.monitor.active
        with self.lock:
            self.monitor.cancel()
        self.finish(Outcome.CANCELLED, 'cancelled by jepa/cancel')
        response.success = True
        response.message = 'goal cancelled; the arm holds' if was_active else 'no goal was active'
        return response

    def finish(self, outcome: Outcome, message: str, **values) -> None:
        """The goal is over: clear it so the actor goes idle, and report the outcome."""
        with self.lock:
            had_goal = self.goal is not None
            self.goal = None
        if not had_goal:
            return
        self.goal_pub.publish(latent_msg(None, Header(stamp=self.get_clock().now().to_msg())))
        self.status.change(message, mode='idle', goal=self.goals, outcome=outcome.value,
                           ticks=self.monitor.ticks, **values)  # fmt: skip


def main(args: list[str] | None = None) -> None:
    run_node(ConfiguratorNode, args)


if __name__ == '__main__':
    main()
