"""perception_node: camera image -> latent `s = Enc(x)` on `jepa/latent`.

Accepts `rgb8` and `bgr8` at any resolution: the image is centre-cropped to the model's aspect
ratio and resized with OpenCV, so a camera driver's 640x480 stream works unchanged. The latent is
a 1 x D `32FC1` image that keeps the camera frame's header (its stamp is the camera's). Only the
newest camera frame is kept: frames that came while an encode was running are skipped and
counted (`skipped` on `jepa/status`).
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import Image
import torch

from jepa_ros.envs.scene import load_scene
from jepa_ros.frames import FrameCounter
from jepa_ros.images import fit_image, ImageError
from jepa_ros.nodes.common import (
    declare,
    encode_frame,
    ERROR,
    latent_msg,
    MODEL_PARAMETERS,
    ModelSlot,
    rgb_from_msg,
    run_node,
    SENSOR_QOS,
    StatusReporter,
    subscribe_newest,
)  # fmt: skip

PARAMETERS = {
    **MODEL_PARAMETERS,
}


class PerceptionNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__('perception_node', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.status = StatusReporter(self, 'perception')
        self.slot = ModelSlot(self, self.params['checkpoint'], load_scene(self.params['scene']),
                              self.status, device=self.params['device'])  # fmt: skip
        self.publisher = self.create_publisher(Image, 'jepa/latent', SENSOR_QOS)
        self.frames = FrameCounter()
        subscribe_newest(self, Image, 'camera/image_raw', self.on_image, self.frames)

    @torch.no_grad()
    def on_image(self, msg: Image) -> None:
        model = self.slot.model
        if model is None:
            self.status.report(ERROR, f'image dropped: {self.slot.error}')
            return
        start = time.perf_counter()
        try:
            image = rgb_from_msg(msg)
        except ImageError as exc:
            self.status.report(ERROR, f'camera image rejected: {exc}')
            return
        cfg = model.config
        if cfg.views != 1:
            self.status.report(ERROR, f'this node feeds one camera; the model takes {cfg.views}')
            return
        image = fit_image(image, cfg.image_height, cfg.image_width)
        latent = encode_frame(model, image)
        self.publisher.publish(latent_msg(latent, msg.header))
        self.status.report_every(0.5, 'encoding', **self.frames.report('frames'),
                                 encode_ms=1000 * (time.perf_counter() - start))  # fmt: skip


def main(args: list[str] | None = None) -> None:
    run_node(PerceptionNode, args)


if __name__ == '__main__':
    main()
