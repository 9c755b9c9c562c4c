"""The evaluation figure: final distances per policy, distance and goal energy vs step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jepa_ros.evaluation import EpisodeResult, SUCCESS_DISTANCE_M


def eval_figure(results: dict[str, list[EpisodeResult]], out: Path) -> Path:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    names = list(results)
    finals = [[100 * r.final_distance for r in results[n]] for n in names]
    axes[0].boxplot(finals)
    axes[0].set_xticks(range(1, len(names) + 1), names)
    axes[0].axhline(100 * SUCCESS_DISTANCE_M, color='k', ls='--', lw=1, label='success (5 cm)')
    axes[0].set(title='final end-effector distance', ylabel='cm', yscale='log')
    axes[0].legend()
    for name in names:
        distances = np.array([r.distances for r in results[name]])  # (N, T+1)
        axes[1].plot(100 * np.median(distances, axis=0), label=name)
    axes[1].axhline(100 * SUCCESS_DISTANCE_M, color='k', ls='--', lw=1)
    axes[1].set(title='median distance to goal', xlabel='step', ylabel='cm', yscale='log')
    axes[1].legend()
    for name in names:
        energies = [
            [i['goal_energy'] for i in r.infos if 'goal_energy' in i] for r in results[name]
        ]
        if energies and energies[0]:
            axes[2].plot(np.median(np.array(energies), axis=0), label=name)
    axes[2].set(title='median goal energy D(s_t, s_goal)', xlabel='step', yscale='log')
    if axes[2].lines:
        axes[2].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
