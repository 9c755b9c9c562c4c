"""Camera buffers, latent buffers and trajectory following: the ROS-free parts of the nodes."""

from __future__ import annotations

import numpy as np
import pytest

from jepa_ros.envs.trajectory import TrajectoryFollower
from jepa_ros.images import decode_latent, decode_rgb, encode_latent, fit_image, ImageError


def test_rgb_and_bgr_decode_to_the_same_rgb_with_row_padding():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    padded = np.zeros((4, 16), dtype=np.uint8)  # step 16 > 3 * 5
    padded[:, :15] = rgb.reshape(4, 15)
    np.testing.assert_array_equal(decode_rgb(padded.tobytes(), 4, 5, 'rgb8', 16), rgb)
    padded[:, :15] = rgb[..., ::-1].reshape(4, 15)
    np.testing.assert_array_equal(decode_rgb(padded.tobytes(), 4, 5, 'bgr8', 16), rgb)


@pytest.mark.parametrize(
    'data, h, w, encoding, step, message',
    [
        (b'\0' * 60, 4, 5, 'mono8', 15, 'unsupported encoding'),
        (b'\0' * 59, 4, 5, 'rgb8', 15, 'bytes for 4 rows'),
        (b'', 0, 0, 'rgb8', 0, 'empty image'),
        (b'\0' * 60, 4, 5, 'rgb8', 10, 'row step'),
    ],
)
def test_bad_camera_buffers_are_refused(data, h, w, encoding, step, message):
    with pytest.raises(ImageError, match=message):
        decode_rgb(data, h, w, encoding, step)


def test_fit_image_crops_to_the_aspect_ratio_then_resizes():
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    image[:, 80:560] = 200  # the centre square is bright, the sides that get cropped dark
    fitted = fit_image(image, 96, 96)
    assert fitted.shape == (96, 96, 3) and fitted.min() == 200
    assert fit_image(fitted, 96, 96) is fitted, 'the right size passes through'


def test_latent_round_trip_and_checks():
    latent = np.linspace(-1, 1, 7, dtype=np.float32)
    data, h, w, step = encode_latent(latent)
    assert (h, w, step) == (1, 7, 28)
    np.testing.assert_array_equal(decode_latent(data, h, w, '32FC1', 7), latent)
    with pytest.raises(ImageError, match='7 dims, the model uses 8'):
        decode_latent(data, h, w, '32FC1', 8)
    with pytest.raises(ImageError, match='encoding'):
        decode_latent(data, h, w, 'rgb8')
    bad, *_ = encode_latent(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ImageError, match='NaN'):
        decode_latent(bad, 1, 1, '32FC1')


def test_trajectory_follower_semantics():
    follower = TrajectoryFollower(['a', 'b', 'c'], np.zeros(3))
    np.testing.assert_array_equal(follower.target(5.0), [0, 0, 0])
    # Joints by name, in any order; c is left out and holds; interpolation from the receipt pose
    follower.follow(['b', 'a'], np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 2.0]),
                    start_time=10.0, current=np.array([0.0, 0.0, 0.5]))  # fmt: skip
    np.testing.assert_allclose(follower.target(10.0), [0.0, 0.0, 0.5])
    np.testing.assert_allclose(follower.target(10.5), [1.0, 0.5, 0.5])
    np.testing.assert_allclose(follower.target(11.5), [3.0, 2.0, 0.5])
    np.testing.assert_allclose(follower.target(99.0), [4.0, 3.0, 0.5])
    # An empty trajectory stops where the arm is
    follower.follow([], np.zeros((0, 0)), np.zeros(0), 20.0, np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(follower.target(25.0), [0.1, 0.2, 0.3])
    for names, times in ((['x'], [1.0]), (['a'], [-1.0]), (['a', 'a'], [1.0])):
        with pytest.raises(ValueError):
            follower.follow(names, np.zeros((1, len(names))), np.array(times), 0.0, np.zeros(3))
    np.testing.assert_allclose(follower.target(25.0), [0.1, 0.2, 0.3]), 'old one kept'
