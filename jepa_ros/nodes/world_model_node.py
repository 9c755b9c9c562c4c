"""world_model_node: one-step predictions and the surprise of every observed transition.

For each new latent s_{t+1} on `jepa/latent` it takes the previous latent s_t and the joint
change a_t measured on `joint_states` between the two frames' stamps, predicts `Pred(s_t, a_t)`
(published on `jepa/predicted_latent` with the new frame's header) and reports the surprise energy
E = D(s_{t+1}, Pred(s_t, a_t)) on `jepa/status`: it spikes when the world does what the model
thinks impossible (a collision, a person moving the arm, a covered camera).
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
import torch

from jepa_ros.describe import ParameterSpec
from jepa_ros.device import model_device
from jepa_ros.envs.scene import load_scene
from jepa_ros.frames import FrameCounter
from jepa_ros.images import ImageError
from jepa_ros.nodes.common import (
    declare,
    ERROR,
    JointReader,
    latent_from_msg,
    latent_msg,
    MODEL_PARAMETERS,
    ModelSlot,
    run_node,
    SENSOR_QOS,
    stamp_s,
    StatusReporter,
    subscribe_newest,
    WARN,
)  # fmt: skip

PARAMETERS = {
    **MODEL_PARAMETERS,
    'surprise_warn': ParameterSpec(
        0.5, 'surprise energy above which the status is a warning', 0.0, 1e6, read_only=True
    ),  # fmt: skip
}


class WorldModelNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('world_model_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.scene = load_scene(self.params['scene'])
        self.status = StatusReporter(self, 'world_model')
        self.slot = ModelSlot(self, self.params['checkpoint'], self.scene, self.status,
                              device=self.params['device'])  # fmt: skip
        self.publisher = self.create_publisher(Image, 'jepa/predicted_latent', SENSOR_QOS)
        self.latents = FrameCounter()
        subscribe_newest(self, Image, 'jepa/latent', self.on_latent, self.latents)
        self.joints = JointReader(self, self.scene.controlled_joints)  # read per latent
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # latent, joints
        self.last_stamp = -np.inf

    @torch.no_grad()
    def on_latent(self, msg: Image) -> None:
        model = self.slot.model
        if model is None:
            return
        try:
            latent = latent_from_msg(msg, model.config.latent_dim)
        except ImageError as exc:
            self.status.report(ERROR, f'latent rejected: {exc}')
            return
        stamp = stamp_s(msg.header.stamp)
        if latent is None or stamp <= self.last_stamp:
            self.status.report(WARN, 'latent out of order, repeated or empty: skipped')
            return
        self.last_stamp = stamp
        previous = self.previous
        error = self.joints.read()
        if error is not None:
            self.status.report(ERROR, f'joint_states unusable: {error}')
        _, joints = self.joints.now_and_at(stamp)  # measured when the frame was taken
        self.previous = None if joints is None else (latent, joints)
        if previous is None or joints is None:
            return
        # a_t: the joint change measured between the two frames
        device = model_device(model)
        action = torch.from_numpy((joints - previous[1]).astype(np.float32))[None]
        predicted = model.predict(torch.from_numpy(previous[0])[None].to(device),
                                  action.to(device))  # fmt: skip
        surprise = float(model.distance(predicted, torch.from_numpy(latent)[None].to(device)))
        self.publisher.publish(latent_msg(predicted[0].cpu().numpy(), msg.header))
        action_rad = float(np.abs(joints - previous[1]).max())
        values = {
            'surprise': surprise,
            'action_rad': action_rad,
            **self.latents.report('latents'),
        }
        if surprise > self.params['surprise_warn']:
            self.status.report(WARN, 'surprise above surprise_warn', **values)
        else:
            self.status.report_every(0.5, 'surprise', **values)


def main(args: list[str] | None = None) -> None:
    run_node(WorldModelNode, args)


if __name__ == '__main__':
    main()
