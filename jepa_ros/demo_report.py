"""What `jepa-ros demo` measured, summarised and drawn. ROS-free.

Glossary: H x W camera image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_ros.evaluation import SUCCESS_DISTANCE_M


@dataclass
class GoalRecord:
    """One goal of the demo. Distances are simulator ground truth (scoring only)."""

    index: int
    outcome: str = 'timeout'  # the configurator's decision
    final_distance_m: float = float('nan')
    ticks: int = 0  # the configurator's ticks (latents seen while reaching)
    commands: int = 0  # proposals the actor sent for this goal
    seconds: float = 0.0  # from asking for the goal to the configurator's decision
    command_seconds: float = 0.0  # from the first command to the last
    energies: list[float] = field(default_factory=list)
    start_image: np.ndarray | None = None  # (H, W, 3)
    goal_image: np.ndarray | None = None
    final_image: np.ndarray | None = None

    @property
    def success(self) -> bool:
        return bool(self.final_distance_m < SUCCESS_DISTANCE_M)

    def line(self) -> str:
        mark = 'reached' if self.success else 'MISSED '
        return (
            f'goal {self.index + 1}: {mark} final {100 * self.final_distance_m:5.1f} cm, '
            f'{self.ticks:3d} steps, {self.seconds:5.1f} s, configurator: {self.outcome}'
        )


def summarize_demo(
    records: list[GoalRecord], latencies_ms: list[float], success_energy: float | None = None
) -> dict[str, Any]:
    """The demo's JSON: success, distances, steps, camera-to-command latency, control rate."""
    finals = np.array([r.final_distance_m for r in records])
    commands = sum(r.commands for r in records)
    busy = sum(r.command_seconds for r in records)
    rates = [(r.commands - 1) / r.command_seconds for r in records if r.command_seconds > 0]
    return {
        'goals': len(records),
        'reached': int(sum(r.success for r in records)),
        'success_rate': float(np.mean([r.success for r in records])) if records else 0.0,
        'median_final_distance_m': float(np.median(finals)) if records else None,
        'median_steps': float(np.median([r.ticks for r in records])) if records else None,
        'latency_ms_p50': float(np.percentile(latencies_ms, 50)) if latencies_ms else None,
        'latency_ms_p95': float(np.percentile(latencies_ms, 95)) if latencies_ms else None,
        'control_rate_hz': float(np.median(rates)) if rates else None,
        'commands': commands,
        'commanding_seconds': busy,
        'mean_control_rate_hz': (commands - len(records)) / busy if busy > 0 else None,
        'success_energy': success_energy,
        'per_goal': [
            {
                'outcome': r.outcome,
                'final_distance_m': r.final_distance_m,
                'steps': r.ticks,
                'commands': r.commands,
                'seconds': r.seconds,
            }
            for r in records
        ],  # fmt: skip
    }


def strip_image(records: list[GoalRecord], out: Path, scale: int = 2) -> Path:
    """A PNG with one row per goal: start | goal | final camera images."""
    from PIL import Image, ImageDraw

    rows = []
    for record in records:
        images = [record.start_image, record.goal_image, record.final_image]
        if any(i is None for i in images):
            continue
        rows.append(np.concatenate(images, axis=1))  # (H, 3W, 3)
    if not rows:
        raise ValueError('no goal has all three images')
    canvas = Image.fromarray(np.concatenate(rows, axis=0))
    canvas = canvas.resize((canvas.width * scale, canvas.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    height = canvas.height // len(rows)
    for row, record in enumerate(r for r in records if r.final_image is not None):
        label = f'{record.index + 1}: {100 * record.final_distance_m:.1f} cm'
        draw.text((3, row * height + 2), 'start', fill='black')
        draw.text((canvas.width // 3 + 3, row * height + 2), 'goal', fill='black')
        draw.text((2 * canvas.width // 3 + 3, row * height + 2), f'final {label}', fill='black')
    canvas.save(out)
    return out


def energy_figure(records: list[GoalRecord], success_energy: float | None, out: Path) -> Path:
    """Goal energy vs step for every goal, with the success threshold."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for record in records:
        if record.energies:
            style = '-' if record.success else '--'
            ax.plot(record.energies, style, label=f'goal {record.index + 1}')
    if success_energy:
        ax.axhline(success_energy, color='k', ls=':', label='success_energy')
    ax.set(yscale='log', xlabel='step', ylabel='goal energy',
           title='goal energy per step (dashed: missed)')  # fmt: skip
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
