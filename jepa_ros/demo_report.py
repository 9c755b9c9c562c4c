"""What `jepa-ros demo` measured, summarised and drawn. ROS-free.

Glossary: H x W camera image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_ros.evaluation import shares, SUCCESS_DISTANCE_M


@dataclass(frozen=True)
class TickLatency:
    """One command's camera-stamp-to-publish latency and its two parts (ms): `upstream`, from
    the camera stamp to the actor's callback (render, encode, transport, waiting), and
    `actor`, the actor's callback up to the publish (the plan, mostly); `mode`, the actor mode
    that decided it (mode1, mode2, mode2_warm or fine; '' if not reported)."""

    total_ms: float
    upstream_ms: float
    actor_ms: float
    mode: str = ''


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
    contacts: int = 0  # moves the simulator blocked because they would touch (sim/contacts)
    energies: list[float] = field(default_factory=list)
    latencies: list[TickLatency] = field(default_factory=list)  # of this goal's commands
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


def _percentiles(values: list[float], prefix: str) -> dict[str, float | None]:
    have = len(values) > 0
    return {
        f'{prefix}_p50': float(np.percentile(values, 50)) if have else None,
        f'{prefix}_p95': float(np.percentile(values, 95)) if have else None,
        f'{prefix}_max': float(np.max(values)) if have else None,
    }


def latency_growth(records: list[GoalRecord]) -> dict[str, float | None]:
    """Whether latency grows within a goal (a backlog): the p95 of every goal's second half of
    commands against the p95 of the first halves, pooled over the goals with >= 4 commands, and
    the worst single goal's ratio."""
    first, second, ratios = [], [], []
    for record in records:
        totals = [t.total_ms for t in record.latencies]
        if len(totals) < 4:
            continue
        half = len(totals) // 2
        first += totals[:half]
        second += totals[half:]
        ratios.append(np.percentile(totals[half:], 95) / np.percentile(totals[:half], 95))
    if not first:
        return {'latency_growth': None, 'latency_growth_worst_goal': None}
    return {
        'latency_ms_p95_first_halves': float(np.percentile(first, 95)),
        'latency_ms_p95_second_halves': float(np.percentile(second, 95)),
        'latency_growth': float(np.percentile(second, 95) / np.percentile(first, 95)),
        'latency_growth_worst_goal': float(max(ratios)),
    }


def summarize_demo(
    records: list[GoalRecord],
    ticks: list[TickLatency],
    success_energy: float | None = None,
    stages: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The demo's JSON: success, distances, steps, camera-to-command latency (and its parts,
    and whether it grows within a goal), control rate, and the messages each stage took and
    skipped (`stages`: node -> counters from its status)."""
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
        **_percentiles([t.total_ms for t in ticks], 'latency_ms'),
        **_percentiles([t.upstream_ms for t in ticks], 'upstream_ms'),
        **_percentiles([t.actor_ms for t in ticks], 'actor_ms'),
        **latency_growth(records),
        'control_rate_hz': float(np.median(rates)) if rates else None,
        'actor_modes': shares([t.mode for t in ticks if t.mode]),
        'commands': commands,
        'commanding_seconds': busy,
        'mean_control_rate_hz': (commands - len(records)) / busy if busy > 0 else None,
        'success_energy': success_energy,
        'contacts': int(sum(r.contacts for r in records)),
        'stages': stages or {},
        'per_goal': [
            {
                'outcome': r.outcome,
                'final_distance_m': r.final_distance_m,
                'steps': r.ticks,
                'commands': r.commands,
                'seconds': r.seconds,
                'contacts': r.contacts,
                **_percentiles([t.total_ms for t in r.latencies], 'latency_ms'),
            }
            for r in records
        ],  # fmt: skip
    }


def summary_line(report: dict[str, Any]) -> str:
    """The demo's last line: goals reached, latency, sustained rate, skips, interventions."""

    def ms(key: str) -> str:
        value = report.get(key)
        return '-' if value is None else f'{value:.0f}'

    rate = report['control_rate_hz']
    skips = ', '.join(_stage_text(node, c) for node, c in report['stages'].items())
    guardrail = report.get('guardrail', {})
    return (
        f'reached {report["reached"]}/{report["goals"]}; camera-to-command latency p50 '
        f'{ms("latency_ms_p50")} ms, p95 {ms("latency_ms_p95")} ms (upstream p95 '
        f'{ms("upstream_ms_p95")}, actor p95 {ms("actor_ms_p95")}); control rate '
        f'{"-" if rate is None else f"{rate:.1f}"} Hz{_modes_text(report)}; inputs skipped by '
        'each stage: '
        f'{skips or "-"}; guardrail interventions {guardrail.get("total_interventions", 0)} of '
        f'{guardrail.get("commands", 0)} commands; contacts {report.get("contacts", 0)}'
    )


def _modes_text(report: dict[str, Any]) -> str:
    """' (mode1 88%, mode2 12%)' when the actor served ticks in more than one mode."""
    modes = report.get('actor_modes') or {}
    if len(modes) < 2:
        return ''
    return ' (' + ', '.join(f'{m} {share:.0%}' for m, share in modes.items()) + ')'


def _stage_text(node: str, counters: dict[str, Any]) -> str:
    """'actor 3 of 140 (+5 held back by the rate)': inputs skipped of all that came."""
    received, skipped = counters['received'], counters['skipped']
    if not isinstance(skipped, int):  # the middleware gave no sequence numbers
        return f'{node} ? of {received}+'
    held = counters.get('held_back')
    return f'{node} {skipped} of {received + skipped}' + (
        f' (+{held} held back by the rate)' if held else ''
    )


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


def latency_figure(ticks: list[TickLatency], out: Path, limit_ms: float = 100.0) -> Path:
    """Camera-to-command latency of every command, split into upstream and actor, with the
    p95 and the `limit_ms` line."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not ticks:
        raise ValueError('no commands were timed')
    upstream = np.array([t.upstream_ms for t in ticks])
    total = np.array([t.total_ms for t in ticks])
    index = np.arange(len(ticks))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.fill_between(index, 0, upstream, step='mid', alpha=0.5,
                    label='camera stamp -> actor (render, encode, transport)')  # fmt: skip
    ax.fill_between(index, upstream, total, step='mid', alpha=0.5, label='actor (plan, publish)')
    ax.axhline(np.percentile(total, 95), color='C3', ls='--',
               label=f'p95 {np.percentile(total, 95):.0f} ms')  # fmt: skip
    ax.axhline(limit_ms, color='k', ls=':', label=f'{limit_ms:.0f} ms')
    ax.set(xlabel='command', ylabel='ms', ylim=(0, max(limit_ms, total.max()) * 1.1),
           title='camera-stamp-to-command latency')  # fmt: skip
    ax.legend(fontsize=7, loc='upper right')
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
