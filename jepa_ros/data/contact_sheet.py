"""A contact sheet PNG: sample frames of a dataset and goal images, to check a scene by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from jepa_ros.data.dataset import ExplorationDataset

LABEL_HEIGHT = 14
BACKGROUND = (255, 255, 255)


def tile(images: np.ndarray) -> np.ndarray:
    """Put the V views of one frame side by side: (V, H, W, 3) -> (H, V*W, 3)."""
    return np.concatenate(list(images), axis=1)


def grid(rows: list[list[np.ndarray]], labels: list[str], gap: int = 2) -> Image.Image:
    """Lay out rows of equally sized (H, W, 3) tiles, each row under its label."""
    h, w = rows[0][0].shape[:2]
    columns = max(len(r) for r in rows)
    width = columns * (w + gap) + gap
    height = len(rows) * (h + LABEL_HEIGHT + gap) + gap
    sheet = Image.new('RGB', (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for r, (row, label) in enumerate(zip(rows, labels)):
        top = gap + r * (h + LABEL_HEIGHT + gap)
        draw.text((gap, top), label, fill=(0, 0, 0))
        for c, image in enumerate(row):
            sheet.paste(Image.fromarray(image), (gap + c * (w + gap), top + LABEL_HEIGHT))
    return sheet


def contact_sheet(
    dataset: ExplorationDataset,
    goal_images: list[np.ndarray],
    out: Path,
    episodes: int = 4,
    frames_per_episode: int = 8,
    scale: int = 2,
    goal_label: str = 'sampled goal images',
) -> Path:
    """Write a PNG: `episodes` rows of evenly spaced frames, then a row of goal images
    (each (V, H, W, 3)). Written atomically; returns `out`."""
    episode = dataset.get('episode')
    step = dataset.get('step')
    chosen = np.unique(episode)[:: max(1, dataset.episodes // episodes)][:episodes]
    rows, labels = [], []
    for e in chosen:
        frames = np.flatnonzero(episode == e)
        picks = frames[np.linspace(0, len(frames) - 1, frames_per_episode).round().astype(int)]
        rows.append([tile(images) for images in dataset.get('images', picks)])
        labels.append(f'episode {e}: steps {", ".join(str(s) for s in step[picks])}')
    rows.append([tile(images) for images in goal_images])
    labels.append(f'{len(goal_images)} {goal_label}')
    sheet = grid(rows, labels)
    sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.NEAREST)
    tmp = out.with_name(f'.{out.name}.tmp.png')
    sheet.save(tmp)
    tmp.replace(out)
    return out
