"""Calibrate the configurator's energy thresholds on simulator runs.

The actor reaches N start/goal pairs without any stop; each tick's goal energy is recorded with
the ground-truth end-effector distance (the simulator is the only place that knows it). Because
the monitor only ever holds the arm, the outcome of a threshold can be replayed exactly from such a
run: the arm would stop at the first tick the rule fires and stay there. The chosen
`success_energy` maximises the replayed success rate (the middle of the best run of thresholds,
for margin); `patience_ticks` is 3x the longest stretch without progress that any episode went
through before it first reached the goal, and at least 25, so a give-up never cuts a reach that
was coming (on ROS the loop is asynchronous and a reach takes about twice the ticks it takes here).

Glossary: N episodes, T ticks.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import numpy as np

from jepa_ros.configurator import MonitorConfig, Outcome, TaskMonitor
from jepa_ros.evaluation import EpisodeResult, PRECISE_DISTANCE_M, SUCCESS_DISTANCE_M

THRESHOLDS = np.geomspace(3e-4, 3e-2, 41)


@dataclass(frozen=True)
class Replay:
    """What a monitor would have done on one recorded episode."""

    outcome: Outcome
    tick: int  # tick at which it decided (or T when it never did)
    final_distance: float  # ground-truth distance the arm would have stayed at


def replay(energies: np.ndarray, distances: np.ndarray, config: MonitorConfig) -> Replay:
    """Replay a monitor over a recorded run: energies (T,) before each tick's command,
    distances (T+1,) before each tick and after the last."""
    monitor = TaskMonitor(config)
    monitor.start()
    for tick, energy in enumerate(energies):
        if monitor.update(float(energy)) is not Outcome.REACHING:
            return Replay(monitor.outcome, tick, float(distances[tick]))
    return Replay(monitor.outcome, len(energies), float(distances[-1]))


def stall_before_success(energies: np.ndarray, distances: np.ndarray, progress: float) -> int:
    """Longest run of ticks without a `progress` relative fall of the best energy, before the
    first tick within the success distance (the whole run if it never got there)."""
    reached = np.nonzero(distances[:-1] < SUCCESS_DISTANCE_M)[0]
    end = int(reached[0]) if len(reached) else len(energies)
    best, since, longest = math.inf, 0, 0
    for energy in energies[:end]:
        if energy < best * (1 - progress):
            best, since = energy, 0
        else:
            best, since = min(best, energy), since + 1
        longest = max(longest, since)
    return longest


def calibrate(
    results: list[EpisodeResult], base: MonitorConfig, settle_ticks: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    """Choose success_energy, settle_ticks and patience_ticks from unstopped runs."""
    runs = [(np.array([i['goal_energy'] for i in r.infos]), np.array(r.distances))
            for r in results]  # fmt: skip
    stalls = [stall_before_success(e, d, base.min_progress) for e, d in runs if d.min() < 0.05]
    patience = max(25, math.ceil(3 * max(stalls, default=10)))
    table = []
    for settle in settle_ticks:
        for threshold in THRESHOLDS:
            config = MonitorConfig(
                success_energy=float(threshold), settle_ticks=settle, patience_ticks=patience,
                min_progress=base.min_progress, max_ticks=base.max_ticks,
            )  # fmt: skip
            replays = [replay(e, d, config) for e, d in runs]
            finals = np.array([r.final_distance for r in replays])
            declared = np.array([r.outcome is Outcome.SUCCEEDED for r in replays])
            table.append({
                'success_energy': float(threshold),
                'settle_ticks': settle,
                'success_rate': float((finals < SUCCESS_DISTANCE_M).mean()),
                'success_rate_2cm': float((finals < PRECISE_DISTANCE_M).mean()),
                'median_final_distance_m': float(np.median(finals)),
                'declared_rate': float(declared.mean()),
                'precision': float((finals[declared] < SUCCESS_DISTANCE_M).mean())
                if declared.any() else None,
                'gave_up_rate': float(np.mean([r.outcome is Outcome.GAVE_UP for r in replays])),
                'median_decision_tick': float(np.median([r.tick for r in replays])),
            })  # fmt: skip
    best_rate = max(row['success_rate'] for row in table)
    best = [row for row in table if row['success_rate'] == best_rate]
    settle = min(row['settle_ticks'] for row in best)
    # The middle of the longest contiguous run of best thresholds at that settle count
    flags = [row['success_rate'] == best_rate for row in table if row['settle_ticks'] == settle]
    runs_of_best, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            runs_of_best.append((start, index - 1))
            start = None
    first, last = max(runs_of_best, key=lambda run: run[1] - run[0])
    chosen = float(np.sqrt(THRESHOLDS[first] * THRESHOLDS[last]))
    unstopped = np.array([d[-1] for _, d in runs])
    return {
        'success_energy': chosen,
        'settle_ticks': settle,
        'patience_ticks': patience,
        'min_progress': base.min_progress,
        'replayed_success_rate': best_rate,
        'best_threshold_range': [float(THRESHOLDS[first]), float(THRESHOLDS[last])],
        'unstopped_success_rate': float((unstopped < SUCCESS_DISTANCE_M).mean()),
        'longest_stall_before_success': max(stalls, default=None),
        'episodes': len(results),
        'table': table,
    }


def calibration_figure(results: list[EpisodeResult], report: dict[str, Any], out) -> Any:
    """Energy vs ground-truth distance of every tick, and replayed success vs threshold."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    energies = np.concatenate([[i['goal_energy'] for i in r.infos] for r in results])
    distances = np.concatenate([r.distances[:-1] for r in results])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    axes[0].scatter(energies, 100 * distances, s=3, alpha=0.3)
    axes[0].axvline(report['success_energy'], color='r', lw=1, label='success_energy')
    axes[0].axhline(100 * SUCCESS_DISTANCE_M, color='k', ls='--', lw=1, label='5 cm')
    axes[0].set(xscale='log', yscale='log', xlabel='goal energy', ylabel='true distance (cm)',
                title='every tick of the calibration runs')  # fmt: skip
    axes[0].legend()
    for settle in sorted({row['settle_ticks'] for row in report['table']}):
        rows = [row for row in report['table'] if row['settle_ticks'] == settle]
        axes[1].plot([r['success_energy'] for r in rows], [r['success_rate'] for r in rows],
                     label=f'settle {settle}')  # fmt: skip
    axes[1].axhline(report['unstopped_success_rate'], color='k', ls=':', label='never stop')
    axes[1].axvline(report['success_energy'], color='r', lw=1)
    axes[1].set(xscale='log', xlabel='success_energy', ylabel='replayed success rate',
                title='hold once the energy is below the threshold')  # fmt: skip
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
