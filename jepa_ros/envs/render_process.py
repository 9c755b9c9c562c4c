"""Camera images rendered in a child process, so the caller's GIL stays free. ROS-free.

PyBullet's CPU renderer holds Python's GIL for the whole frame (20-35 ms at 96 px on the 2-core
machines this project targets). In a process that runs other Python threads too (the one-process
ROS graph of `jepa-ros demo`), every one of them waits that long. `RenderProcess` keeps a second
PyBullet world of the same scene in a child process: `render(joints)` sends the joint positions
and waits for the images without holding the GIL. The images are the ones `ArmWorld` renders for
those joints, pixel for pixel.

Glossary: A controlled joints, V cameras, H x W image size.
"""

from __future__ import annotations

from multiprocessing.connection import Connection
import socket
import subprocess
import sys

import numpy as np

from jepa_ros.envs.scene import SceneConfig


class RenderError(RuntimeError):
    """The render process failed or is gone."""


def _serve(connection: Connection) -> None:
    """The child: receive the scene, then render the cameras at each joint vector received,
    until None or EOF."""
    from jepa_ros.envs.arm_world import ArmWorld
    from jepa_ros.envs.scene import scene_from_dict

    try:
        scene_data, base_dir = connection.recv()
        world = ArmWorld(scene_from_dict(scene_data, base_dir))
    except Exception as exc:  # report why, then end
        connection.send(RenderError(f'render process could not start: {exc}'))
        return
    connection.send('ready')
    with world:
        while True:
            try:
                joints = connection.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if joints is None:
                return
            try:
                connection.send(world.reset(joints).images)
            except Exception as exc:
                connection.send(RenderError(f'render failed: {exc}'))


class RenderProcess:
    """A child process rendering `scene`'s cameras: `render(joints (A,)) -> (V, H, W, 3)`.

    One request at a time (calls are serialised by the caller). `close()` ends the child; a
    parent that dies ends it too (its pipe closes).
    """

    def __init__(self, scene: SceneConfig, start_timeout_s: float = 60.0) -> None:
        # A fresh interpreter (never a fork of a process with DDS threads) that imports only
        # this module, whatever the caller's main module is
        ours, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, '-m', __name__, str(theirs.fileno())], pass_fds=[theirs.fileno()]
        )
        theirs.close()
        self._connection = Connection(ours.detach())
        self.action_dim = scene.action_dim
        self._connection.send((scene.to_dict(), str(scene.base_dir)))
        self._receive(start_timeout_s, 'the render process to start')

    def render(self, joints: np.ndarray, timeout_s: float = 10.0) -> np.ndarray:
        """Images (V, H, W, 3) uint8 of the arm at `joints` (A,); RenderError on failure."""
        joints = np.asarray(joints, dtype=np.float64)
        if joints.shape != (self.action_dim,):
            raise ValueError(f'joints must have shape ({self.action_dim},), got {joints.shape}')
        try:
            self._connection.send(joints)
        except (BrokenPipeError, OSError) as exc:
            raise RenderError(f'the render process is gone ({exc})') from None
        return self._receive(timeout_s, 'a frame')

    def _receive(self, timeout_s: float, what: str):
        try:
            if not self._connection.poll(timeout_s):
                raise RenderError(f'timed out after {timeout_s:.0f} s waiting for {what}')
            reply = self._connection.recv()
        except (EOFError, OSError) as exc:
            raise RenderError(f'the render process is gone ({exc!r})') from None
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self._connection.closed:
            return
        try:
            self._connection.send(None)
        except (BrokenPipeError, OSError):
            pass
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5.0)
        self._connection.close()

    def __enter__(self) -> RenderProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == '__main__':
    _serve(Connection(int(sys.argv[1])))
