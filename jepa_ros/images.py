"""Raw image and latent buffers as cameras and the latent topics carry them. ROS-free.

A camera driver sends rows of `step` bytes in an `encoding`; the model wants RGB uint8 at its own
size. Latents travel as 1 x D float32 images (`32FC1`). Every malformed buffer raises ImageError
with what was wrong, so a node can report it and carry on.
"""

from __future__ import annotations

import numpy as np

COLOR_ENCODINGS = {'rgb8': False, 'bgr8': True}  # encoding -> channels reversed
LATENT_ENCODING = '32FC1'


class ImageError(ValueError):
    """An image or latent buffer that cannot be used."""


def decode_rgb(data: bytes, height: int, width: int, encoding: str, step: int) -> np.ndarray:
    """A camera buffer -> (height, width, 3) uint8 RGB. Accepts `rgb8` and `bgr8`."""
    if encoding not in COLOR_ENCODINGS:
        raise ImageError(
            f'unsupported encoding {encoding!r}; use one of {sorted(COLOR_ENCODINGS)}'
        )
    if height < 1 or width < 1:
        raise ImageError(f'empty image ({width}x{height})')
    if step < 3 * width:
        raise ImageError(f'row step {step} is shorter than 3 x width ({3 * width})')
    if len(data) < step * height:
        raise ImageError(f'{len(data)} bytes for {height} rows of {step} bytes')
    rows = np.frombuffer(bytes(data[: step * height]), dtype=np.uint8).reshape(height, step)
    image = rows[:, : 3 * width].reshape(height, width, 3)
    return (image[..., ::-1] if COLOR_ENCODINGS[encoding] else image).copy()  # writable, owned


def fit_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, 3) uint8 -> (height, width, 3): a centre crop to the target's aspect ratio, then
    a resize with OpenCV (area averaging when shrinking)."""
    import cv2

    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    target = width / height
    if w / h > target:  # too wide: crop the sides
        keep = round(h * target)
        image = image[:, (w - keep) // 2 : (w - keep) // 2 + keep]
    elif w / h < target:  # too tall: crop top and bottom
        keep = round(w / target)
        image = image[(h - keep) // 2 : (h - keep) // 2 + keep]
    shrink = image.shape[0] > height
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interpolation)


def encode_latent(latent: np.ndarray) -> tuple[bytes, int, int, int]:
    """A latent (D,) -> (data, height 1, width D, step) of a `32FC1` image, little-endian."""
    values = np.asarray(latent, dtype='<f4').reshape(-1)
    return values.tobytes(), 1, len(values), 4 * len(values)


def decode_latent(
    data: bytes, height: int, width: int, encoding: str, expected_dim: int | None = None
) -> np.ndarray:
    """A `32FC1` 1 x D image -> latent (D,) float32; checks the size and finiteness."""
    if encoding != LATENT_ENCODING:
        raise ImageError(f'latent encoding must be {LATENT_ENCODING}, got {encoding!r}')
    if height != 1 or width < 1 or len(data) != 4 * width:
        raise ImageError(f'latent must be 1 x D float32, got {height} x {width}, {len(data)} B')
    if expected_dim is not None and width != expected_dim:
        raise ImageError(f'latent has {width} dims, the model uses {expected_dim}')
    latent = np.frombuffer(bytes(data), dtype='<f4').astype(np.float32)
    if not np.all(np.isfinite(latent)):
        raise ImageError('latent holds NaN or Inf')
    return latent
