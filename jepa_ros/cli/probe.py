"""Probe a trained world model on held-out exploration data (collected with another seed).

Reports linear-probe R² of the end-effector position (ee_r2) and joint angles (joint_r2_mean) from
the frozen latent, effective_rank and latent_dim, surprise_auroc (energy of real transitions vs the
same state with a wrong action), and pred_vs_identity_1step/_5step (predictor latent error over
that of predicting no change). Writes the JSON and a PNG with the probe scatter and the training
curves (from metrics.csv beside the checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.device import add_device_argument, resolve_device
from jepa_ros.training.plots import probe_figure
from jepa_ros.training.probe import probe
from jepa_ros.world_model.checkpoint import check_world, load_checkpoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--checkpoint', type=Path, required=True, help='model.pt from train')
    parser.add_argument('--data', type=Path, required=True, help='held-out dataset folder')
    parser.add_argument('--json', type=Path, required=True, help='where to write the metrics')
    parser.add_argument('--plot', type=Path, help='PNG to write (default: JSON path, .png)')
    parser.add_argument(
        '--metrics',
        type=Path,
        help='training metrics.csv to plot (default: beside the checkpoint)',
    )
    parser.add_argument('--seed', type=int, default=0, help='seed for the wrong actions')
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1, help='CPU threads')
    add_device_argument(parser)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    dataset = ExplorationDataset(args.data)
    if dataset.world is None:
        model, metadata = load_checkpoint(args.checkpoint, scene=dataset.scene)
    else:  # a gymnasium world: the proprio vector is probed, there is no end effector
        model, metadata = load_checkpoint(args.checkpoint)
        check_world(metadata.get('world'), dataset.world, f'checkpoint {args.checkpoint}')
    trained_on = metadata.get('dataset', {})
    if trained_on.get('seed') == dataset.meta['spec']['seed']:
        print(f'warning: {args.data} has the seed of the training data; probe on held-out data')
    result = probe(model, dataset, seed=args.seed, device=resolve_device(args.device))
    metrics = {'checkpoint': str(args.checkpoint), 'data': str(args.data), **result['metrics']}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(metrics, indent=2) + '\n')
    plot = args.plot or args.json.with_suffix('.png')
    probe_figure(result, args.metrics or args.checkpoint.parent / 'metrics.csv', plot)
    print(json.dumps(result['metrics'], indent=2))
    print(f'plot: {plot}')
    return 0
