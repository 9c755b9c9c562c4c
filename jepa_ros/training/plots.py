"""Figures people would rather look at than read: probe scatter and training curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jepa_ros.training.log import read_metrics


def probe_figure(result: dict[str, Any], metrics_csv: Path | None, out: Path) -> Path:
    """PNG with the end-effector and joint probes (truth vs prediction), real vs wrong-action
    energies, and, if `metrics_csv` exists, the training curves."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    arrays, m = result['arrays'], result['metrics']
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    # End-effector probe
    ee = arrays['ee']
    if ee is not None:
        for c, name in enumerate('xyz'):
            axes[0, 0].scatter(ee.target[:, c], ee.predicted[:, c], s=2, alpha=0.4, label=name)
        axes[0, 0].set(title=f'end-effector probe, R² {m["ee_r2"]:.3f} '
                       f'(median error {100 * m["ee_probe_error_median_m"]:.1f} cm)',
                       xlabel='true (m)', ylabel='linear probe (m)')  # fmt: skip
        axes[0, 0].legend()
    else:
        axes[0, 0].set(title='no end effector (a gymnasium world)')
    # Joint (or proprio vector) probe
    joints = arrays['joints']
    what = 'joint' if ee is not None else 'proprio'
    for c in range(joints.target.shape[1]):
        axes[0, 1].scatter(joints.target[:, c], joints.predicted[:, c], s=2, alpha=0.4,
                           label=f'{what} {c}')  # fmt: skip
    axes[0, 1].set(title=f'{what} probe, mean R² {m["joint_r2_mean"]:.3f}',
                   xlabel='true', ylabel='linear probe')  # fmt: skip
    axes[0, 1].legend()
    # Surprise
    bins = np.logspace(np.log10(max(arrays['energy_real'].min(), 1e-8)),
                       np.log10(arrays['energy_wrong'].max() + 1e-8), 60)  # fmt: skip
    axes[0, 2].hist(arrays['energy_real'], bins=bins, alpha=0.6, label='real action')
    axes[0, 2].hist(arrays['energy_wrong'], bins=bins, alpha=0.6, label='wrong action')
    axes[0, 2].set(xscale='log', title=f'surprise energy, AUROC {m["surprise_auroc"]:.3f}',
                   xlabel='E = D(s_t+1, Pred(s_t, a_t))')  # fmt: skip
    axes[0, 2].legend()
    # Training curves
    series = read_metrics(metrics_csv) if metrics_csv and metrics_csv.is_file() else {}
    curves = [
        (
            axes[1, 0],
            'encoder',
            ['loss', 'invariance', 'temporal', 'variance', 'covariance'],
            'stage 1',
        ),
        (axes[1, 1], 'encoder', ['effective_rank', 'min_std'], 'collapse monitors'),
        (axes[1, 2], 'predictor', ['open_loop', 'one_step', 'vs_identity'], 'stage 2'),
    ]
    for ax, stage, names, title in curves:
        for name in names:
            if (stage, name) in series:
                steps, values = zip(*series[(stage, name)])
                ax.plot(steps, values, label=name)
        ax.set(title=title, xlabel='step', yscale='log')
        if ax.lines:
            ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
