"""The evaluation figure: final distances per policy, distance and goal energy vs step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jepa_ros.evaluation import EpisodeResult, SUCCESS_DISTANCE_M


def _held(rows: list[list[float]]) -> np.ndarray:
    """Episodes of different lengths (an episode on a live graph ends at the configurator's
    decision) as (N, T): each held at its last value to the longest."""
    longest = max(len(row) for row in rows)
    return np.array([list(row) + [row[-1]] * (longest - len(row)) for row in rows])


def eval_figure(results: dict[str, list[EpisodeResult]], out: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    names = list(results)
    finals = [[100 * r.final_distance for r in results[n]] for n in names]
    axes[0].boxplot(finals)
    axes[0].set_xticks(range(1, len(names) + 1), [_label(n, results[n]) for n in names])
    axes[0].axhline(100 * SUCCESS_DISTANCE_M, color='k', ls='--', lw=1, label='success (5 cm)')
    axes[0].set(title='final end-effector distance', ylabel='cm', yscale='log')
    axes[0].legend()
    for name in names:
        distances = _held([r.distances for r in results[name]])  # (N, T+1)
        axes[1].plot(100 * np.median(distances, axis=0), label=name)
    axes[1].axhline(100 * SUCCESS_DISTANCE_M, color='k', ls='--', lw=1)
    axes[1].set(title='median distance to goal', xlabel='step', ylabel='cm', yscale='log')
    axes[1].legend()
    for name in names:
        energies = [
            [i['goal_energy'] for i in r.infos if 'goal_energy' in i] for r in results[name]
        ]
        if energies and all(energies):
            axes[2].plot(np.median(_held(energies), axis=0), label=name)
    axes[2].set(title='median goal energy D(s_t, s_goal)', xlabel='step', yscale='log')
    if axes[2].lines:
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _label(name: str, episodes: list[EpisodeResult]) -> str:
    """'jepa / 90% reached / 0 contacts' (and '/ 3% refused' when the gate was on)."""
    reached = np.mean([r.final_distance < SUCCESS_DISTANCE_M for r in episodes])
    lines = [
        name,
        f'{100 * reached:.0f}% reached',
        f'{sum(r.contacts for r in episodes)} contacts',
    ]
    gate = [i['gate'] for r in episodes for i in r.infos if 'gate' in i]
    if gate:
        refused = sum(g.startswith('reject') or g == 'collision' for g in gate) / len(gate)
        lines.append(f'gate refused {100 * refused:.0f}%')
    return '\n'.join(lines)


def eval_gif(
    results: list[EpisodeResult], goals: list[np.ndarray], out: Path, scale: int = 2
) -> Path:
    """An animated GIF of recorded episodes: each frame shows the camera (first view) beside the
    goal image, with the step and ground-truth distance; episodes play one after another.

    `goals`: one goal image stack (V, H, W, 3) per result.
    """
    from PIL import Image, ImageDraw

    frames = []
    for number, (result, goal) in enumerate(zip(results, goals, strict=True)):
        if not result.frames:
            raise ValueError('episodes were not recorded (run_episode(..., record=True))')
        for step, images in enumerate(result.frames):
            pair = np.concatenate([images[0], goal[0]], axis=1)  # (H, 2W, 3)
            frame = Image.fromarray(pair).resize(
                (pair.shape[1] * scale, pair.shape[0] * scale), Image.NEAREST
            )
            canvas = Image.new('RGB', (frame.width, frame.height + 14), 'white')
            canvas.paste(frame, (0, 14))
            text = (f'episode {number}  step {step}  '
                    f'{100 * result.distances[step]:.1f} cm   | goal')  # fmt: skip
            ImageDraw.Draw(canvas).text((2, 1), text, fill='black')
            frames.append(canvas)
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return out
