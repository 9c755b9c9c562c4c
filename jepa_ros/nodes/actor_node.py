"""actor_node: mode-2 MPC in latent space, with the world model loaded in-process.

Consumes `jepa/latent`, `jepa/goal_latent` and `joint_states`; for each new latent (at most
`control_rate_hz` a second) it rolls the latent forward with the world model over the joint
change measured since its frame was taken (`Actor.catch_up`: the frame is older than the joints),
plans by minimising the task's cost from there and the joints measured now, and publishes the
first action as a one-point `jepa/command_proposal` (joints + action, reached when the next
command is due) for the guardrail to check.
Planning runs in its own callback group, so the node keeps taking messages and parameter changes
while it plans. Only the newest latent is kept: when a plan takes longer than the period, the
actor plans at the rate it can sustain, on the newest frame, and says so on `jepa/status`
(`rate_hz`, and the latents it skipped). Idle (sends nothing) until a goal latent comes and again
after the configurator clears it (an empty goal latent).

The `task` parameter (a name from config/tasks.yaml) selects planner and cost; the configurator
sets it at run time, and a change rebuilds the planner between ticks.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
import torch
from trajectory_msgs.msg import JointTrajectory

from jepa_ros.configurator import build_actor, load_task
from jepa_ros.describe import help_of, ParameterSpec
from jepa_ros.envs.scene import load_scene
from jepa_ros.frames import FrameCounter, RateMeter
from jepa_ros.graph import GraphConfig
from jepa_ros.images import ImageError
from jepa_ros.limits import JointLimits
from jepa_ros.mode1 import policy_for
from jepa_ros.nodes.common import (
    COMMAND_QOS,
    declare,
    ERROR,
    JointReader,
    LATCHED_QOS,
    latent_from_msg,
    MODEL_PARAMETERS,
    ModelSlot,
    OK,
    parameter_error,
    proposal_msg,
    run_node,
    stamp_s,
    StatusReporter,
    subscribe_newest,
    TASKS_FILE,
)  # fmt: skip
from jepa_ros.world_model.checkpoint import CheckpointError

PARAMETERS = {
    **MODEL_PARAMETERS,
    'task': ParameterSpec('reach_light', help_of(GraphConfig, 'task')),
    'tasks_file': TASKS_FILE,
    'policy': ParameterSpec(
        '',
        'mode-1 policy (jepa-ros distill) for a task whose actor mode needs one; empty: '
        'the shipped models/jepa_panda_mode1.pt',
        read_only=True,
    ),
    'control_rate_hz': ParameterSpec(10.0, help_of(GraphConfig, 'control_rate_hz'), 0.1, 1000.0),
    'seed': ParameterSpec(0, 'seed of the planner', read_only=True),
}


class ActorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('actor_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.scene = load_scene(self.params['scene'])
        self.limits = JointLimits.from_scene(self.scene)
        self.status = StatusReporter(self, 'actor')
        self.task = load_task(self.params['task'], self.params['tasks_file'] or None)
        self.actor = None
        self.slot = ModelSlot(self, self.params['checkpoint'], self.scene, self.status,
                              prepare=self.prepare_actor,
                              device=self.params['device'])  # fmt: skip
        self.goal: torch.Tensor | None = None
        self.joints = JointReader(self, self.scene.controlled_joints)  # read when planning
        self.lock = threading.Lock()  # goal, joints and the actor, across callback groups
        self.last_plan = -np.inf
        self.ticks = 0
        self.latents = FrameCounter()  # latents taken, and skipped while planning
        self.held_back = 0  # latents taken but not planned on (control_rate_hz)
        self.rate = RateMeter(max_interval_s=1.0)  # plans while reaching
        self.below_rate = False
        self.publisher = self.create_publisher(JointTrajectory, 'jepa/command_proposal',
                                               COMMAND_QOS)  # fmt: skip
        planning = MutuallyExclusiveCallbackGroup()
        inputs = MutuallyExclusiveCallbackGroup()
        subscribe_newest(self, Image, 'jepa/latent', self.on_latent, self.latents,
                         callback_group=planning)  # fmt: skip
        self.create_subscription(Image, 'jepa/goal_latent', self.on_goal, LATCHED_QOS,
                                 callback_group=inputs)  # fmt: skip
        self.create_timer(1.0, self.check_joints, callback_group=inputs)
        self.add_on_set_parameters_callback(self.validate_parameters)
        self.add_post_set_parameters_callback(self.apply_parameters)

    def validate_parameters(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            reason = parameter_error(parameter, self.params['tasks_file'])
            if reason is None and parameter.name == 'task':
                reason = self.policy_error(parameter.value)
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def policy_error(self, task_name: str) -> str | None:
        """Why `task_name` cannot run here: its actor mode needs a policy that is missing or
        was distilled from another model (None if it can, or before the model is loaded)."""
        task, model = load_task(task_name, self.params['tasks_file'] or None), self.slot.model
        if model is None:
            return None
        try:
            policy_for(task.actor, model, self.params['policy'])
        except CheckpointError as exc:
            return f'task {task_name!r}: {exc}'
        return None

    def apply_parameters(self, parameters) -> None:
        for parameter in parameters:
            self.params[parameter.name] = parameter.value
            if parameter.name == 'task':
                task = load_task(parameter.value, self.params['tasks_file'] or None)
                if task != self.task:
                    self.task = task
                    if self.slot.model is not None:
                        self.prepare_actor(self.slot.model)
                self.status.change(f'task set to {parameter.value!r}')

    def prepare_actor(self, model) -> None:
        """The task's actor for `model`, its cost traced now (not on a control tick), then
        swapped in between two plans."""
        policy = policy_for(self.task.actor, model, self.params['policy'])
        actor = build_actor(model, self.scene, self.limits, self.task, self.params['seed'],
                            policy)  # fmt: skip
        actor.term_costs()
        with self.lock:
            self.actor = actor

    def on_goal(self, msg: Image) -> None:
        model = self.slot.model
        try:
            goal = latent_from_msg(msg, model.config.latent_dim if model else None)
        except ImageError as exc:
            self.status.report(ERROR, f'goal latent rejected: {exc}')
            return
        with self.lock:
            self.goal = None if goal is None else torch.from_numpy(goal)
            if self.actor is not None:
                self.actor.reset()
        self.status.report(OK, 'idle' if goal is None else 'goal set', mode=self.mode)

    @property
    def mode(self) -> str:
        return 'idle' if self.goal is None else 'reaching'

    def check_joints(self) -> bool:
        """Read joint_states (also once a second while idle); report if unusable."""
        error = self.joints.read()
        if error is not None:
            self.status.report(ERROR, f'joint_states unusable, no command: {error}')
        return error is None

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_latent(self, msg: Image) -> None:
        received = time.perf_counter()
        if self.goal is None or self.slot.model is None:
            return
        now = self.now_s()
        stamp = stamp_s(msg.header.stamp)
        if now - self.last_plan < 0.8 / self.params['control_rate_hz']:
            self.held_back += 1
            return  # at most control_rate_hz plans a second
        try:
            latent = latent_from_msg(msg, self.slot.model.config.latent_dim)
        except ImageError as exc:
            self.status.report(ERROR, f'latent rejected: {exc}')
            return
        if not self.check_joints():
            return
        with self.lock:
            goal, actor = self.goal, self.actor
        joints, then = self.joints.now_and_at(stamp)  # now, and when the frame was taken
        if goal is None or latent is None or joints is None or actor is None:
            return
        moved = joints - then  # since the frame was taken
        with torch.no_grad():
            current = actor.catch_up(actor.latent(latent), moved)
            action, info = actor.act(current, joints, goal.to(actor.device))
        self.rate.tick(now)
        self.last_plan = now
        self.publish(joints + action)
        self.ticks += 1
        done = self.now_s()
        tick_ms = 1000 * (time.perf_counter() - received)
        self.status.report(OK, self.rate_message(tick_ms), mode=self.mode, ticks=self.ticks,
                           goal_energy=info['goal_energy'], plan_ms=info['plan_ms'],
                           actor_mode=info['mode'],
                           upstream_ms=1000 * (now - stamp), callback_ms=tick_ms,
                           latency_ms=1000 * (done - stamp), rate_hz=self.rate.hz or 0.0,
                           caught_up_rad=float(np.abs(moved).max()),
                           control_rate_hz=self.params['control_rate_hz'],
                           latents_held_back=self.held_back,
                           **self.latents.report('latents'))  # fmt: skip

    def rate_message(self, tick_ms: float) -> str:
        """'planning', or why the sustained rate is below control_rate_hz (logged on change)."""
        target, rate = self.params['control_rate_hz'], self.rate.hz
        below = rate is not None and rate < 0.9 * target
        if below:
            why = (f'a tick takes {tick_ms:.0f} ms' if tick_ms > 800 / target
                   else 'newer latents come no faster')  # fmt: skip
            message = f'planning at {rate:.1f} Hz, below control_rate_hz {target:g}: {why}'
        else:
            message = 'planning'
        if below != self.below_rate:
            self.below_rate = below
            self.get_logger().info(message if below else f'planning at {target:g} Hz again')
        return message

    def publish(self, target: np.ndarray) -> None:
        """A one-point proposal, reached when the next command is due (the sustained period,
        never sooner than 1 / control_rate_hz)."""
        period = max(1.0 / self.params['control_rate_hz'], self.rate.period_s or 0.0)
        self.publisher.publish(proposal_msg(self.scene.controlled_joints, target, period))


def main(args: list[str] | None = None) -> None:
    run_node(ActorNode, args)


if __name__ == '__main__':
    main()
